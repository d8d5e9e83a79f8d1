//! INVOKE_BROKER_TO_RESET_OFFSET (222): `mqadmin resetOffsetByTime` for an online group
//! (`AdminBrokerProcessor.resetOffset`, `Broker2Client.resetOffset`).
//!
//! For every queue of the topic the broker finds the offset of the timestamp (`-1`: the
//! queue's end) on the queue's owner; without `isForce` a queue only moves back (to the
//! timestamp's offset when that is below the group's committed offset, else it keeps its
//! committed offset). It then tells every online consumer of the group, on whichever shard
//! holds its connection, with a oneway RESET_CONSUMER_CLIENT_OFFSET (220) carrying the
//! offsets, and answers them (ResetOffsetBody). The clients do the moving: they drop the
//! queue, take the new offset, commit it and pull from there. Unlike Java, Ramjet also
//! commits the moved offsets on the owners first, so a consumer that restarts before it
//! handled the 220 starts from the new offsets too.
//!
//! Java computes the offsets before it looks for consumers, so for an offline group that
//! never committed it answers SYSTEM_ERROR, and mqadmin gives up instead of falling back to
//! its offline path. Ramjet looks for consumers first: no consumer online is always
//! CONSUMER_NOT_ONLINE (206), which sends mqadmin to the offline path.
//!
//! 5.x's `queueId` (>= 0) and `offset` (not -1) reset one queue (`resetOffsetByQueueId`):
//! to `offset`, which must lie within the queue, else to the timestamp's offset. As 5.x's
//! broker does, that works without online consumers; those online are told as above. (5.x
//! also wants the subscription group to exist; Ramjet's UPDATE_CONSUMER_OFFSET does not, and
//! neither does this.)

use std::rc::Rc;

use ramjet_net::body::{ResetOffsetBody, WireBody};
use ramjet_net::header::{CommandHeader, ResetOffsetRequestHeader};
use ramjet_net::{LanguageCode, RemotingCommand};

use super::message_queue;
use crate::client_manager::ClientChannel;
use crate::error::{BrokerError, BrokerResult};
use crate::mesh::ClientNotice;
use crate::placement::owner_shard;
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, OffsetRequest};

/// The most queues one reset covers. Topic configs put no bound on queue numbers, and each
/// queue costs a few calls to its owner and an entry in the body sent to every consumer, so
/// a topic past this is refused rather than walked (Java has no such topic in practice).
const MAX_QUEUES: i32 = 65_536;

/// `MQVersion.Version.V3_0_7_SNAPSHOT.ordinal()`: the first client that handles 220.
const FIRST_VERSION_WITH_RESET: i32 = 28;

pub async fn reset_offset(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        ResetOffsetRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let topic = header.topic.as_str();
    let group = header.group.as_str();
    let Some(config) = shard.snapshot().topics.get(topic).cloned() else {
        return Err(BrokerError::TopicNotExist(format!(
            "[reset-offset] reset offset failed, no topic in this broker. topic={topic}"
        )));
    };
    // Logged once the topic is known, so junk names from a hostile client are not.
    tracing::info!(
        topic = header.topic,
        group = header.group,
        timestamp = header.timestamp,
        is_force = header.is_force,
        queue_id = ?header.queue_id,
        offset = ?header.offset,
        "[reset-offset] reset offset started"
    );
    let one_queue = header.queue_id.filter(|queue_id| *queue_id >= 0);
    let channels = online_consumers(shard, group).await?;
    if channels.is_empty() && one_queue.is_none() {
        return Err(BrokerError::ConsumerNotOnline(format!(
            "Consumer not online, so can not reset offset, Group: {group} Topic: {topic} \
             Timestamp: {}",
            header.timestamp
        )));
    }
    if let Some(old) = channels
        .iter()
        .find(|channel| channel.version < FIRST_VERSION_WITH_RESET)
    {
        return Err(BrokerError::Refused(format!(
            "the client does not support this feature. version={} (client {})",
            old.version, old.client_id
        )));
    }

    let queue_ids: Vec<i32> = match one_queue {
        Some(queue_id) => {
            if queue_id >= config.read_queue_nums.max(config.write_queue_nums) {
                return Err(BrokerError::InvalidParameter(format!(
                    "queueId[{queue_id}] is illegal, topic {topic}"
                )));
            }
            vec![queue_id]
        }
        None => {
            if config.write_queue_nums > MAX_QUEUES {
                return Err(BrokerError::InvalidParameter(format!(
                    "topic {topic} has {} write queues; a reset covers at most {MAX_QUEUES}",
                    config.write_queue_nums
                )));
            }
            (0..config.write_queue_nums.max(0)).collect()
        }
    };
    let explicit_offset = header.offset.filter(|offset| *offset != -1);
    let mut body = ResetOffsetBody::default();
    let mut moved = Vec::new();
    for queue_id in queue_ids {
        let owner = owner_shard(topic, queue_id, shard.shard_count());
        let committed = shard
            .offset(
                owner,
                OffsetRequest::Committed {
                    group: group.to_owned(),
                    topic: topic.to_owned(),
                    queue_id,
                },
            )
            .await?;
        let target = match (one_queue, explicit_offset) {
            (Some(_), Some(offset)) => {
                check_within_queue(shard, owner, topic, queue_id, offset).await?;
                offset
            }
            _ => {
                if committed == -1 && one_queue.is_none() {
                    return Err(BrokerError::Refused(format!(
                        "THe consumer group <{group}> not exist"
                    )));
                }
                let at_time =
                    offset_of_time(shard, owner, topic, queue_id, header.timestamp).await?;
                reset_target(header.is_force, committed, at_time)
            }
        };
        if target != committed {
            moved.push((owner, queue_id, target));
        }
        body.offset_table
            .insert(message_queue(shard, topic, queue_id), target);
    }

    for (owner, queue_id, offset) in moved {
        let commit = OffsetRequest::Commit {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id,
            offset,
        };
        shard.offset(owner, commit).await?;
    }
    notify_consumers(shard, &header, &body, request.language, &channels).await;
    Ok(success(request).with_body(body.encode()))
}

