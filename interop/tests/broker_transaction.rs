//! Transactional messages with the third-party `rocketmq-client-rust` 1.0
//! `TransactionMQProducer` against real `mqnamesrv` and `mqbroker` (2 shards) processes:
//! commit is delivered exactly once, rollback never, an UNKNOWN local state is resolved by
//! the broker's check-back (to commit and to rollback), and kill -9 of the broker before
//! or after the decision neither loses a commit nor delivers it twice.
//!
//! The check-back runs every 300 ms for half messages older than 1 s, so each test stays
//! well under a minute.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::rust_client::{
    message, ConsumerOptions, ReceivedMessage, RustClient, TransactionDecider,
};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::wire::RawConnection;
use rocketmq_client_rust::LocalTransactionState;
use serde_json::{Map, Value};

const END_TRANSACTION: i32 = 37;
const COMMIT: i32 = 8;
const ROLLBACK: i32 = 12;

const RECEIVE_WAIT: Duration = Duration::from_secs(30);
/// How long to keep listening for a second delivery or a late rollback.
const QUIET_WAIT: Duration = Duration::from_secs(3);

/// Longer than the producer's heartbeat interval (10 s, the client's minimum).
const HEARTBEAT_WAIT: Duration = Duration::from_secs(11);

/// Three checks before a half message is discarded.
const BROKER_CONFIG: &[(&str, &str)] = &[
    ("transactionCheckInterval", "300"),
    ("transactionTimeOut", "1000"),
    ("transactionCheckMax", "3"),
];

/// Across restarts (and for a just-started C++ producer) the broker may not know the
/// producer until its next heartbeat: enough checks that nothing is discarded meanwhile.
const PATIENT_BROKER_CONFIG: &[(&str, &str)] = &[
    ("transactionCheckInterval", "300"),
    ("transactionTimeOut", "1000"),
    ("transactionCheckMax", "200"),
];

fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Decides by body prefix: `commit-`, `rollback-`; `unknown-commit-` and
/// `unknown-rollback-` answer UNKNOWN first and resolve on check-back; `held-*` answer
/// UNKNOWN until `release` is set, then resolve like the `unknown-*` ones; `never-*`
/// stay UNKNOWN. Counts checks.
#[derive(Default)]
struct Decider {
    release: AtomicBool,
    checks: Mutex<HashMap<String, usize>>,
}

impl Decider {
    fn checks(&self, body: &str) -> usize {
        self.checks.lock().unwrap().get(body).copied().unwrap_or(0)
    }

    fn resolve(body: &str) -> LocalTransactionState {
        if body.contains("commit-") {
            LocalTransactionState::CommitMessage
        } else {
            LocalTransactionState::RollbackMessage
        }
    }
}

impl TransactionDecider for Decider {
    fn execute(&self, body: &str) -> LocalTransactionState {
        if body.starts_with("commit-") {
            LocalTransactionState::CommitMessage
        } else if body.starts_with("rollback-") {
            LocalTransactionState::RollbackMessage
        } else {
            LocalTransactionState::Unknown
        }
    }

    fn check(&self, body: &str) -> LocalTransactionState {
        *self
            .checks
            .lock()
            .unwrap()
            .entry(body.to_owned())
            .or_insert(0) += 1;
        if body.starts_with("never-")
            || (body.starts_with("held-") && !self.release.load(Ordering::SeqCst))
        {
            return LocalTransactionState::Unknown;
        }
        Decider::resolve(body)
    }
}

fn body_counts(received: &[ReceivedMessage]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in received {
        *counts.entry(message.text()).or_insert(0) += 1;
    }
    counts
}

