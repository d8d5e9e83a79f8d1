//! `MessageStore`'s read API as the broker sees it: every `GetStatus` with the
//! `next_begin_offset` RocketMQ computes, pull limits, tag filters, timestamp search,
//! key queries, reads by physical offset, batches and segment rolls. Each scenario runs on
//! `SimStorage` and on `DmaStorage` over real O_DIRECT files.

mod common;

use common::env::{body, decode, get, message, offsets_of, served_bytes, Env, TestStorage};
use ramjet_store::message::tags_code;
use ramjet_store::{
    GetRequest, GetStatus, MessageStore, PutError, PutOk, PutStatus, SimStorage, Storage,
};

const TOPIC: &str = "TopicTest";
const ALL: &dyn Fn(i64) -> bool = &|_| true;

async fn put<S: TestStorage>(
    store: &MessageStore<S>,
    queue_id: i32,
    seq: usize,
    tag: &str,
) -> PutOk {
    let record = message(TOPIC, queue_id, body(seq, 100), tag, "");
    store.put(&record).await.unwrap()
}

fn tag_filter(tag: &'static str) -> impl Fn(i64) -> bool {
    let code = tags_code(Some(tag));
    move |unit_code| unit_code == code
}

on_both_storages!(get_answers_every_status_with_rocketmq_next_begin_offsets);
async fn get_answers_every_status_with_rocketmq_next_begin_offsets<S: TestStorage>(env: Env<S>) {
    // Proves each GetStatus and the next_begin_offset DefaultMessageStore.getMessage gives
    // with it on a master (nextOffsetCorrection returns the corrected offset as is).
    let store = env.open().await;
    for queue_offset in [0, 5] {
        let empty = get(&store, "Unknown", 0, queue_offset, 32, 1 << 20, ALL).await;
        assert_eq!(empty.status, GetStatus::NoMessageInQueue);
        assert_eq!(empty.next_begin_offset, 0);
        assert_eq!((empty.min_offset, empty.max_offset), (0, 0));
    }
    for seq in 0..10 {
        let ok = put(&store, 0, seq, if seq % 2 == 0 { "TagA" } else { "TagB" }).await;
        assert_eq!(ok.queue_offset, seq as u64);
    }

    let found = get(&store, TOPIC, 0, 0, 32, 1 << 20, ALL).await;
    assert_eq!(found.status, GetStatus::Found);
    assert_eq!(offsets_of(&found), (0..10).collect::<Vec<_>>());
    assert_eq!(found.next_begin_offset, 10);
    assert_eq!((found.min_offset, found.max_offset), (0, 10));
    for (seq, served) in found.messages.iter().enumerate() {
        let record = decode(&served_bytes(&served.data));
        assert_eq!(record.message.body, body(seq, 100));
        assert_eq!(record.stamp.physical_offset as u64, served.physical_offset);
        assert_eq!(record.total_size, served.size);
    }

    // Caught up: the offset asked for is the next to be written.
    let caught_up = get(&store, TOPIC, 0, 10, 32, 1 << 20, ALL).await;
    assert_eq!(caught_up.status, GetStatus::OffsetOverflowOne);
    assert_eq!(caught_up.next_begin_offset, 10);
    assert!(caught_up.messages.is_empty());

    // Past the end with min offset 0: start over from 0.
    let badly = get(&store, TOPIC, 0, 11, 32, 1 << 20, ALL).await;
    assert_eq!(badly.status, GetStatus::OffsetOverflowBadly);
    assert_eq!(badly.next_begin_offset, 0);

    // A tag nobody sent: every unit scanned, none matched.
    let unmatched = get(&store, TOPIC, 0, 0, 32, 1 << 20, &tag_filter("TagC")).await;
    assert_eq!(unmatched.status, GetStatus::NoMatchedMessage);
    assert!(unmatched.messages.is_empty());
    assert_eq!(unmatched.next_begin_offset, 10);

    let tag_b = get(&store, TOPIC, 0, 0, 32, 1 << 20, &tag_filter("TagB")).await;
    assert_eq!(tag_b.status, GetStatus::Found);
    assert_eq!(offsets_of(&tag_b), [1, 3, 5, 7, 9]);
    assert_eq!(tag_b.next_begin_offset, 10);
    // With a count limit the scan stops at the first unit that would not fit, filtered
    // or not, and the next pull starts there.
    let tag_b_two = get(&store, TOPIC, 0, 0, 2, 1 << 20, &tag_filter("TagB")).await;
    assert_eq!(offsets_of(&tag_b_two), [1, 3]);
    assert_eq!(tag_b_two.next_begin_offset, 4);
}

