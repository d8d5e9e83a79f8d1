//! `NamesrvProcessor`: the request handler of one name server shard. Reads are answered
//! from this shard's snapshot; writes go to the leader (directly on shard 0, over the
//! shard mesh elsewhere).

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use glommio::channels::channel_mesh::Senders;
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader,
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader, KvConfigKeyRequestHeader,
};
use ramjet_net::server::{not_supported, Connection, RequestHandler};
use ramjet_net::{body, RemotingCommand};

use crate::leader::{is_write, Leader};
use crate::route_info::ChannelKey;
use crate::snapshot::RouteSnapshot;

/// Marks a connection that registered a broker, so its close unregisters the broker.
const BROKER_TAG: &str = "broker";

/// Messages between name server shards.
pub enum ShardMessage {
    /// A write for the leader; the reply carries the snapshot it produced, if any, so the
    /// asking shard serves its own next read from fresh data.
    Write {
        request: RemotingCommand,
        channel: ChannelKey,
        reply: oneshot::Sender<(RemotingCommand, Option<RouteSnapshot>)>,
    },
    ChannelClosed(ChannelKey),
    Snapshot(RouteSnapshot),
}

pub struct NamesrvProcessor {
    shard: usize,
    snapshot: RefCell<RouteSnapshot>,
    /// Only on the leader shard.
    leader: Option<Rc<RefCell<Leader>>>,
    /// Senders to every other shard (index = shard); `None` with a single shard.
    peers: Option<Rc<Senders<ShardMessage>>>,
}

impl NamesrvProcessor {
    pub fn new(
        shard: usize,
        snapshot: RouteSnapshot,
        leader: Option<Rc<RefCell<Leader>>>,
        peers: Option<Rc<Senders<ShardMessage>>>,
    ) -> NamesrvProcessor {
        NamesrvProcessor {
            shard,
            snapshot: RefCell::new(snapshot),
            leader,
            peers,
        }
    }

    /// Installs `snapshot` unless a newer one is already here (messages may overtake).
    pub fn install(&self, snapshot: RouteSnapshot) {
        let mut current = self.snapshot.borrow_mut();
        if snapshot.version > current.version {
            *current = snapshot;
        }
    }

    /// On the leader: installs a fresh snapshot here and sends a copy to every other shard.
    pub fn publish(&self, snapshot: &RouteSnapshot) {
        self.install(snapshot.clone());
        let Some(peers) = &self.peers else { return };
        for shard in (0..peers.nr_consumers()).filter(|s| *s != self.shard) {
            let (peers, copy) = (peers.clone(), snapshot.deep_clone());
            glommio::spawn_local(async move {
                let _ = peers.send_to(shard, ShardMessage::Snapshot(copy)).await;
            })
            .detach();
        }
    }

    async fn write(&self, request: RemotingCommand, connection: &Connection) -> RemotingCommand {
        let channel = ChannelKey {
            shard: self.shard,
            connection_id: connection.id(),
        };
        if let Some(leader) = &self.leader {
            let applied = leader.borrow_mut().apply(&request, channel);
            if applied.changed {
                let snapshot = leader.borrow_mut().snapshot();
                self.publish(&snapshot);
            }
            return applied.response;
        }
        let peers = self
            .peers
            .as_ref()
            .expect("a follower shard always has peers");
        let (reply, answer) = oneshot::channel();
        let failed = |request: &RemotingCommand| {
            RemotingCommand::response_to(request, response::SYSTEM_ERROR)
                .with_remark("name server leader shard is not available")
        };
        let sent = peers
            .send_to(
                0,
                ShardMessage::Write {
                    request: request.clone(),
                    channel,
                    reply,
                },
            )
            .await;
        if sent.is_err() {
            return failed(&request);
        }
        match answer.await {
            Ok((response, snapshot)) => {
                if let Some(snapshot) = snapshot {
                    self.install(snapshot);
                }
                response
            }
            Err(_) => failed(&request),
        }
    }