/// Waits until `done` or `wait` passes; panics with what was seen when it does not.
fn wait_for(what: &str, wait: Duration, done: impl Fn() -> bool, seen: impl Fn() -> String) {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > wait {
            panic!("{what} did not happen within {wait:?}; seen: {}", seen());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(
    producer: &common::rust_client::TransactionProducer<'_>,
    topic: &str,
    body: &str,
) -> String {
    let (status, state) = producer
        .send(message(topic, "TagTx", body, body))
        .unwrap_or_else(|error| panic!("transactional send of {body}: {error}"));
    assert_eq!(status, "SendOk", "half message {body}");
    state
}

#[test]
fn commit_is_delivered_once_rollback_never_and_unknown_is_resolved_by_check_back() {
    let test = "transaction_commit_rollback_check";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, BROKER_CONFIG);
    let client = RustClient::new(test);
    let topic = unique("TxTopic");
    let decider = Arc::new(Decider::default());
    let producer =
        client.start_transaction_producer(&namesrv.addr, &unique("tx_producer"), decider.clone());
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&unique("tx_consumer"), &topic),
    );
    let started = Instant::now();
    assert_eq!(send(&producer, &topic, "commit-1"), "Some(CommitMessage)");
    assert_eq!(
        send(&producer, &topic, "rollback-1"),
        "Some(RollbackMessage)"
    );
    assert_eq!(send(&producer, &topic, "unknown-commit-1"), "Some(Unknown)");
    assert_eq!(
        send(&producer, &topic, "unknown-rollback-1"),
        "Some(Unknown)"
    );
    assert_eq!(send(&producer, &topic, "never-1"), "Some(Unknown)");
    let delivered = || body_counts(&consumer.received());
    wait_for(
        "delivery of the commit and the check-back commit",
        RECEIVE_WAIT,
        || {
            let counts = delivered();
            counts.contains_key("commit-1") && counts.contains_key("unknown-commit-1")
        },
        || format!("{:?} {:?}", delivered(), broker.log_tail()),
    );
    let resolved_after = started.elapsed();
    wait_for(
        "the check-back of the unknown rollback",
        RECEIVE_WAIT,
        || decider.checks("unknown-rollback-1") >= 1,
        || format!("{:?}", decider.checks.lock().unwrap()),
    );
    assert!(
        resolved_after >= Duration::from_secs(1),
        "an UNKNOWN transaction was resolved after {resolved_after:?}, before transactionTimeOut"
    );
    std::thread::sleep(QUIET_WAIT);
    let counts = delivered();
    let expected: BTreeMap<String, usize> = [
        ("commit-1".to_owned(), 1),
        ("unknown-commit-1".to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected, "every commit exactly once, no rollback");
    // Decided transactions are never checked; resolved ones are not checked again.
    assert_eq!(decider.checks("commit-1") + decider.checks("rollback-1"), 0);
    let checks_then = (
        decider.checks("unknown-commit-1"),
        decider.checks("unknown-rollback-1"),
    );
    assert!(checks_then.0 >= 1 && checks_then.1 >= 1, "{checks_then:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        (
            decider.checks("unknown-commit-1"),
            decider.checks("unknown-rollback-1")
        ),
        checks_then,
        "a resolved transaction was checked again"
    );
    // Checked transactionCheckMax (3) times, then discarded: never checked again.
    wait_for(
        "three checks of a transaction that stays UNKNOWN",
        RECEIVE_WAIT,
        || decider.checks("never-1") >= 3,
        || format!("{:?}", decider.checks.lock().unwrap()),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        decider.checks("never-1"),
        3,
        "checks past transactionCheckMax"
    );
    assert!(
        !body_counts(&consumer.received()).contains_key("never-1"),
        "a discarded half message was delivered"
    );
    let received = consumer.received();
    let commit = received.iter().find(|m| m.text() == "commit-1").unwrap();
    assert_eq!(commit.topic, topic);
    assert!(
        commit.uniq_key.is_some(),
        "the committed message keeps its id"
    );
    drop(consumer);
    drop(producer);
    drop(broker);
}