on_both_storages!(pull_limits_count_and_bytes_but_always_return_one_message);
async fn pull_limits_count_and_bytes_but_always_return_one_message<S: TestStorage>(env: Env<S>) {
    // Proves isTheBatchFull: max_count and max_bytes end a pull, but never before its
    // first message, and next_begin_offset is the first message not returned.
    let store = env.open().await;
    let sizes: Vec<usize> = {
        let mut sizes = Vec::new();
        for seq in 0..8 {
            sizes.push(put(&store, 1, seq, "TagA").await.size);
        }
        sizes
    };
    let four = get(&store, TOPIC, 1, 3, 4, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&four), [3, 4, 5, 6]);
    assert_eq!(four.next_begin_offset, 7);

    let bytes_for_two = sizes[2] + sizes[3] + sizes[4] - 1;
    let two = get(&store, TOPIC, 1, 2, 32, bytes_for_two, ALL).await;
    assert_eq!(offsets_of(&two), [2, 3]);
    assert_eq!(two.next_begin_offset, 4);

    let tiny = get(&store, TOPIC, 1, 5, 32, 1, ALL).await;
    assert_eq!(tiny.status, GetStatus::Found);
    assert_eq!(
        offsets_of(&tiny),
        [5],
        "the first message is returned whatever its size"
    );
    assert_eq!(tiny.next_begin_offset, 6);

    let one = get(&store, TOPIC, 1, 0, 1, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&one), [0]);
    assert_eq!(one.next_begin_offset, 1);
}

on_both_storages!(filtered_pull_scans_max_filter_message_size_within_one_file);
async fn filtered_pull_scans_max_filter_message_size_within_one_file<S: TestStorage>(env: Env<S>) {
    // Proves the scan bound of a filtered pull: units while (offset - start) * 20 <=
    // maxFilterMessageSize (16000 bytes, so 801 units), never past the ConsumeQueue file
    // (1000 units here) that holds the start offset.
    let store = env.open().await;
    for seq in 0..1200 {
        let record = message(TOPIC, 2, body(seq, 20), "TagA", "");
        store.put(&record).await.unwrap();
    }
    let none = tag_filter("TagZ");
    let first = get(&store, TOPIC, 2, 0, 32, 1 << 20, &none).await;
    assert_eq!(first.status, GetStatus::NoMatchedMessage);
    assert_eq!(first.next_begin_offset, 801);
    let to_file_end = get(&store, TOPIC, 2, 900, 32, 1 << 20, &none).await;
    assert_eq!(to_file_end.next_begin_offset, 1000);
    let next_file = get(&store, TOPIC, 2, 1000, 32, 1 << 20, &none).await;
    assert_eq!(next_file.next_begin_offset, 1200);
    // A large max_count widens the scan (max_count * 20 bytes), still within the file.
    let wide = get(&store, TOPIC, 2, 0, 2000, 1 << 20, &none).await;
    assert_eq!(wide.next_begin_offset, 1000);
    // Matching pulls stop at the file end too: the next pull continues in the next file.
    let at_end = get(&store, TOPIC, 2, 990, 32, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&at_end), (990..1000).collect::<Vec<_>>());
    assert_eq!(at_end.next_begin_offset, 1000);
}

on_both_storages!(timestamp_search_and_earliest_time_follow_store_times);
async fn timestamp_search_and_earliest_time_follow_store_times<S: TestStorage>(env: Env<S>) {
    // Proves search_offset_by_timestamp answers RocketMQ's LOWER boundary (the first
    // offset stored at or after the time; max offset if every message is older; the first
    // offset if every message is newer), and earliest_msg_store_time the oldest message.
    let store = env.open().await;
    assert_eq!(store.earliest_msg_store_time(TOPIC, 3).await, None);
    assert_eq!(store.search_offset_by_timestamp(TOPIC, 3, 0).await, 0);
    let mut times = Vec::new();
    for seq in 0..30 {
        if seq % 3 == 0 {
            env.storage.pass_time(3);
        }
        times.push(put(&store, 3, seq, "TagA").await.store_timestamp);
    }
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "store time never goes back"
    );
    assert_eq!(
        store.earliest_msg_store_time(TOPIC, 3).await,
        Some(times[0])
    );
    let lower_bound = |time: i64| times.iter().position(|t| *t >= time).unwrap_or(times.len());
    let mut probes = vec![0, times[0] - 1, times[29] + 1, i64::MAX];
    for time in &times {
        probes.extend([time - 1, *time, time + 1]);
    }
    for probe in probes {
        let found = store.search_offset_by_timestamp(TOPIC, 3, probe).await;
        assert_eq!(found, lower_bound(probe) as u64, "timestamp {probe}");
    }
}

