//! resetOffsetByTime, done from the client side.
//!
//! Apache's tool asks the broker (INVOKE_BROKER_TO_RESET_OFFSET), which tells each online
//! client to move (RESET_CONSUMER_CLIENT_OFFSET). Ramjet's broker has no such code, so this
//! command does what Apache's tool does for an *offline* group (`resetOffsetByTimestampOld`):
//! for each queue, SEARCH_OFFSET_BY_TIMESTAMP, then UPDATE_CONSUMER_OFFSET. It refuses a
//! group that is online, because its clients would overwrite the new offsets with their
//! own at their next commit (every 5 s).

use clap::Args;
use ramjet_net::body::{MessageQueue, OffsetWrapper};
use ramjet_net::code::response;

use super::consumer::{consume_stats_at, consumer_connection_of};
use super::topic::topic_stats;
use crate::error::{AdminError, AdminResult};
use crate::format::{front, java_bool};
use crate::queues::{search_offset, update_consumer_offset, QueueAt};
use crate::remote::Remote;
use crate::time::parse_timestamp;

#[derive(Args, Debug)]
#[command(
    after_help = "Works on offline consumer groups: stop the group's consumers first. \
    For each queue it looks up the first offset stored at or after the timestamp \
    (SEARCH_OFFSET_BY_TIMESTAMP) and commits it as the group's offset \
    (UPDATE_CONSUMER_OFFSET); consumers resume from there when they start. Brokers without \
    INVOKE_BROKER_TO_RESET_OFFSET (Ramjet) cannot move online clients."
)]
pub struct ResetOffsetByTime {
    /// set the consumer group
    #[arg(short = 'g', long = "group")]
    group: String,
    /// set the topic
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 's', long = "timestamp")]
    timestamp: String,
    /// set the force rollback by timestamp switch[true|false]; false only moves offsets back
    #[arg(short = 'f', long = "force", default_value = "true")]
    force: String,
    /// broker addr (with -q: reset one queue)
    #[arg(short = 'b', long = "broker", requires = "queue")]
    broker: Option<String>,
    /// queue id (with -b)
    #[arg(short = 'q', long = "queue", requires = "broker")]
    queue: Option<i32>,
    /// Expect queue offset: with -b and -q, use this offset instead of searching by time
    #[arg(short = 'o', long = "offset", requires = "queue")]
    offset: Option<i64>,
    /// Cluster name: reset on its masters instead of the brokers on the topic's route
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
}

pub fn reset_offset_by_time(remote: &mut Remote, args: &ResetOffsetByTime) -> AdminResult<()> {
    let group = args.group.trim();
    let topic = args.topic.trim();
    let timestamp_text = args.timestamp.trim();
    let timestamp = parse_timestamp(timestamp_text).map_err(AdminError::Usage)?;
    let force = java_bool(&args.force);
    refuse_online_group(remote, group)?;
    if let (Some(addr), Some(queue_id)) = (&args.broker, args.queue) {
        let addr = addr.trim();
        println!(
            "start reset consumer offset by specified, group[{group}], topic[{topic}], \
             queueId[{queue_id}], broker[{addr}], timestamp(string)[{timestamp_text}], \
             timestamp(long)[{timestamp}]"
        );
        let at = QueueAt {
            queue: MessageQueue::new(topic, "", queue_id),
            addr: addr.to_owned(),
        };
        let offset = match args.offset {
            Some(offset) => offset,
            None => search_offset(remote, &at, timestamp)?,
        };
        println!("reset consumer offset to {offset}");
        commit(remote, &at, group, offset)?;
        return Ok(());
    }
    let cluster = args.cluster.as_deref().map(str::trim);
    let brokers = remote.topic_brokers(topic, cluster)?;
    let mut rows = Vec::new();
    for (broker_name, addr) in brokers {
        for (queue, offset) in queue_offsets(remote, &addr, &broker_name, group, topic)? {
            let at = QueueAt {
                queue,
                addr: addr.clone(),
            };
            let timestamp_offset = search_offset(remote, &at, timestamp)?;
            // `resetOffsetConsumeOffset`: without force, offsets only move back.
            let reset_offset = if force || timestamp_offset <= offset.consumer_offset {
                commit(remote, &at, group, timestamp_offset)?;
                timestamp_offset
            } else {
                offset.consumer_offset
            };
            rows.push((at.queue, offset, timestamp_offset, reset_offset));
        }
    }
    println!(
        "reset consumer offset by specified consumerGroup[{group}], topic[{topic}], force[{force}], \
         timestamp(string)[{timestamp_text}], timestamp(long)[{timestamp}]"
    );
    println!(
        "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
        "#brokerName",
        "#queueId",
        "#brokerOffset",
        "#consumerOffset",
        "#timestampOffset",
        "#resetOffset"
    );
    for (queue, offset, timestamp_offset, reset_offset) in rows {
        println!(
            "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
            front(&queue.broker_name, 32),
            queue.queue_id,
            offset.broker_offset,
            offset.consumer_offset,
            timestamp_offset,
            reset_offset
        );
    }
    Ok(())
}

