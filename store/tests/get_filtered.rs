//! `get_filtered`: the record-level filter hook (SQL92's `isMatchedByCommitLog`). A record
//! the hook refuses is skipped like a tag mismatch: limits count only served records and
//! `next_begin_offset` moves past everything scanned.

mod common;

use common::env::{body, get, message, offsets_of, Env, TestStorage};
use ramjet_store::{GetRequest, GetResult, GetStatus, MessageData, MessageStore, Properties};

const TOPIC: &str = "TopicSql";

/// Property `n` = the message's sequence number.
async fn fill<S: TestStorage>(store: &MessageStore<S>, count: usize) {
    for seq in 0..count {
        let mut record = message(TOPIC, 0, body(seq, 100), "TagA", "");
        record.properties.set("n", &seq.to_string());
        store.put(&record).await.unwrap();
    }
}

fn even(properties: &[u8]) -> bool {
    let properties = Properties::from_bytes(properties);
    properties
        .get("n")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n % 2 == 0)
}

async fn get_filtered<S: TestStorage>(
    store: &MessageStore<S>,
    offset: u64,
    max_count: usize,
    max_bytes: usize,
    zero_copy: bool,
    hook: &dyn Fn(&[u8]) -> bool,
) -> GetResult {
    let request = GetRequest {
        topic: TOPIC,
        queue_id: 0,
        queue_offset: offset,
        max_count,
        max_bytes,
        filter: &|_| true,
        zero_copy,
    };
    store.get_filtered(&request, Some(hook)).await
}

on_both_storages!(record_filter_skips_refused_records_within_the_limits);
async fn record_filter_skips_refused_records_within_the_limits<S: TestStorage>(env: Env<S>) {
    let store = env.open().await;
    fill(&store, 10).await;
    let all = get(&store, TOPIC, 0, 0, 32, 1 << 20, &|_| true).await;
    assert_eq!(offsets_of(&all).len(), 10);
    let size = all.messages[0].size;

    let result = get_filtered(&store, 0, 32, 1 << 20, false, &even).await;
    assert_eq!(result.status, GetStatus::Found);
    assert_eq!(offsets_of(&result), [0, 2, 4, 6, 8]);
    assert_eq!(result.next_begin_offset, 10);

    // max_count counts served records only; the pull stops before the unit that would
    // overflow the batch, so the next pull starts there.
    let result = get_filtered(&store, 0, 3, 1 << 20, false, &even).await;
    assert_eq!(offsets_of(&result), [0, 2, 4]);
    assert_eq!(result.next_begin_offset, 5);
    let result = get_filtered(&store, 1, 2, 1 << 20, false, &even).await;
    assert_eq!(offsets_of(&result), [2, 4]);
    assert_eq!(result.next_begin_offset, 5);

    // max_bytes likewise (room for two records).
    let result = get_filtered(&store, 0, 32, 2 * size + 1, false, &even).await;
    assert_eq!(offsets_of(&result), [0, 2]);
    assert_eq!(result.next_begin_offset, 3);

    // Nothing matches: every unit is scanned and passed.
    let result = get_filtered(&store, 0, 32, 1 << 20, false, &|_| false).await;
    assert_eq!(result.status, GetStatus::NoMatchedMessage);
    assert!(result.messages.is_empty());
    assert_eq!(result.next_begin_offset, 10);

    // A zero-copy pull with a record filter serves the same records, as shared slices.
    let result = get_filtered(&store, 0, 32, 1 << 20, true, &even).await;
    assert_eq!(offsets_of(&result), [0, 2, 4, 6, 8]);
    assert!(result
        .messages
        .iter()
        .all(|m| matches!(m.data, MessageData::Shared { .. })));

    // The hook sees exactly the PROPERTIES field.
    let seen = std::cell::RefCell::new(Vec::new());
    let record_seen = |properties: &[u8]| {
        seen.borrow_mut().push(Properties::from_bytes(properties));
        true
    };
    get_filtered(&store, 7, 32, 1 << 20, false, &record_seen).await;
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].get("n"), Some("7"));
    assert_eq!(seen[0].get("TAGS"), Some("TagA"));
}

on_both_storages!(fall_behind_is_measured_from_the_last_unit_looked_at);
/// `fall_behind_bytes` (Java's `maxOffsetPy - maxPhyOffsetPulling`, what the broker compares
/// with accessMessageInMemoryMaxRatio): from the last ConsumeQueue unit the read looked at,
/// including the one that found the batch full, to the CommitLog's end.
async fn fall_behind_is_measured_from_the_last_unit_looked_at<S: TestStorage>(env: Env<S>) {
    let store = env.open().await;
    fill(&store, 10).await;
    let all = get(&store, TOPIC, 0, 0, 32, 1 << 20, &|_| true).await;
    let physical: Vec<u64> = all.messages.iter().map(|m| m.physical_offset).collect();
    let end = physical[9] + all.messages[9].size as u64;
    assert_eq!(all.fall_behind_bytes, Some(end - physical[9]));

    // One message: unit 1 was looked at (and found the batch full).
    let one = get(&store, TOPIC, 0, 0, 1, 1 << 20, &|_| true).await;
    assert_eq!(offsets_of(&one), [0]);
    assert_eq!(one.fall_behind_bytes, Some(end - physical[1]));

    // Units the filter passes over count too.
    let none = get_filtered(&store, 0, 32, 1 << 20, false, &|_| false).await;
    assert_eq!(none.fall_behind_bytes, Some(end - physical[9]));

    // At the queue's end nothing is looked at.
    let past = get(&store, TOPIC, 0, 10, 32, 1 << 20, &|_| true).await;
    assert_eq!(past.fall_behind_bytes, None);
}
