use proptest::prelude::*;

use super::*;

fn sample(topic: &str, born: &str, store: &str) -> MessageRecord {
    MessageRecord {
        topic: topic.to_string(),
        queue_id: 3,
        flag: 7,
        body: bytes::Bytes::from_static(b"hello"),
        properties: [("TAGS", "TagA"), ("KEYS", "k1")].into_iter().collect(),
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: born.parse().unwrap(),
        store_host: store.parse().unwrap(),
        reconsume_times: 2,
        prepared_transaction_offset: 0,
    }
}

const STAMP: AppendStamp = AppendStamp {
    queue_offset: 42,
    physical_offset: 4096,
    store_timestamp: 1_700_000_000_123,
};

#[test]
fn v1_ipv4_fields_sit_where_java_reads_them() {
    // Proves the §2.1 table: every fixed field at its Java position, TOTALSIZE = 91+B+T+P.
    let record = sample("TopicTest", "10.0.0.1:5000", "10.0.0.2:10911");
    let bytes = record.prepare().unwrap().encode_to_vec(STAMP);
    let properties_len = b"TAGS\x01TagA\x02KEYS\x01k1\x02".len();
    assert_eq!(bytes.len(), 91 + 5 + 9 + properties_len);
    let i32_at = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let i64_at = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(i32_at(0) as usize, bytes.len());
    assert_eq!(i32_at(4), -626843481); // MAGIC V1 as Java prints it.
    assert_eq!(i32_at(8) as u32, crc32fast::hash(b"hello") & 0x7FFF_FFFF);
    assert_eq!(i32_at(12), 3); // QUEUEID
    assert_eq!(i32_at(16), 7); // FLAG (MESSAGE_FLAG_POSITION)
    assert_eq!(i64_at(20), 42); // QUEUE_OFFSET_POSITION
    assert_eq!(i64_at(28), 4096); // PHY_POS_POSITION
    assert_eq!(i32_at(36), 0); // SYSFLAG
    assert_eq!(i64_at(40), 1_700_000_000_000);
    assert_eq!(&bytes[48..52], &[10, 0, 0, 1]);
    assert_eq!(i32_at(52), 5000);
    assert_eq!(i64_at(56), 1_700_000_000_123); // MESSAGE_STORE_TIMESTAMP_POSITION
    assert_eq!(&bytes[64..68], &[10, 0, 0, 2]);
    assert_eq!(i32_at(68), 10911);
    assert_eq!(i32_at(72), 2); // RECONSUMETIMES
    assert_eq!(i64_at(76), 0); // PREPARED_TRANSACTION_OFFSET
    assert_eq!(i32_at(84), 5); // BODYLEN
    assert_eq!(&bytes[88..93], b"hello");
    assert_eq!(bytes[93], 9);
    assert_eq!(&bytes[94..103], b"TopicTest");
    assert_eq!(
        i16::from_be_bytes([bytes[103], bytes[104]]) as usize,
        properties_len
    );
    assert_eq!(store_timestamp_of(&bytes), Some(STAMP.store_timestamp));
}

