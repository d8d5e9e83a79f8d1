//! Batch messages (store-format.md §2.2). A client's `SEND_BATCH_MESSAGE` body is a run of
//! small inner messages (`MessageDecoder.encodeMessages`); the store writes each as an
//! ordinary record with consecutive queue offsets.

use super::properties::Properties;
use super::record::{MessageRecord, RecordError};

/// One message inside a batch body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InnerMessage {
    pub flag: i32,
    pub body: Vec<u8>,
    pub properties: Properties,
}

/// Client layout per message: TOTALSIZE, MAGIC (0), BODYCRC (0), FLAG, BODYLEN, BODY,
/// PROPERTIESLEN (short), PROPERTIES.
pub fn encode_batch_body(messages: &[InnerMessage]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for message in messages {
        let properties = message.properties.to_bytes();
        let total = 4 + 4 + 4 + 4 + 4 + message.body.len() + 2 + properties.len();
        bytes.extend_from_slice(&(total as i32).to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&message.flag.to_be_bytes());
        bytes.extend_from_slice(&(message.body.len() as i32).to_be_bytes());
        bytes.extend_from_slice(&message.body);
        bytes.extend_from_slice(&(properties.len() as i16).to_be_bytes());
        bytes.extend_from_slice(&properties);
    }
    bytes
}

pub fn decode_batch_body(mut bytes: &[u8]) -> Result<Vec<InnerMessage>, RecordError> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let field = |bytes: &[u8], at: usize, len: usize| -> Result<Vec<u8>, RecordError> {
            bytes
                .get(at..at + len)
                .map(<[u8]>::to_vec)
                .ok_or(RecordError::Truncated {
                    needed: at + len,
                    available: bytes.len(),
                })
        };
        let int_at = |bytes: &[u8], at: usize| -> Result<i32, RecordError> {
            Ok(i32::from_be_bytes(field(bytes, at, 4)?.try_into().unwrap()))
        };
        let total = int_at(bytes, 0)?;
        let flag = int_at(bytes, 12)?;
        let body_len = int_at(bytes, 16)?;
        if body_len < 0 {
            return Err(RecordError::BadLength {
                field: "BODYLEN",
                value: body_len.into(),
            });
        }
        let body = field(bytes, 20, body_len as usize)?;
        let at = 20 + body_len as usize;
        let properties_len = i16::from_be_bytes(field(bytes, at, 2)?.try_into().unwrap());
        if properties_len < 0 {
            let value = properties_len.into();
            return Err(RecordError::BadLength {
                field: "PROPERTIESLEN",
                value,
            });
        }
        let properties = field(bytes, at + 2, properties_len as usize)?;
        let consumed = at + 2 + properties_len as usize;
        if total as usize != consumed {
            return Err(RecordError::SizeMismatch {
                declared: total.into(),
                computed: consumed,
            });
        }
        messages.push(InnerMessage {
            flag,
            body,
            properties: Properties::from_bytes(&properties),
        });
        bytes = &bytes[consumed..];
    }
    Ok(messages)
}

impl MessageRecord {
    /// One record per inner message: topic, queue, sysFlag, born time and hosts from the
    /// batch; flag, body and properties from the inner message, with the batch-level
    /// properties appended as 4.9.x does. Prepared transaction offset is always 0.
    pub fn from_batch(
        batch: &MessageRecord,
        messages: &[InnerMessage],
        batch_properties: &Properties,
    ) -> Vec<MessageRecord> {
        messages
            .iter()
            .map(|message| {
                let mut properties = message.properties.clone();
                for (name, value) in batch_properties.iter() {
                    if properties.get(name).is_none() {
                        properties.set(name, value);
                    }
                }
                MessageRecord {
                    flag: message.flag,
                    body: bytes::Bytes::copy_from_slice(&message.body),
                    properties,
                    prepared_transaction_offset: 0,
                    ..batch.clone()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_body_roundtrips_and_rejects_truncation() {
        let messages = vec![
            InnerMessage {
                flag: 1,
                body: b"a".to_vec(),
                properties: Properties::new(),
            },
            InnerMessage {
                flag: 2,
                body: vec![9; 300],
                properties: [("KEYS", "k")].into_iter().collect(),
            },
        ];
        let bytes = encode_batch_body(&messages);
        assert_eq!(decode_batch_body(&bytes).unwrap(), messages);
        assert!(decode_batch_body(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn inner_records_take_batch_fields_and_properties() {
        let batch = MessageRecord {
            topic: "T".into(),
            queue_id: 1,
            flag: 0,
            body: bytes::Bytes::new(),
            properties: Properties::new(),
            sys_flag: 0,
            born_timestamp: 5,
            born_host: "1.2.3.4:5".parse().unwrap(),
            store_host: "1.2.3.4:6".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 99,
        };
        let inner = [InnerMessage {
            flag: 3,
            body: b"x".to_vec(),
            properties: Properties::new(),
        }];
        let batch_properties: Properties = [("WAIT", "true")].into_iter().collect();
        let records = MessageRecord::from_batch(&batch, &inner, &batch_properties);
        assert_eq!(records[0].flag, 3);
        assert_eq!(records[0].prepared_transaction_offset, 0);
        assert_eq!(records[0].properties.get("WAIT"), Some("true"));
        assert_eq!(records[0].born_timestamp, 5);
    }
}
