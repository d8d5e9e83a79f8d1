//! The real `mqnamesrv` process, driven over TCP as Java brokers and clients drive it:
//! registrations in every body form, routes, masters and slaves, and how brokers leave
//! (unregister, closed connection, silence), on one shard and on two.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ramjet_net::body::{DataVersion, RegisterBrokerBody, TopicConfig, TopicRouteData};
use ramjet_net::code::response;
use ramjet_net::header::{CommandHeader, RegisterBrokerResponseHeader};

/// How long a change may take to reach every shard's snapshot.
const PROPAGATION: Duration = Duration::from_secs(2);

#[test]
fn registers_a_4x_json_body_and_serves_its_route() {
    // A 4.9 broker's body (no mapping fields, no attributes) gives a compact 5.x-shaped route.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker = Broker::master("broker-a", 10911);
    let registered = call(
        &mut client,
        broker.register_4x(&body_4x(&["TopicA"], 1), false),
    );
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );

    let answer = get_route(&mut client, "TopicA");
    assert_eq!(answer.code, response::SUCCESS);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    // Compact, quoted number keys, and enableActingMaster present (rocketmq-client-rust
    // cannot parse a BrokerData without it; the Go client splits on ',' and ':').
    assert!(
        text.contains(r#""brokerAddrs":{"0":"127.0.0.1:10911"}"#),
        "{text}"
    );
    assert!(text.contains(r#""enableActingMaster":false"#), "{text}");
    assert!(
        !text.contains(' ') && !text.contains('\n'),
        "not compact: {text}"
    );
    let route = TopicRouteData::from_json(text.as_bytes()).unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].broker_name, "broker-a");
    assert_eq!(route.broker_datas[0].cluster, "DefaultCluster");
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].read_queue_nums, 4);
    assert_eq!(route.queue_datas[0].perm, 6);
}

#[test]
fn unknown_topic_is_topic_not_exist() {
    // An unknown topic gets TOPIC_NOT_EXIST (17) with Java's remark, not an empty route.
    let namesrv = Namesrv::start(&[]);
    let answer = get_route(&mut namesrv.connect(), "NoSuchTopic");
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);
    assert!(answer.body.is_empty());
    assert!(answer.remark.unwrap().contains("NoSuchTopic"));
}

#[test]
fn registers_a_5x_json_body_with_mapping_fields_and_attributes() {
    // A 5.x body (mappingDataVersion, mapping maps, attributes) is accepted and routed.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker = Broker::master("broker-a", 10911);
    let body = body_5x(&["TopicA", "TopicB"], 1);
    let registered = call(&mut client, broker.register(&body, false, BodyCrc::Correct));
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );
    for topic in ["TopicA", "TopicB"] {
        let route = route_of(&mut client, topic).expect("route");
        assert_eq!(route.queue_datas[0].read_queue_nums, 8);
        assert_eq!(route.queue_datas[0].write_queue_nums, 8);
    }
    // A static-topic mapping alone creates no route: only topicConfigTable does.
    assert!(route_of(&mut client, "StaticT").is_none());
}

#[test]
fn registers_zlib_compressed_bodies() {
    // compressed=true bodies work both as our encoder writes them (5.x, with a mapping
    // count) and as a 4.x broker writes them (five-field topic text, no mapping count).
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();

    let mut body = RegisterBrokerBody::default();
    let wrapper = &mut body.topic_config_serialize_wrapper;
    wrapper.data_version = DataVersion {
        counter: 1,
        state_version: 0,
        timestamp: 1_700_000_000_000,
    };
    let mut config = TopicConfig::new("Compressed5", 2, 3, 6);
    config
        .attributes
        .insert("+message.type".into(), "NORMAL".into());
    wrapper
        .topic_config_table
        .insert(config.topic_name.clone(), config);
    let broker_a = Broker::master("broker-a", 10911);
    let compressed = body.encode(true);
    let registered = call(
        &mut client,
        broker_a.register(&compressed, true, BodyCrc::Correct),
    );
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );
    let route = route_of(&mut client, "Compressed5").expect("route");
    assert_eq!(route.queue_datas[0].read_queue_nums, 2);
    assert_eq!(route.queue_datas[0].write_queue_nums, 3);

    let broker_b = Broker::master("broker-b", 10921);
    let stream = compressed_4x_body("Compressed4");
    let registered = call(&mut client, broker_b.register_4x(&stream, true));
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );
    let route = route_of(&mut client, "Compressed4").expect("route");
    assert_eq!(route.broker_datas[0].broker_name, "broker-b");
    assert_eq!(route.queue_datas[0].perm, 6);
}

