//! Delay levels (`ScheduleMessageService`, docs/delay-and-retry.md).
//!
//! A message whose `DELAY` property names a level > 0 is not stored on its own queue: it is
//! diverted to `SCHEDULE_TOPIC_XXXX`, queue `level - 1`, with its real topic and queue in
//! `REAL_TOPIC` / `REAL_QID` (`CommitLog.asyncPutMessage`). Each level's queue is owned by
//! one shard (`placement::owner_shard`); that shard's `deliver` loop stores the head
//! message on its real queue once `store timestamp + level delay` has passed, and records
//! its progress in `delayOffset.json` (`delay_offsets`).
//!
//! Every writer that may carry a delay (send, send-back, a client's own resend to
//! `%RETRY%<group>`) calls [`divert_delayed`] on its put just before storing it.

pub mod delay_offsets;
pub mod deliver;
pub mod levels;

use ramjet_store::message::sys_flag::{
    transaction_type, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
};
use ramjet_store::MessageRecord;

use crate::error::{BrokerError, BrokerResult};
use crate::shard_request::PutRequest;
use crate::topic_config_manager::{DLQ_GROUP_TOPIC_PREFIX, SCHEDULE_TOPIC};
pub use levels::DelayLevelTable;

/// `MessageConst.PROPERTY_DELAY_TIME_LEVEL`.
pub const PROPERTY_DELAY: &str = "DELAY";
/// `MessageConst.PROPERTY_REAL_TOPIC`.
pub const PROPERTY_REAL_TOPIC: &str = "REAL_TOPIC";
/// `MessageConst.PROPERTY_REAL_QUEUE_ID`.
pub const PROPERTY_REAL_QUEUE_ID: &str = "REAL_QID";

/// The delay level a record asks for: `DELAY` parsed as Java's `getDelayTimeLevel` does
/// (absent = 0). A value that is not a number is refused rather than guessed at.
pub fn delay_level(record: &MessageRecord) -> BrokerResult<i32> {
    match record.properties.get(PROPERTY_DELAY) {
        None => Ok(0),
        Some(text) => text.trim().parse().map_err(|_| {
            BrokerError::MessageIllegal(format!("the DELAY property {text:?} is not a delay level"))
        }),
    }
}

