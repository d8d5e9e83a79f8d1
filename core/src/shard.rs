//! `BrokerShard`: everything one core owns, and the typed calls that reach the shard that
//! owns what a request touches.
//!
//! Every shard accepts connections. Work on a queue runs on the queue's owner
//! (`placement::owner_shard`), metadata work on the leader (shard 0); both travel as typed
//! `ShardRequest`s over the mesh and come back as typed `ShardReply`s. On the owning shard
//! itself the same call runs in place, without the mesh. Processors use this API; this file
//! knows nothing of processors or wire commands.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

use futures_lite::StreamExt;
use glommio::channels::shared_channel::ConnectedReceiver;
use ramjet_store::PutOk;

use crate::client_connections::ClientConnections;
use crate::client_manager::ChannelKey;
use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use crate::leader::Leader;
use crate::mesh::{Mesh, ShardMessage};
use crate::placement::{shard_of_physical_offset, LEADER_SHARD};
use crate::queue_owner::QueueOwner;
use crate::shard_request::{
    KeyQuery, KeyQueryPart, LeaderReply, LeaderRequest, OffsetRequest, PartReply, PartRequest,
    PullAnswer, PullQuery, PutPatience, PutRequest, ShardReply, ShardRequest,
};
use crate::snapshot::{MetadataSnapshot, SharedMetadata};
use crate::stats::{Histogram, RPC_LATENCY_MS_BOUNDS};
use crate::transaction::{self, half_owner, EndTransaction, TransactionService};

/// Distinct (request code, response code) pairs `rocketmq_rpc_latency` keeps per shard.
const RPC_SERIES_MAX: usize = 256;

pub struct BrokerShard {
    id: usize,
    shard_count: usize,
    store_host: SocketAddr,
    metadata: Rc<SharedMetadata>,
    mesh: Rc<Mesh>,
    connections: Rc<ClientConnections>,
    owner: QueueOwner,
    leader: Option<Rc<Leader>>,
    transactions: TransactionService,
    /// `rocketmq_rpc_latency` of the requests whose connection is on this shard, by
    /// (request code, response code), in ms.
    rpc_latency: RefCell<HashMap<(i32, i32), Histogram>>,
    /// Requests from other shards running here (`ramjet_shard_inbox_depth`).
    inbox_depth: Cell<u64>,
    /// DLQ sends and transaction ends, for the exporter (`metrics::ops`).
    ops: crate::metrics::ops::OpsCounters,
    /// BrokerStatsManager's minute/hour/day windows, sampled by the stats loop.
    broker_stats: RefCell<crate::stats::broker_stats::BrokerStatsTable>,
    /// The delay-level service of this shard, set once at start.
    schedule: std::cell::RefCell<Option<Rc<crate::schedule::deliver::ScheduleService>>>,
}

impl BrokerShard {
    pub fn new(
        store_host: SocketAddr,
        metadata: Rc<SharedMetadata>,
        mesh: Rc<Mesh>,
        connections: Rc<ClientConnections>,
        owner: QueueOwner,
        leader: Option<Rc<Leader>>,
    ) -> BrokerShard {
        assert_eq!(leader.is_some(), mesh.id() == LEADER_SHARD);
        BrokerShard {
            id: mesh.id(),
            shard_count: mesh.shard_count(),
            store_host,
            metadata,
            mesh,
            connections,
            owner,
            leader,
            transactions: TransactionService::default(),
            rpc_latency: RefCell::new(HashMap::new()),
            inbox_depth: Cell::new(0),
            broker_stats: RefCell::new(Default::default()),
            ops: Default::default(),
            schedule: std::cell::RefCell::new(None),
        }
    }

    pub fn id(&self) -> usize {
        self.id
    }

    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// The address stored in records as their store host (brokerIP1:listenPort).
    pub fn store_host(&self) -> SocketAddr {
        self.store_host
    }

    /// The broker configuration as this shard sees it (UPDATE_BROKER_CONFIG replaces it).
    pub fn config(&self) -> Rc<BrokerConfig> {
        self.metadata.config()
    }

    /// This shard's copy of the leader's metadata. Cheap: a reference count.
    pub fn snapshot(&self) -> Rc<MetadataSnapshot> {
        self.metadata.snapshot()
    }

    pub fn owner(&self) -> &QueueOwner {
        &self.owner
    }

    /// Transactional messages; used on the half queue's owner.
    pub fn transactions(&self) -> &TransactionService {
        &self.transactions
    }

    pub fn set_schedule(&self, schedule: Rc<crate::schedule::deliver::ScheduleService>) {
        *self.schedule.borrow_mut() = Some(schedule);
    }

    pub fn schedule(&self) -> Option<Rc<crate::schedule::deliver::ScheduleService>> {
        self.schedule.borrow().clone()
    }