/// `RegisterBrokerBody.encode(true)` of 4.9: zlib of DataVersion, topic count, one
/// `name read write perm filterType` line per topic, and the filter server list.
fn compressed_4x_body(topic: &str) -> Vec<u8> {
    use std::io::Write;
    fn push_part(plain: &mut Vec<u8>, bytes: &[u8]) {
        plain.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        plain.extend_from_slice(bytes);
    }
    let mut plain = Vec::new();
    push_part(&mut plain, data_version_json(1).as_bytes());
    plain.extend_from_slice(&1i32.to_be_bytes()); // The topic count is a bare int.
    push_part(&mut plain, format!("{topic} 4 4 6 SINGLE_TAG").as_bytes());
    push_part(&mut plain, b"[]"); // filterServerList; 4.x ends here.
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&plain).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn body_crc32_is_checked_unless_zero() {
    // bodyCrc32 correct or 0 registers; a wrong one is SYSTEM_ERROR "crc32 not match" and
    // registers nothing.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker = Broker::master("broker-a", 10911);

    let wrong = call(
        &mut client,
        broker.register(&body_5x(&["TopicWrong"], 1), false, BodyCrc::Wrong),
    );
    assert_eq!(wrong.code, response::SYSTEM_ERROR);
    assert_eq!(wrong.remark.as_deref(), Some("crc32 not match"));
    assert!(route_of(&mut client, "TopicWrong").is_none());

    let zero = call(
        &mut client,
        broker.register(&body_5x(&["TopicZero"], 2), false, BodyCrc::Zero),
    );
    assert_eq!(zero.code, response::SUCCESS, "{:?}", zero.remark);
    assert!(route_of(&mut client, "TopicZero").is_some());

    let correct = call(
        &mut client,
        broker.register(&body_5x(&["TopicRight"], 3), false, BodyCrc::Correct),
    );
    assert_eq!(correct.code, response::SUCCESS, "{:?}", correct.remark);
    assert!(route_of(&mut client, "TopicRight").is_some());
}

#[test]
fn master_and_slave_of_one_broker_name_are_both_listed() {
    // brokerId 0 and 1 under one brokerName share a BrokerData; the slave learns its master.
    let namesrv = Namesrv::start(&[]);
    let master = Broker::master("broker-a", 10911);
    let slave = Broker::slave_of(&master, 10921);
    let mut master_client = namesrv.connect();
    let mut slave_client = namesrv.connect();
    let body = body_5x(&["TopicA"], 1);
    let registered = call(
        &mut master_client,
        master.register(&body, false, BodyCrc::Correct),
    );
    assert_eq!(registered.code, response::SUCCESS);
    let master_header =
        RegisterBrokerResponseHeader::decode(&registered.ext_fields.unwrap_or_default()).unwrap();
    assert_eq!(master_header.master_addr, None);

    let registered = call(
        &mut slave_client,
        slave.register(&body, false, BodyCrc::Correct),
    );
    assert_eq!(registered.code, response::SUCCESS);
    let slave_header =
        RegisterBrokerResponseHeader::decode(&registered.ext_fields.unwrap_or_default()).unwrap();
    assert_eq!(slave_header.master_addr.as_deref(), Some("127.0.0.1:10911"));
    assert_eq!(
        slave_header.ha_server_addr.as_deref(),
        Some("127.0.0.1:10912")
    );

    let route = route_of(&mut namesrv.connect(), "TopicA").expect("route");
    assert_eq!(route.broker_datas.len(), 1);
    let addrs = &route.broker_datas[0].broker_addrs;
    assert_eq!(addrs.get(&0).map(String::as_str), Some("127.0.0.1:10911"));
    assert_eq!(addrs.get(&1).map(String::as_str), Some("127.0.0.1:10921"));
    assert_eq!(route.queue_datas.len(), 1);

    // The slave leaving keeps the master's route.
    drop(slave_client);
    assert!(poll_until(PROPAGATION, || {
        let route = route_of(&mut namesrv.connect(), "TopicA").expect("master still serves");
        route.broker_datas[0].broker_addrs.len() == 1
    }));
}

