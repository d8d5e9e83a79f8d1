//! `BrokerShard`: everything one core owns, and how requests reach the shard that owns
//! what they touch.
//!
//! Every shard accepts connections. A request about a queue goes to the queue's owner
//! (`owner_shard`), one about metadata (topics, groups, clients) to the leader (shard 0),
//! over the glommio channel mesh; the reply comes back to the connection's shard. Nothing
//! mutable is shared between cores.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use glommio::channels::channel_mesh::Senders;
use ramjet_net::code::{request, response};
use ramjet_net::server::{Connection, RequestHandler};
use ramjet_net::{LanguageCode, RemotingCommand};
use ramjet_store::{DmaStorage, MessageStore};

use crate::client_manager::ChannelKey;
use crate::config::BrokerConfig;
use crate::consumer_offset_manager::ConsumerOffsetManager;
use crate::leader::Leader;
use crate::long_polling::LongPolling;
use crate::processor;
use crate::snapshot::MetadataSnapshot;
use crate::stats::ShardStats;

pub type Store = MessageStore<DmaStorage>;

/// The leader shard: owns topics, subscription groups, the client registry and name
/// server registration.
pub const LEADER_SHARD: usize = 0;

/// Physical offsets carry the shard in their high bits so that an offsetMsgId names the
/// shard holding the record: 2^48 bytes (256 TiB) of CommitLog per shard.
pub const SHARD_OFFSET_SHIFT: u32 = 48;

/// Which shard owns a queue. Changing this function moves data on disk, so the shard count
/// is recorded in the data directory and checked at start instead of being tuned freely.
pub fn owner_shard(topic: &str, queue_id: i32, shard_count: usize) -> usize {
    let hash = u64::from(crc32fast::hash(topic.as_bytes())).wrapping_add(queue_id as u32 as u64);
    (hash % shard_count as u64) as usize
}

pub fn shard_of_physical_offset(offset: i64) -> usize {
    (offset as u64 >> SHARD_OFFSET_SHIFT) as usize
}

/// Who sent a request: enough to answer it, attribute it and reach its connection later.
#[derive(Debug, Clone)]
pub struct Origin {
    pub channel: ChannelKey,
    pub peer: SocketAddr,
    pub language: LanguageCode,
    pub version: i32,
}

/// Messages between broker shards (bounded channels of `SHARD_INBOX_CAPACITY`).
pub enum ShardMessage {
    /// Run `request` here and send back what it answers as a `Reply` to `reply_to`.
    Request {
        request: RemotingCommand,
        origin: Origin,
        reply_to: usize,
        request_id: u64,
    },
    /// The answer to a `Request` this shard sent. Replies travel on the mesh like requests:
    /// glommio wakes a parked executor for its own channels, not for a foreign waker.
    Reply {
        request_id: u64,
        answer: Option<RemotingCommand>,
    },
    /// Leader only: create a topic for a send (auto-creation) if allowed.
    EnsureTopic {
        topic: String,
        default_topic: String,
        queue_nums: i32,
        sys_flag: i32,
        reply: oneshot::Sender<Result<Option<ramjet_net::body::TopicConfig>, String>>,
    },
    Snapshot(MetadataSnapshot),
    /// A changed broker configuration (UPDATE_BROKER_CONFIG).
    Config(Box<BrokerConfig>),
    /// Leader only: a client connection on another shard closed.
    ConnectionClosed(ChannelKey),
    /// Send `command` (oneway) to a client connected to this shard.
    ToClient {
        connection_id: u64,
        command: RemotingCommand,
    },
}

pub const SHARD_INBOX_CAPACITY: usize = 1024;

/// Marks a request forwarded for one shard's part of a broker-wide answer.
pub const PARTIAL_KEY: &str = "__ramjet_partial";

pub struct BrokerShard {
    pub id: usize,
    pub shard_count: usize,
    config: RefCell<Rc<BrokerConfig>>,
    pub store: Store,
    pub store_host: SocketAddr,
    snapshot: RefCell<Rc<MetadataSnapshot>>,
    pub offsets: RefCell<ConsumerOffsetManager>,
    pub long_polling: Rc<LongPolling>,
    pub leader: Option<Rc<Leader>>,
    peers: Option<Rc<Senders<ShardMessage>>>,
    connections: RefCell<HashMap<u64, Weak<Connection>>>,
    pub in_flight_puts: Cell<usize>,
    pub stats: ShardStats,
    /// Requests this shard forwarded, by id, waiting for their `Reply`.
    pending_replies: RefCell<HashMap<u64, oneshot::Sender<Option<RemotingCommand>>>>,
    next_request_id: Cell<u64>,
}

