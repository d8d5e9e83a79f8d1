//! Admin codes (`AdminBrokerProcessor`) used by mqadmin and dashboards. They run on the
//! leader; answers that need every queue gather one partial answer per shard.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use ramjet_net::body::fastjson::ObjectKeyedMap;
use ramjet_net::body::{to_json, KvTable, TopicConfig};
use ramjet_net::code::{request, response, version};
use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, CreateTopicRequestHeader,
    DeleteSubscriptionGroupRequestHeader, GetBrokerConfigResponseHeader,
    GetConsumeStatsRequestHeader, GetProducerConnectionListRequestHeader, TopicRequestHeader,
};
use ramjet_net::RemotingCommand;
use ramjet_store::message::record::store_timestamp_of;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::MessageQueue;
use crate::response_code::{bad_header, error, success};
use crate::shard::{owner_shard, BrokerShard, Origin, PARTIAL_KEY};
use crate::subscription_group_manager::SubscriptionGroupConfig;
use crate::topic_validator;

/// Topics a partial GET_CONSUME_STATS covers, comma-separated (leader to shards).
const TOPICS_KEY: &str = "__ramjet_topics";

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> RemotingCommand {
    if request.ext_field(PARTIAL_KEY).is_some() {
        return partial(shard, request).await;
    }
    let fields = request.fields();
    let leader = shard
        .leader()
        .expect("admin codes run on the leader")
        .clone();
    match request.code {
        request::UPDATE_AND_CREATE_TOPIC => match CreateTopicRequestHeader::decode(fields) {
            Ok(header) => {
                if let Err(remark) = topic_validator::validate(&header.topic) {
                    return error(request, response::INVALID_PARAMETER, remark);
                }
                if header.topic == shard.config().broker_cluster_name {
                    let remark =
                        format!("the topic[{}] is conflict with system topic.", header.topic);
                    return error(request, response::INVALID_PARAMETER, remark);
                }
                let config = TopicConfig {
                    topic_name: header.topic.clone(),
                    read_queue_nums: header.read_queue_nums,
                    write_queue_nums: header.write_queue_nums,
                    perm: header.perm,
                    topic_filter_type: header.topic_filter_type.clone(),
                    topic_sys_flag: header.topic_sys_flag.unwrap_or(0),
                    order: header.order,
                    ..TopicConfig::default()
                };
                let result = leader.topics.borrow_mut().put(config);
                match result {
                    Ok(()) => {
                        leader.topics_changed().await;
                        success(request)
                    }
                    Err(remark) => error(request, response::INVALID_PARAMETER, remark),
                }
            }
            Err(e) => bad_header(request, e),
        },
        request::DELETE_TOPIC_IN_BROKER => match TopicRequestHeader::decode(fields) {
            Ok(header) => {
                let result = leader.topics.borrow_mut().delete(&header.topic);
                match result {
                    Ok(_) => {
                        shard.run_on_all(request, origin).await;
                        leader.topics_changed().await;
                        success(request)
                    }
                    Err(remark) => error(request, response::SYSTEM_ERROR, remark),
                }
            }
            Err(e) => bad_header(request, e),
        },
        request::GET_ALL_TOPIC_CONFIG => {
            let wrapper = leader.topics.borrow().wrapper();
            let mut value = serde_json::to_value(&wrapper).expect("serializes");
            // 5.x tools read TopicConfigAndMappingSerializeWrapper; empty mappings are valid.
            value["mappingDataVersion"] =
                serde_json::to_value(wrapper.data_version).expect("serializes");
            value["topicQueueMappingDetailMap"] = json!({});
            value["topicQueueMappingInfoMap"] = json!({});
            success(request).with_body(serde_json::to_vec(&value).expect("serializes"))
        }
        request::GET_TOPIC_CONFIG => match TopicRequestHeader::decode(fields) {
            Ok(header) => match leader.topics.borrow().get(&header.topic) {
                Some(config) => {
                    success(request).with_body(serde_json::to_vec(config).expect("serializes"))
                }
                None => error(
                    request,
                    response::TOPIC_NOT_EXIST,
                    format!("No topic in this broker. topic: {}", header.topic),
                ),
            },
            Err(e) => bad_header(request, e),
        },
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            match ramjet_net::body::fastjson::from_slice::<SubscriptionGroupConfig>(&request.body) {
                Ok(config) => {
                    let result = leader.groups.borrow_mut().put(config);
                    match result {
                        Ok(()) => {
                            leader.publish().await;
                            success(request)
                        }
                        Err(remark) => error(request, response::INVALID_PARAMETER, remark),
                    }
                }
                Err(e) => error(
                    request,
                    response::SYSTEM_ERROR,
                    format!("bad SubscriptionGroupConfig body: {e}"),
                ),
            }
        }
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => {
            let body = serde_json::to_vec(leader.groups.borrow().wrapper()).expect("serializes");
            success(request).with_body(body)
        }
        request::DELETE_SUBSCRIPTIONGROUP => {
            match DeleteSubscriptionGroupRequestHeader::decode(fields) {
                Ok(header) => {
                    let result = leader.groups.borrow_mut().delete(&header.group_name);
                    if let Err(remark) = result {
                        return error(request, response::SYSTEM_ERROR, remark);
                    }
                    if header.clean_offset == Some(true) {
                        shard.run_on_all(request, origin).await;
                    }
                    leader.publish().await;
                    success(request)
                }
                Err(e) => bad_header(request, e),
            }
        }
        request::GET_BROKER_RUNTIME_INFO => runtime_info(shard, request, origin).await,
        request::GET_TOPIC_STATS_INFO => match TopicRequestHeader::decode(fields) {
            Ok(header) => topic_stats(shard, request, origin, &header.topic).await,
            Err(e) => bad_header(request, e),
        },
        request::GET_CONSUME_STATS => match GetConsumeStatsRequestHeader::decode(fields) {
            Ok(header) => consume_stats(shard, request, origin, &header).await,
            Err(e) => bad_header(request, e),
        },
        request::GET_CONSUMER_CONNECTION_LIST => match ConsumerGroupRequestHeader::decode(fields) {
            Ok(header) => consumer_connections(shard, request, &header.consumer_group),
            Err(e) => bad_header(request, e),
        },
        request::GET_PRODUCER_CONNECTION_LIST => {
            match GetProducerConnectionListRequestHeader::decode(fields) {
                Ok(header) => {
                    let channels = leader.producer_channels(&header.producer_group);
                    if channels.is_empty() {
                        let remark =
                            format!("the producer group[{}] not exist", header.producer_group);
                        return error(request, response::SYSTEM_ERROR, remark);
                    }
                    let connections: Vec<Connection> =
                        channels.values().map(Connection::from).collect();
                    success(request).with_body(to_json(&json!({ "connectionSet": connections })))
                }
                Err(e) => bad_header(request, e),
            }
        }
        request::QUERY_TOPIC_CONSUME_BY_WHO => match TopicRequestHeader::decode(fields) {
            Ok(header) => {
                let mut groups: BTreeSet<String> =
                    leader.groups_consuming(&header.topic).into_iter().collect();
                for answer in shard.run_on_all(request, origin).await {
                    if let Ok(part) = serde_json::from_slice::<Vec<String>>(&answer.body) {
                        groups.extend(part);
                    }
                }
                success(request).with_body(to_json(&json!({ "groupList": groups })))
            }
            Err(e) => bad_header(request, e),
        },
        request::GET_BROKER_CONFIG => {
            let text = ramjet_net::properties::to_text(
                shard
                    .config()
                    .to_pairs()
                    .iter()
                    .map(|(k, v)| (*k, v.as_str())),
            );
            let version =
                serde_json::to_string(&leader.topics.borrow().data_version()).expect("serializes");
            success(request)
                .with_ext_fields(
                    GetBrokerConfigResponseHeader {
                        version: Some(version),
                    }
                    .to_ext_fields(),
                )
                .with_body(text.into_bytes())
        }
        request::UPDATE_BROKER_CONFIG => {
            let text = String::from_utf8_lossy(&request.body);
            match leader.config().updated(&text) {
                Ok((config, pairs)) => {
                    if let Err(remark) = config.persist_updates(&pairs) {
                        return error(request, response::SYSTEM_ERROR, remark);
                    }
                    tracing::info!(?pairs, "broker config updated");
                    leader.update_config(config).await;
                    success(request)
                }
                Err(remark) => error(request, response::INVALID_PARAMETER, remark),
            }
        }
        request::GET_ALL_CONSUMER_OFFSET => {
            let mut table: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
            for answer in shard.run_on_all(request, origin).await {
                if let Ok(part) =
                    serde_json::from_slice::<BTreeMap<String, BTreeMap<String, i64>>>(&answer.body)
                {
                    for (key, queues) in part {
                        table.entry(key).or_default().extend(queues);
                    }
                }
            }
            success(request).with_body(to_json(&json!({ "offsetTable": table })))
        }
        _ => ramjet_net::server::not_supported(request),
    }
}

