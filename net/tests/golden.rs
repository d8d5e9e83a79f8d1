//! Golden tests: frames recorded from clients nobody on the team wrote (the Apache C++
//! client 2.1 and rocketmq-client-rust 1.0; see golden/README.md for how each was captured)
//! decode into what those clients meant, and survive a re-encode.
//!
//! Recordings carry timestamps, client ids and signatures that change with every recording,
//! so these tests check codes, names and structure, never those values.

use bytes::BytesMut;
use ramjet_net::body::heartbeat::{java_string_hash, HeartbeatData};
use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, GetRouteInfoRequestHeader, PullMessageRequestHeader,
    QueryConsumerOffsetRequestHeader, SendMessageRequestHeader, UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ramjet_net::remoting::{decode_frame, decode_frame_split, FRAME_BYTES_MAX_DEFAULT};
use ramjet_net::{ExtFields, LanguageCode, RemotingCommand, SerializeType};

macro_rules! golden {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("golden/", $name, ".bin")) as &[u8],
        )
    };
}

/// Every recording, by file stem.
const RECORDED: &[(&str, &[u8])] = &[
    golden!("cpp21_get_consumer_list_by_group"),
    golden!("cpp21_get_routeinfo_by_topic"),
    golden!("cpp21_heart_beat_producer"),
    golden!("cpp21_heart_beat_push_consumer"),
    golden!("cpp21_pull_message"),
    golden!("cpp21_query_consumer_offset"),
    golden!("cpp21_send_batch"),
    golden!("cpp21_send_message_v2"),
    golden!("cpp21_send_message_v2_oneway"),
    golden!("cpp21_unregister_client_producer"),
    golden!("cpp21_update_consumer_offset"),
    golden!("rust10_get_consumer_list_by_group"),
    golden!("rust10_get_routeinfo_by_topic"),
    golden!("rust10_heart_beat_producer"),
    golden!("rust10_heart_beat_push_consumer"),
    golden!("rust10_pull_message"),
    golden!("rust10_query_consumer_offset"),
    golden!("rust10_send_message"),
    golden!("rust10_unregister_client_producer"),
    golden!("rust10_update_consumer_offset"),
];

fn recorded(name: &str) -> &'static [u8] {
    RECORDED
        .iter()
        .find(|(stem, _)| *stem == name)
        .unwrap_or_else(|| panic!("no recording {name}"))
        .1
}

/// Decodes a recording, checking that it is exactly one whole frame and that the copying and
/// the splitting decoder agree.
fn decode_recorded(name: &str) -> RemotingCommand {
    let bytes = recorded(name);
    let (command, used) = decode_frame(bytes, FRAME_BYTES_MAX_DEFAULT)
        .unwrap_or_else(|error| panic!("{name}: {error}"))
        .unwrap_or_else(|| panic!("{name}: not a whole frame"));
    assert_eq!(used, bytes.len(), "{name}: one frame per recording");
    let mut buf = BytesMut::from(bytes);
    let split = decode_frame_split(&mut buf, FRAME_BYTES_MAX_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(split, command, "{name}: decode_frame_split disagrees");
    assert!(buf.is_empty());
    command
}

/// The header bytes of a recording, as the client wrote them.
fn raw_header(name: &str) -> &'static [u8] {
    let bytes = recorded(name);
    let header_bytes = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) & 0x00ff_ffff;
    &bytes[8..8 + header_bytes as usize]
}

fn fields(command: &RemotingCommand) -> ExtFields {
    command
        .ext_fields
        .clone()
        .expect("the recording has extFields")
}