impl BrokerShard {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: usize,
        shard_count: usize,
        config: Rc<BrokerConfig>,
        store: Store,
        store_host: SocketAddr,
        offsets: ConsumerOffsetManager,
        leader: Option<Rc<Leader>>,
        peers: Option<Rc<Senders<ShardMessage>>>,
    ) -> BrokerShard {
        BrokerShard {
            id,
            shard_count,
            config: RefCell::new(config),
            store,
            store_host,
            snapshot: RefCell::new(Rc::new(MetadataSnapshot::default())),
            offsets: RefCell::new(offsets),
            long_polling: Rc::new(LongPolling::default()),
            leader,
            peers,
            connections: RefCell::new(HashMap::new()),
            in_flight_puts: Cell::new(0),
            stats: ShardStats::default(),
            pending_replies: RefCell::new(HashMap::new()),
            next_request_id: Cell::new(0),
        }
    }

    /// The broker configuration as this shard sees it (UPDATE_BROKER_CONFIG replaces it).
    pub fn config(&self) -> Rc<BrokerConfig> {
        self.config.borrow().clone()
    }

    pub fn install_config(&self, config: BrokerConfig) {
        *self.config.borrow_mut() = Rc::new(config);
    }

    /// This shard's current metadata. Cheap: a reference count.
    pub fn snapshot(&self) -> Rc<MetadataSnapshot> {
        self.snapshot.borrow().clone()
    }

    pub fn install_snapshot(&self, snapshot: MetadataSnapshot) {
        let mut current = self.snapshot.borrow_mut();
        if snapshot.version > current.version {
            *current = Rc::new(snapshot);
        }
    }

    pub fn leader(&self) -> Option<&Rc<Leader>> {
        self.leader.as_ref()
    }

    /// Sends a message to another shard, waiting while its inbox is full.
    pub async fn send_to_shard(&self, shard: usize, message: ShardMessage) -> bool {
        assert_ne!(shard, self.id, "a shard never messages itself");
        match &self.peers {
            Some(peers) => peers.send_to(shard, message).await.is_ok(),
            None => false,
        }
    }

    /// Runs `request` on `shard` (here or elsewhere) and returns its answer.
    pub async fn run_on(
        self: &Rc<Self>,
        shard: usize,
        request: RemotingCommand,
        origin: Origin,
    ) -> Option<RemotingCommand> {
        if shard == self.id {
            return Box::pin(processor::process(self, request, &origin)).await;
        }
        let (reply, answer) = oneshot::channel();
        let fallback = RemotingCommand::response_to(&request, response::SYSTEM_ERROR)
            .with_remark(format!("broker shard {shard} is not reachable"));
        let request_id = self.next_request_id.get();
        self.next_request_id.set(request_id.wrapping_add(1));
        self.pending_replies.borrow_mut().insert(request_id, reply);
        let message = ShardMessage::Request {
            request,
            origin,
            reply_to: self.id,
            request_id,
        };
        if !self.send_to_shard(shard, message).await {
            self.pending_replies.borrow_mut().remove(&request_id);
            return Some(fallback);
        }
        answer.await.unwrap_or(Some(fallback))
    }

    /// Runs the partial form of `request` on every shard and collects their answers, in
    /// shard order.
    pub async fn run_on_all(
        self: &Rc<Self>,
        request: &RemotingCommand,
        origin: &Origin,
    ) -> Vec<RemotingCommand> {
        let mut partial = request.clone();
        partial.ext_fields_mut().insert(PARTIAL_KEY, "true");
        partial.flag &= !ramjet_net::remoting::FLAG_ONEWAY;
        let mut answers = Vec::with_capacity(self.shard_count);
        for shard in 0..self.shard_count {
            if let Some(answer) = self.run_on(shard, partial.clone(), origin.clone()).await {
                answers.push(answer);
            }
        }
        answers
    }

    /// Sends a oneway request to a client, wherever its connection lives.
    pub async fn send_to_client(&self, channel: ChannelKey, command: RemotingCommand) {
        if channel.shard == self.id {
            self.send_to_local_client(channel.connection_id, command);
        } else {
            let message = ShardMessage::ToClient {
                connection_id: channel.connection_id,
                command,
            };
            self.send_to_shard(channel.shard, message).await;
        }
    }

    pub fn send_to_local_client(&self, connection_id: u64, command: RemotingCommand) {
        let connection = self
            .connections
            .borrow()
            .get(&connection_id)
            .and_then(Weak::upgrade);
        match connection {
            Some(connection) => connection.invoke_oneway(command),
            None => tracing::debug!(connection_id, "client connection is gone; request dropped"),
        }
    }

    /// Which shard must run `request`. Sends are resolved by the send processor itself,
    /// which may first need the leader to create the topic.
    fn route(&self, request: &RemotingCommand) -> usize {
        if self.shard_count == 1 || request.ext_field(PARTIAL_KEY).is_some() {
            return self.id;
        }
        match request.code {
            request::PULL_MESSAGE
            | request::LITE_PULL_MESSAGE
            | request::QUERY_CONSUMER_OFFSET
            | request::UPDATE_CONSUMER_OFFSET
            | request::GET_MAX_OFFSET
            | request::GET_MIN_OFFSET
            | request::SEARCH_OFFSET_BY_TIMESTAMP
            | request::GET_EARLIEST_MSG_STORETIME => {
                let topic = request.ext_field("topic").unwrap_or("");
                match request
                    .ext_field("queueId")
                    .and_then(|q| q.trim().parse::<i32>().ok())
                {
                    Some(queue_id) => owner_shard(topic, queue_id, self.shard_count),
                    // The processor answers the missing field.
                    None => self.id,
                }
            }
            request::VIEW_MESSAGE_BY_ID => request
                .ext_field("offset")
                .and_then(|o| o.trim().parse::<i64>().ok())
                .map(shard_of_physical_offset)
                .filter(|shard| *shard < self.shard_count)
                .unwrap_or(self.id),
            request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
                self.id
            }
            code if processor::is_leader_code(code) => LEADER_SHARD,
            _ => self.id,
        }
    }

    /// The inbox of messages from other shards.
    pub async fn inbox_loop(
        self: Rc<Self>,
        mut stream: glommio::channels::shared_channel::ConnectedReceiver<ShardMessage>,
    ) {
        use futures_lite::StreamExt;
        while let Some(message) = stream.next().await {
            match message {
                ShardMessage::Request {
                    request,
                    origin,
                    reply_to,
                    request_id,
                } => {
                    let shard = self.clone();
                    glommio::spawn_local(async move {
                        let answer = processor::process(&shard, request, &origin).await;
                        shard
                            .send_to_shard(reply_to, ShardMessage::Reply { request_id, answer })
                            .await;
                    })
                    .detach();
                }
                ShardMessage::Reply { request_id, answer } => {
                    if let Some(waiter) = self.pending_replies.borrow_mut().remove(&request_id) {
                        let _ = waiter.send(answer);
                    }
                }
                // Leader work that may wait on other shards runs as its own task, so the
                // inbox keeps draining whatever those shards send meanwhile.
                ShardMessage::EnsureTopic {
                    topic,
                    default_topic,
                    queue_nums,
                    sys_flag,
                    reply,
                } => {
                    let leader = self.leader.clone().expect("EnsureTopic goes to the leader");
                    glommio::spawn_local(async move {
                        let result = leader
                            .ensure_topic(&topic, &default_topic, queue_nums, sys_flag)
                            .await;
                        let _ = reply.send(result);
                    })
                    .detach();
                }
                ShardMessage::Snapshot(snapshot) => self.install_snapshot(snapshot),
                ShardMessage::Config(config) => self.install_config(*config),
                ShardMessage::ConnectionClosed(channel) => {
                    if let Some(leader) = self.leader.clone() {
                        glommio::spawn_local(
                            async move { leader.connection_closed(channel).await },
                        )
                        .detach();
                    }
                }
                ShardMessage::ToClient {
                    connection_id,
                    command,
                } => self.send_to_local_client(connection_id, command),
            }
        }
    }
}

