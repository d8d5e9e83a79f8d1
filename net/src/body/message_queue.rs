//! `MessageQueue`, the key of every per-queue table: lock sets, ConsumeStats, TopicStatsTable.

use serde::{Deserialize, Serialize};

/// One queue of a topic on one broker. Fields are declared in fastjson's (alphabetical) order so
/// our JSON is byte-for-byte Java's; ordering follows Java's `compareTo` instead (topic, broker
/// name, queue id), which is the order tools print.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

impl MessageQueue {
    pub fn new(topic: &str, broker_name: &str, queue_id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: broker_name.to_owned(),
            queue_id,
            topic: topic.to_owned(),
        }
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &MessageQueue) -> std::cmp::Ordering {
        (&self.topic, &self.broker_name, self.queue_id).cmp(&(
            &other.topic,
            &other.broker_name,
            other.queue_id,
        ))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &MessageQueue) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::WireBody;

    #[test]
    fn matches_java_bytes_both_ways() {
        // fastjson 1.2.83 `JSON.toJSONString` of a MessageQueue("T", "broker-a", 0).
        let java = br#"{"brokerName":"broker-a","queueId":0,"topic":"T"}"#;
        let queue = MessageQueue::new("T", "broker-a", 0);
        assert_eq!(MessageQueue::decode(java).unwrap(), queue);
        assert_eq!(queue.encode(), java);
    }

    #[test]
    fn orders_like_java_compare_to() {
        // Topic first, then broker name, then queue id; not field (alphabetical) order.
        let mut queues = [
            MessageQueue::new("B", "a", 0),
            MessageQueue::new("A", "b", 1),
            MessageQueue::new("A", "b", 0),
        ];
        queues.sort();
        let order: Vec<(&str, i32)> = queues
            .iter()
            .map(|q| (q.topic.as_str(), q.queue_id))
            .collect();
        assert_eq!(order, [("A", 0), ("A", 1), ("B", 0)]);
    }
}