/// One shard's share of a broker-wide answer, as a JSON body the leader merges.
async fn partial(shard: &Rc<BrokerShard>, request: &RemotingCommand) -> RemotingCommand {
    let topic = request.ext_field("topic").unwrap_or("").to_owned();
    let body = match request.code {
        request::DELETE_TOPIC_IN_BROKER => {
            shard.offsets.borrow_mut().remove_topic(&topic);
            Vec::new()
        }
        request::DELETE_SUBSCRIPTIONGROUP => {
            shard
                .offsets
                .borrow_mut()
                .remove_group(request.ext_field("groupName").unwrap_or(""));
            Vec::new()
        }
        request::GET_TOPIC_STATS_INFO => {
            let queue_count = shard
                .snapshot()
                .topics
                .get(&topic)
                .map_or(0, |t| t.read_queue_nums.max(t.write_queue_nums));
            let mut rows = Vec::new();
            for queue_id in
                (0..queue_count).filter(|q| owner_shard(&topic, *q, shard.shard_count) == shard.id)
            {
                let (min, max) = shard.store.queue_bounds(&topic, queue_id);
                let last = if max > 0 {
                    last_store_time(shard, &topic, queue_id, max as i64 - 1).await
                } else {
                    0
                };
                rows.push((queue_id, min as i64, max as i64, last));
            }
            serde_json::to_vec(&rows).expect("serializes")
        }
        request::GET_CONSUME_STATS => {
            let group = request.ext_field("consumerGroup").unwrap_or("").to_owned();
            let mut topics: BTreeSet<String> = request
                .ext_field(TOPICS_KEY)
                .unwrap_or("")
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            if request.ext_field("topic").is_none_or(str::is_empty) {
                let suffix = format!("@{group}");
                let offsets = shard.offsets.borrow();
                topics.extend(
                    offsets
                        .keys()
                        .filter_map(|k| k.strip_suffix(&suffix))
                        .map(str::to_owned),
                );
            }
            let snapshot = shard.snapshot();
            let mut rows = Vec::new();
            for topic in topics {
                let Some(config) = snapshot.topics.get(&topic) else {
                    continue;
                };
                for queue_id in 0..config.read_queue_nums.max(config.write_queue_nums) {
                    if owner_shard(&topic, queue_id, shard.shard_count) != shard.id {
                        continue;
                    }
                    let broker_offset = shard.store.max_offset_in_queue(&topic, queue_id) as i64;
                    let (consumer, pulled) = {
                        let offsets = shard.offsets.borrow();
                        (
                            offsets.query(&group, &topic, queue_id),
                            offsets.pulled(&group, &topic, queue_id),
                        )
                    };
                    let consumer_offset = consumer.unwrap_or(0).max(0);
                    let last_timestamp = if consumer_offset > 0 {
                        last_store_time(shard, &topic, queue_id, consumer_offset - 1).await
                    } else {
                        0
                    };
                    rows.push(ConsumeRow {
                        topic: topic.clone(),
                        queue_id,
                        broker_offset,
                        consumer_offset,
                        pull_offset: pulled.unwrap_or(0).max(consumer_offset),
                        last_timestamp,
                    });
                }
            }
            serde_json::to_vec(&rows).expect("serializes")
        }
        request::QUERY_TOPIC_CONSUME_BY_WHO => {
            let prefix = format!("{topic}@");
            let groups: Vec<String> = shard
                .offsets
                .borrow()
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(str::to_owned)
                .collect();
            serde_json::to_vec(&groups).expect("serializes")
        }
        request::GET_ALL_CONSUMER_OFFSET => {
            let offsets = shard.offsets.borrow();
            let table: BTreeMap<String, BTreeMap<String, i64>> = offsets
                .keys()
                .map(|key| {
                    let queues = offsets
                        .offsets_of(key)
                        .map(|q| q.iter().map(|(id, o)| (id.to_string(), *o)).collect());
                    (key.clone(), queues.unwrap_or_default())
                })
                .collect();
            serde_json::to_vec(&table).expect("serializes")
        }
        request::GET_BROKER_RUNTIME_INFO => {
            let (min, max) = shard.store.commit_log_bounds();
            // The oldest record still stored: mqadmin clusterList shows its age (#Hour).
            let earliest = if max > min {
                shard
                    .store
                    .read_by_physical_offset(min)
                    .await
                    .as_deref()
                    .and_then(store_timestamp_of)
            } else {
                None
            };
            let row = [
                shard.stats.put_messages.get(),
                shard.stats.get_messages.get(),
                shard.stats.put_bytes.get(),
                max.saturating_sub(min),
                shard.long_polling.parked_count() as u64,
                earliest.unwrap_or(0).max(0) as u64,
            ];
            serde_json::to_vec(&row).expect("serializes")
        }
        _ => Vec::new(),
    };
    success(request).with_body(body)
}

