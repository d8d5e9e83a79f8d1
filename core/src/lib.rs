//! ramjet-core: the broker.
//!
//! Owns the shards (`shard.rs`), the request processors (`processor/`), the topic, group,
//! offset and client managers, long polling, name server registration and the `mqbroker`
//! binary. Joins `ramjet-net` (the wire) and `ramjet-store` (the disk); neither knows the
//! other.
//!
//! Cores: every type here lives on one shard's glommio executor and is `!Send`; shards
//! exchange only `mesh::ShardMessage`s carrying typed `shard_request`s. Shard 0 is the
//! leader and owns the metadata.
//!
//! Layers, each using only those below it: `broker` (start, stop) -> `processor` (decode,
//! check, encode; one module per request family) -> `shard` (typed calls to the owning
//! shard) -> `queue_owner` (a shard's store, offsets, long polling) and `leader` (topics,
//! groups, clients) -> `mesh`, managers, `placement`, `error` and `response_code`.

pub mod acl;
pub mod broker;
pub mod client_call;
pub mod client_connections;
pub mod client_manager;
pub mod config;
pub mod consumer_offset_manager;
pub mod error;
pub mod ha;
pub mod leader;
mod leader_requests;
pub mod long_polling;
pub mod mesh;
pub mod metrics;
pub mod persist;
pub mod placement;
pub mod processor;
pub mod queue_owner;
pub mod registration;
pub mod response_code;
pub mod schedule;
pub mod shard;
pub mod shard_request;
pub mod shutdown;
pub mod snapshot;
pub mod stats;
pub mod subscription_group_manager;
pub mod timer;
pub mod topic_config_manager;
pub mod topic_validator;
pub mod transaction;
pub mod unbuilt_keys;
pub mod uniq_key;

pub use config::BrokerConfig;
