//! CONSUMER_SEND_MSG_BACK (36): a consumer could not process a message, so it goes to the
//! group's retry topic `%RETRY%<group>`, or to `%DLQ%<group>` once it has been retried
//! `maxReconsumeTimes` times (`AbstractSendMessageProcessor.consumerSendMsgBack`,
//! docs/remoting-protocol.md section 9.6).
//!
//! The original is read by its CommitLog offset and stored again through the typed put,
//! with delay level `3 + reconsumeTimes` (or the level the client asks for), so the schedule
//! service (core/src/schedule) hands it back after 10 s, 30 s, 1 min, ... A message out of
//! retries goes to the dead-letter queue at once.

use std::rc::Rc;

use ramjet_net::body::perm;
use ramjet_net::header::{CommandHeader, ConsumerSendMsgBackRequestHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::create_offset_msg_id;
use ramjet_store::message::record::decode_record;
use ramjet_store::MessageRecord;

use super::send::{put_on_owner, select_queue};
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, Origin, PutRequest};
use crate::subscription_group_manager::SubscriptionGroupConfig;
use crate::topic_config_manager::{DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};

pub const PROPERTY_RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const PROPERTY_ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub use crate::schedule::PROPERTY_DELAY;

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    _origin: &Origin,
) -> BrokerResult<RemotingCommand> {
    let header = ConsumerSendMsgBackRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let group = match shard.snapshot().groups.get(&header.group) {
        Some(group) => group.clone(),
        None if shard.config().auto_create_subscription_group => {
            SubscriptionGroupConfig::named(&header.group)
        }
        None => {
            return Err(BrokerError::SubscriptionGroupNotExist(format!(
                "subscription group not exist, {}",
                header.group
            )))
        }
    };
    if group.retry_queue_nums <= 0 {
        return Ok(success(request)); // The group asked for no retries: drop, as Java does.
    }
    let look_failed =
        || BrokerError::NotFound(format!("look message by offset failed, {}", header.offset));
    let physical_offset = u64::try_from(header.offset).map_err(|_| look_failed())?;
    let original = shard
        .view(physical_offset)
        .await
        .map_err(|_| look_failed())?;
    let decoded = decode_record(&original, false)
        .map_err(|e| BrokerError::Storage(format!("stored message is unreadable: {e}")))?;
    let mut message = decoded.message;
    if message.properties.get(PROPERTY_RETRY_TOPIC).is_none() {
        let topic = message.topic.clone();
        message.properties.set(PROPERTY_RETRY_TOPIC, &topic);
    }
    // Java keeps the first origin across retries; the first is the original's msgId as the
    // broker's `lookMessageByOffset` sees it: its offsetMsgId. Its UNIQ_KEY (the id clients
    // show) and keys travel in the properties, unchanged.
    if message
        .properties
        .get(PROPERTY_ORIGIN_MESSAGE_ID)
        .is_none_or(str::is_empty)
    {
        let id = create_offset_msg_id(message.store_host, decoded.stamp.physical_offset);
        message.properties.set(PROPERTY_ORIGIN_MESSAGE_ID, &id);
    }
    // Java: the header's maxReconsumeTimes (clients since 3.4.9 send it) replaces the
    // group's retryMaxTimes.
    let retry_topic_of_message = message
        .properties
        .get(PROPERTY_RETRY_TOPIC)
        .unwrap_or_default()
        .to_owned();
    let max_reconsume = header.max_reconsume_times.unwrap_or(group.retry_max_times);
    let to_dlq = message.reconsume_times >= max_reconsume || header.delay_level < 0;
    let (topic, queue_nums, delay) = if to_dlq {
        (format!("{DLQ_GROUP_TOPIC_PREFIX}{}", header.group), 1, 0)
    } else {
        let level = if header.delay_level == 0 {
            3i32.saturating_add(message.reconsume_times)
        } else {
            header.delay_level
        };
        let topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", header.group);
        (topic, group.retry_queue_nums, level)
    };
    // Java's setDelayTimeLevel: the dead letter carries DELAY=0, a retry its level.
    message.properties.set(PROPERTY_DELAY, &delay.to_string());
    let ensure = LeaderRequest::EnsureGroupTopic {
        topic: topic.clone(),
        queue_nums,
        perm: perm::READ | perm::WRITE,
    };
    let topic_config = match shard.leader_call(ensure).await? {
        LeaderReply::Topic(Some(config)) => config,
        _ => {
            return Err(BrokerError::Internal(
                "retry topic creation answered no topic".into(),
            ))
        }
    };
    let queue_id = select_queue(&topic_config, -1)?;
    // The retry is the same message: its id, keys, flag, sys flag, born time and host stay.
    let record = MessageRecord {
        topic: topic.clone(),
        queue_id,
        reconsume_times: message.reconsume_times.saturating_add(1),
        store_host: shard.store_host(),
        prepared_transaction_offset: 0,
        ..message
    };
    let mut put = PutRequest {
        topic,
        queue_id,
        records: vec![record],
        batch: false,
    };
    crate::schedule::divert_delayed(&shard.config().message_delay_level, &mut put)?;
    put_on_owner(shard, put).await?;
    // Java's incSendBackNums after PUT_OK, retry or dead letter alike.
    shard
        .ops()
        .record_send_back(&header.group, &retry_topic_of_message);
    if to_dlq {
        // Java labels it with the header's originTopic (the topic the message was sent to).
        let origin_topic = header
            .origin_topic
            .as_deref()
            .filter(|topic| !topic.is_empty())
            .unwrap_or(&retry_topic_of_message);
        shard.ops().record_dlq(&header.group, origin_topic);
    }
    Ok(success(request))
}
