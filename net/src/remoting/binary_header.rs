//! The ROCKETMQ binary header (serialize type 1), `RocketMQSerializable.java`:
//!
//! ```text
//! code:i16 language:u8 version:i16 opaque:i32 flag:i32 remarkLen:i32 remark
//! extLen:i32 { keyLen:i16 key valLen:i32 val }*
//! ```
//! A zero-length string decodes as null, as Java does, so empty remarks and empty extFields
//! values do not survive a binary round trip; that is the protocol, not a loss here.

use super::command::{ExtFields, LanguageCode, RemotingCommand, SerializeType};
use super::DecodeError;

/// Bytes of the fixed part: code 2, language 1, version 2, opaque 4, flag 4, remarkLen 4,
/// extLen 4.
pub const FIXED_BYTES: usize = 2 + 1 + 2 + 4 + 4 + 4 + 4;

pub fn encode(command: &RemotingCommand, out: &mut Vec<u8>) {
    // Java casts code and version to short; every code a remoting client uses fits.
    out.extend_from_slice(&(command.code as i16).to_be_bytes());
    out.push(command.language.to_byte());
    out.extend_from_slice(&(command.version as i16).to_be_bytes());
    out.extend_from_slice(&command.opaque.to_be_bytes());
    out.extend_from_slice(&command.flag.to_be_bytes());
    let remark = command.remark.as_deref().unwrap_or("");
    out.extend_from_slice(&(remark.len() as i32).to_be_bytes());
    out.extend_from_slice(remark.as_bytes());
    let ext_len_at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    if let Some(ext_fields) = &command.ext_fields {
        for (key, value) in ext_fields.iter() {
            out.extend_from_slice(&(key.len() as i16).to_be_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&(value.len() as i32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }
    let ext_len = (out.len() - ext_len_at - 4) as i32;
    out[ext_len_at..ext_len_at + 4].copy_from_slice(&ext_len.to_be_bytes());
}

pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let mut reader = Reader {
        bytes: header,
        at: 0,
    };
    let code = i32::from(reader.i16()?);
    let language = LanguageCode::from_byte(reader.u8()?);
    let version = i32::from(reader.i16()?);
    let opaque = reader.i32()?;
    let flag = reader.i32()?;
    let remark_len = length(reader.i32()?)?;
    let remark = reader.text(remark_len)?;
    let ext_len = length(reader.i32()?)?;
    let ext_end = reader.at + ext_len;
    if ext_end > header.len() {
        return Err(DecodeError::BinaryHeader(
            "extFields length runs past the header",
        ));
    }
    let ext_fields = if ext_len == 0 {
        None
    } else {
        let mut fields = ExtFields::new();
        while reader.at < ext_end {
            let key_len = length(i32::from(reader.i16()?))?;
            let key = reader.text(key_len)?;
            let value_len = length(reader.i32()?)?;
            let value = reader.text(value_len)?;
            if let (Some(key), Some(value)) = (key, value) {
                fields.insert(key, value);
            }
        }
        if reader.at != ext_end {
            return Err(DecodeError::BinaryHeader(
                "extFields entries overrun extLen",
            ));
        }
        Some(fields)
    };
    if reader.at != header.len() {
        return Err(DecodeError::BinaryHeader("trailing bytes after extFields"));
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

fn length(length: i32) -> Result<usize, DecodeError> {
    usize::try_from(length).map_err(|_| DecodeError::BinaryHeader("negative length"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(DecodeError::BinaryHeader("field runs past the header"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("took 2 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("took 4 bytes"),
        ))
    }

    /// A zero-length string is Java's null.
    fn text(&mut self, length: usize) -> Result<Option<String>, DecodeError> {
        if length == 0 {
            return Ok(None);
        }
        let bytes = self.take(length)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| DecodeError::BinaryHeader("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_layout_byte_for_byte() {
        // RocketMQSerializable.rocketMQProtocolEncode for code 105, JAVA, version 401,
        // opaque 1, flag 0, no remark, extFields {topic=T}.
        let mut command = RemotingCommand::request(105);
        command.language = LanguageCode::Java;
        command.version = 401;
        command.opaque = 1;
        command.ext_fields_mut().insert("topic", "T");
        let mut out = Vec::new();
        encode(&command, &mut out);
        let expected: Vec<u8> = [
            &[0x00, 0x69][..], // code 105
            &[0x00],           // JAVA
            &[0x01, 0x91],     // version 401
            &[0, 0, 0, 1],     // opaque
            &[0, 0, 0, 0],     // flag
            &[0, 0, 0, 0],     // no remark
            &[0, 0, 0, 12],    // extLen = 2 + 5 + 4 + 1
            &[0, 5],
            b"topic",
            &[0, 0, 0, 1],
            b"T",
        ]
        .concat();
        assert_eq!(out, expected);
        let mut decoded = decode(&out).unwrap();
        decoded.serialize_type = SerializeType::Json;
        assert_eq!(decoded, command);
    }

    #[test]
    fn rejects_lengths_past_the_end() {
        let mut command = RemotingCommand::request(10);
        command.remark = Some("hello".into());
        let mut out = Vec::new();
        encode(&command, &mut out);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        let mut negative = out.clone();
        negative[13..17].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decode(&negative).is_err());
    }
}
