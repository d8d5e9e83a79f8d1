//! Per-queue offset tables: ConsumeStats (GET_CONSUME_STATS), TopicStatsTable
//! (GET_TOPIC_STATS_INFO) and ConsumerOffsetSerializeWrapper (GET_ALL_CONSUMER_OFFSET and the
//! broker's `consumerOffset.json`).
//!
//! Java keys the first two by `MessageQueue` objects and the third by integers, which fastjson
//! writes as object keys and unquoted numbers (see `fastjson`). Java's tools read the first two
//! only in that form, so these types write it by hand ([`WireBody`]) instead of through serde.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fastjson;
use super::message_queue::MessageQueue;
use super::topic_config::DataVersion;
use super::{BodyError, WireBody};

/// One queue of a ConsumeStats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub last_timestamp: i64,
    pub pull_offset: i64,
}

/// One queue of a TopicStatsTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    pub last_update_timestamp: i64,
    pub max_offset: i64,
    pub min_offset: i64,
}

/// GET_CONSUME_STATS's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStats {
    pub consume_tps: f64,
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl ConsumeStats {
    /// `ConsumeStats.computeTotalDiff`.
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|o| o.broker_offset - o.consumer_offset)
            .sum()
    }
}

impl WireBody for ConsumeStats {
    fn encode(&self) -> Vec<u8> {
        let mut out = b"{\"consumeTps\":".to_vec();
        serde_json::to_writer(&mut out, &self.consume_tps).expect("writing to a Vec");
        out.extend_from_slice(b",\"offsetTable\":");
        fastjson::write_object_keyed(&self.offset_table, &mut out);
        out.push(b'}');
        out
    }

    fn decode(bytes: &[u8]) -> Result<ConsumeStats, BodyError> {
        let value = fastjson::parse(bytes)?;
        Ok(ConsumeStats {
            consume_tps: value
                .get("consumeTps")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            offset_table: object_keyed(value.get("offsetTable"))?,
        })
    }
}

/// GET_BROKER_CONSUME_STATS's answer (4.9's `ConsumeStatsList`): one single-key map
/// `{group: [ConsumeStats per topic]}` per subscription group, fields in fastjson's
/// alphabetical order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStatsList {
    pub broker_addr: String,
    pub consume_stats_list: Vec<(String, Vec<ConsumeStats>)>,
    pub total_diff: i64,
}

impl WireBody for ConsumeStatsList {
    fn encode(&self) -> Vec<u8> {
        let mut out = b"{\"brokerAddr\":".to_vec();
        serde_json::to_writer(&mut out, &self.broker_addr).expect("writing to a Vec");
        out.extend_from_slice(b",\"consumeStatsList\":[");
        for (index, (group, stats)) in self.consume_stats_list.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.push(b'{');
            serde_json::to_writer(&mut out, group).expect("writing to a Vec");
            out.extend_from_slice(b":[");
            for (index, one) in stats.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&one.encode());
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"],\"totalDiff\":");
        out.extend_from_slice(self.total_diff.to_string().as_bytes());
        out.push(b'}');
        out
    }

    fn decode(bytes: &[u8]) -> Result<ConsumeStatsList, BodyError> {
        let value = fastjson::parse(bytes)?;
        let mut consume_stats_list = Vec::new();
        if let Some(list) = value.get("consumeStatsList") {
            let list = list
                .as_array()
                .ok_or_else(|| BodyError::Shape("consumeStatsList is not an array".into()))?;
            for entry in list {
                let entry = entry.as_object().ok_or_else(|| {
                    BodyError::Shape("a consumeStatsList entry is not an object".into())
                })?;
                for (group, stats) in entry {
                    let stats = stats.as_array().ok_or_else(|| {
                        BodyError::Shape(format!("consumeStatsList[{group}] is not an array"))
                    })?;
                    let stats = stats
                        .iter()
                        .map(|one| {
                            Ok(ConsumeStats {
                                consume_tps: one
                                    .get("consumeTps")
                                    .and_then(Value::as_f64)
                                    .unwrap_or(0.0),
                                offset_table: object_keyed(one.get("offsetTable"))?,
                            })
                        })
                        .collect::<Result<Vec<_>, BodyError>>()?;
                    consume_stats_list.push((group.clone(), stats));
                }
            }
        }
        Ok(ConsumeStatsList {
            broker_addr: value
                .get("brokerAddr")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            consume_stats_list,
            total_diff: value.get("totalDiff").and_then(Value::as_i64).unwrap_or(0),
        })
    }
}

