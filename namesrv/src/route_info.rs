//! `RouteInfoManager`: which brokers exist, which topics they serve, and which are alive.
//!
//! The rules follow RocketMQ's `namesrv/routeinfo/RouteInfoManager.java`
//! (remoting-protocol.md section 9.1). This type is plain data with no I/O or clock of its
//! own (callers pass `now`), so it is tested directly; one shard owns it and publishes
//! read-only snapshots to the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ramjet_net::body::{
    perm, BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData, MASTER_ID,
};

/// Which connection a broker registered over: closing it unregisters the broker at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    pub shard: usize,
    pub connection_id: u64,
}

/// A broker is identified by its cluster and address (`BrokerAddrInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddrKey {
    pub cluster: String,
    pub addr: String,
}

#[derive(Debug, Clone)]
struct BrokerLiveInfo {
    last_update: Instant,
    timeout: Duration,
    data_version: DataVersion,
    channel: Option<ChannelKey>,
    ha_server_addr: String,
}

/// One REGISTER_BROKER, decoded.
#[derive(Debug, Clone)]
pub struct Registration {
    pub cluster: String,
    pub broker_addr: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    pub zone_name: Option<String>,
    pub timeout: Option<Duration>,
    pub enable_acting_master: bool,
    pub data_version: DataVersion,
    pub topic_configs: BTreeMap<String, TopicConfig>,
    pub filter_server_list: Vec<String>,
    pub channel: Option<ChannelKey>,
}

/// What a registration tells the broker back (a slave learns its master).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResult {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

#[derive(Debug, Default)]
pub struct RouteInfoManager {
    /// topic -> brokerName -> its queues of the topic.
    topic_queue_table: HashMap<String, BTreeMap<String, QueueData>>,
    broker_addr_table: BTreeMap<String, BrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    broker_live_table: HashMap<BrokerAddrKey, BrokerLiveInfo>,
    filter_server_table: HashMap<BrokerAddrKey, Vec<String>>,
    default_timeout: Duration,
    delete_topic_with_broker_registration: bool,
}

impl RouteInfoManager {
    pub fn new(default_timeout: Duration, delete_topic_with_broker_registration: bool) -> Self {
        RouteInfoManager {
            default_timeout,
            delete_topic_with_broker_registration,
            ..RouteInfoManager::default()
        }
    }

    /// Records a registration. Topic queues are replaced only for a master whose data
    /// version changed (or on its first registration), as Java does, so a slave or a
    /// repeated heartbeat cannot roll back a newer topic table.
    pub fn register_broker(&mut self, registration: Registration, now: Instant) -> RegisterResult {
        let Registration {
            cluster,
            broker_addr,
            broker_name,
            broker_id,
            ..
        } = &registration;
        self.cluster_addr_table
            .entry(cluster.clone())
            .or_default()
            .insert(broker_name.clone());
        let mut register_first = !self.broker_addr_table.contains_key(broker_name);
        let broker_data = self
            .broker_addr_table
            .entry(broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: cluster.clone(),
                broker_name: broker_name.clone(),
                ..BrokerData::default()
            });
        broker_data.enable_acting_master = registration.enable_acting_master;
        broker_data.zone_name = registration.zone_name.clone();
        // A broker that changed role (slave promoted to master) keeps its address under a
        // new id: drop the old id so the address is listed once.
        broker_data
            .broker_addrs
            .retain(|id, addr| addr != broker_addr || id == broker_id);
        let previous = broker_data
            .broker_addrs
            .insert(*broker_id, broker_addr.clone());
        register_first |= previous.is_none();

