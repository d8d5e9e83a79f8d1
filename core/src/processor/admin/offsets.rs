//! Consumer offsets across shards: GET_ALL_CONSUMER_OFFSET (43) and
//! QUERY_TOPIC_CONSUME_BY_WHO (300).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use ramjet_net::body::to_json;
use ramjet_net::header::{CommandHeader, TopicRequestHeader};
use ramjet_net::RemotingCommand;
use serde_json::json;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, PartReply, PartRequest};

pub async fn all(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut table: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for part in shard.parts(|| PartRequest::ConsumerOffsets).await? {
        if let PartReply::ConsumerOffsets(part) = part {
            for (key, queues) in part {
                table
                    .entry(key)
                    .or_default()
                    .extend(queues.into_iter().map(|(q, o)| (q.to_string(), o)));
            }
        }
    }
    Ok(success(request).with_body(to_json(&json!({ "offsetTable": table }))))
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
    Ok(success(request).with_body(to_json(&json!({ "groupList": groups }))))
}