/// UPDATE_CONSUMER_OFFSET. Apache brokers refuse a group they have no subscription group
/// for (every group that ever connected has one), so that refusal says how to make one.
fn commit(remote: &mut Remote, at: &QueueAt, group: &str, offset: i64) -> AdminResult<()> {
    update_consumer_offset(remote, at, group, offset).map_err(|error| match error {
        AdminError::Refused { code, addr, .. }
            if code == response::SUBSCRIPTION_GROUP_NOT_EXIST =>
        {
            AdminError::NotFound(format!(
                "consumer group {group} does not exist on broker {addr}: create it first with \
                 `mqadmin updateSubGroup -g {group} -b {addr}`"
            ))
        }
        other => other,
    })
}

/// Online clients keep their offsets in memory and commit them every 5 s, so a reset from
/// here would be overwritten; say so instead of pretending.
fn refuse_online_group(remote: &mut Remote, group: &str) -> AdminResult<()> {
    match consumer_connection_of(remote, group, None) {
        Ok(connection) => Err(AdminError::Usage(format!(
            "consumer group {group} is online ({} clients): stop its consumers first; \
             resetOffsetByTime resets offline groups only (see `mqadmin help resetOffsetByTime`)",
            connection.connection_set.len()
        ))),
        Err(AdminError::ConsumerNotOnline(_)) | Err(AdminError::NotFound(_)) => Ok(()),
        Err(other) => Err(other),
    }
}

/// The queues of `topic` on one broker with the group's current offsets
/// (`resetOffsetByTimestampOld`): from its consume stats, or, for a group that never
/// committed there, every queue starting at its min offset.
fn queue_offsets(
    remote: &mut Remote,
    addr: &str,
    broker_name: &str,
    group: &str,
    topic: &str,
) -> AdminResult<Vec<(MessageQueue, OffsetWrapper)>> {
    if let Ok(stats) = consume_stats_at(remote, addr, group, Some(topic))? {
        let rows: Vec<(MessageQueue, OffsetWrapper)> = stats
            .offset_table
            .into_iter()
            .filter(|(queue, _)| queue.topic == topic)
            .collect();
        if !rows.is_empty() {
            return Ok(rows);
        }
    }
    let stats = topic_stats(remote, topic, None)?;
    Ok(stats
        .offset_table
        .into_iter()
        .filter(|(queue, _)| queue.broker_name == broker_name)
        .map(|(queue, offset)| {
            let wrapper = OffsetWrapper {
                broker_offset: offset.max_offset,
                consumer_offset: offset.min_offset,
                ..OffsetWrapper::default()
            };
            (queue, wrapper)
        })
        .collect())
}
