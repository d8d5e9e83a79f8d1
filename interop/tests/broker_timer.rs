//! RocketMQ 5 timer messages through real processes: the `rocketmq-client-rust` 1.0 crate
//! sets TIMER_DELAY_SEC (`set_delay_time_sec`), TIMER_DELAY_MS (`set_delay_time_ms`) and
//! TIMER_DELIVER_MS (`set_deliver_time_ms`); a real `mqbroker` (2 shards) holds each message
//! until its time and a push consumer of the same crate receives it (docs/timer.md).

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::rust_client::{message, ConsumerOptions, PushConsumer, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};
use rocketmq_model::common::message::MessageTrait;

/// The consumer's first pull of a new queue, and long polling, can add this much.
const ARRIVAL_SLACK_MS: i64 = 1000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn group(name: &str) -> String {
    format!("{name}_{}_{}", std::process::id(), now_ms() % 1_000_000_000)
}

/// Polls the consumer every 5 ms until every body in `bodies` arrived or `wait` passed;
/// returns the epoch ms at which each body was first seen.
fn arrivals(consumer: &PushConsumer, bodies: &[String], wait: Duration) -> BTreeMap<String, i64> {
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + wait;
    while seen.len() < bodies.len() && Instant::now() < deadline {
        let at = now_ms();
        for message in consumer.received() {
            if bodies.contains(&message.text()) {
                seen.entry(message.text()).or_insert(at);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    seen
}

/// Starts a consumer of `topic` and waits until a plain message reaches it, so later
/// arrival times measure the broker, not the consumer's start-up and rebalance.
fn ready_consumer<'a>(
    client: &'a RustClient,
    namesrv: &Namesrv,
    producer: &common::rust_client::Producer,
    topic: &str,
) -> PushConsumer<'a> {
    producer
        .send(message(topic, "warm", "warm", "warm-up"))
        .expect("the warm-up send is acknowledged");
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("timer_c"), topic),
    );
    assert!(
        consumer.wait_until(Duration::from_secs(30), |r| r
            .iter()
            .any(|m| m.text() == "warm-up")),
        "the consumer never received the warm-up message"
    );
    consumer
}

/// The client's full error for a send the broker must refuse (its Display hides the code
/// and remark).
fn refusal(
    producer: &common::rust_client::Producer,
    msg: rocketmq_model::common::message::message_single::Message,
) -> String {
    let inner = producer.shared();
    match producer.block_on(inner.send_with_timeout(msg, 5000)) {
        Ok(result) => panic!("the broker accepted a message it must refuse: {result:?}"),
        // The remark is redacted by the client; its diagnostic fields carry the code.
        Err(error) => match error.diagnostic_view() {
            Ok(view) => view
                .fields()
                .map(|field| format!("{}={:?}", field.name(), field.value()))
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => format!("{error:?}"),
        },
    }
}

