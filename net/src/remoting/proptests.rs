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