on_both_storages!(query_by_key_finds_keys_and_unique_keys_newest_first);
async fn query_by_key_finds_keys_and_unique_keys_newest_first<S: TestStorage>(env: Env<S>) {
    // Proves queryMessage over the IndexFile: every KEYS token and the UNIQ_KEY are
    // indexed as topic#key, results come newest first, capped by max count and by
    // maxMsgsNumBatch (64), and the response reports the index's last update.
    let store = env.open().await;
    let mut offsets = Vec::new();
    for seq in 0..70 {
        let mut record = message(
            TOPIC,
            0,
            body(seq, 50),
            "TagA",
            &format!("key-{} shared", seq % 3),
        );
        record.properties.set("UNIQ_KEY", &format!("UNIQ{seq:04}"));
        offsets.push(store.put(&record).await.unwrap().physical_offset);
    }
    let seq_of = |bytes: &Vec<u8>| {
        let record = decode(bytes);
        offsets
            .iter()
            .position(|o| *o == record.stamp.physical_offset as u64)
            .unwrap()
    };

    let five = store.query_by_key(TOPIC, "shared", 5, 0, i64::MAX).await;
    let seqs: Vec<usize> = five.messages.iter().map(seq_of).collect();
    assert_eq!(seqs, [69, 68, 67, 66, 65]);
    assert_eq!(five.index_last_update_phy_offset as u64, offsets[69]);

    let capped = store.query_by_key(TOPIC, "shared", 1000, 0, i64::MAX).await;
    assert_eq!(capped.messages.len(), 64, "maxMsgsNumBatch caps the result");

    let key_one = store.query_by_key(TOPIC, "key-1", 64, 0, i64::MAX).await;
    let seqs: Vec<usize> = key_one.messages.iter().map(seq_of).collect();
    let expected: Vec<usize> = (0..70).rev().filter(|seq| seq % 3 == 1).collect();
    assert_eq!(seqs, expected);

    let unique = store.query_by_key(TOPIC, "UNIQ0007", 32, 0, i64::MAX).await;
    assert_eq!(unique.messages.iter().map(seq_of).collect::<Vec<_>>(), [7]);
    let record = decode(&unique.messages[0]);
    assert_eq!(record.message.properties.get("KEYS"), Some("key-1 shared"));

    assert!(store
        .query_by_key("OtherTopic", "shared", 32, 0, i64::MAX)
        .await
        .messages
        .is_empty());
    assert!(store
        .query_by_key(TOPIC, "missing", 32, 0, i64::MAX)
        .await
        .messages
        .is_empty());
    let future = store
        .query_by_key(TOPIC, "shared", 32, i64::MAX - 10, i64::MAX)
        .await;
    assert!(future.messages.is_empty());
}

#[test]
fn query_by_key_honours_the_time_range() {
    // Proves the [begin, end] filter on index entry times, which the IndexFile keeps in
    // whole seconds after its first entry (the simulated clock spaces messages 10 s apart).
    common::env::run_sim(
        |_| {},
        |env: Env<SimStorage>| async move {
            let store = env.open().await;
            let mut times = Vec::new();
            for seq in 0..12 {
                env.storage.pass_time(10_000);
                let record = message(TOPIC, 0, body(seq, 50), "TagA", "timed");
                times.push(store.put(&record).await.unwrap().store_timestamp);
            }
            let found = store
                .query_by_key(TOPIC, "timed", 64, times[4] + 5_000, times[9] + 1)
                .await;
            let bodies: Vec<Vec<u8>> = found
                .messages
                .iter()
                .map(|bytes| decode(bytes).message.body.to_vec())
                .collect();
            let expected: Vec<Vec<u8>> = (5..=9).rev().map(|seq| body(seq, 50)).collect();
            assert_eq!(bodies, expected);
            let two = store
                .query_by_key(TOPIC, "timed", 2, times[4] + 5_000, times[9] + 1)
                .await;
            assert_eq!(two.messages.len(), 2);
            assert_eq!(decode(&two.messages[0]).message.body, body(9, 50));
        },
    );
}

