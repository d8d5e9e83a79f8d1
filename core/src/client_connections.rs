//! The client connections one shard accepted, so the broker can send a client requests of
//! its own (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE,
//! RESET_CONSUMER_CLIENT_OFFSET) wherever the client's
//! connection lives, and calls that wait for the client's answer (`client_call`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, ConsumerGroupRequestHeader};
use ramjet_net::server::Connection;
use ramjet_net::RemotingCommand;

use crate::client_call::{
    call_client, ClientAnswer, ClientCall, ClientCallError, OutstandingCalls,
};
use crate::client_manager::ChannelKey;
use crate::mesh::{ClientNotice, Mesh, ShardMessage};

pub struct ClientConnections {
    mesh: Rc<Mesh>,
    local: RefCell<HashMap<u64, Weak<Connection>>>,
    calls: Rc<OutstandingCalls>,
}

impl ClientConnections {
    pub fn new(mesh: Rc<Mesh>) -> ClientConnections {
        ClientConnections {
            mesh,
            local: RefCell::new(HashMap::new()),
            calls: Rc::new(OutstandingCalls::default()),
        }
    }

    pub fn add(&self, connection: &Rc<Connection>) {
        let mut local = self.local.borrow_mut();
        local
            .entry(connection.id())
            .or_insert_with(|| Rc::downgrade(connection));
    }

    pub fn remove(&self, connection_id: u64) {
        self.local.borrow_mut().remove(&connection_id);
    }

    /// Sends `notice` to a client, on this shard or through the mesh.
    pub async fn notify(&self, channel: ChannelKey, notice: ClientNotice) {
        if channel.shard == self.mesh.id() {
            self.notify_local(channel.connection_id, notice);
            return;
        }
        let message = ShardMessage::ToClient {
            connection_id: channel.connection_id,
            notice,
        };
        if let Err(error) = self.mesh.send(channel.shard, message).await {
            tracing::warn!(?channel, %error, "client notice lost");
        }
    }

    /// Runs `call` on a connection of this shard and waits for the client's answer.
    pub async fn call_local(
        &self,
        connection_id: u64,
        call: ClientCall,
        timeout: std::time::Duration,
    ) -> Result<ClientAnswer, ClientCallError> {
        let connection = self
            .local
            .borrow()
            .get(&connection_id)
            .and_then(Weak::upgrade);
        let Some(connection) = connection else {
            return Err(ClientCallError::Gone);
        };
        call_client(&self.calls, &connection, &call, timeout).await
    }

    /// Calls waiting on a connection of this shard (tests and diagnostics).
    pub fn calls_waiting(&self, connection_id: u64) -> usize {
        self.calls.waiting(connection_id)
    }

    pub fn notify_local(&self, connection_id: u64, notice: ClientNotice) {
        let connection = self
            .local
            .borrow()
            .get(&connection_id)
            .and_then(Weak::upgrade);
        match connection {
            Some(connection) => connection.invoke_oneway(command_for(notice)),
            None => tracing::debug!(connection_id, "client connection is gone; notice dropped"),
        }
    }
}

fn command_for(notice: ClientNotice) -> RemotingCommand {
    match notice {
        ClientNotice::ConsumerIdsChanged { group } => {
            let header = ConsumerGroupRequestHeader {
                consumer_group: group,
            };
            RemotingCommand::request(request::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_ext_fields(header.to_ext_fields())
        }
        ClientNotice::CheckTransactionState { header, body } => {
            RemotingCommand::request(request::CHECK_TRANSACTION_STATE)
                .with_ext_fields(header.to_ext_fields())
                .with_body(body)
        }
        ClientNotice::ResetOffset { header, body } => {
            RemotingCommand::request(request::RESET_CONSUMER_CLIENT_OFFSET)
                .with_ext_fields(header.to_ext_fields())
                .with_body(body)
        }
    }
}
