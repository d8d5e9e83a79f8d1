//! ramjet-namesrv: a RocketMQ-compatible name server.
//!
//! Owns the route registry (`RouteInfoManager`), broker liveness, the KV config and the
//! request processors of `mqnamesrv`. Must never import `ramjet-store` or `ramjet-core`.
//!
//! Cores: shard 0 (the leader) owns the mutable tables; every shard owns a read-only
//! `RouteSnapshot` and answers reads from it. Shards talk only over the glommio channel
//! mesh (`processor::ShardMessage`).

pub mod config;
pub mod kv_config;
pub mod leader;
pub mod processor;
pub mod route_info;
pub mod server;
pub mod snapshot;

pub use config::NamesrvConfig;
