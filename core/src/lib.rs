//! ramjet-core: the broker.
//!
//! Owns the shards (`shard.rs`), the request processors (`processor/`), the topic, group,
//! offset and client managers, long polling, name server registration and the `mqbroker`
//! binary. Joins `ramjet-net` (the wire) and `ramjet-store` (the disk); neither knows the
//! other.
//!
//! Cores: every type here lives on one shard's glommio executor and is `!Send`; shards
//! exchange only `shard::ShardMessage`s. Shard 0 is the leader and owns the metadata.

pub mod broker;
pub mod client_manager;
pub mod config;
pub mod consumer_offset_manager;
pub mod leader;
pub mod long_polling;
pub mod persist;
pub mod processor;
pub mod registration;
pub mod response_code;
pub mod shard;
pub mod shutdown;
pub mod snapshot;
pub mod stats;
pub mod subscription_group_manager;
pub mod topic_config_manager;
pub mod topic_validator;
pub mod uniq_key;

pub use config::BrokerConfig;