#[test]
fn unregister_broker_removes_its_route() {
    // UNREGISTER_BROKER of the only broker of a topic takes the topic's route away.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker = Broker::master("broker-a", 10911);
    call(
        &mut client,
        broker.register(&body_5x(&["TopicA"], 1), false, BodyCrc::Correct),
    );
    assert!(route_of(&mut client, "TopicA").is_some());
    let answer = call(&mut client, broker.unregister());
    assert_eq!(answer.code, response::SUCCESS);
    assert!(route_of(&mut client, "TopicA").is_none());
}

#[test]
fn closing_the_registering_connection_drops_the_broker_at_once() {
    // A broker's TCP close removes it immediately, long before any expiry timeout.
    let namesrv = Namesrv::start(&[]);
    let broker = Broker::master("broker-a", 10911);
    let mut broker_client = namesrv.connect();
    call(
        &mut broker_client,
        broker.register(&body_5x(&["TopicA"], 1), false, BodyCrc::Correct),
    );
    let mut client = namesrv.connect();
    assert!(route_of(&mut client, "TopicA").is_some());
    drop(broker_client);
    assert!(poll_until(PROPAGATION, || route_of(&mut client, "TopicA").is_none()));
}

#[test]
fn a_silent_broker_expires_after_broker_channel_expired_time() {
    // With brokerChannelExpiredTime 2000 ms a broker that stops registering (connection
    // still open) is dropped by the scan, not before its timeout.
    let namesrv = Namesrv::start(&[
        "--brokerChannelExpiredTime",
        "2000",
        "--scanNotActiveBrokerInterval",
        "200",
    ]);
    let broker = Broker::master("broker-a", 10911);
    let mut broker_client = namesrv.connect();
    let registered_at = Instant::now();
    call(
        &mut broker_client,
        broker.register(&body_5x(&["TopicA"], 1), false, BodyCrc::Correct),
    );
    let mut client = namesrv.connect();
    assert!(route_of(&mut client, "TopicA").is_some());
    assert!(poll_until(Duration::from_secs(10), || route_of(
        &mut client,
        "TopicA"
    )
    .is_none()));
    let gone_after = registered_at.elapsed();
    assert!(
        gone_after >= Duration::from_millis(1900),
        "expired after {gone_after:?}"
    );
    drop(broker_client); // Kept open until here: only silence may have removed it.
}

#[test]
fn two_shards_serve_the_same_routes_and_drop_them_together() {
    // With two shards every fresh connection (the kernel spreads them over both listeners)
    // sees a registration, and all stop seeing it soon after the broker's connection closes.
    // The broker registers over a fresh connection three times, so its writes and its close
    // reach the leader from both shards (all three on one shard: p = 1/4).
    let namesrv = Namesrv::start(&["--shardCount", "2"]);
    let broker = Broker::master("broker-a", 10911);
    for round in 0..3 {
        let mut broker_client = namesrv.connect();
        let body = body_5x(&["TopicShard"], round + 1);
        let registered = call(
            &mut broker_client,
            broker.register(&body, false, BodyCrc::Correct),
        );
        assert_eq!(
            registered.code,
            response::SUCCESS,
            "{:?}",
            registered.remark
        );
        // A reply means the leader applied it; other shards may install it a moment later.
        assert!(poll_until(PROPAGATION, || (0..50)
            .all(|_| fresh_connection_sees(&namesrv, "TopicShard"))));
        drop(broker_client);
        assert!(poll_until(PROPAGATION, || (0..50)
            .all(|_| !fresh_connection_sees(&namesrv, "TopicShard"))));
    }
}

#[test]
fn a_recorded_cpp_route_request_gets_a_json_answer() {
    // The C++ client's frame (no serializeTypeCurrentRPC, trailing newline, extra ACL keys)
    // is answered in JSON: TOPIC_NOT_EXIST for its TopicTest, which nobody registered.
    let namesrv = Namesrv::start(&[]);
    let frame = std::fs::read(golden_frame("cpp21_get_routeinfo_by_topic.bin")).unwrap();
    let mut stream = namesrv.connect_raw();
    send_raw(&mut stream, &frame);
    let answer = read_frame(&mut stream);
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);
    assert_eq!(answer.serialize_type, ramjet_net::SerializeType::Json);
    assert!(answer.is_response());
}
