//! The store's replication API: a master reads whole records to ship
//! (`read_for_replica`), a slave appends them at the same physical offsets
//! (`append_replicated`) after checking each one, and refuses a gap, an overlap or a
//! damaged record without storing any byte of that transfer. Each scenario runs on
//! `SimStorage` and on `DmaStorage` over real O_DIRECT files.

mod common;

use common::env::{body, message, Env, TestStorage};
use common::read_queue;
use ramjet_store::{MessageStore, ReplicaError, Storage};

const TOPIC: &str = "TopicHa";

/// The slave's store: same settings, its own directory.
async fn open_slave<S: TestStorage>(env: &Env<S>) -> MessageStore<S> {
    let mut config = env.config.clone();
    config.store_path_root_dir = config.store_path_root_dir.join("slave");
    let (store, _) = MessageStore::open(env.storage.clone(), config)
        .await
        .expect("open slave store");
    store
}

/// Ships everything the master has written, in transfers of at most `batch` bytes.
async fn ship_all<S: Storage>(master: &MessageStore<S>, slave: &MessageStore<S>, batch: usize) {
    loop {
        let from = slave.replica_next_offset();
        let Some(transfer) = master.read_for_replica(from, batch).await.unwrap() else {
            return;
        };
        assert!(
            transfer.len() <= batch.max(8 * 1024),
            "at most a batch or one record"
        );
        let end = slave
            .append_replicated(from, &transfer.to_vec())
            .await
            .unwrap();
        assert_eq!(end, transfer.end);
    }
}

async fn put_some<S: Storage>(store: &MessageStore<S>, from: usize, count: usize) {
    for seq in from..from + count {
        let len = 1 + (seq * 7919) % 3000;
        let record = message(TOPIC, (seq % 3) as i32, body(seq, len), "TagA", "k");
        store.put(&record).await.unwrap();
    }
}

on_both_storages!(replicated_records_land_at_the_same_offsets_across_rolls);
async fn replicated_records_land_at_the_same_offsets_across_rolls<S: TestStorage>(env: Env<S>) {
    // Proves the slave's CommitLog ends where the master's does, across several segment
    // rolls (blank markers shipped alone), that its queues serve the same bytes, and that
    // a reopened slave resumes from its own end.
    let master = env.open().await;
    let slave = open_slave(&env).await;
    let segment = env.config.mapped_file_size_commit_log;
    let mut seq = 0;
    while master.commit_log_bounds().1 < 2 * segment + segment / 3 {
        put_some(&master, seq, 10).await;
        seq += 10;
    }
    ship_all(&master, &slave, 8 * 1024).await;
    assert_eq!(slave.commit_log_bounds(), master.commit_log_bounds());
    for queue in 0..3 {
        assert_eq!(
            read_queue(&slave, TOPIC, queue).await,
            read_queue(&master, TOPIC, queue).await,
            "queue {queue}"
        );
    }
    slave.shutdown().await.unwrap();
    let slave = open_slave(&env).await;
    assert_eq!(slave.replica_next_offset(), master.commit_log_bounds().1);
    put_some(&master, seq, 20).await;
    ship_all(&master, &slave, 4 * 1024).await;
    assert_eq!(slave.commit_log_bounds(), master.commit_log_bounds());
    assert_eq!(slave.queue_bounds(TOPIC, 1), master.queue_bounds(TOPIC, 1));
}

on_both_storages!(a_gap_or_an_overlap_is_refused);
async fn a_gap_or_an_overlap_is_refused<S: TestStorage>(env: Env<S>) {
    // Proves a transfer must start exactly at the slave's end.
    let master = env.open().await;
    let slave = open_slave(&env).await;
    put_some(&master, 0, 6).await;
    let start = slave.replica_next_offset();
    let first = master
        .read_for_replica(start, 1)
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    let end = slave.append_replicated(start, &first).await.unwrap();
    assert_eq!(end, start + first.len() as u64);
    let second = master
        .read_for_replica(end, 1)
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    let third_at = end + second.len() as u64;
    let third = master
        .read_for_replica(third_at, 1)
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    match slave.append_replicated(third_at, &third).await {
        Err(ReplicaError::Gap { expected, got }) => assert_eq!((expected, got), (end, third_at)),
        other => panic!("gap accepted: {other:?}"),
    }
    match slave.append_replicated(start, &first).await {
        Err(ReplicaError::Overlap { expected, got }) => assert_eq!((expected, got), (end, start)),
        other => panic!("overlap accepted: {other:?}"),
    }
    assert_eq!(
        slave.replica_next_offset(),
        end,
        "nothing of a refused transfer"
    );
    slave.append_replicated(end, &second).await.unwrap();
}