/// The store time of the message at `queue_offset`, for ConsumeStats' lastTimestamp.
async fn last_store_time(
    shard: &BrokerShard,
    topic: &str,
    queue_id: i32,
    queue_offset: i64,
) -> i64 {
    let filter = |_: i64| true;
    let request = ramjet_store::GetRequest {
        topic,
        queue_id,
        queue_offset: queue_offset as u64,
        max_count: 1,
        max_bytes: usize::MAX,
        filter: &filter,
        zero_copy: false,
    };
    let result = shard.store.get(&request).await;
    result
        .messages
        .first()
        .and_then(|message| match &message.data {
            ramjet_store::MessageData::Bytes(bytes) => store_timestamp_of(bytes),
            ramjet_store::MessageData::File(_) => None,
        })
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize)]
struct ConsumeRow {
    topic: String,
    queue_id: i32,
    broker_offset: i64,
    consumer_offset: i64,
    pull_offset: i64,
    last_timestamp: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OffsetWrapper {
    broker_offset: i64,
    consumer_offset: i64,
    last_timestamp: i64,
    pull_offset: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicOffset {
    last_update_timestamp: i64,
    max_offset: i64,
    min_offset: i64,
}

async fn topic_stats(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
    topic: &str,
) -> RemotingCommand {
    if !shard.snapshot().topics.contains_key(topic) {
        return error(
            request,
            response::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist"),
        );
    }
    let mut rows: Vec<(i32, i64, i64, i64)> = Vec::new();
    for answer in shard.run_on_all(request, origin).await {
        rows.extend(
            serde_json::from_slice::<Vec<(i32, i64, i64, i64)>>(&answer.body).unwrap_or_default(),
        );
    }
    rows.sort();
    let entries: Vec<(MessageQueue, TopicOffset)> = rows
        .into_iter()
        .map(
            |(queue_id, min_offset, max_offset, last_update_timestamp)| {
                (
                    message_queue(shard, topic, queue_id),
                    TopicOffset {
                        last_update_timestamp,
                        max_offset,
                        min_offset,
                    },
                )
            },
        )
        .collect();
    let mut body = b"{\"offsetTable\":".to_vec();
    ObjectKeyedMap(&entries).write_json(&mut body);
    body.extend_from_slice(b",\"topicPutTps\":0.0}");
    success(request).with_body(body)
}

async fn consume_stats(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
    header: &GetConsumeStatsRequestHeader,
) -> RemotingCommand {
    let leader = shard.leader().expect("runs on the leader");
    let topics: Vec<String> = match header.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(topic) => vec![topic.to_owned()],
        None => leader
            .clients
            .borrow()
            .consumer_group(&header.consumer_group)
            .map(|info| info.subscriptions.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let mut partial = request.clone();
    partial
        .ext_fields_mut()
        .insert(TOPICS_KEY, topics.join(","));
    let mut rows: Vec<ConsumeRow> = Vec::new();
    for answer in shard.run_on_all(&partial, origin).await {
        rows.extend(serde_json::from_slice::<Vec<ConsumeRow>>(&answer.body).unwrap_or_default());
    }
    // A group with nothing yet gets an empty table, as Apache answers.
    rows.sort_by(|a, b| (&a.topic, a.queue_id).cmp(&(&b.topic, b.queue_id)));
    let entries: Vec<(MessageQueue, OffsetWrapper)> = rows
        .into_iter()
        .map(|row| {
            (
                message_queue(shard, &row.topic, row.queue_id),
                OffsetWrapper {
                    broker_offset: row.broker_offset,
                    consumer_offset: row.consumer_offset,
                    last_timestamp: row.last_timestamp,
                    pull_offset: row.pull_offset,
                },
            )
        })
        .collect();
    let mut body = b"{\"consumeTps\":0.0,\"offsetTable\":".to_vec();
    ObjectKeyedMap(&entries).write_json(&mut body);
    body.push(b'}');
    success(request).with_body(body)
}

fn message_queue(shard: &BrokerShard, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue {
        broker_name: shard.config().broker_name.clone(),
        queue_id,
        topic: topic.to_owned(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    client_addr: String,
    client_id: String,
    language: &'static str,
    version: i32,
}

impl From<&crate::client_manager::ClientChannel> for Connection {
    fn from(channel: &crate::client_manager::ClientChannel) -> Connection {
        Connection {
            client_addr: channel.client_addr.clone(),
            client_id: channel.client_id.clone(),
            language: channel.language.name(),
            version: channel.version,
        }
    }
}

fn consumer_connections(
    shard: &BrokerShard,
    request: &RemotingCommand,
    group: &str,
) -> RemotingCommand {
    let leader = shard.leader().expect("runs on the leader");
    let clients = leader.clients.borrow();
    let Some(info) = clients
        .consumer_group(group)
        .filter(|info| !info.channels.is_empty())
    else {
        return error(
            request,
            response::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{group}] not online"),
        );
    };
    let connections: Vec<Connection> = info.channels.values().map(Connection::from).collect();
    let body = json!({
        "connectionSet": connections,
        "consumeFromWhere": info.consume_from_where,
        "consumeType": info.consume_type,
        "messageModel": info.message_model,
        "subscriptionTable": info.subscriptions,
    });
    success(request).with_body(to_json(&body))
}

async fn runtime_info(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> RemotingCommand {
    let mut totals = [0u64; 5];
    let mut earliest: Option<u64> = None;
    for answer in shard.run_on_all(request, origin).await {
        if let Ok(row) = serde_json::from_slice::<[u64; 6]>(&answer.body) {
            for (total, value) in totals.iter_mut().zip(row) {
                *total += value;
            }
            if row[5] > 0 {
                earliest = Some(earliest.map_or(row[5], |e| e.min(row[5])));
            }
        }
    }
    let [put, get, put_bytes, commit_log_bytes, parked] = totals;
    let mut table = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        table.insert(key.to_owned(), value);
    };
    set("brokerVersionDesc", version::CURRENT_DESC.to_owned());
    set("brokerVersion", version::CURRENT.to_string());
    set("msgPutTotalTodayNow", put.to_string());
    set("msgGetTotalTodayNow", get.to_string());
    set("msgPutTotalTodayMorning", "0".into());
    set("msgGetTotalTodayMorning", "0".into());
    set("msgPutTotalYesterdayMorning", "0".into());
    set("msgGetTotalYesterdayMorning", "0".into());
    set("putTps", "0.0 0.0 0.0".into());
    set("getTransferredTps", "0.0 0.0 0.0".into());
    set("putMessageSizeTotal", put_bytes.to_string());
    set("commitLogDiskBytes", commit_log_bytes.to_string());
    set(
        "commitLogDiskRatio",
        disk_ratio(&shard.config().store.store_path_root_dir),
    );
    set("pullParkedCount", parked.to_string());
    set("pageCacheLockTimeMills", "0".into());
    // Java reports the current time when the store is empty.
    let now = crate::topic_config_manager::now_ms() as u64;
    set(
        "earliestMessageTimeStamp",
        earliest.unwrap_or(now).to_string(),
    );
    set("sendThreadPoolQueueSize", "0".into());
    set("pullThreadPoolQueueSize", "0".into());
    set("sendThreadPoolQueueHeadWaitTimeMills", "0".into());
    set("pullThreadPoolQueueHeadWaitTimeMills", "0".into());
    set("brokerActive", "true".into());
    set("shardCount", shard.shard_count.to_string());
    success(request).with_body(to_json(&KvTable { table }))
}

fn disk_ratio(path: &std::path::Path) -> String {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return "0.0".into();
    };
    // SAFETY: statvfs writes into the zeroed struct we pass and reads the C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 || stat.f_blocks == 0 {
        return "0.0".into();
    }
    let used = 1.0 - stat.f_bavail as f64 / stat.f_blocks as f64;
    format!("{used:.4}")
}