/// GET_TOPIC_STATS_INFO's answer. 4.x brokers write no `topicPutTps`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopicStatsTable {
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    pub topic_put_tps: Option<f64>,
}

impl WireBody for TopicStatsTable {
    fn encode(&self) -> Vec<u8> {
        let mut out = b"{\"offsetTable\":".to_vec();
        fastjson::write_object_keyed(&self.offset_table, &mut out);
        if let Some(tps) = self.topic_put_tps {
            out.extend_from_slice(b",\"topicPutTps\":");
            serde_json::to_writer(&mut out, &tps).expect("writing to a Vec");
        }
        out.push(b'}');
        out
    }

    fn decode(bytes: &[u8]) -> Result<TopicStatsTable, BodyError> {
        let value = fastjson::parse(bytes)?;
        Ok(TopicStatsTable {
            offset_table: object_keyed(value.get("offsetTable"))?,
            topic_put_tps: value.get("topicPutTps").and_then(Value::as_f64),
        })
    }
}

/// Reads `{{mq}:{...}}` after `fastjson::parse`, which turned each object key into its
/// compact JSON text.
pub(super) fn object_keyed<V: serde::de::DeserializeOwned>(
    table: Option<&Value>,
) -> Result<BTreeMap<MessageQueue, V>, BodyError> {
    let mut entries = BTreeMap::new();
    let Some(table) = table else {
        return Ok(entries);
    };
    let table = table
        .as_object()
        .ok_or_else(|| BodyError::Shape("offsetTable is not an object".into()))?;
    for (key, value) in table {
        let queue: MessageQueue = serde_json::from_str(key).map_err(|e| {
            BodyError::Shape(format!(
                "offsetTable key {key:?} is not a MessageQueue: {e}"
            ))
        })?;
        let value = serde_json::from_value(value.clone())
            .map_err(|e| BodyError::Shape(format!("offsetTable value for {key}: {e}")))?;
        entries.insert(queue, value);
    }
    Ok(entries)
}

/// Every committed consumer offset: `"topic@group"` -> queue id -> offset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    /// Null in GET_ALL_CONSUMER_OFFSET's answer, set in `consumerOffset.json`.
    pub data_version: Option<DataVersion>,
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl ConsumerOffsetSerializeWrapper {
    /// Splits a `topic@group` key; topics and groups may not contain `@`.
    pub fn split_key(key: &str) -> Option<(&str, &str)> {
        key.split_once('@')
    }
}

