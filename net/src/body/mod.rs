//! JSON bodies, written as compact standard JSON (quoted keys) and read in fastjson's
//! dialect too (remoting-protocol.md section 3).

pub mod cluster;
pub mod fastjson;
pub mod heartbeat;
pub mod route;
pub mod topic_config;

pub use cluster::{to_json, ClusterInfo, KvTable, TopicList};
pub use route::{perm, BrokerData, QueueData, TopicRouteData, MASTER_ID};
pub use topic_config::{DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper};
