//! Issue 12, metrics: the Prometheus exporter and the stats the remoting codes answer.
//!
//! The third-party `rocketmq-client-rust` 1.0 crate sends N messages to a topic and consumes
//! them; GET /metrics (plain HTTP over a TcpStream) before and after shows
//! rocketmq_messages_in_total and rocketmq_messages_out_total moved by exactly N, and the
//! whole exposition parses with Python's prometheus_client parser (interop/python/
//! prom_parse.py) and passes the stricter checks below (every sample in a declared family,
//! histogram buckets cumulative and ending in +Inf = _count). mqadmin brokerStatus
//! (GET_BROKER_RUNTIME_INFO) shows a non-zero putTps under load and msgPutTotalTodayNow = N;
//! topicStatus and consumerProgress show put and consume TPS consistent with N. A second
//! broker told to use the first one's exporter port boots anyway and says why it has no
//! exporter; bad HTTP requests are answered 404/405/400 and the exporter keeps serving.
//! ramjet_send_latency_seconds{topic} counts exactly the N sends, and the console's
//! GET /api/topic/latency (which reads it from /metrics) answers a p50 > 0 over them, then
//! an empty interval when nothing was sent since its previous poll. mqadmin
//! brokerConsumeStats (GET_BROKER_CONSUME_STATS, 317) shows the consumed group's queues and
//! the same Diff Total as consumerProgress.
//!
//! A second test drives the rare events: a dead letter (CONSUMER_SEND_MSG_BACK with
//! maxReconsumeTimes 0 for a message the Rust client sent), a committed and a rolled-back
//! transaction of the Rust client's TransactionMQProducer, and a timer message (4 s); then
//! rocketmq_send_to_dlq_messages_total, rocketmq_commit/rollback_messages_total,
//! rocketmq_timer_enqueue/dequeue_total and rocketmq_timing_messages move by exactly one,
//! the storage behind gauges are declared, and VIEW_BROKER_STATS_DATA SNDBCK_PUT_NUMS counts
//! the send-back.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::mqadmin::admin_ok as mqadmin;
use common::rust_client::{message, RustClient, TransactionDecider};
use ramjet_interop::python::run_script;
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;
use rocketmq_client_rust::LocalTransactionState;
use rocketmq_model::common::message::MessageTrait;

const TEST: &str = "broker_metrics";
const TOPIC: &str = "MetricsTopic";
const N: usize = 40;

/// One sample as the Python parser reports it.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Sends `request` to the exporter and returns (status line, body).
fn http(addr: &str, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read the response");
    let text = String::from_utf8(response).expect("the response is UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    if status.contains("200") {
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "content type of a scrape: {head}"
        );
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|l| l.trim().parse().ok())
            .expect("Content-Length");
        assert_eq!(length, body.len(), "Content-Length matches the body");
    }
    (status, body.to_owned())
}

/// GET /metrics, checked strictly, parsed by prometheus_client.
fn scrape(broker: &Broker) -> Vec<Sample> {
    let (status, body) = http(
        broker.metrics_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}\n{body}");
    check_format(&body);
    let dir = broker.dir.join("scrapes");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("scrape-{}.txt", std::process::id()));
    std::fs::write(&file, &body).unwrap();
    let output = run_script(
        "prom_parse.py",
        &[file.display().to_string()],
        &dir,
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "prometheus_client could not parse the exposition: {}\n{body}",
        output.stderr
    );
    output
        .stdout
        .lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).expect("a sample line");
            Sample {
                name: json["name"].as_str().expect("name").to_owned(),
                labels: json["labels"]
                    .as_object()
                    .expect("labels")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
                    .collect(),
                value: json["value"].as_f64().expect("value"),
            }
        })
        .collect()
}

/// The raw exposition text.
fn scrape_text(broker: &Broker) -> String {
    http(
        broker.metrics_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .1
}

/// Bytes on disk (allocated blocks) of the files under `root`.
fn store_bytes(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total += metadata.blocks() * 512;
            }
        }
    }
    total
}

