//! Master/slave replication (docs/replication.md) with real processes: one name server, a
//! master and its slave (brokerId 1, same brokerName), the third-party
//! rocketmq-client-rust 1.0 producing to the master and consuming from the slave after
//! the master was killed -9.

#![recursion_limit = "512"]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::process::{free_port, strip_ansi};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::body::{MessageQueue, TopicConfigSerializeWrapper};
use ramjet_net::client::requests::{properties_text, send_message, SendRequest};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::response;

const WAIT: Duration = Duration::from_secs(30);

/// A master of `role` and its slave, which learns the HA address from `haMasterAddress`
/// and its master's remoting address from the name server, and syncs metadata every 300 ms.
fn start_pair(namesrv: &Namesrv, test: &str, role: &str) -> (Broker, Broker, u16) {
    let ha_port = free_port();
    let ha = ha_port.to_string();
    let master = Broker::start_with(
        namesrv,
        &format!("{test}_master"),
        &[("brokerRole", role), ("haListenPort", &ha)],
    );
    let ha_addr = format!("127.0.0.1:{ha_port}");
    let slave = Broker::start_with(
        namesrv,
        &format!("{test}_slave"),
        &[
            ("brokerRole", "SLAVE"),
            ("brokerId", "1"),
            ("haMasterAddress", &ha_addr),
            ("ramjetSlaveSyncIntervalMillis", "300"),
        ],
    );
    (master, slave, ha_port)
}

/// Polls `done` every 50 ms until it holds; after WAIT, fails with `why()`.
fn wait_until(mut done: impl FnMut() -> bool, why: impl Fn() -> String) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "{}", why());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `broker`'s current log has `count` lines containing `needle`.
fn wait_for_log(broker: &Broker, needle: &str, count: usize) {
    wait_until(
        || {
            let log = std::fs::read_to_string(broker.log_path()).unwrap_or_default();
            log.matches(needle).count() >= count
        },
        || format!("no {count} x {needle:?} in the log\n{}", broker.log_tail()),
    );
}

/// Waits until the slave's metadata sync has copied `topic` from its master. A slave
/// answers TOPIC_NOT_EXIST for a topic it has records of but no config for (as RocketMQ),
/// so a test that kills the master must first see the topic on the slave.
fn wait_for_topic(slave: &Broker, topic: &str) {
    let known = || {
        BlockingClient::connect(slave.addr(), Duration::from_secs(5))
            .and_then(|mut client| {
                client.invoke(
                    ramjet_net::RemotingCommand::request(
                        ramjet_net::code::request::GET_ALL_TOPIC_CONFIG,
                    ),
                    Duration::from_secs(5),
                )
            })
            .ok()
            .and_then(|answer| {
                ramjet_net::body::fastjson::from_slice::<TopicConfigSerializeWrapper>(&answer.body)
                    .ok()
            })
            .is_some_and(|topics| topics.topic_config_table.contains_key(topic))
    };
    wait_until(known, || {
        format!("the slave never learned {topic}\n{}", slave.log_tail())
    });
}

/// Every "slave connected" line of the master's current log: the offsets slaves asked
/// for, by shard.
fn connect_offsets(master: &Broker) -> Vec<(usize, u64)> {
    let log = strip_ansi(&std::fs::read_to_string(master.log_path()).unwrap_or_default());
    log.lines()
        .filter(|line| line.contains("HA: slave connected"))
        .filter_map(|line| {
            let field = |name: &str| -> Option<u64> {
                let at = line.find(&format!("{name}="))? + name.len() + 1;
                let digits: String = line[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            };
            Some((field("shard")? as usize, field("offset")?))
        })
        .collect()
}

/// Produces `count` messages with unique keys; returns the keys answered SEND_OK.
fn produce(
    client: &RustClient,
    namesrv: &Namesrv,
    group: &str,
    topic: &str,
    count: usize,
) -> (BTreeSet<String>, Vec<String>) {
    let producer = client.start_producer(&namesrv.addr, group);
    let mut acked = BTreeSet::new();
    let mut others = Vec::new();
    for seq in 0..count {
        let key = format!("{topic}-{seq}");
        match producer.send(message(topic, "TagA", &key, &format!("body {seq}"))) {
            Ok(sent) if sent.status == "SendOk" => {
                acked.insert(key);
            }
            Ok(sent) => others.push(format!("{key}: {}", sent.status)),
            Err(error) => others.push(format!("{key}: {error}")),
        }
    }
    (acked, others)
}

/// Consumes `topic` from whatever the name server routes to (the slave once the master is
/// dead) until every key of `expected` arrived or `wait` passed; returns the keys seen.
fn consume_keys(
    client: &RustClient,
    namesrv: &Namesrv,
    group: &str,
    topic: &str,
    expected: &BTreeSet<String>,
    wait: Duration,
) -> BTreeSet<String> {
    let consumer = client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(group, topic));
    consumer.wait_until(wait, |received| {
        let seen: BTreeSet<&str> = received
            .iter()
            .flat_map(|m| m.keys.iter().map(String::as_str))
            .collect();
        expected.iter().all(|key| seen.contains(key.as_str()))
    });
    consumer
        .received()
        .iter()
        .flat_map(|m| m.keys.clone())
        .collect()
}

