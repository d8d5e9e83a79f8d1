//! Issue 12, online reset: `mqadmin resetOffsetByTime` moves a running push consumer of the
//! third-party `rocketmq-client-rust` 1.0 crate back in time without a restart. The broker
//! (INVOKE_BROKER_TO_RESET_OFFSET) finds the offsets, commits them and sends the client a
//! oneway RESET_CONSUMER_CLIENT_OFFSET; the client drops its queues, waits (10 s, as Java's
//! client does), takes the new offsets and consumes the messages again. Without force a queue
//! only moves back. Once the consumer is gone, the same command takes the offline path
//! (CONSUMER_NOT_ONLINE, then SEARCH_OFFSET_BY_TIMESTAMP and UPDATE_CONSUMER_OFFSET).
//! The Apache C++ client (through interop/python/cpp_client.py) reads only the list form of
//! the offsets (ResetOffsetBodyForC), which the broker sends to C++ consumers; it commits
//! them, and a consumer of the group started afterwards consumes again from there.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::consume::{counts, now_ms, unique, wait_for_times};
use common::mqadmin::{admin_ok, mqadmin};
use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::python::run_script;
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::workspace;

const TEST: &str = "broker_reset_offset";
const TOPIC: &str = "ResetOffsetTopic";
/// Messages per batch; the producer spreads them over the topic's 4 queues.
const BATCH: usize = 8;
/// How long the client gets to act on a reset: its 10 s wait, then a rebalance and pulls.
const RESET_WAIT: Duration = Duration::from_secs(25);

/// The rows of the online reset's table: queue id -> offset.
fn reset_rows(stdout: &str) -> BTreeMap<i32, i64> {
    stdout
        .lines()
        .filter(|line| line.starts_with("broker-a"))
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 3, "row {line:?}\n{stdout}");
            (cells[1].parse().unwrap(), cells[2].parse().unwrap())
        })
        .collect()
}

