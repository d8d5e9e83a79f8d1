//! Delay levels, retry back-off and dead-letter queues, driven by clients nobody on the team
//! wrote: the rocketmq-client-rust 1.0 crate and the Apache C++ client (through
//! interop/python/cpp_client.py), against real mqnamesrv/mqbroker processes.
//!
//! Most tests give the broker a short `messageDelayLevel` table so that retries come back in
//! seconds; one checks level 3 of RocketMQ's default table (10 s).

#![recursion_limit = "512"]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::python::run_script;
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::workspace;
use rocketmq_client_rust::{
    ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    DefaultMQPushConsumer, MQPushConsumer, MessageListenerConcurrently, TelemetryHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// `mqadmin <command> -n <namesrv> <args>`: stdout, or both streams when it failed.
fn try_mqadmin(namesrv: &Namesrv, command: &str, args: &[&str]) -> Result<String, String> {
    let binary = workspace::server_binary("ramjet-tools", "mqadmin");
    let output = Command::new(binary)
        .arg(command)
        .args(["-n", &namesrv.addr])
        .args(args)
        .output()
        .expect("run mqadmin");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "mqadmin {command} {args:?} failed\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// [`try_mqadmin`] that panics on failure.
fn mqadmin(namesrv: &Namesrv, command: &str, args: &[&str]) -> String {
    try_mqadmin(namesrv, command, args).unwrap_or_else(|error| panic!("{error}"))
}

/// One delivery as a listener saw it.
#[derive(Debug, Clone)]
struct Delivery {
    topic: String,
    uniq_key: String,
    reconsume_times: i32,
    at: Instant,
}

/// Answers RECONSUME_LATER to everything and records each delivery.
struct AlwaysLater {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl MessageListenerConcurrently for AlwaysLater {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
        let at = Instant::now();
        let mut deliveries = self.deliveries.lock().unwrap();
        for msg in msgs {
            deliveries.push(Delivery {
                topic: msg.message.topic().to_string(),
                uniq_key: msg
                    .message
                    .property("UNIQ_KEY")
                    .unwrap_or_default()
                    .to_string(),
                reconsume_times: msg.reconsume_times(),
                at,
            });
        }
        Ok(ConsumeConcurrentlyStatus::ReconsumeLater)
    }
}

/// A rocketmq-client-rust push consumer whose listener always fails, on its own client
/// runtime (the shared helper's consumers always succeed).
struct FailingConsumer {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
    consumer: Option<DefaultMQPushConsumer>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl FailingConsumer {
    fn start(namesrv: &str, group: &str, topic: &str, max_reconsume_times: i32) -> Self {
        let config = RuntimeConfig {
            thread_name: format!("failing-{group}"),
            ..Default::default()
        };
        let owner = RuntimeOwner::plan(config)
            .expect("runtime plan")
            .build()
            .expect("runtime owner");
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .expect("client runtime");
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let mut consumer = DefaultMQPushConsumer::builder(runtime.clone())
            .name_server_addr(namesrv)
            .consumer_group(group)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .max_reconsume_times(max_reconsume_times)
            .build();
        let listener = AlwaysLater {
            deliveries: deliveries.clone(),
        };
        owner.block_on(async {
            consumer
                .subscribe(topic, "*")
                .await
                .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"));
            consumer.register_message_listener_concurrently(listener);
            consumer
                .start()
                .await
                .unwrap_or_else(|e| panic!("consumer {group} start: {e}"));
        });
        FailingConsumer {
            owner: Some(owner),
            runtime,
            consumer: Some(consumer),
            deliveries,
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    fn wait_for(&self, count: usize, wait: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + wait;
        while self.deliveries.lock().unwrap().len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.deliveries()
    }
}

impl Drop for FailingConsumer {
    fn drop(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        if let Some(mut consumer) = self.consumer.take() {
            owner.block_on(consumer.shutdown());
        }
        let runtime = self.runtime.clone();
        let _ = owner.block_on(async move { runtime.shutdown().await });
        let _ = owner.shutdown_runtime_blocking_with_timeout(Duration::from_secs(5));
    }
}

fn secs(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64()
}

#[test]
fn rust_consumer_retries_back_off_by_level_then_dead_letter() {
    // Proves CONSUMER_SEND_MSG_BACK with delay levels: a message a rocketmq-client-rust push
    // consumer answers RECONSUME_LATER to comes back after its level's delay (level 3 +
    // reconsumeTimes: 2 s, then 3 s with this table), reconsumeTimes counting up and the
    // original topic and msgId kept; after maxReconsumeTimes (2) it goes to %DLQ%<group>,
    // where mqadmin printDlqMsg lists it; resendDlqMsg puts it back on its topic.
    let test = "broker_delay_retry_rust";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, &[("messageDelayLevel", "1s 1s 2s 3s 9s")]);
    let (topic, group) = ("DelayRetryRust", "delay_retry_rust");
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "delay_retry_producer");
    let sent = producer
        .send(message(topic, "TagA", "retry-key", "fail me"))
        .expect("send");
    let msg_id = sent.msg_id.clone().expect("a msgId");

    let consumer = FailingConsumer::start(&namesrv.addr, group, topic, 2);
    let deliveries = consumer.wait_for(3, Duration::from_secs(30));
    let log = broker.log_tail();
    assert!(
        deliveries.len() >= 3,
        "three deliveries: {deliveries:?}\n{log}"
    );
    for (n, delivery) in deliveries.iter().take(3).enumerate() {
        assert_eq!(delivery.reconsume_times, n as i32, "{deliveries:?}");
        assert_eq!(
            delivery.topic, topic,
            "original topic restored: {deliveries:?}"
        );
        assert_eq!(delivery.uniq_key, msg_id, "msgId kept: {deliveries:?}");
    }
    let first_wait = secs(deliveries[0].at, deliveries[1].at);
    let second_wait = secs(deliveries[1].at, deliveries[2].at);
    assert!(
        (1.95..3.5).contains(&first_wait),
        "level 3 (2 s) back-off took {first_wait:.3} s"
    );
    assert!(
        (2.95..4.5).contains(&second_wait),
        "level 4 (3 s) back-off took {second_wait:.3} s"
    );

    // Out of retries: no fourth delivery (level 5 would be 9 s; wait past it would be
    // long, so check the DLQ instead, which the message reaches at once).
    let dlq = format!("%DLQ%{group}");
    // The DLQ topic is created by the third send-back; its route reaches the name server
    // with the broker's next registration, so allow for that.
    let deadline = Instant::now() + Duration::from_secs(15);
    let listing = loop {
        let listing = try_mqadmin(&namesrv, "printDlqMsg", &["-g", group]);
        match listing {
            Ok(listing) if listing.contains(&msg_id) => break listing,
            Err(error) if Instant::now() > deadline => panic!("{error}\n{}", broker.log_tail()),
            Ok(listing) if Instant::now() > deadline => break listing,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert!(
        listing.contains(&msg_id),
        "printDlqMsg lists the message:\n{listing}"
    );
    assert!(listing.contains(topic), "with its origin topic:\n{listing}");
    assert!(listing.contains("1 dead letter(s)"), "{listing}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        consumer.deliveries().len(),
        3,
        "{:?}",
        consumer.deliveries()
    );
    let route = client
        .topic_route(&namesrv.addr, &dlq)
        .expect("route")
        .expect("the DLQ topic is registered");
    let (_, _, perm) = route.queues["broker-a"];
    assert_eq!(
        perm, 6,
        "DLQ topics are readable and writable, as RocketMQ 4.9 creates them"
    );
    drop(consumer);

    // Resend to the original topic: a new group reading the topic from the start sees the
    // original and the resent copy, both with the producer's msgId.
    let resent = mqadmin(&namesrv, "resendDlqMsg", &["-g", group, "-i", &msg_id]);
    assert!(resent.contains("SEND_OK"), "{resent}");
    let checker = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new("delay_retry_checker", topic),
    );
    assert!(
        checker.wait_until(Duration::from_secs(20), |received| {
            received
                .iter()
                .filter(|m| m.uniq_key.as_deref() == Some(msg_id.as_str()))
                .count()
                >= 2
        }),
        "the resent dead letter is back on {topic}: {:?}",
        checker.received()
    );
}

/// A rocketmq-client-rust message with a delay level.
fn delayed(topic: &str, key: &str, level: i32) -> Message {
    let mut message = message(topic, "TagD", key, key);
    message.set_delay_time_level(level);
    message
}

#[test]
fn level_3_of_the_default_table_arrives_10_seconds_later() {
    // Proves delay-level delivery with RocketMQ's default messageDelayLevel: a level-3
    // message reaches a subscribed rocketmq-client-rust consumer no earlier than 10 s after
    // the send began and no later than 1 s after that.
    let test = "broker_delay_default_level3";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    let topic = "DelayDefault";
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "delay_default_producer");
    producer
        .send(message(topic, "TagW", "warm-up", "warm-up"))
        .expect("warm-up send");
    let consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new("delay_default", topic));
    assert!(
        consumer.wait_for_count(1, Duration::from_secs(20)),
        "the consumer is running"
    );
    let before = now_ms();
    let sent = producer
        .send(delayed(topic, "level-3", 3))
        .expect("delayed send");
    let acked = now_ms();
    let uniq = sent.msg_id.clone().expect("a msgId");
    assert!(
        consumer.wait_until(Duration::from_secs(14), |received| received
            .iter()
            .any(|m| m.uniq_key.as_deref() == Some(uniq.as_str()))),
        "the level-3 message arrived\n{}",
        broker.log_tail()
    );
    let arrived = now_ms();
    let message = consumer
        .received()
        .into_iter()
        .find(|m| m.uniq_key.as_deref() == Some(uniq.as_str()))
        .unwrap();
    assert_eq!(message.topic, topic);
    assert!(
        arrived - before >= 10_000,
        "arrived {} ms after the send began",
        arrived - before
    );
    assert!(
        arrived - acked <= 11_000,
        "arrived {} ms after the send was acknowledged",
        arrived - acked
    );
    // Stored on its real queue once due (the broker's clock).
    assert!(message.store_timestamp >= before + 10_000, "{message:?}");
}

#[test]
fn cpp_consumer_reconsume_later_backs_off() {
    // Proves the retry back-off for the Apache C++ client: each message its push consumer
    // answers RECONSUME_LATER to once comes back no sooner than level 3's delay (3 s in this
    // table) and not much later.
    let test = "broker_delay_retry_cpp";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, &[("messageDelayLevel", "1s 1s 3s 4s")]);
    let dir = namesrv.dir.clone();
    let topic = "DelayRetryCpp";
    let log_dir = dir.join("cpp-client-logs").display().to_string();
    let common = |command: &str| -> Vec<String> {
        [
            command,
            "--namesrv",
            &namesrv.addr,
            "--topic",
            topic,
            "--log-dir",
            &log_dir,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // The C++ push consumer learns routes and rebalances on 20-30 s timers, but reads the
    // routes of its subscriptions (including %RETRY%<group>) at start. A first short run
    // makes the broker create and register the retry topic, so the measured run owns the
    // retry queue from its start and the back-off is the broker's, not the rebalance tick's.
    mqadmin(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", topic, "-r", "4", "-w", "4"],
    );
    let mut warm_up = common("consume");
    warm_up.extend(["--group", "delay_retry_cpp", "--seconds", "3"].map(String::from));
    let output = run_script("cpp_client.py", &warm_up, &dir, Duration::from_secs(60));
    assert!(!output.timed_out, "warm-up consumer timed out\n{output}");
    std::thread::sleep(Duration::from_secs(1));
    let mut produce = common("produce");
    produce.extend(["--count", "4", "--id-prefix", "cb"].map(String::from));
    let output = run_script("cpp_client.py", &produce, &dir, Duration::from_secs(60));
    assert!(output.status.success(), "produce failed\n{output}");
    let record = dir.join("cpp-records.jsonl");
    let mut consume = common("consume");
    consume.extend(
        [
            "--group",
            "delay_retry_cpp",
            "--fail-once",
            "--expect",
            "4",
            "--seconds",
            "40",
            "--record-file",
            &record.display().to_string(),
        ]
        .map(String::from),
    );
    let output = run_script("cpp_client.py", &consume, &dir, Duration::from_secs(60));
    assert!(!output.timed_out, "consumer timed out\n{output}");
    let lines = std::fs::read_to_string(&record).unwrap_or_default();
    let entries: Vec<Value> = lines
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    for index in 0..4 {
        let id = format!("cb-{index}");
        let of = |failed: bool| -> Vec<&Value> {
            entries
                .iter()
                .filter(|e| {
                    e["body"] == id.as_str() && e["failed"].as_bool().unwrap_or(false) == failed
                })
                .collect()
        };
        let (failures, accepted) = (of(true), of(false));
        assert!(
            !failures.is_empty() && !accepted.is_empty(),
            "{id} failed once then came back: {entries:?}\n{}",
            broker.log_tail()
        );
        let failed_at = failures[0]["at"].as_f64().unwrap();
        let back_at = accepted[0]["at"].as_f64().unwrap();
        let waited = back_at - failed_at;
        assert!(
            (2.95..7.0).contains(&waited),
            "{id} came back {waited:.3} s after RECONSUME_LATER (level 3 = 3 s): {entries:?}"
        );
        eprintln!("{id}: back {waited:.3} s after RECONSUME_LATER");
        assert!(accepted[0]["reconsume_times"].as_i64().unwrap() >= 1);
        assert_eq!(accepted[0]["topic"], topic);
    }
}

#[test]
fn delayed_messages_survive_kill_9() {
    // Proves the schedule's durability: acknowledged delayed messages of several levels
    // (spread over both shards), some already delivered and some pending when the broker is
    // killed with SIGKILL, are all delivered after the restart, each stored on its real
    // queue no earlier than its due time.
    let test = "broker_delay_kill9";
    let namesrv = Namesrv::start(test, &[]);
    let mut broker = Broker::start_with(
        &namesrv,
        test,
        &[
            ("messageDelayLevel", "1s 3s 6s 8s"),
            ("flushDelayOffsetInterval", "500"),
        ],
    );
    let topic = "DelayKill";
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "delay_kill_producer");
    let delays = [1_000, 3_000, 6_000, 8_000];
    let mut sent = Vec::new();
    for index in 0..40 {
        let level = (index % 4) + 1;
        let before = now_ms();
        let result = producer
            .send(delayed(topic, &format!("k-{index}"), level))
            .expect("delayed send");
        sent.push((
            result.msg_id.expect("msgId"),
            before + delays[level as usize - 1],
        ));
    }
    // Level 1 is delivered and its offset flushed; the others are still pending.
    std::thread::sleep(Duration::from_millis(2_000));
    broker.kill();
    std::thread::sleep(Duration::from_millis(1_000));
    broker.restart();
    let consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new("delay_kill", topic));
    let all_there = consumer.wait_until(Duration::from_secs(30), |received| {
        sent.iter().all(|(id, _)| {
            received
                .iter()
                .any(|m| m.uniq_key.as_deref() == Some(id.as_str()))
        })
    });
    let received = consumer.received();
    assert!(
        all_there,
        "every acknowledged delayed message was delivered after kill -9: missing {:?}\n{}",
        sent.iter()
            .filter(|(id, _)| !received
                .iter()
                .any(|m| m.uniq_key.as_deref() == Some(id.as_str())))
            .collect::<Vec<_>>(),
        broker.log_tail()
    );
    for (id, due) in &sent {
        for message in received
            .iter()
            .filter(|m| m.uniq_key.as_deref() == Some(id.as_str()))
        {
            assert!(
                message.store_timestamp >= *due,
                "{id} stored on {topic} at {} before it was due at {due}",
                message.store_timestamp
            );
            assert_eq!(message.topic, topic);
        }
    }
    let store = PathBuf::from(&broker.dir).join("store");
    let offsets: Vec<String> = (0..2)
        .map(|shard| {
            std::fs::read_to_string(store.join(format!("shards/{shard}/delayOffset.json")))
                .unwrap_or_default()
        })
        .collect();
    assert!(
        offsets.iter().any(|text| text.contains("offsetTable")),
        "delayOffset.json is written per shard: {offsets:?}"
    );
}

#[test]
fn a_clients_own_resend_to_the_retry_topic_is_delayed() {
    // Proves the send path's divert for clients that resend failed messages themselves (the
    // C++ client's fallback): a SEND_MESSAGE to %RETRY%<group> carrying DELAY=2 reaches the
    // group's push consumer no sooner than level 2's delay (2 s in this table).
    let test = "broker_delay_own_resend";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(&namesrv, test, &[("messageDelayLevel", "1s 2s")]);
    let (topic, group) = ("DelayOwnResend", "delay_own_resend");
    let retry_topic = format!("%RETRY%{group}");
    let client = RustClient::new(test);
    let producer = client.start_producer(&namesrv.addr, "delay_own_resend_producer");
    producer
        .send(message(topic, "TagW", "warm-up", "warm-up"))
        .expect("warm-up send");
    let consumer = client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(group, topic));
    assert!(
        consumer.wait_for_count(1, Duration::from_secs(20)),
        "the consumer is running"
    );
    // The consumer owns its retry queue from its first rebalance; give the route a moment.
    std::thread::sleep(Duration::from_secs(1));
    let before = now_ms();
    let sent = producer
        .send(delayed(&retry_topic, "resent", 2))
        .expect("send to the retry topic");
    let uniq = sent.msg_id.clone().expect("a msgId");
    let arrived = consumer.wait_until(Duration::from_secs(20), |received| {
        received
            .iter()
            .any(|m| m.uniq_key.as_deref() == Some(uniq.as_str()))
    });
    assert!(arrived, "the resent message arrived\n{}", broker.log_tail());
    let at = now_ms();
    let message = consumer
        .received()
        .into_iter()
        .find(|m| m.uniq_key.as_deref() == Some(uniq.as_str()))
        .unwrap();
    assert!(
        message.store_timestamp >= before + 2_000,
        "stored on {retry_topic} {} ms after the send began",
        message.store_timestamp - before
    );
    assert!(
        at - before >= 2_000,
        "arrived {} ms after the send",
        at - before
    );
}
