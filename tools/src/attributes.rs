//! The admin answers `ramjet_net::body` has no type for: ConsumeStats and TopicStatsTable
//! (fastjson object-keyed maps), ConsumerConnection, ProducerConnection, GroupList, and the
//! SubscriptionGroupConfig that updateSubGroup sends (remoting-protocol.md section 3.5).
//! Read leniently: missing fields take Java's defaults, unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `MessageQueue`, ordered as Java's `compareTo`: topic, broker name, queue id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

impl std::fmt::Display for MessageQueue {
    /// `MessageQueue.toString()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// One queue of a ConsumeStats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub pull_offset: i64,
    pub last_timestamp: i64,
}

/// One queue of a TopicStatsTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    pub min_offset: i64,
    pub max_offset: i64,
    pub last_update_timestamp: i64,
}

/// GET_CONSUME_STATS's body.
#[derive(Debug, Clone, Default)]
pub struct ConsumeStats {
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
    pub consume_tps: f64,
}

/// GET_TOPIC_STATS_INFO's body.
#[derive(Debug, Clone, Default)]
pub struct TopicStatsTable {
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    pub topic_put_tps: Option<f64>,
}

/// Reads `{"offsetTable":{{mq}:{...}}}` after `fastjson::parse`, which turned each object
/// key into its compact JSON text.
fn object_keyed<V: serde::de::DeserializeOwned>(
    table: Option<&Value>,
) -> Result<BTreeMap<MessageQueue, V>, String> {
    let mut entries = BTreeMap::new();
    let Some(table) = table else {
        return Ok(entries);
    };
    let table = table.as_object().ok_or("offsetTable is not an object")?;
    for (key, value) in table {
        let queue: MessageQueue = serde_json::from_str(key)
            .map_err(|e| format!("offsetTable key {key:?} is not a MessageQueue: {e}"))?;
        let value = serde_json::from_value(value.clone())
            .map_err(|e| format!("offsetTable value for {key}: {e}"))?;
        entries.insert(queue, value);
    }
    Ok(entries)
}

impl ConsumeStats {
    pub fn from_value(value: &Value) -> Result<ConsumeStats, String> {
        Ok(ConsumeStats {
            offset_table: object_keyed(value.get("offsetTable"))?,
            consume_tps: value
                .get("consumeTps")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        })
    }

    /// `ConsumeStats.computeTotalDiff`.
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|o| o.broker_offset - o.consumer_offset)
            .sum()
    }
}

impl TopicStatsTable {
    pub fn from_value(value: &Value) -> Result<TopicStatsTable, String> {
        Ok(TopicStatsTable {
            offset_table: object_keyed(value.get("offsetTable"))?,
            topic_put_tps: value.get("topicPutTps").and_then(Value::as_f64),
        })
    }
}

/// One client connection (`Connection`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    pub client_id: String,
    pub client_addr: String,
    pub language: String,
    pub version: i32,
}

/// A subscription as ConsumerConnection lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    pub topic: String,
    pub sub_string: String,
    pub tags_set: Vec<String>,
}

/// GET_CONSUMER_CONNECTION_LIST's body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    pub connection_set: Vec<Connection>,
    pub subscription_table: BTreeMap<String, SubscriptionData>,
    pub consume_type: Option<String>,
    pub message_model: Option<String>,
    pub consume_from_where: Option<String>,
}

impl ConsumerConnection {
    /// `ConsumerConnection.computeMinVersion`.
    pub fn min_version(&self) -> i32 {
        self.connection_set
            .iter()
            .map(|c| c.version)
            .min()
            .unwrap_or(i32::MAX)
    }
}

/// GET_PRODUCER_CONNECTION_LIST's body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    pub connection_set: Vec<Connection>,
}

/// QUERY_TOPIC_CONSUME_BY_WHO's body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    pub group_list: Vec<String>,
}