    pub fn leader(&self) -> Option<&Rc<Leader>> {
        self.leader.as_ref()
    }

    pub fn connections(&self) -> &ClientConnections {
        &self.connections
    }

    /// DLQ and transaction counters of this shard.
    pub fn ops(&self) -> &crate::metrics::ops::OpsCounters {
        &self.ops
    }

    /// Snapshots this shard's counters into the BrokerStatsManager windows (stats loop).
    pub fn sample_broker_stats(&self, now_ms: i64, tick: u64) {
        let cluster = self.config().broker_cluster_name.clone();
        self.broker_stats.borrow_mut().sample_with_send_backs(
            self.owner.stats(),
            &self.ops.send_backs(),
            &cluster,
            now_ms,
            tick,
        );
    }

    /// Counts one answered client request (`rocketmq_rpc_latency`).
    /// Request codes come from clients: past `RPC_SERIES_MAX` pairs, new ones are counted
    /// under request code -1, so hostile codes cannot grow the table without bound.
    pub fn record_rpc(&self, request_code: i32, response_code: i32, millis: f64) {
        let mut table = self.rpc_latency.borrow_mut();
        let mut key = (request_code, response_code);
        if table.len() >= RPC_SERIES_MAX && !table.contains_key(&key) {
            key = (-1, response_code);
        }
        match table.get_mut(&key) {
            Some(histogram) => histogram.observe(millis),
            None => table
                .entry(key)
                .or_insert_with(|| Histogram::new(RPC_LATENCY_MS_BOUNDS))
                .observe(millis),
        }
    }

    /// Runs `request` on `shard`: in place when that is this shard, else over the mesh.
    pub async fn call(
        self: &Rc<Self>,
        shard: usize,
        request: ShardRequest,
    ) -> BrokerResult<ShardReply> {
        if shard == self.id {
            Ok(self.execute(request).await)
        } else {
            self.mesh.call(shard, request).await
        }
    }

    /// Runs a request another shard (or this one) sent. Never panics on a request that
    /// reached the wrong shard: that is answered as an internal error.
    async fn execute(self: &Rc<Self>, request: ShardRequest) -> ShardReply {
        match request {
            ShardRequest::Put(put, patience) => {
                ShardReply::Put(self.owner.put(put, patience).await)
            }
            ShardRequest::Pull(query) => ShardReply::Pull(self.owner.pull(query).await),
            ShardRequest::Offset(offset) => ShardReply::Offset(self.owner.offset(offset).await),
            // Boxed: an async fn's state is as large as its largest branch, and every send's
            // and pull's task embeds this one. Unboxed, the leader's and the parts' branches
            // made each request's task ~6 KiB, copied into place and allocated per request.
            other => Box::pin(self.execute_any(other)).await,
        }
    }

    /// Every request `execute` runs, the ones off a message's path included.
    async fn execute_any(self: &Rc<Self>, request: ShardRequest) -> ShardReply {
        match request {
            ShardRequest::Put(put, patience) => {
                ShardReply::Put(self.owner.put(put, patience).await)
            }
            ShardRequest::Pull(query) => ShardReply::Pull(self.owner.pull(query).await),
            ShardRequest::Offset(offset) => ShardReply::Offset(self.owner.offset(offset).await),
            ShardRequest::ViewByOffset { physical_offset } => {
                ShardReply::Message(self.owner.view(physical_offset).await)
            }
            ShardRequest::QueryByKey(query) => {
                ShardReply::Query(self.owner.query_by_key(query).await)
            }
            ShardRequest::Part(PartRequest::Metrics) => {
                let mut part = self.owner.part(PartRequest::Metrics).await;
                if let PartReply::Metrics(metrics) = &mut part {
                    metrics.inbox_depth = self.inbox_depth.get();
                    metrics.ops = self.ops.part();
                    metrics.ops.half_messages = self.transactions.pending_count() as u64;
                    let store = self.owner.store();
                    metrics.ops.flush_behind_bytes = store.flush_behind_bytes();
                    metrics.ops.dispatch_behind_bytes = store.dispatch_behind_bytes();
                    metrics.rpc_latency = self
                        .rpc_latency
                        .borrow()
                        .iter()
                        .map(|(codes, histogram)| (*codes, histogram.clone()))
                        .collect();
                }
                ShardReply::Part(part)
            }
            ShardRequest::Part(PartRequest::BrokerStats { name, key }) => ShardReply::Part(
                PartReply::BrokerStats(self.broker_stats.borrow().get(&name, &key)),
            ),
            ShardRequest::Part(PartRequest::DelayOffsets) => {
                ShardReply::Part(PartReply::DelayOffsets(match self.schedule() {
                    Some(schedule) => schedule.offset_table(),
                    None => Default::default(),
                }))
            }
            ShardRequest::Part(PartRequest::SetDelayOffsets(table)) => {
                if let Some(schedule) = self.schedule() {
                    if let Err(error) = schedule.take_from_master(&table).await {
                        tracing::error!(
                            shard = self.id,
                            error,
                            "delay offsets from master not saved"
                        );
                    }
                }
                ShardReply::Part(PartReply::Done)
            }
            ShardRequest::Part(part) => ShardReply::Part(self.owner.part(part).await),
            ShardRequest::EndTransaction(request) => {
                ShardReply::EndTransaction(if self.id == half_owner(self.shard_count) {
                    // Boxed: deciding puts through `call`, which runs `execute` in place.
                    Box::pin(transaction::end_transaction(self, request)).await
                } else {
                    Err(BrokerError::Internal(format!(
                        "END_TRANSACTION sent to shard {}",
                        self.id
                    )))
                })
            }
            ShardRequest::ClientCall {
                connection_id,
                call,
            } => ShardReply::ClientCall(
                self.connections
                    .call_local(connection_id, call, crate::client_call::CLIENT_CALL_TIMEOUT)
                    .await,
            ),
            ShardRequest::HaConnection(handoff) => {
                crate::ha::master::adopt(self, handoff);
                ShardReply::HaAccepted
            }
            ShardRequest::Leader(request) => ShardReply::Leader(match &self.leader {
                Some(leader) => leader.execute(request).await,
                None => Err(BrokerError::Internal(format!(
                    "leader work sent to shard {}",
                    self.id
                ))),
            }),
        }
    }

