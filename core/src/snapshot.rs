//! `MetadataSnapshot`: the leader's topic, group and subscription tables as one shard's
//! read-only copy. Data shards validate sends and pulls against it without crossing cores.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ramjet_net::body::heartbeat::SubscriptionData;
use ramjet_net::body::TopicConfig;

use crate::config::BrokerConfig;
use crate::subscription_group_manager::SubscriptionGroupConfig;

#[derive(Debug, Clone, Default)]
pub struct MetadataSnapshot {
    /// Increases with every snapshot the leader builds; an older one is never installed.
    pub version: u64,
    pub topics: HashMap<String, TopicConfig>,
    pub groups: HashMap<String, SubscriptionGroupConfig>,
    /// group -> topic -> the subscription its consumers registered by heartbeat.
    pub subscriptions: HashMap<String, HashMap<String, SubscriptionData>>,
}

impl MetadataSnapshot {
    pub fn subscription(&self, group: &str, topic: &str) -> Option<&SubscriptionData> {
        self.subscriptions
            .get(group)
            .and_then(|topics| topics.get(topic))
    }
}

/// One shard's current configuration and metadata, shared by the shard and (on shard 0)
/// the leader that replaces them. Readers take an `Rc` and never hold a borrow across an
/// await.
pub struct SharedMetadata {
    config: RefCell<Rc<BrokerConfig>>,
    snapshot: RefCell<Rc<MetadataSnapshot>>,
}

impl SharedMetadata {
    pub fn new(config: Rc<BrokerConfig>) -> SharedMetadata {
        SharedMetadata {
            config: RefCell::new(config),
            snapshot: Default::default(),
        }
    }

    pub fn config(&self) -> Rc<BrokerConfig> {
        self.config.borrow().clone()
    }

    pub fn install_config(&self, config: BrokerConfig) {
        *self.config.borrow_mut() = Rc::new(config);
    }

    pub fn snapshot(&self) -> Rc<MetadataSnapshot> {
        self.snapshot.borrow().clone()
    }

    /// Installs `snapshot` unless a newer one is already here (snapshots may overtake
    /// each other on different channels).
    pub fn install_snapshot(&self, snapshot: MetadataSnapshot) {
        let mut current = self.snapshot.borrow_mut();
        if snapshot.version > current.version {
            *current = Rc::new(snapshot);
        }
    }
}
