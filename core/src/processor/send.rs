//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320)
//! (`SendMessageProcessor`, docs/remoting-protocol.md sections 7 and 9.2).
//!
//! The connection's shard decodes and checks the request, picks the queue (creating the
//! topic through the leader if allowed) and builds the records; the typed put stores them
//! on the queue's owner.

use std::rc::Rc;

use ramjet_net::body::{perm, TopicConfig};
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::sys_flag::MULTI_TAGS_FLAG;
use ramjet_store::message::{decode_batch_body, Properties, PROPERTY_UNIQ_KEY};
use ramjet_store::{MessageRecord, PutOk, PutStatus};

use crate::error::{BrokerError, BrokerResult};
use crate::placement::owner_shard;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, Origin, PutPatience, PutRequest};
use crate::topic_config_manager::{now_ms, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};
use crate::topic_validator::{validate, NOT_ALLOWED_SEND};
use crate::transaction;
use crate::uniq_key::create_uniq_key;

pub const PROPERTY_CLUSTER: &str = "CLUSTER";

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> BrokerResult<RemotingCommand> {
    let mut header = SendMessageRequestHeader::decode_for_code(request.code, request.fields())
        .map_err(BrokerError::bad_header)?;
    let config = shard.config();
    if config.broker_permission & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}, {}] sending message is forbidden",
            config.broker_name,
            config.broker_addr()
        )));
    }
    validate(&header.topic).map_err(BrokerError::InvalidParameter)?;
    if NOT_ALLOWED_SEND.contains(&header.topic.as_str()) {
        return Err(BrokerError::NoPermission(format!(
            "Sending message to topic[{}] is forbidden.",
            header.topic
        )));
    }
    if let Some(dlq) = dead_letter_topic(shard, &header) {
        // Out of retries: the message is dead-lettered.
        header.topic = dlq;
        header.queue_id = 0;
    }
    let topic_config = find_or_create_topic(shard, &header).await?;
    let queue_id = select_queue(&topic_config, header.queue_id)?;
    let multi_tags = topic_config.topic_filter_type == "MULTI_TAG";
    // The C++ client sends batches through its Python API without the flag; like Apache
    // RocketMQ, the flag (or code 320) decides.
    let batch = request.code == request::SEND_BATCH_MESSAGE || header.batch == Some(true);
    let mut records = build_records(shard, request, &header, queue_id, multi_tags, batch, origin)?;
    // A prepared message becomes a half message (before any delay or timer hook: it is
    // never delayed); the put goes where the hooks left the records.
    let transaction_id = transaction::divert_half_message(shard, &mut records, batch)?;
    let mut put = PutRequest {
        topic: records[0].topic.clone(),
        queue_id: records[0].queue_id,
        records,
        batch,
    };
    // The diverts, in RocketMQ's precedence: a half message is neither timed nor delayed;
    // a delay level wins over timer properties (the timer hook drops them).
    if transaction_id.is_none() {
        crate::timer::divert_on_send(&config, &mut put)?;
        crate::schedule::divert_delayed(&config.message_delay_level, &mut put)?;
    }
    // A oneway send cannot be answered SYSTEM_BUSY, so it waits for room instead.
    let patience = if request.is_oneway() {
        PutPatience::UntilRoom
    } else {
        PutPatience::Brief
    };
    let owner = owner_shard(&put.topic, put.queue_id, shard.shard_count());
    let ok = shard.put_with(owner, put, patience).await?;
    Ok(response_for(request, shard, &ok, queue_id, transaction_id))
}

/// Stores a put on the shard that owns its queue.
pub(super) async fn put_on_owner(shard: &Rc<BrokerShard>, put: PutRequest) -> BrokerResult<PutOk> {
    let owner = owner_shard(&put.topic, put.queue_id, shard.shard_count());
    shard.put(owner, put).await
}

