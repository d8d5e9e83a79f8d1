//! Issue 12, HTTP admin API (docs/console.md): real mqnamesrv and mqbroker processes, the
//! third-party `rocketmq-client-rust` 1.0 crate as producer and push consumer, and the API
//! on the broker's `httpPort`. A topic is created through the API, messages sent by the
//! client are found by key, by id and by time, the group's lag is read, an online reset by
//! time makes the running client consume again, an offline reset moves a stopped group,
//! and bad input is answered with JSON {code, remark} and the right HTTP status.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::time::{Duration, Instant};

use common::consume::{now_ms, unique, wait_for_times};
use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::http::{self, encode, HttpAnswer};
use ramjet_interop::servers::{Broker, Namesrv};
use serde_json::{json, Value};

const TEST: &str = "broker_http_api";
const TOPIC: &str = "HttpApiTopic";
const MESSAGES: usize = 8;
/// The client waits 10 s before acting on a reset, then rebalances and pulls.
const RESET_WAIT: Duration = Duration::from_secs(25);

/// RocketMQ response codes the API passes on.
const TOPIC_NOT_EXIST: i64 = 17;
const QUERY_NOT_FOUND: i64 = 22;
const INVALID_PARAMETER: i64 = 29;
const MESSAGE_ILLEGAL: i64 = 13;
const CONSUMER_NOT_ONLINE: i64 = 206;

/// An answer that must be 200; its JSON.
fn ok(answer: HttpAnswer, what: &str, broker: &Broker) -> Value {
    assert_eq!(
        answer.status,
        200,
        "{what}: {}\n{}",
        answer.body,
        broker.log_tail()
    );
    answer.json
}

/// An answer that must be an error with this status and RocketMQ code, and a remark.
fn refused(answer: &HttpAnswer, status: u16, code: i64, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(answer.json["code"], code, "{what}: {}", answer.body);
    let remark = answer.json["remark"].as_str().unwrap_or("");
    assert!(!remark.is_empty(), "{what}: no remark: {}", answer.body);
}

