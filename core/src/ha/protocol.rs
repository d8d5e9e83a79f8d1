//! Ramjet's HA stream (docs/replication.md, "Stream format"). Not Apache's: no client
//! speaks it, and it carries the shard. All integers big-endian.
//!
//! - slave -> master, once: `RJHA`, version u32, shard index u32, shard count u32, the
//!   slave shard's CommitLog end u64 (24 bytes).
//! - master -> slave, once: status u32 (0 = accepted), remark length u32, remark (UTF-8).
//! - master -> slave, repeatedly: CommitLog offset u64, length u32, then that many bytes
//!   of whole records (length 0: a heartbeat).
//! - slave -> master, after each transfer: the slave shard's new end u64.

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const MAGIC: &[u8; 4] = b"RJHA";
pub const VERSION: u32 = 1;
pub const HANDSHAKE_LEN: usize = 24;
pub const TRANSFER_HEADER_LEN: usize = 12;
/// The most a remark may claim; a longer one is a broken peer.
const REMARK_MAX: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub shard: u32,
    pub shard_count: u32,
    pub offset: u64,
}

impl Handshake {
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4..8].copy_from_slice(&VERSION.to_be_bytes());
        out[8..12].copy_from_slice(&self.shard.to_be_bytes());
        out[12..16].copy_from_slice(&self.shard_count.to_be_bytes());
        out[16..24].copy_from_slice(&self.offset.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8; HANDSHAKE_LEN]) -> Result<Handshake, String> {
        if &bytes[..4] != MAGIC {
            return Err("not a Ramjet HA handshake (bad magic)".into());
        }
        let version = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
        if version != VERSION {
            return Err(format!(
                "HA protocol version {version}, this broker speaks {VERSION}"
            ));
        }
        Ok(Handshake {
            shard: u32::from_be_bytes(bytes[8..12].try_into().unwrap()),
            shard_count: u32::from_be_bytes(bytes[12..16].try_into().unwrap()),
            offset: u64::from_be_bytes(bytes[16..24].try_into().unwrap()),
        })
    }
}

/// The master's answer to a handshake: `Ok(())` or the refusal's remark.
pub async fn write_answer<W: AsyncWrite + Unpin>(
    out: &mut W,
    answer: &Result<(), String>,
) -> std::io::Result<()> {
    let (status, remark) = match answer {
        Ok(()) => (0u32, ""),
        Err(remark) => (1u32, remark.as_str()),
    };
    let remark = &remark.as_bytes()[..remark.len().min(REMARK_MAX)];
    let mut frame = Vec::with_capacity(8 + remark.len());
    frame.extend_from_slice(&status.to_be_bytes());
    frame.extend_from_slice(&(remark.len() as u32).to_be_bytes());
    frame.extend_from_slice(remark);
    out.write_all(&frame).await?;
    out.flush().await
}

pub async fn read_answer<R: AsyncRead + Unpin>(
    input: &mut R,
) -> std::io::Result<Result<(), String>> {
    let mut head = [0u8; 8];
    input.read_exact(&mut head).await?;
    let status = u32::from_be_bytes(head[..4].try_into().unwrap());
    let len = u32::from_be_bytes(head[4..8].try_into().unwrap()) as usize;
    if len > REMARK_MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("HA answer remark of {len} bytes"),
        ));
    }
    let mut remark = vec![0u8; len];
    input.read_exact(&mut remark).await?;
    Ok(if status == 0 {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&remark).into_owned())
    })
}

pub fn transfer_header(offset: u64, len: usize) -> [u8; TRANSFER_HEADER_LEN] {
    let mut out = [0u8; TRANSFER_HEADER_LEN];
    out[..8].copy_from_slice(&offset.to_be_bytes());
    out[8..].copy_from_slice(&(len as u32).to_be_bytes());
    out
}

pub fn decode_transfer_header(bytes: &[u8; TRANSFER_HEADER_LEN]) -> (u64, usize) {
    (
        u64::from_be_bytes(bytes[..8].try_into().unwrap()),
        u32::from_be_bytes(bytes[8..].try_into().unwrap()) as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_round_trips_and_refuses_strangers() {
        let handshake = Handshake {
            shard: 1,
            shard_count: 2,
            offset: (1 << 48) + 4096,
        };
        assert_eq!(Handshake::decode(&handshake.encode()), Ok(handshake));
        let mut bad = handshake.encode();
        bad[0] = b'X';
        assert!(Handshake::decode(&bad).unwrap_err().contains("magic"));
        let mut version = handshake.encode();
        version[7] = 9;
        assert!(Handshake::decode(&version).unwrap_err().contains("version"));
        let header = transfer_header(77, 5);
        assert_eq!(decode_transfer_header(&header), (77, 5));
    }
}
