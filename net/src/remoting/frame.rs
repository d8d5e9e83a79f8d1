//! The frame: `frameLength:i32 | serializeType:u8 headerLength:u24 | header | body`
//! (remoting-protocol.md section 1.1). `frameLength` counts everything after itself.

use bytes::{Bytes, BytesMut};

use super::command::{RemotingCommand, SerializeType};
use super::{binary_header, json_header, DecodeError};

/// Java's default `com.rocketmq.remoting.frameMaxLength`: 16 MiB.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 16 * 1024 * 1024;

/// The 4-byte frame length plus the 4-byte header-length word.
pub const FRAME_PREFIX_BYTES: usize = 8;

/// Where the parts of one complete frame lie in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameLayout {
    serialize_type: SerializeType,
    header_bytes: usize,
    body_bytes: usize,
}

impl FrameLayout {
    /// Bytes of the whole frame, length word included.
    fn total_bytes(&self) -> usize {
        FRAME_PREFIX_BYTES + self.header_bytes + self.body_bytes
    }
}

/// Reads the prefix of `buf`. `Ok(None)` means more bytes are needed for a whole frame;
/// an error means the peer is not speaking the protocol and the connection must close.
fn layout(buf: &[u8], frame_bytes_max: usize) -> Result<Option<FrameLayout>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let frame_bytes = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")) as i64;
    if frame_bytes < 4 {
        return Err(DecodeError::FrameTooShort(frame_bytes));
    }
    let frame_bytes = frame_bytes as usize;
    if frame_bytes > frame_bytes_max {
        return Err(DecodeError::FrameTooLong {
            frame_bytes,
            frame_bytes_max,
        });
    }
    if buf.len() < FRAME_PREFIX_BYTES {
        return Ok(None);
    }
    let word = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
    let serialize_type = match word >> 24 {
        0 => SerializeType::Json,
        1 => SerializeType::RocketMq,
        other => return Err(DecodeError::UnknownSerializeType(other as u8)),
    };
    let header_bytes = (word & 0x00ff_ffff) as usize;
    if header_bytes > frame_bytes - 4 {
        return Err(DecodeError::HeaderTooLong {
            header_bytes,
            frame_bytes,
        });
    }
    let layout = FrameLayout {
        serialize_type,
        header_bytes,
        body_bytes: frame_bytes - 4 - header_bytes,
    };
    if buf.len() < layout.total_bytes() {
        return Ok(None);
    }
    Ok(Some(layout))
}

fn decode_header(layout: &FrameLayout, header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    assert_eq!(header.len(), layout.header_bytes);
    match layout.serialize_type {
        SerializeType::Json => json_header::decode(header),
        SerializeType::RocketMq => binary_header::decode(header),
    }
}

/// Decodes one frame from the front of `buf`, copying the body. Returns the command and the
/// number of bytes it used, or `Ok(None)` when `buf` does not yet hold a whole frame.
pub fn decode_frame(
    buf: &[u8],
    frame_bytes_max: usize,
) -> Result<Option<(RemotingCommand, usize)>, DecodeError> {
    let Some(layout) = layout(buf, frame_bytes_max)? else {
        return Ok(None);
    };
    let header_end = FRAME_PREFIX_BYTES + layout.header_bytes;
    let mut command = decode_header(&layout, &buf[FRAME_PREFIX_BYTES..header_end])?;
    command.body = Bytes::copy_from_slice(&buf[header_end..layout.total_bytes()]);
    Ok(Some((command, layout.total_bytes())))
}

/// Decodes one frame from the front of `buf` and removes it; the body shares `buf`'s
/// allocation instead of being copied (message bodies are the bulk of the traffic).
pub fn decode_frame_split(
    buf: &mut BytesMut,
    frame_bytes_max: usize,
) -> Result<Option<RemotingCommand>, DecodeError> {
    let Some(layout) = layout(buf, frame_bytes_max)? else {
        return Ok(None);
    };
    let header_end = FRAME_PREFIX_BYTES + layout.header_bytes;
    let mut command = decode_header(&layout, &buf[FRAME_PREFIX_BYTES..header_end])?;
    let mut frame = buf.split_to(layout.total_bytes());
    let body = frame.split_off(header_end);
    assert_eq!(body.len(), layout.body_bytes);
    command.body = body.freeze();
    Ok(Some(command))
}

