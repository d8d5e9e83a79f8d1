//! Consumer offsets across shards: GET_ALL_CONSUMER_OFFSET (43) and
//! QUERY_TOPIC_CONSUME_BY_WHO (300).

use std::collections::BTreeSet;
use std::rc::Rc;

use ramjet_net::body::{ConsumerOffsetSerializeWrapper, GroupList, WireBody};
use ramjet_net::header::{CommandHeader, TopicRequestHeader};
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, PartReply, PartRequest};

pub async fn all(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut wrapper = ConsumerOffsetSerializeWrapper::default();
    for part in shard.parts(|| PartRequest::ConsumerOffsets).await? {
        if let PartReply::ConsumerOffsets(part) = part {
            for (key, queues) in part {
                wrapper.offset_table.entry(key).or_default().extend(queues);
            }
        }
    }
    Ok(success(request).with_body(wrapper.encode()))
}

/// GET_ALL_DELAY_OFFSET (45): every delay level's delivery progress, gathered from the
/// shards that own the levels (what a slave copies, as RocketMQ's SlaveSynchronize does).
pub async fn all_delay(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut table = std::collections::BTreeMap::new();
    for part in shard.parts(|| PartRequest::DelayOffsets).await? {
        if let PartReply::DelayOffsets(part) = part {
            table.extend(part);
        }
    }
    let body = crate::schedule::delay_offsets::DelayOffsets::encode_table(&table);
    Ok(success(request).with_body(body))
}

/// GET_TIMER_CHECK_POINT (60): the timer's last written checkpoint, for a slave's copy
/// (`timer::slave_copy`).
pub async fn timer_checkpoint(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let copy = crate::timer::slave_copy::serve(shard).await?;
    Ok(success(request).with_body(copy.encode()))
}

/// Groups online now (the leader's registry) or with offsets on the topic (every shard).
pub async fn consumed_by(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = TopicRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let topic = header.topic;
    let mut groups = BTreeSet::new();
    if let LeaderReply::Strings(online) = shard
        .leader_call(LeaderRequest::GroupsConsuming {
            topic: topic.clone(),
        })
        .await?
    {
        groups.extend(online);
    }
    for part in shard
        .parts(|| PartRequest::GroupsOfTopic {
            topic: topic.clone(),
        })
        .await?
    {
        if let PartReply::Groups(part) = part {
            groups.extend(part);
        }
    }
    let body = GroupList {
        group_list: groups.into_iter().collect(),
    };
    Ok(success(request).with_body(body.encode()))
}