on_both_storages!(read_by_physical_offset_returns_whole_records);
async fn read_by_physical_offset_returns_whole_records<S: TestStorage>(env: Env<S>) {
    // Proves lookMessageByOffset: the offset in a put's result (and in its offsetMsgId)
    // reads back the whole record, and nothing is served at or past the CommitLog end.
    let store = env.open().await;
    let mut acks = Vec::new();
    for seq in 0..40 {
        let record = message(TOPIC, seq as i32 % 4, body(seq, 30 + seq * 97), "TagA", "");
        acks.push((seq, store.put(&record).await.unwrap()));
    }
    for (seq, ok) in &acks {
        let bytes = store
            .read_by_physical_offset(ok.physical_offset)
            .await
            .unwrap();
        assert_eq!(bytes.len(), ok.size);
        let record = decode(&bytes);
        assert_eq!(record.message.body, body(*seq, 30 + seq * 97));
        assert_eq!(record.stamp.physical_offset as u64, ok.physical_offset);
        assert_eq!(record.stamp.store_timestamp, ok.store_timestamp);
        let (host, offset) = MessageStore::<S>::decode_msg_id(&ok.msg_id).unwrap();
        assert_eq!(host, "10.0.0.2:10911".parse().unwrap());
        assert_eq!(offset as u64, ok.physical_offset);
    }
    let (min, max) = store.commit_log_bounds();
    assert_eq!(min, 0);
    let last = &acks.last().unwrap().1;
    assert_eq!(max, last.physical_offset + last.size as u64);
    assert!(store.read_by_physical_offset(max).await.is_none());
    assert!(store.read_by_physical_offset(max + 4096).await.is_none());
}

on_both_storages!(read_by_physical_offset_serves_only_intact_records_that_start_there);
async fn read_by_physical_offset_serves_only_intact_records_that_start_there<S: TestStorage>(
    env: Env<S>,
) {
    // Proves viewMessageById with a client-chosen offset: an offset inside a record, at a
    // segment's blank end-of-file record, past the end, or at a record whose TOTALSIZE or
    // body was damaged on disk answers None, without a panic and without allocating what
    // a damaged TOTALSIZE claims.
    let segment_size = env.config.mapped_file_size_commit_log;
    let store = env.open().await;
    let mut acks = Vec::new();
    while acks.len() < 3 || acks.last().map(|ok: &PutOk| ok.physical_offset) < Some(segment_size) {
        let seq = acks.len();
        let record = message(TOPIC, 0, body(seq, 3000), "TagA", "");
        acks.push(store.put(&record).await.unwrap());
    }
    for ok in &acks[..5] {
        assert!(store
            .read_by_physical_offset(ok.physical_offset)
            .await
            .is_some());
        for inside in [1, 4, 8, 20, ok.size as u64 / 2, ok.size as u64 - 1] {
            let offset = ok.physical_offset + inside;
            assert!(
                store.read_by_physical_offset(offset).await.is_none(),
                "{offset}"
            );
        }
    }
    // The first segment ends with a blank record after its last message.
    let last_in_first = acks
        .iter()
        .rfind(|ok| ok.physical_offset < segment_size)
        .unwrap();
    let blank_at = last_in_first.physical_offset + last_in_first.size as u64;
    assert!(blank_at < segment_size);
    assert!(store.read_by_physical_offset(blank_at).await.is_none());
    let (_, max) = store.commit_log_bounds();
    for past in [
        max,
        max + 1,
        max + 4096,
        segment_size * 1000,
        u64::MAX - 3,
        u64::MAX,
    ] {
        assert!(
            store.read_by_physical_offset(past).await.is_none(),
            "{past}"
        );
    }

    // Damage on disk: the first segment's records are no longer in the write buffers.
    let segment = env.config.commit_log_dir().join(format!("{:020}", 0));
    let damaged = &acks[2];
    let original = store
        .read_by_physical_offset(damaged.physical_offset)
        .await
        .unwrap();
    let total_size = damaged.size as i32;
    for claimed in [
        i32::MAX,
        (segment_size as i32) - 4,
        total_size + 20,
        total_size - 1,
        0,
        -8,
    ] {
        env.storage
            .corrupt(&segment, damaged.physical_offset, &claimed.to_be_bytes());
        let read = store.read_by_physical_offset(damaged.physical_offset).await;
        assert!(read.is_none(), "TOTALSIZE {claimed}");
    }
    env.storage
        .corrupt(&segment, damaged.physical_offset, &original[..4]);
    assert_eq!(
        store.read_by_physical_offset(damaged.physical_offset).await,
        Some(original.clone())
    );
    let body_byte = damaged.physical_offset + damaged.size as u64 - 200;
    let flipped = original[damaged.size - 200] ^ 0xFF;
    env.storage.corrupt(&segment, body_byte, &[flipped]);
    assert!(store
        .read_by_physical_offset(damaged.physical_offset)
        .await
        .is_none());
}

