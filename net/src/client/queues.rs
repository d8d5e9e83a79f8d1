//! A topic route turned into queues, as Java's `MQClientInstance` does it
//! (`topicRouteData2TopicPublishInfo` and `topicRouteData2TopicSubscribeInfo`).

use std::collections::BTreeMap;

use crate::body::{perm, MessageQueue, QueueData, TopicRouteData, MASTER_ID};

/// A queue and the address of the broker that serves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueAt {
    pub queue: MessageQueue,
    pub addr: String,
}

/// `writeQueueNums` queues of every writable broker that has a master, sent to the master:
/// a replica never takes writes.
pub fn publish_queues(route: &TopicRouteData, topic: &str) -> Vec<QueueAt> {
    queues(
        route,
        topic,
        perm::WRITE,
        |q| q.write_queue_nums,
        |addrs| addrs.get(&MASTER_ID).cloned(),
    )
}

/// `readQueueNums` queues of every readable broker, read from the master, or from a replica
/// when the master is gone.
pub fn subscribe_queues(route: &TopicRouteData, topic: &str) -> Vec<QueueAt> {
    queues(route, topic, perm::READ, |q| q.read_queue_nums, select_addr)
}

/// `BrokerData.selectBrokerAddr`: the master when there is one, else any replica.
pub fn select_addr(addrs: &BTreeMap<i64, String>) -> Option<String> {
    addrs
        .get(&MASTER_ID)
        .or_else(|| addrs.values().next())
        .cloned()
}

/// The distinct broker addresses of `queues`, in order.
pub fn broker_addrs(queues: &[QueueAt]) -> Vec<String> {
    let mut addrs: Vec<String> = queues.iter().map(|at| at.addr.clone()).collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

fn queues(
    route: &TopicRouteData,
    topic: &str,
    needed: i32,
    count: impl Fn(&QueueData) -> i32,
    addr_of: impl Fn(&BTreeMap<i64, String>) -> Option<String>,
) -> Vec<QueueAt> {
    let mut found = Vec::new();
    for queue_data in route.queue_datas.iter().filter(|q| q.perm & needed != 0) {
        let Some(addr) = route
            .broker_datas
            .iter()
            .find(|data| data.broker_name == queue_data.broker_name)
            .and_then(|data| addr_of(&data.broker_addrs))
        else {
            continue;
        };
        for queue_id in 0..count(queue_data).max(0) {
            found.push(QueueAt {
                queue: MessageQueue::new(topic, &queue_data.broker_name, queue_id),
                addr: addr.clone(),
            });
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::BrokerData;

    #[test]
    fn queues_follow_perm_and_masters() {
        // Broker a: master, read+write. b: read only. c: replica only (its master left).
        let mut route = TopicRouteData::default();
        for (name, perm_bits, broker_id) in [("a", 6, 0), ("b", 4, 0), ("c", 6, 1)] {
            route
                .queue_datas
                .push(QueueData::new(name, 2, 3, perm_bits, 0));
            route.broker_datas.push(BrokerData {
                broker_addrs: BTreeMap::from([(broker_id, format!("{name}:1"))]),
                broker_name: name.into(),
                ..BrokerData::default()
            });
        }
        let writable = publish_queues(&route, "T");
        assert_eq!(writable.len(), 3, "{writable:?}"); // Only a's master takes writes.
        assert!(writable.iter().all(|at| at.addr == "a:1"));
        assert_eq!(writable[0].queue, MessageQueue::new("T", "a", 0));
        let readable = subscribe_queues(&route, "T");
        assert_eq!(readable.len(), 6); // c's replica serves reads.
        assert_eq!(broker_addrs(&readable), ["a:1", "b:1", "c:1"]);
    }
}
