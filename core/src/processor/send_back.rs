//! CONSUMER_SEND_MSG_BACK (36): a consumer could not process a message, so it goes to the
//! group's retry topic `%RETRY%<group>`, or to `%DLQ%<group>` once it has been retried
//! `maxReconsumeTimes` times (`AbstractSendMessageProcessor.consumerSendMsgBack`,
//! docs/remoting-protocol.md section 9.6).
//!
//! The original is read by its CommitLog offset and stored again through the typed put.
//! Delay levels are not built yet, so a retried message is stored for immediate
//! redelivery instead of after 10 s, 30 s, ... (the `DELAY` property is kept for when they
//! are).

use std::rc::Rc;

use ramjet_net::body::perm;
use ramjet_net::header::{CommandHeader, ConsumerSendMsgBackRequestHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::record::decode_record;
use ramjet_store::message::PROPERTY_UNIQ_KEY;
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
pub const PROPERTY_DELAY: &str = "DELAY";
/// Java's default `maxReconsumeTimes` for concurrent consumers.
const MAX_RECONSUME_TIMES_DEFAULT: i32 = 16;

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
    let mut message = decode_record(&original, false)
        .map_err(|e| BrokerError::Storage(format!("stored message is unreadable: {e}")))?
        .message;
    if message.properties.get(PROPERTY_RETRY_TOPIC).is_none() {
        let topic = message.topic.clone();
        message.properties.set(PROPERTY_RETRY_TOPIC, &topic);
    }
    let origin_id = header
        .origin_msg_id
        .clone()
        .filter(|id| !id.is_empty())
        .or_else(|| message.properties.get(PROPERTY_UNIQ_KEY).map(str::to_owned));
    if message.properties.get(PROPERTY_ORIGIN_MESSAGE_ID).is_none() {
        if let Some(id) = origin_id {
            message.properties.set(PROPERTY_ORIGIN_MESSAGE_ID, &id);
        }
    }
    let max_reconsume = header
        .max_reconsume_times
        .unwrap_or(MAX_RECONSUME_TIMES_DEFAULT)
        .min(group.retry_max_times.max(0));
    let to_dlq = message.reconsume_times >= max_reconsume || header.delay_level < 0;
    let (topic, queue_nums, delay) = if to_dlq {
        (format!("{DLQ_GROUP_TOPIC_PREFIX}{}", header.group), 1, 0)
    } else {
        let level = if header.delay_level == 0 {
            3 + message.reconsume_times
        } else {
            header.delay_level
        };
        let topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", header.group);
        (topic, group.retry_queue_nums, level)
    };
    if delay > 0 {
        message.properties.set(PROPERTY_DELAY, &delay.to_string());
    }
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
    // The retry is the same message: its id, keys and born host stay.
    let record = MessageRecord {
        topic: topic.clone(),
        queue_id,
        reconsume_times: message.reconsume_times + 1,
        store_host: shard.store_host(),
        prepared_transaction_offset: 0,
        ..message
    };
    let put = PutRequest {
        topic,
        queue_id,
        records: vec![record],
        batch: false,
    };
    put_on_owner(shard, put).await?;
    Ok(success(request))
}
