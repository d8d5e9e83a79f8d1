//! Property tests pinning the decoder's edges: a frame round-trips in both serializations,
//! a cut frame is "need more bytes", and arbitrary bytes never panic.

use proptest::prelude::*;

use super::*;

fn arb_text() -> impl Strategy<Value = String> {
    // Includes the 0x01/0x02 property separators, quotes, backslashes and non-ASCII.
    proptest::string::string_regex("[a-zA-Z0-9 %|_\u{1}\u{2}\"\\\\é中-]{0,24}").unwrap()
}

fn arb_non_empty_text() -> impl Strategy<Value = String> {
    arb_text().prop_filter("non-empty", |text| !text.is_empty())
}

prop_compose! {
    fn arb_remoting_command()(
        code in -32768i32..32768,
        language in 0u8..20,
        version in -32768i32..32768,
        opaque in any::<i32>(),
        flag in 0i32..4,
        remark in proptest::option::of(arb_non_empty_text()),
        ext in proptest::option::of(proptest::collection::vec((arb_non_empty_text(), arb_non_empty_text()), 1..6)),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        binary in any::<bool>(),
    ) -> RemotingCommand {
        RemotingCommand {
            code,
            language: LanguageCode::from_byte(language),
            version,
            opaque,
            flag,
            remark,
            ext_fields: ext.map(|pairs| pairs.into_iter().collect()),
            body: body.into(),
            serialize_type: if binary { SerializeType::RocketMq } else { SerializeType::Json },
        }
    }
}

/// One extFields value as a client may write it: Java's strings, the C++ client's numbers
/// and booleans, and nulls (skipped, as Java's map builder skips them).
#[derive(Debug, Clone)]
enum ExtValue {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
}

fn arb_ext_value() -> impl Strategy<Value = ExtValue> {
    prop_oneof![
        arb_text().prop_map(ExtValue::Text),
        any::<i64>().prop_map(ExtValue::Int),
        any::<bool>().prop_map(ExtValue::Bool),
        Just(ExtValue::Null),
    ]
}

/// JSON carries language by name, so an unknown byte comes back as OTHER.
fn as_json_sees_it(mut command: RemotingCommand) -> RemotingCommand {
    if command.serialize_type == SerializeType::Json {
        if let LanguageCode::Unknown(_) = command.language {
            command.language = LanguageCode::Other;
        }
    }
    command
}

proptest! {
    #[test]
    fn frame_roundtrips(command in arb_remoting_command()) {
        let bytes = command.encode_to_vec();
        let decoded = decode_frame(&bytes, FRAME_BYTES_MAX_DEFAULT).unwrap();
        prop_assert_eq!(decoded, Some((as_json_sees_it(command), bytes.len())));
    }

    #[test]
    fn truncated_frame_is_incomplete(command in arb_remoting_command(), cut in 0..4096usize) {
        let bytes = command.encode_to_vec();
        let cut = cut % bytes.len();
        prop_assert_eq!(decode_frame(&bytes[..cut], FRAME_BYTES_MAX_DEFAULT).unwrap(), None);
    }

    /// Keys drawn from a small set so that repeats are common: a repeated key keeps its
    /// first place and its last non-null value.
    #[test]
    fn ext_fields_decode_as_java_builds_the_map(
        pairs in proptest::collection::vec(
            (prop_oneof![Just("a".to_owned()), Just("i".to_owned()), arb_non_empty_text()], arb_ext_value()),
            0..12,
        )
    ) {
        let mut json = String::from(r#"{"code":310,"extFields":{"#);
        let mut expected = ExtFields::new();
        for (index, (key, value)) in pairs.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            json.push_str(&serde_json::to_string(key).unwrap());
            json.push(':');
            match value {
                ExtValue::Text(text) => {
                    json.push_str(&serde_json::to_string(text).unwrap());
                    expected.insert(key, text);
                }
                ExtValue::Int(n) => {
                    json.push_str(&n.to_string());
                    expected.insert(key, n.to_string());
                }
                ExtValue::Bool(b) => {
                    json.push_str(&b.to_string());
                    expected.insert(key, b.to_string());
                }
                ExtValue::Null => json.push_str("null"),
            }
        }
        json.push_str("}}");
        let command = json_header::decode(json.as_bytes()).unwrap();
        prop_assert_eq!(command.ext_fields, Some(expected));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_frame(&bytes, 1024);
    }

    #[test]
    fn a_valid_prefix_with_garbage_header_is_an_error_not_a_panic(
        header in proptest::collection::vec(any::<u8>(), 0..64), binary in any::<bool>()
    ) {
        let mut bytes = ((4 + header.len()) as u32).to_be_bytes().to_vec();
        let word = (u32::from(binary) << 24) | header.len() as u32;
        bytes.extend_from_slice(&word.to_be_bytes());
        bytes.extend_from_slice(&header);
        let _ = decode_frame(&bytes, 1024);
    }
}
