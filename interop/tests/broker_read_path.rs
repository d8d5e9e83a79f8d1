//! Issue 10, the pull read path: a backlog several times larger than the broker's write
//! buffers, tail cache and read cache (all made small here) is drained by the third-party
//! `rocketmq-client-rust` 1.0 push consumer, so its pulls are served from O_DIRECT chunks
//! of the CommitLog (with read-ahead) and sent as body parts. Every message must arrive
//! exactly once, in order within its queue, with its body intact; a TagA subscription must
//! get exactly the TagA half.
//!
//! And the mapped store files: ConsumeQueue files and IndexFiles that fill up leave the
//! broker's RSS (docs/architecture.md, "Resident memory") and still serve every message.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::mqadmin::admin_ok;
use common::rust_client::{message, ConsumerOptions, Producer, ReceivedMessage, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};

const TOPIC: &str = "ReadPathBacklog";
/// 3000 messages of ~1 KiB: ~3.3 MB of CommitLog, against 256 KiB of write buffers, a
/// 64 KiB tail cache and a 256 KiB read cache per shard.
const MESSAGES: usize = 3000;
const BATCH: usize = 50;
const RECEIVE_WAIT: Duration = Duration::from_secs(40);

fn group(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Message `index`'s body: its name, then ~1 KiB that depends on the index, so a byte
/// served from the wrong place (or a torn chunk) shows.
fn body(index: usize) -> String {
    let mut body = format!("m{index:05}:");
    let mut state = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while body.len() < 1000 + index % 97 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body.push((b'a' + (state % 26) as u8) as char);
    }
    body
}

fn tag(index: usize) -> &'static str {
    if index.is_multiple_of(3) {
        "TagA"
    } else {
        "TagB"
    }
}

/// Asserts each body of `expected` arrived exactly once, intact, and nothing else, and
/// that each queue's messages were delivered in queue-offset order.
fn check(received: &[ReceivedMessage], expected: &BTreeSet<usize>, what: &str) {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for message in received {
        let text = message.text();
        let index: usize = text
            .get(1..6)
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("{what}: a body that is none of ours: {text:.40}"));
        assert_eq!(text, body(index), "{what}: body of m{index} damaged");
        assert_eq!(
            message.tags.as_deref(),
            Some(tag(index)),
            "{what}: m{index}"
        );
        *counts.entry(index).or_default() += 1;
    }
    let missing: Vec<&usize> = expected
        .iter()
        .filter(|i| !counts.contains_key(i))
        .collect();
    let extra: Vec<&usize> = counts.keys().filter(|i| !expected.contains(i)).collect();
    let duplicated: Vec<(&usize, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && duplicated.is_empty(),
        "{what}: {} expected, {} received; missing {} (first {:?}); extra {extra:?}; \
         duplicated {duplicated:?}",
        expected.len(),
        received.len(),
        missing.len(),
        missing.first()
    );
    // An orderly consumer gets each queue's messages in queue order.
    let mut last: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut by_delivery: Vec<&ReceivedMessage> = received.iter().collect();
    by_delivery.sort_by_key(|message| message.seq);
    for message in by_delivery {
        let queue = (message.broker_name.clone(), message.queue_id);
        if let Some(previous) = last.insert(queue.clone(), message.queue_offset) {
            assert!(
                message.queue_offset > previous,
                "{what}: queue {queue:?} delivered offset {} after {previous}",
                message.queue_offset
            );
        }
    }
}

/// Sends messages 0..MESSAGES to `topic` in batches of BATCH, keys `k<index>`.
fn send_backlog(producer: &Producer<'_>, broker: &Broker, topic: &str) {
    for first in (0..MESSAGES).step_by(BATCH) {
        let batch = (first..first + BATCH)
            .map(|index| message(topic, tag(index), &format!("k{index}"), &body(index)))
            .collect();
        producer
            .send_batch(batch)
            .unwrap_or_else(|error| panic!("batch at {first}: {error}\n{}", broker.log_tail()));
    }
}

/// An orderly push consumer of `group` subscribed to `(topic, expression)` drains the
/// topic; asserts it got exactly `expected`, once each, in queue order.
fn drain_and_check(
    client: &RustClient,
    namesrv: &Namesrv,
    broker: &Broker,
    (topic, expression): (&str, &str),
    group: &str,
    expected: &BTreeSet<usize>,
) {
    let mut options = ConsumerOptions::new(group, topic);
    options.expression = expression.to_string();
    options.orderly = true;
    let consumer = client.start_push_consumer(&namesrv.addr, &options);
    let arrived = consumer.wait_until(RECEIVE_WAIT, |received| received.len() >= expected.len());
    // A little longer for duplicates or extras.
    std::thread::sleep(Duration::from_secs(1));
    if !arrived {
        eprintln!("{}", broker.log_tail());
    }
    check(&consumer.received(), expected, expression);
}