on_both_storages!(damaged_consume_queue_units_are_skipped_and_reported);
async fn damaged_consume_queue_units_are_skipped_and_reported<S: TestStorage>(env: Env<S>) {
    // Proves a ConsumeQueue unit that disagrees with its CommitLog record (wrong size,
    // pointing at another record, absurd size) is a storage inconsistency the get
    // reports and skips: the shard keeps serving the rest and keeps taking puts.
    let store = env.open().await;
    let mut acks = Vec::new();
    for seq in 0..10 {
        let record = message(TOPIC, 0, body(seq, 500), "TagA", "");
        acks.push(store.put(&record).await.unwrap());
    }
    let queue_file = env
        .config
        .consume_queue_dir()
        .join(TOPIC)
        .join("0")
        .join(format!("{:020}", 0));
    let unit_at = |queue_offset: u64| queue_offset * 20;
    // Unit 3 claims one byte more than its record.
    let size = acks[3].size as i32 + 1;
    env.storage
        .corrupt(&queue_file, unit_at(3) + 8, &size.to_be_bytes());
    // Unit 5 points at record 6, which has the same size.
    assert_eq!(acks[5].size, acks[6].size);
    let offset = acks[6].physical_offset as i64;
    env.storage
        .corrupt(&queue_file, unit_at(5), &offset.to_be_bytes());
    // Unit 7 claims a size no record may have.
    env.storage
        .corrupt(&queue_file, unit_at(7) + 8, &(i32::MAX - 1).to_be_bytes());

    for _ in 0..2 {
        let result = store
            .get(&GetRequest {
                topic: TOPIC,
                queue_id: 0,
                queue_offset: 0,
                max_count: 32,
                max_bytes: 1 << 20,
                filter: ALL,
                zero_copy: false,
            })
            .await;
        assert_eq!(result.status, GetStatus::Found);
        assert_eq!(offsets_of(&result), [0, 1, 2, 4, 6, 8, 9]);
        assert_eq!(result.next_begin_offset, 10);
        let damaged: Vec<u64> = result
            .damaged_units
            .iter()
            .map(|d| d.queue_offset)
            .collect();
        assert_eq!(damaged, [3, 5, 7]);
        assert!(result.damaged_units[0].reason.contains("TOTALSIZE"));
        assert!(result.damaged_units[1].reason.contains("QUEUEOFFSET"));
        assert!(result.damaged_units[2].reason.contains("largest record"));
    }
    // Only damaged units are skipped: a pull that starts at one serves what follows.
    let from_five = get(&store, TOPIC, 0, 5, 32, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&from_five)[0], 6);
    let ok = put(&store, 0, 10, "TagA").await;
    assert_eq!(ok.queue_offset, 10);
    let last = get(&store, TOPIC, 0, 10, 32, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&last), [10]);
    assert!(last.damaged_units.is_empty());
}

on_both_storages!(failed_dispatch_stops_puts_until_reopen);
async fn failed_dispatch_stops_puts_until_reopen<S: TestStorage>(env: Env<S>) {
    // Proves a ConsumeQueue that cannot take a unit (its next file cannot be created)
    // stops the store: that put and every later one fail with StoreFailed naming the
    // queue and the cause, intact queues stay readable, and a reopen re-dispatches the
    // record that failed.
    let units_per_file = env.config.mapped_file_size_consume_queue / 20;
    let next_file = env
        .config
        .consume_queue_dir()
        .join(TOPIC)
        .join("0")
        .join(format!("{:020}", env.config.mapped_file_size_consume_queue));
    let store = env.open().await;
    for seq in 0..units_per_file as usize {
        put(&store, 0, seq, "TagA").await;
    }
    put(&store, 1, 0, "TagA").await;
    env.storage.set_path_broken(&next_file, true);

    let failed = store
        .put(&message(TOPIC, 0, body(1, 100), "TagA", ""))
        .await;
    let Err(PutError::StoreFailed(reason)) = failed else {
        panic!("expected StoreFailed, got {failed:?}");
    };
    assert!(reason.contains("TopicTest/0"), "{reason}");
    assert!(reason.contains(next_file.to_str().unwrap()), "{reason}");
    for queue_id in [0, 1, 2] {
        let later = store
            .put(&message(TOPIC, queue_id, body(2, 100), "TagA", ""))
            .await;
        assert!(matches!(later, Err(PutError::StoreFailed(_))), "{later:?}");
    }
    // What was dispatched before the failure is still served.
    let (_, max) = store.queue_bounds(TOPIC, 0);
    assert_eq!(max, units_per_file);
    let tail = get(&store, TOPIC, 0, units_per_file - 2, 32, 1 << 20, ALL).await;
    assert_eq!(tail.status, GetStatus::Found);
    assert_eq!(offsets_of(&tail), [units_per_file - 2, units_per_file - 1]);
    assert_eq!(
        offsets_of(&get(&store, TOPIC, 1, 0, 32, 1 << 20, ALL).await),
        [0]
    );
    store.flush().await.unwrap();
    drop(store);

    env.storage.set_path_broken(&next_file, false);
    let store = env.open().await;
    assert_eq!(store.queue_bounds(TOPIC, 0).1, units_per_file + 1);
    let redispatched = get(&store, TOPIC, 0, units_per_file, 32, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&redispatched), [units_per_file]);
    assert_eq!(
        put(&store, 0, 3, "TagA").await.queue_offset,
        units_per_file + 1
    );
}

