//! Messages as the tools see them: stored records decoded from QUERY_MESSAGE,
//! VIEW_MESSAGE_BY_ID and PULL_MESSAGE bodies (the CommitLog format, via `ramjet_store`),
//! and printed the way Java's `MessageExt` and `QueryMsgByIdSubCommand` print them.

use std::fmt::Write as _;
use std::io::Read;

use ramjet_store::message::sys_flag::COMPRESSED_FLAG;
use ramjet_store::message::{create_offset_msg_id, decode_record, DecodedRecord};

use crate::format::front;
use crate::time::human_ms;

/// `MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`: the client's message id.
pub const PROPERTY_UNIQ_KEY: &str = "UNIQ_KEY";
pub const PROPERTY_KEYS: &str = "KEYS";
pub const PROPERTY_TAGS: &str = "TAGS";
pub const PROPERTY_WAIT: &str = "WAIT";
/// Where `queryMsgById` writes message bodies, as Java's tool does.
pub const BODY_DIR: &str = "/tmp/rocketmq/msgbodys";

/// Compression type bits of sysFlag (5.x); 0 with COMPRESSED set is zlib (4.x).
const COMPRESSION_TYPE_MASK: i32 = 0x700;
const COMPRESSION_ZLIB: i32 = 0x300;

/// One stored message, with the broker it came from.
pub struct StoredMessage {
    pub record: DecodedRecord,
    pub broker_name: String,
}

impl StoredMessage {
    /// The broker's id: store host plus CommitLog offset (`offsetMsgId`).
    pub fn offset_msg_id(&self) -> String {
        create_offset_msg_id(
            self.record.message.store_host,
            self.record.stamp.physical_offset,
        )
    }

    /// `MessageClientExt.getMsgId`: the client's UNIQ_KEY, else the offsetMsgId.
    pub fn msg_id(&self) -> String {
        self.property(PROPERTY_UNIQ_KEY)
            .map(str::to_owned)
            .unwrap_or_else(|| self.offset_msg_id())
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.record.message.properties.get(name)
    }

    pub fn topic(&self) -> &str {
        &self.record.message.topic
    }

    pub fn queue_id(&self) -> i32 {
        self.record.message.queue_id
    }

    pub fn queue_offset(&self) -> i64 {
        self.record.stamp.queue_offset
    }

    pub fn store_timestamp(&self) -> i64 {
        self.record.stamp.store_timestamp
    }

    /// The body as the client sent it: zlib bodies are inflated as Java's consumer does.
    /// LZ4 and ZSTD (5.x) are returned as stored.
    pub fn body(&self) -> Vec<u8> {
        let message = &self.record.message;
        let compression = message.sys_flag & COMPRESSION_TYPE_MASK;
        let zlib = compression == 0 || compression == COMPRESSION_ZLIB;
        if message.sys_flag & COMPRESSED_FLAG != 0 && zlib {
            let mut plain = Vec::new();
            let inflated =
                flate2::read::ZlibDecoder::new(&message.body[..]).read_to_end(&mut plain);
            if inflated.is_ok() {
                return plain;
            }
        }
        message.body.to_vec()
    }

    /// Java's `HashMap.toString` of the properties, in stored order.
    pub fn properties_text(&self) -> String {
        let pairs: Vec<String> = self
            .record
            .message
            .properties
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    /// `MessageExt.toString()`, as `printMsg` and `consumeMessage` print it.
    pub fn java_to_string(&self) -> String {
        let message = &self.record.message;
        let stamp = &self.record.stamp;
        let body: Vec<String> = self
            .body()
            .iter()
            .map(|byte| (*byte as i8).to_string())
            .collect();
        let transaction_id = if self.property("TRAN_MSG") == Some("true") {
            self.property(PROPERTY_UNIQ_KEY).unwrap_or("null")
        } else {
            "null"
        };
        format!(
            "MessageExt [brokerName={}, queueId={}, storeSize={}, queueOffset={}, sysFlag={}, \
             bornTimestamp={}, bornHost=/{}, storeTimestamp={}, storeHost=/{}, msgId={}, \
             commitLogOffset={}, bodyCRC={}, reconsumeTimes={}, preparedTransactionOffset={}, \
             toString()=Message{{topic='{}', flag={}, properties={}, body=[{}], \
             transactionId='{}'}}]",
            self.broker_name,
            message.queue_id,
            self.record.total_size,
            stamp.queue_offset,
            message.sys_flag,
            message.born_timestamp,
            message.born_host,
            stamp.store_timestamp,
            message.store_host,
            self.msg_id(),
            stamp.physical_offset,
            self.record.body_crc,
            message.reconsume_times,
            message.prepared_transaction_offset,
            message.topic,
            message.flag,
            self.properties_text(),
            body.join(", "),
            transaction_id
        )
    }
}

/// Splits a body of concatenated stored records.
pub fn decode_records(body: &[u8], broker_name: &str) -> Result<Vec<StoredMessage>, String> {
    let mut messages = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let record =
            decode_record(&body[at..], false).map_err(|e| format!("record at byte {at}: {e}"))?;
        assert!(record.total_size > 0); // decode_record rejects empty records.
        at += record.total_size;
        messages.push(StoredMessage {
            record,
            broker_name: broker_name.to_owned(),
        });
    }
    Ok(messages)
}

