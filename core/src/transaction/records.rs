//! The records the transaction service writes: the committed message on its real queue,
//! op records, check-back copies of a half message and discarded ones, and the message
//! body of CHECK_TRANSACTION_STATE (`EndTransactionProcessor.endMessageTransaction`,
//! `TransactionalMessageBridge`, `DefaultTransactionalMessageCheckListener`).

use std::net::SocketAddr;

use ramjet_store::message::record::{AppendStamp, DecodedRecord};
use ramjet_store::message::sys_flag::TRANSACTION_COMMIT_TYPE;
use ramjet_store::message::{Properties, PROPERTY_TAGS, PROPERTY_UNIQ_KEY};
use ramjet_store::MessageRecord;

use super::{
    CHECK_MAX_TIME_TOPIC, HALF_QUEUE_ID, HALF_TOPIC, OP_TOPIC, PROPERTY_REAL_QUEUE_ID,
    PROPERTY_REAL_TOPIC, PROPERTY_TRANSACTION_CHECK_TIMES, PROPERTY_TRANSACTION_PREPARED,
    PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, REMOVE_TAG,
};
use crate::error::{BrokerError, BrokerResult};

const TRANSACTION_TYPE_MASK: i32 = 3 << 2;

/// The transaction a half message copy belongs to: the origin's half queue offset.
pub fn origin_of(half: &DecodedRecord) -> u64 {
    half.message
        .properties
        .get(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(half.stamp.queue_offset as u64)
}

/// The real topic and queue a half message was sent to.
pub fn real_queue(half: &MessageRecord) -> BrokerResult<(String, i32)> {
    let topic = half
        .properties
        .get(PROPERTY_REAL_TOPIC)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BrokerError::Storage("a half message without REAL_TOPIC".into()))?;
    let queue_id = half
        .properties
        .get(PROPERTY_REAL_QUEUE_ID)
        .and_then(|q| q.trim().parse::<i32>().ok())
        .filter(|q| *q >= 0)
        .ok_or_else(|| BrokerError::Storage("a half message without a valid REAL_QID".into()))?;
    Ok((topic.to_owned(), queue_id))
}

/// The committed message: the half message back on its real queue, typed COMMIT, with
/// the half message's CommitLog offset as its prepared transaction offset.
pub fn committed(half: &DecodedRecord) -> BrokerResult<MessageRecord> {
    let (topic, queue_id) = real_queue(&half.message)?;
    let mut message = half.message.clone();
    message.properties.remove(PROPERTY_REAL_TOPIC);
    message.properties.remove(PROPERTY_REAL_QUEUE_ID);
    message.properties.remove(PROPERTY_TRANSACTION_PREPARED);
    Ok(MessageRecord {
        topic,
        queue_id,
        sys_flag: (message.sys_flag & !TRANSACTION_TYPE_MASK) | TRANSACTION_COMMIT_TYPE,
        prepared_transaction_offset: half.stamp.physical_offset,
        ..message
    })
}