on_both_storages!(batch_put_gets_consecutive_queue_offsets);
async fn batch_put_gets_consecutive_queue_offsets<S: TestStorage>(env: Env<S>) {
    // Proves a batch becomes consecutive records with consecutive queue offsets, one
    // offsetMsgId per record joined by commas, acknowledged together.
    let store = env.open().await;
    put(&store, 0, 0, "TagA").await;
    put(&store, 0, 1, "TagA").await;
    let batch: Vec<_> = (2..7)
        .map(|seq| message(TOPIC, 0, body(seq, 200 + seq), "TagB", &format!("k{seq}")))
        .collect();
    let ok = store.put_batch(&batch).await.unwrap();
    assert_eq!(ok.queue_offset, 2);
    assert_eq!(ok.message_count, 5);
    let ids: Vec<&str> = ok.msg_id.split(',').collect();
    assert_eq!(ids.len(), 5);

    let served = get(&store, TOPIC, 0, 2, 32, 1 << 20, ALL).await;
    assert_eq!(offsets_of(&served), [2, 3, 4, 5, 6]);
    let mut next_physical = ok.physical_offset;
    let mut size_total = 0;
    for ((served, id), seq) in served.messages.iter().zip(&ids).zip(2..) {
        let record = decode(&served_bytes(&served.data));
        assert_eq!(record.message.body, body(seq, 200 + seq));
        assert_eq!(record.stamp.queue_offset as u64, served.queue_offset);
        assert_eq!(
            served.physical_offset, next_physical,
            "records are contiguous"
        );
        let (_, offset) = MessageStore::<S>::decode_msg_id(id).unwrap();
        assert_eq!(offset as u64, served.physical_offset);
        next_physical += served.size as u64;
        size_total += served.size;
    }
    assert_eq!(ok.size, size_total);
    assert_eq!(put(&store, 0, 7, "TagA").await.queue_offset, 7);
}

on_both_storages!(reads_cross_segment_rolls_before_and_after_reopen);
async fn reads_cross_segment_rolls_before_and_after_reopen<S: TestStorage>(env: Env<S>) {
    // Proves records on both sides of several segment rolls are served from memory, from
    // files (zero-copy ranges on real storage) and again after a clean reopen, and that
    // the record after a roll opens the next 128 KiB segment.
    let store = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let mut acks = Vec::new();
    let mut seq = 0;
    while store.commit_log_bounds().1 < 3 * segment + segment / 2 {
        let len = 1 + (seq * 7919) % 7000;
        let record = message(TOPIC, seq as i32 % 2, body(seq, len), "TagA", "");
        acks.push((seq, len, store.put(&record).await.unwrap()));
        seq += 1;
    }
    let openers: Vec<_> = acks
        .windows(2)
        .filter(|pair| pair[0].2.physical_offset / segment != pair[1].2.physical_offset / segment)
        .map(|pair| pair[1].2.physical_offset)
        .collect();
    assert_eq!(openers, [segment, 2 * segment, 3 * segment]);
    check_queues_serve(&store, &acks).await;
    store.shutdown().await.unwrap();
    let reopened = env.open().await;
    assert_eq!(reopened.commit_log_bounds(), store.commit_log_bounds());
    check_queues_serve(&reopened, &acks).await;
}

on_both_storages!(the_next_segment_is_created_before_the_roll_and_dropped_if_unused);
async fn the_next_segment_is_created_before_the_roll_and_dropped_if_unused<S: TestStorage>(
    env: Env<S>,
) {
    // Proves the next CommitLog segment exists (created in the background) once appends
    // pass the middle of the current one, so the roll does not create it; that a reopen
    // removes it while it is still empty; and that the records around the roll are served.
    let store = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let next_file = env.config.commit_log_dir().join(format!("{segment:020}"));
    let mut acks = Vec::new();
    while store.commit_log_bounds().1 < segment / 2 - 8 * 1024 {
        acks.push(put_sized(&store, acks.len()).await);
    }
    assert!(!env.storage.exists(&next_file), "created before the middle");
    while store.commit_log_bounds().1 < segment / 2 + 8 * 1024 {
        acks.push(put_sized(&store, acks.len()).await);
    }
    wait_for_file(&env, &next_file).await;
    assert!(store.commit_log_bounds().1 < segment, "nothing in it yet");

    store.shutdown().await.unwrap();
    drop(store);
    let store = env.open().await;
    assert!(
        !env.storage.exists(&next_file),
        "an empty segment created ahead is removed on open"
    );
    while store.commit_log_bounds().1 < segment + segment / 4 {
        acks.push(put_sized(&store, acks.len()).await);
    }
    assert!(env.storage.exists(&next_file));
    check_queues_serve(&store, &acks).await;
}

