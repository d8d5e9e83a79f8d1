//! Stats admin codes gathered from every shard: GET_TOPIC_STATS_INFO (202),
//! GET_CONSUME_STATS (208), GET_BROKER_RUNTIME_INFO (28).

use std::collections::BTreeMap;
use std::rc::Rc;

use ramjet_net::body::{
    ConsumeStats, KvTable, OffsetWrapper, TopicOffset, TopicStatsTable, WireBody,
};
use ramjet_net::code::version;
use ramjet_net::header::{CommandHeader, GetConsumeStatsRequestHeader, TopicRequestHeader};
use ramjet_net::RemotingCommand;

use super::message_queue;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{
    ConsumeRow, LeaderReply, LeaderRequest, PartReply, PartRequest, QueueStats, RuntimePart,
};
use crate::stats::java_double;

pub async fn topic_stats(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = TopicRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let topic = header.topic;
    if !shard.snapshot().topics.contains_key(&topic) {
        return Err(BrokerError::TopicNotExist(format!(
            "topic[{topic}] not exist"
        )));
    }
    let mut rows: Vec<QueueStats> = Vec::new();
    let mut put_tps = 0.0;
    for part in shard
        .parts(|| PartRequest::TopicStats {
            topic: topic.clone(),
        })
        .await?
    {
        if let PartReply::TopicStats(part, tps) = part {
            rows.extend(part);
            put_tps += tps;
        }
    }
    rows.sort();
    let offset_table = rows
        .into_iter()
        .map(|row| {
            (
                message_queue(shard, &topic, row.queue_id),
                TopicOffset {
                    last_update_timestamp: row.last_update_timestamp,
                    max_offset: row.max_offset,
                    min_offset: row.min_offset,
                },
            )
        })
        .collect();
    let table = TopicStatsTable {
        offset_table,
        topic_put_tps: Some(put_tps),
    };
    Ok(success(request).with_body(table.encode()))
}

pub async fn consume_stats(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        GetConsumeStatsRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let group = header.consumer_group;
    let (topics, with_committed_topics) = match header.topic.filter(|t| !t.is_empty()) {
        Some(topic) => (vec![topic], false),
        None => {
            let subscribed = shard
                .leader_call(LeaderRequest::SubscribedTopics {
                    group: group.clone(),
                })
                .await?;
            let LeaderReply::Strings(topics) = subscribed else {
                return Err(BrokerError::Internal(
                    "subscribed topics answered no list".into(),
                ));
            };
            (topics, true)
        }
    };
    let stats = gather_consume_stats(shard, &group, topics, with_committed_topics).await?;
    Ok(success(request).with_body(stats.encode()))
}

/// One group's ConsumeStats over `topics` (plus, with `with_committed_topics`, every topic
/// the group committed an offset on), gathered from every shard: GET_CONSUME_STATS and,
/// per topic, GET_BROKER_CONSUME_STATS.
pub(super) async fn gather_consume_stats(
    shard: &Rc<BrokerShard>,
    group: &str,
    topics: Vec<String>,
    with_committed_topics: bool,
) -> BrokerResult<ConsumeStats> {
    let mut rows: Vec<ConsumeRow> = Vec::new();
    let mut consume_tps = 0.0;
    for part in shard
        .parts(|| PartRequest::ConsumeStats {
            group: group.to_owned(),
            topics: topics.clone(),
            with_committed_topics,
        })
        .await?
    {
        if let PartReply::ConsumeStats(part, tps) = part {
            rows.extend(part);
            consume_tps += tps;
        }
    }
    // A group with nothing yet gets an empty table, as Apache answers.
    rows.sort_by(|a, b| (&a.topic, a.queue_id).cmp(&(&b.topic, b.queue_id)));
    let offset_table = rows
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
    let stats = ConsumeStats {
        consume_tps,
        offset_table,
    };
    Ok(stats)
}

