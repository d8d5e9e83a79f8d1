//! What the hostile-client tests share: a real `mqbroker --standalone` process (two shards)
//! on free loopback ports with its output in a file, requests over `BlockingClient`, and the
//! well-behaved client's round trip that every connection must still pass afterwards.

#![allow(dead_code)] // Each test binary uses a different part.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use ramjet_interop::process::free_port;
use ramjet_interop::process::free_port_pair;
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::{ExtFields, RemotingCommand};

/// How long any request gets before the test calls the broker hung. Generous for a debug
/// build on a loaded two-core machine; a wedged shard never answers at all.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `mqbroker --standalone --shardCount 2`, killed (by PID) when dropped. A passing
/// test removes its store; a failing one keeps it and the log for diagnosis.
pub struct StandaloneBroker {
    child: Child,
    pub addr: String,
    pub dir: PathBuf,
    pub log_path: PathBuf,
}

impl StandaloneBroker {
    /// Starts the broker with its own name server in-process, store under
    /// `target/tmp/<name>`, plus `--<key> <value>` overrides; returns after its boot line.
    pub fn start(name: &str, extra: &[(&str, &str)]) -> StandaloneBroker {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let port = free_port_pair();
        let namesrv_port = free_port();
        let ha_port = free_port();
        let store = dir.join("store");
        let mut args: Vec<String> = [
            "--standalone",
            "--namesrvPort",
            &namesrv_port.to_string(),
            "--listenPort",
            &port.to_string(),
            // Parallel test brokers must not meet on the default 8080; these tests do not
            // use the console (interop/tests/broker_http_api.rs does).
            "--httpPort",
            "0",
            "--bindAddress",
            "127.0.0.1",
            "--storePathRootDir",
            &store.display().to_string(),
            "--brokerName",
            "broker-hostile",
            "--shardCount",
            "2",
            "--mapedFileSizeCommitLog",
            "67108864",
            "--maxIndexNum",
            "100000",
            "--maxHashSlotNum",
            "20000",
            // The CI disk is shared with other checkouts; this test is not about a full disk
            // (store/tests/retention.rs is), so refuse puts only when it is really full.
            "--diskSpaceWarningLevelRatio",
            "99",
            // Parallel brokers must not race for the exporter's default port 5557; the
            // exporter has its own test (interop/tests/broker_metrics.rs).
            "--metricsPromExporterPort",
            "0",
            // Not listenPort + 1, the default: that port is even, and Linux hands even
            // ports to outgoing connections, so a client's source port there can hold it.
            "--haListenPort",
            &ha_port.to_string(),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        for (key, value) in extra {
            args.push(format!("--{key}"));
            args.push(value.to_string());
        }
        let log_path = dir.join("mqbroker.log");
        let log = File::create(&log_path).expect("create the broker log");
        let child = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start mqbroker");
        let mut broker = StandaloneBroker {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
            log_path,
        };
        let boot_line = format!("The broker[broker-hostile, {}] boot success", broker.addr);
        let started = Instant::now();
        while !broker.log().contains(&boot_line) {
            assert!(
                broker.is_running(),
                "mqbroker exited before its boot line\n{}",
                broker.log_tail()
            );
            assert!(
                started.elapsed() < BOOT_TIMEOUT,
                "mqbroker printed no boot line within {BOOT_TIMEOUT:?}\n{}",
                broker.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the broker wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- last lines of {} ---\n{}",
            self.log_path.display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    /// The log lines that report a panic (and the one after each, which says where).
    pub fn panics(&self) -> Vec<String> {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let mut found = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            if line.contains("panicked") {
                let next = lines.get(index + 1).copied().unwrap_or("");
                found.push(format!("{line} {next}"));
            }
        }
        found
    }

    pub fn connect(&self) -> BlockingClient {
        BlockingClient::connect(&self.addr, REPLY_TIMEOUT)
            .unwrap_or_else(|error| panic!("connect to the broker: {error}\n{}", self.log_tail()))
    }
}

impl Drop for StandaloneBroker {
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL to this PID only; wait reaps it.
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("broker log kept at {}", self.log_path.display());
        } else {
            let _ = std::fs::remove_dir_all(self.dir.join("store"));
        }
    }
}

pub fn fields<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> ExtFields {
    pairs
        .iter()
        .map(|(key, value)| (key.as_ref().to_owned(), value.as_ref().to_owned()))
        .collect()
}

pub fn command(code: i32, ext_fields: ExtFields, body: &[u8]) -> RemotingCommand {
    RemotingCommand::request(code)
        .with_ext_fields(ext_fields)
        .with_body(body.to_vec())
}

/// One request and its reply, or why there is none.
pub fn call(
    client: &mut BlockingClient,
    code: i32,
    ext_fields: ExtFields,
    body: &[u8],
) -> Result<RemotingCommand, String> {
    client
        .invoke(command(code, ext_fields, body), REPLY_TIMEOUT)
        .map_err(|error| error.to_string())
}

/// UPDATE_AND_CREATE_TOPIC with `queues` read and write queues; panics unless SUCCESS.
pub fn create_topic(client: &mut BlockingClient, topic: &str, queues: i32) {
    let queues = queues.to_string();
    let answer = call(
        client,
        request::UPDATE_AND_CREATE_TOPIC,
        fields(&[
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", &queues),
            ("writeQueueNums", &queues),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
            ("topicSysFlag", "0"),
            ("order", "false"),
        ]),
        b"",
    )
    .unwrap_or_else(|error| panic!("create topic {topic}: {error}"));
    assert_eq!(
        answer.code,
        response::SUCCESS,
        "create topic {topic}: {:?}",
        answer.remark
    );
}

/// SEND_MESSAGE_V2's header for a plain message to `topic`, queue `queue_id`.
pub fn send_v2_fields(topic: &str, queue_id: &str) -> Vec<(String, String)> {
    [
        ("a", "hostile_producer"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", queue_id),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", "TAGS\u{1}health\u{2}"),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
    ]
    .iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .collect()
}

/// PULL_MESSAGE's header for `count` messages of `topic`/`queue_id` from `offset`, carrying
/// its own subscription ("*") and never suspended.
pub fn pull_fields(
    group: &str,
    topic: &str,
    queue_id: &str,
    offset: &str,
) -> Vec<(String, String)> {
    [
        ("consumerGroup", group),
        ("topic", topic),
        ("queueId", queue_id),
        ("queueOffset", offset),
        ("maxMsgNums", "32"),
        ("sysFlag", "4"),
        ("commitOffset", "0"),
        ("suspendTimeoutMillis", "0"),
        ("subscription", "*"),
        ("subVersion", "0"),
        ("expressionType", "TAG"),
    ]
    .iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .collect()
}

/// A HEART_BEAT body: one producer group and one consumer group subscribed to `topic`.
pub fn heartbeat_body(client_id: &str, group: &str, topic: &str) -> Vec<u8> {
    serde_json::json!({
        "clientID": client_id,
        "producerDataSet": [{"groupName": "hostile_producer"}],
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING",
            "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
            "subscriptionDataSet": [{
                "classFilterMode": false,
                "codeSet": [],
                "expressionType": "TAG",
                "subString": "*",
                "subVersion": 1,
                "tagsSet": [],
                "topic": topic
            }],
            "unitMode": false
        }]
    })
    .to_string()
    .into_bytes()
}

