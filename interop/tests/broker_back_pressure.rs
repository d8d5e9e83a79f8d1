//! Issue 13, back-pressure: a oneway send that meets a full owner waits for room instead
//! of being refused (a refusal of a oneway request never reaches its sender, so it was a
//! silent loss). A real `mqbroker` with `sendQueueCapacity=2` takes a flood of oneway sends
//! from the third-party `rocketmq-client-rust` 1.0 crate, and every message sent must be
//! stored (the queues' max offsets, read through the same client, add up to the count).

#![recursion_limit = "512"]

mod common;

use std::time::{Duration, Instant};

use common::rust_client::{message, QueueAdmin, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};

const TASKS: usize = 16;
const PER_TASK: usize = 1_000;
/// How long the broker gets to store what the client already wrote to its socket.
const STORE_WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_oneway_flood_on_a_tiny_send_queue_stores_every_message() {
    let test = "broker_back_pressure_oneway";
    let topic = "OnewayFlood";
    let namesrv = Namesrv::start(test, &[]);
    // The disk limit is raised so that a crowded shared test machine does not turn this
    // test into one about DiskFull.
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[
            ("sendQueueCapacity", "2"),
            ("diskSpaceWarningLevelRatio", "99"),
        ],
    );
    let client = RustClient::new("oneway-flood");
    let mut producer = client.start_producer(&namesrv.addr, "oneway_flood_producer");
    // A sync send creates the topic (TBW102: 4 queues) and the client's route.
    producer
        .send(message(topic, "warm", "warm", "warm"))
        .unwrap_or_else(|error| panic!("warm-up send: {error}\n{}", broker.log_tail()));

    let body = "x".repeat(128);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let shared = producer.shared();
            let (topic, body) = (topic.to_owned(), body.clone());
            client.spawn(async move {
                let mut failed = 0;
                for index in 0..PER_TASK {
                    let key = format!("{task}-{index}");
                    if shared
                        .send_oneway(message(&topic, "flood", &key, &body))
                        .await
                        .is_err()
                    {
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let client_failures: usize = tasks.into_iter().map(|task| client.join(task)).sum();
    let written = TASKS * PER_TASK - client_failures;
    eprintln!(
        "{written} oneway sends written in {:?} ({client_failures} failed in the client)",
        started.elapsed()
    );
    assert!(
        written > TASKS * PER_TASK / 2,
        "the client wrote only {written}"
    );

    let expected = written as i64 + 1; // and the warm-up message
    let deadline = Instant::now() + STORE_WAIT;
    let stored = loop {
        let stored: i64 = (0..4)
            .map(|queue| {
                producer
                    .queue_admin(topic, queue, QueueAdmin::MaxOffset)
                    .unwrap_or_else(|error| panic!("max offset of queue {queue}: {error}"))
            })
            .sum();
        if stored >= expected || Instant::now() >= deadline {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        stored,
        expected,
        "oneway messages lost under back-pressure\n{}",
        broker.log_tail()
    );
    assert!(
        !broker.log_tail().contains("oneway request failed"),
        "{}",
        broker.log_tail()
    );
}
