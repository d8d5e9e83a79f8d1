//! SQL92 message filtering (`enablePropertyFilter`), shown with the third-party
//! `rocketmq-client-rust` 1.0 crate against real `mqnamesrv` and `mqbroker` processes:
//!
//! - a push consumer subscribed with `MessageSelector::by_sql` (its subscription reaches
//!   the broker by heartbeat) and a pull consumer passing the same selector on each pull
//!   (the subscription travels in the pull header) receive exactly the matching messages
//!   out of a mixed set sent with user properties;
//! - an expression that does not compile is refused with SUBSCRIPTION_PARSE_FAILED (23);
//! - with `enablePropertyFilter=false` (RocketMQ's default) SQL92 pulls get SYSTEM_ERROR
//!   (1), while TAG pulls on the same broker are served.
//!
//! The client keeps a broker's response code but drops its remark, so the remarks (the
//! parse error, "The broker does not support consumer to filter message by SQL92") are
//! checked over raw frames in core/tests/sql_filter_answers.rs.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]
// The classic pull consumer is deprecated in the client, but it is the API that sends a
// selector with each pull (the subscription-in-header path of PULL_MESSAGE).
#![allow(deprecated)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocketmq_client_rust::{
    ClientConfig, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, DefaultMQProducer, DefaultMQPullConsumer, DefaultMQPushConsumer,
    MQPushConsumer, MessageListenerConcurrently, MessageSelector, PullStatus, TelemetryHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

use ramjet_interop::servers::{Broker, Namesrv};

