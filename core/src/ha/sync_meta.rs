//! RocketMQ's SlaveSynchronize: a slave's leader pulls the master's topics, subscription
//! groups, consumer offsets, delay offsets and timer checkpoint over remoting every `ramjetSlaveSyncIntervalMillis` (10 s,
//! as RocketMQ) and stores them as its own (saved atomically, off the reactor). The
//! master's remoting address is the `masterAddr` the name server answered the slave's
//! registration with.

use std::rc::Rc;
use std::time::Duration;

use ramjet_net::body::{
    fastjson, ConsumerOffsetSerializeWrapper, SubscriptionGroupWrapper, TopicConfigSerializeWrapper,
};
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;

use crate::placement::owner_shard;
use crate::shard::BrokerShard;
use crate::shard_request::{OffsetRequest, PartRequest, ShardRequest};
use crate::timer::slave_copy::{CheckpointCopy, SlaveCopy};

const INVOKE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often to look for the master's address before the name server has named it.
const MASTER_POLL: Duration = Duration::from_millis(100);

/// Runs on the leader shard of a slave until shutdown.
pub async fn run(shard: Rc<BrokerShard>) {
    let mut last_error = String::new();
    let mut timer = SlaveCopy::default();
    while !crate::shutdown::requested() {
        // The first pass runs as soon as the name server names the master (RocketMQ waits
        // 3 s): a slave restarted just before its master dies should know the master's
        // topics, not answer TOPIC_NOT_EXIST for records it holds.
        let Some((_, master)) = crate::ha::learned_master() else {
            let wait = shard.config().ha.slave_sync_interval.min(MASTER_POLL);
            futures_lite::future::or(glommio::timer::sleep(wait), crate::shutdown::wait()).await;
            continue;
        };
        match sync_once(&shard, &master, &mut timer).await {
            Ok(()) => last_error.clear(),
            Err(error) if error != last_error => {
                tracing::warn!(master, error, "slave: metadata sync failed");
                last_error = error;
            }
            Err(_) => {}
        }
        let interval = shard.config().ha.slave_sync_interval;
        futures_lite::future::or(glommio::timer::sleep(interval), crate::shutdown::wait()).await;
    }
}

async fn fetch(
    connection: &ramjet_net::server::connection::Connection,
    code: i32,
) -> Result<Vec<u8>, String> {
    let answer = connection
        .invoke(RemotingCommand::request(code), INVOKE_TIMEOUT)
        .await
        .map_err(|e| format!("request {code}: {e}"))?;
    if answer.code != response::SUCCESS {
        return Err(format!(
            "request {code} answered {}: {:?}",
            answer.code, answer.remark
        ));
    }
    Ok(answer.body.to_vec())
}

/// One pass: topics, groups, consumer offsets, delay offsets, the timer checkpoint.
pub async fn sync_once(
    shard: &Rc<BrokerShard>,
    master: &str,
    timer: &mut SlaveCopy,
) -> Result<(), String> {
    let leader = shard
        .leader()
        .ok_or("metadata sync runs on the leader")?
        .clone();
    let connection = ramjet_net::client::connect(master, INVOKE_TIMEOUT)
        .await
        .map_err(|e| format!("connect {master}: {e}"))?;
    let topics: TopicConfigSerializeWrapper =
        fastjson::from_slice(&fetch(&connection, request::GET_ALL_TOPIC_CONFIG).await?)
            .map_err(|e| format!("topic configs: {e}"))?;
    let changed = leader.topics.borrow_mut().replace_from_master(topics);
    if changed {
        leader.topics_changed().await.map_err(|e| e.to_string())?;
        tracing::info!(master, "slave: topic configs synchronized");
    }
    let groups: SubscriptionGroupWrapper =
        fastjson::from_slice(&fetch(&connection, request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await?)
            .map_err(|e| format!("subscription groups: {e}"))?;
    let changed = leader.groups.borrow_mut().replace_from_master(groups);
    if changed {
        leader.groups_changed().await.map_err(|e| e.to_string())?;
        tracing::info!(master, "slave: subscription groups synchronized");
    }
    let offsets: ConsumerOffsetSerializeWrapper =
        fastjson::from_slice(&fetch(&connection, request::GET_ALL_CONSUMER_OFFSET).await?)
            .map_err(|e| format!("consumer offsets: {e}"))?;
    let count = shard.shard_count();
    for (key, queues) in offsets.offset_table {
        let Some((topic, group)) = key.split_once('@') else {
            continue;
        };
        for (queue_id, offset) in queues {
            let owner = owner_shard(topic, queue_id, count);
            let commit = OffsetRequest::Commit {
                group: group.to_owned(),
                topic: topic.to_owned(),
                queue_id,
                offset,
            };
            shard
                .offset(owner, commit)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let delay = fetch(&connection, request::GET_ALL_DELAY_OFFSET).await?;
    let table = crate::schedule::delay_offsets::DelayOffsets::decode_table(&delay)
        .map_err(|e| format!("delay offsets: {e}"))?;
    for target in 0..count {
        shard
            .call(
                target,
                ShardRequest::Part(PartRequest::SetDelayOffsets(table.clone())),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    // A master without timers (timerWheelEnable=false) has no checkpoint to copy; a waiting
    // copy is still written once the slave catches up with it.
    let latest = match fetch(&connection, request::GET_TIMER_CHECK_POINT).await {
        Ok(body) => {
            Some(CheckpointCopy::decode(&body).map_err(|e| format!("timer checkpoint: {e}"))?)
        }
        Err(_) => None,
    };
    connection.close();
    if let Some(written) = timer.advance(shard, latest).await? {
        tracing::debug!(master, ?written, "slave: timer checkpoint synchronized");
    }
    Ok(())
}