/// The well-behaved client on one connection: heartbeat, send `body` to `topic`
/// (`queue_id`, -1 for "the broker picks"), pull it back from the queue the broker named,
/// commit and read back the consumer offset. Returns the queue the message landed on.
/// `queues` is the topic's queue count.
pub fn well_behaved_round_trip(
    client: &mut BlockingClient,
    topic: &str,
    queues: i32,
    queue_id: i32,
    body: &str,
) -> Result<i32, String> {
    let group = format!(
        "health_{}",
        body.replace(|c: char| !c.is_alphanumeric(), "_")
    );
    let answer = call(
        client,
        request::HEART_BEAT,
        ExtFields::new(),
        &heartbeat_body(&format!("127.0.0.1@{body}"), &group, topic),
    )?;
    if answer.code != response::SUCCESS {
        return Err(format!(
            "heartbeat: code {} {:?}",
            answer.code, answer.remark
        ));
    }
    let answer = call(
        client,
        request::SEND_MESSAGE_V2,
        fields(&send_v2_fields(topic, &queue_id.to_string())),
        body.as_bytes(),
    )?;
    if answer.code != response::SUCCESS {
        return Err(format!("send: code {} {:?}", answer.code, answer.remark));
    }
    let landed: i32 = answer
        .ext_field("queueId")
        .and_then(|q| q.parse().ok())
        .ok_or_else(|| format!("send answer without a queueId: {:?}", answer.ext_fields))?;
    if !(0..queues).contains(&landed) || (queue_id >= 0 && landed != queue_id) {
        return Err(format!(
            "send to queue {queue_id} of {queues} was stored on queue {landed}"
        ));
    }
    let offset: i64 = answer
        .ext_field("queueOffset")
        .and_then(|q| q.parse().ok())
        .ok_or_else(|| format!("send answer without a queueOffset: {:?}", answer.ext_fields))?;
    let answer = call(
        client,
        request::PULL_MESSAGE,
        fields(&pull_fields(
            &group,
            topic,
            &landed.to_string(),
            &offset.to_string(),
        )),
        b"",
    )?;
    if answer.code != response::SUCCESS {
        return Err(format!(
            "pull queue {landed} at {offset}: code {} {:?}",
            answer.code, answer.remark
        ));
    }
    if !contains(&answer.body, body.as_bytes()) {
        return Err(format!(
            "pull queue {landed} at {offset} did not return the message just sent"
        ));
    }
    let commit = (offset + 1).to_string();
    let queue = landed.to_string();
    let answer = call(
        client,
        request::UPDATE_CONSUMER_OFFSET,
        fields(&[
            ("consumerGroup", group.as_str()),
            ("topic", topic),
            ("queueId", queue.as_str()),
            ("commitOffset", commit.as_str()),
        ]),
        b"",
    )?;
    if answer.code != response::SUCCESS {
        return Err(format!(
            "update offset: code {} {:?}",
            answer.code, answer.remark
        ));
    }
    let answer = call(
        client,
        request::QUERY_CONSUMER_OFFSET,
        fields(&[
            ("consumerGroup", group.as_str()),
            ("topic", topic),
            ("queueId", queue.as_str()),
        ]),
        b"",
    )?;
    if answer.code != response::SUCCESS || answer.ext_field("offset") != Some(commit.as_str()) {
        return Err(format!(
            "query offset: code {} offset {:?}, expected {commit}",
            answer.code,
            answer.ext_field("offset")
        ));
    }
    Ok(landed)
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
