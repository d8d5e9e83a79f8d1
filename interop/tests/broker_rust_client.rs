//! Issue 4's Show, rocketmq-client-rust half: the `rocketmq-client-rust` 1.0 crate from
//! crates.io (nobody on the team wrote it) produces to and consumes from real `mqnamesrv` and
//! `mqbroker` processes on loopback. Each test starts its own name server and broker (2
//! shards) on free ports; logs land in `target/interop-logs/<test>/`.
//!
//! What the client exposes, and so what is covered: sync (`send_with_timeout`), async
//! (`send_with_callback`), oneway (`send_oneway`), batch (`send_batch_with_timeout`) and
//! selector (`send_with_selector_timeout`) sends; push consumers, clustering and broadcasting,
//! concurrent and orderly, from the first offset, the last offset, or a timestamp.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::rust_client::{
    message, wait_for_bodies_across, ConsumerOptions, Producer, PushConsumer, QueueAdmin,
    ReceivedMessage, RustClient, StartFrom,
};
use ramjet_interop::servers::{Broker, Namesrv};

/// How long a consumer gets to receive what a test expects. Generous: a rebalance that waits
/// for the client's 20 s timer instead of NOTIFY_CONSUMER_IDS_CHANGED still passes.
const RECEIVE_WAIT: Duration = Duration::from_secs(45);
/// After the expected messages arrived, how long to keep listening for extras.
const QUIET_WAIT: Duration = Duration::from_secs(2);

/// A name server and a broker registered with it, both for `test`.
fn servers(test: &str) -> (Namesrv, Broker) {
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    (namesrv, broker)
}

/// A group name unique to this test run. Broadcasting consumers keep their offsets in a local
/// file keyed by group (`~/.rocketmq_offsets`), so a name reused across runs would resume from
/// an earlier run's offsets.
fn group(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Bodies (as text) -> how many times each arrived.
fn body_counts(received: &[ReceivedMessage]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in received {
        *counts.entry(message.text()).or_insert(0) += 1;
    }
    counts
}

/// Asserts `received` holds every body of `expected` exactly once and nothing else.
fn assert_exactly(received: &[ReceivedMessage], expected: &BTreeSet<String>, what: &str) {
    let counts = body_counts(received);
    let missing: Vec<&String> = expected
        .iter()
        .filter(|body| !counts.contains_key(*body))
        .collect();
    let extra: Vec<&String> = counts
        .keys()
        .filter(|body| !expected.contains(*body))
        .collect();
    let duplicated: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && duplicated.is_empty(),
        "{what}: {} expected, {} received; missing {missing:?}; extra {extra:?}; duplicated \
         {duplicated:?}",
        expected.len(),
        received.len()
    );
}

/// Waits for `consumer` to hold every body of `expected`, then [`QUIET_WAIT`] more for
/// extras, and asserts it got exactly `expected`.
fn expect_exactly(
    consumer: &PushConsumer,
    expected: &BTreeSet<String>,
    what: &str,
    broker: &Broker,
) {
    let arrived = consumer.wait_for_bodies(expected, 0, RECEIVE_WAIT);
    if arrived {
        std::thread::sleep(QUIET_WAIT);
    }
    let received = consumer.received();
    if !arrived {
        eprintln!("{}", broker.log_tail());
    }
    assert_exactly(&received, expected, what);
}