/// The queue a send goes to: the one asked for, or any writable one when the client
/// leaves the choice to the broker (a negative queueId, as Java's `randomQueueId`).
pub(super) fn select_queue(topic: &TopicConfig, requested: i32) -> BrokerResult<i32> {
    if topic.perm & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the topic[{}] sending message is forbidden",
            topic.topic_name
        )));
    }
    let queue_count = topic.read_queue_nums.max(topic.write_queue_nums);
    if requested >= queue_count {
        return Err(BrokerError::InvalidParameter(format!(
            "request queueId[{requested}] is illegal, topic {} has {queue_count} queues",
            topic.topic_name
        )));
    }
    if requested >= 0 {
        return Ok(requested);
    }
    if topic.write_queue_nums <= 0 {
        return Err(BrokerError::NoPermission(format!(
            "the topic[{}] has no writable queue",
            topic.topic_name
        )));
    }
    Ok((rand::random::<u32>() % topic.write_queue_nums as u32) as i32)
}

/// `handleRetryAndDLQ`: a send to `%RETRY%<group>` whose reconsume count (header `j`) is past
/// the group's maximum (header `l`, else the group's retryMaxTimes) goes to `%DLQ%<group>`.
fn dead_letter_topic(shard: &BrokerShard, header: &SendMessageRequestHeader) -> Option<String> {
    let group = header.topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX)?;
    let reconsume_times = header.reconsume_times.unwrap_or(0);
    let max = header.max_reconsume_times.unwrap_or_else(|| {
        shard
            .snapshot()
            .groups
            .get(group)
            .map_or(16, |g| g.retry_max_times)
    });
    (reconsume_times > max).then(|| format!("{DLQ_GROUP_TOPIC_PREFIX}{group}"))
}

/// The topic's config from this shard's snapshot, or created by the leader (auto-creation
/// through the default topic, TBW102; retry and DLQ topics on demand).
async fn find_or_create_topic(
    shard: &Rc<BrokerShard>,
    header: &SendMessageRequestHeader,
) -> BrokerResult<TopicConfig> {
    if let Some(config) = shard.snapshot().topics.get(&header.topic) {
        return Ok(config.clone());
    }
    let is_group_topic = header.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
        || header.topic.starts_with(DLQ_GROUP_TOPIC_PREFIX);
    let request = if is_group_topic {
        // A retry topic appears when its group first sends back; 1 queue as Java does.
        LeaderRequest::EnsureGroupTopic {
            topic: header.topic.clone(),
            queue_nums: 1,
            perm: perm::READ | perm::WRITE,
        }
    } else {
        LeaderRequest::EnsureTopic {
            topic: header.topic.clone(),
            default_topic: header.default_topic.clone(),
            queue_nums: header.default_topic_queue_nums,
            sys_flag: header.sys_flag,
        }
    };
    match shard.leader_call(request).await? {
        LeaderReply::Topic(Some(config)) => Ok(config),
        LeaderReply::Topic(None) => Err(BrokerError::TopicNotExist(format!(
            "topic[{}] not exist, apply first please!",
            header.topic
        ))),
        _ => Err(BrokerError::Internal(
            "topic creation answered no topic".into(),
        )),
    }
}