#[test]
fn sync_master_loses_nothing_acknowledged_when_killed_and_serves_again_after_restart() {
    // Proves SYNC_MASTER: every SEND_OK is on the slave before it is answered, so after a
    // kill -9 of the master a third-party consumer reading from the slave gets every
    // acknowledged message; the restarted master takes its slave back and sends succeed.
    let namesrv = Namesrv::start("ha_sync", &[]);
    let (mut master, slave, _) = start_pair(&namesrv, "ha_sync", "SYNC_MASTER");
    wait_for_log(&master, "HA: slave connected", 2);
    let client = RustClient::new("ha_sync");
    let topic = "HaSyncTopic";
    let (acked, others) = produce(&client, &namesrv, "ha_sync_producer", topic, 200);
    assert!(
        acked.len() >= 190,
        "SEND_OK {} of 200; others: {others:?}",
        acked.len()
    );
    // The slave learns the topic from the master's config (metadata sync).
    wait_for_topic(&slave, topic);
    master.kill();
    let seen = consume_keys(&client, &namesrv, "ha_sync_consumer", topic, &acked, WAIT);
    let lost: Vec<&String> = acked.iter().filter(|key| !seen.contains(*key)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not on the slave: {lost:?}\n{}",
        slave.log_tail()
    );
    master.restart();
    wait_for_log(&master, "HA: slave connected", 2);
    let (acked_after, others) = produce(&client, &namesrv, "ha_sync_producer2", topic, 5);
    assert_eq!(acked_after.len(), 5, "after restart: {others:?}");
}

#[test]
fn async_master_reports_what_a_kill_lost() {
    // Proves ASYNC_MASTER answers at once and ships in the background: after a kill -9
    // right behind the last send, the slave has all but (at most) the unshipped tail.
    let namesrv = Namesrv::start("ha_async", &[]);
    let (mut master, slave, _) = start_pair(&namesrv, "ha_async", "ASYNC_MASTER");
    wait_for_log(&master, "HA: slave connected", 2);
    let client = RustClient::new("ha_async");
    let topic = "HaAsyncTopic";
    let (acked, others) = produce(&client, &namesrv, "ha_async_producer", topic, 200);
    assert!(
        acked.len() >= 190,
        "SEND_OK {} of 200; others: {others:?}",
        acked.len()
    );
    wait_for_topic(&slave, topic);
    master.kill();
    let seen = consume_keys(
        &client,
        &namesrv,
        "ha_async_consumer",
        topic,
        &acked,
        Duration::from_secs(20),
    );
    let lost = acked.iter().filter(|key| !seen.contains(*key)).count();
    println!(
        "ASYNC_MASTER: {} acknowledged, {lost} lost by the kill -9",
        acked.len()
    );
    assert!(lost <= acked.len() / 2, "lost {lost} of {}", acked.len());
    assert!(!seen.is_empty(), "the slave serves nothing");
}

