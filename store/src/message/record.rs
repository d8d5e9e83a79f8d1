//! One CommitLog record, byte for byte as RocketMQ lays it out (store-format.md §2.1):
//! `MessageExtEncoder#encode` on the way in, `MessageDecoder#decode` on the way out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;

use super::hash::tags_code;
use super::properties::{
    Properties, NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, PROPERTY_TAGS, PROPERTY_UNIQ_KEY,
};
use super::sys_flag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};

/// Magic of records whose topic length is one byte; every 4.x client can read it.
pub const MESSAGE_MAGIC_CODE_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of records whose topic length is two bytes (topics longer than 127 bytes).
pub const MESSAGE_MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// The end-of-file marker: TOTALSIZE = rest of the file, then this magic.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// A record never leaves fewer than this many bytes at the end of a file, so the blank
/// marker always fits (store-format.md §2.3).
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;

/// Fixed part of a record with IPv4 hosts, excluding body, topic and properties lengths' data.
const FIXED_BYTES_IPV4: usize = 72 + 8 + 8 + 2;
const _: () = assert!(FIXED_BYTES_IPV4 + 1 == 91); // 91 + B + T + P for V1, IPv4/IPv4.

/// V1 topics are read by Java as a signed byte.
const TOPIC_LEN_MAX_V1: usize = 127;
/// PROPERTIESLEN and the V2 TOPICLEN are Java shorts.
pub const PROPERTIES_LEN_MAX: usize = i16::MAX as usize;

/// What the broker hands the store for one message. The fields filled at append time
/// (queue offset, physical offset, store timestamp) are in [`AppendStamp`] instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    /// Shared, not owned: a send's body is the slice of the connection's read buffer the
    /// request arrived in, carried to the owner's write buffer without a copy of its own.
    pub body: Bytes,
    pub properties: Properties,
    /// The V6 host bits are set by the encoder from the addresses; callers set the rest.
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

/// Fields only known under the append lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendStamp {
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub store_timestamp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record truncated: needs {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("bad magic code {0:#010x}")]
    BadMagic(i32),
    #[error("TOTALSIZE {declared} disagrees with the fields, which add up to {computed}")]
    SizeMismatch { declared: i64, computed: usize },
    #[error("body CRC {stored:#x} does not match computed {computed:#x}")]
    BodyCrc { stored: u32, computed: u32 },
    #[error("negative or oversized length field {field}: {value}")]
    BadLength { field: &'static str, value: i64 },
    #[error("topic is {len} bytes; at most {max}")]
    TopicTooLong { len: usize, max: usize },
    #[error("properties are {len} bytes; at most {max}")]
    PropertiesTooLarge { len: usize, max: usize },
}

/// A record ready to be copied into a write buffer: everything computed that can be
/// computed before taking the append lock (CRC, property bytes, size), so the critical
/// section is a memcpy.
#[derive(Debug)]
pub struct PreparedRecord<'a> {
    pub record: &'a MessageRecord,
    /// Written straight from the properties at encode time: no copy per put.
    properties_len: usize,
    sys_flag: i32,
    magic: i32,
    body_crc: u32,
    pub total_size: usize,
    pub tags_code: i64,
}

impl MessageRecord {
    /// Validates lengths and computes everything but the append stamp.
    pub fn prepare(&self) -> Result<PreparedRecord<'_>, RecordError> {
        let properties_len = self.properties.encoded_len();
        if properties_len > PROPERTIES_LEN_MAX {
            return Err(RecordError::PropertiesTooLarge {
                len: properties_len,
                max: PROPERTIES_LEN_MAX,
            });
        }
        // autoMessageVersionOnTopicLen: only long topics pay for (and need) V2.
        let magic = if self.topic.len() > TOPIC_LEN_MAX_V1 {
            MESSAGE_MAGIC_CODE_V2
        } else {
            MESSAGE_MAGIC_CODE_V1
        };
        if self.topic.len() > i16::MAX as usize {
            return Err(RecordError::TopicTooLong {
                len: self.topic.len(),
                max: 32767,
            });
        }
        let mut sys_flag = self.sys_flag & !(BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
        if self.born_host.is_ipv6() {
            sys_flag |= BORNHOST_V6_FLAG;
        }
        if self.store_host.is_ipv6() {
            sys_flag |= STOREHOSTADDRESS_V6_FLAG;
        }
        let total_size = record_len(
            sys_flag,
            magic,
            self.body.len(),
            self.topic.len(),
            properties_len,
        );
        Ok(PreparedRecord {
            record: self,
            body_crc: body_crc(&self.body),
            tags_code: tags_code(self.properties.get(PROPERTY_TAGS)),
            properties_len,
            sys_flag,
            magic,
            total_size,
        })
    }

    /// `KEYS` tokens and `UNIQ_KEY`: what the IndexFile indexes.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.get(PROPERTY_UNIQ_KEY)
    }
}

