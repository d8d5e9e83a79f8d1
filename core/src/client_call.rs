//! Broker-to-client requests that wait for the client's answer: the broker relays an
//! admin's GET_CONSUMER_RUNNING_INFO (307) or CONSUME_MESSAGE_DIRECTLY (309) to one
//! consumer client on that client's own connection and passes the client's response back
//! (Java's `Broker2Client.callClient`, an `invokeSync` with a 10 s timeout).
//!
//! The call runs on the shard that holds the client's connection: the admin's shard sends
//! a typed `ShardRequest::ClientCall` there (no `RemotingCommand` crosses shards). There the
//! request goes out with an opaque of the connection's own counter and waits for a
//! RESPONSE-flagged frame with that opaque (`Connection::invoke`). The waiter goes away on
//! the timeout, or at once when the connection closes; a response whose opaque nobody
//! waits for (a late one, or a client's invention) is dropped by the connection's reader.
//!
//! Bounded: at most `CLIENT_CALLS_PER_CONNECTION_MAX` calls wait on one connection, so an
//! admin that loops over a client that never answers cannot pile up waiters; past it the
//! call is refused at once (SYSTEM_ERROR).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader,
};
use ramjet_net::server::{Connection, InvokeError};
use ramjet_net::RemotingCommand;

/// Java's `Broker2Client.callClient` waits 10 s for the client.
pub const CLIENT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls that may wait on one client connection at once.
pub const CLIENT_CALLS_PER_CONNECTION_MAX: usize = 8;

/// `MQVersion.Version.V3_1_8_SNAPSHOT.ordinal()`: the first client that answers 307 and 309.
pub const FIRST_VERSION_WITH_CLIENT_CALLS: i32 = 77;

/// What the broker asks a client and waits for.
#[derive(Debug, Clone)]
pub enum ClientCall {
    /// CONSUME_MESSAGE_DIRECTLY: the body is the stored message, as Java reads it from its
    /// CommitLog.
    ConsumeMessageDirectly {
        header: ConsumeMessageDirectlyResultRequestHeader,
        body: Vec<u8>,
    },
    GetConsumerRunningInfo {
        header: GetConsumerRunningInfoRequestHeader,
    },
}

impl ClientCall {
    pub fn command(&self) -> RemotingCommand {
        match self {
            ClientCall::ConsumeMessageDirectly { header, body } => {
                RemotingCommand::request(request::CONSUME_MESSAGE_DIRECTLY)
                    .with_ext_fields(header.to_ext_fields())
                    .with_body(body.clone())
            }
            ClientCall::GetConsumerRunningInfo { header } => {
                RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO)
                    .with_ext_fields(header.to_ext_fields())
            }
        }
    }
}

/// The client's response, as it came: the broker passes it on unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAnswer {
    pub code: i32,
    pub remark: Option<String>,
    pub body: Vec<u8>,
}

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientCallError {
    /// The connection closed before the call (the client just went away).
    #[error("the client's connection is gone")]
    Gone,
    #[error("{0} calls already wait on the client's connection")]
    TooMany(usize),
    #[error("no response from {peer} within {timeout_ms} ms")]
    Timeout { peer: String, timeout_ms: u128 },
    /// The connection closed while the call waited.
    #[error("connection to {0} closed while waiting for its response")]
    Closed(String),
}

/// Calls waiting per connection, on one shard.
#[derive(Default)]
pub struct OutstandingCalls {
    counts: RefCell<HashMap<u64, usize>>,
}

/// One place among a connection's outstanding calls; freed on drop, whatever the outcome.
struct CallSlot {
    calls: Rc<OutstandingCalls>,
    connection_id: u64,
}

impl OutstandingCalls {
    fn take(self: &Rc<Self>, connection_id: u64) -> Result<CallSlot, ClientCallError> {
        let mut counts = self.counts.borrow_mut();
        let count = counts.entry(connection_id).or_insert(0);
        if *count >= CLIENT_CALLS_PER_CONNECTION_MAX {
            return Err(ClientCallError::TooMany(*count));
        }
        *count += 1;
        Ok(CallSlot {
            calls: self.clone(),
            connection_id,
        })
    }

    /// Calls now waiting on `connection_id`.
    pub fn waiting(&self, connection_id: u64) -> usize {
        self.counts
            .borrow()
            .get(&connection_id)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut counts = self.calls.counts.borrow_mut();
        if let Some(count) = counts.get_mut(&self.connection_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.connection_id);
            }
        }
    }
}

/// Sends `call` on `connection` and waits up to `timeout` for the client's response.
pub async fn call_client(
    calls: &Rc<OutstandingCalls>,
    connection: &Connection,
    call: &ClientCall,
    timeout: Duration,
) -> Result<ClientAnswer, ClientCallError> {
    if connection.is_closed() {
        return Err(ClientCallError::Gone);
    }
    let _slot = calls.take(connection.id())?;
    match connection.invoke(call.command(), timeout).await {
        Ok(response) => Ok(ClientAnswer {
            code: response.code,
            remark: response.remark,
            body: response.body.to_vec(),
        }),
        Err(InvokeError::Timeout { peer, timeout_ms }) => Err(ClientCallError::Timeout {
            peer: peer.to_string(),
            timeout_ms,
        }),
        Err(InvokeError::Closed(peer)) => Err(ClientCallError::Closed(peer.to_string())),
        Err(InvokeError::Connect { addr, .. }) => Err(ClientCallError::Closed(addr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_connection_and_freed_on_drop() {
        let calls = Rc::new(OutstandingCalls::default());
        let mut held: Vec<CallSlot> = (0..CLIENT_CALLS_PER_CONNECTION_MAX)
            .map(|_| calls.take(7).unwrap())
            .collect();
        assert_eq!(
            calls.take(7).err(),
            Some(ClientCallError::TooMany(CLIENT_CALLS_PER_CONNECTION_MAX))
        );
        // Another connection has its own budget.
        let other = calls.take(8).unwrap();
        assert_eq!(calls.waiting(8), 1);
        drop(other);
        assert_eq!(calls.waiting(8), 0);
        held.pop();
        assert_eq!(calls.waiting(7), CLIENT_CALLS_PER_CONNECTION_MAX - 1);
        assert!(calls.take(7).is_ok());
        held.clear();
        assert!(calls.counts.borrow().is_empty(), "no entry left behind");
    }

    #[test]
    fn commands_carry_the_typed_headers() {
        let call = ClientCall::ConsumeMessageDirectly {
            header: ConsumeMessageDirectlyResultRequestHeader {
                consumer_group: "G".into(),
                client_id: Some("c@1".into()),
                msg_id: Some("ID".into()),
                broker_name: Some("b".into()),
                topic: Some("T".into()),
                topic_sys_flag: Some(0),
                group_sys_flag: None,
            },
            body: vec![1, 2, 3],
        };
        let command = call.command();
        assert_eq!(command.code, request::CONSUME_MESSAGE_DIRECTLY);
        assert_eq!(command.fields().get("brokerName"), Some("b"));
        assert_eq!(command.fields().get("groupSysFlag"), None);
        assert_eq!(&command.body[..], &[1, 2, 3]);
        let info = ClientCall::GetConsumerRunningInfo {
            header: GetConsumerRunningInfoRequestHeader {
                consumer_group: "G".into(),
                client_id: "c@1".into(),
                jstack_enable: Some(false),
            },
        }
        .command();
        assert_eq!(info.code, request::GET_CONSUMER_RUNNING_INFO);
        assert_eq!(info.fields().get("jstackEnable"), Some("false"));
    }
}
