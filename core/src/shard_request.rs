//! The typed requests one shard asks of another, and their typed replies.
//!
//! A client's request is decoded once, on the shard that holds its connection. What must
//! run where a queue (or the metadata) lives travels as a `ShardRequest`; the answer comes
//! back as the matching `ShardReply` and is encoded on the connection's shard. No
//! `RemotingCommand` and no client-chosen field name crosses shards, so nothing a client
//! sends can choose an internal code path.
//!
//! Everything here is `Send`: it moves between cores on the mesh.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::body::TopicConfig;
use ramjet_net::LanguageCode;
use ramjet_store::{GetStatus, MessageRecord, PutOk};

use crate::client_manager::{ChannelKey, ClientChannel};
use crate::error::{BrokerError, BrokerResult};
use crate::subscription_group_manager::SubscriptionGroupConfig;
use crate::transaction::EndTransaction;

/// Who sent a request: enough to attribute it and reach its connection later.
#[derive(Debug, Clone)]
pub struct Origin {
    pub channel: ChannelKey,
    pub peer: SocketAddr,
    pub language: LanguageCode,
    pub version: i32,
}

/// A queue as the lock and rebalance codes name it: (topic, brokerName, queueId).
pub type QueueName = (String, String, i32);

pub enum ShardRequest {
    /// Append records to one queue of this shard (send, batch send, send-back, and later
    /// delay, timer, transaction and replication code).
    Put(PutRequest, PutPatience),
    /// Read a queue range, parking the pull until something arrives if asked to.
    Pull(PullQuery),
    Offset(OffsetRequest),
    /// The stored record at a CommitLog offset of this shard.
    ViewByOffset {
        physical_offset: u64,
    },
    /// This shard's matches of an IndexFile lookup.
    QueryByKey(KeyQuery),
    /// This shard's part of a broker-wide answer.
    Part(PartRequest),
    /// Metadata work: runs on the leader shard.
    Leader(LeaderRequest),
    /// END_TRANSACTION: runs on the half queue's owner (`transaction::half_owner`).
    EndTransaction(EndTransaction),
    /// A slave's HA connection for this shard, accepted on shard 0 (docs/replication.md).
    HaConnection(crate::ha::master::HaHandoff),
    /// A request to a client whose connection is on this shard, answered with the
    /// client's response (`client_call`).
    ClientCall {
        connection_id: u64,
        call: crate::client_call::ClientCall,
    },
}

pub enum ShardReply {
    Put(BrokerResult<PutOk>),
    Pull(BrokerResult<PullAnswer>),
    Offset(BrokerResult<i64>),
    Message(BrokerResult<Vec<u8>>),
    Query(KeyQueryPart),
    Part(PartReply),
    Leader(BrokerResult<LeaderReply>),
    EndTransaction(BrokerResult<()>),
    HaAccepted,
    ClientCall(Result<crate::client_call::ClientAnswer, crate::client_call::ClientCallError>),
}

impl ShardReply {
    fn kind(&self) -> &'static str {
        match self {
            ShardReply::Put(_) => "Put",
            ShardReply::Pull(_) => "Pull",
            ShardReply::Offset(_) => "Offset",
            ShardReply::Message(_) => "Message",
            ShardReply::Query(_) => "Query",
            ShardReply::Part(_) => "Part",
            ShardReply::Leader(_) => "Leader",
            ShardReply::EndTransaction(_) => "EndTransaction",
            ShardReply::HaAccepted => "HaAccepted",
            ShardReply::ClientCall(_) => "ClientCall",
        }
    }

    /// A reply of another kind than the request's is a bug between shards.
    pub fn mismatch(self, expected: &str) -> BrokerError {
        BrokerError::Internal(format!("expected a {expected} reply, got {}", self.kind()))
    }
}

/// What a put does when its owner already has `sendQueueCapacity` puts in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutPatience {
    /// Wait up to `waitTimeMillsInSendQueue`, then SYSTEM_BUSY: a sync sender is told and
    /// retries (Java's BrokerFastFailure answers the same after the same wait).
    Brief,
    /// Wait for room however long it takes: a oneway send cannot be told no, so refusing
    /// it would lose it. Its connection's in-flight budget stops the reader meanwhile, and
    /// TCP slows the sender.
    UntilRoom,
}

pub struct PutRequest {
    pub topic: String,
    pub queue_id: i32,
    /// One record, or the records of one batch (stored together, in order).
    pub records: Vec<MessageRecord>,
    pub batch: bool,
}

/// The tag filter of a pull: the ConsumeQueue holds each record's tag hash.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    pub match_all: bool,
    pub codes: Vec<i32>,
}