on_both_storages!(damaged_records_are_refused_whole);
async fn damaged_records_are_refused_whole<S: TestStorage>(env: Env<S>) {
    // Proves a flipped body byte (CRC), a bad magic, a truncated record and a record that
    // names another physical offset are refused, and that no record of the refused
    // transfer (not even the good ones before the damage) is stored.
    let master = env.open().await;
    let slave = open_slave(&env).await;
    put_some(&master, 0, 8).await;
    let start = slave.replica_next_offset();
    let good = master
        .read_for_replica(start, 64 * 1024)
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    let first_size = i32::from_be_bytes(good[..4].try_into().unwrap()) as usize;
    assert!(good.len() > first_size, "several records in one transfer");
    let refused = |bytes: Vec<u8>, what: &'static str| {
        let slave = &slave;
        async move {
            match slave.append_replicated(start, &bytes).await {
                Err(ReplicaError::BadRecord { reason, .. }) => reason,
                other => panic!("{what} accepted: {other:?}"),
            }
        }
    };
    let mut crc = good.clone();
    crc[first_size + first_size / 2 + 40] ^= 0x5a; // Inside the second record.
    let reason = refused(crc, "a corrupted body").await;
    assert!(reason.to_lowercase().contains("crc"), "{reason}");
    let mut magic = good.clone();
    magic[first_size + 4] ^= 0xff;
    assert!(refused(magic, "a bad magic").await.contains("magic"));
    let truncated = good[..good.len() - 1].to_vec();
    refused(truncated, "a truncated record").await;
    // The first record alone, claimed one record later: its PHYSICALOFFSET disagrees.
    let second_size =
        i32::from_be_bytes(good[first_size..first_size + 4].try_into().unwrap()) as usize;
    let second = good[first_size..first_size + second_size].to_vec();
    assert!(refused(second, "a record at the wrong offset")
        .await
        .contains("PHYSICALOFFSET"));
    assert_eq!(slave.replica_next_offset(), start);
    assert_eq!(slave.commit_log_bounds().1, start);
    assert_eq!(
        slave.append_replicated(start, &good).await.unwrap(),
        start + good.len() as u64
    );
}

on_both_storages!(an_empty_slave_starts_at_the_masters_newest_file);
async fn an_empty_slave_starts_at_the_masters_newest_file<S: TestStorage>(mut env: Env<S>) {
    // Proves RocketMQ's rule for a new slave after the master's retention deleted old files:
    // an empty slave is shipped from the start of the master's newest file, its store
    // starts there (queues from that point on, same bytes as the master's), it survives a
    // reopen, and a slave that holds data the master no longer reaches is refused with the
    // way out named.
    env.config.file_reserved_time = 0;
    let master = env.open().await;
    let lagging = open_slave(&env).await;
    put_some(&master, 0, 3).await;
    ship_all(&master, &lagging, 64 * 1024).await;
    let segment = env.config.mapped_file_size_commit_log;
    let mut seq = 3;
    while master.commit_log_bounds().1 < 3 * segment + segment / 4 {
        put_some(&master, seq, 10).await;
        seq += 10;
    }
    let report = master.clean_expired_files(true).await.unwrap();
    assert_eq!(
        report.segments_deleted, 3,
        "all but the newest file deleted"
    );
    let (oldest, master_end) = master.commit_log_bounds();
    assert_eq!(oldest, 3 * segment);

    let lagging_end = lagging.replica_next_offset();
    let refusal = master.replica_start_for(lagging_end).unwrap_err();
    assert!(refusal.contains("clear the slave's store"), "{refusal}");

    let mut slave_env_config = env.config.clone();
    slave_env_config.store_path_root_dir = slave_env_config.store_path_root_dir.join("fresh");
    let (fresh, _) = MessageStore::open(env.storage.clone(), slave_env_config.clone())
        .await
        .unwrap();
    assert!(fresh.is_empty_replica());
    let start = master
        .replica_start_for(fresh.replica_next_offset())
        .unwrap();
    assert_eq!(start, oldest, "the newest file's start");
    fresh.start_empty_replica_at(start).await.unwrap();
    assert!(
        fresh.start_empty_replica_at(start).await.is_err(),
        "only an empty store moves its start"
    );
    ship_all(&master, &fresh, 16 * 1024).await;
    assert_eq!(fresh.commit_log_bounds(), (oldest, master_end));
    for queue in 0..3 {
        assert_eq!(
            read_queue(&fresh, TOPIC, queue).await,
            read_queue(&master, TOPIC, queue).await,
            "queue {queue}"
        );
        assert_eq!(
            fresh.queue_bounds(TOPIC, queue).1,
            master.queue_bounds(TOPIC, queue).1
        );
    }
    fresh.shutdown().await.unwrap();
    let (fresh, _) = MessageStore::open(env.storage.clone(), slave_env_config)
        .await
        .unwrap();
    assert_eq!(fresh.commit_log_bounds(), (oldest, master_end));
    assert!(!fresh.is_empty_replica());
    put_some(&master, seq, 5).await;
    ship_all(&master, &fresh, 16 * 1024).await;
    assert_eq!(
        fresh.queue_bounds(TOPIC, 2).1,
        master.queue_bounds(TOPIC, 2).1
    );
}