#[test]
fn a_killed_slave_resumes_from_its_own_offset() {
    // Proves a slave restarted after kill -9 asks its master for its recovered end (> the
    // shard's base, so no full copy) and then has both old and new records.
    let namesrv = Namesrv::start("ha_resume", &[]);
    let (mut master, mut slave, _) = start_pair(&namesrv, "ha_resume", "SYNC_MASTER");
    wait_for_log(&master, "HA: slave connected", 2);
    let client = RustClient::new("ha_resume");
    let topic = "HaResumeTopic";
    let (first, others) = produce(&client, &namesrv, "ha_resume_p1", topic, 60);
    assert_eq!(first.len(), 60, "{others:?}");
    // Killed after its metadata sync saved the topic: the restarted slave reads it back.
    wait_for_topic(&slave, topic);
    slave.kill();
    slave.restart();
    wait_for_log(&master, "HA: slave connected", 4);
    let offsets = connect_offsets(&master);
    let shard0: Vec<u64> = offsets
        .iter()
        .filter(|(s, _)| *s == 0)
        .map(|(_, o)| *o)
        .collect();
    let shard1: Vec<u64> = offsets
        .iter()
        .filter(|(s, _)| *s == 1)
        .map(|(_, o)| *o)
        .collect();
    assert_eq!(
        shard0[0], 0,
        "a fresh slave starts at shard 0's base: {offsets:?}"
    );
    let base1 = 1u64 << 48;
    assert_eq!(shard1[0], base1, "{offsets:?}");
    let resumed = shard0.last().unwrap() + (shard1.last().unwrap() - base1);
    assert!(
        resumed > 0,
        "the restarted slave asked for offset 0 again: {offsets:?}"
    );
    let (second, others) = produce(&client, &namesrv, "ha_resume_p2", topic, 20);
    assert_eq!(second.len(), 20, "{others:?}");
    master.kill();
    let all: BTreeSet<String> = first.union(&second).cloned().collect();
    let seen = consume_keys(&client, &namesrv, "ha_resume_consumer", topic, &all, WAIT);
    let lost: Vec<&String> = all.iter().filter(|key| !seen.contains(*key)).collect();
    assert!(lost.is_empty(), "missing on the resumed slave: {lost:?}");
}

#[test]
fn sync_master_without_a_slave_answers_slave_not_available() {
    // Proves a SYNC_MASTER with no slave connected does not answer SEND_OK: the
    // third-party producer sees SLAVE_NOT_AVAILABLE (code 11).
    let namesrv = Namesrv::start("ha_noslave", &[]);
    let ha = free_port().to_string();
    let _master = Broker::start_with(
        &namesrv,
        "ha_noslave",
        &[("brokerRole", "SYNC_MASTER"), ("haListenPort", &ha)],
    );
    let client = RustClient::new("ha_noslave");
    let producer = client.start_producer(&namesrv.addr, "ha_noslave_producer");
    for seq in 0..3 {
        let outcome = producer.send(message("HaNoSlave", "TagA", &format!("k{seq}"), "body"));
        let text = match outcome {
            Ok(sent) => sent.status,
            Err(error) => error,
        };
        assert!(
            text.contains("SlaveNotAvailable")
                || text.contains("SLAVE_NOT_AVAILABLE")
                || text.contains("code: 11")
                || text.contains("11"),
            "send {seq}: {text}"
        );
        assert!(!text.contains("SendOk"), "{text}");
    }
}

#[test]
fn the_slave_refuses_sends_and_metadata_writes() {
    // Proves a slave answers a send with SERVICE_NOT_AVAILABLE and a topic change with
    // SYSTEM_ERROR, with RocketMQ's remarks.
    let namesrv = Namesrv::start("ha_refuse", &[]);
    let (master, slave, _) = start_pair(&namesrv, "ha_refuse", "ASYNC_MASTER");
    wait_for_log(&master, "HA: slave connected", 2);
    let mut client = BlockingClient::connect(slave.addr(), Duration::from_secs(5))
        .expect("connect to the slave");
    let queue = MessageQueue::new("HaRefused", "broker-a", 0);
    let send = send_message(SendRequest {
        producer_group: "ha_refuse_producer",
        queue: &queue,
        properties: properties_text(&[("TAGS", "TagA")]),
        body: b"refused".to_vec(),
        batch: false,
        born_timestamp_ms: 0,
    });
    let answer = client
        .invoke(send, Duration::from_secs(5))
        .expect("send answered");
    assert_eq!(answer.code, response::SERVICE_NOT_AVAILABLE, "{answer:?}");
    assert!(
        answer.remark.as_deref().unwrap_or("").contains("slave"),
        "{answer:?}"
    );
    let config = ramjet_net::client::requests::topic_config("HaRefused", 4);
    let create = ramjet_net::client::requests::create_topic(&config, None);
    let answer = client
        .invoke(create, Duration::from_secs(5))
        .expect("create answered");
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    assert!(
        answer
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("slave broker"),
        "{answer:?}"
    );
    // The master serves GET_ALL_DELAY_OFFSET (what the slave copies): RocketMQ's shape.
    let mut to_master = BlockingClient::connect(master.addr(), Duration::from_secs(5))
        .expect("connect to the master");
    let delay =
        ramjet_net::RemotingCommand::request(ramjet_net::code::request::GET_ALL_DELAY_OFFSET);
    let answer = to_master
        .invoke(delay, Duration::from_secs(5))
        .expect("delay offsets answered");
    assert_eq!(answer.code, response::SUCCESS, "{answer:?}");
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(body.contains("offsetTable"), "{body}");
}