impl TagFilter {
    pub fn accepts(&self, tags_code: i64) -> bool {
        self.match_all || self.codes.iter().any(|code| i64::from(*code) == tags_code)
    }
}

pub struct PullQuery {
    pub group: String,
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: u64,
    pub max_count: usize,
    pub max_bytes: usize,
    pub filter: TagFilter,
    /// A compiled SQL92 subscription, evaluated against each record's properties on the
    /// owner after the tag filter (`isMatchedByCommitLog`). `None` for TAG subscriptions.
    pub selector: Option<Arc<ramjet_filter::Selector>>,
    /// Commit this offset first (the pull's piggy-backed commit).
    pub commit_offset: Option<i64>,
    /// Park the pull this long when nothing is found (long polling); `None` answers at once.
    pub hold: Option<Duration>,
}

pub struct PullAnswer {
    pub status: GetStatus,
    pub next_begin_offset: u64,
    pub min_offset: u64,
    pub max_offset: u64,
    /// The store's `fall_behind_bytes`: how far the CommitLog end is past what was read.
    pub fall_behind_bytes: Option<u64>,
    pub message_count: usize,
    /// The records, back to back, exactly as stored: the pull response body, as parts
    /// (slices of the owner's read buffers, each a run of adjacent records; `Bytes` is
    /// `Send`, so they cross the mesh without a copy).
    pub body: Vec<Bytes>,
}

pub enum OffsetRequest {
    QueryConsumer {
        group: String,
        topic: String,
        queue_id: i32,
        set_zero_if_not_found: Option<bool>,
    },
    Commit {
        group: String,
        topic: String,
        queue_id: i32,
        offset: i64,
    },
    /// The group's committed offset, -1 when it has none (`ConsumerOffsetManager.queryOffset`).
    Committed {
        group: String,
        topic: String,
        queue_id: i32,
    },
    Max {
        topic: String,
        queue_id: i32,
    },
    Min {
        topic: String,
        queue_id: i32,
    },
    SearchByTimestamp {
        topic: String,
        queue_id: i32,
        timestamp: i64,
    },
    EarliestStoreTime {
        topic: String,
        queue_id: i32,
    },
}

#[derive(Clone)]
pub struct KeyQuery {
    pub topic: String,
    pub key: String,
    pub max_count: usize,
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
}

#[derive(Default)]
pub struct KeyQueryPart {
    pub messages: Vec<Vec<u8>>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phy_offset: i64,
}

pub enum PartRequest {
    TopicStats {
        topic: String,
    },
    ConsumeStats {
        group: String,
        topics: Vec<String>,
        /// Also every topic this shard holds committed offsets of for the group.
        with_committed_topics: bool,
    },
    ConsumerOffsets,
    GroupsOfTopic {
        topic: String,
    },
    Runtime,
    /// This shard's counters for the Prometheus exporter.
    Metrics,
    ForgetTopic {
        topic: String,
    },
    ForgetGroup {
        group: String,
    },
    /// This shard's delay levels and their delivery offsets.
    DelayOffsets,
    /// A slave's copy of its master's delay offsets (every level; each shard keeps its own).
    SetDelayOffsets(BTreeMap<i32, i64>),
    /// This shard's written CommitLog end.
    CommitLogEnd,
    /// This shard's windows of one BrokerStatsManager item (VIEW_BROKER_STATS_DATA).
    BrokerStats {
        name: String,
        key: String,
    },
}

pub enum PartReply {
    /// The topic's queues owned here, and its put TPS here over the last minute.
    TopicStats(Vec<QueueStats>, f64),
    /// The rows, and the group's pull TPS here over the last minute (summed over topics).
    ConsumeStats(Vec<ConsumeRow>, f64),
    /// `topic@group` -> queueId -> offset.
    ConsumerOffsets(BTreeMap<String, BTreeMap<i32, i64>>),
    Groups(Vec<String>),
    Runtime(RuntimePart),
    Metrics(Box<MetricsPart>),
    DelayOffsets(BTreeMap<i32, i64>),
    Offset(u64),
    BrokerStats(Option<crate::stats::broker_stats::ItemStats>),
    Done,
}