        let key = BrokerAddrKey {
            cluster: cluster.clone(),
            addr: broker_addr.clone(),
        };
        let version_changed = self
            .broker_live_table
            .get(&key)
            .is_none_or(|live| live.data_version != registration.data_version);
        if *broker_id == MASTER_ID && (version_changed || register_first) {
            for config in registration.topic_configs.values() {
                self.update_queue_data(broker_name, config);
            }
            if self.delete_topic_with_broker_registration {
                self.remove_topics_missing_from(broker_name, &registration.topic_configs);
            }
        }
        self.broker_live_table.insert(
            key.clone(),
            BrokerLiveInfo {
                last_update: now,
                timeout: registration.timeout.unwrap_or(self.default_timeout),
                data_version: registration.data_version,
                channel: registration.channel,
                ha_server_addr: registration.ha_server_addr.clone(),
            },
        );
        if registration.filter_server_list.is_empty() {
            self.filter_server_table.remove(&key);
        } else {
            self.filter_server_table
                .insert(key, registration.filter_server_list.clone());
        }
        self.slave_result(&registration)
    }

    fn slave_result(&self, registration: &Registration) -> RegisterResult {
        if registration.broker_id == MASTER_ID {
            return RegisterResult::default();
        }
        let Some(master_addr) = self
            .broker_addr_table
            .get(&registration.broker_name)
            .and_then(|data| data.master_addr())
        else {
            return RegisterResult::default();
        };
        let master_key = BrokerAddrKey {
            cluster: registration.cluster.clone(),
            addr: master_addr.to_owned(),
        };
        RegisterResult {
            master_addr: Some(master_addr.to_owned()),
            ha_server_addr: self
                .broker_live_table
                .get(&master_key)
                .map(|l| l.ha_server_addr.clone()),
        }
    }

    fn update_queue_data(&mut self, broker_name: &str, config: &TopicConfig) {
        let queue_data = QueueData::new(
            broker_name,
            config.read_queue_nums,
            config.write_queue_nums,
            config.perm,
            config.topic_sys_flag,
        );
        self.topic_queue_table
            .entry(config.topic_name.clone())
            .or_default()
            .insert(broker_name.to_owned(), queue_data);
    }

    fn remove_topics_missing_from(
        &mut self,
        broker_name: &str,
        configs: &BTreeMap<String, TopicConfig>,
    ) {
        self.topic_queue_table.retain(|topic, queues| {
            if !configs.contains_key(topic) {
                queues.remove(broker_name);
            }
            !queues.is_empty()
        });
    }

    /// Removes one broker (UNREGISTER_BROKER, closed channel, expiry). When its brokerName
    /// has no address left, the name leaves its cluster and every topic loses its queues
    /// there; topics left without queues disappear.
    pub fn unregister_broker(&mut self, cluster: &str, broker_addr: &str, broker_name: &str) {
        let key = BrokerAddrKey {
            cluster: cluster.to_owned(),
            addr: broker_addr.to_owned(),
        };
        self.broker_live_table.remove(&key);
        self.filter_server_table.remove(&key);
        let Some(broker_data) = self.broker_addr_table.get_mut(broker_name) else {
            return;
        };
        broker_data
            .broker_addrs
            .retain(|_, addr| addr != broker_addr);
        if !broker_data.broker_addrs.is_empty() {
            return;
        }
        self.broker_addr_table.remove(broker_name);
        if let Some(names) = self.cluster_addr_table.get_mut(cluster) {
            names.remove(broker_name);
            if names.is_empty() {
                self.cluster_addr_table.remove(cluster);
            }
        }
        self.topic_queue_table.retain(|_, queues| {
            queues.remove(broker_name);
            !queues.is_empty()
        });
    }

    /// A connection closed: every broker registered over it is gone.
    pub fn on_channel_closed(&mut self, channel: ChannelKey) -> usize {
        let gone: Vec<BrokerAddrKey> = self
            .broker_live_table
            .iter()
            .filter(|(_, live)| live.channel == Some(channel))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &gone {
            self.unregister_by_key(key);
        }
        gone.len()
    }

    /// Drops brokers silent for longer than their timeout; returns their addresses.
    pub fn scan_not_active_brokers(&mut self, now: Instant) -> Vec<BrokerAddrKey> {
        let expired: Vec<BrokerAddrKey> = self
            .broker_live_table
            .iter()
            .filter(|(_, live)| now.saturating_duration_since(live.last_update) > live.timeout)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.unregister_by_key(key);
        }
        expired
    }

    fn unregister_by_key(&mut self, key: &BrokerAddrKey) {
        let broker_name = self
            .broker_addr_table
            .values()
            .find(|data| {
                data.cluster == key.cluster && data.broker_addrs.values().any(|a| *a == key.addr)
            })
            .map(|data| data.broker_name.clone());
        match broker_name {
            Some(name) => self.unregister_broker(&key.cluster, &key.addr, &name),
            None => {
                self.broker_live_table.remove(key);
            }
        }
    }

    /// QUERY_DATA_VERSION: refreshes liveness and says whether `version` is news to us.
    pub fn query_data_version(
        &mut self,
        cluster: &str,
        broker_addr: &str,
        version: &DataVersion,
        now: Instant,
    ) -> (bool, Option<DataVersion>) {
        let key = BrokerAddrKey {
            cluster: cluster.to_owned(),
            addr: broker_addr.to_owned(),
        };
        match self.broker_live_table.get_mut(&key) {
            Some(live) => {
                live.last_update = now;
                (live.data_version != *version, Some(live.data_version))
            }
            None => (true, None),
        }
    }

    /// The route of one topic, or `None` when no live broker serves it.
    pub fn pick_topic_route_data(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topic_queue_table.get(topic)?;
        let mut route = TopicRouteData::default();
        for (broker_name, queue_data) in queues {
            route.queue_datas.push(queue_data.clone());
            if let Some(broker_data) = self.broker_addr_table.get(broker_name) {
                for addr in broker_data.broker_addrs.values() {
                    let key = BrokerAddrKey {
                        cluster: broker_data.cluster.clone(),
                        addr: addr.clone(),
                    };
                    if let Some(filters) = self.filter_server_table.get(&key) {
                        route
                            .filter_server_table
                            .insert(addr.clone(), filters.clone());
                    }
                }
                route.broker_datas.push(broker_data.clone());
            }
        }
        if route.queue_datas.is_empty() || route.broker_datas.is_empty() {
            return None;
        }
        Some(route)
    }

    pub fn topics(&self) -> impl Iterator<Item = &String> {
        self.topic_queue_table.keys()
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.broker_addr_table.clone(),
            cluster_addr_table: self.cluster_addr_table.clone(),
        }
    }

    /// Topics with queues on any broker of `cluster`.
    pub fn topics_by_cluster(&self, cluster: &str) -> BTreeSet<String> {
        let Some(names) = self.cluster_addr_table.get(cluster) else {
            return BTreeSet::new();
        };
        self.topic_queue_table
            .iter()
            .filter(|(_, queues)| queues.keys().any(|name| names.contains(name)))
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster and broker names (each is a system topic),
    /// plus one master address for the tool to talk to.
    pub fn system_topic_list(&self) -> (BTreeSet<String>, Option<String>) {
        let mut topics = BTreeSet::new();
        let mut addr = None;
        for (cluster, names) in &self.cluster_addr_table {
            topics.insert(cluster.clone());
            for name in names {
                topics.insert(name.clone());
                if addr.is_none() {
                    addr = self
                        .broker_addr_table
                        .get(name)
                        .and_then(|data| data.broker_addrs.values().next().cloned());
                }
            }
        }
        (topics, addr)
    }

    /// DELETE_TOPIC_IN_NAMESRV: the whole topic, or only its queues in `cluster`.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) {
        let Some(names) = cluster
            .filter(|c| !c.is_empty())
            .map(|c| self.cluster_addr_table.get(c))
        else {
            self.topic_queue_table.remove(topic);
            return;
        };
        let Some(names) = names else { return };
        if let Some(queues) = self.topic_queue_table.get_mut(topic) {
            queues.retain(|name, _| !names.contains(name));
            if queues.is_empty() {
                self.topic_queue_table.remove(topic);
            }
        }
    }

    /// REGISTER_TOPIC_IN_NAMESRV: adds queues for brokers the name server knows.
    pub fn register_topic(&mut self, topic: &str, queue_datas: Vec<QueueData>) {
        for queue_data in queue_datas {
            if self.broker_addr_table.contains_key(&queue_data.broker_name) {
                self.topic_queue_table
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(queue_data.broker_name.clone(), queue_data);
            }
        }
    }

    /// WIPE_WRITE_PERM_OF_BROKER (`wipe`) and ADD_WRITE_PERM_OF_BROKER: returns how many
    /// topics changed.
    pub fn set_write_perm_of_broker(&mut self, broker_name: &str, writable: bool) -> i32 {
        let mut count = 0;
        for queues in self.topic_queue_table.values_mut() {
            if let Some(queue_data) = queues.get_mut(broker_name) {
                queue_data.perm = if writable {
                    queue_data.perm | perm::WRITE
                } else {
                    queue_data.perm & !perm::WRITE
                };
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(
        name: &str,
        addr: &str,
        id: i64,
        topics: &[&str],
        counter: i64,
    ) -> Registration {
        Registration {
            cluster: "DefaultCluster".into(),
            broker_addr: addr.into(),
            broker_name: name.into(),
            broker_id: id,
            ha_server_addr: format!("{addr}-ha"),
            zone_name: None,
            timeout: None,
            enable_acting_master: false,
            data_version: DataVersion {
                counter,
                ..DataVersion::default()
            },
            topic_configs: topics
                .iter()
                .map(|t| (t.to_string(), TopicConfig::new(t, 4, 4, 6)))
                .collect(),
            filter_server_list: vec![],
            channel: Some(ChannelKey {
                shard: 0,
                connection_id: id as u64 + 100,
            }),
        }
    }

    #[test]
    fn master_and_slave_both_appear_in_the_route() {
        let now = Instant::now();
        let mut routes = RouteInfoManager::new(Duration::from_secs(120), false);
        routes.register_broker(registration("a", "127.0.0.1:10911", 0, &["T"], 1), now);
        let slave = routes.register_broker(registration("a", "127.0.0.1:10921", 1, &["T"], 1), now);
        assert_eq!(slave.master_addr.as_deref(), Some("127.0.0.1:10911"));
        assert_eq!(slave.ha_server_addr.as_deref(), Some("127.0.0.1:10911-ha"));
        let route = routes.pick_topic_route_data("T").unwrap();
        assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
        assert_eq!(route.queue_datas, vec![QueueData::new("a", 4, 4, 6, 0)]);
        assert!(routes.pick_topic_route_data("U").is_none());
    }

    #[test]
    fn expired_broker_takes_its_routes_with_it() {
        let start = Instant::now();
        let mut routes = RouteInfoManager::new(Duration::from_secs(120), false);
        routes.register_broker(registration("a", "127.0.0.1:10911", 0, &["T"], 1), start);
        routes.register_broker(
            registration("b", "127.0.0.1:20911", 0, &["T"], 1),
            start + Duration::from_secs(100),
        );
        let expired = routes.scan_not_active_brokers(start + Duration::from_secs(121));
        assert_eq!(expired.len(), 1);
        let route = routes.pick_topic_route_data("T").unwrap();
        assert_eq!(route.broker_datas.len(), 1);
        assert_eq!(route.broker_datas[0].broker_name, "b");
        routes.scan_not_active_brokers(start + Duration::from_secs(300));
        assert!(routes.pick_topic_route_data("T").is_none());
        assert!(routes.cluster_info().cluster_addr_table.is_empty());
    }

    #[test]
    fn closed_channel_unregisters_at_once() {
        let now = Instant::now();
        let mut routes = RouteInfoManager::new(Duration::from_secs(120), false);
        let first = registration("a", "127.0.0.1:10911", 0, &["T"], 1);
        let channel = first.channel.unwrap();
        routes.register_broker(first, now);
        assert_eq!(
            routes.on_channel_closed(ChannelKey {
                shard: 1,
                ..channel
            }),
            0
        );
        assert_eq!(routes.on_channel_closed(channel), 1);
        assert!(routes.pick_topic_route_data("T").is_none());
    }

    #[test]
    fn same_data_version_does_not_replace_topics() {
        let now = Instant::now();
        let mut routes = RouteInfoManager::new(Duration::from_secs(120), false);
        routes.register_broker(registration("a", "127.0.0.1:10911", 0, &["T"], 1), now);
        let mut again = registration("a", "127.0.0.1:10911", 0, &["T"], 1);
        again.topic_configs.get_mut("T").unwrap().write_queue_nums = 8;
        routes.register_broker(again.clone(), now);
        assert_eq!(
            routes.pick_topic_route_data("T").unwrap().queue_datas[0].write_queue_nums,
            4
        );
        again.data_version.counter = 2;
        routes.register_broker(again, now);
        assert_eq!(
            routes.pick_topic_route_data("T").unwrap().queue_datas[0].write_queue_nums,
            8
        );
    }

    #[test]
    fn write_perm_and_topic_deletion() {
        let now = Instant::now();
        let mut routes = RouteInfoManager::new(Duration::from_secs(120), false);
        routes.register_broker(registration("a", "127.0.0.1:10911", 0, &["T", "U"], 1), now);
        assert_eq!(routes.set_write_perm_of_broker("a", false), 2);
        assert_eq!(
            routes.pick_topic_route_data("T").unwrap().queue_datas[0].perm,
            4
        );
        assert_eq!(routes.set_write_perm_of_broker("a", true), 2);
        assert_eq!(
            routes.pick_topic_route_data("T").unwrap().queue_datas[0].perm,
            6
        );
        routes.delete_topic("T", Some("OtherCluster"));
        assert!(routes.pick_topic_route_data("T").is_some());
        routes.delete_topic("T", None);
        assert!(routes.pick_topic_route_data("T").is_none());
        assert_eq!(
            routes.topics_by_cluster("DefaultCluster"),
            BTreeSet::from(["U".to_owned()])
        );
    }
}