    fn read(&self, request: &RemotingCommand) -> RemotingCommand {
        let snapshot = self.snapshot.borrow();
        let fields = request.fields();
        let ok = |body: &bytes::Bytes| {
            RemotingCommand::response_to(request, response::SUCCESS).with_body(body.clone())
        };
        let error = |code: i32, remark: String| {
            RemotingCommand::response_to(request, code).with_remark(remark)
        };
        match request.code {
            request::GET_ROUTEINFO_BY_TOPIC => match GetRouteInfoRequestHeader::decode(fields) {
                Ok(header) => match snapshot.routes.get(&header.topic) {
                    Some(route) => ok(route),
                    None => error(
                        response::TOPIC_NOT_EXIST,
                        format!(
                            "No topic route info in name server for the topic: {}",
                            header.topic
                        ),
                    ),
                },
                Err(e) => error(response::SYSTEM_ERROR, e.to_string()),
            },
            request::GET_BROKER_CLUSTER_INFO => ok(&snapshot.cluster_info),
            request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                if snapshot.settings.enable_all_topic_list {
                    ok(&snapshot.all_topics)
                } else {
                    error(response::SYSTEM_ERROR, "disable".into())
                }
            }
            request::GET_TOPICS_BY_CLUSTER => {
                match GetTopicsByClusterRequestHeader::decode(fields) {
                    Ok(_) if !snapshot.settings.enable_topic_list => {
                        error(response::SYSTEM_ERROR, "disable".into())
                    }
                    Ok(header) => match snapshot.topics_by_cluster.get(&header.cluster) {
                        Some(list) => ok(list),
                        None => ok(&body::to_json(&body::TopicList::default()).into()),
                    },
                    Err(e) => error(response::SYSTEM_ERROR, e.to_string()),
                }
            }
            request::GET_SYSTEM_TOPIC_LIST_FROM_NS => ok(&snapshot.system_topics),
            request::GET_UNIT_TOPIC_LIST
            | request::GET_HAS_UNIT_SUB_TOPIC_LIST
            | request::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                // Unit mode is a retired Alibaba feature; Ramjet creates no unit topics.
                ok(&body::to_json(&body::TopicList::default()).into())
            }
            request::GET_KV_CONFIG => match KvConfigKeyRequestHeader::decode(fields) {
                Ok(header) => match snapshot
                    .kv_namespace(&header.namespace)
                    .and_then(|t| t.get(&header.key))
                {
                    Some(value) => RemotingCommand::response_to(request, response::SUCCESS)
                        .with_ext_fields(
                            GetKvConfigResponseHeader {
                                value: Some(value.clone()),
                            }
                            .to_ext_fields(),
                        ),
                    None => error(
                        response::QUERY_NOT_FOUND,
                        format!(
                            "No config item, Namespace: {} Key: {}",
                            header.namespace, header.key
                        ),
                    ),
                },
                Err(e) => error(response::SYSTEM_ERROR, e.to_string()),
            },
            request::GET_KVLIST_BY_NAMESPACE => {
                match GetKvListByNamespaceRequestHeader::decode(fields) {
                    Ok(header) => match snapshot.kv_namespace(&header.namespace) {
                        Some(table) => ok(&body::to_json(&body::KvTable {
                            table: table.clone(),
                        })
                        .into()),
                        None => error(
                            response::QUERY_NOT_FOUND,
                            format!("No config item, Namespace: {}", header.namespace),
                        ),
                    },
                    Err(e) => error(response::SYSTEM_ERROR, e.to_string()),
                }
            }
            request::GET_NAMESRV_CONFIG => RemotingCommand::response_to(request, response::SUCCESS)
                .with_body(snapshot.settings.config_text.clone().into_bytes()),
            _ => not_supported(request),
        }
    }

    /// Runs on the leader for writes that other shards forward.
    pub fn apply_forwarded(
        &self,
        request: RemotingCommand,
        channel: ChannelKey,
    ) -> (RemotingCommand, Option<RouteSnapshot>) {
        let leader = self
            .leader
            .as_ref()
            .expect("only the leader receives writes");
        let applied = leader.borrow_mut().apply(&request, channel);
        if !applied.changed {
            return (applied.response, None);
        }
        let snapshot = leader.borrow_mut().snapshot();
        self.publish(&snapshot);
        (applied.response, Some(snapshot.deep_clone()))
    }

    pub fn channel_closed(&self, channel: ChannelKey) {
        match &self.leader {
            Some(leader) => {
                if leader.borrow_mut().on_channel_closed(channel) {
                    let snapshot = leader.borrow_mut().snapshot();
                    self.publish(&snapshot);
                }
            }
            None => {
                let peers = self
                    .peers
                    .clone()
                    .expect("a follower shard always has peers");
                glommio::spawn_local(async move {
                    let _ = peers.send_to(0, ShardMessage::ChannelClosed(channel)).await;
                })
                .detach();
            }
        }
    }
}

impl RequestHandler for NamesrvProcessor {
    async fn handle(
        self: Rc<Self>,
        request: RemotingCommand,
        connection: Rc<Connection>,
    ) -> Option<RemotingCommand> {
        if !is_write(request.code) {
            return Some(self.read(&request));
        }
        if request.code == request::REGISTER_BROKER {
            *connection.tag.borrow_mut() = Some(BROKER_TAG.to_owned());
        }
        Some(self.write(request, &connection).await)
    }

    fn on_disconnect(&self, connection: &Rc<Connection>) {
        if connection.tag.borrow().as_deref() == Some(BROKER_TAG) {
            self.channel_closed(ChannelKey {
                shard: self.shard,
                connection_id: connection.id(),
            });
        }
    }
}