impl RemotingCommand {
    /// Writes the length word, header-length word and header for a body of `body_bytes`,
    /// so that the body can follow from its own buffer (no copy of large bodies).
    pub fn encode_header_for_body(&self, body_bytes: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; FRAME_PREFIX_BYTES]);
        match self.serialize_type {
            SerializeType::Json => json_header::encode(self, out),
            SerializeType::RocketMq => binary_header::encode(self, out),
        }
        let header_bytes = out.len() - start - FRAME_PREFIX_BYTES;
        assert!(
            header_bytes <= 0x00ff_ffff,
            "header of {header_bytes} bytes overflows 24 bits"
        );
        let frame_bytes = (4 + header_bytes + body_bytes) as u32;
        let word = ((self.serialize_type as u32) << 24) | header_bytes as u32;
        out[start..start + 4].copy_from_slice(&frame_bytes.to_be_bytes());
        out[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    }

    /// Appends the whole frame, body included, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_header_for_body(self.body.len(), out);
        out.extend_from_slice(&self.body);
    }

    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        self.encode_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(word: u32, header: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = ((4 + header.len() + body.len()) as u32)
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(&word.to_be_bytes());
        out.extend_from_slice(header);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn short_input_needs_more_bytes() {
        let bytes = RemotingCommand::request(105)
            .with_body(&b"xyz"[..])
            .encode_to_vec();
        for cut in 0..bytes.len() {
            assert_eq!(
                decode_frame(&bytes[..cut], FRAME_BYTES_MAX_DEFAULT).unwrap(),
                None
            );
        }
        let (command, used) = decode_frame(&bytes, FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(&command.body[..], b"xyz");
    }

    #[test]
    fn oversized_frame_is_rejected_from_its_length_word_alone() {
        let bytes = 20_000_000u32.to_be_bytes();
        let error = decode_frame(&bytes, FRAME_BYTES_MAX_DEFAULT).unwrap_err();
        assert!(matches!(
            error,
            DecodeError::FrameTooLong {
                frame_bytes: 20_000_000,
                ..
            }
        ));
    }

    #[test]
    fn header_longer_than_frame_is_rejected() {
        let mut bytes = frame(3, b"{}", b"");
        bytes[4..8].copy_from_slice(&100u32.to_be_bytes());
        let error = decode_frame(&bytes, FRAME_BYTES_MAX_DEFAULT).unwrap_err();
        assert!(matches!(
            error,
            DecodeError::HeaderTooLong {
                header_bytes: 100,
                frame_bytes: 6
            }
        ));
    }

    #[test]
    fn unknown_serialize_type_is_rejected() {
        let bytes = frame((7 << 24) | 2, b"{}", b"");
        let error = decode_frame(&bytes, FRAME_BYTES_MAX_DEFAULT).unwrap_err();
        assert!(matches!(error, DecodeError::UnknownSerializeType(7)));
    }

    #[test]
    fn negative_or_tiny_frame_length_is_rejected() {
        assert!(decode_frame(&(-1i32).to_be_bytes(), 1 << 24).is_err());
        assert!(decode_frame(&3i32.to_be_bytes(), 1 << 24).is_err());
    }

    #[test]
    fn split_decode_leaves_the_next_frame_in_place() {
        let first = RemotingCommand::request(1).with_body(&b"one"[..]);
        let mut second = RemotingCommand::request(2).with_body(&b"two"[..]);
        second.serialize_type = SerializeType::RocketMq;
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&first.encode_to_vec());
        buf.extend_from_slice(&second.encode_to_vec()[..10]);
        let decoded = decode_frame_split(&mut buf, 1 << 24).unwrap().unwrap();
        assert_eq!(decoded, first);
        assert_eq!(decode_frame_split(&mut buf, 1 << 24).unwrap(), None);
        buf.extend_from_slice(&second.encode_to_vec()[10..]);
        assert_eq!(
            decode_frame_split(&mut buf, 1 << 24).unwrap().unwrap(),
            second
        );
        assert!(buf.is_empty());
    }
}