    /// The typed put on the queue's owner: send, batch send, send-back and every later
    /// internal writer go through here.
    pub async fn put(self: &Rc<Self>, owner: usize, request: PutRequest) -> BrokerResult<PutOk> {
        self.put_with(owner, request, PutPatience::Brief).await
    }

    /// `put`, saying how long to wait for room on a busy owner.
    pub async fn put_with(
        self: &Rc<Self>,
        owner: usize,
        request: PutRequest,
        patience: PutPatience,
    ) -> BrokerResult<PutOk> {
        match self
            .call(owner, ShardRequest::Put(request, patience))
            .await?
        {
            ShardReply::Put(result) => result,
            other => Err(other.mismatch("Put")),
        }
    }

    pub async fn pull(self: &Rc<Self>, owner: usize, query: PullQuery) -> BrokerResult<PullAnswer> {
        match self.call(owner, ShardRequest::Pull(query)).await? {
            ShardReply::Pull(result) => result,
            other => Err(other.mismatch("Pull")),
        }
    }

    pub async fn offset(
        self: &Rc<Self>,
        owner: usize,
        request: OffsetRequest,
    ) -> BrokerResult<i64> {
        match self.call(owner, ShardRequest::Offset(request)).await? {
            ShardReply::Offset(result) => result,
            other => Err(other.mismatch("Offset")),
        }
    }

    /// The stored record at a CommitLog offset, on whichever shard the offset names.
    pub async fn view(self: &Rc<Self>, physical_offset: u64) -> BrokerResult<Vec<u8>> {
        let shard =
            shard_of_physical_offset(physical_offset, self.shard_count).ok_or_else(|| {
                BrokerError::NotFound(format!(
                    "can not find message by the offset, {physical_offset}"
                ))
            })?;
        match self
            .call(shard, ShardRequest::ViewByOffset { physical_offset })
            .await?
        {
            ShardReply::Message(result) => result,
            other => Err(other.mismatch("Message")),
        }
    }

    /// Every shard's IndexFile matches, in shard order.
    pub async fn query_by_key(self: &Rc<Self>, query: KeyQuery) -> BrokerResult<Vec<KeyQueryPart>> {
        let mut parts = Vec::with_capacity(self.shard_count);
        for shard in 0..self.shard_count {
            match self
                .call(shard, ShardRequest::QueryByKey(query.clone()))
                .await?
            {
                ShardReply::Query(part) => parts.push(part),
                other => return Err(other.mismatch("Query")),
            }
        }
        Ok(parts)
    }

    /// Every shard's part of a broker-wide answer, in shard order.
    pub async fn parts(
        self: &Rc<Self>,
        request: impl Fn() -> PartRequest,
    ) -> BrokerResult<Vec<PartReply>> {
        let mut parts = Vec::with_capacity(self.shard_count);
        for shard in 0..self.shard_count {
            match self.call(shard, ShardRequest::Part(request())).await? {
                ShardReply::Part(part) => parts.push(part),
                other => return Err(other.mismatch("Part")),
            }
        }
        Ok(parts)
    }

