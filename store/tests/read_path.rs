//! The pull read path on real files and in the simulation: records older than the write
//! buffers come from O_DIRECT chunks of the read cache, as shared slices, with read-ahead;
//! batches across chunk, write-buffer and segment boundaries; filters across chunks;
//! damaged units inside chunks; retention deleting a segment a get already read.

mod common;

use common::env::{body, decode, get, message, served_bytes, Env, TestStorage};
use ramjet_store::{
    body_parts, GetRequest, GetResult, GetStatus, MessageData, MessageStore, PutOk, StoreConfig,
};

const TOPIC: &str = "ReadPathTopic";
const QUEUES: i32 = 4;
const ALL: &dyn Fn(i64) -> bool = &|_| true;

/// 16 KiB chunks, a cache of twelve (a third of the logs below), two read ahead;
/// 128 KiB segments (small_config).
fn chunked(config: &mut StoreConfig) {
    config.read_chunk_bytes = 16 * 1024;
    config.read_cache_bytes = 12 * 16 * 1024;
    config.read_ahead_chunks = 2;
}

/// Records over `QUEUES` queues (tag `TagA` on even sequence numbers, `TagB` on odd) until
/// the CommitLog holds `bytes`; sizes vary from ~100 B to ~`body_max`. Returns per queue
/// the (seq, ack) of each record in queue order.
async fn fill<S: TestStorage>(
    store: &MessageStore<S>,
    bytes: u64,
    body_max: usize,
) -> Vec<Vec<(usize, PutOk)>> {
    let mut acks = vec![Vec::new(); QUEUES as usize];
    let mut seq = 0;
    while store.commit_log_bounds().1 < bytes {
        let queue_id = (seq * 7 % QUEUES as usize) as i32;
        let tag = if seq % 2 == 0 { "TagA" } else { "TagB" };
        let len = 100 + (seq * 977) % body_max;
        let record = message(TOPIC, queue_id, body(seq, len), tag, &format!("k{seq}"));
        acks[queue_id as usize].push((seq, store.put(&record).await.unwrap()));
        seq += 1;
    }
    store.flush().await.unwrap();
    acks
}

async fn pull<S: TestStorage>(
    store: &MessageStore<S>,
    queue_id: i32,
    offset: u64,
    max_count: usize,
    filter: &dyn Fn(i64) -> bool,
) -> GetResult {
    store
        .get(&GetRequest {
            topic: TOPIC,
            queue_id,
            queue_offset: offset,
            max_count,
            max_bytes: 1 << 20,
            filter,
            zero_copy: true,
        })
        .await
}

/// Checks a served message against the put that stored it: body, queue, offsets.
fn check_served(data: &MessageData, seq: usize, ack: &PutOk, queue_id: i32) {
    let record = decode(&served_bytes(data));
    assert_eq!(record.message.body, body(seq, record.message.body.len()));
    assert!(record
        .message
        .body
        .starts_with(format!("m{seq}:").as_bytes()));
    assert_eq!(record.message.queue_id, queue_id);
    assert_eq!(record.stamp.queue_offset as u64, ack.queue_offset);
    assert_eq!(record.stamp.physical_offset as u64, ack.physical_offset);
}