/// What `QueryMsgByIdSubCommand.printMsg` prints for one message. `offset_id` adds the
/// leading `OffsetID:` line (queryMsgById, queryMsgByOffset); `body_text` adds the body.
pub fn detail_text(
    message: &StoredMessage,
    offset_id: bool,
    body_path: &str,
    body_text: bool,
) -> String {
    let record = &message.record;
    let mut out = String::new();
    let mut line = |name: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{name:<20} {value}");
    };
    if offset_id {
        line("OffsetID:", &message.offset_msg_id());
    }
    line("Topic:", &message.topic());
    let tags = message.property(PROPERTY_TAGS).unwrap_or("null");
    let keys = message.property(PROPERTY_KEYS).unwrap_or("null");
    line("Tags:", &format!("[{tags}]"));
    line("Keys:", &format!("[{keys}]"));
    line("Queue ID:", &message.queue_id());
    line("Queue Offset:", &message.queue_offset());
    line("CommitLog Offset:", &record.stamp.physical_offset);
    line("Reconsume Times:", &record.message.reconsume_times);
    line("Born Timestamp:", &human_ms(record.message.born_timestamp));
    line("Store Timestamp:", &human_ms(record.stamp.store_timestamp));
    line("Born Host:", &record.message.born_host);
    line("Store Host:", &record.message.store_host);
    line("System Flag:", &record.message.sys_flag);
    line("Properties:", &message.properties_text());
    line("Message Body Path:", &body_path);
    if body_text {
        line("Message Body:", &String::from_utf8_lossy(&message.body()));
    }
    out
}

/// Writes the body where Java's tool does (`/tmp/rocketmq/msgbodys/<msgId>[_<index>]`) and
/// returns the path.
pub fn write_body_file(message: &StoredMessage, index: usize) -> std::io::Result<String> {
    std::fs::create_dir_all(BODY_DIR)?;
    let mut path = format!("{BODY_DIR}/{}", front(&message.msg_id(), 128));
    if index > 0 {
        path.push_str(&format!("_{index}"));
    }
    std::fs::write(&path, message.body())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::{AppendStamp, MessageRecord, Properties};

    fn record(queue_offset: i64, body: &[u8]) -> Vec<u8> {
        let message = MessageRecord {
            topic: "T".into(),
            queue_id: 1,
            flag: 0,
            body: body.to_vec().into(),
            properties: [("UNIQ_KEY", "AB"), ("TAGS", "TagA")]
                .into_iter()
                .collect::<Properties>(),
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "127.0.0.1:5000".parse().unwrap(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let stamp = AppendStamp {
            queue_offset,
            physical_offset: 100 * queue_offset,
            store_timestamp: 2,
        };
        message.prepare().unwrap().encode_to_vec(stamp)
    }

    #[test]
    fn splits_concatenated_records_and_names_ids() {
        let mut body = record(0, b"hi");
        body.extend(record(1, b"there"));
        let messages = decode_records(&body, "broker-a").unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].queue_offset(), 1);
        assert_eq!(messages[1].body(), b"there");
        assert_eq!(messages[0].msg_id(), "AB");
        assert_eq!(
            messages[1].offset_msg_id(),
            "7F00000100002A9F0000000000000064"
        );
        assert!(messages[0].java_to_string().contains("body=[104, 105]"));
        let detail = detail_text(&messages[0], true, "/x", true);
        assert!(detail.starts_with("OffsetID:            7F000001"));
        assert!(detail.contains("Tags:                [TagA]\n"));
        assert!(detail.contains("Message Body:        hi\n"));
    }

    #[test]
    fn a_cut_record_is_an_error_not_a_panic() {
        let body = record(0, b"hi");
        assert!(decode_records(&body[..body.len() - 1], "b").is_err());
    }
}