on_both_storages!(
    transfers_are_cut_from_small_chunks_and_the_tail,
    |config: &mut ramjet_store::StoreConfig| {
        // 4 KiB chunks: most records of ~0.1-3 KiB straddle a chunk edge somewhere.
        config.read_chunk_bytes = 4096;
        config.read_cache_bytes = 6 * 4096;
        config.read_ahead_chunks = 2;
    }
);
async fn transfers_are_cut_from_small_chunks_and_the_tail<S: TestStorage>(env: Env<S>) {
    // Proves a transfer assembled from read-cache chunk slices and the write buffers (records
    // and record heads across chunk edges, blank markers alone, batches cut after the last
    // whole record, a record larger than the batch sent whole, no transfer past a segment
    // end) lands on the slave byte for byte, and that a slave catching up is served from
    // chunks with read-ahead.
    let master = env.open().await;
    let segment = env.config.mapped_file_size_commit_log;
    let mut seq = 0;
    while master.commit_log_bounds().1 < 2 * segment + segment / 2 {
        put_some(&master, seq, 10).await;
        seq += 10;
    }
    for batch in [1usize, 2500, 9000, 40_000] {
        let mut config = env.config.clone();
        config.store_path_root_dir = config.store_path_root_dir.join(format!("slave-{batch}"));
        let (slave, _) = MessageStore::open(env.storage.clone(), config)
            .await
            .unwrap();
        let (mut multi_part, mut blanks) = (0, 0);
        loop {
            let from = slave.replica_next_offset();
            let Some(transfer) = master.read_for_replica(from, batch).await.unwrap() else {
                break;
            };
            let bytes = transfer.to_vec();
            let segment_end = (from / segment + 1) * segment;
            let size = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            if transfer.end == segment_end && bytes.len() == 8 {
                blanks += 1;
            } else {
                assert!(transfer.end <= segment_end, "never past a segment end");
                assert!(
                    bytes.len() <= batch || bytes.len() == size,
                    "a batch, or one record larger than it"
                );
            }
            multi_part += usize::from(transfer.parts.len() > 1);
            let end = slave.append_replicated(from, &bytes).await.unwrap();
            assert_eq!(end, transfer.end);
        }
        assert_eq!(blanks, 2, "one blank marker per rolled segment, alone");
        assert!(multi_part > 0, "some transfers span chunk edges");
        assert_eq!(slave.commit_log_bounds(), master.commit_log_bounds());
        for queue in 0..3 {
            assert_eq!(
                read_queue(&slave, TOPIC, queue).await,
                read_queue(&master, TOPIC, queue).await,
                "queue {queue}, batch {batch}"
            );
        }
        slave.shutdown().await.unwrap();
    }
    let stats = master.read_stats();
    assert!(stats.loads > 0 && stats.read_ahead > 0, "{stats:?}");
}
