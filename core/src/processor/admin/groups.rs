//! Subscription group admin codes and who is connected: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//! (200), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207),
//! GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204).

use std::rc::Rc;

use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, DeleteSubscriptionGroupRequestHeader,
    GetProducerConnectionListRequestHeader,
};
use ramjet_net::RemotingCommand;

use super::body_of;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderRequest, PartRequest};
use crate::subscription_group_manager::SubscriptionGroupConfig;

pub async fn create(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let config: SubscriptionGroupConfig = ramjet_net::body::fastjson::from_slice(&request.body)
        .map_err(|e| BrokerError::BadBody(format!("bad SubscriptionGroupConfig body: {e}")))?;
    shard
        .leader_call(LeaderRequest::UpdateGroup(config))
        .await?;
    Ok(success(request))
}

pub async fn all_configs(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    body_of(shard, request, LeaderRequest::AllGroups).await
}

pub async fn delete(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = DeleteSubscriptionGroupRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let group = header.group_name;
    let clean_offset = header.clean_offset == Some(true);
    shard
        .leader_call(LeaderRequest::DeleteGroup {
            group: group.clone(),
            clean_offset,
        })
        .await?;
    if clean_offset {
        shard
            .parts(|| PartRequest::ForgetGroup {
                group: group.clone(),
            })
            .await?;
    }
    Ok(success(request))
}

pub async fn consumer_connections(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        ConsumerGroupRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let group = header.consumer_group;
    body_of(shard, request, LeaderRequest::ConsumerConnections { group }).await
}

pub async fn producer_connections(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = GetProducerConnectionListRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let group = header.producer_group;
    body_of(shard, request, LeaderRequest::ProducerConnections { group }).await
}