const SQL: &str = "a BETWEEN 1 AND 3 AND b = 'x'";
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a push consumer gets to receive what a test expects (a rebalance may wait for
/// the client's 20 s timer).
const RECEIVE_WAIT: Duration = Duration::from_secs(40);
/// After the expected messages arrived, how long to keep listening for extras.
const QUIET_WAIT: Duration = Duration::from_secs(2);

const SUBSCRIPTION_PARSE_FAILED: i32 = 23;
const SYSTEM_ERROR: i32 = 1;

/// The client's runtime, as `common::rust_client` builds it.
struct Client {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
}

impl Client {
    fn new(name: &str) -> Client {
        let mut config = RuntimeConfig {
            thread_name: format!("sql-{name}"),
            ..Default::default()
        };
        config.blocking_lane_policies.metadata_io.max_queue_depth = 100_000;
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
        Client {
            owner: Some(owner),
            runtime,
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.owner.as_ref().expect("owner").block_on(future)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            let runtime = self.runtime.clone();
            // The client runtime's shutdown waits 30 s for the pull consumer, whose own
            // shutdown takes 15 s; the test is over, so neither is waited for long.
            let _ = owner.block_on(async move {
                tokio::time::timeout(Duration::from_secs(2), runtime.shutdown()).await
            });
            let _ = owner.shutdown_runtime_blocking_with_timeout(Duration::from_secs(5));
        }
    }
}

fn group(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// One message of the mixed set: its user properties, and whether `SQL` selects it.
struct Case {
    body: String,
    props: Vec<(&'static str, &'static str)>,
    selected: bool,
}

/// Every mix of `a` (in range, at the bounds, out of range, not an integer, missing) and
/// `b` (matching, not matching, missing).
fn mixed_set() -> Vec<Case> {
    let a_values: [Option<&'static str>; 8] = [
        Some("0"),
        Some("1"),
        Some("2"),
        Some("3"),
        Some("4"),
        Some("2.5"), // Integer.valueOf fails: an evaluation error, not a match
        Some("abc"),
        None,
    ];
    let b_values: [Option<&'static str>; 3] = [Some("x"), Some("y"), None];
    let mut cases = Vec::new();
    for a in a_values {
        for b in b_values {
            let mut props = Vec::new();
            props.extend(a.map(|v| ("a", v)));
            props.extend(b.map(|v| ("b", v)));
            let selected = matches!(a, Some("1" | "2" | "3")) && b == Some("x");
            let body = format!(
                "a={} b={} #{}",
                a.unwrap_or("-"),
                b.unwrap_or("-"),
                cases.len()
            );
            cases.push(Case {
                body,
                props,
                selected,
            });
        }
    }
    cases
}

fn send_all(client: &Client, namesrv: &str, topic: &str, cases: &[Case]) {
    client.block_on(async {
        let mut producer = DefaultMQProducer::builder(client.runtime.clone())
            .producer_group(group("sql_producer").as_str())
            .name_server_addr(namesrv)
            .send_msg_timeout(TIMEOUT.as_millis() as u32)
            .retry_times_when_send_failed(0)
            .build();
        producer.start().await.expect("producer start");
        for case in cases {
            let mut builder = Message::builder()
                .topic(topic)
                .tags("TagA")
                .body_slice(case.body.as_bytes());
            for (name, value) in &case.props {
                builder = builder.raw_property(*name, *value).expect("user property");
            }
            let message = builder.build_unchecked();
            let result = producer
                .send_with_timeout(message, TIMEOUT.as_millis() as u64)
                .await
                .unwrap_or_else(|e| panic!("send {}: {e}", case.body));
            assert!(result.is_some(), "send {}: no SendResult", case.body);
        }
        producer.shutdown().await;
    });
}

fn expected(cases: &[Case]) -> BTreeSet<String> {
    cases
        .iter()
        .filter(|c| c.selected)
        .map(|c| c.body.clone())
        .collect()
}

struct Collector {
    received: Arc<Mutex<Vec<String>>>,
}

impl MessageListenerConcurrently for Collector {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
        let mut received = self.received.lock().unwrap();
        for msg in msgs {
            let body = msg.message.body().map(|b| b.to_vec()).unwrap_or_default();
            received.push(String::from_utf8_lossy(&body).into_owned());
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// A clustering push consumer with `selector` from the first offset; returns what it got
/// once `expect` messages arrived (plus a quiet period) or `wait` passed, or the start
/// failure as (broker response code, message).
fn push_consume(
    client: &Client,
    namesrv: &str,
    topic: &str,
    selector: MessageSelector,
    expect: usize,
    wait: Duration,
) -> Result<Vec<String>, (Option<i32>, String)> {
    let received = Arc::new(Mutex::new(Vec::new()));
    client.block_on(async {
        let mut consumer = DefaultMQPushConsumer::builder(client.runtime.clone())
            .client_config(ClientConfig::default())
            .name_server_addr(namesrv)
            .consumer_group(group("sql_push").as_str())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        consumer
            .subscribe_with_selector(topic, Some(selector))
            .await
            .expect("subscribe");
        consumer.register_message_listener_concurrently(Collector {
            received: received.clone(),
        });
        if let Err(error) = consumer.start().await {
            return Err((error.broker_response_code(), error.to_string()));
        }
        let started = Instant::now();
        while started.elapsed() < wait && received.lock().unwrap().len() < expect.max(1) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(if expect == 0 {
            wait.saturating_sub(started.elapsed())
        } else {
            QUIET_WAIT
        })
        .await;
        consumer.shutdown().await;
        Ok(())
    })?;
    let received = received.lock().unwrap().clone();
    Ok(received)
}

/// A started pull consumer. Never shut down explicitly: its shutdown takes 15 s, and the
/// client's runtime ends with the test anyway.
fn pull_consumer(client: &Client, namesrv: &str) -> DefaultMQPullConsumer {
    client.block_on(async {
        let consumer = DefaultMQPullConsumer::builder(client.runtime.clone())
            .consumer_group(group("sql_pull").as_str())
            .name_server_addr(namesrv)
            .build()
            .expect("pull consumer builds");
        consumer.start().await.expect("pull consumer start");
        consumer
    })
}

/// Pulls every queue of `topic` from offset 0 to its end with `selector` on each pull (a
/// subscription carried in the pull header); the bodies, or the first pull error as
/// (broker response code, message).
fn pull_all(
    client: &Client,
    consumer: &DefaultMQPullConsumer,
    topic: &str,
    selector: &MessageSelector,
) -> Result<Vec<String>, (Option<i32>, String)> {
    client.block_on(async {
        let queues: Vec<MessageQueue> = consumer
            .fetch_subscribe_message_queues(topic)
            .await
            .expect("queues of the topic");
        assert!(!queues.is_empty());
        let mut bodies = Vec::new();
        let mut outcome = Ok(());
        'queues: for queue in &queues {
            let mut offset = 0i64;
            let max = consumer.max_offset(queue).await.expect("max offset");
            for _ in 0..100 {
                if offset >= max {
                    continue 'queues;
                }
                let result = consumer
                    .pull_with_selector(queue, selector.clone(), offset, 4)
                    .await;
                let result = match result {
                    Ok(result) => result,
                    Err(error) => {
                        outcome = Err((error.broker_response_code(), error.to_string()));
                        break 'queues;
                    }
                };
                if let Some(found) = result.msg_found_list() {
                    for msg in found {
                        let body = msg.message.body().map(|b| b.to_vec()).unwrap_or_default();
                        bodies.push(String::from_utf8_lossy(&body).into_owned());
                    }
                }
                assert_ne!(*result.pull_status(), PullStatus::OffsetIllegal);
                assert!(result.next_begin_offset() as i64 > offset, "pull moved on");
                offset = result.next_begin_offset() as i64;
            }
            panic!("queue {queue:?} did not reach its end in 100 pulls");
        }
        outcome.map(|()| bodies)
    })
}

fn assert_exactly(received: &[String], expected: &BTreeSet<String>, what: &str) {
    let got: BTreeSet<String> = received.iter().cloned().collect();
    assert_eq!(
        got.len(),
        received.len(),
        "{what}: duplicates in {received:?}"
    );
    assert_eq!(
        &got, expected,
        "{what}: received exactly the matching messages"
    );
}

#[test]
fn sql92_consumers_receive_exactly_the_matching_messages() {
    let test = "sql_filter_match";
    let namesrv = Namesrv::start(test, &[]);
    let _broker = Broker::start_with(&namesrv, test, &[("enablePropertyFilter", "true")]);
    let client = Client::new("match");
    let topic = "SqlFilterTopic";
    let cases = mixed_set();
    send_all(&client, &namesrv.addr, topic, &cases);
    let puller = pull_consumer(&client, &namesrv.addr);
    let expected = expected(&cases);
    assert_eq!(expected.len(), 3);

    // Pull consumer: the selector travels with every pull.
    let pulled = pull_all(&client, &puller, topic, &MessageSelector::by_sql(SQL))
        .unwrap_or_else(|e| panic!("SQL92 pull failed: {e:?}"));
    assert_exactly(&pulled, &expected, "pull consumer");
    // The same pulls with TAG * see everything: the filter, not the data, chose.
    let everything = pull_all(&client, &puller, topic, &MessageSelector::by_tag("*"))
        .unwrap_or_else(|e| panic!("TAG pull failed: {e:?}"));
    assert_eq!(everything.len(), cases.len());

    // Push consumer: the subscription reaches the broker by heartbeat.
    let received = push_consume(
        &client,
        &namesrv.addr,
        topic,
        MessageSelector::by_sql(SQL),
        expected.len(),
        RECEIVE_WAIT,
    )
    .unwrap_or_else(|e| panic!("SQL92 push consumer: {e:?}"));
    assert_exactly(&received, &expected, "push consumer");

    // Other operators on the same set: IN, IS NULL, NOT BETWEEN, OR.
    let selector =
        MessageSelector::by_sql("b IN ('y') AND a IS NULL OR a NOT BETWEEN 1 AND 3 AND b = 'x'");
    let pulled = pull_all(&client, &puller, topic, &selector)
        .unwrap_or_else(|e| panic!("SQL92 pull failed: {e:?}"));
    let expected: BTreeSet<String> = ["a=- b=y #22", "a=0 b=x #0", "a=4 b=x #12"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_exactly(&pulled, &expected, "IN / IS NULL / NOT BETWEEN");
}

#[test]
fn a_bad_expression_is_refused_with_subscription_parse_failed() {
    let test = "sql_filter_bad";
    let namesrv = Namesrv::start(test, &[]);
    let _broker = Broker::start_with(&namesrv, test, &[("enablePropertyFilter", "true")]);
    let client = Client::new("bad");
    let topic = "SqlFilterBadTopic";
    let cases = mixed_set();
    send_all(&client, &namesrv.addr, topic, &cases[..3]);
    let puller = pull_consumer(&client, &namesrv.addr);

    for bad in ["a BETWEEN 3 AND 1", "a = ", "a > 'x'", "(a = 1"] {
        let error = pull_all(&client, &puller, topic, &MessageSelector::by_sql(bad))
            .expect_err("a bad expression must be refused");
        assert_eq!(
            error.0,
            Some(SUBSCRIPTION_PARSE_FAILED),
            "{bad}: {}",
            error.1
        );
    }
    // A push consumer with a bad expression does not start: its CHECK_CLIENT_CONFIG
    // (request 46) was answered SUBSCRIPTION_PARSE_FAILED, which this client turns into an
    // argument error without the code (the same consumer starts on a good expression, in
    // the test above).
    let refused = push_consume(
        &client,
        &namesrv.addr,
        topic,
        MessageSelector::by_sql("a BETWEEN 3 AND 1"),
        0,
        Duration::from_secs(1),
    )
    .expect_err("a push consumer with a bad expression must not start");
    assert!(refused.1.contains("argument.invalid"), "{refused:?}");
    // The same broker serves a good expression.
    let pulled = pull_all(&client, &puller, topic, &MessageSelector::by_sql("b = 'x'"))
        .unwrap_or_else(|e| panic!("SQL92 pull failed: {e:?}"));
    assert_eq!(pulled, vec!["a=0 b=x #0".to_string()]);
}

#[test]
fn property_filter_off_refuses_sql92() {
    let test = "sql_filter_off";
    let namesrv = Namesrv::start(test, &[]);
    let _broker = Broker::start(&namesrv, test); // enablePropertyFilter defaults to false
    let client = Client::new("off");
    let topic = "SqlFilterOffTopic";
    let cases = mixed_set();
    send_all(&client, &namesrv.addr, topic, &cases[..3]);
    let puller = pull_consumer(&client, &namesrv.addr);

    let error = pull_all(&client, &puller, topic, &MessageSelector::by_sql(SQL))
        .expect_err("SQL92 must be refused when enablePropertyFilter is off");
    assert_eq!(error.0, Some(SYSTEM_ERROR), "{}", error.1);
    // The push consumer's CHECK_CLIENT_CONFIG gets SYSTEM_ERROR too, and it does not start.
    let refused = push_consume(
        &client,
        &namesrv.addr,
        topic,
        MessageSelector::by_sql(SQL),
        0,
        Duration::from_secs(1),
    )
    .expect_err("a SQL92 push consumer must not start when the filter is off");
    assert!(refused.1.contains("argument.invalid"), "{refused:?}");
    let everything = pull_all(&client, &puller, topic, &MessageSelector::by_tag("*"))
        .unwrap_or_else(|e| panic!("TAG pull failed: {e:?}"));
    assert_eq!(everything.len(), 3);
}