impl RequestHandler for BrokerShard {
    async fn handle(
        self: Rc<Self>,
        request: RemotingCommand,
        connection: Rc<Connection>,
    ) -> Option<RemotingCommand> {
        let connection_id = connection.id();
        if !self.connections.borrow().contains_key(&connection_id) {
            self.connections
                .borrow_mut()
                .insert(connection_id, Rc::downgrade(&connection));
        }
        let origin = Origin {
            channel: ChannelKey {
                shard: self.id,
                connection_id,
            },
            peer: connection.peer(),
            language: request.language,
            version: request.version,
        };
        let shard = self.route(&request);
        let code = request.code;
        let answer = self.run_on(shard, request, origin).await;
        if tracing::enabled!(tracing::Level::TRACE) {
            let (answer_code, remark) = answer
                .as_ref()
                .map_or((-1, None), |a| (a.code, a.remark.clone()));
            tracing::trace!(
                shard = self.id,
                owner = shard,
                code,
                answer_code,
                ?remark,
                "request"
            );
        }
        answer
    }

    fn on_disconnect(&self, connection: &Rc<Connection>) {
        self.connections.borrow_mut().remove(&connection.id());
        let channel = ChannelKey {
            shard: self.id,
            connection_id: connection.id(),
        };
        match &self.leader {
            Some(leader) => {
                let leader = leader.clone();
                glommio::spawn_local(async move { leader.connection_closed(channel).await })
                    .detach();
            }
            None => {
                let peers = self.peers.clone();
                glommio::spawn_local(async move {
                    if let Some(peers) = peers {
                        let _ = peers
                            .send_to(LEADER_SHARD, ShardMessage::ConnectionClosed(channel))
                            .await;
                    }
                })
                .detach();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_shard_is_stable_and_spreads_queues() {
        // Pinned: changing the function would strand data written under the old one.
        assert_eq!(
            owner_shard("TopicTest", 0, 2),
            owner_shard("TopicTest", 0, 2)
        );
        let owners: Vec<usize> = (0..8).map(|q| owner_shard("TopicTest", q, 2)).collect();
        assert!(owners.contains(&0) && owners.contains(&1));
        assert_eq!(owner_shard("anything", 5, 1), 0);
        assert_eq!(shard_of_physical_offset(3 << SHARD_OFFSET_SHIFT | 12345), 3);
    }
}