/// One shard's counters as the exporter needs them (`stats::ShardStats`, docs/metrics.md).
#[derive(Debug, Clone, Default)]
pub struct MetricsPart {
    pub shard: usize,
    pub topics_in: Vec<(String, crate::stats::TopicIn)>,
    /// (topic, group, messages, bytes) pulled.
    pub groups_out: Vec<(String, String, u64, u64)>,
    pub lags: Vec<LagRow>,
    pub commit_log_bytes: u64,
    pub in_flight_puts: u64,
    pub parked_pulls: u64,
    /// Requests from other shards being run here (see docs/metrics.md).
    pub inbox_depth: u64,
    pub cpu_seconds: f64,
    pub append_latency: Option<crate::stats::Histogram>,
    pub flush_latency: Option<crate::stats::Histogram>,
    /// (request code, response code) -> latency in ms, of requests whose connection is here.
    pub rpc_latency: Vec<((i32, i32), crate::stats::Histogram)>,
    /// DLQ sends, transaction ends and pending transactions here (`metrics::ops`).
    pub ops: crate::metrics::ops::OpsPart,
}

/// A group's backlog on one topic, over the queues one shard owns.
#[derive(Debug, Clone)]
pub struct LagRow {
    pub group: String,
    pub topic: String,
    /// Messages between the committed offset and the queue's end, summed over queues.
    pub messages: u64,
    /// Store time (ms) of the oldest message not yet consumed; 0 when none is behind.
    pub earliest_unconsumed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueStats {
    pub queue_id: i32,
    pub min_offset: i64,
    pub max_offset: i64,
    pub last_update_timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct ConsumeRow {
    pub topic: String,
    pub queue_id: i32,
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub pull_offset: i64,
    pub last_timestamp: i64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimePart {
    pub put_messages: u64,
    pub get_messages: u64,
    pub put_bytes: u64,
    pub commit_log_bytes: u64,
    pub parked_pulls: u64,
    /// Store time of the oldest record still stored; 0 when empty.
    pub earliest_store_time: u64,
    /// `ShardStats::puts_busy`.
    pub puts_busy: u64,
    /// `ShardStats::oneway_puts_waited`.
    pub oneway_puts_waited: u64,
    /// Rates over 10 s, 1 min, 10 min: messages put, messages pulled, pulls that found
    /// messages, pulls that found none (RocketMQ's StoreStatsService).
    pub put_tps: [f64; 3],
    pub get_transferred_tps: [f64; 3],
    pub get_found_tps: [f64; 3],
    pub get_miss_tps: [f64; 3],
    pub days: crate::stats::DayTotals,
}

pub enum LeaderRequest {
    Heartbeat {
        data: HeartbeatData,
        origin: Origin,
    },
    UnregisterClient {
        channel: ChannelKey,
        producer_group: Option<String>,
        consumer_group: Option<String>,
    },
    ConsumerIds {
        group: String,
    },
    LockBatch {
        group: String,
        client_id: String,
        queues: Vec<QueueName>,
    },
    UnlockBatch {
        group: String,
        client_id: String,
        queues: Vec<QueueName>,
    },
    /// Auto-creation for a send through the default topic (TBW102).
    EnsureTopic {
        topic: String,
        default_topic: String,
        queue_nums: i32,
        sys_flag: i32,
    },
    /// `%RETRY%<group>` / `%DLQ%<group>`, created on demand.
    EnsureGroupTopic {
        topic: String,
        queue_nums: i32,
        perm: i32,
    },
    CreateTopic(TopicConfig),
    DeleteTopic {
        topic: String,
    },
    AllTopicConfig,
    UpdateGroup(SubscriptionGroupConfig),
    AllGroups,
    DeleteGroup {
        group: String,
        clean_offset: bool,
    },
    ProducerConnections {
        group: String,
    },
    /// A live connection of the producer group, for CHECK_TRANSACTION_STATE.
    ProducerChannel {
        group: String,
    },
    ConsumerConnections {
        group: String,
    },
    /// The connections of the group's online consumers (INVOKE_BROKER_TO_RESET_OFFSET).
    ConsumerChannels {
        group: String,
    },
    /// Producer and consumer connections by language, version (and group, consume mode),
    /// for the exporter.
    ConnectionCensus,
    /// Groups whose online consumers subscribe `topic`.
    GroupsConsuming {
        topic: String,
    },
    /// Topics the online consumers of `group` subscribe.
    SubscribedTopics {
        group: String,
    },
    BrokerConfig,
    UpdateBrokerConfig {
        text: String,
    },
}

pub enum LeaderReply {
    Done,
    Strings(Vec<String>),
    Topic(Option<TopicConfig>),
    Queues(Vec<QueueName>),
    /// A response body, serialized from net's typed wire bodies by the leader.
    Body(Vec<u8>),
    BrokerConfig {
        text: String,
        data_version: String,
    },
    Channel(Option<ChannelKey>),
    Channels(Vec<ClientChannel>),
    Census(crate::metrics::ops::ConnectionCensus),
}
