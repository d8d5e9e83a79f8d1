//! The broker message id, `offsetMsgId` (store-format.md §2.4):
//! store host IP + port + CommitLog physical offset, upper-case hex.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub fn create_offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut id = String::with_capacity(56);
    push_offset_msg_id(&mut id, store_host, physical_offset);
    id
}

/// Appends the id to `out` without allocating (a put formats one per record).
pub fn push_offset_msg_id(out: &mut String, store_host: SocketAddr, physical_offset: i64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut bytes = [0u8; 28];
    let ip_len = match store_host.ip() {
        IpAddr::V4(ip) => {
            bytes[..4].copy_from_slice(&ip.octets());
            4
        }
        IpAddr::V6(ip) => {
            bytes[..16].copy_from_slice(&ip.octets());
            16
        }
    };
    bytes[ip_len..ip_len + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    bytes[ip_len + 4..ip_len + 12].copy_from_slice(&physical_offset.to_be_bytes());
    for byte in &bytes[..ip_len + 12] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xF)]));
    }
}

/// The inverse, as `MessageDecoder.decodeMessageId`; `None` for anything but 32 or 56 hex chars.
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, i64)> {
    if !id.is_ascii() || (id.len() != 32 && id.len() != 56) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..id.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&id[at..at + 2], 16).ok())
        .collect();
    let bytes = bytes?;
    let ip_len = bytes.len() - 12;
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[..4]).ok()?))
    } else {
        IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?))
    };
    let port = i32::from_be_bytes(bytes[ip_len..ip_len + 4].try_into().ok()?);
    let offset = i64::from_be_bytes(bytes[ip_len + 4..].try_into().ok()?);
    Some((SocketAddr::new(ip, u16::try_from(port).ok()?), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_id_is_32_upper_hex_chars() {
        let host: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = create_offset_msg_id(host, 0x1234);
        // C0A80001 = 192.168.0.1, 00002A9F = 10911, then the 8-byte offset.
        assert_eq!(id, "C0A8000100002A9F0000000000001234");
        assert_eq!(decode_offset_msg_id(&id), Some((host, 0x1234)));
    }

    #[test]
    fn ipv6_id_is_56_chars_and_round_trips() {
        let host: SocketAddr = "[::1]:10911".parse().unwrap();
        let id = create_offset_msg_id(host, 7);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id), Some((host, 7)));
        assert_eq!(decode_offset_msg_id("XYZ"), None);
    }
}
