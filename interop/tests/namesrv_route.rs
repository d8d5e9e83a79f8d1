//! Issue 2's Show: clients nobody on the team wrote (rocketmq-client-rust 1.0 from crates.io,
//! and the Apache C++ client 2.1 from PyPI's rocketmq-python-cvs) fetch a topic's route from a
//! real `mqnamesrv` process after a broker registered it exactly as a Java 5.3 broker does,
//! and get TOPIC_NOT_EXIST for a topic nobody registered.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::rust_client::RustClient;
use ramjet_interop::process::free_port;
use ramjet_interop::python::run_script;
use ramjet_interop::recorder::{Recorder, RecorderConfig};
use ramjet_interop::servers::Namesrv;
use ramjet_interop::wire::{
    BrokerRegistration, RawConnection, TopicConfig, GET_ROUTEINFO_BY_TOPIC, SUCCESS,
    TOPIC_NOT_EXIST,
};
use serde_json::{Map, Value};

const TOPIC: &str = "TopicTest";
const UNKNOWN_TOPIC: &str = "NoSuchTopic";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Registers "broker-a" at `broker_addr` with TopicTest (4 read / 4 write queues, perm 6) and
/// `extra_topics`. The returned connection keeps the registration alive: closing it would make
/// the name server drop the broker.
fn register_broker(
    namesrv: &Namesrv,
    broker_addr: &str,
    extra_topics: Vec<TopicConfig>,
) -> RawConnection {
    let mut topics = vec![TopicConfig::read_write(TOPIC, 4)];
    topics.extend(extra_topics);
    let (connection, response) =
        BrokerRegistration::master(broker_addr, topics).register(&namesrv.addr);
    assert_eq!(
        response.code(),
        SUCCESS,
        "REGISTER_BROKER failed: {response:?}"
    );
    connection
}

#[test]
fn rust_client_reads_the_route_a_java_style_broker_registered() {
    // Proves rocketmq-client-rust decodes our TopicRouteData: one master at the registered
    // address with 4/4 queues, perm 6, and that its producer turns it into 4 writable queues.
    // Two shards: each connection lands on either one, and both must serve the new route.
    let namesrv = Namesrv::start("namesrv_route_rust_client", &[("shardCount", "2")]);
    let broker_addr = format!("127.0.0.1:{}", free_port());
    let _broker = register_broker(&namesrv, &broker_addr, vec![TopicConfig::auto_create_key()]);
    let client = RustClient::new("route");

    let route = client
        .topic_route(&namesrv.addr, TOPIC)
        .unwrap_or_else(|error| panic!("{error}\n{}", namesrv.process.log_tail()))
        .expect("TopicTest has a route once broker-a registered it");
    let expected_brokers = BTreeMap::from([(
        "broker-a".to_string(),
        (
            "DefaultCluster".to_string(),
            BTreeMap::from([(0, broker_addr.clone())]),
        ),
    )]);
    assert_eq!(route.brokers, expected_brokers);
    assert_eq!(
        route.queues,
        BTreeMap::from([("broker-a".to_string(), (4, 4, 6))])
    );

    let mut queues = client
        .publish_queues(&namesrv.addr, TOPIC)
        .unwrap_or_else(|error| panic!("{error}\n{}", namesrv.process.log_tail()));
    queues.sort();
    let expected_queues: Vec<(String, i32)> = (0..4).map(|id| ("broker-a".into(), id)).collect();
    assert_eq!(queues, expected_queues);
}

#[test]
fn unknown_topic_is_topic_not_exist_on_the_wire_and_for_the_rust_client() {
    // Proves an unknown topic gets TOPIC_NOT_EXIST (17) with Apache's remark, and that
    // rocketmq-client-rust reads it as "no route" (it maps 17, and only 17, to None).
    let namesrv = Namesrv::start("namesrv_route_unknown_topic", &[]);
    let broker_addr = format!("127.0.0.1:{}", free_port());
    let _broker = register_broker(&namesrv, &broker_addr, vec![TopicConfig::auto_create_key()]);

    let mut ext_fields = Map::new();
    ext_fields.insert("topic".into(), Value::String(UNKNOWN_TOPIC.into()));
    let response =
        RawConnection::connect(&namesrv.addr).request(GET_ROUTEINFO_BY_TOPIC, &ext_fields, &[]);
    assert_eq!(response.code(), TOPIC_NOT_EXIST, "{response:?}");
    assert_eq!(
        response.remark(),
        Some("No topic route info in name server for the topic: NoSuchTopic")
    );
    assert!(response.body.is_empty(), "{response:?}");

    let client = RustClient::new("unknown");
    let route = client.topic_route(&namesrv.addr, UNKNOWN_TOPIC);
    assert_eq!(route, Ok(None));
}