/// Drains every queue round-robin (as consumers of several queues do) in batches of
/// `batch`, checking each record once, in order, intact.
async fn drain_round_robin<S: TestStorage>(
    store: &MessageStore<S>,
    acks: &[Vec<(usize, PutOk)>],
    batch: usize,
) {
    let mut next = vec![0u64; QUEUES as usize];
    loop {
        let mut progressed = false;
        for queue_id in 0..QUEUES {
            let queue = &acks[queue_id as usize];
            let at = next[queue_id as usize];
            if at as usize >= queue.len() {
                continue;
            }
            let result = pull(store, queue_id, at, batch, ALL).await;
            assert_eq!(result.status, GetStatus::Found, "queue {queue_id} at {at}");
            assert!(result.damaged_units.is_empty());
            for (i, served) in result.messages.iter().enumerate() {
                let (seq, ack) = &queue[at as usize + i];
                assert_eq!(served.queue_offset, at + i as u64);
                check_served(&served.data, *seq, ack, queue_id);
            }
            assert_eq!(result.next_begin_offset, at + result.messages.len() as u64);
            next[queue_id as usize] = result.next_begin_offset;
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
}

on_both_storages!(a_backlog_drains_from_shared_chunks, super::chunked);
async fn a_backlog_drains_from_shared_chunks<S: TestStorage>(env: Env<S>) {
    // Proves a backlog of ~3 segments (far past the write buffers and the read cache)
    // drains with every record once, in order per queue, intact; that consumers of four
    // interleaved queues share chunk reads (far fewer device reads than records) and
    // that read-ahead loads chunks before they are asked for.
    let store = env.open().await;
    let log = 3 * env.config.mapped_file_size_commit_log + 20_000;
    let acks = fill(&store, log, 3000).await;
    let records: usize = acks.iter().map(Vec::len).sum();
    drain_round_robin(&store, &acks, 8).await;
    let stats = store.read_stats();
    let chunks_in_log = log / env.config.read_chunk_bytes as u64 + 4;
    assert!(stats.loads > 0, "{stats:?}");
    assert!(
        stats.loads <= 2 * chunks_in_log,
        "{stats:?}: {chunks_in_log} chunks in the log"
    );
    assert!(
        (stats.loads as usize) * 5 < records,
        "{stats:?} for {records} records"
    );
    assert!(stats.read_ahead > 0, "{stats:?}");
    assert!(stats.hits > stats.loads, "{stats:?}");
}

on_both_storages!(records_larger_than_a_chunk_and_across_chunks, |config| {
    config.read_chunk_bytes = 4096;
    config.read_cache_bytes = 3 * 4096;
    config.read_ahead_chunks = 1;
});
async fn records_larger_than_a_chunk_and_across_chunks<S: TestStorage>(env: Env<S>) {
    // Proves records spanning two or more chunks (bodies up to 7 KiB, 4 KiB chunks) and
    // batches ending at a segment end are served whole, one queue after another (each
    // queue reads the whole log again through a cache smaller than it).
    let store = env.open().await;
    let log = 2 * env.config.mapped_file_size_commit_log + 10_000;
    let acks = fill(&store, log, 7000).await;
    for queue_id in 0..QUEUES {
        let queue = &acks[queue_id as usize];
        let mut at = 0u64;
        while (at as usize) < queue.len() {
            let result = pull(&store, queue_id, at, 5, ALL).await;
            assert_eq!(result.status, GetStatus::Found);
            for (i, served) in result.messages.iter().enumerate() {
                let (seq, ack) = &queue[at as usize + i];
                check_served(&served.data, *seq, ack, queue_id);
            }
            at = result.next_begin_offset;
        }
    }
}

on_both_storages!(
    batches_across_the_write_buffers_and_the_file,
    super::chunked
);
async fn batches_across_the_write_buffers_and_the_file<S: TestStorage>(env: Env<S>) {
    // Proves a batch whose first records are only on the device and whose last ones are
    // still in the write buffers is served whole and in order, from every start offset
    // around that boundary, and that the body parts join to exactly the records.
    let store = env.open().await;
    let acks = fill(&store, 200_000, 1500).await;
    let queue = &acks[1];
    let len = queue.len() as u64;
    for start in len.saturating_sub(60)..len {
        let result = pull(&store, 1, start, 32, ALL).await;
        assert_eq!(result.status, GetStatus::Found);
        assert_eq!(result.messages.len() as u64, (len - start).min(32));
        let mut expected_body = Vec::new();
        for (i, served) in result.messages.iter().enumerate() {
            let (seq, ack) = &queue[(start + i as u64) as usize];
            check_served(&served.data, *seq, ack, 1);
            expected_body.extend_from_slice(served.bytes().unwrap());
        }
        let parts = body_parts(result.messages).unwrap();
        assert_eq!(parts.concat(), expected_body);
    }
}

on_both_storages!(adjacent_records_are_one_body_part, super::chunked);
async fn adjacent_records_are_one_body_part<S: TestStorage>(env: Env<S>) {
    // Proves records of one queue stored back to back come out as one slice of one
    // chunk (no copy), and that other queues' records between them split the parts.
    let store = env.open().await;
    let mut acks = Vec::new();
    for seq in 0..200 {
        // Queue 0 in runs of ten, queue 1 between the runs.
        let queue_id = i32::from(seq % 20 >= 10);
        let record = message(TOPIC, queue_id, body(seq, 700), "TagA", "");
        acks.push((seq, queue_id, store.put(&record).await.unwrap()));
    }
    for seq in 0..100 {
        // Push the first records out of the write buffers.
        let record = message(TOPIC, 3, body(seq, 2000), "TagA", "");
        store.put(&record).await.unwrap();
    }
    store.flush().await.unwrap();
    let result = pull(&store, 0, 0, 10, ALL).await;
    assert_eq!(result.messages.len(), 10);
    assert!(result
        .messages
        .iter()
        .all(|m| matches!(m.data, MessageData::Shared { .. })));
    let first = result.messages[0].physical_offset;
    let last = &result.messages[9];
    let parts = body_parts(result.messages.clone()).unwrap();
    let run_bytes = (last.physical_offset + last.size as u64 - first) as usize;
    let chunk = env.config.read_chunk_bytes as u64;
    if first / chunk == (first + run_bytes as u64 - 1) / chunk {
        assert_eq!(parts.len(), 1, "one run inside one chunk is one part");
    }
    assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), run_bytes);
    // Twenty records of queue 0 are two runs with queue 1's records between them.
    let result = pull(&store, 0, 0, 20, ALL).await;
    assert!(body_parts(result.messages).unwrap().len() >= 2);
}