on_both_storages!(a_failed_creation_ahead_is_retried_by_the_roll);
async fn a_failed_creation_ahead_is_retried_by_the_roll<S: TestStorage>(env: Env<S>) {
    // Proves a next segment that cannot be created ahead (the path is broken then) is
    // created by the roll itself once the path works again: no put fails for it.
    let store = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let next_file = env.config.commit_log_dir().join(format!("{segment:020}"));
    env.storage.set_path_broken(&next_file, true);
    let mut acks = Vec::new();
    let mut seq = 0;
    while store.commit_log_bounds().1 < segment - 16 * 1024 {
        let record = message(TOPIC, seq as i32 % 2, body(seq, 1000), "TagA", "");
        acks.push((seq, 1000, store.put(&record).await.unwrap()));
        seq += 1;
    }
    // Let the creation ahead run (and fail) before the path is healed.
    env.storage.pass_time(50);
    env.storage.sleep_ms(50).await;
    env.storage.set_path_broken(&next_file, false);
    while store.commit_log_bounds().1 < segment + 16 * 1024 {
        let record = message(TOPIC, seq as i32 % 2, body(seq, 1000), "TagA", "");
        acks.push((seq, 1000, store.put(&record).await.unwrap()));
        seq += 1;
    }
    check_queues_serve(&store, &acks).await;
}

#[test]
fn the_flush_after_a_roll_syncs_the_commit_log_directory() {
    // Proves the new segment's directory entry is made durable by the next flush, after
    // the data: with the directory's sync failing, a flush fails only once a roll made
    // a new file (simulation: the only storage that can fail a directory sync).
    common::env::run_sim(
        |_| {},
        |env| async move {
            let store = env.open().await;
            let segment = env.config.mapped_file_size_commit_log;
            let dir = env.config.commit_log_dir();
            let mut seq = 0;
            while store.commit_log_bounds().1 < segment / 4 {
                put_sized(&store, seq).await;
                seq += 1;
            }
            store.flush().await.expect("syncs the first file's entry");
            env.storage.set_path_broken(&dir, true);
            put_sized(&store, seq).await;
            seq += 1;
            store
                .flush()
                .await
                .expect("no new file: the directory is not synced");
            while store.commit_log_bounds().1 < segment + 1024 {
                put_sized(&store, seq).await;
                seq += 1;
            }
            let error = store.flush().await.unwrap_err();
            assert!(error.to_string().contains("directory fsync"), "{error}");
        },
    );
}

/// Puts record `seq` of 500-3500 bytes on queue 0 or 1.
async fn put_sized<S: TestStorage>(store: &MessageStore<S>, seq: usize) -> (usize, usize, PutOk) {
    let len = 500 + (seq * 7919) % 3000;
    let record = message(TOPIC, seq as i32 % 2, body(seq, len), "TagA", "");
    (seq, len, store.put(&record).await.unwrap())
}

/// Waits (at most 10 s) for a file the store creates in the background.
async fn wait_for_file<S: TestStorage>(env: &Env<S>, path: &std::path::Path) {
    for _ in 0..1000 {
        if env.storage.exists(path) {
            return;
        }
        env.storage.sleep_ms(10).await;
    }
    panic!("{} was not created", path.display());
}

on_both_storages!(buffered_writes_serve_reads_across_rolls, |config| config
    .write_direct =
    false);
async fn buffered_writes_serve_reads_across_rolls<S: TestStorage>(env: Env<S>) {
    // writeDirect=false: the same records, rolls and reads (O_DIRECT chunk reads of data
    // written through the page cache) as with O_DIRECT writes.
    reads_cross_segment_rolls_before_and_after_reopen(env).await
}