#[test]
fn a_backlog_past_every_cache_drains_once_in_order_and_intact() {
    let test = "broker_read_path_backlog";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[
            ("writeBufferBytes", "65536"),
            ("tailCacheBytes", "65536"),
            ("readChunkBytes", "65536"),
            ("readCacheBytes", "262144"),
            ("readAheadChunks", "2"),
        ],
    );
    let client = RustClient::new("read_path");
    let producer = client.start_producer(&namesrv.addr, &group("read_path_producer"));
    send_backlog(&producer, &broker, TOPIC);
    let all: BTreeSet<usize> = (0..MESSAGES).collect();
    let tag_a: BTreeSet<usize> = all.iter().copied().filter(|i| tag(*i) == "TagA").collect();

    for (expression, expected) in [("*", &all), ("TagA", &tag_a)] {
        let group = group("read_path_consumer");
        drain_and_check(
            &client,
            &namesrv,
            &broker,
            (TOPIC, expression),
            &group,
            expected,
        );
    }
}

/// Resident kB of each file the broker `pid` maps whose path contains `dir`, by path
/// (/proc/PID/smaps).
fn mapped_rss_kb(pid: u32, dir: &str) -> BTreeMap<String, u64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut resident = BTreeMap::new();
    let mut mapping: Option<String> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !first.ends_with(':') {
            // A mapping's header: "start-end perms offset dev inode path".
            mapping = line
                .split_whitespace()
                .nth(5)
                .filter(|path| path.contains(dir))
                .map(str::to_string);
        } else if first == "Rss:" {
            if let Some(path) = mapping.take() {
                let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                *resident.entry(path).or_default() += kb;
            }
        }
    }
    resident
}

/// Waits until, in each directory (a shard's index, a queue), every file but the newest
/// (by name) of those whose path contains `dir` holds no resident page, and at least one
/// such file exists; returns the last reading.
fn wait_sealed_released(pid: u32, dir: &str) -> (bool, BTreeMap<String, u64>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resident = mapped_rss_kb(pid, dir);
        let mut newest: BTreeMap<&str, &str> = BTreeMap::new();
        for path in resident.keys() {
            let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
            newest.insert(parent, path); // Keys come sorted: the last one stays.
        }
        let sealed: Vec<u64> = resident
            .iter()
            .filter(|(path, _)| !newest.values().any(|last| last == path))
            .map(|(_, kb)| *kb)
            .collect();
        let sealed_zero = !sealed.is_empty() && sealed.iter().all(|kb| *kb == 0);
        if sealed_zero || std::time::Instant::now() > deadline {
            return (sealed_zero, resident);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn full_queue_and_index_files_leave_the_rss_and_still_serve() {
    // ConsumeQueue files of 1,024 units and IndexFiles of 1,000 entries, one queue: 3,000
    // messages seal two queue files and fill several IndexFiles (UNIQ_KEY and KEYS each).
    let test = "broker_read_path_rss";
    let topic = "ReadPathResident";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[
            ("mappedFileSizeConsumeQueue", "20480"),
            ("maxIndexNum", "1000"),
            ("maxHashSlotNum", "64"),
        ],
    );
    let pid = broker.pid().expect("broker running");
    admin_ok(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", topic, "-r", "1", "-w", "1"],
    );
    let client = RustClient::new("read_path_rss");
    let mut producer = client.start_producer(&namesrv.addr, &group("read_path_rss_producer"));
    send_backlog(&producer, &broker, topic);
    let queue_dir = format!("/consumequeue/{topic}/0/");
    for dir in [queue_dir.as_str(), "/index/"] {
        let (released, resident) = wait_sealed_released(pid, dir);
        assert!(
            released,
            "{dir}: every full file should hold no resident page: {resident:?}"
        );
    }
    let queue_files = mapped_rss_kb(pid, &queue_dir);
    assert_eq!(queue_files.len(), 3, "3,000 units in files of 1,024");
    assert!(
        queue_files.values().last().unwrap() > &0,
        "the live file stays"
    );

    // Everything in the released files is still there: consumed in order, found by key.
    let all: BTreeSet<usize> = (0..MESSAGES).collect();
    let group = group("read_path_rss_consumer");
    drain_and_check(&client, &namesrv, &broker, (topic, "*"), &group, &all);
    for index in [0, 777, 1500, MESSAGES - 1] {
        let found = producer
            .query_by_key(topic, &format!("k{index}"))
            .unwrap_or_else(|error| panic!("query k{index}: {error}"));
        assert_eq!(found, vec![body(index)], "k{index}");
    }
    // What the consumer and the queries mapped back is released again.
    let (released, resident) = wait_sealed_released(pid, &queue_dir);
    assert!(released, "read back, then released again: {resident:?}");
}
