//! TopicRouteData, the body of GET_ROUTEINFO_BY_TOPIC (remoting-protocol.md section 3.1).
//!
//! Field order is alphabetical because fastjson sorts properties and recorded bytes are
//! compared in golden tests. Output is compact with quoted map keys: the Go client splits
//! `brokerAddrs` on `,` and `:`, and rocketmq-client-rust cannot parse a BrokerData without
//! `enableActingMaster`, so the 5.x fields are always written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `PermName`: topic permission bits.
pub mod perm {
    pub const PRIORITY: i32 = 8;
    pub const READ: i32 = 4;
    pub const WRITE: i32 = 2;
    pub const INHERIT: i32 = 1;
}

/// brokerId of a master.
pub const MASTER_ID: i64 = 0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// brokerId -> "ip:port"; id 0 is the master. A BTreeMap so replicas list in id order.
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
    /// Written as `null` when unset: clients that expect the key must find it.
    pub zone_name: Option<String>,
}

impl BrokerData {
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    /// Named `topicSynFlag` up to 4.8.0 and in the Go client; both names are written.
    pub topic_sys_flag: i32,
    #[serde(rename = "topicSynFlag")]
    pub topic_syn_flag_legacy: i32,
    pub write_queue_nums: i32,
}

impl QueueData {
    pub fn new(broker_name: &str, read: i32, write: i32, perm: i32, sys_flag: i32) -> QueueData {
        QueueData {
            broker_name: broker_name.to_owned(),
            perm,
            read_queue_nums: read,
            topic_sys_flag: sys_flag,
            topic_syn_flag_legacy: sys_flag,
            write_queue_nums: write,
        }
    }
}

impl TopicRouteData {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("route data always serializes")
    }

    pub fn from_json(text: &[u8]) -> Result<TopicRouteData, String> {
        let mut route: TopicRouteData = super::fastjson::from_slice(text)?;
        for queue in &mut route.queue_datas {
            // Old senders write only `topicSynFlag`, new ones may write only `topicSysFlag`.
            let flag = queue.topic_sys_flag | queue.topic_syn_flag_legacy;
            queue.topic_sys_flag = flag;
            queue.topic_syn_flag_legacy = flag;
        }
        Ok(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: BTreeMap::from([(0, "192.168.0.10:10911".to_owned())]),
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
                ..BrokerData::default()
            }],
            queue_datas: vec![QueueData::new("broker-a", 4, 4, 6, 0)],
            ..TopicRouteData::default()
        }
    }

    #[test]
    fn writes_compact_quoted_keys_with_5x_fields() {
        let text = String::from_utf8(sample().to_json()).unwrap();
        assert_eq!(
            text,
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false,"zoneName":null}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"topicSynFlag":0,"writeQueueNums":4}]}"#
        );
    }

    #[test]
    fn reads_the_old_fastjson_form() {
        // What a 4.x name server writes for clients older than version 401.
        let text = br#"{"brokerDatas":[{"brokerAddrs":{0:"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}]}"#;
        assert_eq!(TopicRouteData::from_json(text).unwrap(), sample());
    }
}