/// Sends SIGSTOP or SIGCONT to a test's own broker process.
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[test]
fn sync_master_answers_flush_slave_timeout_while_its_slave_is_stopped() {
    // Proves a SYNC_MASTER whose slave is connected but silent (SIGSTOP) answers
    // FLUSH_SLAVE_TIMEOUT after syncFlushTimeout instead of SEND_OK, and SEND_OK again once
    // the slave reports (SIGCONT).
    let namesrv = Namesrv::start("ha_timeout", &[]);
    let ha = free_port().to_string();
    let master = Broker::start_with(
        &namesrv,
        "ha_timeout_master",
        &[
            ("brokerRole", "SYNC_MASTER"),
            ("haListenPort", &ha),
            ("syncFlushTimeout", "1000"),
        ],
    );
    let ha_addr = format!("127.0.0.1:{ha}");
    let slave = Broker::start_with(
        &namesrv,
        "ha_timeout_slave",
        &[
            ("brokerRole", "SLAVE"),
            ("brokerId", "1"),
            ("haMasterAddress", &ha_addr),
        ],
    );
    wait_for_log(&master, "HA: slave connected", 2);
    let client = RustClient::new("ha_timeout");
    let producer = client.start_producer(&namesrv.addr, "ha_timeout_producer");
    let send = |seq: usize| {
        let key = format!("k{seq}");
        match producer.send(message("HaTimeout", "TagA", &key, "body")) {
            Ok(sent) => sent.status,
            Err(error) => error,
        }
    };
    assert_eq!(send(0), "SendOk");
    let pid = slave.pid().expect("slave running");
    signal(pid, "STOP");
    let started = Instant::now();
    let stopped = send(1);
    let waited = started.elapsed();
    signal(pid, "CONT");
    assert!(stopped.contains("FlushSlaveTimeout"), "{stopped}");
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );
    let started = Instant::now();
    loop {
        let status = send(2);
        if status == "SendOk" {
            break;
        }
        assert!(started.elapsed() < WAIT, "after SIGCONT: {status}");
    }
}

#[test]
fn a_slave_with_another_shard_count_is_refused_naming_both() {
    // Proves the shard layout is checked at connect: a slave started with shardCount=1
    // against a 2-shard master is refused, and both logs name both values.
    let namesrv = Namesrv::start("ha_layout", &[]);
    let ha = free_port().to_string();
    let master = Broker::start_with(
        &namesrv,
        "ha_layout_master",
        &[("brokerRole", "ASYNC_MASTER"), ("haListenPort", &ha)],
    );
    let ha_addr = format!("127.0.0.1:{ha}");
    let slave = Broker::start_with(
        &namesrv,
        "ha_layout_slave",
        &[
            ("brokerRole", "SLAVE"),
            ("brokerId", "1"),
            ("haMasterAddress", &ha_addr),
            ("shardCount", "1"),
        ],
    );
    let remark = "master shardCount=2, slave shardCount=1";
    wait_for_log(&master, remark, 1);
    wait_for_log(&slave, remark, 1);
    let log = std::fs::read_to_string(master.log_path()).unwrap_or_default();
    assert!(
        !log.contains("HA: slave connected"),
        "{}",
        master.log_tail()
    );
}

/// One SYNC_MASTER of `name` and its slave, in directories of their own.
fn start_named_pair(namesrv: &Namesrv, test: &str, name: &str) -> (Broker, Broker) {
    let ha_port = free_port().to_string();
    let master = Broker::start_named(
        &[namesrv],
        &format!("{test}_{name}_master"),
        name,
        &[("brokerRole", "SYNC_MASTER"), ("haListenPort", &ha_port)],
    );
    let ha_addr = format!("127.0.0.1:{ha_port}");
    let slave = Broker::start_named(
        &[namesrv],
        &format!("{test}_{name}_slave"),
        name,
        &[
            ("brokerRole", "SLAVE"),
            ("brokerId", "1"),
            ("haMasterAddress", &ha_addr),
            ("ramjetSlaveSyncIntervalMillis", "300"),
        ],
    );
    (master, slave)
}

/// What a producer was answered, by phase and broker.
#[derive(Default)]
struct Tally {
    acked: BTreeSet<String>,
    by_broker: std::collections::BTreeMap<(String, String), usize>,
    failed: Vec<String>,
}