/// Waits until consumerProgress shows the group's committed offsets `diff` behind the
/// queues' ends (the client commits every 5 s).
fn wait_for_diff(namesrv: &Namesrv, group: &str, diff: usize, broker: &Broker) {
    let needle = format!("Consume Diff Total: {diff}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, stdout, _) = mqadmin(namesrv, "consumerProgress", &["-g", group, "-t", TOPIC]);
        if stdout.contains(&needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "consumerProgress never showed {needle:?}\n{stdout}\n{}",
            broker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn reset_by_time_moves_a_running_rust_consumer_and_falls_back_when_offline() {
    let started = Instant::now();
    let namesrv = Namesrv::start(TEST, &[]);
    let broker = Broker::start(&namesrv, TEST);
    admin_ok(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", TOPIC, "-r", "4", "-w", "4"],
    );
    let group = unique("reset_offset_g");
    let client = RustClient::new("reset-offset");
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, TOPIC));
    let producer = client.start_producer(&namesrv.addr, &unique("reset_offset_p"));

    // Batch A, then (a little later) batch B; `before_all` and `between` bracket them.
    let before_all = now_ms() - 1;
    let mut a_per_queue: BTreeMap<i32, i64> = BTreeMap::new();
    let send = |name: &str, index: usize| {
        let body = format!("{name}-{index}");
        let sent = producer
            .send(message(TOPIC, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        (body, sent.queue_id.expect("a send names its queue"))
    };
    let mut a_bodies = Vec::new();
    for index in 0..BATCH {
        let (body, queue) = send("a", index);
        *a_per_queue.entry(queue).or_insert(0) += 1;
        a_bodies.push(body);
    }
    std::thread::sleep(Duration::from_millis(20));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(20));
    // Each queue's end: its A and B messages.
    let mut ends = a_per_queue.clone();
    let mut b_bodies = Vec::new();
    for index in 0..BATCH {
        let (body, queue) = send("b", index);
        *ends.entry(queue).or_insert(0) += 1;
        b_bodies.push(body);
    }
    assert_eq!(
        a_per_queue.len(),
        4,
        "batch A covers every queue: {a_per_queue:?}"
    );
    let all: Vec<String> = a_bodies.iter().chain(&b_bodies).cloned().collect();
    wait_for_times(&consumer, &all, 1, RESET_WAIT, "first delivery");
    wait_for_diff(&namesrv, &group, 0, &broker);
    eprintln!("consumed and committed after {:?}", started.elapsed());

    // Force (the default), to before batch A: every queue back to 0, all consumed again.
    let reset = admin_ok(
        &namesrv,
        "resetOffsetByTime",
        &["-g", &group, "-t", TOPIC, "-s", &before_all.to_string()],
    );
    assert!(
        reset.contains(&format!(
            "start reset consumer offset by specified, group[{group}], topic[{TOPIC}], \
             force[true], timestamp(string)[{before_all}], timestamp(long)[{before_all}]"
        )),
        "{reset}"
    );
    assert!(
        reset.contains("#brokerName") && reset.contains("#offset"),
        "{reset}"
    );
    let expected: BTreeMap<i32, i64> = (0..4).map(|queue| (queue, 0)).collect();
    assert_eq!(reset_rows(&reset), expected, "{reset}");
    let reset_at = Instant::now();
    wait_for_times(&consumer, &all, 2, RESET_WAIT, "after the forced reset");
    eprintln!("re-consumed {:?} after the reset", reset_at.elapsed());
    wait_for_diff(&namesrv, &group, 0, &broker);

    // Without force, to between the batches: the timestamp's offsets (each queue's first B
    // message) are below the committed ends, so the queues move back to there: B is
    // consumed a third time, A not again.
    let reset = admin_ok(
        &namesrv,
        "resetOffsetByTime",
        &[
            "-g",
            &group,
            "-t",
            TOPIC,
            "-s",
            &between.to_string(),
            "-f",
            "false",
        ],
    );
    assert!(reset.contains("force[false]"), "{reset}");
    assert_eq!(reset_rows(&reset), a_per_queue, "{reset}");
    wait_for_times(
        &consumer,
        &b_bodies,
        3,
        RESET_WAIT,
        "after the reset without force",
    );
    std::thread::sleep(Duration::from_secs(1));
    let seen = counts(&consumer.received());
    for body in &a_bodies {
        assert_eq!(seen[body], 2, "{body} was consumed again: {seen:?}");
    }
    wait_for_diff(&namesrv, &group, 0, &broker);

    // Without force, to now: the timestamp's offsets are the queues' ends, not below the
    // committed offsets, so every queue keeps its committed offset (its end).
    let reset = admin_ok(
        &namesrv,
        "resetOffsetByTime",
        &["-g", &group, "-t", TOPIC, "-s", "now", "-f", "false"],
    );
    assert_eq!(reset_rows(&reset), ends, "{reset}");

    // Offline: the broker answers CONSUMER_NOT_ONLINE and the tool commits the offsets
    // itself (Java's old path), printing the rollback table.
    consumer.shutdown();
    let deadline = Instant::now() + Duration::from_secs(15);
    while mqadmin(&namesrv, "consumerConnection", &["-g", &group]).0 {
        assert!(Instant::now() < deadline, "the consumer stays online");
        std::thread::sleep(Duration::from_millis(100));
    }
    let offline = admin_ok(
        &namesrv,
        "resetOffsetByTime",
        &["-g", &group, "-t", TOPIC, "-s", &before_all.to_string()],
    );
    assert!(
        offline.contains(&format!(
            "reset consumer offset by specified consumerGroup[{group}]"
        )) && offline.contains("#timestampOffset"),
        "{offline}"
    );
    wait_for_diff(&namesrv, &group, 2 * BATCH, &broker);
    eprintln!("test took {:?}", started.elapsed());
}

/// Lines of the C++ consumer's record file: the bodies it accepted, in order.
fn recorded_bodies(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["failed"].as_bool() != Some(true))
        .filter_map(|entry| entry["body"].as_str().map(str::to_string))
        .collect()
}

/// `cpp_client.py consume ...` for `group`, recording to `record`, until `stop` exists.
fn cpp_consume_args(namesrv: &Namesrv, dir: &Path, group: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "consume",
        "--namesrv",
        &namesrv.addr,
        "--topic",
        TOPIC,
        "--log-dir",
        &dir.join("cpp-client-logs").display().to_string(),
        "--group",
        group,
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

/// How often the C++ client logged that it set a queue's offset from a 220
/// (`MQClientFactory::resetOffset`: "offset sets to:<n>").
fn cpp_reset_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir.join("cpp-client-logs"))
        .into_iter()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        lines.extend(
            text.lines()
                .filter(|line| line.contains("offset sets to:"))
                .map(str::to_string),
        );
    }
    lines
}