#[test]
fn ipv6_hosts_set_sys_flag_bits_and_move_fields() {
    // Proves the BH/SH = 20 layout and that the encoder sets the V6 bits itself.
    let record = sample("TopicTest", "[::1]:5000", "[fe80::2]:10911");
    let bytes = record.prepare().unwrap().encode_to_vec(STAMP);
    let sys_flag = i32::from_be_bytes(bytes[36..40].try_into().unwrap());
    assert_eq!(sys_flag, BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
    assert_eq!(
        bytes.len(),
        91 + 24 + 5 + 9 + record.properties.encoded_len()
    );
    // STORETIMESTAMP @ 48 + BH.
    assert_eq!(
        i64::from_be_bytes(bytes[68..76].try_into().unwrap()),
        STAMP.store_timestamp
    );
    assert_eq!(store_timestamp_of(&bytes), Some(STAMP.store_timestamp));
    let decoded = decode_record(&bytes, true).unwrap();
    assert_eq!(decoded.message.born_host, record.born_host);
    assert_eq!(decoded.message.store_host, record.store_host);
    assert_eq!(decoded.message.sys_flag, sys_flag);
}

#[test]
fn long_topic_uses_v2_magic_with_two_byte_length() {
    let topic = "t".repeat(200);
    let record = sample(&topic, "10.0.0.1:1", "10.0.0.2:2");
    let bytes = record.prepare().unwrap().encode_to_vec(STAMP);
    assert_eq!(
        i32::from_be_bytes(bytes[4..8].try_into().unwrap()),
        MESSAGE_MAGIC_CODE_V2
    );
    assert_eq!(i16::from_be_bytes([bytes[93], bytes[94]]), 200);
    assert_eq!(decode_record(&bytes, true).unwrap().message.topic, topic);
}

#[test]
fn corrupted_body_fails_crc_and_blank_is_recognised() {
    let record = sample("TopicTest", "10.0.0.1:1", "10.0.0.2:2");
    let mut bytes = record.prepare().unwrap().encode_to_vec(STAMP);
    bytes[89] ^= 0x40;
    assert!(matches!(
        check_record(&bytes, true),
        RecordCheck::Invalid(RecordError::BodyCrc { .. })
    ));
    // Without CRC checking the flipped body still decodes (Java's checkCRCOnRecover=false).
    assert!(matches!(
        check_record(&bytes, false),
        RecordCheck::Message(_)
    ));
    let mut blank = [0u8; 16];
    encode_blank(&mut blank, 16);
    assert_eq!(check_record(&blank, true), RecordCheck::Blank { size: 16 });
    assert!(matches!(
        check_record(&[0u8; 64], true),
        RecordCheck::Invalid(_)
    ));
}

fn arb_host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

fn arb_properties() -> impl Strategy<Value = Properties> {
    // Separator bytes can't appear in names or values (Java has the same rule).
    let text = "[a-zA-Z0-9_ #é]{0,12}";
    proptest::collection::vec(("[A-Z_]{1,10}", text), 0..5)
        .prop_map(|pairs| pairs.into_iter().collect())
}

prop_compose! {
    pub fn arb_record()(
        topic in "[a-zA-Z0-9%_-]{1,140}",
        queue_id in 0..1024i32,
        flag in any::<i32>(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        properties in arb_properties(),
        transaction in 0..4i32,
        born_timestamp in any::<i64>(),
        born_host in arb_host(),
        store_host in arb_host(),
        reconsume_times in any::<i32>(),
        prepared_transaction_offset in any::<i64>(),
    ) -> MessageRecord {
        MessageRecord {
            topic, queue_id, flag, body: body.into(), properties,
            sys_flag: transaction << 2,
            born_timestamp, born_host, store_host, reconsume_times, prepared_transaction_offset,
        }
    }
}

proptest! {
    #[test]
    fn record_roundtrips(record in arb_record(), queue_offset in any::<i64>(),
                         physical_offset in any::<i64>(), store_timestamp in any::<i64>()) {
        let stamp = AppendStamp { queue_offset, physical_offset, store_timestamp };
        let prepared = record.prepare().unwrap();
        let mut bytes = prepared.encode_to_vec(stamp);
        let decoded = decode_record(&bytes, true).unwrap();
        prop_assert_eq!(decoded.stamp, stamp);
        prop_assert_eq!(decoded.total_size, bytes.len());
        let mut expected = record.clone();
        expected.sys_flag = prepared.sys_flag();
        prop_assert_eq!(&decoded.message, &expected);
        // Decoding must not depend on what follows the record in the buffer.
        bytes.extend_from_slice(&[0xAB; 32]);
        prop_assert_eq!(decode_record(&bytes, true).unwrap().message, expected);
    }

    #[test]
    fn truncated_or_garbled_records_error_never_panic(
        record in arb_record(), cut in 0..4096usize, flip in any::<(usize, u8)>()
    ) {
        let mut bytes = record.prepare().unwrap().encode_to_vec(STAMP);
        let cut = cut % bytes.len();
        prop_assert!(decode_record(&bytes[..cut], true).is_err());
        let at = flip.0 % bytes.len();
        bytes[at] ^= flip.1 | 1;
        let _ = check_record(&bytes, true); // Any answer, as long as it does not panic.
    }
}