impl Tally {
    fn send(
        &mut self,
        producer: &common::rust_client::Producer,
        topic: &str,
        phase: &str,
        n: usize,
    ) {
        for seq in 0..n {
            let key = format!("{phase}-{seq}");
            match producer.send(message(topic, "TagA", &key, &key)) {
                Ok(sent) if sent.status == "SendOk" => {
                    let broker = sent.broker_name.clone().unwrap_or_default();
                    *self
                        .by_broker
                        .entry((phase.to_owned(), broker))
                        .or_insert(0) += 1;
                    self.acked.insert(key);
                }
                Ok(sent) => self.failed.push(format!("{key}: {}", sent.status)),
                Err(error) => self.failed.push(format!("{key}: {error}")),
            }
        }
    }

    fn count(&self, phase: &str, broker: &str) -> usize {
        let key = (phase.to_owned(), broker.to_owned());
        self.by_broker.get(&key).copied().unwrap_or(0)
    }

    /// Waits until `consumer` received every acknowledged key; returns those it never did.
    fn undelivered(&self, consumer: &common::rust_client::PushConsumer) -> Vec<String> {
        consumer.wait_until(WAIT, |received| {
            let seen: BTreeSet<&str> = received
                .iter()
                .flat_map(|m| m.keys.iter().map(String::as_str))
                .collect();
            self.acked.iter().all(|key| seen.contains(key.as_str()))
        });
        let seen: BTreeSet<String> = consumer
            .received()
            .iter()
            .flat_map(|m| m.keys.clone())
            .collect();
        self.acked
            .iter()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect()
    }
}

#[test]
fn two_masters_two_slaves_lose_nothing_acknowledged_when_a_master_dies() {
    // Proves the 2m-2s deployment: a failover producer spreads over two SYNC_MASTERs; after
    // kill -9 of broker-a's master it goes on to broker-b, a clustering consumer reads
    // broker-a's queues from its slave and broker-b's from its master, and every SEND_OK
    // arrives; the restarted master takes its slave back and is written to again.
    let test = "ha_2m2s";
    let topic = "Ha2m2sTopic";
    let namesrv = Namesrv::start(test, &[]);
    let (mut master_a, slave_a) = start_named_pair(&namesrv, test, "broker-a");
    let (master_b, _slave_b) = start_named_pair(&namesrv, test, "broker-b");
    wait_for_log(&master_a, "HA: slave connected", 2);
    wait_for_log(&master_b, "HA: slave connected", 2);
    for master in [&master_a, &master_b] {
        let mut admin = BlockingClient::connect(master.addr(), Duration::from_secs(5))
            .expect("connect to a master");
        let config = ramjet_net::client::requests::topic_config(topic, 4);
        let answer = admin
            .invoke(
                ramjet_net::client::requests::create_topic(&config, None),
                Duration::from_secs(5),
            )
            .expect("create the topic");
        assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
    }

    let client = RustClient::new(test);
    let producer =
        client.start_failover_producer(&namesrv.addr, "ha_2m2s_producer", Duration::from_secs(3));
    let mut tally = Tally::default();
    tally.send(&producer, topic, "before", 80);
    wait_for_topic(&slave_a, topic);
    master_a.kill();
    tally.send(&producer, topic, "down", 60);
    let by_broker = &tally.by_broker;
    assert!(
        tally.count("before", "broker-a") > 0 && tally.count("before", "broker-b") > 0,
        "sends spread over both masters: {by_broker:?}"
    );
    assert_eq!(
        tally.count("down", "broker-a"),
        0,
        "a dead master acknowledged"
    );
    assert!(
        tally.count("down", "broker-b") >= 55,
        "{by_broker:?}; failed {:?}",
        tally.failed
    );

    let mut options = ConsumerOptions::new("ha_2m2s_consumer", topic);
    options.poll_name_server_interval_ms = Some(10_000);
    let consumer = client.start_push_consumer(&namesrv.addr, &options);
    let lost = tally.undelivered(&consumer);
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered while broker-a's master was down: {lost:?}\n{}",
        slave_a.log_tail()
    );

    master_a.restart();
    wait_for_log(&master_a, "HA: slave connected", 2);
    // The producer finds broker-a again at its next route poll (10 s).
    let started = Instant::now();
    let mut round = 0;
    loop {
        round += 1;
        let phase = format!("after{round}");
        tally.send(&producer, topic, &phase, 8);
        if tally.count(&phase, "broker-a") > 0 {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the restarted master is never written to: {:?}; failed {:?}",
            tally.by_broker,
            tally.failed
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let lost = tally.undelivered(&consumer);
    assert!(
        lost.is_empty(),
        "after the restart, never delivered: {lost:?}"
    );
    println!(
        "interop: 2m-2s: {} acknowledged ({:?}), {} failed sends, all delivered",
        tally.acked.len(),
        tally.by_broker,
        tally.failed.len()
    );
}