/// Waits until the API shows the group `diff` messages behind (the client commits every 5 s).
fn wait_for_lag(api: &str, group: &str, diff: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = http::get(
            api,
            &format!("/api/group/progress?group={}&topic={TOPIC}", encode(group)),
        );
        if answer.status == 200 && answer.json["diffTotal"] == diff {
            return answer.json;
        }
        assert!(
            Instant::now() < deadline,
            "the group never showed lag {diff}: {} {}",
            answer.status,
            answer.body
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn http_api_manages_topics_finds_messages_and_resets_groups() {
    let started = Instant::now();
    let namesrv = Namesrv::start(TEST, &[]);
    let broker = Broker::start(&namesrv, TEST);
    let api = broker.http_addr().to_owned();

    // Cluster: the name server's view, each broker with its runtime stats.
    let cluster = ok(http::get(&api, "/api/cluster"), "cluster", &broker);
    let brokers = cluster["brokers"].as_array().expect("brokers");
    assert_eq!(brokers.len(), 1, "{cluster}");
    assert_eq!(brokers[0]["brokerName"], "broker-a");
    assert_eq!(brokers[0]["addr"], broker.addr());
    assert!(
        brokers[0]["stats"]["brokerVersionDesc"].is_string(),
        "{cluster}"
    );

    // Create a topic through the API; the name server routes it at once.
    let created = ok(
        http::post(
            &api,
            "/api/topics",
            &json!({"topic": TOPIC, "readQueueNums": 4, "writeQueueNums": 4}),
        ),
        "create topic",
        &broker,
    );
    assert_eq!(created["brokers"], json!([broker.addr()]));
    let topics = ok(http::get(&api, "/api/topics"), "topics", &broker);
    assert!(
        topics["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["topic"] == TOPIC && t["kind"] == "NORMAL"),
        "{topics}"
    );
    let route = ok(
        http::get(&api, &format!("/api/topic/route?topic={TOPIC}")),
        "route",
        &broker,
    );
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 4, "{route}");

    // Send with the third-party client.
    let client = RustClient::new("http-api");
    let producer_group = unique("http_api_p");
    let producer = client.start_producer(&namesrv.addr, &producer_group);
    let before = now_ms() - 1;
    let mut sent = Vec::new();
    let mut bodies = Vec::new();
    for index in 0..MESSAGES {
        let body = format!("body-{index}");
        let result = producer
            .send(message(TOPIC, "TagA", &format!("key-{index}"), &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        sent.push(result);
        bodies.push(body);
    }
    let status = ok(
        http::get(&api, &format!("/api/topic/status?topic={TOPIC}")),
        "status",
        &broker,
    );
    assert_eq!(status["messages"], MESSAGES as i64, "{status}");
    assert_eq!(status["queues"].as_array().unwrap().len(), 4, "{status}");

    // By key: exactly the message with that key, with the client's msgId.
    let by_key = ok(
        http::get(
            &api,
            &format!("/api/messages/by-key?topic={TOPIC}&key=key-3"),
        ),
        "by key",
        &broker,
    );
    let found = by_key["messages"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{by_key}");
    let msg_id = sent[3].msg_id.clone().expect("the client's msgId");
    assert_eq!(found[0]["msgId"], msg_id.as_str(), "{by_key}");
    assert_eq!(found[0]["keys"], "key-3");

    // By id: the client's msgId and the broker's offsetMsgId both find it, with body and
    // properties.
    let offset_msg_id = sent[3]
        .offset_msg_id
        .clone()
        .expect("the broker's offsetMsgId");
    for id in [&msg_id, &offset_msg_id] {
        let viewed = ok(
            http::get(&api, &format!("/api/message?topic={TOPIC}&id={id}")),
            "view",
            &broker,
        );
        assert_eq!(viewed["body"], "body-3", "{viewed}");
        assert_eq!(viewed["properties"]["KEYS"], "key-3", "{viewed}");
        assert_eq!(viewed["properties"]["TAGS"], "TagA", "{viewed}");
        assert_eq!(viewed["offsetMsgId"], offset_msg_id.as_str(), "{viewed}");
    }

    // By time range: all of them, oldest first; a range before the sends finds none.
    let by_time = ok(
        http::get(
            &api,
            &format!(
                "/api/messages?topic={TOPIC}&begin={before}&end={}",
                now_ms()
            ),
        ),
        "by time",
        &broker,
    );
    assert_eq!(
        by_time["messages"].as_array().unwrap().len(),
        MESSAGES,
        "{by_time}"
    );
    let none = ok(
        http::get(
            &api,
            &format!(
                "/api/messages?topic={TOPIC}&begin=1000&end={}",
                before - 60_000
            ),
        ),
        "empty range",
        &broker,
    );
    assert_eq!(none["messages"], json!([]), "{none}");

    // Producers: the client's connection, under its group.
    let producers = ok(
        http::get(
            &api,
            &format!("/api/producers?topic={TOPIC}&group={producer_group}"),
        ),
        "producers",
        &broker,
    );
    assert!(
        !producers["connections"].as_array().unwrap().is_empty(),
        "{producers}"
    );

    // A push consumer takes everything; the API sees it online and its lag go to 0.
    let group = unique("http_api_g");
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, TOPIC));
    wait_for_times(&consumer, &bodies, 1, RESET_WAIT, "first delivery");
    let progress = wait_for_lag(&api, &group, 0);
    assert_eq!(
        progress["queues"].as_array().unwrap().len(),
        4,
        "{progress}"
    );
    let connections = ok(
        http::get(&api, &format!("/api/group/connections?group={group}")),
        "connections",
        &broker,
    );
    assert_eq!(
        connections["connectionSet"].as_array().unwrap().len(),
        1,
        "{connections}"
    );
    let groups = ok(http::get(&api, "/api/groups"), "groups", &broker);
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["group"] == group.as_str() && g["consumers"] == 1),
        "{groups}"
    );
    eprintln!("consumed and committed after {:?}", started.elapsed());

    // Online reset by time: the broker tells the running client; it consumes everything again.
    let reset = ok(
        http::post(
            &api,
            "/api/group/reset",
            &json!({"group": group, "topic": TOPIC, "timestamp": before}),
        ),
        "online reset",
        &broker,
    );
    assert_eq!(reset["mode"], "online", "{reset}");
    let offsets = reset["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 4, "{reset}");
    assert!(offsets.iter().all(|row| row["offset"] == 0), "{reset}");
    let reset_at = Instant::now();
    wait_for_times(&consumer, &bodies, 2, RESET_WAIT, "after the online reset");
    eprintln!("re-consumed {:?} after the reset", reset_at.elapsed());
    wait_for_lag(&api, &group, 0);

    // Lag of a stopped group: three more messages are three behind.
    consumer.shutdown();
    for index in 0..3 {
        let body = format!("late-{index}");
        producer
            .send(message(TOPIC, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}"));
    }
    wait_for_lag(&api, &group, 3);

    // Offline reset (no consumer online): the API commits the offsets itself.
    let reset = ok(
        http::post(
            &api,
            "/api/group/reset",
            &json!({"group": group, "topic": TOPIC, "timestamp": "0"}),
        ),
        "offline reset",
        &broker,
    );
    assert_eq!(reset["mode"], "offline", "{reset}");
    wait_for_lag(&api, &group, (MESSAGES + 3) as i64);

    // Resend to a group (CONSUME_MESSAGE_DIRECTLY) whose consumer stopped: nobody to ask.
    // (broker_client_calls.rs resends to a running one.)
    let resend = http::post(
        &api,
        "/api/message/resend",
        &json!({"group": group, "topic": TOPIC, "id": msg_id}),
    );
    refused(
        &resend,
        404,
        CONSUMER_NOT_ONLINE,
        "resend to a stopped group",
    );

    // DLQ of a group that never dead-lettered: its %DLQ% topic does not exist.
    refused(
        &http::get(&api, &format!("/api/dlq?group={group}")),
        404,
        TOPIC_NOT_EXIST,
        "DLQ of a group without dead letters",
    );

    // Broker config and stats.
    let config = ok(http::get(&api, "/api/broker/config"), "config", &broker);
    assert_eq!(config["config"]["brokerName"], "broker-a", "{config}");
    assert_eq!(
        config["config"]["httpPort"],
        api.rsplit(':').next().unwrap()
    );
    // A key the broker changes at run time, then one it refuses.
    ok(
        http::post(
            &api,
            "/api/broker/config",
            &json!({"regionId": "ApiRegion"}),
        ),
        "update regionId",
        &broker,
    );
    let config = ok(http::get(&api, "/api/broker/config"), "config", &broker);
    assert_eq!(config["config"]["regionId"], "ApiRegion", "{config}");
    let refusal = http::post(&api, "/api/broker/config", &json!({"listenPort": 1}));
    assert!(
        refusal.status >= 400 && refusal.json["code"].as_i64().unwrap_or(0) != 0,
        "listenPort cannot change at run time: {}",
        refusal.body
    );
    let stats = ok(http::get(&api, "/api/broker/stats"), "stats", &broker);
    assert!(stats["stats"]["putTps"].is_string(), "{stats}");

    // Delete a topic made for it.
    let doomed = unique("HttpApiDoomed");
    ok(
        http::post(&api, "/api/topics", &json!({"topic": doomed})),
        "create doomed",
        &broker,
    );
    ok(
        http::request(&api, "DELETE", &format!("/api/topics?topic={doomed}"), None),
        "delete",
        &broker,
    );
    let missing = http::get(&api, &format!("/api/topic/route?topic={doomed}"));
    refused(&missing, 404, TOPIC_NOT_EXIST, "route of a deleted topic");

    // Bad input: JSON {code, remark} with the status that fits, never a crash.
    refused(
        &http::get(&api, "/api/topic/status?topic=NoSuchTopicHere"),
        404,
        TOPIC_NOT_EXIST,
        "status of a missing topic",
    );
    refused(
        &http::request(&api, "POST", "/api/topics", Some("{not json")),
        400,
        INVALID_PARAMETER,
        "malformed JSON",
    );
    refused(
        &http::post(&api, "/api/topics", &json!({"readQueueNums": 4})),
        400,
        INVALID_PARAMETER,
        "no topic",
    );
    refused(
        &http::post(
            &api,
            "/api/topics",
            &json!({"topic": TOPIC, "readQueueNums": "x"}),
        ),
        400,
        INVALID_PARAMETER,
        "queue count not a number",
    );
    let bad_name = http::post(&api, "/api/topics", &json!({"topic": "bad topic/name"}));
    assert!(
        bad_name.status >= 400 && bad_name.json["code"].as_i64().unwrap_or(0) != 0,
        "the broker's refusal of a bad topic name: {}",
        bad_name.body
    );
    refused(
        &http::get(&api, "/api/messages?topic=HttpApiTopic&begin=yesterday-ish"),
        400,
        INVALID_PARAMETER,
        "bad timestamp",
    );
    refused(
        &http::get(&api, "/api/messages?topic=HttpApiTopic&max=99999999"),
        400,
        INVALID_PARAMETER,
        "max out of range",
    );
    refused(
        &http::get(&api, &format!("/api/message?topic={TOPIC}&id=nosuchid")),
        404,
        QUERY_NOT_FOUND,
        "unknown message id",
    );
    refused(
        &http::get(&api, "/api/group/progress"),
        400,
        INVALID_PARAMETER,
        "missing group",
    );
    let unknown = http::get(&api, "/api/no/such/thing");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    // Oversized bodies: a declared length above the limit is refused unread, and so is a
    // body that really is that long.
    let big = "x".repeat(ramjet_console_limit() + 1);
    refused(
        &http::request(&api, "POST", "/api/topics", Some(&big)),
        413,
        MESSAGE_ILLEGAL,
        "oversized body",
    );
    let lying = format!(
        "POST /api/topics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{{}}",
        u64::MAX / 2
    );
    refused(
        &http::send_raw(&api, lying.as_bytes()),
        413,
        MESSAGE_ILLEGAL,
        "huge declared length",
    );
    let long_url = format!("/api/topic/status?topic={}", "T".repeat(10_000));
    assert_eq!(http::get(&api, &long_url).status, 414);
    let flood = format!(
        "GET /api/cluster HTTP/1.1\r\nHost: x\r\nX-Flood: {}\r\n\r\n",
        "f".repeat(1 << 20)
    );
    refused(
        &http::send_raw(&api, flood.as_bytes()),
        431,
        INVALID_PARAMETER,
        "a megabyte of headers",
    );
    // Garbage instead of HTTP is refused, and the API still serves.
    refused(
        &http::send_raw(&api, b"\x00\x01\x02 nonsense\r\n\r\n"),
        400,
        INVALID_PARAMETER,
        "not HTTP",
    );
    ok(http::get(&api, "/api/cluster"), "after garbage", &broker);

    // The console's page is served from the binary.
    let page = http::get(&api, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ramjet console"), "{}", page.body);
    eprintln!("done after {:?}", started.elapsed());
}

/// The API's body limit (console/src/http.rs MAX_BODY_BYTES); the test repeats it rather
/// than linking the broker's crates.
fn ramjet_console_limit() -> usize {
    64 * 1024
}

#[test]
fn a_taken_http_port_is_logged_and_the_broker_serves_on() {
    let namesrv = Namesrv::start("broker_http_api_port", &[]);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let broker = Broker::start_with(&namesrv, "broker_http_api_port", &[("httpPort", &port)]);
    // Booted (start_with waits for the boot line) and serving remoting.
    let client = RustClient::new("http-api-port");
    let producer = client.start_producer(&namesrv.addr, &unique("http_api_port_p"));
    producer
        .send(message("HttpPortTopic", "T", "k", "v"))
        .unwrap_or_else(|error| panic!("send: {error}\n{}", broker.log_tail()));
    let log = broker.log_tail();
    assert!(
        log.contains(&format!("httpPort={port}")) && log.contains("console are off"),
        "the log names the key and port: {log}"
    );
}

#[test]
fn dead_letters_are_listed_and_resent_through_the_api() {
    use ramjet_net::body::MessageQueue;
    use ramjet_net::client::requests::{self, SendRequest};
    use ramjet_net::client::BlockingClient;

    let test = "broker_http_api_dlq";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start(&namesrv, test);
    let api = broker.http_addr().to_owned();
    let (topic, group) = ("HttpDlqTopic", "http_dlq_g");
    let dlq = format!("%DLQ%{group}");
    for (name, queues) in [(topic, 4), (dlq.as_str(), 1)] {
        ok(
            http::post(
                &api,
                "/api/topics",
                &json!({"topic": name, "readQueueNums": queues, "writeQueueNums": queues}),
            ),
            "create",
            &broker,
        );
    }
    // A dead letter as the broker parks one: in %DLQ%<group>, its origin in RETRY_TOPIC.
    // (Written with our own client: making a real consumer fail 16 times is
    // broker_delay_retry.rs's subject, not this test's.)
    let uniq_key = "C0A80001000018B4AAC2000000000001";
    let queue = MessageQueue::new(&dlq, "broker-a", 0);
    let send = requests::send_message(SendRequest {
        producer_group: "http_dlq_p",
        queue: &queue,
        properties: requests::properties_text(&[
            ("RETRY_TOPIC", topic),
            ("UNIQ_KEY", uniq_key),
            ("KEYS", "dead-key"),
        ]),
        body: b"dead letter body".to_vec(),
        batch: false,
        born_timestamp_ms: now_ms(),
    });
    let mut remoting = BlockingClient::connect(broker.addr(), Duration::from_secs(3)).unwrap();
    let answer = remoting.invoke(send, Duration::from_secs(5)).unwrap();
    assert_eq!(answer.code, 0, "{:?}", answer.remark);

    let listed = ok(
        http::get(&api, &format!("/api/dlq?group={group}")),
        "dlq",
        &broker,
    );
    let messages = listed["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{listed}");
    assert_eq!(messages[0]["msgId"], uniq_key);
    assert_eq!(messages[0]["properties"]["RETRY_TOPIC"], topic);

    // A third-party consumer of the origin topic receives the resent letter.
    let client = RustClient::new("http-api-dlq");
    let consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new("http_dlq_c", topic));
    let resent = ok(
        http::post(
            &api,
            "/api/dlq/resend",
            &json!({"group": group, "id": uniq_key}),
        ),
        "resend",
        &broker,
    );
    assert_eq!(resent["topic"], topic, "{resent}");
    assert_eq!(resent["sendStatus"], "SEND_OK", "{resent}");
    assert!(
        consumer.wait_until(Duration::from_secs(20), |received| received
            .iter()
            .any(|m| m.text() == "dead letter body")),
        "the resent dead letter never arrived: {:?}",
        consumer.received()
    );
    refused(
        &http::post(
            &api,
            "/api/dlq/resend",
            &json!({"group": group, "id": "nope"}),
        ),
        404,
        QUERY_NOT_FOUND,
        "resend of an unknown dead letter",
    );
}