#[test]
fn kill_9_before_and_after_the_decision_keeps_every_commit_exactly_once() {
    let test = "transaction_kill_9";
    let namesrv = Namesrv::start(test, &[]);
    let mut broker = Broker::start_with(&namesrv, test, PATIENT_BROKER_CONFIG);
    let client = RustClient::new(test);
    let topic = unique("TxCrash");
    let decider = Arc::new(Decider::default());
    let producer = client.start_transaction_producer(
        &namesrv.addr,
        &unique("tx_crash_producer"),
        decider.clone(),
    );
    // Half messages whose producer cannot decide yet; the broker checks them back (and
    // re-appends them) at least once before it is killed.
    assert_eq!(send(&producer, &topic, "held-commit-1"), "Some(Unknown)");
    assert_eq!(send(&producer, &topic, "held-rollback-1"), "Some(Unknown)");
    wait_for(
        "a check-back before the crash",
        RECEIVE_WAIT,
        || decider.checks("held-commit-1") >= 1 && decider.checks("held-rollback-1") >= 1,
        || {
            format!(
                "{:?}\n{}",
                decider.checks.lock().unwrap(),
                broker.log_tail()
            )
        },
    );
    broker.kill();
    broker.restart();
    // The producer's decision is known now; the restarted broker must ask again.
    decider.release.store(true, Ordering::SeqCst);
    let first = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&unique("tx_crash_first"), &topic),
    );
    assert_eq!(
        send(&producer, &topic, "commit-after-restart"),
        "Some(CommitMessage)"
    );
    wait_for(
        "the check-back commit after kill -9",
        RECEIVE_WAIT,
        || {
            let counts = body_counts(&first.received());
            counts.contains_key("held-commit-1") && counts.contains_key("commit-after-restart")
        },
        || {
            format!(
                "{:?}\n{}",
                body_counts(&first.received()),
                broker.log_tail()
            )
        },
    );
    drop(first);
    // Kill -9 right after the commits: the decisions must survive.
    broker.kill();
    broker.restart();
    // The rebuilt broker knows both were decided: neither is checked again, even once the
    // producer's heartbeat (every 10 s) tells the broker where to ask.
    let checks_before = (
        decider.checks("held-commit-1"),
        decider.checks("held-rollback-1"),
    );
    std::thread::sleep(HEARTBEAT_WAIT);
    assert_eq!(
        (
            decider.checks("held-commit-1"),
            decider.checks("held-rollback-1")
        ),
        checks_before,
        "a decided transaction was checked again after a restart"
    );
    // A new group reads the topic from its first offset: what is stored, once each.
    let verify = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&unique("tx_crash_verify"), &topic),
    );
    wait_for(
        "the committed messages for a new group",
        RECEIVE_WAIT,
        || verify.count() >= 2,
        || {
            format!(
                "{:?}\n{}",
                body_counts(&verify.received()),
                broker.log_tail()
            )
        },
    );
    std::thread::sleep(QUIET_WAIT);
    let expected: BTreeMap<String, usize> = [
        ("commit-after-restart".to_owned(), 1),
        ("held-commit-1".to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(body_counts(&verify.received()), expected);
    drop(verify);
    drop(producer);
    drop(broker);
}

/// The Apache C++ client 2.1's TransactionMQProducer (librocketmq.so, driven through
/// interop/python/cpp_client.py): its half messages, END_TRANSACTION and check-back answers.
#[test]
fn cpp_transaction_producer_commits_once_and_answers_check_backs() {
    let test = "transaction_cpp_producer";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, PATIENT_BROKER_CONFIG);
    let client = RustClient::new(test);
    let topic = unique("TxCpp");
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&unique("tx_cpp_consumer"), &topic),
    );
    let dir = std::env::temp_dir().join(unique("tx_cpp"));
    std::fs::create_dir_all(&dir).unwrap();
    let args: Vec<String> = [
        "transaction",
        "--namesrv",
        &namesrv.addr,
        "--topic",
        &topic,
        "--log-dir",
        &dir.display().to_string(),
        "--group",
        &unique("tx_cpp_producer"),
        "--bodies",
        "commit-c,rollback-c,unknown-commit-c,unknown-rollback-c",
        "--linger-seconds",
        "6",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    let output =
        ramjet_interop::python::run_script("cpp_client.py", &args, &dir, Duration::from_secs(60));
    assert!(output.status.success(), "{output}\n{}", broker.log_tail());
    let json = output.json();
    let sent = json["sent"].as_array().expect("sent entries");
    assert_eq!(sent.len(), 4, "{output}");
    for entry in sent {
        assert_eq!(entry["status"], "OK", "{entry}\n{output}");
    }
    let checks = &json["checks"];
    assert!(
        checks["unknown-commit-c"].as_u64().unwrap_or(0) >= 1,
        "{output}"
    );
    assert!(
        checks["unknown-rollback-c"].as_u64().unwrap_or(0) >= 1,
        "{output}"
    );
    assert_eq!(
        checks.get("commit-c"),
        None,
        "a decided transaction was checked"
    );
    wait_for(
        "the C++ producer's commits",
        RECEIVE_WAIT,
        || consumer.count() >= 2,
        || {
            format!(
                "{:?}\n{}",
                body_counts(&consumer.received()),
                broker.log_tail()
            )
        },
    );
    std::thread::sleep(QUIET_WAIT);
    let expected: BTreeMap<String, usize> = [
        ("commit-c".to_owned(), 1),
        ("unknown-commit-c".to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(body_counts(&consumer.received()), expected);
    let _ = std::fs::remove_dir_all(&dir);
    drop(consumer);
    drop(broker);
}

/// END_TRANSACTION sent by hand (two-way, so the answer can be read) next to the client's
/// own: a late commit after the check-back's, duplicates, a contradicting rollback, and
/// headers that name nothing.
#[test]
fn late_and_duplicate_end_transactions_never_deliver_twice() {
    let test = "transaction_late_end";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, PATIENT_BROKER_CONFIG);
    let client = RustClient::new(test);
    let topic = unique("TxLate");
    let group = unique("tx_late_producer");
    let decider = Arc::new(Decider::default());
    let producer = client.start_transaction_producer(&namesrv.addr, &group, decider.clone());
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&unique("tx_late_consumer"), &topic),
    );
    let late = producer
        .send_full(message(&topic, "TagTx", "k", "unknown-commit-late"))
        .expect("half message");
    let dup = producer
        .send_full(message(&topic, "TagTx", "k", "commit-dup"))
        .expect("half message");
    wait_for(
        "the check-back commit and the producer's commit",
        RECEIVE_WAIT,
        || consumer.count() >= 2,
        || {
            format!(
                "{:?}\n{}",
                body_counts(&consumer.received()),
                broker.log_tail()
            )
        },
    );
    let mut wire = RawConnection::connect(broker.addr());
    let end = |sent: &common::rust_client::TransactionSent, group: &str, state: i32| {
        // offsetMsgId: IPv4 (8 hex), port (8 hex), CommitLog offset (16 hex).
        let offset = u64::from_str_radix(&sent.offset_msg_id[16..32], 16).unwrap();
        let mut fields = Map::new();
        for (key, value) in [
            ("producerGroup", group.to_owned()),
            ("tranStateTableOffset", sent.queue_offset.to_string()),
            ("commitLogOffset", offset.to_string()),
            ("commitOrRollback", state.to_string()),
            ("fromTransactionCheck", "false".to_owned()),
            ("msgId", "x".to_owned()),
        ] {
            fields.insert(key.to_owned(), Value::String(value));
        }
        fields
    };
    // The producer's own commit arrives after the check-back committed: nothing more is
    // stored. While the broker still remembers the decision it answers SUCCESS; once the
    // half offset passed it, ILLEGAL_OPERATION (no longer pending); never a second commit.
    let answer = wire.request(END_TRANSACTION, &end(&late, &group, COMMIT), b"");
    assert!([0, 604].contains(&answer.code()), "{answer:?}");
    for _ in 0..5 {
        let answer = wire.request(END_TRANSACTION, &end(&dup, &group, COMMIT), b"");
        assert!([0, 604].contains(&answer.code()), "{answer:?}");
    }
    let answer = wire.request(END_TRANSACTION, &end(&dup, &group, ROLLBACK), b"");
    assert_eq!(answer.code(), 604, "{answer:?}");
    let answer = wire.request(END_TRANSACTION, &end(&dup, "another_group", COMMIT), b"");
    assert_eq!(answer.code(), 1, "{answer:?}");
    assert_eq!(answer.remark(), Some("The producer group wrong"));
    let mut nowhere = end(&dup, &group, COMMIT);
    nowhere.insert("commitLogOffset".into(), Value::String("123456789".into()));
    let answer = wire.request(END_TRANSACTION, &nowhere, b"");
    assert_eq!(answer.code(), 1, "{answer:?}");
    assert_eq!(
        answer.remark(),
        Some("Find prepared transaction message failed")
    );
    let mut wrong_offset = end(&dup, &group, COMMIT);
    wrong_offset.insert("tranStateTableOffset".into(), Value::String("77".into()));
    let answer = wire.request(END_TRANSACTION, &wrong_offset, b"");
    assert_eq!(
        answer.remark(),
        Some("The transaction state table offset wrong")
    );
    let mut missing = end(&dup, &group, COMMIT);
    missing.remove("commitLogOffset");
    let answer = wire.request(END_TRANSACTION, &missing, b"");
    assert_eq!(answer.code(), 1, "{answer:?}");
    assert!(
        answer.remark().unwrap_or("").contains("commitLogOffset"),
        "{answer:?}"
    );
    let mut odd_state = end(&dup, &group, 5);
    odd_state.insert("fromTransactionCheck".into(), Value::String("true".into()));
    let answer = wire.request(END_TRANSACTION, &odd_state, b"");
    assert_eq!(answer.code(), 29, "{answer:?}");
    std::thread::sleep(QUIET_WAIT);
    let expected: BTreeMap<String, usize> = [
        ("commit-dup".to_owned(), 1),
        ("unknown-commit-late".to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(body_counts(&consumer.received()), expected);
    drop(consumer);
    drop(producer);
    drop(broker);
}