/// The Apache C++ client 2.1 reads only ResetOffsetBodyForC, which the broker sends it
/// because its heartbeat says CPP. On the 220 it marks its pull requests dropped, commits the
/// new offsets and rebalances, but its rebalance keeps the dropped pull requests, so the
/// running consumer stops pulling those queues until the allocation changes or it restarts
/// (`MQClientFactory::resetOffset`, `Rebalance::updateRequestTableInRebalance`). So this
/// checks what that client does: it takes the offsets from the 220 (its log), and a consumer
/// of the group started afterwards consumes everything again from them.
#[test]
fn reset_by_time_reaches_a_cpp_consumer_as_a_list() {
    let test = "broker_reset_offset_cpp";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    admin_ok(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", TOPIC, "-r", "4", "-w", "4"],
    );
    let dir = workspace::scratch_dir("broker_reset_offset_cpp_client");
    let (record, stop) = (dir.join("consumer.jsonl"), dir.join("consumer.stop"));
    let group = unique("reset_offset_cpp_g");
    let (record_arg, stop_arg) = (record.display().to_string(), stop.display().to_string());
    let args = cpp_consume_args(
        &namesrv,
        &dir,
        &group,
        &[
            "--seconds",
            "50",
            "--record-file",
            &record_arg,
            "--until-file",
            &stop_arg,
        ],
    );
    let script_dir = dir.clone();
    let consumer = std::thread::spawn(move || {
        run_script("cpp_client.py", &args, &script_dir, Duration::from_secs(70))
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mqadmin(&namesrv, "consumerConnection", &["-g", &group]).0 {
        if Instant::now() > deadline {
            std::fs::write(&stop, b"").unwrap();
            panic!("the C++ consumer never came online\n{}", broker.log_tail());
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let client = RustClient::new("reset-offset-cpp");
    let producer = client.start_producer(&namesrv.addr, &unique("reset_offset_cpp_p"));
    let before_all = now_ms() - 1;
    let mut bodies: Vec<String> = (0..BATCH)
        .map(|index| {
            let body = format!("c-{index}");
            producer
                .send(message(TOPIC, "TagA", &body, &body))
                .unwrap_or_else(|error| panic!("send {body}: {error}"));
            body
        })
        .collect();
    bodies.sort();
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorded_bodies(&record).len() < BATCH {
        assert!(
            Instant::now() < deadline,
            "first delivery: {:?}",
            recorded_bodies(&record)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_diff(&namesrv, &group, 0, &broker);
    let reset = admin_ok(
        &namesrv,
        "resetOffsetByTime",
        &["-g", &group, "-t", TOPIC, "-s", &before_all.to_string()],
    );
    let expected: BTreeMap<i32, i64> = (0..4).map(|queue| (queue, 0)).collect();
    assert_eq!(reset_rows(&reset), expected, "{reset}");
    // The client parsed the list: one "offset sets to:0" per queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cpp_reset_lines(&dir).len() < 4 {
        if Instant::now() > deadline {
            std::fs::write(&stop, b"").unwrap();
            panic!(
                "the C++ client never applied the reset: {:?}",
                cpp_reset_lines(&dir)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        cpp_reset_lines(&dir)
            .iter()
            .all(|line| line.contains("offset sets to:0")),
        "{:?}",
        cpp_reset_lines(&dir)
    );
    std::fs::write(&stop, b"").unwrap();
    let first = consumer.join().expect("consumer thread");
    assert!(!first.timed_out, "{first}");

    // The offsets it committed hold: a new consumer of the group gets everything again.
    wait_for_diff(&namesrv, &group, BATCH, &broker);
    let expect = BATCH.to_string();
    let args = cpp_consume_args(
        &namesrv,
        &dir,
        &group,
        &[
            "--seconds",
            "25",
            "--expect",
            &expect,
            "--settle-seconds",
            "1",
        ],
    );
    let second = run_script("cpp_client.py", &args, &dir, Duration::from_secs(40));
    let mut again: Vec<String> = second.json()["received"]
        .as_array()
        .expect("the consumer prints what it received")
        .iter()
        .map(|entry| entry["body"].as_str().unwrap_or_default().to_string())
        .collect();
    again.sort();
    assert_eq!(again, bodies, "{second}\n{}", broker.log_tail());
}