/// The group's online consumers, from the leader's client registry.
async fn online_consumers(
    shard: &Rc<BrokerShard>,
    group: &str,
) -> BrokerResult<Vec<ClientChannel>> {
    match shard
        .leader_call(LeaderRequest::ConsumerChannels {
            group: group.to_owned(),
        })
        .await?
    {
        LeaderReply::Channels(channels) => Ok(channels),
        _ => Err(BrokerError::Internal(
            "the leader answered no consumer channels".into(),
        )),
    }
}

/// `getOffsetInQueueByTime`, or the queue's end for -1 (Java's "now" of 4.x tools).
async fn offset_of_time(
    shard: &Rc<BrokerShard>,
    owner: usize,
    topic: &str,
    queue_id: i32,
    timestamp: i64,
) -> BrokerResult<i64> {
    let request = if timestamp == -1 {
        OffsetRequest::Max {
            topic: topic.to_owned(),
            queue_id,
        }
    } else {
        OffsetRequest::SearchByTimestamp {
            topic: topic.to_owned(),
            queue_id,
            timestamp,
        }
    };
    shard.offset(owner, request).await
}

/// 5.x's check of an explicit offset: within `[min, max]` of the queue.
async fn check_within_queue(
    shard: &Rc<BrokerShard>,
    owner: usize,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> BrokerResult<()> {
    let bound = |max: bool| {
        let (topic, queue_id) = (topic.to_owned(), queue_id);
        if max {
            OffsetRequest::Max { topic, queue_id }
        } else {
            OffsetRequest::Min { topic, queue_id }
        }
    };
    let min = shard.offset(owner, bound(false)).await?;
    let max = shard.offset(owner, bound(true)).await?;
    if offset < min || offset > max {
        return Err(BrokerError::Refused(format!(
            "Target offset {offset} not in consume queue range [{min}-{max}]"
        )));
    }
    Ok(())
}

/// RESET_CONSUMER_CLIENT_OFFSET to every online consumer of the group, oneway, as Java
/// sends it: header topic, group, timestamp (Java leaves isForce at false), and the offsets
/// as ResetOffsetBody. The C++ client reads only the list form (ResetOffsetBodyForC); Java
/// sends that to every consumer when the admin request came from a C++ client (4.x
/// `mqadmin resetOffsetByTime -c`), Ramjet sends it to each C++ consumer (and, as Java, to
/// every consumer when the admin request says CPP), so no operator has to know which
/// client the group runs.
async fn notify_consumers(
    shard: &Rc<BrokerShard>,
    header: &ResetOffsetRequestHeader,
    body: &ResetOffsetBody,
    admin_language: LanguageCode,
    channels: &[ClientChannel],
) {
    if channels.is_empty() {
        return;
    }
    let notice_header = ResetOffsetRequestHeader {
        topic: header.topic.clone(),
        group: header.group.clone(),
        timestamp: header.timestamp,
        is_force: false,
        queue_id: None,
        offset: None,
    };
    let (object_keyed, list) = (body.encode(), body.encode_for_c());
    for channel in channels {
        let for_c = admin_language == LanguageCode::Cpp || channel.language == LanguageCode::Cpp;
        let notice = ClientNotice::ResetOffset {
            header: notice_header.clone(),
            body: if for_c {
                list.clone()
            } else {
                object_keyed.clone()
            },
        };
        shard.connections().notify(channel.key, notice).await;
        tracing::info!(
            topic = header.topic,
            group = header.group,
            client_id = channel.client_id,
            "[reset-offset] reset offset sent to the client"
        );
    }
}

/// Where a queue goes: the timestamp's offset (never below 0), except that without force
/// a queue only moves back: it keeps its committed offset unless the timestamp's offset is
/// below it. A queue with nothing committed (-1, one-queue resets only) takes the
/// timestamp's offset.
fn reset_target(is_force: bool, committed: i64, at_time: i64) -> i64 {
    let at_time = at_time.max(0);
    if is_force || committed == -1 || at_time < committed {
        at_time
    } else {
        committed
    }
}

#[cfg(test)]
mod tests {
    use super::reset_target;

    #[test]
    fn without_force_a_queue_only_moves_back() {
        assert_eq!(reset_target(false, 10, 3), 3);
        assert_eq!(reset_target(false, 10, 10), 10);
        assert_eq!(reset_target(false, 10, 25), 10);
        assert_eq!(reset_target(false, -1, 25), 25);
    }

    #[test]
    fn with_force_a_queue_goes_to_the_timestamp_either_way() {
        assert_eq!(reset_target(true, 10, 3), 3);
        assert_eq!(reset_target(true, 10, 25), 25);
        assert_eq!(reset_target(true, 10, -5), 0);
    }
}