/// The format rules prometheus_client's lenient text parser does not enforce.
fn check_format(body: &str) {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current = String::new();
    let mut buckets: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "family {name} declared twice"
            );
            if !current.is_empty() {
                finished.insert(std::mem::take(&mut current));
            }
            current = name.to_owned();
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let name_end = line.find(['{', ' ']).expect("a sample line");
        let name = &line[..name_end];
        let family = if types.get(&current).map(String::as_str) == Some("histogram") {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
        } else {
            name
        };
        assert_eq!(
            family, current,
            "sample {line:?} outside its family's block"
        );
        let value: f64 = line
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        assert!(
            name.starts_with("rocketmq_") || name.starts_with("ramjet_"),
            "{name}"
        );
        if name.ends_with("_bucket") {
            let series = line[..line.find(",le=\"").expect("le label")].to_owned();
            let count = value as u64;
            let (_, last) = buckets.get(&series).copied().unwrap_or((0.0, 0));
            assert!(count >= last, "buckets of {series} not cumulative");
            buckets.insert(series, (value, count));
        } else if name.ends_with("_count")
            && types.get(&current).map(String::as_str) == Some("histogram")
        {
            let series = format!(
                "{family}_bucket{}",
                &line[name_end..line.rfind(' ').unwrap()]
            );
            let series = series.trim_end_matches('}').to_owned();
            let inf = buckets
                .get(&series)
                .unwrap_or_else(|| panic!("no buckets before {line:?}"));
            assert_eq!(
                inf.1, value as u64,
                "+Inf bucket equals _count for {line:?}"
            );
        }
    }
    for family in [
        "rocketmq_messages_in_total",
        "rocketmq_messages_out_total",
        "rocketmq_throughput_in_total",
        "rocketmq_throughput_out_total",
        "rocketmq_message_size",
        "rocketmq_rpc_latency",
        "rocketmq_consumer_lag_messages",
        "rocketmq_consumer_lag_latency",
        "rocketmq_storage_size",
        "rocketmq_topic_number",
        "rocketmq_consumer_group_number",
        "rocketmq_processor_watermark",
        "ramjet_shard_inbox_depth",
        "ramjet_shard_cpu_seconds_total",
        "ramjet_store_append_latency_seconds",
        "ramjet_store_flush_latency_seconds",
        "ramjet_send_latency_seconds",
        "ramjet_long_polling_waiters",
        "ramjet_connections",
    ] {
        assert!(types.contains_key(family), "family {family} missing");
    }
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map_or(0.0, |s| {
        for (label, expected) in [
            ("cluster", "DefaultCluster"),
            ("node_type", "broker"),
            ("node_id", "broker-a"),
        ] {
            assert_eq!(
                s.labels.get(label).map(String::as_str),
                Some(expected),
                "{s:?}"
            );
        }
        s.value
    })
}

/// The value after `prefix` on the first line that starts with it.
fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
        .trim()
}