on_both_storages!(tag_and_record_filters_across_chunks, super::chunked);
async fn tag_and_record_filters_across_chunks<S: TestStorage>(env: Env<S>) {
    // Proves the tag filter (ConsumeQueue tag codes) and the record filter (properties)
    // select the same records through chunks as from memory: every TagA record of a
    // queue once, in order, with next_begin_offset moving past refused ones.
    let store = env.open().await;
    let acks = fill(&store, 300_000, 2000).await;
    let tag_a = ramjet_store::message::tags_code(Some("TagA"));
    let only_a = move |code: i64| code == tag_a;
    let even_key = |properties: &[u8]| {
        let properties = ramjet_store::Properties::from_bytes(properties);
        properties
            .get("KEYS")
            .and_then(|k| k.trim_start_matches('k').parse::<usize>().ok())
            .is_some_and(|seq| seq % 2 == 0)
    };
    for queue_id in 0..QUEUES {
        let queue = &acks[queue_id as usize];
        let expected: Vec<usize> = queue
            .iter()
            .map(|(seq, _)| *seq)
            .filter(|seq| seq % 2 == 0)
            .collect();
        for by_record in [false, true] {
            let mut served = Vec::new();
            let mut at = 0;
            while (at as usize) < queue.len() {
                let request = GetRequest {
                    topic: TOPIC,
                    queue_id,
                    queue_offset: at,
                    max_count: 6,
                    max_bytes: 1 << 20,
                    filter: if by_record { ALL } else { &only_a },
                    zero_copy: true,
                };
                let result = if by_record {
                    store.get_filtered(&request, Some(&even_key)).await
                } else {
                    store.get(&request).await
                };
                assert!(result.next_begin_offset > at);
                for message in &result.messages {
                    let (seq, ack) = &queue[message.queue_offset as usize];
                    check_served(&message.data, *seq, ack, queue_id);
                    served.push(*seq);
                }
                at = result.next_begin_offset;
            }
            assert_eq!(
                served, expected,
                "queue {queue_id}, record filter {by_record}"
            );
        }
    }
}

on_both_storages!(
    damaged_units_pointing_into_chunks_are_skipped,
    super::chunked
);
async fn damaged_units_pointing_into_chunks_are_skipped<S: TestStorage>(env: Env<S>) {
    // Proves a unit whose record (read from a chunk, not from memory) disagrees with it is
    // reported and skipped, exactly as for records in the write buffers.
    let store = env.open().await;
    let mut acks = Vec::new();
    for seq in 0..10 {
        let record = message(TOPIC, 0, body(seq, 500), "TagA", "");
        acks.push(store.put(&record).await.unwrap());
    }
    for seq in 0..100 {
        let record = message(TOPIC, 3, body(seq, 2000), "TagA", "");
        store.put(&record).await.unwrap();
    }
    store.flush().await.unwrap();
    let queue_file = env
        .config
        .consume_queue_dir()
        .join(TOPIC)
        .join("0")
        .join(format!("{:020}", 0));
    let size = acks[3].size as i32 + 1;
    env.storage
        .corrupt(&queue_file, 3 * 20 + 8, &size.to_be_bytes());
    let offset = acks[6].physical_offset as i64;
    env.storage
        .corrupt(&queue_file, 5 * 20, &offset.to_be_bytes());
    let result = pull(&store, 0, 0, 32, ALL).await;
    assert_eq!(result.status, GetStatus::Found);
    let served: Vec<u64> = result.messages.iter().map(|m| m.queue_offset).collect();
    assert_eq!(served, [0, 1, 2, 4, 6, 7, 8, 9]);
    let damaged: Vec<u64> = result
        .damaged_units
        .iter()
        .map(|d| d.queue_offset)
        .collect();
    assert_eq!(damaged, [3, 5]);
    assert!(store.read_stats().loads > 0, "served from the device");
}

on_both_storages!(
    retention_after_a_read_keeps_served_slices_intact,
    |config| {
        super::chunked(config);
        config.file_reserved_time = 0;
    }
);
async fn retention_after_a_read_keeps_served_slices_intact<S: TestStorage>(env: Env<S>) {
    // Proves a batch read from a segment stays intact after retention deletes that
    // segment (its slices own their chunk), that the cache forgets the deleted range, and
    // that the next get answers from the queue's new min offset.
    let store = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let acks = fill(&store, 3 * segment + 40_000, 2500).await;
    let before = pull(&store, 2, 0, 16, ALL).await;
    assert_eq!(before.status, GetStatus::Found);
    env.storage.pass_time(10);
    let report = store.clean_expired_files(true).await.unwrap();
    assert!(report.segments_deleted >= 1, "{report:?}");
    for (i, served) in before.messages.iter().enumerate() {
        let (seq, ack) = &acks[2][i];
        check_served(&served.data, *seq, ack, 2);
    }
    let min = store.min_offset_in_queue(TOPIC, 2);
    assert!(min > 0);
    let after = get(&store, TOPIC, 2, 0, 16, 1 << 20, ALL).await;
    assert_eq!(after.status, GetStatus::OffsetTooSmall);
    assert_eq!(after.next_begin_offset, min);
    let from_min = pull(&store, 2, min, 16, ALL).await;
    assert_eq!(from_min.status, GetStatus::Found);
    for served in &from_min.messages {
        let (seq, ack) = &acks[2][served.queue_offset as usize];
        check_served(&served.data, *seq, ack, 2);
    }
}