#[test]
fn every_recording_decodes_and_survives_a_json_reencode() {
    // Decode, encode (our JSON), decode again: the same command, body byte for byte.
    for (name, _) in RECORDED {
        let command = decode_recorded(name);
        assert_eq!(command.serialize_type, SerializeType::Json, "{name}");
        assert!(!command.is_response(), "{name}");
        let again = decode_frame(&command.encode_to_vec(), FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(again, command, "{name}");
    }
}

#[test]
fn every_recording_keeps_its_non_empty_fields_in_rocketmq_binary() {
    // The same command in the binary header keeps everything but empty strings, which the
    // binary form cannot tell from null (RocketMQSerializable writes both as length 0).
    for (name, _) in RECORDED {
        let mut command = decode_recorded(name);
        command.serialize_type = SerializeType::RocketMq;
        let again = decode_frame(&command.encode_to_vec(), FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(again.code, command.code, "{name}");
        assert_eq!(again.language, command.language, "{name}");
        assert_eq!(again.opaque, command.opaque, "{name}");
        assert_eq!(again.flag, command.flag, "{name}");
        assert_eq!(again.body, command.body, "{name}");
        for (key, value) in command.ext_fields.iter().flat_map(ExtFields::iter) {
            let expected = Some(value).filter(|value| !value.is_empty());
            assert_eq!(again.ext_field(key), expected, "{name}: {key}");
        }
    }
}

#[test]
fn every_cut_recording_needs_more_bytes() {
    // Any strict prefix of a real frame is "need more bytes", never an error.
    for (name, bytes) in RECORDED {
        for cut in 0..bytes.len() {
            let decoded = decode_frame(&bytes[..cut], FRAME_BYTES_MAX_DEFAULT);
            assert_eq!(decoded, Ok(None), "{name} cut at {cut}");
        }
    }
}

#[test]
fn cpp_frames_have_the_quirks_the_protocol_doc_lists() {
    // C++ 2.1: language CPP, version 333, no serializeTypeCurrentRPC, a trailing newline
    // after the header, remark "", and its session-credential keys in every extFields.
    for (name, _) in RECORDED
        .iter()
        .filter(|(name, _)| name.starts_with("cpp21_"))
    {
        let command = decode_recorded(name);
        assert_eq!(command.language, LanguageCode::Cpp, "{name}");
        assert_eq!(command.version, 333, "{name}");
        assert_eq!(command.remark.as_deref(), Some(""), "{name}");
        let header = raw_header(name);
        assert_eq!(header.last(), Some(&b'\n'), "{name}");
        let header = String::from_utf8_lossy(header);
        assert!(!header.contains("serializeTypeCurrentRPC"), "{name}");
        assert_eq!(command.ext_field("OnsChannel"), Some("ALIYUN"), "{name}");
        assert_eq!(command.ext_field("AccessKey"), Some(""), "{name}");
    }
}

#[test]
fn rust_client_frames_say_rust_and_version_474() {
    // rocketmq-client-rust 1.0: language RUST, version 474, "remark":null read as no remark.
    for (name, _) in RECORDED
        .iter()
        .filter(|(name, _)| name.starts_with("rust10_"))
    {
        let command = decode_recorded(name);
        assert_eq!(command.language, LanguageCode::Rust, "{name}");
        assert_eq!(command.version, 474, "{name}");
        assert_eq!(command.remark, None, "{name}");
        assert!(String::from_utf8_lossy(raw_header(name)).contains("serializeTypeCurrentRPC"));
    }
}

#[test]
fn route_requests_name_their_topic() {
    // GET_ROUTEINFO_BY_TOPIC from both clients: code 105, topic TopicTest, flag 0.
    for name in [
        "cpp21_get_routeinfo_by_topic",
        "rust10_get_routeinfo_by_topic",
    ] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::GET_ROUTEINFO_BY_TOPIC, "{name}");
        assert_eq!(command.flag, 0, "{name}");
        assert!(command.body.is_empty(), "{name}");
        let header = GetRouteInfoRequestHeader::decode(&fields(&command)).unwrap();
        assert_eq!(header.topic, "TopicTest", "{name}");
    }
}

#[test]
fn cpp_pull_message_has_numeric_ext_fields() {
    // C++ writes maxMsgNums, queueId and sysFlag as JSON numbers; they read as their text.
    let command = decode_recorded("cpp21_pull_message");
    assert_eq!(command.code, request::PULL_MESSAGE);
    let raw = String::from_utf8_lossy(raw_header("cpp21_pull_message")).into_owned();
    assert!(raw.contains(r#""maxMsgNums":32"#), "{raw}");
    assert_eq!(command.ext_field("maxMsgNums"), Some("32"));
    let header = PullMessageRequestHeader::decode(&fields(&command)).unwrap();
    assert_eq!(header.consumer_group, "interop_cpp_consumer");
    assert_eq!(header.topic, "TopicTest");
    assert_eq!(header.max_msg_nums, 32);
    assert_eq!(header.sys_flag, 6);
    assert_eq!(header.suspend_timeout_millis, 15_000);
    assert_eq!(header.subscription.as_deref(), Some("TagA || TagB"));
    assert_eq!(header.expression_type, None);
}

#[test]
fn rust_pull_message_carries_5x_keys() {
    // rocketmq-client-rust sends the 5.x `bname` and `maxMsgBytes`, and an empty subscription.
    let command = decode_recorded("rust10_pull_message");
    assert_eq!(command.code, request::PULL_MESSAGE);
    assert_eq!(command.ext_field("bname"), Some("broker-a"));
    let header = PullMessageRequestHeader::decode(&fields(&command)).unwrap();
    assert_eq!(header.consumer_group, "interop_rust_consumer");
    assert_eq!(header.topic, "TopicTest");
    assert_eq!(header.max_msg_nums, 32);
    assert_eq!(header.sys_flag, 2);
    assert_eq!(header.max_msg_bytes, Some(262_144));
    assert_eq!(header.subscription.as_deref(), Some(""));
    assert_eq!(header.expression_type.as_deref(), Some("TAG"));
}

#[test]
fn cpp_send_message_v2_reads_as_the_long_header() {
    // SEND_MESSAGE_V2's one-letter fields, numbers as JSON numbers and booleans as "0".
    // The oneway send arrives without the oneway bit: the client just drops the answer.
    for name in ["cpp21_send_message_v2", "cpp21_send_message_v2_oneway"] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::SEND_MESSAGE_V2, "{name}");
        assert_eq!(command.flag, 0, "{name}");
        let header =
            SendMessageRequestHeader::decode_for_code(command.code, &fields(&command)).unwrap();
        assert_eq!(header.producer_group, "interop_cpp_producer");
        assert_eq!(header.topic, "TopicTest");
        assert_eq!(header.default_topic, "TBW102");
        assert_eq!(header.default_topic_queue_nums, 4);
        assert_eq!(header.unit_mode, Some(false));
        assert_eq!(header.batch, Some(false));
        assert_eq!(header.max_reconsume_times, Some(16));
        let properties = header.properties.unwrap();
        assert!(properties.contains("TAGS\u{1}TagA\u{2}"), "{properties:?}");
        assert!(
            properties.contains("KEYS\u{1}interop-key\u{2}"),
            "{properties:?}"
        );
        assert_eq!(&command.body[..], b"hello from the C++ client #0");
    }
}