impl PreparedRecord<'_> {
    pub fn sys_flag(&self) -> i32 {
        self.sys_flag
    }

    /// Writes exactly `total_size` bytes into `dst`.
    pub fn encode_into(&self, dst: &mut [u8], stamp: AppendStamp) {
        assert_eq!(dst.len(), self.total_size);
        let record = self.record;
        let mut out = Cursor { dst, at: 0 };
        out.i32(self.total_size as i32);
        out.i32(self.magic);
        out.i32(self.body_crc as i32);
        out.i32(record.queue_id);
        out.i32(record.flag);
        out.i64(stamp.queue_offset);
        out.i64(stamp.physical_offset);
        out.i32(self.sys_flag);
        out.i64(record.born_timestamp);
        out.host(record.born_host);
        out.i64(stamp.store_timestamp);
        out.host(record.store_host);
        out.i32(record.reconsume_times);
        out.i64(record.prepared_transaction_offset);
        out.i32(record.body.len() as i32);
        out.bytes(&record.body);
        if self.magic == MESSAGE_MAGIC_CODE_V1 {
            out.bytes(&[record.topic.len() as u8]);
        } else {
            out.bytes(&(record.topic.len() as i16).to_be_bytes());
        }
        out.bytes(record.topic.as_bytes());
        out.bytes(&(self.properties_len as i16).to_be_bytes());
        let properties_start = out.at;
        for (name, value) in record.properties.iter() {
            out.bytes(name.as_bytes());
            out.bytes(&[NAME_VALUE_SEPARATOR]);
            out.bytes(value.as_bytes());
            out.bytes(&[PROPERTY_SEPARATOR]);
        }
        assert_eq!(out.at - properties_start, self.properties_len);
        // The size computed up front and the bytes written must agree, or every later
        // record in the file would be misparsed.
        assert_eq!(out.at, self.total_size);
    }

    pub fn encode_to_vec(&self, stamp: AppendStamp) -> Vec<u8> {
        let mut bytes = vec![0; self.total_size];
        self.encode_into(&mut bytes, stamp);
        bytes
    }
}

/// `calMsgLength` (store-format.md §2.1).
fn record_len(sys_flag: i32, magic: i32, body: usize, topic: usize, properties: usize) -> usize {
    let born_host = if sys_flag & BORNHOST_V6_FLAG != 0 {
        20
    } else {
        8
    };
    let store_host = if sys_flag & STOREHOSTADDRESS_V6_FLAG != 0 {
        20
    } else {
        8
    };
    let topic_len = if magic == MESSAGE_MAGIC_CODE_V2 { 2 } else { 1 };
    72 + born_host + store_host + body + topic_len + topic + properties + 2
}

/// java.util.zip.CRC32 (IEEE) with the sign bit cleared, as `UtilAll.crc32`.
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

/// A decoded record: the message plus what the broker stamped on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRecord {
    pub message: MessageRecord,
    pub stamp: AppendStamp,
    pub total_size: usize,
    pub magic: i32,
    pub body_crc: u32,
}

impl DecodedRecord {
    pub fn tags_code(&self) -> i64 {
        tags_code(self.message.properties.get(PROPERTY_TAGS))
    }
}

/// What a recovery scan finds at a position (`checkMessageAndReturnSize`).
#[derive(Debug, PartialEq, Eq)]
pub enum RecordCheck {
    Message(Box<DecodedRecord>),
    /// End-of-file marker; the rest of the file is blank.
    Blank {
        size: usize,
    },
    /// Not a record: zeros past the write position, or damage.
    Invalid(RecordError),
}

/// Classifies the bytes at the start of `bytes`, verifying the body CRC when asked.
pub fn check_record(bytes: &[u8], verify_crc: bool) -> RecordCheck {
    if bytes.len() >= 8 {
        let magic = i32::from_be_bytes(bytes[4..8].try_into().unwrap());
        if magic == BLANK_MAGIC_CODE {
            let size = i32::from_be_bytes(bytes[..4].try_into().unwrap());
            if size < END_FILE_MIN_BLANK_LENGTH as i32 {
                return RecordCheck::Invalid(RecordError::BadLength {
                    field: "BLANK",
                    value: i64::from(size),
                });
            }
            return RecordCheck::Blank {
                size: size as usize,
            };
        }
    }
    match decode_record(bytes, verify_crc) {
        Ok(record) => RecordCheck::Message(Box::new(record)),
        Err(error) => RecordCheck::Invalid(error),
    }
}

