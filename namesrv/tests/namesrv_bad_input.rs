//! The real `mqnamesrv` process facing input it must not trust: broken frames close only
//! their own connection, unknown codes and missing header fields are answered, and a
//! ROCKETMQ binary request is answered in binary.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;

use common::*;
use ramjet_net::code::{request, response};
use ramjet_net::SerializeType;

/// Waits for the server to close `stream`. The server closes without reading everything we
/// sent in some cases, and then the kernel answers with a reset instead of a FIN; both mean
/// "closed", a timeout or data does not.
fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(read) => panic!("expected EOF, got {read} bytes: {:?}", &buf[..read]),
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Err(error) => panic!("expected EOF, got {error}"),
    }
}

/// Sends `bytes` on a fresh connection, expects the server to close it, and checks that a
/// connection opened before keeps getting answers, before and after.
fn closes_only_the_offending_connection(bytes: &[u8]) {
    let namesrv = Namesrv::start(&[]);
    let mut bystander = namesrv.connect();
    assert_eq!(
        get_route(&mut bystander, "T").code,
        response::TOPIC_NOT_EXIST
    );
    let mut offender = namesrv.connect_raw();
    send_raw(&mut offender, bytes);
    assert_closed_by_server(&mut offender);
    assert_eq!(
        get_route(&mut bystander, "T").code,
        response::TOPIC_NOT_EXIST
    );
    assert_eq!(
        get_route(&mut namesrv.connect(), "T").code,
        response::TOPIC_NOT_EXIST
    );
}

#[test]
fn a_frame_longer_than_16_mib_closes_the_connection() {
    // A length word past frameMaxLength (16 MiB) is refused from the word alone.
    let mut bytes = (16 * 1024 * 1024 + 1u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
    closes_only_the_offending_connection(&bytes);
}

#[test]
fn a_header_longer_than_its_frame_closes_the_connection() {
    // frameLength 6 cannot hold a 100-byte header.
    let mut bytes = 6u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&100u32.to_be_bytes());
    bytes.extend_from_slice(b"{}");
    closes_only_the_offending_connection(&bytes);
}

#[test]
fn an_invalid_json_header_closes_the_connection() {
    // A JSON header that does not parse cannot be answered: there is no opaque to answer.
    closes_only_the_offending_connection(&raw_frame(0, br#"{"code":105,"opaque":"#, b""));
}

#[test]
fn an_unknown_serialize_type_closes_the_connection() {
    // Serialize types are 0 (JSON) and 1 (ROCKETMQ); 7 is not a protocol we speak.
    let header = br#"{"code":105,"extFields":{"topic":"T"},"flag":0,"language":"JAVA","opaque":1,"version":479}"#;
    closes_only_the_offending_connection(&raw_frame(7, header, b""));
}

#[test]
fn an_unknown_request_code_is_not_supported_and_the_connection_stays_open() {
    // Code 9999 gets REQUEST_CODE_NOT_SUPPORTED (3) with Java's remark; the next request on
    // the same connection is answered normally.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let answer = call(&mut client, java_request(9999, &[]));
    assert_eq!(answer.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(
        answer.remark.as_deref(),
        Some(" request type 9999 not supported")
    );
    assert_eq!(get_route(&mut client, "T").code, response::TOPIC_NOT_EXIST);
}

#[test]
fn a_missing_mandatory_header_field_is_a_system_error_naming_it() {
    // Java's `the custom field <x> is null`, for a read (topic) and a write (brokerName).
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let route = call(
        &mut client,
        java_request(request::GET_ROUTEINFO_BY_TOPIC, &[]),
    );
    assert_eq!(route.code, response::SYSTEM_ERROR);
    assert_eq!(
        route.remark.as_deref(),
        Some("the custom field <topic> is null")
    );

    let mut register =
        Broker::master("broker-a", 10911).register(&body_5x(&["T"], 1), false, BodyCrc::Correct);
    register.ext_fields_mut().remove("brokerName");
    let registered = call(&mut client, register);
    assert_eq!(registered.code, response::SYSTEM_ERROR);
    assert!(
        registered
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("<brokerName>"),
        "{:?}",
        registered.remark
    );
    assert_eq!(get_route(&mut client, "T").code, response::TOPIC_NOT_EXIST);
}

#[test]
fn a_rocketmq_binary_request_gets_a_binary_reply() {
    // serializeType 1 in, serializeType 1 out, for an error and for a route with a body.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let mut missing = java_request(request::GET_ROUTEINFO_BY_TOPIC, &[("topic", "T")]);
    missing.serialize_type = SerializeType::RocketMq;
    let answer = call(&mut client, missing.clone());
    assert_eq!(answer.serialize_type, SerializeType::RocketMq);
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);

    let body = body_5x(&["T"], 1);
    let mut register = Broker::master("broker-a", 10911).register(&body, false, BodyCrc::Correct);
    register.serialize_type = SerializeType::RocketMq;
    let registered = call(&mut client, register);
    assert_eq!(registered.serialize_type, SerializeType::RocketMq);
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );

    let found = call(&mut client, missing);
    assert_eq!(found.serialize_type, SerializeType::RocketMq);
    assert_eq!(found.code, response::SUCCESS);
    assert!(route_of(&mut client, "T").is_some()); // The JSON answer agrees.
}

#[test]
fn a_oneway_request_gets_no_reply() {
    // The oneway bit means no answer: the first frame back belongs to the next request.
    let namesrv = Namesrv::start(&[]);
    let mut stream = namesrv.connect_raw();
    let mut oneway = java_request(request::GET_ROUTEINFO_BY_TOPIC, &[("topic", "T")]);
    oneway.opaque = 1;
    oneway.mark_oneway();
    let mut normal = java_request(request::GET_ROUTEINFO_BY_TOPIC, &[("topic", "T")]);
    normal.opaque = 2;
    let mut bytes = oneway.encode_to_vec();
    bytes.extend_from_slice(&normal.encode_to_vec());
    send_raw(&mut stream, &bytes);
    let answer = read_frame(&mut stream);
    assert_eq!(answer.opaque, 2);
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);
}