/// Polls `probe` until it returns Some, for up to `wait`.
fn eventually<T>(wait: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {wait:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn exporter_counts_what_a_third_party_client_sends_and_consumes() {
    let started = Instant::now();
    let namesrv = Namesrv::start(TEST, &[]);
    let broker = Broker::start(&namesrv, TEST);
    mqadmin(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", TOPIC, "-r", "4", "-w", "4"],
    );
    let before = scrape(&broker);
    let in_labels = [
        ("topic", TOPIC),
        ("message_type", "normal"),
        ("is_system", "false"),
    ];
    let in_before = value(&before, "rocketmq_messages_in_total", &in_labels);
    let send_latency_labels = [("topic", TOPIC)];
    let sends_before = value(
        &before,
        "ramjet_send_latency_seconds_count",
        &send_latency_labels,
    );
    let bytes_before = value(&before, "rocketmq_throughput_in_total", &in_labels);
    assert!(value(&before, "rocketmq_topic_number", &[]) >= 1.0);

    let client = RustClient::new("metrics");
    let sent = client
        .produce(&namesrv.addr, "metrics_p", TOPIC, "TagA", N)
        .unwrap_or_else(|error| panic!("{error}\n{}", broker.log_tail()));
    assert_eq!(sent.len(), N);

    // GET_BROKER_RUNTIME_INFO right after the load: the 10 s rate (sampled every second)
    // sees it within a second or two.
    let status = eventually(Duration::from_secs(5), "a non-zero putTps", || {
        let status = mqadmin(&namesrv, "brokerStatus", &["-b", broker.addr()]);
        let put_tps: Vec<f64> = field(&status, "putTps")
            .trim_start_matches(':')
            .split_whitespace()
            .map(|t| t.parse().expect("putTps is three numbers"))
            .collect();
        assert_eq!(put_tps.len(), 3, "{status}");
        (put_tps[0] > 0.0).then_some(status)
    });
    assert_eq!(
        field(&status, "msgPutTotalTodayNow")
            .trim_start_matches(':')
            .trim(),
        N.to_string(),
        "{status}"
    );

    let after_put = scrape(&broker);
    assert_eq!(
        value(&after_put, "rocketmq_messages_in_total", &in_labels) - in_before,
        N as f64,
        "rocketmq_messages_in_total{{topic={TOPIC}}} moved by exactly N"
    );
    let bytes = value(&after_put, "rocketmq_throughput_in_total", &in_labels) - bytes_before;
    assert!(
        bytes >= (N * 20) as f64,
        "throughput_in counts stored bytes: {bytes}"
    );
    let size_labels = [("topic", TOPIC), ("message_type", "normal")];
    assert_eq!(
        value(&after_put, "rocketmq_message_size_count", &size_labels),
        N as f64
    );
    assert_eq!(
        value(
            &after_put,
            "rocketmq_message_size_bucket",
            &[("topic", TOPIC), ("le", "1024")]
        ),
        N as f64,
        "every body is under 1 KiB"
    );
    // SEND_MESSAGE (10) or SEND_MESSAGE_V2 (310) answered SUCCESS (0) N times, at least.
    let sends: f64 = after_put
        .iter()
        .filter(|s| s.name == "rocketmq_rpc_latency_count")
        .filter(|s| s.labels.get("response_code").map(String::as_str) == Some("0"))
        .filter(|s| ["10", "310"].contains(&s.labels["request_code"].as_str()))
        .map(|s| s.value)
        .sum();
    assert!(sends >= N as f64, "rpc latency counts the sends: {sends}");
    assert!(
        value(
            &after_put,
            "ramjet_store_append_latency_seconds_count",
            &[("shard", "0")]
        ) + value(
            &after_put,
            "ramjet_store_append_latency_seconds_count",
            &[("shard", "1")]
        ) >= N as f64
    );

    // One send latency observation per send, on the put's owner.
    assert_eq!(
        value(
            &after_put,
            "ramjet_send_latency_seconds_count",
            &send_latency_labels
        ) - sends_before,
        N as f64,
        "ramjet_send_latency_seconds_count{{topic={TOPIC}}} moved by exactly N"
    );
    assert!(
        value(
            &after_put,
            "ramjet_send_latency_seconds_sum",
            &send_latency_labels
        ) > 0.0
    );
    // The console's live latency: its first poll covers every send since the start...
    let path = format!("/api/topic/latency?topic={TOPIC}");
    let latency = ramjet_interop::http::get(broker.http_addr(), &path);
    assert_eq!(latency.status, 200, "{}", latency.body);
    let json = &latency.json;
    assert_eq!(json["available"], true, "{json}");
    assert_eq!(json["count"], N, "{json}");
    let p50 = json["p50Ms"].as_f64().unwrap_or_else(|| panic!("{json}"));
    let p99 = json["p99Ms"].as_f64().unwrap_or_else(|| panic!("{json}"));
    assert!(p50 > 0.0 && p99 >= p50, "{json}");
    // ...the next one only the interval since, which saw no send.
    let latency = ramjet_interop::http::get(broker.http_addr(), &path);
    assert_eq!(latency.json["count"], 0, "{}", latency.body);
    assert!(latency.json["p50Ms"].is_null(), "{}", latency.body);
    assert!(latency.json["intervalMs"].is_u64(), "{}", latency.body);
    let missing = ramjet_interop::http::get(broker.http_addr(), "/api/topic/latency");
    assert_eq!(missing.status, 400, "{}", missing.body);

    // topicStatus: the queues hold N messages, and the minute put rate (10 s samples)
    // appears and never claims more than N messages in one 10 s step.
    let tps = eventually(Duration::from_secs(25), "a non-zero Topic Put TPS", || {
        let status = mqadmin(&namesrv, "topicStatus", &["-t", TOPIC]);
        let held: i64 = status
            .lines()
            .filter(|l| l.starts_with("broker-a"))
            .map(|l| {
                let cells: Vec<i64> = l
                    .split_whitespace()
                    .skip(1)
                    .take(3)
                    .map(|c| c.parse().unwrap())
                    .collect();
                cells[2] - cells[1]
            })
            .sum();
        assert_eq!(held, N as i64, "{status}");
        let tps: f64 = field(&status, "Topic Put TPS:").parse().unwrap();
        (tps > 0.0).then_some(tps)
    });
    assert!(
        tps <= N as f64 / 10.0,
        "Topic Put TPS {tps} for {N} messages"
    );

    let group = format!("metrics_c_{}", std::process::id());
    let received = client
        .consume(
            &namesrv.addr,
            &group,
            TOPIC,
            "*",
            N,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|error| panic!("{error}\n{}", broker.log_tail()));
    assert_eq!(received.len(), N, "the consumer got every message once");
    let out_labels = [
        ("topic", TOPIC),
        ("consumer_group", group.as_str()),
        ("is_retry", "false"),
    ];
    let after_get = scrape(&broker);
    assert_eq!(
        value(&after_get, "rocketmq_messages_out_total", &out_labels),
        N as f64,
        "rocketmq_messages_out_total moved by exactly N"
    );
    assert!(value(&after_get, "rocketmq_throughput_out_total", &out_labels) >= bytes);
    // The lag gauge agrees with GET_CONSUME_STATS (consumerProgress's diff total) once
    // the group has committed offsets; the consumer is gone, so both hold still.
    let lag_labels = [("topic", TOPIC), ("consumer_group", group.as_str())];
    let consume_tps = eventually(Duration::from_secs(25), "a non-zero Consume TPS", || {
        let progress = mqadmin(&namesrv, "consumerProgress", &["-g", &group]);
        let samples = scrape(&broker);
        let present = samples.iter().any(|s| {
            s.name == "rocketmq_consumer_lag_messages"
                && s.labels.get("consumer_group") == Some(&group)
        });
        let tps: f64 = field(&progress, "Consume TPS:").parse().unwrap();
        if !present || tps <= 0.0 {
            return None;
        }
        let diff: f64 = field(&progress, "Consume Diff Total:").parse().unwrap();
        let lag = value(&samples, "rocketmq_consumer_lag_messages", &lag_labels);
        assert_eq!(lag, diff, "lag gauge vs consumerProgress\n{progress}");
        let latency = value(&samples, "rocketmq_consumer_lag_latency", &lag_labels);
        assert_eq!(lag > 0.0, latency > 0.0, "lag {lag} with latency {latency}");
        Some(tps)
    });
    assert!(consume_tps <= N as f64 / 10.0, "Consume TPS {consume_tps}");
    // brokerConsumeStats (317): the group's consumed queues, and the broker's lag total
    // equal to consumerProgress's (the only group with committed offsets so far).
    let progress = mqadmin(&namesrv, "consumerProgress", &["-g", &group]);
    let diff_total = field(&progress, "Consume Diff Total:").to_owned();
    let stats = mqadmin(&namesrv, "brokerConsumeStats", &["-b", broker.addr()]);
    assert!(stats.starts_with("#Topic"), "{stats}");
    let rows = stats
        .lines()
        .filter(|l| l.starts_with(TOPIC) && l.split_whitespace().nth(1) == Some(group.as_str()))
        .count();
    assert!((1..=4).contains(&rows), "{stats}");
    assert_eq!(
        field(&stats, "Diff Total:"),
        diff_total,
        "{stats}\n{progress}"
    );

    // Connections by group, and the store directory's size (issue 12's missing metrics):
    // a running push consumer and producer of the Rust client are counted.
    let online = format!("metrics_online_{}", std::process::id());
    let mut consumer = client.start_push_consumer(
        &namesrv.addr,
        &common::rust_client::ConsumerOptions::new(&online, TOPIC),
    );
    let producer = client.start_producer(&namesrv.addr, &format!("{online}_p"));
    producer
        .send(common::rust_client::message(TOPIC, "TagA", "k", "online"))
        .unwrap();
    let samples = eventually(
        Duration::from_secs(15),
        "the online consumer counted",
        || {
            let samples = scrape(&broker);
            (value(
                &samples,
                "rocketmq_consumer_connections",
                &[("consumer_group", &online)],
            ) == 1.0)
                .then_some(samples)
        },
    );
    let connection = samples
        .iter()
        .find(|s| {
            s.name == "rocketmq_consumer_connections"
                && s.labels.get("consumer_group") == Some(&online)
        })
        .unwrap();
    assert_eq!(connection.labels["consume_mode"], "push", "{connection:?}");
    assert_eq!(
        connection.labels["protocol_type"], "remoting",
        "{connection:?}"
    );
    assert_eq!(connection.labels["is_system"], "false", "{connection:?}");
    assert!(
        connection.labels["version"].starts_with('v'),
        "{connection:?}"
    );
    let producers: f64 = samples
        .iter()
        .filter(|s| s.name == "rocketmq_producer_connections")
        .map(|s| s.value)
        .sum();
    assert!(producers >= 1.0, "a running producer is counted");
    // The whole store directory, not just the CommitLog: at least the CommitLog bytes the
    // first scrape reported, and within a factor of two of what this test walks itself.
    let storage = value(
        &samples,
        "rocketmq_storage_size",
        &[("storage_type", "local")],
    );
    let walked = store_bytes(&broker.dir.join("store"));
    assert!(
        storage > 0.0 && storage * 2.0 >= walked as f64 && storage <= 2.0 * walked as f64,
        "rocketmq_storage_size {storage} vs {walked} bytes on disk"
    );
    for family in [
        "rocketmq_send_to_dlq_messages_total",
        "rocketmq_commit_messages_total",
        "rocketmq_rollback_messages_total",
        "rocketmq_half_messages",
    ] {
        assert!(
            scrape_text(&broker).contains(&format!("# TYPE {family} ")),
            "family {family} declared"
        );
    }
    drop(producer);
    consumer.shutdown();

    // Hostile HTTP: answered, and the exporter serves on.
    let (status, _) = http(broker.metrics_addr(), b"GET /nope HTTP/1.1\r\n\r\n");
    assert!(status.contains("404"), "{status}");
    let (status, _) = http(broker.metrics_addr(), b"POST /metrics HTTP/1.1\r\n\r\n");
    assert!(status.contains("405"), "{status}");
    let (status, _) = http(broker.metrics_addr(), b"\x16\x03\x01 not http\r\n\r\n");
    assert!(status.contains("400"), "{status}");
    let mut endless = TcpStream::connect(broker.metrics_addr()).unwrap();
    endless.write_all(&[b'a'; 9000]).unwrap();
    drop(endless);
    scrape(&broker);

    // A second broker on the first one's exporter port: it boots, says why it exports
    // nothing, and serves clients.
    let port = broker.metrics_addr().rsplit(':').next().unwrap().to_owned();
    // Its own name server: two broker-a's must not share a route.
    let second_namesrv = Namesrv::start("broker_metrics_second", &[]);
    let second = Broker::start_with(
        &second_namesrv,
        "broker_metrics_second",
        &[("metricsPromExporterPort", &port)],
    );
    let log = std::fs::read_to_string(second.log_path()).unwrap();
    assert!(
        log.contains(&format!("metricsPromExporterPort={port}: cannot listen")),
        "{log}"
    );
    mqadmin(&second_namesrv, "brokerStatus", &["-b", second.addr()]);
    scrape(&broker);
    drop(second);
    eprintln!("broker_metrics: {:?}", started.elapsed());
}

/// Commits bodies starting "commit", rolls back the others; never asked back.
struct CommitOrRollback;

impl TransactionDecider for CommitOrRollback {
    fn execute(&self, body: &str) -> LocalTransactionState {
        if body.starts_with("commit") {
            LocalTransactionState::CommitMessage
        } else {
            LocalTransactionState::RollbackMessage
        }
    }

    fn check(&self, body: &str) -> LocalTransactionState {
        self.execute(body)
    }
}

#[test]
fn exporter_counts_dead_letters_transactions_and_timer_messages() {
    let started = Instant::now();
    let test = "broker_metrics_ops";
    let topic = "MetricsOpsTopic";
    let group = format!("metrics_ops_g_{}", std::process::id());
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    mqadmin(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", topic, "-r", "2", "-w", "2"],
    );
    let topic_label = [("topic", topic)];
    let before = scrape(&broker);
    for family in [
        "rocketmq_timer_enqueue_total",
        "rocketmq_timer_dequeue_total",
        "rocketmq_timing_messages",
        "rocketmq_storage_flush_behind_bytes",
        "rocketmq_storage_dispatch_behind_bytes",
    ] {
        assert!(
            scrape_text(&broker).contains(&format!("# TYPE {family} ")),
            "family {family} declared"
        );
    }
    assert_eq!(value(&before, "rocketmq_timing_messages", &[]), 0.0);

    let client = RustClient::new("metrics_ops");
    let producer = client.start_producer(&namesrv.addr, &format!("{group}_p"));
    // A dead letter: the message's first send-back with maxReconsumeTimes 0.
    let sent = producer
        .send(message(topic, "TagA", "dlq", "to the dead letter queue"))
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log_tail()));
    let offset_msg_id = sent.offset_msg_id.clone().expect("an offsetMsgId");
    let physical = i64::from_str_radix(&offset_msg_id[offset_msg_id.len() - 16..], 16)
        .expect("the offsetMsgId ends with the physical offset");
    let mut admin = BlockingClient::connect(broker.addr(), Duration::from_secs(5)).unwrap();
    let mut fields = ramjet_net::ExtFields::new();
    let physical = physical.to_string();
    fields.insert("offset", physical.as_str());
    fields.insert("group", group.as_str());
    fields.insert("delayLevel", "0");
    fields.insert("originTopic", topic);
    fields.insert("maxReconsumeTimes", "0");
    let back = RemotingCommand::request(request::CONSUMER_SEND_MSG_BACK).with_ext_fields(fields);
    let answer = admin.invoke(back, Duration::from_secs(10)).unwrap();
    assert_eq!(answer.code, response::SUCCESS, "{answer:?}");

    // One committed and one rolled-back transaction.
    let transactions = client.start_transaction_producer(
        &namesrv.addr,
        &format!("{group}_tx"),
        Arc::new(CommitOrRollback),
    );
    for body in ["commit-1", "rollback-1"] {
        let (status, _) = transactions
            .send(message(topic, "TagA", body, body))
            .unwrap_or_else(|e| panic!("{body}: {e}\n{}", broker.log_tail()));
        assert_eq!(status, "SendOk", "{body}");
    }

    // A timer message: in the wheel first, then delivered.
    let mut timed = message(topic, "TagA", "timer", "timer");
    timed.set_delay_time_sec(4);
    producer
        .send(timed)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log_tail()));
    let waiting = eventually(Duration::from_secs(3), "the timer message enqueued", || {
        let samples = scrape(&broker);
        (value(&samples, "rocketmq_timer_enqueue_total", &topic_label) == 1.0).then_some(samples)
    });
    assert_eq!(value(&waiting, "rocketmq_timing_messages", &[]), 1.0);
    assert_eq!(
        value(&waiting, "rocketmq_timer_dequeue_total", &topic_label),
        0.0
    );
    let samples = eventually(
        Duration::from_secs(10),
        "the timer message delivered",
        || {
            let samples = scrape(&broker);
            (value(&samples, "rocketmq_timer_dequeue_total", &topic_label) == 1.0)
                .then_some(samples)
        },
    );
    assert_eq!(value(&samples, "rocketmq_timing_messages", &[]), 0.0);
    assert_eq!(
        value(&samples, "rocketmq_timer_enqueue_total", &topic_label),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "rocketmq_send_to_dlq_messages_total",
            &[
                ("consumer_group", group.as_str()),
                ("topic", topic),
                ("is_system", "false")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "rocketmq_commit_messages_total", &topic_label),
        1.0
    );
    assert_eq!(
        value(&samples, "rocketmq_rollback_messages_total", &topic_label),
        1.0
    );
    // Every record written is dispatched at once (the put waits for it).
    assert_eq!(
        value(&samples, "rocketmq_storage_dispatch_behind_bytes", &[]),
        0.0
    );
    // The flush loop catches up with the written end at rest: less than
    // flushCommitLogLeastPages waits for the thorough flush (flushCommitLogThoroughInterval, 10 s).
    eventually(Duration::from_secs(15), "nothing left to flush", || {
        let samples = scrape(&broker);
        (value(&samples, "rocketmq_storage_flush_behind_bytes", &[]) == 0.0).then_some(())
    });

    // SNDBCK_PUT_NUMS by `topic@group`, sampled every 10 s.
    let key = format!("{topic}@{group}");
    let minute_sum = eventually(Duration::from_secs(15), "SNDBCK_PUT_NUMS sampled", || {
        let mut fields = ramjet_net::ExtFields::new();
        fields.insert("statsName", "SNDBCK_PUT_NUMS");
        fields.insert("statsKey", key.as_str());
        let request =
            RemotingCommand::request(request::VIEW_BROKER_STATS_DATA).with_ext_fields(fields);
        let answer = admin.invoke(request, Duration::from_secs(10)).unwrap();
        if answer.code != response::SUCCESS {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        json["statsMinute"]["sum"].as_i64().filter(|sum| *sum > 0)
    });
    assert_eq!(minute_sum, 1, "one send-back");
    drop(transactions);
    drop(producer);
    eprintln!("broker_metrics_ops: {:?}", started.elapsed());
}
