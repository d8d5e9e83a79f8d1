//! Admin codes (`AdminBrokerProcessor`) used by mqadmin and dashboards, one file per
//! family: topics, groups (and their connections), stats, broker config, offsets, and the
//! reset of an online group's offsets.

mod broker_consume_stats;
mod broker_stats;
mod client_calls;
mod config;
mod groups;
mod offsets;
mod reset_offset;
mod stats;
mod topics;

use std::rc::Rc;

use ramjet_net::body::MessageQueue;
use ramjet_net::code::request;
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest};

/// RocketMQ's remark (SYSTEM_ERROR) for a topic or group change sent to a slave.
pub const SLAVE_REFUSES_METADATA: &str =
    "Can't modify topic or subscription group from slave broker, please execute it from master broker.";

/// Runs an admin code; `None` when `request.code` is not one.
pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> Option<BrokerResult<RemotingCommand>> {
    let metadata_write = matches!(
        request.code,
        request::UPDATE_AND_CREATE_TOPIC
            | request::DELETE_TOPIC_IN_BROKER
            | request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
            | request::DELETE_SUBSCRIPTIONGROUP
    );
    if metadata_write && shard.config().broker_role == crate::config::BrokerRole::Slave {
        // RocketMQ's validateSlave: a slave's topics and groups come from its master.
        return Some(Err(BrokerError::Refused(SLAVE_REFUSES_METADATA.into())));
    }
    Some(match request.code {
        request::UPDATE_AND_CREATE_TOPIC => topics::create(shard, request).await,
        request::DELETE_TOPIC_IN_BROKER => topics::delete(shard, request).await,
        request::GET_ALL_TOPIC_CONFIG => topics::all_configs(shard, request).await,
        request::GET_TOPIC_CONFIG => topics::config(shard, request),
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => groups::create(shard, request).await,
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => groups::all_configs(shard, request).await,
        request::DELETE_SUBSCRIPTIONGROUP => groups::delete(shard, request).await,
        request::GET_CONSUMER_CONNECTION_LIST => groups::consumer_connections(shard, request).await,
        request::GET_PRODUCER_CONNECTION_LIST => groups::producer_connections(shard, request).await,
        request::GET_BROKER_RUNTIME_INFO => stats::runtime_info(shard, request).await,
        request::GET_TOPIC_STATS_INFO => stats::topic_stats(shard, request).await,
        request::GET_CONSUME_STATS => stats::consume_stats(shard, request).await,
        request::GET_BROKER_CONSUME_STATS => {
            broker_consume_stats::broker_consume_stats(shard, request).await
        }
        request::GET_BROKER_CONFIG => config::get(shard, request).await,
        request::UPDATE_BROKER_CONFIG => config::update(shard, request).await,
        request::GET_ALL_CONSUMER_OFFSET => offsets::all(shard, request).await,
        request::GET_ALL_DELAY_OFFSET => offsets::all_delay(shard, request).await,
        request::GET_TIMER_CHECK_POINT => offsets::timer_checkpoint(shard, request).await,
        request::QUERY_TOPIC_CONSUME_BY_WHO => offsets::consumed_by(shard, request).await,
        request::INVOKE_BROKER_TO_RESET_OFFSET => reset_offset::reset_offset(shard, request).await,
        request::GET_CONSUMER_RUNNING_INFO => {
            client_calls::consumer_running_info(shard, request).await
        }
        request::VIEW_BROKER_STATS_DATA => {
            broker_stats::view_broker_stats_data(shard, request).await
        }
        request::CONSUME_MESSAGE_DIRECTLY => {
            client_calls::consume_message_directly(shard, request).await
        }
        _ => return None,
    })
}

/// The `MessageQueue` of this broker for a queue of `topic`.
fn message_queue(shard: &BrokerShard, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue::new(topic, &shard.config().broker_name, queue_id)
}

/// A leader request whose answer is a response body.
async fn body_of(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    leader_request: LeaderRequest,
) -> BrokerResult<RemotingCommand> {
    match shard.leader_call(leader_request).await? {
        LeaderReply::Body(body) => Ok(success(request).with_body(body)),
        _ => Err(BrokerError::Internal("the leader answered no body".into())),
    }
}
