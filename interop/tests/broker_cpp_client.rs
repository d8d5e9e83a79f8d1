//! Issue 4's Show, Apache C++ client half: the C++ client 2.1 bundled in PyPI's
//! `rocketmq-python-cvs` 2.1.0.3 (driven through `interop/python/cpp_client.py`, one process per
//! producer or consumer) produces to and consumes from a real `mqbroker` registered with a
//! real `mqnamesrv`, each test on its own free ports and its own store.
//!
//! The C++ push consumer always starts from CONSUME_FROM_LAST_OFFSET, so every consumer of a
//! new group here relies on the broker answering QUERY_CONSUMER_OFFSET with 0 while the queue's
//! min offset is 0 (protocol doc §9.3 step 3). With message trace off its `shutdown()`
//! segfaults before persisting offsets and unregistering, so the driver turns trace on; it
//! also prints its JSON line before shutting down, and these tests read that line and ignore
//! the exit status.
//!
//! Messages carry their id as the body (`<prefix>-<index>`), so what a consumer received is
//! compared, as a sorted list (duplicates show), with what the producer had acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ramjet_interop::python::{run_script, ScriptOutput};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::wire::{RawConnection, GET_ROUTEINFO_BY_TOPIC, SUCCESS};
use serde_json::{Map, Value};

/// Longest any one driver run may take before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a consumer gets to receive what a test expects.
const RECEIVE_SECONDS: &str = "40";
/// After the expected count arrived, a consumer listens this much longer for extra or
/// duplicate deliveries.
const SETTLE_SECONDS: &str = "1.5";
/// Polling deadline for progress a test waits on (records in a file, offsets on the broker).
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(45);

const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const GET_MAX_OFFSET: i32 = 30;
const LOCK_BATCH_MQ: i32 = 41;

/// One test's name server and broker, with a scratch directory for client logs and files.
struct Cluster {
    namesrv: Namesrv,
    broker: Broker,
    dir: PathBuf,
}

impl Cluster {
    fn start(test_name: &str) -> Cluster {
        Cluster::start_with(test_name, &[])
    }

    /// [`Cluster::start`] with extra broker properties.
    fn start_with(test_name: &str, broker_properties: &[(&str, &str)]) -> Cluster {
        let namesrv = Namesrv::start(test_name, &[]);
        let broker = Broker::start_with(&namesrv, test_name, broker_properties);
        let dir = namesrv.dir.clone();
        Cluster {
            namesrv,
            broker,
            dir,
        }
    }