#[test]
fn timer_messages_arrive_at_their_time_and_too_long_delays_are_refused() {
    let test = "broker_timer_arrival";
    let namesrv = Namesrv::start(test, &[]);
    let mut broker = Broker::start_with(&namesrv, test, &[("timerMaxDelaySec", "60")]);
    let client = RustClient::new("timer");
    let producer = client.start_producer(&namesrv.addr, &group("timer_p"));
    let topic = "TimerArrival";
    let consumer = ready_consumer(&client, &namesrv, &producer, topic);

    // (body, what the client sets, the delay it means)
    let mut sent_at = BTreeMap::new();
    let cases: [(&str, i64); 3] = [
        ("delay-sec-3", 3000),
        ("delay-ms-2500", 2500),
        ("deliver-ms-3", 3000),
    ];
    for (body, delay) in cases {
        let mut msg = message(topic, "timer", body, body);
        let send_start = now_ms();
        match body {
            "delay-sec-3" => msg.set_delay_time_sec(3),
            "delay-ms-2500" => msg.set_delay_time_ms(2500),
            _ => msg.set_deliver_time_ms((send_start + 3000) as u64),
        }
        let sent = producer
            .send(msg)
            .unwrap_or_else(|e| panic!("{body}: {e}\n{}", broker.log_tail()));
        assert_eq!(sent.status, "SendOk", "{body}");
        sent_at.insert(body.to_string(), (send_start, delay));
    }
    // A plain message sent after them arrives at once: nothing waits behind the timers.
    producer
        .send(message(topic, "plain", "plain", "plain"))
        .unwrap();

    let bodies: Vec<String> = sent_at.keys().cloned().collect();
    let seen = arrivals(&consumer, &bodies, Duration::from_secs(15));
    assert_eq!(
        seen.len(),
        bodies.len(),
        "missing: {seen:?}\n{}",
        broker.log_tail()
    );
    let received = consumer.received();
    let plain = received
        .iter()
        .find(|m| m.text() == "plain")
        .expect("plain arrived");
    for (body, (send_start, delay)) in &sent_at {
        let arrived = seen[body];
        let stored = received.iter().find(|m| &m.text() == body).unwrap();
        eprintln!(
            "interop: {body}: delay {delay} ms, stored after {} ms, seen after {} ms",
            stored.store_timestamp - send_start,
            arrived - send_start
        );
        assert!(
            stored.store_timestamp >= send_start + delay,
            "{body} stored {} ms after the send, before its delay of {delay} ms",
            stored.store_timestamp - send_start
        );
        assert!(arrived >= send_start + delay, "{body} arrived early");
        assert!(
            arrived <= send_start + delay + ARRIVAL_SLACK_MS,
            "{body} arrived {} ms after the send, more than 1 s late",
            arrived - send_start
        );
        assert_eq!(stored.topic, topic);
        assert!(plain.store_timestamp < stored.store_timestamp);
    }

    // timerMaxDelaySec=60: 61 s is refused with MESSAGE_ILLEGAL and Java's remark, and so is
    // a value that is not a number; neither is ever delivered.
    let mut too_far = message(topic, "timer", "too-far", "too-far");
    too_far.set_delay_time_sec(61);
    let error = refusal(&producer, too_far);
    assert!(
        error.contains("broker_code=13"),
        "MESSAGE_ILLEGAL is code 13: {error}"
    );
    let mut malformed = message(topic, "timer", "malformed", "malformed");
    malformed.put_property("TIMER_DELAY_MS".into(), "soon".into());
    let error = refusal(&producer, malformed);
    assert!(
        error.contains("broker_code=13"),
        "MESSAGE_ILLEGAL is code 13: {error}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !consumer
            .received()
            .iter()
            .any(|m| m.text() == "too-far" || m.text() == "malformed"),
        "a refused message was delivered"
    );
    drop(consumer);
    broker.stop();
}

#[test]
fn timer_messages_pending_at_a_kill_9_are_delivered_after_the_restart() {
    let test = "broker_timer_kill9";
    let namesrv = Namesrv::start(test, &[]);
    let mut broker = Broker::start(&namesrv, test);
    let client = RustClient::new("timer-kill9");
    let producer = client.start_producer(&namesrv.addr, &group("timer_kill_p"));
    let topic = "TimerKill9";
    // Delays from 1 s to 8 s: some are delivered before the kill, the rest are pending.
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    for index in 0..40 {
        let body = format!("timer-kill9-{index}");
        let delay_ms = 1000 + (index as i64 % 8) * 1000;
        let mut msg = message(topic, "timer", &body, &body);
        let send_start = now_ms();
        msg.set_delay_time_ms(delay_ms as u64);
        match producer.send(msg) {
            Ok(sent) if sent.status == "SendOk" => {
                acked.insert(body, send_start + delay_ms);
            }
            other => panic!("{body}: {other:?}\n{}", broker.log_tail()),
        }
    }
    // Past the first deliveries and the first checkpoint (timerFlushIntervalMs = 1 s).
    std::thread::sleep(Duration::from_millis(3500));
    broker.kill();
    broker.restart();

    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new(&group("timer_kill_c"), topic),
    );
    let bodies: Vec<String> = acked.keys().cloned().collect();
    let complete = consumer.wait_until(Duration::from_secs(40), |received| {
        bodies
            .iter()
            .all(|b| received.iter().any(|m| &m.text() == b))
    });
    let received = consumer.received();
    let missing: Vec<&String> = bodies
        .iter()
        .filter(|b| !received.iter().any(|m| &&m.text() == b))
        .collect();
    assert!(
        complete,
        "acknowledged timer messages lost: {missing:?}\n{}",
        broker.log_tail()
    );
    let mut duplicates = 0;
    for (body, due) in &acked {
        let copies: Vec<_> = received.iter().filter(|m| &m.text() == body).collect();
        duplicates += copies.len() - 1;
        for copy in copies {
            assert!(
                copy.store_timestamp >= *due,
                "{body} delivered {} ms before its time",
                due - copy.store_timestamp
            );
        }
    }
    eprintln!(
        "interop: {} timer messages delivered across a kill -9, {duplicates} duplicates",
        acked.len()
    );
    drop(consumer);
    broker.stop();
}