    /// END_TRANSACTION, run by the shard that owns the half queue.
    pub async fn end_transaction(self: &Rc<Self>, request: EndTransaction) -> BrokerResult<()> {
        let owner = half_owner(self.shard_count);
        match self
            .call(owner, ShardRequest::EndTransaction(request))
            .await?
        {
            ShardReply::EndTransaction(result) => result,
            other => Err(other.mismatch("EndTransaction")),
        }
    }

    /// A request to the client on `channel`, run on the shard that holds its connection;
    /// the outer error is a failure between shards, the inner one the client's.
    pub async fn call_client(
        self: &Rc<Self>,
        channel: ChannelKey,
        call: crate::client_call::ClientCall,
    ) -> BrokerResult<Result<crate::client_call::ClientAnswer, crate::client_call::ClientCallError>>
    {
        let request = ShardRequest::ClientCall {
            connection_id: channel.connection_id,
            call,
        };
        match self.call(channel.shard, request).await? {
            ShardReply::ClientCall(result) => Ok(result),
            other => Err(other.mismatch("ClientCall")),
        }
    }

    /// Metadata work, run by the leader shard.
    pub async fn leader_call(self: &Rc<Self>, request: LeaderRequest) -> BrokerResult<LeaderReply> {
        match self
            .call(LEADER_SHARD, ShardRequest::Leader(request))
            .await?
        {
            ShardReply::Leader(result) => result,
            other => Err(other.mismatch("Leader")),
        }
    }

    /// A client connection of this shard closed: the leader drops its registrations.
    pub async fn connection_closed(&self, channel: ChannelKey) {
        self.connections.remove(channel.connection_id);
        match &self.leader {
            Some(leader) => leader.connection_closed(channel).await,
            None => {
                let message = ShardMessage::ConnectionClosed(channel);
                if let Err(error) = self.mesh.send(LEADER_SHARD, message).await {
                    tracing::error!(?channel, %error, "leader not told of a closed connection");
                }
            }
        }
    }

    /// The inbox of messages from one other shard. Requests run as their own tasks, so a
    /// long-polling pull never holds up the puts queued behind it.
    pub async fn inbox_loop(self: Rc<Self>, mut stream: ConnectedReceiver<ShardMessage>) {
        while let Some(message) = stream.next().await {
            match message {
                ShardMessage::Request {
                    from,
                    request_id,
                    request,
                } => {
                    let shard = self.clone();
                    self.inbox_depth.set(self.inbox_depth.get() + 1);
                    glommio::spawn_local(async move {
                        let reply = shard.execute(request).await;
                        shard.inbox_depth.set(shard.inbox_depth.get() - 1);
                        let message = ShardMessage::Reply { request_id, reply };
                        if let Err(error) = shard.mesh.send(from, message).await {
                            tracing::error!(from, %error, "shard reply lost");
                        }
                    })
                    .detach();
                }
                ShardMessage::Reply { request_id, reply } => self.mesh.complete(request_id, reply),
                ShardMessage::Snapshot(snapshot) => self.metadata.install_snapshot(snapshot),
                ShardMessage::Config(config) => self.metadata.install_config(*config),
                ShardMessage::ConnectionClosed(channel) => match self.leader.clone() {
                    Some(leader) => {
                        glommio::spawn_local(
                            async move { leader.connection_closed(channel).await },
                        )
                        .detach();
                    }
                    None => {
                        tracing::error!(?channel, "connection notice sent to a non-leader shard")
                    }
                },
                ShardMessage::ToClient {
                    connection_id,
                    notice,
                } => self.connections.notify_local(connection_id, notice),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_request::{OffsetRequest, PullQuery, PutPatience, PutRequest};

    /// The size of the future `f` returns, found from its type alone (nothing is called).
    fn future_size<A: 'static, B, C, R>(_: impl FnOnce(&'static A, B, C) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// Every send's and pull's task embeds `execute`: the branches off a message's path are
    /// boxed so that it is sized by the put, pull and offset it runs in place.
    #[test]
    fn execute_is_sized_by_the_message_path() {
        let put = future_size::<QueueOwner, PutRequest, PutPatience, _>(QueueOwner::put);
        let pull =
            future_size::<QueueOwner, PullQuery, (), _>(|owner, query, ()| owner.pull(query));
        let offset = future_size::<QueueOwner, OffsetRequest, (), _>(|owner, request, ()| {
            owner.offset(request)
        });
        let execute = future_size::<Rc<BrokerShard>, ShardRequest, (), _>(|shard, request, ()| {
            shard.execute(request)
        });
        let largest = put.max(pull).max(offset);
        assert!(
            execute <= largest + 512,
            "execute {execute}, put/pull/offset {largest}"
        );
    }
}
