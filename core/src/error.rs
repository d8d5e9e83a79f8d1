//! `BrokerError`: everything a request can fail with, in the broker's own words.
//!
//! Processors return `Result<_, BrokerError>`; `response_code.rs` is the one place that
//! turns a `BrokerError` into a RocketMQ response code and remark. The type is `Send`
//! because a failure on the shard that owns a queue travels back to the shard that holds
//! the client's connection.

use ramjet_store::PutError;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A request header that does not decode: Java reports a missing `@CFNotNull` field
    /// as SYSTEM_ERROR with the field's name.
    #[error("{0}")]
    BadHeader(String),
    /// A request body that does not decode (heartbeat, lock batch, group config, ...).
    #[error("{0}")]
    BadBody(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NoPermission(String),
    #[error("{0}")]
    TopicNotExist(String),
    #[error("{0}")]
    SubscriptionGroupNotExist(String),
    #[error("{0}")]
    SubscriptionNotExist(String),
    #[error("{0}")]
    SubscriptionNotLatest(String),
    /// A subscription expression that does not compile (SQL92), or of an unknown type.
    #[error("{0}")]
    SubscriptionParseFailed(String),
    #[error("{0}")]
    MessageIllegal(String),
    #[error("{0}")]
    QueryNotFound(String),
    #[error("{0}")]
    ConsumerNotOnline(String),
    /// A request the broker relayed to a client (307, 309) got no answer in time
    /// (Java's RemotingTimeoutException in callConsumer: CONSUME_MSG_TIMEOUT).
    #[error("{0}")]
    ClientCallTimeout(String),
    /// An END_TRANSACTION the broker refuses (5.x ILLEGAL_OPERATION): past the message's
    /// check immunity time, or for a transaction already resolved otherwise.
    #[error("{0}")]
    IllegalOperation(String),
    /// A request Java's broker refuses with SYSTEM_ERROR and a remark (a reset for a group
    /// with no offsets, an offset outside its queue, a client too old for a feature).
    #[error("{0}")]
    Refused(String),
    /// A feature the broker does not have; refused rather than accepted and dropped.
    #[error("{0}")]
    NotSupported(String),
    /// A feature switched off (or not built) that Java's broker also refuses with
    /// SYSTEM_ERROR and a remark when it is off (SQL92 filtering).
    #[error("{0}")]
    FeatureOff(String),
    /// Refused by the ACL (docs/acl.md); the remark reads as Java's AclException does.
    #[error("org.apache.rocketmq.acl.common.AclException: {0}")]
    AccessDenied(String),
    /// UPDATE_AND_CREATE_ACL_CONFIG refused (bad account, file not writable, ACL off).
    #[error("{0}")]
    AclUpdateFailed(String),
    /// DELETE_ACL_CONFIG refused (no such account, ACL off).
    #[error("{0}")]
    AclDeleteFailed(String),
    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG refused (bad address, another file, ACL off).
    #[error("{0}")]
    GlobalWhiteUpdateFailed(String),
    /// The shard's queue of puts is full: the client should back off and retry.
    /// The broker cannot take this now (a slave refusing a send: RocketMQ's
    /// SERVICE_NOT_AVAILABLE).
    #[error("{0}")]
    ServiceNotAvailable(String),
    #[error("[REJECTREQUEST]system busy, start flow control for a while")]
    Busy,
    #[error(transparent)]
    Put(#[from] PutError),
    /// Java answers some lookups that find nothing with SYSTEM_ERROR and a remark (no
    /// consumer in a group, no such producer group, no message at an offset).
    #[error("{0}")]
    NotFound(String),
    /// Storage that contradicts itself (a ConsumeQueue entry pointing at the wrong
    /// record, an unreadable stored message). The request fails; the shard lives on.
    #[error("storage inconsistency: {0}")]
    Storage(String),
    /// State files (topics, groups, offsets, the broker.conf) that could not be written.
    #[error("{0}")]
    Persist(String),
    #[error("broker shard {0} is not reachable")]
    ShardUnreachable(usize),
    /// A broken promise between shards (a reply of the wrong kind). A bug: answered
    /// SYSTEM_ERROR and logged, never a panic.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type BrokerResult<T> = Result<T, BrokerError>;

impl BrokerError {
    pub fn bad_header(error: impl std::fmt::Display) -> BrokerError {
        BrokerError::BadHeader(error.to_string())
    }
}
