//! `MetadataSnapshot`: the leader's topic, group and subscription tables as one shard's
//! read-only copy. Data shards validate sends and pulls against it without crossing cores.

use std::collections::HashMap;

use ramjet_net::body::heartbeat::SubscriptionData;
use ramjet_net::body::TopicConfig;

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
