//! CONSUMER_SEND_MSG_BACK (36): a consumer could not process a message, so it goes to the
//! group's retry topic `%RETRY%<group>`, or to `%DLQ%<group>` once it has been retried
//! `maxReconsumeTimes` times (`AbstractSendMessageProcessor.consumerSendMsgBack`,
//! remoting-protocol.md section 9.6).
//!
//! Delay levels are not built yet, so a retried message is stored for immediate
//! redelivery instead of after 10 s, 30 s, ... (the `DELAY` property is kept for when they
//! are).

use std::rc::Rc;

use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader,
};
use ramjet_net::RemotingCommand;
use ramjet_store::message::record::decode_record;
use ramjet_store::message::PROPERTY_UNIQ_KEY;

use crate::response_code::{bad_header, error, success};
use crate::shard::{shard_of_physical_offset, BrokerShard, Origin};
use crate::topic_config_manager::{DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};

pub const PROPERTY_RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const PROPERTY_ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub const PROPERTY_DELAY: &str = "DELAY";
/// Java's default `maxReconsumeTimes` for concurrent consumers.
const MAX_RECONSUME_TIMES_DEFAULT: i32 = 16;

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> RemotingCommand {
    let header = match ConsumerSendMsgBackRequestHeader::decode(request.fields()) {
        Ok(header) => header,
        Err(e) => return bad_header(request, e),
    };
    let snapshot = shard.snapshot();
    let group = match snapshot.groups.get(&header.group) {
        Some(group) => group.clone(),
        None if shard.config().auto_create_subscription_group => {
            crate::subscription_group_manager::SubscriptionGroupConfig::named(&header.group)
        }
        None => {
            let remark = format!("subscription group not exist, {}", header.group);
            return error(request, response::SUBSCRIPTION_GROUP_NOT_EXIST, remark);
        }
    };
    if group.retry_queue_nums <= 0 {
        return success(request); // The group asked for no retries: drop, as Java does.
    }
    let owner = shard_of_physical_offset(header.offset);
    let mut view = RemotingCommand::request(request::VIEW_MESSAGE_BY_ID);
    view.ext_fields_mut()
        .insert("offset", header.offset.to_string());
    let original = match shard
        .run_on(owner.min(shard.shard_count - 1), view, origin.clone())
        .await
    {
        Some(answer) if answer.code == response::SUCCESS => answer.body,
        _ => {
            let remark = format!("look message by offset failed, {}", header.offset);
            return error(request, response::SYSTEM_ERROR, remark);
        }
    };
    let decoded = match decode_record(&original, false) {
        Ok(decoded) => decoded,
        Err(e) => {
            return error(
                request,
                response::SYSTEM_ERROR,
                format!("stored message is unreadable: {e}"),
            )
        }
    };
    let mut message = decoded.message;
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
    let (topic, delay) = if to_dlq {
        (format!("{DLQ_GROUP_TOPIC_PREFIX}{}", header.group), 0)
    } else {
        let level = if header.delay_level == 0 {
            3 + message.reconsume_times
        } else {
            header.delay_level
        };
        (format!("{RETRY_GROUP_TOPIC_PREFIX}{}", header.group), level)
    };
    if delay > 0 {
        message.properties.set(PROPERTY_DELAY, &delay.to_string());
    }
    let send = SendMessageRequestHeader {
        producer_group: header.group.clone(),
        topic,
        default_topic: String::new(),
        default_topic_queue_nums: 1,
        queue_id: -1,
        sys_flag: message.sys_flag,
        born_timestamp: message.born_timestamp,
        flag: message.flag,
        properties: Some(String::from_utf8_lossy(&message.properties.to_bytes()).into_owned()),
        reconsume_times: Some(message.reconsume_times + 1),
        unit_mode: None,
        batch: Some(false),
        max_reconsume_times: Some(max_reconsume),
        broker_name: None,
    };
    let put = RemotingCommand::request(request::SEND_MESSAGE)
        .with_ext_fields(send.to_ext_fields())
        .with_body(message.body);
    // The original born host stays: the retry is the same message.
    let mut retry_origin = origin.clone();
    retry_origin.peer = message.born_host;
    match Box::pin(super::send::process(shard, put, &retry_origin)).await {
        Some(answer) if answer.code == response::SUCCESS => success(request),
        Some(answer) => RemotingCommand::response_to(request, answer.code)
            .with_remark(answer.remark.unwrap_or_default()),
        None => error(request, response::SYSTEM_ERROR, "send back got no answer"),
    }
}
