//! Replication beyond the steady state, with real processes and the third-party
//! rocketmq-client-rust 1.0 (docs/replication.md): a slave keeps its master's timer
//! checkpoint, so its store restarted as a master delivers nothing twice; and an empty slave
//! that joins a master with several CommitLog files starts at the newest one, as RocketMQ's.

#![recursion_limit = "512"]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::process::{free_port, strip_ansi};
use ramjet_interop::servers::{Broker, Namesrv};
use rocketmq_model::common::message::MessageTrait;

const WAIT: Duration = Duration::from_secs(30);

/// A master (ASYNC_MASTER, plus `extra`) and an empty slave syncing metadata every 300 ms.
fn start_pair(namesrv: &Namesrv, test: &str, extra: &[(&str, &str)]) -> (Broker, Broker) {
    let ha_port = free_port().to_string();
    let mut master_props = vec![("brokerRole", "ASYNC_MASTER"), ("haListenPort", &ha_port)];
    master_props.extend_from_slice(extra);
    let master = Broker::start_with(namesrv, &format!("{test}_master"), &master_props);
    let slave = start_slave(namesrv, test, &ha_port, extra);
    (master, slave)
}

fn start_slave(namesrv: &Namesrv, test: &str, ha_port: &str, extra: &[(&str, &str)]) -> Broker {
    let ha_addr = format!("127.0.0.1:{ha_port}");
    let mut props = vec![
        ("brokerRole", "SLAVE"),
        ("brokerId", "1"),
        ("haMasterAddress", &ha_addr),
        ("ramjetSlaveSyncIntervalMillis", "300"),
    ];
    props.extend_from_slice(extra);
    Broker::start_with(namesrv, &format!("{test}_slave"), &props)
}

