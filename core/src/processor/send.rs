//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320)
//! (`SendMessageProcessor`, remoting-protocol.md sections 7 and 9.2).
//!
//! The connection's shard checks the request and picks the queue (creating the topic
//! through the leader if allowed); the queue's owner appends. Checks run again on the
//! owner, cheaply, so both paths share one function.

use std::rc::Rc;

use ramjet_net::body::perm;
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::sys_flag::MULTI_TAGS_FLAG;
use ramjet_store::message::{decode_batch_body, Properties, PROPERTY_UNIQ_KEY};
use ramjet_store::{MessageRecord, PutOk};

use crate::response_code::{bad_header, error, for_put, system_busy};
use crate::shard::{owner_shard, BrokerShard, Origin, ShardMessage, LEADER_SHARD};
use crate::topic_config_manager::{now_ms, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};
use crate::topic_validator::{validate, NOT_ALLOWED_SEND};
use crate::uniq_key::create_uniq_key;

pub const PROPERTY_CLUSTER: &str = "CLUSTER";

pub async fn process(
    shard: &Rc<BrokerShard>,
    mut request: RemotingCommand,
    origin: &Origin,
) -> Option<RemotingCommand> {
    let fields = request.fields();
    let header = match SendMessageRequestHeader::decode_for_code(request.code, fields) {
        Ok(header) => header,
        Err(e) => return Some(bad_header(&request, e)),
    };
    let config = shard.config();
    let topic = header.topic.as_str();
    if config.broker_permission & perm::WRITE == 0 {
        let remark = format!(
            "the broker[{}, {}] sending message is forbidden",
            config.broker_name,
            config.broker_addr()
        );
        return Some(error(&request, response::NO_PERMISSION, remark));
    }
    if let Err(remark) = validate(topic) {
        return Some(error(&request, response::INVALID_PARAMETER, remark));
    }
    if NOT_ALLOWED_SEND.contains(&topic) {
        let remark = format!("Sending message to topic[{topic}] is forbidden.");
        return Some(error(&request, response::NO_PERMISSION, remark));
    }
    let mut header = header;
    if let Some(dlq) = dead_letter_topic(shard, &header) {
        // Out of retries: the message is dead-lettered.
        header.topic = dlq;
        header.queue_id = 0;
        let (topic_key, queue_key) = if request.code == request::SEND_MESSAGE {
            ("topic", "queueId")
        } else {
            ("b", "e")
        };
        request
            .ext_fields_mut()
            .insert(topic_key, header.topic.clone());
        request.ext_fields_mut().insert(queue_key, "0");
    }
    let topic = header.topic.as_str();
    let topic_config = match find_or_create_topic(shard, &header).await {
        Ok(Some(topic_config)) => topic_config,
        Ok(None) => {
            let remark = format!("topic[{topic}] not exist, apply first please!");
            return Some(error(&request, response::TOPIC_NOT_EXIST, remark));
        }
        Err(remark) => return Some(error(&request, response::SYSTEM_ERROR, remark)),
    };
    if topic_config.perm & perm::WRITE == 0 {
        let remark = format!("the topic[{topic}] sending message is forbidden");
        return Some(error(&request, response::NO_PERMISSION, remark));
    }
    let queue_count = topic_config
        .read_queue_nums
        .max(topic_config.write_queue_nums);
    let mut queue_id = header.queue_id;
    if queue_id >= queue_count {
        let remark = format!(
            "request queueId[{queue_id}] is illegal, topic {topic} has {queue_count} queues"
        );
        return Some(error(&request, response::INVALID_PARAMETER, remark));
    }
    if queue_id < 0 {
        queue_id = rand::random::<u32>() as i32 % topic_config.write_queue_nums.max(1);
        let key = if request.code == request::SEND_MESSAGE {
            "queueId"
        } else {
            "e"
        };
        request.ext_fields_mut().insert(key, queue_id.to_string());
    }
    let owner = owner_shard(topic, queue_id, shard.shard_count);
    if owner != shard.id {
        return shard.run_on(owner, request, origin.clone()).await;
    }
    if shard.in_flight_puts.get() >= config.send_queue_capacity {
        return Some(system_busy(&request));
    }
    let multi_tags = topic_config.topic_filter_type == "MULTI_TAG";
    Some(put(shard, &request, header, queue_id, multi_tags, origin).await)
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

/// The topic's config from this shard's snapshot, or created by the leader (auto-create
/// through the default topic, TBW102).
async fn find_or_create_topic(
    shard: &Rc<BrokerShard>,
    header: &SendMessageRequestHeader,
) -> Result<Option<ramjet_net::body::TopicConfig>, String> {
    if let Some(config) = shard.snapshot().topics.get(&header.topic) {
        return Ok(Some(config.clone()));
    }
    let is_retry = header.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
        || header.topic.starts_with(DLQ_GROUP_TOPIC_PREFIX);
    if let Some(leader) = shard.leader() {
        if is_retry {
            // A retry topic appears when its group first sends back; 1 queue as Java does.
            let created = leader
                .topics
                .borrow_mut()
                .create_system_group_topic(&header.topic, 1);
            leader.topics_changed().await;
            return created.map(Some);
        }
        return leader
            .ensure_topic(
                &header.topic,
                &header.default_topic,
                header.default_topic_queue_nums,
                header.sys_flag,
            )
            .await;
    }
    let (reply, answer) = futures_channel::oneshot::channel();
    let message = ShardMessage::EnsureTopic {
        topic: header.topic.clone(),
        default_topic: if is_retry {
            String::new()
        } else {
            header.default_topic.clone()
        },
        queue_nums: header.default_topic_queue_nums,
        sys_flag: header.sys_flag,
        reply,
    };
    if !shard.send_to_shard(LEADER_SHARD, message).await {
        return Err("the leader shard is not reachable".into());
    }
    answer
        .await
        .map_err(|_| "the leader shard did not answer".to_string())?
}

async fn put(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    header: SendMessageRequestHeader,
    queue_id: i32,
    multi_tags: bool,
    origin: &Origin,
) -> RemotingCommand {
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
        body: Vec::new(),
        properties,
        sys_flag,
        born_timestamp: header.born_timestamp,
        born_host: origin.peer,
        store_host: shard.store_host,
        reconsume_times: header.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    // The C++ client sends batches through its Python API without the flag; like Apache
    // RocketMQ, the flag (or code 320) decides.
    let is_batch = request.code == request::SEND_BATCH_MESSAGE || header.batch == Some(true);
    let records = if is_batch {
        if header.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            return error(
                request,
                response::MESSAGE_ILLEGAL,
                "batch request does not support retry group",
            );
        }
        let inner = match decode_batch_body(&request.body) {
            Ok(inner) if !inner.is_empty() => inner,
            Ok(_) => {
                return error(
                    request,
                    response::MESSAGE_ILLEGAL,
                    "batch body holds no message",
                )
            }
            Err(e) => {
                return error(
                    request,
                    response::MESSAGE_ILLEGAL,
                    format!("bad batch body: {e}"),
                )
            }
        };
        let mut records = MessageRecord::from_batch(&base, &inner, &base.properties);
        for (record, message) in records.iter_mut().zip(&inner) {
            // Each message keeps its own id; the batch's id belongs to the batch.
            match message.properties.get(PROPERTY_UNIQ_KEY) {
                Some(id) => record.properties.set(PROPERTY_UNIQ_KEY, id),
                None => record.properties.set(
                    PROPERTY_UNIQ_KEY,
                    &create_uniq_key(shard.store_host, now_ms()),
                ),
            }
        }
        records
    } else {
        let mut record = base;
        record.body = request.body.to_vec();
        if record.properties.get(PROPERTY_UNIQ_KEY).is_none() {
            record.properties.set(
                PROPERTY_UNIQ_KEY,
                &create_uniq_key(shard.store_host, now_ms()),
            );
        }
        vec![record]
    };
    shard
        .in_flight_puts
        .set(shard.in_flight_puts.get() + records.len());
    let result = if records.len() == 1 && !is_batch {
        shard.store.put(&records[0]).await
    } else {
        shard.store.put_batch(&records).await
    };
    shard
        .in_flight_puts
        .set(shard.in_flight_puts.get() - records.len());
    match result {
        Ok(ok) => {
            shard.stats.record_put(ok.message_count, ok.size);
            response_for(request, shard, &ok, queue_id)
        }
        Err(put_error) => {
            if !matches!(put_error, ramjet_store::PutError::MessageTooLarge { .. }) {
                tracing::warn!(topic = header.topic, %put_error, "put failed");
            }
            error(request, for_put(&put_error), put_error.to_string())
        }
    }
}

fn response_for(
    request: &RemotingCommand,
    shard: &BrokerShard,
    ok: &PutOk,
    queue_id: i32,
) -> RemotingCommand {
    // transactionId belongs to transactional sends and batchUniqId to 5.x inner batches
    // (BatchCQ topics); clients read either as a change of meaning, so neither is set.
    let header = SendMessageResponseHeader {
        msg_id: ok.msg_id.clone(),
        queue_id,
        queue_offset: ok.queue_offset as i64,
        transaction_id: None,
        batch_uniq_id: None,
        msg_region: Some(shard.config().region_id.clone()),
        trace_on: Some(shard.config().trace_on.to_string()),
    };
    // A SYNC_FLUSH put past syncFlushTimeout is stored but not yet durable: Java answers
    // FLUSH_DISK_TIMEOUT with the full send result, and the client reports that status.
    let code = match ok.status {
        ramjet_store::PutStatus::PutOk => response::SUCCESS,
        ramjet_store::PutStatus::FlushDiskTimeout => response::FLUSH_DISK_TIMEOUT,
    };
    RemotingCommand::response_to(request, code).with_ext_fields(header.to_ext_fields())
}
