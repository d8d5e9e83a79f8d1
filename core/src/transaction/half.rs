//! The send path's hook: a prepared (transactional) message is stored as a half message in
//! RMQ_SYS_TRANS_HALF_TOPIC queue 0, where no consumer reads it, until END_TRANSACTION or
//! a check-back decides it (`TransactionalMessageBridge.parseHalfMessageInner`).

use ramjet_store::message::sys_flag::{
    transaction_type, TRANSACTION_NOT_TYPE, TRANSACTION_PREPARED_TYPE,
};
use ramjet_store::message::PROPERTY_UNIQ_KEY;
use ramjet_store::MessageRecord;

use super::{
    HALF_QUEUE_ID, HALF_TOPIC, PROPERTY_REAL_QUEUE_ID, PROPERTY_REAL_TOPIC,
    PROPERTY_TRANSACTION_CHECK_TIMES, PROPERTY_TRANSACTION_PREPARED,
    PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
};
use crate::error::{BrokerError, BrokerResult};
use crate::shard::BrokerShard;

const TRANSACTION_TYPE_MASK: i32 = 3 << 2;
const PROPERTY_TRANSACTION_ID: &str = "__transactionId__";

/// Properties that would delay delivery. A transactional message is delivered when it is
/// committed, never later (clients refuse to send such a message; the broker drops them).
const DELAY_PROPERTIES: &[&str] = &[
    "DELAY",
    "TIMER_DELIVER_MS",
    "TIMER_DELAY_SEC",
    "TIMER_DELAY_MS",
];

/// Properties only the broker writes on half messages: a producer that set them could
/// make its half message pass for another transaction's copy, or skip its checks.
const BROKER_OWNED: &[&str] = &[
    PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
    PROPERTY_TRANSACTION_CHECK_TIMES,
];

/// Whether a send is a transaction's half message: the `TRAN_MSG` property (what Java's
/// broker reads) or the PREPARED transaction type in the sys flag.
pub fn is_prepared(record: &MessageRecord) -> bool {
    let property = record
        .properties
        .get(PROPERTY_TRANSACTION_PREPARED)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    property || transaction_type(record.sys_flag) == TRANSACTION_PREPARED_TYPE
}

/// Turns a prepared send's records into the half message, in place, and returns the
/// transaction id (the message's UNIQ_KEY) for the send response. Other sends are left
/// alone (`Ok(None)`). Runs before any delay or timer hook: a half message is never
/// delayed. The caller stores the records on `records[0]`'s topic and queue.
pub fn divert_half_message(
    shard: &BrokerShard,
    records: &mut [MessageRecord],
    batch: bool,
) -> BrokerResult<Option<String>> {
    let Some(first) = records.first() else {
        return Ok(None);
    };
    if !is_prepared(first) {
        return Ok(None);
    }
    let config = shard.config();
    if config.reject_transaction_message {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] sending transaction message is forbidden",
            config.broker_ip1
        )));
    }
    if batch || records.len() != 1 {
        return Err(BrokerError::MessageIllegal(
            "a batch message cannot be a transactional (prepared) message".into(),
        ));
    }
    let record = &mut records[0];
    Ok(Some(make_half(record)))
}

fn make_half(record: &mut MessageRecord) -> String {
    let real_topic = std::mem::replace(&mut record.topic, HALF_TOPIC.to_owned());
    let real_queue_id = std::mem::replace(&mut record.queue_id, HALF_QUEUE_ID);
    record.properties.set(PROPERTY_REAL_TOPIC, &real_topic);
    record
        .properties
        .set(PROPERTY_REAL_QUEUE_ID, &real_queue_id.to_string());
    for name in DELAY_PROPERTIES.iter().chain(BROKER_OWNED) {
        record.properties.remove(name);
    }
    // Stored as an ordinary message of the half topic, so the half queue gets its
    // ConsumeQueue unit; the commit sets the COMMIT type on the real message.
    record.sys_flag = (record.sys_flag & !TRANSACTION_TYPE_MASK) | TRANSACTION_NOT_TYPE;
    let transaction_id = record
        .properties
        .get(PROPERTY_UNIQ_KEY)
        .unwrap_or_default()
        .to_owned();
    if !transaction_id.is_empty() {
        // 5.x brokers add it (`TransactionalMessageBridge.parseHalfMessageInner`).
        record
            .properties
            .set(PROPERTY_TRANSACTION_ID, &transaction_id);
    }
    transaction_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::Properties;

    fn prepared() -> MessageRecord {
        let mut properties = Properties::new();
        properties.set(PROPERTY_TRANSACTION_PREPARED, "true");
        properties.set(PROPERTY_UNIQ_KEY, "U1");
        properties.set("PGROUP", "pg");
        properties.set("DELAY", "3");
        // Forged by the producer: would alias another transaction, or end its checks.
        properties.set(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, "0");
        properties.set(PROPERTY_TRANSACTION_CHECK_TIMES, "99");
        MessageRecord {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            body: bytes::Bytes::from_static(b"b"),
            properties,
            sys_flag: TRANSACTION_PREPARED_TYPE | 2,
            born_timestamp: 1,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn a_prepared_message_becomes_an_undelayed_half_message() {
        let mut record = prepared();
        assert!(is_prepared(&record));
        assert_eq!(make_half(&mut record), "U1");
        assert_eq!(record.topic, HALF_TOPIC);
        assert_eq!(record.queue_id, 0);
        assert_eq!(record.properties.get(PROPERTY_REAL_TOPIC), Some("T"));
        assert_eq!(record.properties.get(PROPERTY_REAL_QUEUE_ID), Some("3"));
        assert_eq!(record.properties.get("DELAY"), None);
        assert_eq!(record.properties.get("__transactionId__"), Some("U1"));
        assert_eq!(
            record
                .properties
                .get(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET),
            None
        );
        assert_eq!(
            record.properties.get(PROPERTY_TRANSACTION_CHECK_TIMES),
            None
        );
        assert_eq!(transaction_type(record.sys_flag), TRANSACTION_NOT_TYPE);
        assert_eq!(record.sys_flag & 2, 2, "other flags stay");
        assert!(!is_prepared(&record) || record.properties.get("TRAN_MSG").is_some());
    }

    #[test]
    fn the_sys_flag_alone_marks_a_prepared_message() {
        let mut record = prepared();
        record.properties.remove(PROPERTY_TRANSACTION_PREPARED);
        assert!(is_prepared(&record));
        record.sys_flag = 0;
        assert!(!is_prepared(&record));
    }
}
