//! Request processors, one module per request family, and the dispatch by code.
//!
//! A request is decoded here, on the shard that holds the client's connection, into its
//! typed header and body. What must run elsewhere goes through `BrokerShard`'s typed
//! calls; the answer is encoded here. A processor never touches sockets, and every failure
//! comes back as a `BrokerError` that `response_code::to_response` maps to the wire.

mod acl_admin;
mod admin;
mod client;
mod end_transaction;
mod offset;
mod pull;
pub mod pull_suggestion;
mod query;
mod send;
mod send_back;

use std::rc::Rc;
use std::sync::Arc;

use ramjet_net::code::request;
use ramjet_net::server::{Connection, RequestHandler};
use ramjet_net::RemotingCommand;

use crate::acl::AclState;
use crate::client_manager::ChannelKey;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::to_response;
use crate::shard::BrokerShard;
use crate::shard_request::Origin;

/// The broker's `RequestHandler`: one per shard, in front of its `BrokerShard`.
pub struct BrokerHandler {
    shard: Rc<BrokerShard>,
    /// With aclEnable: every request is checked here, before any processor decodes it.
    acl: Option<Arc<AclState>>,
}

impl BrokerHandler {
    pub fn new(shard: Rc<BrokerShard>, acl: Option<Arc<AclState>>) -> BrokerHandler {
        BrokerHandler { shard, acl }
    }
}

impl RequestHandler for BrokerHandler {
    async fn handle(
        self: Rc<Self>,
        request: RemotingCommand,
        connection: Rc<Connection>,
    ) -> Option<RemotingCommand> {
        let started = std::time::Instant::now();
        self.shard.connections().add(&connection);
        let origin = Origin {
            channel: ChannelKey {
                shard: self.shard.id(),
                connection_id: connection.id(),
            },
            peer: connection.peer(),
            language: request.language,
            version: request.version,
        };
        let checked = match &self.acl {
            Some(acl) => acl
                .check(&request, origin.peer.ip())
                .map_err(BrokerError::AccessDenied),
            None => Ok(()),
        };
        // A pull answer's records stay in the store's read buffers and follow the header
        // as parts, with no copy into one body first.
        let mut body_parts = Vec::new();
        let answer = match checked {
            Ok(()) if pull::handles(request.code) => {
                pull::process(&self.shard, &request).await.map(|pulled| {
                    body_parts = pulled.body_parts;
                    pulled.command
                })
            }
            Ok(()) => process(&self.shard, self.acl.as_ref(), &request, &origin).await,
            Err(error) => Err(error),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => to_response(&request, &error),
        };
        self.shard.record_rpc(
            request.code,
            answer.code,
            started.elapsed().as_secs_f64() * 1000.0,
        );
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(
                shard = self.shard.id(),
                code = request.code,
                answer_code = answer.code,
                remark = ?answer.remark,
                "request"
            );
        }
        if !body_parts.is_empty() && !request.is_oneway() {
            connection.send_with_body_parts(&answer, &body_parts);
            return None;
        }
        Some(answer)
    }

    fn on_disconnect(&self, connection: &Rc<Connection>) {
        let shard = self.shard.clone();
        let channel = ChannelKey {
            shard: shard.id(),
            connection_id: connection.id(),
        };
        glommio::spawn_local(async move { shard.connection_closed(channel).await }).detach();
    }
}

/// Runs one client request.
async fn process(
    shard: &Rc<BrokerShard>,
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
    origin: &Origin,
) -> BrokerResult<RemotingCommand> {
    match request.code {
        request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            send::process(shard, request, origin).await
        }
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => pull::process(shard, request)
            .await
            .map(pull::Pulled::into_command),
        request::QUERY_CONSUMER_OFFSET
        | request::UPDATE_CONSUMER_OFFSET
        | request::GET_MAX_OFFSET
        | request::GET_MIN_OFFSET
        | request::SEARCH_OFFSET_BY_TIMESTAMP
        | request::GET_EARLIEST_MSG_STORETIME => offset::process(shard, request).await,
        // Boxed: every request's task is as large as the largest branch here, and is
        // allocated and copied into place per request; sends and pulls should not pay for
        // the admin and send-back state machines.
        _ => Box::pin(process_other(shard, acl, request, origin)).await,
    }
}

/// The requests off a message's path.
async fn process_other(
    shard: &Rc<BrokerShard>,
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
    origin: &Origin,
) -> BrokerResult<RemotingCommand> {
    match request.code {
        request::CONSUMER_SEND_MSG_BACK => send_back::process(shard, request, origin).await,
        request::END_TRANSACTION => end_transaction::process(shard, request).await,
        request::VIEW_MESSAGE_BY_ID => query::view_message_by_id(shard, request).await,
        request::QUERY_MESSAGE => query::query_message(shard, request).await,
        request::HEART_BEAT
        | request::UNREGISTER_CLIENT
        | request::GET_CONSUMER_LIST_BY_GROUP
        | request::LOCK_BATCH_MQ
        | request::UNLOCK_BATCH_MQ
        | request::CHECK_CLIENT_CONFIG => client::process(shard, request, origin).await,
        request::UPDATE_AND_CREATE_ACL_CONFIG
        | request::DELETE_ACL_CONFIG
        | request::GET_BROKER_CLUSTER_ACL_INFO
        | request::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG
        | request::GET_BROKER_CLUSTER_ACL_CONFIG => acl_admin::process(shard, acl, request)
            .await
            .unwrap_or_else(|| Err(BrokerError::Internal("not an ACL code".into()))),
        code => match admin::process(shard, request).await {
            Some(answer) => answer,
            None => Err(BrokerError::NotSupported(format!(
                " request type {code} not supported"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, found from its type alone (nothing is called).
    fn future_size<A: 'static, B: 'static, C: 'static, R>(
        _: impl FnOnce(&'static A, &'static B, &'static C) -> R,
    ) -> usize {
        std::mem::size_of::<R>()
    }

    /// Every request's task holds `process`; off-path branches are boxed so that it is no
    /// larger than the send path needs.
    #[test]
    fn a_request_task_is_sized_by_the_send_path() {
        let send = future_size::<Rc<BrokerShard>, RemotingCommand, Origin, _>(send::process);
        let process =
            future_size::<Rc<BrokerShard>, RemotingCommand, Origin, _>(|shard, request, origin| {
                process(shard, None, request, origin)
            });
        let admin =
            future_size::<Rc<BrokerShard>, RemotingCommand, Origin, _>(|shard, request, _| {
                admin::process(shard, request)
            });
        assert!(
            admin > send / 2,
            "admin {admin}, send {send}: the test lost its point"
        );
        assert!(process <= send + 256, "process {process}, send {send}");
    }
}