/// Decodes one record from the start of `bytes` (which may continue with more records).
pub fn decode_record(bytes: &[u8], verify_crc: bool) -> Result<DecodedRecord, RecordError> {
    let mut input = Reader { src: bytes, at: 0 };
    let total_size = input.i32()?;
    let magic = input.i32()?;
    if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
        return Err(RecordError::BadMagic(magic));
    }
    if total_size <= 0 || total_size as usize > bytes.len() {
        if total_size > 0 {
            return Err(RecordError::Truncated {
                needed: total_size as usize,
                available: bytes.len(),
            });
        }
        return Err(RecordError::BadLength {
            field: "TOTALSIZE",
            value: i64::from(total_size),
        });
    }
    // From here on, never read past the declared record.
    input.src = &bytes[..total_size as usize];
    let stored_crc = input.i32()? as u32;
    let queue_id = input.i32()?;
    let flag = input.i32()?;
    let queue_offset = input.i64()?;
    let physical_offset = input.i64()?;
    let sys_flag = input.i32()?;
    let born_timestamp = input.i64()?;
    let born_host = input.host(sys_flag & BORNHOST_V6_FLAG != 0)?;
    let store_timestamp = input.i64()?;
    let store_host = input.host(sys_flag & STOREHOSTADDRESS_V6_FLAG != 0)?;
    let reconsume_times = input.i32()?;
    let prepared_transaction_offset = input.i64()?;
    let body_len = input.len_i32("BODYLEN")?;
    let body = input.take(body_len)?.to_vec();
    let topic_len = if magic == MESSAGE_MAGIC_CODE_V1 {
        usize::from(input.take(1)?[0])
    } else {
        input.len_i16("TOPICLEN")?
    };
    let topic = String::from_utf8_lossy(input.take(topic_len)?).into_owned();
    let properties_len = input.len_i16("PROPERTIESLEN")?;
    let properties = Properties::from_bytes(input.take(properties_len)?);
    let computed = record_len(sys_flag, magic, body_len, topic_len, properties_len);
    if computed != total_size as usize {
        return Err(RecordError::SizeMismatch {
            declared: i64::from(total_size),
            computed,
        });
    }
    let body_crc = body_crc(&body);
    if verify_crc && body_crc != stored_crc {
        return Err(RecordError::BodyCrc {
            stored: stored_crc,
            computed: body_crc,
        });
    }
    Ok(DecodedRecord {
        message: MessageRecord {
            topic,
            queue_id,
            flag,
            body: Bytes::from(body),
            properties,
            sys_flag,
            born_timestamp,
            born_host,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
        },
        stamp: AppendStamp {
            queue_offset,
            physical_offset,
            store_timestamp,
        },
        total_size: total_size as usize,
        magic,
        body_crc: stored_crc,
    })
}

/// Reads only the STORETIMESTAMP of an encoded record (for timestamp search), which moves
/// with the born-host length.
pub fn store_timestamp_of(bytes: &[u8]) -> Option<i64> {
    let sys_flag = i32::from_be_bytes(bytes.get(36..40)?.try_into().ok()?);
    let at = if sys_flag & BORNHOST_V6_FLAG != 0 {
        68
    } else {
        56
    };
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Writes the end-of-file marker (store-format.md §2.3) into `dst[..8]`.
pub fn encode_blank(dst: &mut [u8], remaining: usize) {
    assert!(remaining >= END_FILE_MIN_BLANK_LENGTH);
    dst[..4].copy_from_slice(&(remaining as i32).to_be_bytes());
    dst[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
}

struct Cursor<'a> {
    dst: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, src: &[u8]) {
        self.dst[self.at..self.at + src.len()].copy_from_slice(src);
        self.at += src.len();
    }
    fn i32(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }
    fn i64(&mut self, value: i64) {
        self.bytes(&value.to_be_bytes());
    }
    fn host(&mut self, host: SocketAddr) {
        match host.ip() {
            IpAddr::V4(ip) => self.bytes(&ip.octets()),
            IpAddr::V6(ip) => self.bytes(&ip.octets()),
        }
        self.i32(i32::from(host.port()));
    }
}

struct Reader<'a> {
    src: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], RecordError> {
        let end = self.at + len;
        if end > self.src.len() {
            return Err(RecordError::Truncated {
                needed: end,
                available: self.src.len(),
            });
        }
        let slice = &self.src[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn len_i32(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let value = self.i32()?;
        usize::try_from(value).map_err(|_| RecordError::BadLength {
            field,
            value: value.into(),
        })
    }
    fn len_i16(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let value = i16::from_be_bytes(self.take(2)?.try_into().unwrap());
        usize::try_from(value).map_err(|_| RecordError::BadLength {
            field,
            value: value.into(),
        })
    }
    fn host(&mut self, ipv6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if ipv6 {
            IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(self.take(16)?).unwrap(),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(self.take(4)?).unwrap()))
        };
        let port = self.i32()?;
        // Java writes the port as an int; anything outside u16 is damage, not a port.
        let port = u16::try_from(port).map_err(|_| RecordError::BadLength {
            field: "PORT",
            value: port.into(),
        })?;
        Ok(SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