#[test]
fn sync_async_oneway_and_batch_sends_reach_a_clustering_consumer() {
    // Proves the four send kinds the Rust client has (sync, async with callback, oneway, and
    // one batch) all store on an auto-created topic (TBW102), with SEND_OK, 4 queues and
    // sane offsets in the replies, and that a clustering push consumer from the first offset
    // receives exactly those 40 messages (body, tag and key intact; msgId = the UNIQ_KEY the
    // producer reported), no more, no duplicates.
    let test = "broker_rust_send_kinds";
    let topic = "RustSendKinds";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("send-kinds");
    let producer = client.start_producer(&namesrv.addr, &group("rust_send_kinds_producer"));
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new(); // body -> (tag, key)
    let mut sent_ids = BTreeSet::new();
    let mut replies = Vec::new(); // (body, SendResult) of the sync and async sends

    for index in 0..10 {
        let body = format!("sync-{index}");
        let key = format!("key-{body}");
        let result = producer
            .send(message(topic, "TagSync", &key, &body))
            .unwrap_or_else(|error| panic!("sync send {index}: {error}\n{}", broker.log_tail()));
        assert_eq!(result.status, "SendOk", "{result:?}");
        assert_eq!(
            result.broker_name.as_deref(),
            Some("broker-a"),
            "{result:?}"
        );
        let queue = result.queue_id.expect("a sync SendResult names its queue");
        assert!(
            (0..4).contains(&queue),
            "queue {queue} of an auto-created topic: {result:?}"
        );
        assert!(
            result
                .offset_msg_id
                .as_ref()
                .is_some_and(|id| id.len() == 32),
            "{result:?}"
        );
        sent_ids.insert(
            result
                .msg_id
                .clone()
                .expect("a sync SendResult has a msgId"),
        );
        replies.push((body.clone(), result));
        expected.insert(body, ("TagSync".into(), key));
    }

    let async_messages = (0..10)
        .map(|index| {
            let body = format!("async-{index}");
            let key = format!("key-{body}");
            expected.insert(body.clone(), ("TagAsync".into(), key.clone()));
            message(topic, "TagAsync", &key, &body)
        })
        .collect();
    for (index, outcome) in producer.send_async(async_messages).into_iter().enumerate() {
        let result = outcome
            .unwrap_or_else(|error| panic!("async send {index}: {error}\n{}", broker.log_tail()));
        assert_eq!(result.status, "SendOk", "{result:?}");
        sent_ids.insert(
            result
                .msg_id
                .clone()
                .expect("an async SendResult has a msgId"),
        );
        replies.push((format!("async-{index}"), result));
    }

    for index in 0..10 {
        let body = format!("oneway-{index}");
        let key = format!("key-{body}");
        producer
            .send_oneway(message(topic, "TagOneway", &key, &body))
            .unwrap_or_else(|error| panic!("oneway send {index}: {error}"));
        expected.insert(body, ("TagOneway".into(), key));
    }

    let batch = (0..10)
        .map(|index| {
            let body = format!("batch-{index}");
            let key = format!("key-{body}");
            expected.insert(body.clone(), ("TagBatch".into(), key.clone()));
            message(topic, "TagBatch", &key, &body)
        })
        .collect();
    let result = producer
        .send_batch(batch)
        .unwrap_or_else(|error| panic!("batch send: {error}\n{}", broker.log_tail()));
    assert_eq!(result.status, "SendOk", "{result:?}");
    // A batch's offsetMsgId is the stored messages' offsetMsgIds joined with ','. (Its msgId
    // is checked in batch_send_result_lists_every_message_id.)
    let batch_offset_ids: BTreeSet<String> = result
        .offset_msg_id
        .clone()
        .expect("a batch SendResult has offsetMsgIds")
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(batch_offset_ids.len(), 10, "{result:?}");

    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("rust_send_kinds_consumer"), topic),
    );
    let bodies: BTreeSet<String> = expected.keys().cloned().collect();
    expect_exactly(&consumer, &bodies, "send kinds", &broker);
    let received = consumer.received();
    // Shown when an assertion below fails (test output is captured otherwise).
    let mut table: Vec<&ReceivedMessage> = received.iter().collect();
    table.sort_by_key(|m| (m.queue_id, m.queue_offset));
    for m in &table {
        eprintln!(
            "delivered: queue {} offset {} {} msg_id {} uniq {:?} stored at {}",
            m.queue_id,
            m.queue_offset,
            m.text(),
            m.msg_id,
            m.uniq_key,
            m.store_timestamp
        );
    }
    for (body, reply) in &replies {
        eprintln!(
            "reply: {body} queue {:?} offset {} msgId {:?} offsetMsgId {:?}",
            reply.queue_id, reply.queue_offset, reply.msg_id, reply.offset_msg_id
        );
    }
    for message in &received {
        let (tag, key) = &expected[&message.text()];
        assert_eq!(message.topic, topic, "{message:?}");
        assert_eq!(message.tags.as_ref(), Some(tag), "{message:?}");
        assert_eq!(&message.keys, &vec![key.clone()], "{message:?}");
        assert!((0..4).contains(&message.queue_id), "{message:?}");
        assert_eq!(message.reconsume_times, 0, "a first delivery: {message:?}");
    }
    let batch_delivered: BTreeSet<String> = received
        .iter()
        .filter(|m| m.text().starts_with("batch-"))
        .map(|m| m.msg_id.clone())
        .collect();
    assert_eq!(
        batch_delivered, batch_offset_ids,
        "the batch reply's offsetMsgIds vs the delivered batch"
    );
    let received_ids: BTreeSet<String> =
        received.iter().filter_map(|m| m.uniq_key.clone()).collect();
    let unknown: Vec<&String> = sent_ids.difference(&received_ids).collect();
    assert!(
        unknown.is_empty(),
        "msgIds the producer reported but no delivery carried as UNIQ_KEY: {unknown:?}"
    );
    // Each acknowledged send's reply (queueId, queueOffset, offsetMsgId) describes the
    // message a consumer gets: the client's MessageExt::msg_id is the offsetMsgId it decodes
    // from the record's store host and commit log offset.
    let by_uniq: BTreeMap<&str, &ReceivedMessage> = received
        .iter()
        .filter_map(|m| m.uniq_key.as_deref().map(|key| (key, m)))
        .collect();
    let mismatches: Vec<String> = replies
        .iter()
        .filter_map(|(body, reply)| {
            let delivered = by_uniq.get(reply.msg_id.as_deref()?)?;
            let same = delivered.queue_id == reply.queue_id.unwrap_or(-1)
                && delivered.queue_offset == reply.queue_offset as i64
                && Some(&delivered.msg_id) == reply.offset_msg_id.as_ref();
            (!same).then(|| {
                format!(
                    "{body}: reply queue {:?} offset {} offsetMsgId {:?}; delivered queue {} \
                     offset {} msg_id {}",
                    reply.queue_id,
                    reply.queue_offset,
                    reply.offset_msg_id,
                    delivered.queue_id,
                    delivered.queue_offset,
                    delivered.msg_id
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "send replies that disagree with the delivered message:\n{}",
        mismatches.join("\n")
    );
    // Offsets within each queue are distinct and dense from 0: 40 messages, 4 queues.
    let mut per_queue: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for message in &received {
        per_queue
            .entry(message.queue_id)
            .or_default()
            .push(message.queue_offset);
    }
    for (queue, offsets) in &mut per_queue {
        offsets.sort();
        let dense: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, &dense, "queue {queue} offsets");
    }
}

#[test]
fn two_consumers_split_the_queues_and_the_survivor_takes_over() {
    // Proves clustering rebalance against the broker: two push consumers of one group split
    // the 4 queues (each receives some of a round sent after they settled, on disjoint
    // queues, together exactly all of it); when one shuts down (UNREGISTER_CLIENT, so the
    // broker notifies the group), the other takes every queue and receives everything sent
    // afterwards, nothing lost.
    let test = "broker_rust_split_queues";
    let topic = "RustSplitQueues";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("split");
    let producer = client.start_producer(&namesrv.addr, &group("rust_split_producer"));
    let consumer_group = group("rust_split_consumer");
    let send_round = |round: &str, count: usize| -> BTreeSet<String> {
        (0..count)
            .map(|index| {
                let body = format!("{round}-{index}");
                producer
                    .send(message(topic, "TagA", &body, &body))
                    .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
                body
            })
            .collect()
    };
    // The topic must exist before the consumers look up its route.
    let mut all_sent = send_round("warmup", 8);

    let mut first =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&consumer_group, topic));
    let second =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&consumer_group, topic));

    // Settle: send small rounds (2 per queue) until both consumers receive something in the
    // same round, i.e. each owns queues.
    let settle_deadline = Instant::now() + RECEIVE_WAIT;
    let mut settled = false;
    for round in 0.. {
        let (before_first, before_second) = (first.count(), second.count());
        let sent = send_round(&format!("settle{round}"), 8);
        all_sent.extend(sent);
        let both = |a: &PushConsumer, b: &PushConsumer| {
            a.count() > before_first && b.count() > before_second
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && !both(&first, &second) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if both(&first, &second) {
            settled = true;
            break;
        }
        if Instant::now() > settle_deadline {
            break;
        }
    }
    assert!(
        settled,
        "the two consumers never both received messages: first {}, second {}\n{}",
        first.count(),
        second.count(),
        broker.log_tail()
    );
    // Wait for the settle rounds to drain everywhere, so the measured round starts clean.
    assert!(
        wait_for_bodies_across(&[&first, &second], &all_sent, RECEIVE_WAIT),
        "warm-up and settle rounds were not all delivered"
    );
    std::thread::sleep(QUIET_WAIT);
    let (mark_first, mark_second) = (first.count(), second.count());

    let split_round = send_round("split", 40);
    all_sent.extend(split_round.iter().cloned());
    let deadline = Instant::now() + RECEIVE_WAIT;
    let round_received = |a: &PushConsumer, b: &PushConsumer| {
        let mut both = a.received()[mark_first..].to_vec();
        both.extend(b.received()[mark_second..].iter().cloned());
        both
    };
    while Instant::now() < deadline && round_received(&first, &second).len() < split_round.len() {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(QUIET_WAIT);
    let got_first = first.received()[mark_first..].to_vec();
    let got_second = second.received()[mark_second..].to_vec();
    assert_exactly(
        &round_received(&first, &second),
        &split_round,
        "the split round, both consumers together",
    );
    assert!(
        !got_first.is_empty() && !got_second.is_empty(),
        "each consumer should get part of the round: first {}, second {}",
        got_first.len(),
        got_second.len()
    );
    let queues = |got: &[ReceivedMessage]| got.iter().map(|m| m.queue_id).collect::<BTreeSet<_>>();
    assert!(
        queues(&got_first).is_disjoint(&queues(&got_second)),
        "both consumers pulled one queue: first {:?}, second {:?}",
        queues(&got_first),
        queues(&got_second)
    );

    // The first consumer leaves; the second must end up with every queue.
    first.shutdown();
    let mark_second = second.count();
    let after_round = send_round("after", 40);
    all_sent.extend(after_round.iter().cloned());
    let arrived = second.wait_for_bodies(&after_round, mark_second, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    if !arrived {
        eprintln!("{}", broker.log_tail());
    }
    let got_after = second.received()[mark_second..].to_vec();
    let bodies_after: BTreeSet<String> = got_after.iter().map(ReceivedMessage::text).collect();
    let missing: Vec<&String> = after_round.difference(&bodies_after).collect();
    assert!(
        missing.is_empty(),
        "the survivor missed messages sent after the other left: {missing:?}"
    );
    assert_eq!(
        queues(&got_after),
        (0..4).collect(),
        "the survivor should read all 4 queues"
    );

    // Over the whole test, nothing was lost and nothing foreign arrived (duplicates around a
    // rebalance are allowed: delivery is at least once).
    let everything: Vec<ReceivedMessage> = first
        .received()
        .into_iter()
        .chain(second.received())
        .collect();
    let bodies: BTreeSet<String> = everything.iter().map(ReceivedMessage::text).collect();
    assert_eq!(bodies, all_sent, "all delivered bodies vs all sent");
}

#[test]
fn broadcasting_consumers_each_receive_everything() {
    // Proves BROADCASTING: two consumers of one group (different client ids) each receive
    // every message, both the ones stored before they started (from the first offset) and
    // the ones sent while they run; the broker does not split the queues between them.
    let test = "broker_rust_broadcasting";
    let topic = "RustBroadcasting";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("broadcast");
    let producer = client.start_producer(&namesrv.addr, &group("rust_broadcast_producer"));
    let mut expected = BTreeSet::new();
    for index in 0..20 {
        let body = format!("before-{index}");
        producer
            .send(message(topic, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        expected.insert(body);
    }
    let consumer_group = group("rust_broadcast_consumer");
    let consumers: Vec<PushConsumer> = ["one", "two"]
        .iter()
        .map(|name| {
            let mut options = ConsumerOptions::new(&consumer_group, topic);
            options.broadcasting = true;
            options.instance_name = Some(format!("broadcast-{name}-{}", std::process::id()));
            client.start_push_consumer(&namesrv.addr, &options)
        })
        .collect();
    for index in 0..20 {
        let body = format!("during-{index}");
        producer
            .send(message(topic, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        expected.insert(body);
    }
    for (index, consumer) in consumers.iter().enumerate() {
        expect_exactly(
            consumer,
            &expected,
            &format!("broadcasting consumer {index}"),
            &broker,
        );
    }
}

#[test]
fn orderly_consumer_sees_each_keys_messages_in_send_order() {
    // Proves per-key order end to end: a selector sends 5 keys x 30 messages (same key ->
    // same queue), half before and half while an orderly consumer (LOCK_BATCH_MQ, then
    // pulls) runs; for every key the consumer sees sequence 0..30 in order, on one queue,
    // with nothing missing, repeated or foreign.
    let test = "broker_rust_orderly";
    let topic = "RustOrderly";
    let (keys, per_key) = (5u64, 30usize);
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("orderly");
    let producer = client.start_producer(&namesrv.addr, &group("rust_orderly_producer"));
    let mut queue_of_key: BTreeMap<u64, i32> = BTreeMap::new();
    let mut send = |sequence: usize| {
        for key in 0..keys {
            let body = format!("order-{key}-{sequence}");
            let result = producer
                .send_orderly(message(topic, "TagA", &format!("order-{key}"), &body), key)
                .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
            let queue = result.queue_id.expect("a SendResult names its queue");
            assert_eq!(
                *queue_of_key.entry(key).or_insert(queue),
                queue,
                "the selector moved key {key}"
            );
        }
    };
    for sequence in 0..per_key / 2 {
        send(sequence);
    }
    let mut options = ConsumerOptions::new(&group("rust_orderly_consumer"), topic);
    options.orderly = true;
    let consumer = client.start_push_consumer(&namesrv.addr, &options);
    for sequence in per_key / 2..per_key {
        send(sequence);
    }
    let expected: BTreeSet<String> = (0..keys)
        .flat_map(|key| (0..per_key).map(move |sequence| format!("order-{key}-{sequence}")))
        .collect();
    expect_exactly(&consumer, &expected, "orderly", &broker);

    let mut sequences: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for message in consumer.received() {
        let text = message.text();
        let mut parts = text.strip_prefix("order-").unwrap().split('-');
        let key: u64 = parts.next().unwrap().parse().unwrap();
        let sequence: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(message.queue_id, queue_of_key[&key], "{message:?}");
        sequences.entry(key).or_default().push(sequence);
    }
    for (key, seen) in &sequences {
        let in_order: Vec<usize> = (0..per_key).collect();
        assert_eq!(seen, &in_order, "key {key} was consumed out of order");
    }
}

#[test]
fn tag_subscription_receives_only_the_listed_tags() {
    // Proves tag filtering with the Rust client's "TagA || TagB" (written with spaces, so its
    // heartbeat codeSet holds hashes of "TagA " and " TagB"; docs/remoting-protocol.md section 11 item 9):
    // of TagA, TagB and TagC messages the consumer receives exactly the TagA and TagB ones.
    let test = "broker_rust_tags";
    let topic = "RustTags";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("tags");
    let producer = client.start_producer(&namesrv.addr, &group("rust_tags_producer"));
    let mut expected = BTreeSet::new();
    let mut send_round = |round: &str| {
        for index in 0..10 {
            for tag in ["TagA", "TagB", "TagC"] {
                let body = format!("{round}-{tag}-{index}");
                producer
                    .send(message(topic, tag, &body, &body))
                    .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
                if tag != "TagC" {
                    expected.insert(body);
                }
            }
        }
    };
    send_round("before");
    let mut options = ConsumerOptions::new(&group("rust_tags_consumer"), topic);
    options.expression = "TagA || TagB".to_string();
    let consumer = client.start_push_consumer(&namesrv.addr, &options);
    // Some more while the consumer's pulls are parked (long polling wakes on matching tags).
    send_round("during");
    expect_exactly(&consumer, &expected, "TagA || TagB", &broker);
    for message in consumer.received() {
        let tag = message.tags.clone().unwrap_or_default();
        assert!(tag == "TagA" || tag == "TagB", "{message:?}");
    }
}

/// Sends `count` messages `<prefix>-<i>` (tag TagA, key = body) and returns their bodies.
fn send_bodies(
    producer: &Producer,
    topic: &str,
    prefix: &str,
    count: usize,
    broker: &Broker,
) -> BTreeSet<String> {
    (0..count)
        .map(|index| {
            let body = format!("{prefix}-{index}");
            producer
                .send(message(topic, "TagA", &body, &body))
                .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
            body
        })
        .collect()
}

/// [`send_bodies`], also returning the queue each message went to.
fn send_bodies_with_queues(
    producer: &Producer,
    topic: &str,
    prefix: &str,
    count: usize,
    broker: &Broker,
) -> (BTreeSet<String>, Vec<i32>) {
    let mut bodies = BTreeSet::new();
    let mut queues = Vec::new();
    for index in 0..count {
        let body = format!("{prefix}-{index}");
        let sent = producer
            .send(message(topic, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        queues.push(sent.queue_id.expect("a SendResult names its queue"));
        bodies.insert(body);
    }
    (bodies, queues)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn consumers_start_from_first_last_or_timestamp_and_resume_from_committed_offsets() {
    // Proves where a push consumer starts: a new group from the FIRST offset gets what was
    // stored before it existed; a new group from the LAST offset on a young queue gets it too
    // (QUERY_CONSUMER_OFFSET answers 0 while the queue's min offset is 0, as Apache does);
    // SEARCH_OFFSET_BY_TIMESTAMP (the client's search_offset) puts a timestamp between two
    // batches right after the first batch in every queue, and a TIMESTAMP consumer on young
    // queues reads from 0 as Apache's would; a group that consumed the first batch and shut
    // down (committing its offsets) resumes after it: the second batch arrives, the first is
    // not delivered again.
    let test = "broker_rust_start_offsets";
    let topic = "RustStartOffsets";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("offsets");
    let mut producer = client.start_producer(&namesrv.addr, &group("rust_offsets_producer"));
    let (first_batch, first_queues) =
        send_bodies_with_queues(&producer, topic, "first", 20, &broker);

    let resume_group = group("rust_offsets_resume");
    let mut from_first =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&resume_group, topic));
    expect_exactly(
        &from_first,
        &first_batch,
        "a new group from the first offset",
        &broker,
    );
    let last_stored = from_first
        .received()
        .iter()
        .map(|m| m.store_timestamp)
        .max()
        .unwrap();
    from_first.shutdown(); // Persists its offsets (UPDATE_CONSUMER_OFFSET) and unregisters.

    let mut options = ConsumerOptions::new(&group("rust_offsets_last"), topic);
    options.start_from = StartFrom::LastOffset;
    let mut from_last = client.start_push_consumer(&namesrv.addr, &options);
    expect_exactly(
        &from_last,
        &first_batch,
        "a new group from the last offset, young queues",
        &broker,
    );
    from_last.shutdown();

    // The client takes the timestamp as yyyyMMddHHmmss: whole seconds. The boundary is the
    // first whole second after the first batch was stored; the second batch is stored after it.
    let boundary = (last_stored / 1000 + 1) * 1000;
    while now_millis() < boundary + 20 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (second_batch, second_queues) =
        send_bodies_with_queues(&producer, topic, "second", 20, &broker);

    // SEARCH_OFFSET_BY_TIMESTAMP through the client's admin API: per queue, the boundary
    // falls right after the first batch; the epoch finds offset 0; the far future finds the
    // max offset. GET_MIN/MAX_OFFSET and GET_EARLIEST_MSG_STORETIME agree.
    for queue in 0..4 {
        let firsts = first_queues.iter().filter(|q| **q == queue).count() as i64;
        let seconds = second_queues.iter().filter(|q| **q == queue).count() as i64;
        let mut ask = |what| {
            producer
                .queue_admin(topic, queue, what)
                .unwrap_or_else(|error| panic!("{what:?} of queue {queue}: {error}"))
        };
        assert_eq!(ask(QueueAdmin::MinOffset), 0, "min offset of queue {queue}");
        assert_eq!(
            ask(QueueAdmin::MaxOffset),
            firsts + seconds,
            "max offset of queue {queue}"
        );
        assert_eq!(
            ask(QueueAdmin::SearchOffset(boundary as u64)),
            firsts,
            "queue {queue} at the boundary"
        );
        assert_eq!(
            ask(QueueAdmin::SearchOffset(0)),
            0,
            "queue {queue} at the epoch"
        );
        let future = (now_millis() + 3_600_000) as u64;
        assert_eq!(
            ask(QueueAdmin::SearchOffset(future)),
            firsts + seconds,
            "queue {queue} in an hour"
        );
        let earliest = ask(QueueAdmin::EarliestStoreTime);
        assert!(
            earliest > 0 && earliest <= last_stored,
            "earliest store time of queue {queue}: {earliest} (first batch stored by {last_stored})"
        );
    }

    // A new group from a TIMESTAMP between the batches: the client first asks
    // QUERY_CONSUMER_OFFSET (without setZeroIfNotFound), and on these young queues (min
    // offset 0) the broker answers 0, as Apache does, so the client never searches and reads
    // both batches. (Apache 4.9/5.x brokers behave the same; the timestamp only matters once
    // a queue's first file is gone.)
    let mut options = ConsumerOptions::new(&group("rust_offsets_timestamp"), topic);
    let stamp = rocketmq_runtime::common::time_utils::time_millis_to_human_string3(boundary);
    options.start_from = StartFrom::Timestamp(stamp.clone());
    let from_timestamp = client.start_push_consumer(&namesrv.addr, &options);
    let both: BTreeSet<String> = first_batch.union(&second_batch).cloned().collect();
    expect_exactly(
        &from_timestamp,
        &both,
        &format!("a new group from timestamp {stamp} on young queues"),
        &broker,
    );

    let resumed =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&resume_group, topic));
    let arrived = resumed.wait_for_bodies(&second_batch, 0, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    let received = resumed.received();
    let bodies: BTreeSet<String> = received.iter().map(ReceivedMessage::text).collect();
    let missing: Vec<&String> = second_batch.difference(&bodies).collect();
    assert!(
        arrived && missing.is_empty(),
        "the resumed group missed {missing:?}\n{}",
        broker.log_tail()
    );
    let again: Vec<&String> = bodies.intersection(&first_batch).collect();
    let foreign: Vec<&String> = bodies
        .difference(&first_batch)
        .filter(|b| !second_batch.contains(*b))
        .collect();
    assert!(foreign.is_empty(), "foreign messages: {foreign:?}");
    // Offsets were committed at shutdown, so nothing should come again; allow one message
    // per queue (at-least-once) but never the bulk.
    assert!(
        again.len() <= 4,
        "the resumed group got {} of the 20 already-consumed messages again: {again:?}",
        again.len()
    );
    if !again.is_empty() {
        eprintln!(
            "note: {} already-consumed messages delivered again: {again:?}",
            again.len()
        );
    }
}

#[test]
fn broker_killed_under_load_loses_no_acknowledged_message() {
    // Proves durability across a crash: 8 senders send continuously (sync sends, no client
    // retries) and record every SEND_OK; the broker gets SIGKILL mid-stream and restarts on
    // the same store (crash recovery); the senders carry on. A new group then reads the topic
    // from the first offset: every acknowledged message is there, none twice, and each
    // queue's offsets are dense from 0 (recovery neither lost nor re-dispatched entries).
    let test = "broker_rust_kill9";
    let topic = "RustKill9";
    let (namesrv, mut broker) = servers(test);
    let client = RustClient::new("kill9");
    let producer = client.start_producer(&namesrv.addr, &group("rust_kill9_producer"));
    let mut acked: BTreeSet<String> = send_bodies(&producer, topic, "warmup", 4, &broker);

    let stop = Arc::new(AtomicBool::new(false));
    let record: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|worker| {
            let (producer, stop, record, errors) = (
                producer.shared(),
                stop.clone(),
                record.clone(),
                errors.clone(),
            );
            client.spawn(async move {
                let mut sequence = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!("kill9-{worker}-{sequence}");
                    sequence += 1;
                    let timeout_ms = 3_000;
                    match producer
                        .send_with_timeout(message(topic, "TagA", &body, &body), timeout_ms)
                        .await
                    {
                        Ok(Some(result)) if format!("{:?}", result.send_status) == "SendOk" => {
                            record.lock().unwrap().push(body)
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            })
        })
        .collect();
    let acked_count = || record.lock().unwrap().len();
    let wait_for_acks = |count: usize, what: &str, broker: &Broker| {
        let deadline = Instant::now() + RECEIVE_WAIT;
        while acked_count() < count {
            assert!(
                Instant::now() < deadline,
                "{what}: only {} acknowledged sends, {} errors\n{}",
                acked_count(),
                errors.load(Ordering::Relaxed),
                broker.log_tail()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for_acks(1_000, "before the kill", &broker);
    let at_kill = acked_count();
    broker.kill();
    let errors_at_kill = errors.load(Ordering::Relaxed);
    broker.restart();
    wait_for_acks(acked_count() + 500, "after the restart", &broker);
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        client.join(sender);
    }
    acked.extend(record.lock().unwrap().iter().cloned());
    eprintln!(
        "interop: {} acknowledged ({at_kill} before the kill), {} failed sends ({errors_at_kill} before)",
        acked.len(),
        errors.load(Ordering::Relaxed)
    );

    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("rust_kill9_consumer"), topic),
    );
    let arrived = consumer.wait_for_bodies(&acked, 0, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    let received = consumer.received();
    let counts = body_counts(&received);
    let missing: Vec<&String> = acked
        .iter()
        .filter(|body| !counts.contains_key(*body))
        .collect();
    assert!(
        arrived && missing.is_empty(),
        "{} acknowledged messages are gone after the crash (of {}): first ones {:?}\n{}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(20)],
        broker.log_tail()
    );
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "delivered more than once: {:?}",
        &twice[..twice.len().min(20)]
    );
    let mut per_queue: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for message in &received {
        per_queue
            .entry(message.queue_id)
            .or_default()
            .push(message.queue_offset);
    }
    for (queue, offsets) in &mut per_queue {
        offsets.sort();
        let dense: Vec<i64> = (0..offsets.len() as i64).collect();
        assert!(
            offsets == &dense,
            "queue {queue}: offsets after recovery are not 0..{}",
            offsets.len()
        );
    }

    // The IndexFile came through too: QUERY_MESSAGE by key finds messages acknowledged
    // before the kill and after the restart.
    drop(consumer);
    let mut producer = producer;
    let sample: Vec<String> = {
        let record = record.lock().unwrap();
        let before = record[..at_kill].iter().step_by(at_kill / 10 + 1);
        let after = record[at_kill..]
            .iter()
            .step_by((record.len() - at_kill) / 5 + 1);
        before.chain(after).cloned().collect()
    };
    let mut not_found = Vec::new();
    for body in &sample {
        match producer.query_by_key(topic, body) {
            Ok(found) if found.contains(body) => {}
            Ok(found) => not_found.push(format!("{body}: found {found:?}")),
            Err(error) => not_found.push(format!("{body}: {error}")),
        }
    }
    assert!(
        not_found.is_empty(),
        "QUERY_MESSAGE by key after the crash missed {} of {} sampled messages:\n{}\n{}",
        not_found.len(),
        sample.len(),
        not_found.join("\n"),
        broker.log_tail()
    );
}

/// `length` pseudo-random alphanumeric characters from `seed` (xorshift): compressible only
/// to about 3/4, so a large body stays large after the client's zlib.
fn random_text(seed: u64, length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

#[test]
fn large_and_compressed_bodies_round_trip() {
    // Proves big messages survive the trip: the client zlib-compresses bodies over 4 KiB
    // (sysFlag COMPRESSED), so the broker must keep the flag and serve records bigger than a
    // pull's 256 KiB budget (at least one message per pull, as Apache does). Bodies of 4 KiB
    // - 1, 4 KiB + 1, 100 KiB, 1 MiB and 3 MiB come back byte for byte, each once.
    let test = "broker_rust_large_bodies";
    let topic = "RustLargeBodies";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("large");
    let producer = client.start_producer(&namesrv.addr, &group("rust_large_producer"));
    let sizes = [4095, 4097, 100 * 1024, 1024 * 1024, 3 * 1024 * 1024];
    let mut expected = BTreeSet::new();
    for (index, size) in sizes.iter().enumerate() {
        // A readable prefix keeps failure messages short; the rest is the bulk.
        let body = format!("large-{index}-{size}:{}", random_text(index as u64, *size));
        let result = producer
            .send(message(topic, "TagA", &format!("large-{index}"), &body))
            .unwrap_or_else(|error| panic!("send {size} bytes: {error}\n{}", broker.log_tail()));
        assert_eq!(result.status, "SendOk", "{result:?}");
        expected.insert(body);
    }
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("rust_large_consumer"), topic),
    );
    let arrived = consumer.wait_for_bodies(&expected, 0, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    let received = consumer.received();
    let short = |body: &String| format!("{}.. ({} bytes)", &body[..body.len().min(24)], body.len());
    let got: Vec<String> = received.iter().map(|m| short(&m.text())).collect();
    let missing: Vec<String> = expected
        .iter()
        .filter(|body| !received.iter().any(|m| &m.text() == *body))
        .map(short)
        .collect();
    assert!(
        arrived && missing.is_empty() && received.len() == expected.len(),
        "missing {missing:?}; received {got:?}\n{}",
        broker.log_tail()
    );
}

#[test]
fn topics_and_offsets_survive_restarts_and_a_live_consumer_reconnects() {
    // Proves durable metadata and client reconnection: a group consumes a first batch and
    // shuts down; a second consumer of the group runs while the broker restarts gracefully
    // (SIGTERM), then receives a second batch sent after the restart and nothing of the first
    // (offsets and the topic survived); it shuts down, the broker is killed (SIGKILL) after
    // its offset flush interval and restarts, and a third consumer of the group receives only
    // a third batch.
    let test = "broker_rust_restarts";
    let topic = "RustRestarts";
    let (namesrv, mut broker) = servers(test);
    let client = RustClient::new("restarts");
    let producer = client.start_producer(&namesrv.addr, &group("rust_restarts_producer"));
    let consumer_group = group("rust_restarts_consumer");
    let options = ConsumerOptions::new(&consumer_group, topic);
    let limit_again = |received: &[ReceivedMessage], old: &BTreeSet<String>, what: &str| {
        let again: BTreeSet<String> = received
            .iter()
            .map(ReceivedMessage::text)
            .filter(|body| old.contains(body))
            .collect();
        // At least once allows a message per queue to come again; the bulk must not.
        assert!(
            again.len() <= 4,
            "{what}: {} old messages again: {again:?}",
            again.len()
        );
    };

    let first_batch = send_bodies(&producer, topic, "first", 20, &broker);
    let mut first = client.start_push_consumer(&namesrv.addr, &options);
    expect_exactly(&first, &first_batch, "the first consumer", &broker);
    first.shutdown();

    let mut second = client.start_push_consumer(&namesrv.addr, &options);
    std::thread::sleep(QUIET_WAIT); // Let it rebalance and park its pulls.
    broker.restart(); // SIGTERM, wait for the exit, start on the same store.
                      // The producer's first sends after the restart may still hit the closed connection.
    let deadline = Instant::now() + RECEIVE_WAIT;
    let probe = loop {
        match producer.send(message(topic, "TagA", "probe", "probe")) {
            Ok(result) => break result,
            Err(error) if Instant::now() < deadline => {
                eprintln!("interop: send after the restart failed, retrying: {error}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => panic!(
                "no send succeeded after the restart: {error}\n{}",
                broker.log_tail()
            ),
        }
    };
    assert!(
        (0..4).contains(&probe.queue_id.unwrap()),
        "the topic kept its 4 queues: {probe:?}"
    );
    let mut second_batch = send_bodies(&producer, topic, "second", 20, &broker);
    second_batch.insert("probe".to_string());
    let arrived = second.wait_for_bodies(&second_batch, 0, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    let received = second.received();
    let bodies: BTreeSet<String> = received.iter().map(ReceivedMessage::text).collect();
    let missing: Vec<&String> = second_batch.difference(&bodies).collect();
    assert!(
        arrived && missing.is_empty(),
        "the consumer that lived through the restart missed {missing:?}\n{}",
        broker.log_tail()
    );
    limit_again(
        &received,
        &first_batch,
        "the consumer that lived through the restart",
    );
    second.shutdown(); // Commits its offsets (UPDATE_CONSUMER_OFFSET) before unregistering.

    // Apache flushes consumer offsets every 5 s (flushConsumerOffsetInterval): wait that out.
    std::thread::sleep(Duration::from_secs(6));
    broker.kill();
    broker.restart();
    // The broker sat idle for those 6 s, so its flush loop synced the live IndexFile
    // once no key came (docs/architecture.md, Write path 12): the restart after the
    // crash trusts it and rebuilds nothing.
    let restart_log = std::fs::read_to_string(broker.log_path()).unwrap_or_default();
    assert!(
        !restart_log.contains("destroying IndexFile newer than the checkpoint"),
        "an idle broker's IndexFile was rebuilt after SIGKILL\n{}",
        broker.log_tail()
    );
    let third_batch = send_bodies(&producer, topic, "third", 20, &broker);
    let third = client.start_push_consumer(&namesrv.addr, &options);
    let arrived = third.wait_for_bodies(&third_batch, 0, RECEIVE_WAIT);
    std::thread::sleep(QUIET_WAIT);
    let received = third.received();
    assert!(
        arrived,
        "the consumer after the crash missed part of the third batch\n{}",
        broker.log_tail()
    );
    let old: BTreeSet<String> = first_batch.union(&second_batch).cloned().collect();
    limit_again(&received, &old, "the consumer after the crash");
}

#[test]
fn batch_send_result_lists_every_message_id() {
    // Proves an ordinary batch's SendResult names each message: for a batch without
    // `batchUniqId` in the reply, the client (like Java's MQClientAPIImpl.processSendResponse)
    // joins the messages' UNIQ_KEYs with ','; Apache sets batchUniqId only for inner batches
    // (BatchCQ topics), so a plain SEND_BATCH_MESSAGE reply must not carry it.
    let test = "broker_rust_batch_ids";
    let topic = "RustBatchIds";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("batch-ids");
    let producer = client.start_producer(&namesrv.addr, &group("rust_batch_ids_producer"));
    let batch = (0..5)
        .map(|index| {
            message(
                topic,
                "TagA",
                &format!("key-{index}"),
                &format!("batch-{index}"),
            )
        })
        .collect();
    let result = producer
        .send_batch(batch)
        .unwrap_or_else(|error| panic!("batch send: {error}\n{}", broker.log_tail()));
    let ids: BTreeSet<String> = result
        .msg_id
        .clone()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(
        ids.len(),
        5,
        "a 5-message batch's msgId should list 5 UNIQ_KEYs: {result:?} (offsetMsgId lists {})",
        result
            .offset_msg_id
            .as_deref()
            .unwrap_or("")
            .split(',')
            .count()
    );
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("rust_batch_ids_consumer"), topic),
    );
    let expected: BTreeSet<String> = (0..5).map(|index| format!("batch-{index}")).collect();
    expect_exactly(&consumer, &expected, "the batch", &broker);
    let delivered: BTreeSet<String> = consumer
        .received()
        .iter()
        .filter_map(|m| m.uniq_key.clone())
        .collect();
    assert_eq!(ids, delivered, "the reply's ids vs the delivered UNIQ_KEYs");
}

#[test]
fn broker_restarts_on_its_port_while_old_connections_linger() {
    // Proves a stopped broker can start again on its port at once: a client connection that
    // was open at the stop leaves the broker's side of it in FIN-WAIT-2 / TIME-WAIT on that
    // port, which must not count as "another process listens here" (Apache's Netty server
    // binds with SO_REUSEADDR and restarts fine). Once after SIGTERM, once after SIGKILL.
    let test = "broker_rust_port_reuse";
    let (_namesrv, mut broker) = servers(test);
    let addr: std::net::SocketAddr = broker.addr().parse().unwrap();
    let _open = std::net::TcpStream::connect(addr).expect("connect to the broker");
    broker.stop();
    broker.restart();
    let _open_again = std::net::TcpStream::connect(addr).expect("connect to the broker");
    broker.kill();
    broker.restart();
}

#[test]
fn two_orderly_consumers_hand_queues_over_in_order() {
    // Proves queue locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ): two orderly consumers of one
    // group share 4 queues, each queue pulled by whichever holds its lock; merged in delivery
    // order, every key's messages first appear in send order (a handover may replay a
    // suffix, at least once, but never reorders). When one consumer shuts down (unlocking its
    // queues), the other locks them at once (not after the 60 s lock expiry) and receives
    // everything sent afterwards, in order.
    let test = "broker_rust_orderly_handover";
    let topic = "RustOrderlyHandover";
    let keys = 8u64;
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("orderly-handover");
    let producer = client.start_producer(&namesrv.addr, &group("rust_handover_producer"));
    let mut next_sequence = vec![0usize; keys as usize];
    let mut send_round = |count: usize| -> BTreeSet<String> {
        let mut bodies = BTreeSet::new();
        for _ in 0..count {
            for key in 0..keys {
                let sequence = next_sequence[key as usize];
                next_sequence[key as usize] += 1;
                let body = format!("handover-{key}-{sequence}");
                producer
                    .send_orderly(message(topic, "TagA", &format!("key-{key}"), &body), key)
                    .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
                bodies.insert(body);
            }
        }
        bodies
    };
    let mut all_sent = send_round(10);
    let consumer_group = group("rust_handover_consumer");
    let mut options = ConsumerOptions::new(&consumer_group, topic);
    options.orderly = true;
    let mut first = client.start_push_consumer(&namesrv.addr, &options);
    let second = client.start_push_consumer(&namesrv.addr, &options);
    all_sent.extend(send_round(10));

    // Both end up with queues: keep sending small rounds until each got something new.
    let deadline = Instant::now() + RECEIVE_WAIT;
    loop {
        let (before_first, before_second) = (first.count(), second.count());
        all_sent.extend(send_round(1));
        std::thread::sleep(Duration::from_millis(500));
        if first.count() > before_first && second.count() > before_second {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the two orderly consumers never both received: first {}, second {}\n{}",
            first.count(),
            second.count(),
            broker.log_tail()
        );
    }
    assert!(
        wait_for_bodies_across(&[&first, &second], &all_sent, RECEIVE_WAIT),
        "not everything sent to the pair arrived\n{}",
        broker.log_tail()
    );

    first.shutdown(); // UNLOCK_BATCH_MQ, UNREGISTER_CLIENT.
    let handed_over = Instant::now();
    let after = send_round(5);
    all_sent.extend(after.iter().cloned());
    let arrived = second.wait_for_bodies(&after, 0, RECEIVE_WAIT);
    assert!(
        arrived,
        "the remaining orderly consumer did not get the queues of the one that left\n{}",
        broker.log_tail()
    );
    let took = handed_over.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the handover took {took:?}: were the queues unlocked, or did the lock have to expire?"
    );

    let mut merged: Vec<ReceivedMessage> = first.received();
    merged.extend(second.received());
    merged.sort_by_key(|m| m.seq);
    let mut firsts: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for message in &merged {
        let text = message.text();
        if !seen.insert(text.clone()) {
            continue; // A replay after a handover.
        }
        let mut parts = text.strip_prefix("handover-").unwrap().split('-');
        let key: u64 = parts.next().unwrap().parse().unwrap();
        let sequence: usize = parts.next().unwrap().parse().unwrap();
        firsts.entry(key).or_default().push(sequence);
    }
    for (key, sequences) in &firsts {
        let in_order: Vec<usize> = (0..next_sequence[*key as usize]).collect();
        assert_eq!(
            sequences, &in_order,
            "key {key}: first deliveries out of send order"
        );
    }
    eprintln!(
        "interop: {} deliveries of {} messages; handover took {took:?}",
        merged.len(),
        all_sent.len()
    );
}

/// (TAGS, body) of every record in a PULL_MESSAGE response body (store-format.md section 2:
/// the CommitLog record layout, IPv4 hosts).
fn records_in(mut bytes: &[u8]) -> Vec<(String, String)> {
    let be32 = |b: &[u8], at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut records = Vec::new();
    while bytes.len() >= 4 {
        let total = be32(bytes, 0);
        let record = &bytes[..total];
        let sys_flag = be32(record, 36);
        assert_eq!(sys_flag & 0x30, 0, "test records have IPv4 hosts");
        // totalSize .. storeHost, reconsumeTimes, preparedTransactionOffset: 4*5+8*2+4+8*4+4+8.
        let body_at = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8;
        let body_len = be32(record, body_at);
        let body =
            String::from_utf8_lossy(&record[body_at + 4..body_at + 4 + body_len]).into_owned();
        let topic_at = body_at + 4 + body_len;
        let topic_len = record[topic_at] as usize;
        let properties_at = topic_at + 1 + topic_len;
        let properties_len =
            u16::from_be_bytes(record[properties_at..properties_at + 2].try_into().unwrap())
                as usize;
        let properties =
            String::from_utf8_lossy(&record[properties_at + 2..properties_at + 2 + properties_len]);
        let tags = properties
            .split('\u{2}')
            .find_map(|pair| pair.strip_prefix("TAGS\u{1}"))
            .unwrap_or("")
            .to_string();
        records.push((tags, body));
        bytes = &bytes[total..];
    }
    records
}

#[test]
fn broker_filters_tags_before_the_client_does() {
    // Proves the filtering happens on the broker: the Rust client also drops unwanted tags
    // itself, so a broker that sent everything would look correct to it. A raw PULL_MESSAGE
    // (subscription "TagA || TagB" in the request, as clients with postSubscriptionWhenPull
    // send it) over queues holding TagA, TagB and TagC returns only TagA and TagB records.
    let test = "broker_rust_tag_filter_raw";
    let topic = "RustTagFilterRaw";
    let (namesrv, broker) = servers(test);
    let client = RustClient::new("tag-filter-raw");
    let producer = client.start_producer(&namesrv.addr, &group("rust_tag_raw_producer"));
    let mut expected = BTreeSet::new();
    for index in 0..12 {
        for tag in ["TagA", "TagB", "TagC"] {
            let body = format!("{tag}-{index}");
            producer
                .send(message(topic, tag, &body, &body))
                .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
            if tag != "TagC" {
                expected.insert(body);
            }
        }
    }
    let mut connection = ramjet_interop::wire::RawConnection::connect(broker.addr());
    let mut pulled = Vec::new();
    for queue in 0..4 {
        let mut fields = serde_json::Map::new();
        for (key, value) in [
            ("consumerGroup", "rust_tag_raw_puller"),
            ("topic", topic),
            ("queueId", &queue.to_string()),
            ("queueOffset", "0"),
            ("maxMsgNums", "32"),
            ("sysFlag", "4"), // FLAG_SUBSCRIPTION: the expression travels with the pull.
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "TagA || TagB"),
            ("subVersion", "0"),
            ("expressionType", "TAG"),
        ] {
            fields.insert(key.into(), serde_json::Value::String(value.into()));
        }
        let response = connection.request(11, &fields, &[]); // PULL_MESSAGE
        assert_eq!(
            response.code(),
            0,
            "pull queue {queue}: {:?}",
            response.header
        );
        pulled.extend(records_in(&response.body));
    }
    let tags: BTreeSet<&str> = pulled.iter().map(|(tag, _)| tag.as_str()).collect();
    assert!(
        !tags.contains("TagC"),
        "the broker returned TagC records: {pulled:?}"
    );
    let bodies: BTreeSet<String> = pulled.iter().map(|(_, body)| body.clone()).collect();
    assert_eq!(
        bodies, expected,
        "one pull per queue returns every TagA and TagB record"
    );
}