/// Pulls queues 0 and 1 to the end and matches every record to its put.
async fn check_queues_serve<S: TestStorage>(
    store: &MessageStore<S>,
    acks: &[(usize, usize, PutOk)],
) {
    for queue_id in 0..2 {
        let expected: Vec<_> = acks
            .iter()
            .filter(|(seq, ..)| *seq as i32 % 2 == queue_id)
            .collect();
        let mut offset = 0;
        let mut served = Vec::new();
        while offset < store.max_offset_in_queue(TOPIC, queue_id) {
            let result = get(store, TOPIC, queue_id, offset, 16, 1 << 20, ALL).await;
            assert_eq!(result.status, GetStatus::Found);
            served.extend(result.messages);
            offset = result.next_begin_offset;
        }
        assert_eq!(served.len(), expected.len());
        for (message, (seq, len, ok)) in served.iter().zip(expected) {
            assert_eq!(message.physical_offset, ok.physical_offset);
            let record = decode(&served_bytes(&message.data));
            assert_eq!(record.message.body, body(*seq, *len));
        }
        for (seq, len, ok) in acks {
            let bytes = store
                .read_by_physical_offset(ok.physical_offset)
                .await
                .unwrap();
            assert_eq!(decode(&bytes).message.body, body(*seq, *len));
        }
    }
}
on_both_storages!(batch_stays_within_one_segment);
async fn batch_stays_within_one_segment<S: TestStorage>(env: Env<S>) {
    // Proves a batch that does not fit the rest of a segment rolls as a whole (RocketMQ
    // keeps a batch in one file), and a batch larger than any segment may hold is refused.
    let store = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let mut seq = 0;
    while store.commit_log_bounds().1 < segment - 20 * 1024 {
        put(&store, 0, seq, "TagA").await;
        let record = message(TOPIC, 0, body(seq, 6000), "TagA", "");
        store.put(&record).await.unwrap();
        seq += 2;
    }
    let remaining = segment - store.commit_log_bounds().1;
    let batch: Vec<_> = (0..3)
        .map(|n| {
            message(
                TOPIC,
                0,
                body(1000 + n, remaining as usize / 3 + 500),
                "TagB",
                "",
            )
        })
        .collect();
    let ok = store.put_batch(&batch).await.unwrap();
    assert_eq!(
        ok.physical_offset, segment,
        "the whole batch opens the next segment"
    );
    let served = get(&store, TOPIC, 0, ok.queue_offset, 3, 1 << 20, ALL).await;
    assert_eq!(served.messages.len(), 3);
    for message in &served.messages {
        assert_eq!(message.physical_offset / segment, 1);
    }

    let huge: Vec<_> = (0..10)
        .map(|n| message(TOPIC, 0, body(2000 + n, 8 * 1024), "TagB", ""))
        .collect();
    let error = store.put_batch(&huge).await.unwrap_err();
    assert!(matches!(error, PutError::MessageTooLarge { .. }), "{error}");
    let max_before = store.max_offset_in_queue(TOPIC, 0);
    put(&store, 0, 3000, "TagA").await;
    assert_eq!(
        store.max_offset_in_queue(TOPIC, 0),
        max_before + 1,
        "the store goes on"
    );
}

#[test]
fn sync_flush_past_sync_flush_timeout_answers_flush_disk_timeout() {
    // Proves syncFlushTimeout: when fdatasync takes longer, a SYNC_FLUSH put is answered
    // FlushDiskTimeout (the broker's FLUSH_DISK_TIMEOUT) with its offsets, the message is
    // stored and served, and puts are PutOk again once the disk keeps up.
    let adjust = |config: &mut ramjet_store::StoreConfig| {
        config.flush_disk_type = ramjet_store::FlushDiskType::SyncFlush;
        config.sync_flush_timeout_ms = 100;
    };
    common::env::run_sim(adjust, |env: Env<SimStorage>| async move {
        let store = env.open().await;
        assert_eq!(put(&store, 0, 0, "TagA").await.status, PutStatus::PutOk);
        env.storage.set_sync_stall_ms(1_000);
        let started = env.storage.now_ms();
        let slow = put(&store, 0, 1, "TagA").await;
        assert_eq!(slow.status, PutStatus::FlushDiskTimeout);
        assert_eq!(slow.queue_offset, 1);
        assert!(env.storage.now_ms() - started >= 100);
        // Several waiters at once: the fdatasync leader finishes its sync, the others give
        // up at their deadline; all are stored.
        let batch: Vec<_> = (2..6)
            .map(|seq| message(TOPIC, 0, body(seq, 100), "TagA", ""))
            .collect();
        let puts = batch.iter().map(|record| store.put(record)).collect();
        for result in common::join_all(puts).await {
            assert_eq!(result.unwrap().status, PutStatus::FlushDiskTimeout);
        }
        let served = get(&store, TOPIC, 0, 0, 32, 1 << 20, ALL).await;
        assert_eq!(offsets_of(&served), [0, 1, 2, 3, 4, 5]);
        env.storage.set_sync_stall_ms(0);
        let fast = put(&store, 0, 6, "TagA").await;
        assert_eq!((fast.status, fast.queue_offset), (PutStatus::PutOk, 6));
    });
}