fn build_records(
    shard: &BrokerShard,
    request: &RemotingCommand,
    header: &SendMessageRequestHeader,
    queue_id: i32,
    multi_tags: bool,
    batch: bool,
    origin: &Origin,
) -> BrokerResult<Vec<MessageRecord>> {
    let mut properties =
        Properties::from_bytes(header.properties.as_deref().unwrap_or("").as_bytes());
    properties.set(PROPERTY_CLUSTER, &shard.config().broker_cluster_name);
    let mut sys_flag = header.sys_flag;
    if multi_tags {
        sys_flag |= MULTI_TAGS_FLAG;
    }
    let base = MessageRecord {
        topic: header.topic.clone(),
        queue_id,
        flag: header.flag,
        body: bytes::Bytes::new(),
        properties,
        sys_flag,
        born_timestamp: header.born_timestamp,
        born_host: origin.peer,
        store_host: shard.store_host(),
        reconsume_times: header.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    if !batch {
        let mut record = base;
        record.body = request.body.clone();
        if record.properties.get(PROPERTY_UNIQ_KEY).is_none() {
            let id = create_uniq_key(shard.store_host(), now_ms());
            record.properties.set(PROPERTY_UNIQ_KEY, &id);
        }
        return Ok(vec![record]);
    }
    if header.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
        return Err(BrokerError::MessageIllegal(
            "batch request does not support retry group".into(),
        ));
    }
    let inner = decode_batch_body(&request.body)
        .map_err(|e| BrokerError::MessageIllegal(format!("bad batch body: {e}")))?;
    if inner.is_empty() {
        return Err(BrokerError::MessageIllegal(
            "batch body holds no message".into(),
        ));
    }
    let mut records = MessageRecord::from_batch(&base, &inner, &base.properties);
    for (record, message) in records.iter_mut().zip(&inner) {
        // Each message keeps its own id; the batch's id belongs to the batch.
        match message.properties.get(PROPERTY_UNIQ_KEY) {
            Some(id) => record.properties.set(PROPERTY_UNIQ_KEY, id),
            None => record.properties.set(
                PROPERTY_UNIQ_KEY,
                &create_uniq_key(shard.store_host(), now_ms()),
            ),
        }
    }
    Ok(records)
}

fn response_for(
    request: &RemotingCommand,
    shard: &BrokerShard,
    ok: &PutOk,
    queue_id: i32,
    transaction_id: Option<String>,
) -> RemotingCommand {
    // transactionId (the UNIQ_KEY) is set for half messages only, as 5.x brokers answer
    // transactional sends; batchUniqId belongs to 5.x inner batches (BatchCQ topics), which
    // clients read as a change of meaning, so it is not set. For a half message msgId and
    // queueOffset name the half message: END_TRANSACTION quotes them back.
    let config = shard.config();
    let header = SendMessageResponseHeader {
        msg_id: ok.msg_id.clone(),
        queue_id,
        queue_offset: ok.queue_offset as i64,
        transaction_id: transaction_id.filter(|id| !id.is_empty()),
        batch_uniq_id: None,
        msg_region: Some(config.region_id.clone()),
        trace_on: Some(config.trace_on.to_string()),
    };
    // A SYNC_FLUSH put past syncFlushTimeout is stored but not yet durable: Java answers
    // FLUSH_DISK_TIMEOUT with the full send result, and the client reports that status.
    let code = match ok.status {
        PutStatus::PutOk => response::SUCCESS,
        PutStatus::FlushDiskTimeout => response::FLUSH_DISK_TIMEOUT,
        // Stored on the master, not (yet) on a slave: Java answers these codes with the
        // full send result too, and the client reports the matching SendStatus.
        PutStatus::FlushSlaveTimeout => response::FLUSH_SLAVE_TIMEOUT,
        PutStatus::SlaveNotAvailable => response::SLAVE_NOT_AVAILABLE,
    };
    RemotingCommand::response_to(request, code).with_ext_fields(header.to_ext_fields())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_queue_id_picks_a_writable_queue() {
        let topic = TopicConfig::new("T", 8, 4, perm::READ | perm::WRITE);
        for requested in [-1, -2, i32::MIN] {
            for _ in 0..200 {
                let queue_id = select_queue(&topic, requested).unwrap();
                assert!((0..4).contains(&queue_id), "{requested} -> {queue_id}");
            }
        }
        assert_eq!(select_queue(&topic, 7).unwrap(), 7);
        assert!(matches!(
            select_queue(&topic, 8),
            Err(BrokerError::InvalidParameter(_))
        ));
        assert!(matches!(
            select_queue(&topic, i32::MAX),
            Err(BrokerError::InvalidParameter(_))
        ));
        let read_only = TopicConfig::new("R", 4, 4, perm::READ);
        assert!(matches!(
            select_queue(&read_only, 0),
            Err(BrokerError::NoPermission(_))
        ));
        let no_write_queues = TopicConfig::new("W", 4, 0, perm::READ | perm::WRITE);
        assert!(select_queue(&no_write_queues, -1).is_err());
    }
}