#[test]
fn cpp_client_sends_to_the_broker_address_in_the_route() {
    // Proves the Apache C++ client parsed our route: its SEND_MESSAGE_V2 for TopicTest reaches
    // the address broker-a registered (a recorder standing in for the broker) on one of the
    // 4 queues, and the send succeeds.
    let namesrv = Namesrv::start("namesrv_route_cpp_client", &[]);
    let recorder_dir = namesrv.dir.join("recorder");
    std::fs::create_dir_all(&recorder_dir).unwrap();
    let fake_broker = Recorder::start(
        &recorder_dir,
        &RecorderConfig {
            broker_port: Some(0),
            ..RecorderConfig::default()
        },
    );
    let broker_addr = fake_broker
        .broker_addr
        .clone()
        .expect("the recorder plays a broker");
    let _broker = register_broker(&namesrv, &broker_addr, vec![TopicConfig::auto_create_key()]);

    let args = [
        "produce",
        "--namesrv",
        &namesrv.addr,
        "--topic",
        TOPIC,
        "--count",
        "1",
    ];
    let output = run_cpp_client(&args, &namesrv);
    assert!(
        output.status.success(),
        "{output}\n{}",
        namesrv.process.log_tail()
    );
    let sent = output.json();
    assert_eq!(sent["sent"][0]["status"], "OK", "{output}");

    let send = fake_broker
        .wait_for_frame(Duration::from_secs(5), |frame| frame.code == 310)
        .expect("SEND_MESSAGE_V2 reached the registered broker address");
    assert_eq!(send.ext_field("b").as_deref(), Some(TOPIC));
    let queue_id: u32 = send.ext_field("e").expect("queueId (e)").parse().unwrap();
    assert!(queue_id < 4, "queue {queue_id} is outside the 4 registered");
}

#[test]
fn cpp_client_reports_no_route_for_an_unknown_topic() {
    // Proves the C++ client gets no route for an unregistered topic: with no TBW102 to fall
    // back on (a broker with autoCreateTopicEnable=false), its send fails naming the missing
    // route and nothing reaches the broker.
    let namesrv = Namesrv::start("namesrv_route_cpp_unknown_topic", &[]);
    let recorder_dir = namesrv.dir.join("recorder");
    std::fs::create_dir_all(&recorder_dir).unwrap();
    let fake_broker = Recorder::start(
        &recorder_dir,
        &RecorderConfig {
            broker_port: Some(0),
            ..RecorderConfig::default()
        },
    );
    let broker_addr = fake_broker
        .broker_addr
        .clone()
        .expect("the recorder plays a broker");
    let _broker = register_broker(&namesrv, &broker_addr, vec![]);

    let args = [
        "produce",
        "--namesrv",
        &namesrv.addr,
        "--topic",
        UNKNOWN_TOPIC,
    ];
    let output = run_cpp_client(&args, &namesrv);
    assert_eq!(
        output.status.code(),
        Some(2),
        "the send should fail\n{output}"
    );
    let error = output.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("No route info of this topic: NoSuchTopic"),
        "unexpected error: {error}"
    );
    assert!(fake_broker.frames().iter().all(|frame| frame.code != 310));
}

fn run_cpp_client(args: &[&str], namesrv: &Namesrv) -> ramjet_interop::python::ScriptOutput {
    let mut args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    args.extend([
        "--log-dir".into(),
        namesrv.dir.join("cpp-client-logs").display().to_string(),
    ]);
    run_script("cpp_client.py", &args, &namesrv.dir, SCRIPT_TIMEOUT)
}