#[test]
fn cpp_send_batch_is_v2_with_m_set_and_a_batch_body() {
    // send_batch of two messages: code 310 with m="1", the body is two encoded messages
    // (totalSize, magic, bodyCRC, flag, body, properties) back to back.
    let command = decode_recorded("cpp21_send_batch");
    assert_eq!(command.code, request::SEND_MESSAGE_V2);
    let header =
        SendMessageRequestHeader::decode_for_code(command.code, &fields(&command)).unwrap();
    assert_eq!(header.batch, Some(true));
    assert_eq!(header.topic, "TopicTest");
    let mut rest = &command.body[..];
    let mut bodies = Vec::new();
    while !rest.is_empty() {
        let total = u32::from_be_bytes(rest[0..4].try_into().unwrap()) as usize;
        let message = &rest[..total];
        let body_len = u32::from_be_bytes(message[16..20].try_into().unwrap()) as usize;
        bodies.push(String::from_utf8(message[20..20 + body_len].to_vec()).unwrap());
        let properties_len =
            u16::from_be_bytes(message[20 + body_len..22 + body_len].try_into().unwrap());
        assert_eq!(22 + body_len + usize::from(properties_len), total);
        rest = &rest[total..];
    }
    assert_eq!(
        bodies,
        [
            "hello from the C++ client #0",
            "hello from the C++ client #1"
        ]
    );
}

#[test]
fn rust_send_message_uses_the_long_header() {
    // rocketmq-client-rust sends SEND_MESSAGE (10) with Java's long names and `bname`.
    let command = decode_recorded("rust10_send_message");
    assert_eq!(command.code, request::SEND_MESSAGE);
    let header =
        SendMessageRequestHeader::decode_for_code(command.code, &fields(&command)).unwrap();
    assert_eq!(header.producer_group, "interop_rust_producer");
    assert_eq!(header.topic, "TopicTest");
    assert_eq!(header.default_topic, "TBW102");
    assert_eq!(header.batch, Some(false));
    assert_eq!(header.broker_name.as_deref(), Some("broker-a"));
    assert!(header.properties.unwrap().contains("TAGS\u{1}TagA\u{2}"));
    assert_eq!(&command.body[..], b"hello from rocketmq-client-rust #0");
}

#[test]
fn offset_requests_read_into_their_headers() {
    // QUERY_CONSUMER_OFFSET and UPDATE_CONSUMER_OFFSET from both clients (C++ queueId is a
    // number); the Rust client's update is oneway (flag 2).
    for name in [
        "cpp21_query_consumer_offset",
        "rust10_query_consumer_offset",
    ] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::QUERY_CONSUMER_OFFSET, "{name}");
        let header = QueryConsumerOffsetRequestHeader::decode(&fields(&command)).unwrap();
        assert_eq!(header.topic, "TopicTest", "{name}");
        assert_eq!(header.queue_id, 0, "{name}");
    }
    for name in [
        "cpp21_update_consumer_offset",
        "rust10_update_consumer_offset",
    ] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::UPDATE_CONSUMER_OFFSET, "{name}");
        let header = UpdateConsumerOffsetRequestHeader::decode(&fields(&command)).unwrap();
        assert_eq!(header.topic, "TopicTest", "{name}");
        assert_eq!(header.commit_offset, 0, "{name}");
    }
    assert!(!decode_recorded("cpp21_update_consumer_offset").is_oneway());
    assert!(decode_recorded("rust10_update_consumer_offset").is_oneway());
}