/// Diverts a put whose message asks for a delay level to `SCHEDULE_TOPIC_XXXX`, queue
/// `level - 1` (a level above the table's max is clamped to it), keeping the real topic
/// and queue in `REAL_TOPIC` / `REAL_QID`. Leaves every other put alone.
///
/// Only plain and committed transactional messages are delayed, as in Java; a prepared
/// (half) message is the transaction hook's and is never delayed here. A message going to
/// a dead-letter queue is not delayed either (`handleRetryAndDLQ` sets its level to 0).
/// A batch may not carry a delay (Java: MESSAGE_ILLEGAL).
pub fn divert_delayed(table: &DelayLevelTable, put: &mut PutRequest) -> BrokerResult<()> {
    if put.batch {
        // Java reads the delay of a batch from the batch's own properties, which every
        // inner record inherits here; any inner record with a level refuses the batch.
        for record in &put.records {
            if delay_level(record)? > 0 {
                return Err(BrokerError::MessageIllegal(
                    "a batch cannot carry a delay level".into(),
                ));
            }
        }
        return Ok(());
    }
    let [record] = put.records.as_mut_slice() else {
        return Ok(());
    };
    let tran_type = transaction_type(record.sys_flag);
    if tran_type != TRANSACTION_NOT_TYPE && tran_type != TRANSACTION_COMMIT_TYPE {
        return Ok(());
    }
    let mut level = delay_level(record)?;
    if level <= 0 {
        return Ok(());
    }
    if put.topic.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
        record.properties.set(PROPERTY_DELAY, "0");
        return Ok(());
    }
    if level > table.max_level() {
        level = table.max_level();
        record.properties.set(PROPERTY_DELAY, &level.to_string());
    }
    let queue_id = levels::queue_id_of_level(level);
    record
        .properties
        .set(PROPERTY_REAL_TOPIC, &std::mem::take(&mut record.topic));
    record
        .properties
        .set(PROPERTY_REAL_QUEUE_ID, &record.queue_id.to_string());
    record.topic = SCHEDULE_TOPIC.to_owned();
    record.queue_id = queue_id;
    put.topic = SCHEDULE_TOPIC.to_owned();
    put.queue_id = queue_id;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::sys_flag::{TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE};
    use ramjet_store::Properties;

    fn put(topic: &str, queue_id: i32, delay: Option<&str>) -> PutRequest {
        let mut properties = Properties::new();
        properties.set("UNIQ_KEY", "ID1");
        properties.set("TAGS", "tagA");
        if let Some(delay) = delay {
            properties.set(PROPERTY_DELAY, delay);
        }
        let host = "127.0.0.1:10911".parse().unwrap();
        let record = MessageRecord {
            topic: topic.into(),
            queue_id,
            flag: 7,
            body: bytes::Bytes::from_static(b"body"),
            properties,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: host,
            store_host: host,
            reconsume_times: 2,
            prepared_transaction_offset: 0,
        };
        PutRequest {
            topic: topic.into(),
            queue_id,
            records: vec![record],
            batch: false,
        }
    }

    #[test]
    fn a_delayed_message_goes_to_its_levels_schedule_queue() {
        let table = DelayLevelTable::default();
        let mut request = put("TopicA", 3, Some("2"));
        divert_delayed(&table, &mut request).unwrap();
        assert_eq!(
            (request.topic.as_str(), request.queue_id),
            (SCHEDULE_TOPIC, 1)
        );
        let record = &request.records[0];
        assert_eq!(
            (record.topic.as_str(), record.queue_id),
            (SCHEDULE_TOPIC, 1)
        );
        assert_eq!(record.properties.get(PROPERTY_REAL_TOPIC), Some("TopicA"));
        assert_eq!(record.properties.get(PROPERTY_REAL_QUEUE_ID), Some("3"));
        assert_eq!(record.properties.get(PROPERTY_DELAY), Some("2"));
        assert_eq!(record.properties.get("UNIQ_KEY"), Some("ID1"));
    }

    #[test]
    fn levels_above_the_max_are_clamped() {
        let table = DelayLevelTable::parse("1s 2s 3s").unwrap();
        let mut request = put("TopicA", 0, Some("40"));
        divert_delayed(&table, &mut request).unwrap();
        assert_eq!(request.queue_id, 2);
        assert_eq!(request.records[0].properties.get(PROPERTY_DELAY), Some("3"));
    }

    #[test]
    fn no_level_zero_level_or_negative_level_is_not_delayed() {
        let table = DelayLevelTable::default();
        for delay in [None, Some("0"), Some("-2")] {
            let mut request = put("TopicA", 1, delay);
            divert_delayed(&table, &mut request).unwrap();
            assert_eq!((request.topic.as_str(), request.queue_id), ("TopicA", 1));
            assert_eq!(request.records[0].properties.get(PROPERTY_REAL_TOPIC), None);
        }
    }

    #[test]
    fn a_bad_level_is_refused() {
        let mut request = put("TopicA", 1, Some("soon"));
        let error = divert_delayed(&DelayLevelTable::default(), &mut request).unwrap_err();
        assert!(matches!(error, BrokerError::MessageIllegal(_)), "{error}");
    }

    #[test]
    fn prepared_and_rollback_messages_are_not_delayed_but_commits_are() {
        let table = DelayLevelTable::default();
        for (flag, diverted) in [
            (TRANSACTION_PREPARED_TYPE, false),
            (TRANSACTION_ROLLBACK_TYPE, false),
            (TRANSACTION_COMMIT_TYPE, true),
        ] {
            let mut request = put("TopicA", 1, Some("1"));
            request.records[0].sys_flag = flag;
            divert_delayed(&table, &mut request).unwrap();
            assert_eq!(request.topic == SCHEDULE_TOPIC, diverted, "flag {flag}");
        }
    }

    #[test]
    fn dead_letters_are_not_delayed() {
        let mut request = put("%DLQ%G", 0, Some("5"));
        divert_delayed(&DelayLevelTable::default(), &mut request).unwrap();
        assert_eq!(request.topic, "%DLQ%G");
        assert_eq!(request.records[0].properties.get(PROPERTY_DELAY), Some("0"));
    }

    #[test]
    fn a_delayed_batch_is_refused_and_a_plain_one_passes() {
        let table = DelayLevelTable::default();
        let mut plain = put("TopicA", 0, None);
        plain.batch = true;
        divert_delayed(&table, &mut plain).unwrap();
        assert_eq!(plain.topic, "TopicA");
        let mut delayed = put("TopicA", 0, Some("1"));
        delayed.batch = true;
        assert!(divert_delayed(&table, &mut delayed).is_err());
    }
}