/// Waits until `broker`'s current log has `count` lines containing `needle`.
fn wait_for_log(broker: &Broker, needle: &str, count: usize) -> String {
    let started = Instant::now();
    loop {
        let log = strip_ansi(&std::fs::read_to_string(broker.log_path()).unwrap_or_default());
        if log.matches(needle).count() >= count {
            return log;
        }
        assert!(
            started.elapsed() < WAIT,
            "no {count} x {needle:?} in the log\n{}",
            broker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The timer checkpoint a broker's store holds (on whichever shard owns the timer queue).
fn timer_checkpoint(broker: &Broker) -> Option<serde_json::Value> {
    (0..2).find_map(|shard| {
        let path = broker
            .store_dir()
            .join(format!("shards/{shard}/timer/timercheck.json"));
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    })
}

#[test]
fn a_slaves_store_restarted_as_master_does_not_deliver_timer_messages_again() {
    // Proves the slave keeps its master's timer checkpoint: six timer messages delivered by
    // the master are not delivered a second time when the master dies and the slave's store
    // is started as the new master. Without the copy, its wheel would be rebuilt from the
    // timer queue's start and deliver all six again.
    let test = "ha_timer_copy";
    let namesrv = Namesrv::start(test, &[]);
    let flush = [("timerFlushIntervalMs", "100")];
    let (mut master, mut slave) = start_pair(&namesrv, test, &flush);
    wait_for_log(&master, "HA: slave connected", 2);
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "ha_timer_p");
    let topic = "HaTimerTopic";
    let bodies: Vec<String> = (0..6).map(|n| format!("timer-{n}")).collect();
    for body in &bodies {
        let mut msg = message(topic, "timer", body, body);
        msg.set_delay_time_sec(1);
        let sent = producer.send(msg).expect("timer send");
        assert_eq!(sent.status, "SendOk");
    }
    let consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new("ha_timer_c1", topic));
    assert!(
        consumer.wait_for_count(bodies.len(), WAIT),
        "the master delivered {} of 6\n{}",
        consumer.count(),
        master.log_tail()
    );
    drop(consumer);
    // The master's checkpoint says all six are done; wait for the slave's copy.
    let started = Instant::now();
    loop {
        let copy = timer_checkpoint(&slave);
        if copy.as_ref().and_then(|c| c["minPendingOffset"].as_u64()) == Some(6) {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the slave's timer checkpoint: {copy:?}; the master's: {:?}\n{}",
            timer_checkpoint(&master),
            slave.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    master.kill();
    slave.kill();
    slave.restart_with(&[("brokerRole", "ASYNC_MASTER"), ("brokerId", "0")]);
    wait_for_log(&slave, "timer wheel rebuilding", 1);
    let consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new("ha_timer_c2", topic));
    consumer.wait_for_count(bodies.len(), WAIT);
    // Time for any second delivery (1 s delays, 10 ms ticks) to be stored and pulled.
    std::thread::sleep(Duration::from_secs(4));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for received in consumer.received() {
        *seen.entry(received.text()).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, usize> = bodies.iter().map(|b| (b.clone(), 1)).collect();
    assert_eq!(
        seen,
        expected,
        "each timer message once on the old slave's store\n{}",
        slave.log_tail()
    );
}

#[test]
fn an_empty_slave_joining_late_starts_at_the_masters_newest_file() {
    // Proves RocketMQ's rule for a new slave: with 1 MiB CommitLog files, a master holding
    // three of them ships an empty slave from the start of its newest file (not from 0),
    // the slave takes it, and serves what it holds once the master is gone.
    let test = "ha_late_slave";
    let namesrv = Namesrv::start(test, &[]);
    let small = [
        ("mapedFileSizeCommitLog", "1048576"),
        ("maxMessageSize", "65536"),
    ];
    let ha_port = free_port().to_string();
    let mut props = vec![
        ("brokerRole", "ASYNC_MASTER"),
        ("haListenPort", ha_port.as_str()),
    ];
    props.extend_from_slice(&small);
    let mut master = Broker::start_with(&namesrv, &format!("{test}_master"), &props);
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "ha_late_p");
    let topic = "HaLateTopic";
    let filler = "x".repeat(4000);
    // Two shards share the sends; about 3.5 MiB each fills three files on both.
    for n in 0..1800 {
        let sent = producer
            .send(message(topic, "old", &format!("old-{n}"), &filler))
            .expect("filler send");
        assert_eq!(sent.status, "SendOk");
    }
    let slave = start_slave(&namesrv, test, &ha_port, &small);
    let log = wait_for_log(&master, "HA: slave connected", 2);
    let starts: Vec<u64> = log
        .lines()
        .filter(|line| line.contains("HA: slave connected"))
        .filter_map(|line| {
            let at = line.find("start=")? + "start=".len();
            line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(starts.len(), 2, "{log}");
    for start in &starts {
        let within_shard = start & ((1u64 << 48) - 1);
        assert!(
            within_shard >= 2 * 1048576 && within_shard.is_multiple_of(1048576),
            "an empty slave starts at a newer file's start, not at 0: {starts:?}"
        );
    }
    let news: Vec<String> = (0..20).map(|n| format!("new-{n}")).collect();
    for key in &news {
        let sent = producer
            .send(message(topic, "new", key, key))
            .expect("send");
        assert_eq!(sent.status, "SendOk");
    }
    // Shipped in the background (ASYNC_MASTER): give the slave a moment, then lose the master.
    std::thread::sleep(Duration::from_secs(2));
    master.kill();
    let mut options = ConsumerOptions::new("ha_late_c", topic);
    options.expression = "new".into();
    let consumer = client.start_push_consumer(&namesrv.addr, &options);
    let done = consumer.wait_until(WAIT, |received| {
        news.iter()
            .all(|key| received.iter().any(|m| m.keys.contains(key)))
    });
    assert!(
        done,
        "the late slave served {} of 20 new messages\n{}",
        consumer.count(),
        slave.log_tail()
    );
}