/// An op record: `body` = the half queue offset named, tag `d`; the origin as a property
/// so every copy of the transaction is settled by it.
pub fn op_record(
    named_offset: u64,
    origin: u64,
    store_host: SocketAddr,
    now_ms: i64,
    uniq_key: &str,
) -> MessageRecord {
    let mut properties = Properties::new();
    properties.set(PROPERTY_TAGS, REMOVE_TAG);
    properties.set(PROPERTY_UNIQ_KEY, uniq_key);
    properties.set(
        PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
        &origin.to_string(),
    );
    MessageRecord {
        topic: OP_TOPIC.to_owned(),
        queue_id: HALF_QUEUE_ID,
        flag: 0,
        body: named_offset.to_string().into_bytes().into(),
        properties,
        sys_flag: 0,
        born_timestamp: now_ms,
        born_host: store_host,
        store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// What an op record says: (named half offset, origin), or `None` for a record that is
/// not a removal (RocketMQ logs and skips such records).
pub fn read_op(op: &DecodedRecord) -> Option<(u64, u64)> {
    if op.message.properties.get(PROPERTY_TAGS) != Some(REMOVE_TAG) {
        return None;
    }
    let named = std::str::from_utf8(&op.message.body)
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    let origin = op
        .message
        .properties
        .get(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(named);
    Some((named, origin))
}

/// `needDiscard`: the check count after this check, or `None` when the half message was
/// already checked `check_max` times.
pub fn next_check_times(half: &MessageRecord, check_max: i32) -> Option<i32> {
    match half.properties.get(PROPERTY_TRANSACTION_CHECK_TIMES) {
        None => Some(1),
        Some(text) => {
            let times = text.trim().parse::<i32>().unwrap_or(-1);
            (times < check_max).then_some(times.saturating_add(1))
        }
    }
}

/// The copy a check-back re-appends to the half queue: the check count is durable and
/// the copy names its transaction's origin.
pub fn check_copy(half: &DecodedRecord, origin: u64, check_times: i32) -> MessageRecord {
    let mut message = half.message.clone();
    message
        .properties
        .set(PROPERTY_TRANSACTION_CHECK_TIMES, &check_times.to_string());
    message.properties.set(
        PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
        &origin.to_string(),
    );
    MessageRecord {
        topic: HALF_TOPIC.to_owned(),
        queue_id: HALF_QUEUE_ID,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        ..message
    }
}

/// A half message checked too often, kept in TRANS_CHECK_MAX_TIME_TOPIC for operators.
pub fn discarded(half: &DecodedRecord) -> MessageRecord {
    MessageRecord {
        topic: CHECK_MAX_TIME_TOPIC.to_owned(),
        queue_id: 0,
        ..half.message.clone()
    }
}

/// CHECK_TRANSACTION_STATE's body: the half message copy encoded as a stored message,
/// with its real topic and queue (`MessageDecoder.encode` of the message ext).
pub fn check_body(half: &MessageRecord, stamp: AppendStamp) -> BrokerResult<Vec<u8>> {
    let (topic, queue_id) = real_queue(half)?;
    let message = MessageRecord {
        topic,
        queue_id,
        ..half.clone()
    };
    let prepared = message
        .prepare()
        .map_err(|e| BrokerError::Storage(format!("half message cannot be encoded: {e}")))?;
    Ok(prepared.encode_to_vec(stamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::record::decode_record;
    use ramjet_store::message::sys_flag::{is_consumable, transaction_type};

    fn half(queue_offset: i64) -> DecodedRecord {
        let mut properties = Properties::new();
        properties.set(PROPERTY_REAL_TOPIC, "T");
        properties.set(PROPERTY_REAL_QUEUE_ID, "2");
        properties.set(PROPERTY_TRANSACTION_PREPARED, "true");
        properties.set(PROPERTY_UNIQ_KEY, "U");
        properties.set(PROPERTY_TAGS, "tagA");
        let message = MessageRecord {
            topic: HALF_TOPIC.into(),
            queue_id: 0,
            flag: 0,
            body: bytes::Bytes::from_static(b"body"),
            properties,
            sys_flag: 0,
            born_timestamp: 5,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let stamp = AppendStamp {
            queue_offset,
            physical_offset: 4096,
            store_timestamp: 9,
        };
        decode_record(&message.prepare().unwrap().encode_to_vec(stamp), true).unwrap()
    }

    #[test]
    fn a_commit_goes_back_to_the_real_queue_as_a_consumable_commit() {
        let record = committed(&half(3)).unwrap();
        assert_eq!((record.topic.as_str(), record.queue_id), ("T", 2));
        assert_eq!(transaction_type(record.sys_flag), TRANSACTION_COMMIT_TYPE);
        assert!(is_consumable(record.sys_flag));
        assert_eq!(record.prepared_transaction_offset, 4096);
        assert_eq!(record.properties.get(PROPERTY_REAL_TOPIC), None);
        assert_eq!(record.properties.get(PROPERTY_TRANSACTION_PREPARED), None);
        assert_eq!(record.properties.get(PROPERTY_UNIQ_KEY), Some("U"));
    }

    #[test]
    fn copies_and_ops_name_the_origin() {
        let first = half(3);
        assert_eq!(origin_of(&first), 3);
        let copy = check_copy(&first, 3, 1);
        let stored = decode_record(
            &copy.prepare().unwrap().encode_to_vec(AppendStamp {
                queue_offset: 8,
                physical_offset: 8192,
                store_timestamp: 10,
            }),
            true,
        )
        .unwrap();
        assert_eq!(origin_of(&stored), 3);
        assert_eq!(next_check_times(&stored.message, 15), Some(2));
        assert_eq!(next_check_times(&stored.message, 1), None);
        assert_eq!(next_check_times(&first.message, 15), Some(1));
        let op = op_record(8, 3, "127.0.0.1:2".parse().unwrap(), 1, "K");
        let op = decode_record(
            &op.prepare().unwrap().encode_to_vec(AppendStamp {
                queue_offset: 0,
                physical_offset: 0,
                store_timestamp: 1,
            }),
            true,
        )
        .unwrap();
        assert_eq!(read_op(&op), Some((8, 3)));
    }

    #[test]
    fn the_check_body_carries_the_real_topic() {
        let half = half(3);
        let body = check_body(&half.message, half.stamp).unwrap();
        let decoded = decode_record(&body, true).unwrap();
        assert_eq!(decoded.message.topic, "T");
        assert_eq!(decoded.message.queue_id, 2);
        assert_eq!(decoded.stamp.queue_offset, 3);
        assert_eq!(decoded.stamp.physical_offset, 4096);
    }

    #[test]
    fn a_half_without_its_real_queue_is_refused() {
        let mut bad = half(0);
        bad.message.properties.remove(PROPERTY_REAL_QUEUE_ID);
        assert!(committed(&bad).is_err());
    }
}