    /// `cpp_client.py <command> --namesrv .. --topic <topic> --log-dir .. <extra>`.
    fn args(&self, command: &str, topic: &str, extra: &[&str]) -> Vec<String> {
        let log_dir = self.dir.join("cpp-client-logs");
        let mut args: Vec<String> = [
            command,
            "--namesrv",
            &self.namesrv.addr,
            "--topic",
            topic,
            "--log-dir",
            &log_dir.display().to_string(),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args
    }

    fn run(&self, command: &str, topic: &str, extra: &[&str]) -> ScriptOutput {
        run_script(
            "cpp_client.py",
            &self.args(command, topic, extra),
            &self.dir,
            SCRIPT_TIMEOUT,
        )
    }

    /// Runs the driver on a thread, for consumers (and producers) that run alongside the test.
    fn spawn(&self, command: &str, topic: &str, extra: &[&str]) -> JoinHandle<ScriptOutput> {
        let args = self.args(command, topic, extra);
        let dir = self.dir.clone();
        std::thread::spawn(move || run_script("cpp_client.py", &args, &dir, SCRIPT_TIMEOUT))
    }

    /// Produces and asserts every send succeeded; returns the "sent" entries.
    fn produce(&self, topic: &str, extra: &[&str]) -> Vec<Value> {
        let output = self.run("produce", topic, extra);
        assert!(
            output.status.success(),
            "produce {extra:?} failed\n{output}\n{}",
            self.broker.log_tail()
        );
        let json = output.json();
        assert_eq!(json["errors"], Value::Array(vec![]), "{output}");
        json["sent"].as_array().cloned().unwrap_or_default()
    }

    /// A consumer's messages from its JSON line. The exit status is not checked: shutdown of
    /// the C++ push consumer may crash after the line was printed.
    fn received(&self, output: &ScriptOutput) -> Vec<Received> {
        assert!(
            !output.timed_out,
            "consumer ran past {SCRIPT_TIMEOUT:?}\n{output}\n{}",
            self.broker.log_tail()
        );
        output.json()["received"]
            .as_array()
            .unwrap_or_else(|| panic!("no \"received\" in\n{output}"))
            .iter()
            .map(Received::from_json)
            .collect()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn broker_connection(&self) -> RawConnection {
        RawConnection::connect(self.broker.addr())
    }
}

/// One delivered message, as the consumer driver reports it.
#[derive(Debug, Clone)]
struct Received {
    /// The message id (`<prefix>-<index>`): the whole body, or its first word when padded.
    body: String,
    /// The topic as the client reports it (a retried message's original topic).
    topic: String,
    tags: String,
    keys: String,
    /// The C++ client's message id: the producer's UNIQ_KEY.
    msg_id: String,
    queue_id: i64,
    queue_offset: i64,
    reconsume_times: i64,
    /// The sharding key the producer put in the "shard" property, if any.
    shard: String,
    /// The "interop" user property every driver message carries ("true").
    interop: String,
    /// Body length in bytes, and whether a padded body arrived byte for byte.
    size: i64,
    intact: bool,
    /// A delivery the consumer answered with RECONSUME_LATER (`--fail-once`).
    failed: bool,
}

impl Received {
    fn from_json(value: &Value) -> Received {
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_string();
        Received {
            body: text("body"),
            topic: text("topic"),
            tags: text("tags"),
            keys: text("keys"),
            msg_id: text("id"),
            queue_id: value["queue_id"].as_i64().unwrap_or(-1),
            queue_offset: value["queue_offset"].as_i64().unwrap_or(-1),
            reconsume_times: value["reconsume_times"].as_i64().unwrap_or(-1),
            shard: text("shard"),
            interop: text("interop"),
            size: value["size"].as_i64().unwrap_or(-1),
            intact: value["intact"].as_bool().unwrap_or(false),
            failed: value["failed"].as_bool().unwrap_or(false),
        }
    }
}

/// `<prefix>-<start>` .. `<prefix>-<start + count - 1>`.
fn ids(prefix: &str, start: usize, count: usize) -> Vec<String> {
    (start..start + count)
        .map(|i| format!("{prefix}-{i}"))
        .collect()
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

fn bodies(messages: &[Received]) -> Vec<String> {
    sorted(messages.iter().map(|m| m.body.clone()).collect())
}

/// Bodies that start with `prefix-`, sorted.
fn bodies_with_prefix(messages: &[Received], prefix: &str) -> Vec<String> {
    let prefix = format!("{prefix}-");
    sorted(
        messages
            .iter()
            .filter(|m| m.body.starts_with(&prefix))
            .map(|m| m.body.clone())
            .collect(),
    )
}

/// The messages a consumer has appended to its --record-file so far.
fn records(path: &Path) -> Vec<Received> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|value| Received::from_json(&value))
        .collect()
}

/// Polls `condition` every 100 ms until it holds; panics with `what` (and `detail()`) after
/// `timeout`. Returns how long it took.
fn wait_until(
    timeout: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) -> Duration {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() > timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                detail()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn touch(path: &Path) {
    std::fs::write(path, b"stop\n").expect("write a stop file");
}

fn ext(fields: &[(&str, &str)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(key, value)| (key.to_string(), Value::String(value.to_string())))
        .collect()
}

/// The client ids the broker lists for `group` (GET_CONSUMER_LIST_BY_GROUP), sorted.
fn consumer_ids(cluster: &Cluster, group: &str) -> Vec<String> {
    consumer_ids_on(&mut cluster.broker_connection(), group)
}

fn consumer_ids_on(connection: &mut RawConnection, group: &str) -> Vec<String> {
    let response = connection.request(
        GET_CONSUMER_LIST_BY_GROUP,
        &ext(&[("consumerGroup", group)]),
        &[],
    );
    if response.code() != SUCCESS {
        return Vec::new();
    }
    let mut ids: Vec<String> = response.body_json()["consumerIdList"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The distinct answers to GET_CONSUMER_LIST_BY_GROUP over 8 fresh connections. Clients'
/// connections land on any shard, so every shard must give the same answer: one entry.
fn consumer_ids_everywhere(cluster: &Cluster, group: &str) -> BTreeSet<Vec<String>> {
    (0..8).map(|_| consumer_ids(cluster, group)).collect()
}

/// Waits until every connection's GET_CONSUMER_LIST_BY_GROUP lists `count` consumers.
fn wait_for_members(cluster: &Cluster, group: &str, count: usize, what: &str) -> Duration {
    wait_until(
        PROGRESS_TIMEOUT,
        what,
        || {
            let answers = consumer_ids_everywhere(cluster, group);
            answers.len() == 1 && answers.iter().all(|ids| ids.len() == count)
        },
        || {
            format!(
                "GET_CONSUMER_LIST_BY_GROUP over 8 connections answered {:?}\n{}",
                consumer_ids_everywhere(cluster, group),
                cluster.broker.log_tail()
            )
        },
    )
}

/// Per queue id: (committed offset of `group`, or None when the broker has none; max offset).
fn offsets(cluster: &Cluster, topic: &str, group: &str) -> BTreeMap<i32, (Option<i64>, i64)> {
    let mut connection = cluster.broker_connection();
    let mut result = BTreeMap::new();
    for queue_id in 0..queue_count(cluster, topic) {
        let queue = queue_id.to_string();
        let committed = connection.request(
            QUERY_CONSUMER_OFFSET,
            &ext(&[
                ("consumerGroup", group),
                ("topic", topic),
                ("queueId", &queue),
                ("setZeroIfNotFound", "false"),
            ]),
            &[],
        );
        let committed = (committed.code() == SUCCESS).then(|| header_i64(&committed, "offset"));
        let max = connection.request(
            GET_MAX_OFFSET,
            &ext(&[("topic", topic), ("queueId", &queue)]),
            &[],
        );
        assert_eq!(
            max.code(),
            SUCCESS,
            "GET_MAX_OFFSET {topic}:{queue}: {max:?}"
        );
        result.insert(queue_id, (committed, header_i64(&max, "offset")));
    }
    result
}

/// The topic's read queue count on broker-a, from the route the name server hands out.
fn queue_count(cluster: &Cluster, topic: &str) -> i32 {
    let response = RawConnection::connect(&cluster.namesrv.addr).request(
        GET_ROUTEINFO_BY_TOPIC,
        &ext(&[("topic", topic)]),
        &[],
    );
    assert_eq!(
        response.code(),
        SUCCESS,
        "no route for {topic}: {response:?}"
    );
    let route = response.body_json();
    route["queueDatas"]
        .as_array()
        .and_then(|queues| queues.iter().find(|q| q["brokerName"] == "broker-a"))
        .and_then(|queue| queue["readQueueNums"].as_i64())
        .unwrap_or_else(|| panic!("no queue data for broker-a in {route}")) as i32
}

fn header_i64(response: &ramjet_interop::wire::Response, key: &str) -> i64 {
    let value = &response.header["extFields"][key];
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .unwrap_or_else(|| panic!("no numeric extFields.{key} in {response:?}"))
}

#[test]
fn sync_async_oneway_and_batch_sends_reach_a_clustering_consumer_exactly() {
    // Proves every C++ send mode is stored and delivered exactly once to a clustering push
    // consumer: sync sends before the consumer starts (a new group reads young queues from 0),
    // then async, oneway and batch sends while it is long-polling (wake on append); message ids
    // (UNIQ_KEY), keys and tags come back as sent.
    let cluster = Cluster::start("broker_cpp_send_modes");
    let topic = "CppSendModes";
    let sync_sent = cluster.produce(
        topic,
        &["--mode", "sync", "--count", "10", "--id-prefix", "sync"],
    );
    assert!(sync_sent.iter().all(|entry| entry["status"] == "OK"));

    let record = cluster.file("send_modes.jsonl");
    let record_arg = record.display().to_string();
    let consumer = cluster.spawn(
        "consume",
        topic,
        &[
            "--group",
            "cpp_send_modes",
            "--expect",
            "40",
            "--settle-seconds",
            SETTLE_SECONDS,
            "--seconds",
            RECEIVE_SECONDS,
            "--record-file",
            &record_arg,
        ],
    );
    wait_until(
        PROGRESS_TIMEOUT,
        "the consumer to receive the 10 sync sends",
        || records(&record).len() >= 10,
        || cluster.broker.log_tail(),
    );
    let async_sent = cluster.produce(
        topic,
        &["--mode", "async", "--count", "10", "--id-prefix", "async"],
    );
    cluster.produce(
        topic,
        &["--mode", "oneway", "--count", "10", "--id-prefix", "oneway"],
    );
    let batch_sent = cluster.produce(
        topic,
        &["--mode", "batch", "--count", "10", "--id-prefix", "batch"],
    );

    let received = cluster.received(&consumer.join().expect("consumer thread"));
    let mut expected = ids("sync", 0, 10);
    for prefix in ["async", "oneway", "batch"] {
        expected.extend(ids(prefix, 0, 10));
    }
    assert_eq!(
        bodies(&received),
        sorted(expected),
        "{}",
        cluster.broker.log_tail()
    );

    let by_body: BTreeMap<&str, &Received> =
        received.iter().map(|m| (m.body.as_str(), m)).collect();
    // The send result's queue offset is where the message was stored.
    for entry in sync_sent.iter().chain(&async_sent) {
        let message = by_body[entry["id"].as_str().unwrap()];
        assert_eq!(
            message.msg_id,
            entry["msg_id"].as_str().unwrap(),
            "{message:?}"
        );
        assert_eq!(
            Some(message.queue_offset),
            entry["offset"].as_i64(),
            "{entry}"
        );
    }
    // A batch goes to one queue, in order, from the offset its result names.
    let batch: Vec<&Received> = (0..10)
        .map(|i| by_body[format!("batch-{i}").as_str()])
        .collect();
    let first = batch_sent[0]["offset"]
        .as_i64()
        .expect("the batch's offset");
    for (i, message) in batch.iter().enumerate() {
        assert_eq!(message.queue_id, batch[0].queue_id, "{message:?}");
        assert_eq!(message.queue_offset, first + i as i64, "{message:?}");
    }
    for message in &received {
        assert_eq!(message.tags, "TagA", "{message:?}");
        assert_eq!(message.interop, "true", "user property lost: {message:?}");
        assert_eq!(message.keys, message.body, "{message:?}");
    }
    // Every message has its own slot: no (queue, offset) is delivered twice.
    let slots: BTreeSet<(i64, i64)> = received
        .iter()
        .map(|m| (m.queue_id, m.queue_offset))
        .collect();
    assert_eq!(slots.len(), received.len(), "{received:?}");
}

/// A push consumer running on its own thread, appending what it receives to a record file
/// and stopping (printing its JSON line) when its stop file appears.
struct BackgroundConsumer {
    name: String,
    record: PathBuf,
    stop: PathBuf,
    handle: Option<JoinHandle<ScriptOutput>>,
}

impl BackgroundConsumer {
    /// `consume --group <group> --instance <name>` plus `extra`, on a thread.
    fn start(cluster: &Cluster, name: &str, topic: &str, group: &str, extra: &[&str]) -> Self {
        let record = cluster.file(&format!("{name}.jsonl"));
        let stop = cluster.file(&format!("{name}.stop"));
        let _ = std::fs::remove_file(&record);
        let _ = std::fs::remove_file(&stop);
        let (record_arg, stop_arg) = (record.display().to_string(), stop.display().to_string());
        let mut args = vec![
            "--group",
            group,
            "--instance",
            name,
            "--seconds",
            "85",
            "--record-file",
            &record_arg,
            "--until-file",
            &stop_arg,
        ];
        args.extend_from_slice(extra);
        BackgroundConsumer {
            name: name.to_string(),
            handle: Some(cluster.spawn("consume", topic, &args)),
            record,
            stop,
        }
    }

    fn records(&self) -> Vec<Received> {
        records(&self.record)
    }

    /// Touches the stop file and returns what the consumer printed.
    fn stop(&mut self, cluster: &Cluster) -> Vec<Received> {
        touch(&self.stop);
        let handle = self.handle.take().expect("a consumer is stopped once");
        cluster.received(&handle.join().expect("consumer thread"))
    }
}

impl Drop for BackgroundConsumer {
    fn drop(&mut self) {
        // A failed assertion must not leave the thread's script running until its timeout.
        touch(&self.stop);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A producer on its own thread sending `<prefix>-<i>` (sync, --keep-going) until its stop file
/// appears, appending each acknowledged id to an ack file.
struct BackgroundProducer {
    acks: PathBuf,
    stop: PathBuf,
    handle: Option<JoinHandle<ScriptOutput>>,
}

impl BackgroundProducer {
    fn start(cluster: &Cluster, prefix: &str, topic: &str, extra: &[&str]) -> Self {
        let acks = cluster.file(&format!("{prefix}.acks"));
        let stop = cluster.file(&format!("{prefix}.stop"));
        let _ = std::fs::remove_file(&acks);
        let _ = std::fs::remove_file(&stop);
        let (acks_arg, stop_arg) = (acks.display().to_string(), stop.display().to_string());
        let mut args = vec![
            "--mode",
            "sync",
            "--count",
            "0",
            "--id-prefix",
            prefix,
            "--keep-going",
            "--ack-file",
            &acks_arg,
            "--until-file",
            &stop_arg,
        ];
        args.extend_from_slice(extra);
        BackgroundProducer {
            handle: Some(cluster.spawn("produce", topic, &args)),
            acks,
            stop,
        }
    }

    fn acked(&self) -> Vec<String> {
        std::fs::read_to_string(&self.acks)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Stops it and returns its JSON line.
    fn stop(&mut self) -> Value {
        touch(&self.stop);
        let handle = self.handle.take().expect("a producer is stopped once");
        let output = handle.join().expect("producer thread");
        assert!(!output.timed_out, "producer ran past its timeout\n{output}");
        output.json()
    }
}

impl Drop for BackgroundProducer {
    fn drop(&mut self) {
        touch(&self.stop);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// How often each body was delivered (and accepted) across `consumers`' records.
fn delivery_counts(consumers: &[&BackgroundConsumer]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for consumer in consumers {
        for message in consumer.records() {
            if !message.failed {
                *counts.entry(message.body).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// Waits until every id in `expected` was received by one of `consumers`; on timeout the
/// panic shows what is missing, who received from which queue, the broker's view of the group
/// and its offsets, and the broker log's tail. Returns how long it took.
fn wait_for_group(
    cluster: &Cluster,
    topic: &str,
    group: &str,
    expected: &[String],
    consumers: &[&BackgroundConsumer],
) -> Duration {
    let names: Vec<_> = consumers.iter().map(|c| c.name.clone()).collect();
    wait_until(
        PROGRESS_TIMEOUT,
        &format!("{names:?} to receive {} messages", expected.len()),
        || {
            let counts = delivery_counts(consumers);
            expected.iter().all(|id| counts.contains_key(id))
        },
        || {
            let counts = delivery_counts(consumers);
            let missing: Vec<_> = expected
                .iter()
                .filter(|id| !counts.contains_key(*id))
                .collect();
            let queues: Vec<_> = consumers
                .iter()
                .map(|c| {
                    let queues: BTreeSet<i64> = c.records().iter().map(|m| m.queue_id).collect();
                    (c.name.clone(), queues)
                })
                .collect();
            format!(
                "missing {missing:?}\nqueues each consumer received from: {queues:?}\n\
                 consumers the broker lists: {:?}\n\
                 (committed, max) offsets per queue: {:?}\n{}",
                consumer_ids(cluster, group),
                offsets(cluster, topic, group),
                cluster.broker.log_tail()
            )
        },
    )
}

/// Sends probes (`probe-<i>`, one per 150 ms, round robin over the queues) until the group's
/// rebalance has settled: every consumer received a probe, and the last `queues` probes (one
/// per queue) were each delivered once in all (`broadcasting`: to every consumer).
fn settle_group(
    cluster: &Cluster,
    topic: &str,
    consumers: &[&BackgroundConsumer],
    queues: usize,
    broadcasting: bool,
) {
    let mut probes = BackgroundProducer::start(cluster, "probe", topic, &["--pause-ms", "150"]);
    wait_until(
        PROGRESS_TIMEOUT,
        "every consumer of the group to own queues",
        || {
            let acked = probes.acked();
            if acked.len() < queues {
                return false;
            }
            let last = &acked[acked.len() - queues..];
            let each_has_one = consumers
                .iter()
                .all(|c| c.records().iter().any(|m| m.body.starts_with("probe-")));
            let settled = if broadcasting {
                consumers.iter().all(|c| {
                    let counts = delivery_counts(&[c]);
                    last.iter().all(|id| counts.get(id) == Some(&1))
                })
            } else {
                let counts = delivery_counts(consumers);
                last.iter().all(|id| counts.get(id) == Some(&1))
            };
            each_has_one && settled
        },
        || {
            let names: Vec<_> = consumers
                .iter()
                .map(|c| (c.name.clone(), bodies(&c.records())))
                .collect();
            format!(
                "acked probes {:?}\nreceived {names:?}\n{}",
                probes.acked(),
                cluster.broker.log_tail()
            )
        },
    );
    probes.stop();
}

#[test]
fn consumers_split_the_queues_and_the_survivor_takes_over_after_unregister() {
    // Proves clustering rebalance through the broker when a consumer leaves gracefully: two
    // C++ consumers of one group (two processes) split the 4 queues, each message delivered
    // once; the first one shuts down (UNREGISTER_CLIENT), the broker drops it from
    // GET_CONSUMER_LIST_BY_GROUP on every connection and tells the other (NOTIFY_CONSUMER_IDS_
    // CHANGED), which then receives everything sent afterwards, exactly once.
    group_takeover("broker_cpp_takeover_unregister", "graceful");
}

#[test]
fn consumers_split_the_queues_and_the_survivor_takes_over_after_a_crash() {
    // Proves the same when the leaving consumer dies without unregistering: the broker notices
    // the closed connections, drops it from the group and tells the survivor.
    group_takeover("broker_cpp_takeover_crash", "abrupt");
}

/// Consumer A starts alone and owns every queue; B joins and they split the queues; A leaves
/// (`exit`: "graceful" shutdown or "abrupt" process exit) and B must take over.
///
/// The order matters because of a C++ client bug (apache/rocketmq-client-cpp#293): a queue
/// taken from a consumer and given back to it soon after is never pulled again ("Pull request
/// ... has been set as dropped. Will NOT pull this queue any more"). A, which held every queue,
/// is therefore the one that leaves; B only ever gains queues.
fn group_takeover(test_name: &str, exit: &str) {
    let cluster = Cluster::start(test_name);
    let topic = "CppTakeover";
    let group = "cpp_takeover";
    cluster.produce(topic, &["--count", "4", "--id-prefix", "warm"]);
    let queues = queue_count(&cluster, topic) as usize;

    let mut a = BackgroundConsumer::start(&cluster, "first", topic, group, &["--exit", exit]);
    wait_for_members(&cluster, group, 1, "the broker to list the first consumer");
    settle_group(&cluster, topic, &[&a], queues, false);
    let mut b = BackgroundConsumer::start(&cluster, "second", topic, group, &[]);
    let took = wait_for_members(
        &cluster,
        group,
        2,
        "every connection to list both consumers",
    );
    eprintln!("both consumers listed after {took:?}");
    settle_group(&cluster, topic, &[&a, &b], queues, false);

    // Phase 1: two consumers, disjoint queues, each message once.
    cluster.produce(topic, &["--count", "40", "--id-prefix", "p1"]);
    let expected = ids("p1", 0, 40);
    wait_for_group(&cluster, topic, group, &expected, &[&a, &b]);
    let mut union = Vec::new();
    let mut queue_owners: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for consumer in [&a, &b] {
        let phase1: Vec<Received> = consumer
            .records()
            .into_iter()
            .filter(|m| m.body.starts_with("p1-"))
            .collect();
        assert!(!phase1.is_empty(), "{} got none of phase 1", consumer.name);
        for message in &phase1 {
            queue_owners
                .entry(message.queue_id)
                .or_default()
                .insert(consumer.name.clone());
        }
        union.extend(phase1.into_iter().map(|m| m.body));
    }
    assert_eq!(
        sorted(union),
        sorted(expected),
        "phase 1 delivered once in all"
    );
    assert_eq!(queue_owners.len(), queues, "{queue_owners:?}");
    assert!(
        queue_owners.values().all(|owners| owners.len() == 1),
        "each queue has one owner: {queue_owners:?}"
    );

    // Phase 2: A leaves; B takes its queues.
    a.stop(&cluster);
    let took = wait_for_members(
        &cluster,
        group,
        1,
        "every connection to drop the first consumer",
    );
    eprintln!("the first consumer ({exit} exit) was dropped after {took:?}");
    cluster.produce(topic, &["--count", "40", "--id-prefix", "p2"]);
    let expected = ids("p2", 0, 40);
    let took = wait_for_group(&cluster, topic, group, &expected, &[&b]);
    eprintln!("phase 2 fully delivered {took:?} after the send");
    let received = b.stop(&cluster);
    assert_eq!(
        bodies_with_prefix(&received, "p2"),
        sorted(expected),
        "phase 2 delivered once"
    );
}

#[test]
fn broadcasting_consumers_each_receive_everything() {
    // Proves BROADCASTING: two C++ consumers of one group (messageModel 0 in their heartbeats,
    // offsets kept by the client, no rebalance between them) each receive every message sent
    // once both run, exactly once each.
    let cluster = Cluster::start("broker_cpp_broadcasting");
    let topic = "CppBroadcast";
    let group = "cpp_broadcast";
    cluster.produce(topic, &["--count", "4", "--id-prefix", "warm"]);
    let queues = queue_count(&cluster, topic) as usize;
    let broadcasting = ["--model", "broadcasting"];
    let mut a = BackgroundConsumer::start(&cluster, "bcast_a", topic, group, &broadcasting);
    let mut b = BackgroundConsumer::start(&cluster, "bcast_b", topic, group, &broadcasting);
    settle_group(&cluster, topic, &[&a, &b], queues, true);

    cluster.produce(topic, &["--count", "40", "--id-prefix", "all"]);
    let expected = ids("all", 0, 40);
    wait_for_group(&cluster, topic, group, &expected, &[&a]);
    wait_for_group(&cluster, topic, group, &expected, &[&b]);
    for consumer in [&mut a, &mut b] {
        let name = consumer.name.clone();
        let received = consumer.stop(&cluster);
        assert_eq!(
            bodies_with_prefix(&received, "all"),
            sorted(expected.clone()),
            "{name} received each message once"
        );
    }
}

#[test]
fn orderly_sends_keep_per_key_order_for_an_orderly_consumer() {
    // Proves ordered messaging: the C++ producer's SendMessageOrderlyByShardingKey and its
    // hashing selector (send_orderly) put each key on one queue, the broker grants an orderly
    // push consumer the queue locks (LOCK_BATCH_MQ) and refuses them to another client, and
    // the consumer receives each key's messages in send order, none lost or repeated; its
    // shutdown releases the locks.
    let cluster = Cluster::start("broker_cpp_orderly");
    let topic = "CppOrderly";
    let group = "cpp_orderly";
    cluster.produce(
        topic,
        &[
            "--mode",
            "orderly",
            "--count",
            "100",
            "--keys-count",
            "5",
            "--id-prefix",
            "key",
        ],
    );
    let mut consumer = BackgroundConsumer::start(&cluster, "orderly", topic, group, &["--orderly"]);
    wait_for_group(&cluster, topic, group, &ids("key", 0, 100), &[&consumer]);

    // The consumer holds the locks of every queue it pulls; another client gets none.
    let queues = queue_count(&cluster, topic);
    let mq_set: Vec<Value> = (0..queues)
        .map(|queue_id| {
            serde_json::json!({"topic": topic, "brokerName": "broker-a", "queueId": queue_id})
        })
        .collect();
    let body = serde_json::json!({
        "consumerGroup": group, "clientId": "127.0.0.1@intruder", "mqSet": mq_set
    });
    let lock_as_intruder = || {
        let response = cluster.broker_connection().request(
            LOCK_BATCH_MQ,
            &Map::new(),
            body.to_string().as_bytes(),
        );
        assert_eq!(response.code(), SUCCESS, "{response:?}");
        let mut locked: Vec<i64> = response.body_json()["lockOKMQSet"]
            .as_array()
            .expect("lockOKMQSet")
            .iter()
            .filter_map(|mq| mq["queueId"].as_i64())
            .collect();
        locked.sort();
        locked
    };
    assert_eq!(
        lock_as_intruder(),
        Vec::<i64>::new(),
        "queues locked by the orderly consumer were granted to another client"
    );

    cluster.produce(
        topic,
        &[
            "--mode",
            "selector",
            "--count",
            "100",
            "--keys-count",
            "5",
            "--id-prefix",
            "sel",
        ],
    );
    let mut expected = ids("key", 0, 100);
    expected.extend(ids("sel", 0, 100));
    wait_for_group(&cluster, topic, group, &expected, &[&consumer]);
    let received = consumer.stop(&cluster);
    assert_eq!(bodies(&received), sorted(expected), "each message once");
    // Its shutdown released the locks (UNLOCK_BATCH_MQ), so another client gets them all.
    assert_eq!(
        lock_as_intruder(),
        (0..i64::from(queues)).collect::<Vec<_>>(),
        "the stopped consumer's locks were not released"
    );

    // Per (prefix, key): one queue, and indexes in send order.
    let mut streams: BTreeMap<(String, String), Vec<(usize, i64)>> = BTreeMap::new();
    for message in &received {
        let (prefix, index) = message.body.rsplit_once('-').expect("<prefix>-<index>");
        let index: usize = index.parse().expect("a numeric index");
        assert_eq!(message.shard, format!("key-{}", index % 5), "{message:?}");
        streams
            .entry((prefix.to_string(), message.shard.clone()))
            .or_default()
            .push((index, message.queue_id));
    }
    assert_eq!(streams.len(), 10, "{streams:?}");
    for (key, stream) in &streams {
        let queues: BTreeSet<i64> = stream.iter().map(|(_, queue)| *queue).collect();
        assert_eq!(queues.len(), 1, "{key:?} spread over queues {queues:?}");
        let indexes: Vec<usize> = stream.iter().map(|(index, _)| *index).collect();
        let mut in_order = indexes.clone();
        in_order.sort();
        assert_eq!(indexes, in_order, "{key:?} out of order");
    }
}

#[test]
fn tag_subscriptions_filter() {
    // Proves tag filtering on pull: a "TagA || TagB" subscription (written with spaces, so the
    // tags and their hash codes must come from the subscription string) gets exactly the TagA
    // and TagB messages, "TagC" exactly the TagC ones, and "*" everything.
    let cluster = Cluster::start("broker_cpp_tags");
    let topic = "CppTags";
    cluster.produce(
        topic,
        &[
            "--count",
            "30",
            "--tag",
            "TagA,TagB,TagC",
            "--id-prefix",
            "t",
        ],
    );
    // The last message of every queue matches "TagA || TagB" (round robin over 4 queues), so
    // a consumer that has all of those has also been offered every TagC before them.
    cluster.produce(
        topic,
        &["--count", "4", "--tag", "TagB", "--id-prefix", "tail"],
    );

    let consume = |group: &str, expression: &str, expect: usize| {
        let expect = expect.to_string();
        cluster.spawn(
            "consume",
            topic,
            &[
                "--group",
                group,
                "--expression",
                expression,
                "--expect",
                &expect,
                "--settle-seconds",
                SETTLE_SECONDS,
                "--seconds",
                RECEIVE_SECONDS,
            ],
        )
    };
    let tagged = |tags: &[&str]| -> Vec<String> {
        let mut ids: Vec<String> = (0..30)
            .filter(|i| tags.contains(&["TagA", "TagB", "TagC"][i % 3]))
            .map(|i| format!("t-{i}"))
            .collect();
        if tags.contains(&"TagB") {
            ids.extend(self::ids("tail", 0, 4));
        }
        sorted(ids)
    };
    let a_or_b = consume("cpp_tags_ab", "TagA || TagB", 24);
    let only_c = consume("cpp_tags_c", "TagC", 10);
    let all = consume("cpp_tags_all", "*", 34);

    let received = cluster.received(&a_or_b.join().expect("consumer thread"));
    assert_eq!(bodies(&received), tagged(&["TagA", "TagB"]));
    assert!(received
        .iter()
        .all(|m| m.tags == "TagA" || m.tags == "TagB"));
    let received = cluster.received(&only_c.join().expect("consumer thread"));
    assert_eq!(bodies(&received), tagged(&["TagC"]));
    let received = cluster.received(&all.join().expect("consumer thread"));
    assert_eq!(bodies(&received), tagged(&["TagA", "TagB", "TagC"]));
}

#[test]
fn new_group_reads_young_queues_from_zero_and_a_restarted_consumer_resumes() {
    // Proves the consume-from behaviour the C++ client (always CONSUME_FROM_LAST_OFFSET)
    // depends on: a new group on young queues gets the messages sent before it existed
    // (QUERY_CONSUMER_OFFSET answers 0 while the min offset is 0); on shutdown its offsets are
    // committed up to each queue's max; restarted, it gets only what was sent while it was
    // away, no re-delivery and nothing lost, also across a graceful broker restart; after a
    // SIGKILL of the broker it loses nothing and re-receives at most the last batch.
    let cluster = Cluster::start("broker_cpp_resume");
    let mut cluster = cluster;
    let topic = "CppResume";
    let group = "cpp_resume";
    cluster.produce(topic, &["--count", "20", "--id-prefix", "r1"]);

    // A group nobody used yet: "not found" when asked strictly, 0 as clients ask.
    let queues = queue_count(&cluster, topic);
    for (committed, _) in offsets(&cluster, topic, "cpp_never_seen").values() {
        assert_eq!(*committed, None);
    }
    let response = cluster.broker_connection().request(
        QUERY_CONSUMER_OFFSET,
        &ext(&[
            ("consumerGroup", "cpp_never_seen"),
            ("topic", topic),
            ("queueId", "0"),
        ]),
        &[],
    );
    assert_eq!(response.code(), SUCCESS, "{response:?}");
    assert_eq!(header_i64(&response, "offset"), 0);

    let consume = |cluster: &Cluster, expect: usize| {
        let expect = expect.to_string();
        let output = cluster.run(
            "consume",
            topic,
            &[
                "--group",
                group,
                "--expect",
                &expect,
                "--settle-seconds",
                "2",
                "--seconds",
                RECEIVE_SECONDS,
            ],
        );
        cluster.received(&output)
    };
    let all_committed = |cluster: &Cluster| {
        wait_until(
            PROGRESS_TIMEOUT,
            "the group's offsets to be committed up to each queue's max",
            || {
                offsets(cluster, topic, group)
                    .values()
                    .all(|(committed, max)| *committed == Some(*max))
            },
            || format!("{:?}", offsets(cluster, topic, group)),
        )
    };

    let received = consume(&cluster, 20);
    assert_eq!(bodies(&received), sorted(ids("r1", 0, 20)));
    all_committed(&cluster);
    assert_eq!(offsets(&cluster, topic, group).len(), queues as usize);

    cluster.produce(topic, &["--count", "20", "--id-prefix", "r2"]);
    let received = consume(&cluster, 20);
    assert_eq!(
        bodies(&received),
        sorted(ids("r2", 0, 20)),
        "only the new ones"
    );
    all_committed(&cluster);

    cluster.broker.restart(); // SIGTERM: offsets flushed; then the same store again.
    all_committed(&cluster);
    cluster.produce(topic, &["--count", "10", "--id-prefix", "r3"]);
    let received = consume(&cluster, 10);
    assert_eq!(
        bodies(&received),
        sorted(ids("r3", 0, 10)),
        "only the new ones"
    );

    // A crash may lose the offsets committed since the broker's last offset flush (every few
    // seconds, as in Apache), so r3 may come again; but nothing older, and nothing is lost.
    cluster.broker.kill();
    cluster.broker.restart();
    cluster.produce(topic, &["--count", "10", "--id-prefix", "r4"]);
    let mut consumer = BackgroundConsumer::start(&cluster, "after_kill", topic, group, &[]);
    let expected = ids("r4", 0, 10);
    wait_for_group(&cluster, topic, group, &expected, &[&consumer]);
    let received = consumer.stop(&cluster);
    assert_eq!(bodies_with_prefix(&received, "r4"), sorted(expected));
    let older: Vec<_> = received
        .iter()
        .filter(|m| !m.body.starts_with("r4-") && !m.body.starts_with("r3-"))
        .collect();
    assert!(older.is_empty(), "re-delivered from before r3: {older:?}");
    eprintln!(
        "after SIGKILL, {} of r3 were delivered again",
        bodies_with_prefix(&received, "r3").len()
    );
}

#[test]
fn acknowledged_sends_survive_a_broker_sigkill_under_load() {
    // Proves durability of acknowledged sends: a C++ producer sends continuously (sync,
    // recording each acknowledged id as it is acknowledged); the broker is SIGKILLed
    // mid-stream and restarted on the same store; a new consumer group then receives every
    // message that was acknowledged, before and after the crash.
    let mut cluster = Cluster::start("broker_cpp_sigkill");
    let topic = "CppSigkill";
    let group = "cpp_sigkill";
    let mut producer = BackgroundProducer::start(&cluster, "k", topic, &["--timeout-ms", "1000"]);
    wait_until(
        PROGRESS_TIMEOUT,
        "300 acknowledged sends before the kill",
        || producer.acked().len() >= 300,
        || cluster.broker.log_tail(),
    );
    cluster.broker.kill();
    let acked_at_kill = producer.acked().len();
    eprintln!("SIGKILL after {acked_at_kill} acknowledged sends");
    cluster.broker.restart();
    wait_until(
        PROGRESS_TIMEOUT,
        "200 more acknowledged sends after the restart",
        || producer.acked().len() >= acked_at_kill + 200,
        || cluster.broker.log_tail(),
    );
    let result = producer.stop();
    let acked = producer.acked();
    eprintln!(
        "{} acknowledged, {} failed sends",
        acked.len(),
        result["errors"].as_array().map_or(0, Vec::len)
    );

    let mut consumer = BackgroundConsumer::start(&cluster, "after_crash", topic, group, &[]);
    wait_for_group(&cluster, topic, group, &acked, &[&consumer]);
    let received = consumer.stop(&cluster);
    let received_ids: BTreeSet<&str> = received.iter().map(|m| m.body.as_str()).collect();
    let unacked = received_ids.len() - acked.len();
    eprintln!("{unacked} stored messages were never acknowledged (in flight at the kill)");
}

#[test]
fn broker_restarts_right_after_sigkill() {
    // Proves a broker can be restarted the moment its SIGKILLed predecessor has been reaped,
    // as Apache RocketMQ can (what a supervisor with an immediate restart policy does), even
    // though the dead broker's listening sockets outlive it by a few milliseconds.
    let mut cluster = Cluster::start("broker_cpp_restart_after_kill");
    let topic = "CppRestart";
    cluster.produce(topic, &["--count", "4", "--id-prefix", "before"]);
    cluster.broker.kill(); // SIGKILL, then waitpid: the process is gone.
    cluster.broker.restart();
    cluster.produce(topic, &["--count", "4", "--id-prefix", "after"]);
}

#[test]
fn broker_restarts_right_after_sigkill_under_load() {
    // Proves a broker killed while a producer is connected and sending can be restarted at
    // once on the same port, as Apache RocketMQ can, though the dead broker's connections
    // linger in FIN_WAIT on that port for a minute; and the producer carries on.
    let mut cluster = Cluster::start("broker_cpp_restart_under_load");
    let topic = "CppRestartLoad";
    let mut producer = BackgroundProducer::start(&cluster, "load", topic, &[]);
    wait_until(
        PROGRESS_TIMEOUT,
        "100 acknowledged sends",
        || producer.acked().len() >= 100,
        || cluster.broker.log_tail(),
    );
    cluster.broker.kill();
    let acked_at_kill = producer.acked().len();
    cluster.broker.restart();
    wait_until(
        PROGRESS_TIMEOUT,
        "sends to be acknowledged again",
        || producer.acked().len() > acked_at_kill + 50,
        || cluster.broker.log_tail(),
    );
    producer.stop();
}

#[test]
fn large_bodies_round_trip_and_an_oversized_one_is_refused() {
    // Proves bodies far above the broker's 256 KiB pull batch limit come back byte for byte:
    // 200 KB bodies the C++ producer compresses (sysFlag COMPRESSED must survive the store)
    // and 1 MB ones sent uncompressed, to a push consumer and a pull consumer; and that a
    // 5 MB body (over maxMessageSize, 4 MiB) is refused with MESSAGE_ILLEGAL (13) and not
    // stored.
    let cluster = Cluster::start("broker_cpp_large_bodies");
    let topic = "CppLarge";
    let limit = ["--max-message-size", "8388608"]; // The client's own limit is 128 KiB.
    let mut args = vec![
        "--count",
        "6",
        "--id-prefix",
        "zip",
        "--body-size",
        "200000",
    ];
    args.extend(limit);
    cluster.produce(topic, &args);
    let mut args = vec![
        "--count",
        "4",
        "--id-prefix",
        "raw",
        "--body-size",
        "1000000",
    ];
    args.extend(["--compress-over", "100000000"]);
    args.extend(limit);
    cluster.produce(topic, &args);

    let mut args = vec![
        "--count",
        "1",
        "--id-prefix",
        "huge",
        "--body-size",
        "5000000",
    ];
    args.extend(["--compress-over", "100000000"]);
    args.extend(limit);
    let refused = cluster.run("produce", topic, &args);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "the send must fail\n{refused}"
    );
    // The C++ client turns the broker's answer into a generic error after its retries; its
    // log keeps the code and remark.
    let logs = std::fs::read_dir(cluster.dir.join("cpp-client-logs"))
        .expect("client logs")
        .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        logs.contains("error code:13"),
        "the broker did not answer MESSAGE_ILLEGAL (13); client log lines: {:?}",
        logs.lines()
            .filter(|l| l.contains("processSendResponse"))
            .collect::<Vec<_>>()
    );

    let mut expected = ids("zip", 0, 6);
    expected.extend(ids("raw", 0, 4));
    let check = |received: &[Received], how: &str| {
        assert_eq!(bodies(received), sorted(expected.clone()), "{how}");
        for message in received {
            let size = if message.body.starts_with("zip-") {
                200_000
            } else {
                1_000_000
            };
            assert_eq!(message.size, size, "{how}: {message:?}");
            assert!(message.intact, "{how}: body corrupted: {message:?}");
        }
    };
    let output = cluster.run(
        "consume",
        topic,
        &[
            "--group",
            "cpp_large",
            "--expect",
            "10",
            "--settle-seconds",
            SETTLE_SECONDS,
            "--seconds",
            RECEIVE_SECONDS,
        ],
    );
    check(&cluster.received(&output), "push consumer");
    let output = cluster.run("pull", topic, &["--group", "cpp_large_pull"]);
    check(&cluster.received(&output), "pull consumer");
}

#[test]
fn failed_deliveries_come_back_through_the_retry_topic() {
    // Proves CONSUMER_SEND_MSG_BACK: a consumer that answers RECONSUME_LATER to each
    // message's first delivery gets every message again from %RETRY%<group> (created at its
    // first heartbeat), with reconsume times counted up and the original topic restored from
    // RETRY_TOPIC; nothing is lost. (The C++ client sends back every message of the pulled
    // batch that failed, including ones already consumed, so a message may come more than
    // twice.) Retries come back after their delay level (level 3 + reconsumeTimes): a short
    // messageDelayLevel table keeps this test fast; broker_delay_retry.rs measures back-off.
    let cluster = Cluster::start_with(
        "broker_cpp_retry",
        &[("messageDelayLevel", "1s 1s 1s 2s 3s")],
    );
    let topic = "CppRetry";
    let group = "cpp_retry";
    cluster.produce(topic, &["--count", "12", "--id-prefix", "re"]);
    let mut consumer =
        BackgroundConsumer::start(&cluster, "retrying", topic, group, &["--fail-once"]);
    let expected = ids("re", 0, 12);
    wait_for_group(&cluster, topic, group, &expected, &[&consumer]);
    consumer.stop(&cluster);

    let records = consumer.records();
    for id in &expected {
        let deliveries: Vec<&Received> = records.iter().filter(|m| &m.body == id).collect();
        let accepted: Vec<&&Received> = deliveries.iter().filter(|m| !m.failed).collect();
        assert!(
            accepted.iter().all(|m| m.reconsume_times >= 1),
            "{id} accepted before it had ever been retried: {deliveries:?}"
        );
        for message in &deliveries {
            assert_eq!(message.topic, topic, "topic not restored: {message:?}");
            assert_eq!(message.interop, "true", "user property lost: {message:?}");
        }
    }
    let retried = cluster.run(
        "pull",
        &format!("%RETRY%{group}"),
        &["--group", "cpp_retry_pull"],
    );
    let retried = cluster.received(&retried);
    assert!(
        expected
            .iter()
            .all(|id| retried.iter().any(|m| &m.body == id)),
        "every message was sent back to %RETRY%{group}: {:?}",
        bodies(&retried)
    );
}

#[test]
fn pull_consumer_reads_every_queue_from_zero() {
    // Proves PULL_MESSAGE for a pull consumer (no subscription registered by heartbeat, offsets
    // chosen by the caller): the C++ PullConsumer reads each queue from 0 until NO_NEW_MSG and
    // gets exactly what was sent; with a tag expression, exactly the matching messages.
    let cluster = Cluster::start("broker_cpp_pull");
    let topic = "CppPull";
    cluster.produce(
        topic,
        &["--count", "40", "--tag", "TagA,TagB", "--id-prefix", "pl"],
    );
    let output = cluster.run("pull", topic, &["--group", "cpp_pull", "--max-num", "7"]);
    assert_eq!(bodies(&cluster.received(&output)), sorted(ids("pl", 0, 40)));

    let output = cluster.run(
        "pull",
        topic,
        &["--group", "cpp_pull_b", "--expression", "TagB"],
    );
    let received = cluster.received(&output);
    let only_b: Vec<String> = (1..40).step_by(2).map(|i| format!("pl-{i}")).collect();
    assert_eq!(bodies(&received), sorted(only_b));
    assert!(received.iter().all(|m| m.tags == "TagB"), "{received:?}");
}

#[test]
fn a_backlog_of_async_sends_is_consumed_exactly_once() {
    // Proves the broker under a burst: 5,000 async sends from one C++ producer are all
    // acknowledged, and a new group drains the backlog (many full pull batches per queue)
    // receiving each message once, every queue's offsets contiguous from 0.
    let cluster = Cluster::start("broker_cpp_backlog");
    let topic = "CppBacklog";
    let sent = cluster.produce(
        topic,
        &["--mode", "async", "--count", "5000", "--id-prefix", "bl"],
    );
    assert_eq!(sent.len(), 5000);
    let output = cluster.run(
        "consume",
        topic,
        &[
            "--group",
            "cpp_backlog",
            "--expect",
            "5000",
            "--settle-seconds",
            SETTLE_SECONDS,
            "--seconds",
            "60",
        ],
    );
    let received = cluster.received(&output);
    assert_eq!(bodies(&received), sorted(ids("bl", 0, 5000)));
    let mut offsets: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for message in &received {
        offsets
            .entry(message.queue_id)
            .or_default()
            .push(message.queue_offset);
    }
    for (queue, offsets) in &mut offsets {
        offsets.sort();
        let contiguous: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(*offsets, contiguous, "queue {queue}");
    }
}
