//! `RouteSnapshot`: everything a read request needs, pre-encoded, owned by one shard.
//!
//! The leader shard builds a snapshot after every change and gives each shard its own deep
//! copy, so reads (GET_ROUTEINFO_BY_TOPIC above all) are a hash lookup and a reference
//! count on memory no other core touches: no locks, no shared cache lines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use ramjet_net::body::{to_json, TopicList};

use crate::kv_config::{KvTables, ORDER_TOPIC_CONFIG};
use crate::route_info::RouteInfoManager;

/// Settings that reads depend on and UPDATE_NAMESRV_CONFIG may change.
#[derive(Debug, Clone, Default)]
pub struct ReadSettings {
    pub enable_all_topic_list: bool,
    pub enable_topic_list: bool,
    pub config_text: String,
}

#[derive(Debug, Clone, Default)]
pub struct RouteSnapshot {
    /// Increases with every snapshot the leader builds; older ones are never installed.
    pub version: u64,
    pub routes: HashMap<String, Bytes>,
    pub cluster_info: Bytes,
    pub all_topics: Bytes,
    pub system_topics: Bytes,
    pub topics_by_cluster: HashMap<String, Bytes>,
    pub kv: KvTables,
    pub settings: ReadSettings,
}

impl RouteSnapshot {
    pub fn build(
        version: u64,
        routes: &RouteInfoManager,
        kv: &KvTables,
        order_message_enable: bool,
        settings: ReadSettings,
    ) -> RouteSnapshot {
        let mut encoded = HashMap::new();
        let mut all = BTreeSet::new();
        for topic in routes.topics() {
            all.insert(topic.clone());
            if let Some(mut route) = routes.pick_topic_route_data(topic) {
                if order_message_enable {
                    route.order_topic_conf = kv
                        .get(ORDER_TOPIC_CONFIG)
                        .and_then(|table| table.get(topic))
                        .cloned();
                }
                encoded.insert(topic.clone(), Bytes::from(route.to_json()));
            }
        }
        let cluster_info = routes.cluster_info();
        let topics_by_cluster = cluster_info
            .cluster_addr_table
            .keys()
            .map(|cluster| {
                let list = TopicList {
                    broker_addr: None,
                    topic_list: routes.topics_by_cluster(cluster),
                };
                (cluster.clone(), Bytes::from(to_json(&list)))
            })
            .collect();
        let (system, broker_addr) = routes.system_topic_list();
        RouteSnapshot {
            version,
            routes: encoded,
            cluster_info: Bytes::from(to_json(&cluster_info)),
            all_topics: Bytes::from(to_json(&TopicList {
                broker_addr: None,
                topic_list: all,
            })),
            system_topics: Bytes::from(to_json(&TopicList {
                broker_addr,
                topic_list: system,
            })),
            topics_by_cluster,
            kv: kv.clone(),
            settings,
        }
    }

    /// A copy sharing no allocation with `self`, for another shard.
    pub fn deep_clone(&self) -> RouteSnapshot {
        let copy = |bytes: &Bytes| Bytes::copy_from_slice(bytes);
        RouteSnapshot {
            version: self.version,
            routes: self
                .routes
                .iter()
                .map(|(k, v)| (k.clone(), copy(v)))
                .collect(),
            cluster_info: copy(&self.cluster_info),
            all_topics: copy(&self.all_topics),
            system_topics: copy(&self.system_topics),
            topics_by_cluster: self
                .topics_by_cluster
                .iter()
                .map(|(k, v)| (k.clone(), copy(v)))
                .collect(),
            kv: self.kv.clone(),
            settings: self.settings.clone(),
        }
    }

    pub fn kv_namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.kv.get(namespace)
    }
}