impl WireBody for ConsumerOffsetSerializeWrapper {
    /// Queue ids are written unquoted (`{0:5}`), as fastjson writes `Map<Integer, Long>`.
    fn encode(&self) -> Vec<u8> {
        let mut out = b"{".to_vec();
        if let Some(version) = &self.data_version {
            out.extend_from_slice(b"\"dataVersion\":");
            serde_json::to_writer(&mut out, version).expect("writing to a Vec");
            out.push(b',');
        }
        out.extend_from_slice(b"\"offsetTable\":{");
        for (index, (key, queues)) in self.offset_table.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, key).expect("writing to a Vec");
            out.extend_from_slice(b":{");
            for (index, (queue_id, offset)) in queues.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!("{queue_id}:{offset}").as_bytes());
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}}");
        out
    }

    fn decode(bytes: &[u8]) -> Result<ConsumerOffsetSerializeWrapper, BodyError> {
        fastjson::from_slice(bytes).map_err(BodyError::Shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_stats_matches_java_bytes_both_ways() {
        // fastjson 1.2.83 `JSON.toJSONString` of a ConsumeStats with one queue.
        let java = br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":120,"consumerOffset":118,"lastTimestamp":1700000000000,"pullOffset":120}}}"#;
        let stats = ConsumeStats {
            consume_tps: 1.5,
            offset_table: BTreeMap::from([(
                MessageQueue::new("T", "broker-a", 1),
                OffsetWrapper {
                    broker_offset: 120,
                    consumer_offset: 118,
                    last_timestamp: 1_700_000_000_000,
                    pull_offset: 120,
                },
            )]),
        };
        assert_eq!(ConsumeStats::decode(java).unwrap(), stats);
        assert_eq!(stats.encode(), java);
        assert_eq!(stats.total_diff(), 2);
    }

    #[test]
    fn consume_stats_list_matches_java_bytes_both_ways() {
        // fastjson of a 4.9 ConsumeStatsList: one group, one topic, one queue.
        let java = br#"{"brokerAddr":"127.0.0.1:10911","consumeStatsList":[{"G":[{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":0,"pullOffset":0}}}]}],"totalDiff":3}"#;
        let list = ConsumeStatsList {
            broker_addr: "127.0.0.1:10911".into(),
            consume_stats_list: vec![(
                "G".into(),
                vec![ConsumeStats {
                    consume_tps: 0.0,
                    offset_table: BTreeMap::from([(
                        MessageQueue::new("T", "b", 0),
                        OffsetWrapper {
                            broker_offset: 5,
                            consumer_offset: 2,
                            ..Default::default()
                        },
                    )]),
                }],
            )],
            total_diff: 3,
        };
        assert_eq!(list.encode(), java);
        assert_eq!(ConsumeStatsList::decode(java).unwrap(), list);
        let empty = ConsumeStatsList::default();
        assert_eq!(ConsumeStatsList::decode(&empty.encode()).unwrap(), empty);
        assert!(ConsumeStatsList::decode(br#"{"consumeStatsList":{}}"#).is_err());
    }

    #[test]
    fn consume_stats_sorts_queues_like_java_compare_to() {
        let text = br#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"brokerOffset":3},{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":1}}}"#;
        let stats = ConsumeStats::decode(text).unwrap();
        let queues: Vec<i32> = stats.offset_table.keys().map(|q| q.queue_id).collect();
        assert_eq!(queues, [0, 1]);
        assert_eq!(ConsumeStats::decode(&stats.encode()).unwrap(), stats);
    }

    #[test]
    fn topic_stats_matches_java_bytes_both_ways() {
        // Java's topicPutTps is a primitive double, so a 5.x broker always writes it.
        let java = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":9,"minOffset":1}},"topicPutTps":0.0}"#;
        let stats = TopicStatsTable {
            offset_table: BTreeMap::from([(
                MessageQueue::new("T", "broker-a", 0),
                TopicOffset {
                    last_update_timestamp: 1_700_000_000_000,
                    max_offset: 9,
                    min_offset: 1,
                },
            )]),
            topic_put_tps: Some(0.0),
        };
        assert_eq!(TopicStatsTable::decode(java).unwrap(), stats);
        assert_eq!(stats.encode(), java);
    }

    #[test]
    fn reads_4x_topic_stats_without_tps() {
        let text = br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":9,"minOffset":1}}}"#;
        let stats = TopicStatsTable::decode(text).unwrap();
        assert_eq!(stats.topic_put_tps, None);
        assert_eq!(stats.encode(), text);
    }

    #[test]
    fn consumer_offsets_match_java_bytes_both_ways() {
        // fastjson writes Map<Integer, Long> keys unquoted; dataVersion null is left out.
        let java = br#"{"offsetTable":{"T@G1":{0:5,1:7}}}"#;
        let wrapper = ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: BTreeMap::from([("T@G1".to_owned(), BTreeMap::from([(0, 5), (1, 7)]))]),
        };
        assert_eq!(
            ConsumerOffsetSerializeWrapper::decode(java).unwrap(),
            wrapper
        );
        assert_eq!(wrapper.encode(), java);
        assert_eq!(
            ConsumerOffsetSerializeWrapper::split_key("T@G1"),
            Some(("T", "G1"))
        );
    }

    #[test]
    fn consumer_offsets_keep_a_data_version() {
        let text = br#"{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":9},"offsetTable":{"T@G":{3:1}}}"#;
        let wrapper = ConsumerOffsetSerializeWrapper::decode(text).unwrap();
        assert_eq!(wrapper.data_version.unwrap().counter, 2);
        assert_eq!(wrapper.encode(), text);
    }

    #[test]
    fn bad_tables_are_errors_not_panics() {
        assert!(ConsumeStats::decode(br#"{"offsetTable":{"notAQueue":{}}}"#).is_err());
        assert!(TopicStatsTable::decode(br#"{"offsetTable":[1]}"#).is_err());
        assert!(
            ConsumerOffsetSerializeWrapper::decode(br#"{"offsetTable":{"T@G":{x:1}}}"#).is_err()
        );
    }
}
