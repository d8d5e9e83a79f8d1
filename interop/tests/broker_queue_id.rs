//! queueId -1 ("broker, pick a queue") on a send: every message must be acknowledged on a
//! queue the topic has and be delivered from it, once, to a client nobody on the team wrote
//! (the `rocketmq-client-rust` push consumer). The sends are raw SEND_MESSAGE_V2 frames, since
//! the clients always pick a queue themselves.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::rust_client::{ConsumerOptions, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::wire::RawConnection;
use serde_json::{Map, Value};

const MESSAGES: usize = 200;
const QUEUES: i64 = 4;
/// How long the consumer gets to receive everything (a rebalance may wait for the client's
/// 20 s timer), and how long to keep listening for duplicates after that.
const RECEIVE_WAIT: Duration = Duration::from_secs(45);
const QUIET_WAIT: Duration = Duration::from_secs(2);

fn string_fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), Value::String(value.to_string())))
        .collect()
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn sends_with_queue_id_minus_one_land_on_real_queues_and_are_consumed_once() {
    let test = "broker_queue_id_minus_one";
    let topic = "QueueIdMinusOne";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    let mut connection = RawConnection::connect(broker.addr());
    let queues = QUEUES.to_string();
    let created = connection.request(
        17, // UPDATE_AND_CREATE_TOPIC
        &string_fields(&[
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", &queues),
            ("writeQueueNums", &queues),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
            ("topicSysFlag", "0"),
            ("order", "false"),
        ]),
        &[],
    );
    assert_eq!(created.code(), 0, "create {topic}: {:?}", created.header);

    // body -> the queue its SEND_OK named.
    let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
    let mut refused = Vec::new();
    for index in 0..MESSAGES {
        let body = format!("minus-one-{index}");
        let born = now_millis().to_string();
        let answer = connection.request(
            310, // SEND_MESSAGE_V2
            &string_fields(&[
                ("a", "queue_id_producer"),
                ("b", topic),
                ("c", "TBW102"),
                ("d", &queues),
                ("e", "-1"),
                ("f", "0"),
                ("g", &born),
                ("h", "0"),
                ("i", "TAGS\u{1}minus_one\u{2}WAIT\u{1}true\u{2}"),
                ("j", "0"),
                ("k", "false"),
                ("m", "false"),
            ]),
            body.as_bytes(),
        );
        let queue = answer.header["extFields"]["queueId"]
            .as_str()
            .and_then(|q| q.parse::<i64>().ok());
        match (answer.code(), queue) {
            (0, Some(queue)) => {
                acknowledged.insert(body, queue);
            }
            _ => refused.push(format!("{body}: {:?}", answer.header)),
        }
    }
    assert!(refused.is_empty(), "sends not SEND_OK: {refused:?}");
    let mut per_queue: BTreeMap<i64, usize> = BTreeMap::new();
    for queue in acknowledged.values() {
        *per_queue.entry(*queue).or_insert(0) += 1;
    }
    assert!(
        per_queue.keys().all(|queue| (0..QUEUES).contains(queue)),
        "SEND_OK for queueId -1 named queues outside 0..{QUEUES}: messages per queue {per_queue:?}"
    );

    let client = RustClient::new("queue-id");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let group = format!(
        "queue_id_consumer_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000
    );
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, topic));
    let expected: BTreeSet<&String> = acknowledged.keys().collect();
    let arrived = consumer.wait_until(RECEIVE_WAIT, |received| {
        let bodies: BTreeSet<String> = received.iter().map(|m| m.text()).collect();
        expected.iter().all(|body| bodies.contains(*body))
    });
    if arrived {
        std::thread::sleep(QUIET_WAIT);
    }
    let received = consumer.received();
    consumer.shutdown();
    let mut deliveries: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for message in &received {
        deliveries
            .entry(message.text())
            .or_default()
            .push(i64::from(message.queue_id));
    }
    let missing: Vec<&&String> = expected
        .iter()
        .filter(|body| !deliveries.contains_key(**body))
        .collect();
    let twice: Vec<(&String, &Vec<i64>)> = deliveries.iter().filter(|(_, q)| q.len() > 1).collect();
    let moved: Vec<(&String, &Vec<i64>, i64)> = deliveries
        .iter()
        .filter_map(|(body, queues)| {
            let acked = *acknowledged.get(body)?;
            queues
                .iter()
                .any(|q| *q != acked)
                .then_some((body, queues, acked))
        })
        .collect();
    let extra: Vec<&String> = deliveries
        .keys()
        .filter(|body| !acknowledged.contains_key(*body))
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty() && moved.is_empty() && extra.is_empty(),
        "{} sent, {} deliveries: missing {missing:?}; delivered more than once {twice:?}; \
         delivered from another queue than acknowledged (body, queues, acked) {moved:?}; \
         never sent {extra:?}\n{}",
        acknowledged.len(),
        received.len(),
        broker.log_tail()
    );
}