pub async fn runtime_info(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut total = RuntimePart::default();
    let mut earliest: Option<u64> = None;
    for part in shard.parts(|| PartRequest::Runtime).await? {
        let PartReply::Runtime(part) = part else {
            continue;
        };
        total.put_messages += part.put_messages;
        total.get_messages += part.get_messages;
        total.put_bytes += part.put_bytes;
        total.commit_log_bytes += part.commit_log_bytes;
        total.parked_pulls += part.parked_pulls;
        total.puts_busy += part.puts_busy;
        total.oneway_puts_waited += part.oneway_puts_waited;
        for (sum, shard_tps) in [
            (&mut total.put_tps, part.put_tps),
            (&mut total.get_transferred_tps, part.get_transferred_tps),
            (&mut total.get_found_tps, part.get_found_tps),
            (&mut total.get_miss_tps, part.get_miss_tps),
        ] {
            for (sum, tps) in sum.iter_mut().zip(shard_tps) {
                *sum += tps;
            }
        }
        let (days, part_days) = (&mut total.days, part.days);
        days.put_today_morning += part_days.put_today_morning;
        days.put_yesterday_morning += part_days.put_yesterday_morning;
        days.get_today_morning += part_days.get_today_morning;
        days.get_yesterday_morning += part_days.get_yesterday_morning;
        if part.earliest_store_time > 0 {
            earliest = Some(earliest.map_or(part.earliest_store_time, |e| {
                e.min(part.earliest_store_time)
            }));
        }
    }
    let mut table = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        table.insert(key.to_owned(), value);
    };
    set("brokerVersionDesc", version::CURRENT_DESC.to_owned());
    set("brokerVersion", version::CURRENT.to_string());
    set("msgPutTotalTodayNow", total.put_messages.to_string());
    set("msgGetTotalTodayNow", total.get_messages.to_string());
    let days = total.days;
    set(
        "msgPutTotalTodayMorning",
        days.put_today_morning.to_string(),
    );
    set(
        "msgGetTotalTodayMorning",
        days.get_today_morning.to_string(),
    );
    set(
        "msgPutTotalYesterdayMorning",
        days.put_yesterday_morning.to_string(),
    );
    set(
        "msgGetTotalYesterdayMorning",
        days.get_yesterday_morning.to_string(),
    );
    set("putTps", tps_triple(total.put_tps));
    set("getTransferredTps", tps_triple(total.get_transferred_tps));
    set("getFoundTps", tps_triple(total.get_found_tps));
    set("getMissTps", tps_triple(total.get_miss_tps));
    let get_total: Vec<f64> = total
        .get_found_tps
        .iter()
        .zip(total.get_miss_tps)
        .map(|(found, miss)| found + miss)
        .collect();
    set(
        "getTotalTps",
        tps_triple([get_total[0], get_total[1], get_total[2]]),
    );
    set("putMessageSizeTotal", total.put_bytes.to_string());
    set("commitLogDiskBytes", total.commit_log_bytes.to_string());
    set(
        "commitLogDiskRatio",
        disk_ratio(&shard.config().store.store_path_root_dir),
    );
    set("pullParkedCount", total.parked_pulls.to_string());
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
    set("shardCount", shard.shard_count().to_string());
    // What the caps refused, paused or closed (docs/limits.md, "Counters"): the connection
    // caps' counters are broker-wide atomics, the send queue's are summed over the shards.
    let census = &shard.config().limits.census;
    set("ramjetConnectionsOpen", census.open_total().to_string());
    for (name, value) in census.counters.table() {
        set(name, value.to_string());
    }
    set("ramjetPutsBusySendQueue", total.puts_busy.to_string());
    set(
        "ramjetOnewayPutsWaitedSendQueue",
        total.oneway_puts_waited.to_string(),
    );
    Ok(success(request).with_body(KvTable { table }.encode()))
}

/// "tps10s tps1m tps10m" as StoreStatsService prints it.
fn tps_triple(tps: [f64; 3]) -> String {
    tps.map(java_double).join(" ")
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