/// The SubscriptionGroupConfig that UPDATE_AND_CREATE_SUBSCRIPTIONGROUP carries, with the
/// values `updateSubGroup` starts from (Java's field defaults, except that the tool turns
/// consumeBroadcastEnable and consumeFromMinEnable off unless asked).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    pub attributes: BTreeMap<String, String>,
    pub broker_id: i64,
    pub consume_broadcast_enable: bool,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_message_orderly: bool,
    pub consume_timeout_minute: i32,
    pub group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<Value>,
    pub group_sys_flag: i32,
    pub notify_consumer_ids_changed_enable: bool,
    pub retry_max_times: i32,
    pub retry_queue_nums: i32,
    pub which_broker_when_consume_slowly: i64,
}

impl SubscriptionGroupConfig {
    pub fn new(group_name: &str) -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: false,
            consume_enable: true,
            consume_from_min_enable: false,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: group_name.to_owned(),
            group_retry_policy: None,
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl std::fmt::Display for SubscriptionGroupConfig {
    /// Guava's `toStringHelper` form, as Java's tool prints the config it sent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = self
            .group_retry_policy
            .as_ref()
            .map_or_else(|| "default".to_owned(), Value::to_string);
        write!(
            f,
            "SubscriptionGroupConfig{{groupName={}, consumeEnable={}, consumeFromMinEnable={}, \
             consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, \
             retryMaxTimes={}, groupRetryPolicy={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, \
             notifyConsumerIdsChangedEnable={}, groupSysFlag={}, consumeTimeoutMinute={}, \
             subscriptionDataSet=null, attributes={}}}",
            self.group_name,
            self.consume_enable,
            self.consume_from_min_enable,
            self.consume_broadcast_enable,
            self.consume_message_orderly,
            self.retry_queue_nums,
            self.retry_max_times,
            policy,
            self.broker_id,
            self.which_broker_when_consume_slowly,
            self.notify_consumer_ids_changed_enable,
            self.group_sys_flag,
            self.consume_timeout_minute,
            java_map(&self.attributes)
        )
    }
}

/// `AttributeParser.parseToMap`: `+a=b,+c=d,-e` -> {+a: b, +c: d, -e: ""}.
pub fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attributes = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key, value),
            None => (item, ""),
        };
        let adds = key.starts_with('+');
        if !adds && !key.starts_with('-') {
            return Err(format!(
                "attribute {item:?} must start with + (set) or - (remove)"
            ));
        }
        if adds == value.is_empty() {
            return Err(format!(
                "attribute {item:?}: +key needs =value, -key takes none"
            ));
        }
        attributes.insert(key.to_owned(), value.to_owned());
    }
    Ok(attributes)
}

/// Java's `Map.toString`: `{k1=v1, k2=v2}`.
pub fn java_map(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_net::body::fastjson;

    #[test]
    fn reads_java_consume_stats() {
        // The fastjson object-keyed form a Java broker writes (remoting-protocol.md 3.5).
        let text = br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":120,"consumerOffset":118,"lastTimestamp":1700000000000,"pullOffset":120},{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":0,"pullOffset":3}}}"#;
        let stats = ConsumeStats::from_value(&fastjson::parse(text).unwrap()).unwrap();
        let queues: Vec<i32> = stats.offset_table.keys().map(|q| q.queue_id).collect();
        assert_eq!(queues, [0, 1]);
        assert_eq!(stats.total_diff(), 2);
        assert_eq!(stats.consume_tps, 1.5);
    }

    #[test]
    fn reads_topic_stats_without_tps() {
        // 4.x brokers write no topicPutTps.
        let text = br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":9,"minOffset":1}}}"#;
        let stats = TopicStatsTable::from_value(&fastjson::parse(text).unwrap()).unwrap();
        let offset = stats.offset_table.values().next().unwrap();
        assert_eq!((offset.min_offset, offset.max_offset), (1, 9));
        assert_eq!(stats.topic_put_tps, None);
    }

    #[test]
    fn attributes_parse_like_java() {
        let parsed = parse_attributes("+message.type=FIFO,-old").unwrap();
        assert_eq!(java_map(&parsed), "{+message.type=FIFO, -old=}");
        assert!(parse_attributes("noSign=1").is_err());
        assert!(parse_attributes("+noValue").is_err());
    }
}
