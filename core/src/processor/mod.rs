//! Request processors, one module per request family, and the dispatch by code.
//! A processor never touches sockets: it gets a request and an `Origin`, and returns the
//! response (or `None` for no response).

mod admin;
mod client;
mod offset;
mod pull;
mod query;
mod send;
mod send_back;

use std::rc::Rc;

use ramjet_net::code::request;
use ramjet_net::server::not_supported;
use ramjet_net::RemotingCommand;

use crate::shard::{BrokerShard, Origin};

/// Codes whose state lives on the leader shard.
pub fn is_leader_code(code: i32) -> bool {
    matches!(
        code,
        request::HEART_BEAT
            | request::UNREGISTER_CLIENT
            | request::GET_CONSUMER_LIST_BY_GROUP
            | request::LOCK_BATCH_MQ
            | request::UNLOCK_BATCH_MQ
            | request::CHECK_CLIENT_CONFIG
            | request::UPDATE_AND_CREATE_TOPIC
            | request::DELETE_TOPIC_IN_BROKER
            | request::GET_ALL_TOPIC_CONFIG
            | request::GET_TOPIC_CONFIG
            | request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
            | request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG
            | request::DELETE_SUBSCRIPTIONGROUP
            | request::GET_BROKER_RUNTIME_INFO
            | request::GET_TOPIC_STATS_INFO
            | request::GET_CONSUME_STATS
            | request::GET_CONSUMER_CONNECTION_LIST
            | request::GET_PRODUCER_CONNECTION_LIST
            | request::QUERY_TOPIC_CONSUME_BY_WHO
            | request::GET_BROKER_CONFIG
            | request::UPDATE_BROKER_CONFIG
            | request::QUERY_MESSAGE
            | request::GET_ALL_CONSUMER_OFFSET
    )
}

/// Runs `request` on this shard, which `BrokerShard::route` chose.
pub async fn process(
    shard: &Rc<BrokerShard>,
    request: RemotingCommand,
    origin: &Origin,
) -> Option<RemotingCommand> {
    match request.code {
        request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            send::process(shard, request, origin).await
        }
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => {
            pull::process(shard, request, origin).await
        }
        request::QUERY_CONSUMER_OFFSET
        | request::UPDATE_CONSUMER_OFFSET
        | request::GET_MAX_OFFSET
        | request::GET_MIN_OFFSET
        | request::SEARCH_OFFSET_BY_TIMESTAMP
        | request::GET_EARLIEST_MSG_STORETIME => Some(offset::process(shard, &request).await),
        request::CONSUMER_SEND_MSG_BACK => Some(send_back::process(shard, &request, origin).await),
        request::VIEW_MESSAGE_BY_ID => Some(query::view_message_by_id(shard, &request).await),
        request::QUERY_MESSAGE => Some(query::query_message(shard, &request, origin).await),
        request::HEART_BEAT
        | request::UNREGISTER_CLIENT
        | request::GET_CONSUMER_LIST_BY_GROUP
        | request::LOCK_BATCH_MQ
        | request::UNLOCK_BATCH_MQ
        | request::CHECK_CLIENT_CONFIG => Some(client::process(shard, &request, origin).await),
        code if is_leader_code(code) => Some(admin::process(shard, &request, origin).await),
        _ => Some(not_supported(&request)),
    }
}