#[test]
fn group_and_unregister_requests_read_into_their_headers() {
    // GET_CONSUMER_LIST_BY_GROUP and UNREGISTER_CLIENT from both clients.
    for (name, group) in [
        ("cpp21_get_consumer_list_by_group", "interop_cpp_consumer"),
        ("rust10_get_consumer_list_by_group", "interop_rust_consumer"),
    ] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::GET_CONSUMER_LIST_BY_GROUP, "{name}");
        let header = ConsumerGroupRequestHeader::decode(&fields(&command)).unwrap();
        assert_eq!(header.consumer_group, group, "{name}");
    }
    for (name, group) in [
        ("cpp21_unregister_client_producer", "interop_cpp_producer"),
        ("rust10_unregister_client_producer", "interop_rust_producer"),
    ] {
        let command = decode_recorded(name);
        assert_eq!(command.code, request::UNREGISTER_CLIENT, "{name}");
        let header = UnregisterClientRequestHeader::decode(&fields(&command)).unwrap();
        assert_eq!(header.producer_group.as_deref(), Some(group), "{name}");
        assert!(!header.client_id.is_empty(), "{name}");
    }
}

fn heartbeat(name: &str) -> HeartbeatData {
    let command = decode_recorded(name);
    assert_eq!(command.code, request::HEART_BEAT, "{name}");
    HeartbeatData::decode(&command.body).unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[test]
fn producer_heartbeats_name_their_groups() {
    // A producer-only heartbeat lists producer groups and no consumers (C++ omits the
    // consumer set; its body ends with a newline).
    let cpp = heartbeat("cpp21_heart_beat_producer");
    assert_eq!(cpp.producer_groups, ["interop_cpp_producer"]);
    assert!(cpp.consumers.is_empty());
    assert!(cpp.client_id.starts_with("127.0.0.1@"));
    let rust = heartbeat("rust10_heart_beat_producer");
    assert_eq!(
        rust.producer_groups,
        ["CLIENT_INNER_PRODUCER", "interop_rust_producer"]
    );
    assert!(rust.consumers.is_empty());
    assert_eq!(rust.heartbeat_fingerprint, 0);
    assert!(!rust.without_sub);
}

#[test]
fn push_consumer_heartbeats_subscribe_tags_and_the_retry_topic() {
    // Both clients' push consumers: CLUSTERING, CONSUME_PASSIVELY, from the last offset,
    // TopicTest with "TagA || TagB" and %RETRY%<group> with "*". C++ sends enum ordinals and
    // codeSet [0,0]; rocketmq-client-rust hashes untrimmed tags. Either way the tags and
    // their Java hash codes come from subString.
    let tag_codes = [java_string_hash("TagA"), java_string_hash("TagB")];
    for (name, group) in [
        ("cpp21_heart_beat_push_consumer", "interop_cpp_consumer"),
        ("rust10_heart_beat_push_consumer", "interop_rust_consumer"),
    ] {
        let data = heartbeat(name);
        assert_eq!(data.consumers.len(), 1, "{name}");
        let consumer = &data.consumers[0];
        assert_eq!(consumer.group_name, group, "{name}");
        assert_eq!(consumer.consume_type, "CONSUME_PASSIVELY", "{name}");
        assert_eq!(consumer.message_model, "CLUSTERING", "{name}");
        assert_eq!(
            consumer.consume_from_where, "CONSUME_FROM_LAST_OFFSET",
            "{name}"
        );
        assert_eq!(consumer.subscriptions.len(), 2, "{name}");
        let topic = consumer
            .subscriptions
            .iter()
            .find(|sub| sub.topic == "TopicTest")
            .unwrap();
        assert_eq!(topic.sub_string, "TagA || TagB", "{name}");
        assert_eq!(topic.tags_set, ["TagA", "TagB"], "{name}");
        assert_eq!(topic.code_set, tag_codes, "{name}");
        assert_eq!(topic.expression_type, "TAG", "{name}");
        let retry = consumer
            .subscriptions
            .iter()
            .find(|sub| sub.topic == format!("%RETRY%{group}"))
            .unwrap();
        assert!(retry.matches_all(), "{name}");
    }
    // The recorded Rust codeSet really is wrong, which is why it is not trusted.
    let raw = String::from_utf8_lossy(&decode_recorded("rust10_heart_beat_push_consumer").body)
        .into_owned();
    assert!(!raw.contains(&format!("[{},{}]", tag_codes[0], tag_codes[1])));
}
