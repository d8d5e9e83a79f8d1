//! Topic admin codes: UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER (215),
//! GET_ALL_TOPIC_CONFIG (21), GET_TOPIC_CONFIG (351).

use std::rc::Rc;

use ramjet_net::body::TopicConfig;
use ramjet_net::header::{CommandHeader, CreateTopicRequestHeader, TopicRequestHeader};
use ramjet_net::RemotingCommand;

use super::body_of;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderRequest, PartRequest};

pub async fn create(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        CreateTopicRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let config = TopicConfig {
        topic_name: header.topic,
        read_queue_nums: header.read_queue_nums,
        write_queue_nums: header.write_queue_nums,
        perm: header.perm,
        topic_filter_type: header.topic_filter_type,
        topic_sys_flag: header.topic_sys_flag.unwrap_or(0),
        order: header.order,
        ..TopicConfig::default()
    };
    shard
        .leader_call(LeaderRequest::CreateTopic(config))
        .await?;
    Ok(success(request))
}

pub async fn delete(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = TopicRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let topic = header.topic;
    shard
        .leader_call(LeaderRequest::DeleteTopic {
            topic: topic.clone(),
        })
        .await?;
    shard
        .parts(|| PartRequest::ForgetTopic {
            topic: topic.clone(),
        })
        .await?;
    Ok(success(request))
}

pub async fn all_configs(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    body_of(shard, request, LeaderRequest::AllTopicConfig).await
}

/// From this shard's snapshot: the leader publishes every change before answering it.
pub fn config(shard: &BrokerShard, request: &RemotingCommand) -> BrokerResult<RemotingCommand> {
    let header = TopicRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let snapshot = shard.snapshot();
    let config = snapshot.topics.get(&header.topic).ok_or_else(|| {
        BrokerError::TopicNotExist(format!("No topic in this broker. topic: {}", header.topic))
    })?;
    Ok(success(request).with_body(serde_json::to_vec(config).expect("serializes")))
}
