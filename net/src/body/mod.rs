//! JSON bodies, written as compact standard JSON (quoted keys) and read in fastjson's
//! dialect too (remoting-protocol.md section 3).
//!
//! Each body type is written once, here, and used by both sides: the broker writes it, tools
//! and bench read it. Fields are declared in fastjson's alphabetical order, so that what we
//! write is byte-for-byte what a Java broker writes; each type's tests check that against
//! bytes fastjson wrote.

pub mod acl;
pub mod cluster;
pub mod connection;
pub mod fastjson;
pub mod heartbeat;
pub mod message_queue;
pub mod rebalance;
pub mod reset_offset;
pub mod route;
pub mod stats;
pub mod subscription_group;
pub mod topic_config;

pub use acl::{AclConfigBody, PlainAccessConfig};
pub use cluster::{to_json, ClusterInfo, KvTable, TopicList};
pub use connection::{Connection, ConsumerConnection, GroupList, ProducerConnection};
pub use heartbeat::SubscriptionData;
pub use message_queue::MessageQueue;
pub use rebalance::{
    GetConsumerListByGroupResponseBody, LockBatchRequestBody, LockBatchResponseBody,
    UnlockBatchRequestBody,
};
pub use reset_offset::ResetOffsetBody;
pub use route::{perm, BrokerData, QueueData, TopicRouteData, MASTER_ID};
pub use stats::{
    ConsumeStats, ConsumeStatsList, ConsumerOffsetSerializeWrapper, OffsetWrapper, TopicOffset,
    TopicStatsTable,
};
pub use subscription_group::{
    CustomizedRetryPolicy, ExponentialRetryPolicy, GroupRetryPolicy, SimpleSubscriptionData,
    SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
pub use topic_config::{DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper};

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Syntax(#[from] fastjson::FastjsonError),
    /// Valid JSON, but not the body's shape.
    #[error("unexpected body: {0}")]
    Shape(String),
}

/// A body as it travels: `encode` writes what a Java broker writes, `decode` reads that and
/// fastjson's other forms. One pair of calls for every body, whether serde derives it or (for
/// the object-keyed tables) it is written by hand.
pub trait WireBody: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, BodyError>;
}

/// `WireBody` for bodies whose serde form is already fastjson's.
macro_rules! serde_wire_body {
    ($($body:ty),* $(,)?) => {$(
        impl WireBody for $body {
            fn encode(&self) -> Vec<u8> {
                to_json(self)
            }
            fn decode(bytes: &[u8]) -> Result<$body, BodyError> {
                fastjson::from_slice(bytes).map_err(BodyError::Shape)
            }
        }
    )*};
}

serde_wire_body!(
    AclConfigBody,
    ClusterInfo,
    Connection,
    ConsumerConnection,
    DataVersion,
    GetConsumerListByGroupResponseBody,
    GroupList,
    KvTable,
    LockBatchRequestBody,
    LockBatchResponseBody,
    MessageQueue,
    ProducerConnection,
    SubscriptionGroupConfig,
    SubscriptionGroupWrapper,
    TopicConfig,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
);
