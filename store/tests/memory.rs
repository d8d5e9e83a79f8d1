//! A store's memory is set by its configuration, not by how much it holds: a backlog ten
//! times larger costs no more heap. Alone in its own test binary, so no other test's
//! allocations show up in this process's numbers.

mod common;

use common::env::{body, message, run_on_glommio, temp_store_dir};
use ramjet_store::{DmaStorage, MessageStore, StoreConfig};

const QUEUES: i32 = 8;
const WRITERS: usize = 64;

/// Anonymous resident memory (heap, stacks, anonymous maps), in bytes. Mapped
/// ConsumeQueue, index and checkpoint pages are file-backed page cache the kernel may
/// evict, so they are left out on purpose (lib.rs: memory is configuration plus page cache).
fn rss_anon_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/self/status");
    kib * 1024
}

async fn put_until(store: &MessageStore<DmaStorage>, from: usize, to: usize) {
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(glommio::spawn_local(async move {
            for seq in (from + writer..to).step_by(WRITERS) {
                let queue_id = (seq % QUEUES as usize) as i32;
                let keys = format!("key{seq}");
                let record = message("Backlog", queue_id, body(seq, 100), "TagA", &keys);
                store.put(&record).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await;
    }
}

#[test]
fn heap_stays_within_buffers_and_tail_cache_whatever_the_backlog() {
    // Proves the bounded-memory rule: after 20k and after 200k messages (dozens of
    // CommitLog segments, hundreds of ConsumeQueue files, dozens of index files) the
    // store's anonymous memory is within write buffers + tail cache + a fixed margin, and
    // grows by less than 2 MiB over the last 180k messages (so by less than ~12 bytes a
    // message: any per-message state kept would show).
    let dir = temp_store_dir("memory");
    let mut config = StoreConfig::new(&dir);
    config.mapped_file_size_commit_log = 4 << 20;
    config.mapped_file_size_consume_queue = 20 * 1000;
    config.max_message_size = 64 * 1024;
    config.write_buffer_bytes = 64 * 1024;
    config.write_buffer_count_max = 4;
    config.tail_cache_bytes = 256 * 1024;
    config.max_hash_slot_num = 1000;
    config.max_index_num = 10_000;
    // The disk is shared with other checkouts; retention.rs tests the full-disk refusal.
    config.disk_space_warning_level_ratio = 99;
    let configured = (config.write_buffer_bytes * config.write_buffer_count_max
        + config.tail_cache_bytes) as u64;
    const MARGIN: u64 = 8 << 20;
    let (small, large) = run_on_glommio(async move {
        let before = rss_anon_bytes();
        let (store, _) = MessageStore::open(DmaStorage::new(), config).await.unwrap();
        put_until(&store, 0, 20_000).await;
        let small = rss_anon_bytes().saturating_sub(before);
        put_until(&store, 20_000, 200_000).await;
        let large = rss_anon_bytes().saturating_sub(before);
        assert_eq!(
            store.max_offset_in_queue("Backlog", 0),
            200_000 / QUEUES as u64
        );
        store.shutdown().await.unwrap();
        (small, large)
    });
    eprintln!("anonymous memory grew {small} bytes after 20k messages, {large} after 200k");
    assert!(
        small <= configured + MARGIN,
        "{small} bytes after 20k messages"
    );
    assert!(
        large <= configured + MARGIN,
        "{large} bytes after 200k messages"
    );
    assert!(
        large.saturating_sub(small) < 2 << 20,
        "memory grew with the backlog: {small} -> {large}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
