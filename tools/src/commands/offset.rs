//! resetOffsetByTime, as Apache's 5.x tool does it.
//!
//! First the broker(s) of the topic are asked (INVOKE_BROKER_TO_RESET_OFFSET): each finds the
//! offsets of the timestamp, tells every online consumer of the group to move there
//! (RESET_CONSUMER_CLIENT_OFFSET) and answers the offsets. When a broker answers
//! CONSUMER_NOT_ONLINE the group is offline and the command does what Apache's does then
//! (`resetOffsetByTimestampOld`): for each queue, SEARCH_OFFSET_BY_TIMESTAMP, then
//! UPDATE_CONSUMER_OFFSET, which the consumers read when they start.
//!
//! `-b -q` resets one queue: UPDATE_CONSUMER_OFFSET, then INVOKE_BROKER_TO_RESET_OFFSET with
//! 5.x's `queueId` and `offset` so online consumers of the group move too.

use clap::Args;
use ramjet_net::body::{MessageQueue, OffsetWrapper, ResetOffsetBody};
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, ResetOffsetRequestHeader};
use ramjet_net::RemotingCommand;

use super::consumer::consume_stats_at;
use super::topic::topic_stats;
use crate::error::{AdminError, AdminResult};
use crate::format::{front, java_bool};
use crate::queues::{search_offset, update_consumer_offset, QueueAt};
use crate::remote::{expect_success, read_body, Remote};
use crate::time::parse_timestamp;

#[derive(Args, Debug)]
#[command(
    after_help = "Works on online and offline consumer groups. The brokers of the topic \
    (INVOKE_BROKER_TO_RESET_OFFSET) find each queue's first offset stored at or after the \
    timestamp and tell every online consumer of the group to move there \
    (RESET_CONSUMER_CLIENT_OFFSET); the consumers drop what they hold of those queues and \
    consume again from the new offsets, without a restart (a Java client waits about 10 s \
    first). When the group has no consumer online (CONSUMER_NOT_ONLINE) the tool commits \
    the offsets itself (SEARCH_OFFSET_BY_TIMESTAMP, UPDATE_CONSUMER_OFFSET) and prints the \
    rollback table; consumers resume from there when they start. Without force a queue \
    only moves back: it keeps its offset unless the timestamp's offset is below it. \
    -s takes now, milliseconds since the epoch (0: every queue's start), or \
    yyyy-MM-dd#HH:mm:ss:SSS in local time."
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
        reset_one_queue_online(remote, &at, group, offset)?;
        return Ok(());
    }
    let cluster = args.cluster.as_deref().map(str::trim);
    let brokers = remote.topic_brokers(topic, cluster)?;
    let mut offset_table = Vec::new();
    for (_, addr) in &brokers {
        match invoke_broker_to_reset(remote, addr, topic, group, timestamp, force)? {
            Some(body) => offset_table.extend(body.offset_table),
            None => {
                return reset_offline(
                    remote,
                    &brokers,
                    group,
                    topic,
                    timestamp,
                    force,
                    timestamp_text,
                )
            }
        }
    }
    println!(
        "start reset consumer offset by specified, group[{group}], topic[{topic}], \
         force[{force}], timestamp(string)[{timestamp_text}], timestamp(long)[{timestamp}]"
    );
    println!(
        "{:<40}  {:<40}  {:<40}",
        "#brokerName", "#queueId", "#offset"
    );
    for (queue, offset) in offset_table {
        println!(
            "{:<40}  {:<40}  {:<40}",
            front(&queue.broker_name, 32),
            queue.queue_id,
            offset
        );
    }
    Ok(())
}

/// INVOKE_BROKER_TO_RESET_OFFSET for every queue of the topic on one broker, as
/// `MQClientAPIImpl.invokeBrokerToResetOffset` sends it (5.x: `queueId` -1 and `offset` -1
/// mean "every queue, by time"). `None` when the group has no consumer online there.
pub fn invoke_broker_to_reset(
    remote: &mut Remote,
    addr: &str,
    topic: &str,
    group: &str,
    timestamp: i64,
    force: bool,
) -> AdminResult<Option<ResetOffsetBody>> {
    let header = ResetOffsetRequestHeader {
        topic: topic.to_owned(),
        group: group.to_owned(),
        timestamp,
        is_force: force,
        queue_id: Some(-1),
        offset: Some(-1),
    };
    let request = RemotingCommand::request(request::INVOKE_BROKER_TO_RESET_OFFSET)
        .with_ext_fields(header.to_ext_fields());
    let answer = remote.invoke_broker(addr, request)?;
    if answer.code == response::CONSUMER_NOT_ONLINE {
        return Ok(None);
    }
    let answer = expect_success("INVOKE_BROKER_TO_RESET_OFFSET", addr, answer)?;
    read_body("INVOKE_BROKER_TO_RESET_OFFSET", addr, &answer.body).map(Some)
}

/// After committing one queue's offset: tell the group's online consumers too (5.x's
/// `resetOffsetByQueueId`). The timestamp is -1 and force false, so a 4.x broker, which
/// ignores `queueId` and `offset`, moves no queue forward and none back. An offline group
/// (CONSUMER_NOT_ONLINE from a 4.x broker) needs nothing more than the commit.
fn reset_one_queue_online(
    remote: &mut Remote,
    at: &QueueAt,
    group: &str,
    offset: i64,
) -> AdminResult<()> {
    let header = ResetOffsetRequestHeader {
        topic: at.queue.topic.clone(),
        group: group.to_owned(),
        timestamp: -1,
        is_force: false,
        queue_id: Some(at.queue.queue_id),
        offset: Some(offset),
    };
    let request = RemotingCommand::request(request::INVOKE_BROKER_TO_RESET_OFFSET)
        .with_ext_fields(header.to_ext_fields());
    let answer = remote.invoke_broker(&at.addr, request)?;
    if answer.code == response::CONSUMER_NOT_ONLINE {
        return Ok(());
    }
    expect_success("INVOKE_BROKER_TO_RESET_OFFSET", &at.addr, answer)?;
    Ok(())
}

/// `ResetOffsetByTimeOldCommand.resetOffset`: the group is offline, so the tool moves its
/// committed offsets itself and prints the rollback table.
fn reset_offline(
    remote: &mut Remote,
    brokers: &[(String, String)],
    group: &str,
    topic: &str,
    timestamp: i64,
    force: bool,
    timestamp_text: &str,
) -> AdminResult<()> {
    let mut rows = Vec::new();
    for (broker_name, addr) in brokers {
        for (queue, offset) in queue_offsets(remote, addr, broker_name, group, topic)? {
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
pub fn commit(remote: &mut Remote, at: &QueueAt, group: &str, offset: i64) -> AdminResult<()> {
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

/// The queues of `topic` on one broker with the group's current offsets
/// (`resetOffsetByTimestampOld`): from its consume stats, or, for a group that never
/// committed there, every queue starting at its min offset.
pub fn queue_offsets(
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
