//! Retention and disk protection through `MessageStore` (store-format.md §9): which
//! segments `clean_expired_files` deletes and when, how ConsumeQueues, the index and the
//! read API follow, and puts refused while the disk is full.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::env::{
    body, decode, get, message, run_on_glommio, run_sim, served_bytes, small_config,
    temp_store_dir, Env, TestStorage,
};
use ramjet_store::index_service::local_hour;
use ramjet_store::{
    DmaStorage, GetStatus, MessageStore, PutError, PutOk, SimStorage, Storage, StoreConfig,
};

const TOPIC: &str = "RetainedTopic";
const QUEUES: i32 = 3;
const ALL: &dyn Fn(i64) -> bool = &|_| true;
const HOUR_MS: i64 = 3_600_000;

fn retention_config(config: &mut StoreConfig) {
    config.mapped_file_size_consume_queue = 20 * 40;
    config.max_index_num = 60;
}

/// Puts records over `QUEUES` queues until the CommitLog has `segments` full segments
/// and part of one more. Returns, per queue, the acks in queue order.
async fn fill<S: TestStorage>(store: &MessageStore<S>, segments: u64) -> Vec<Vec<(usize, PutOk)>> {
    let segment = store.config().mapped_file_size_commit_log;
    let mut acks = vec![Vec::new(); QUEUES as usize];
    let mut seq = 0;
    while store.commit_log_bounds().1 < segments * segment + segment / 3 {
        let queue_id = (seq % QUEUES as usize) as i32;
        let record = message(
            TOPIC,
            queue_id,
            body(seq, 3000),
            "TagA",
            &format!("key{seq}"),
        );
        acks[queue_id as usize].push((seq, store.put(&record).await.unwrap()));
        seq += 1;
    }
    acks
}

fn segment_count<S: Storage>(env: &Env<S>) -> usize {
    env.storage
        .list_dir(&env.config.commit_log_dir())
        .unwrap()
        .len()
}

/// After a deletion: every queue's min offset is its first record still in the CommitLog,
/// and the read API answers as RocketMQ does below, at and past it.
async fn check_queues_follow<S: TestStorage>(
    store: &MessageStore<S>,
    acks: &[Vec<(usize, PutOk)>],
) {
    let (commit_log_min, _) = store.commit_log_bounds();
    for (queue_id, queue_acks) in acks.iter().enumerate() {
        let queue_id = queue_id as i32;
        let first_kept = queue_acks
            .iter()
            .position(|(_, ok)| ok.physical_offset >= commit_log_min)
            .unwrap() as u64;
        let (min, max) = store.queue_bounds(TOPIC, queue_id);
        assert_eq!(min, first_kept, "queue {queue_id} min offset");
        assert_eq!(max, queue_acks.len() as u64);

        if first_kept > 0 {
            let too_small = get(store, TOPIC, queue_id, 0, 32, 1 << 20, ALL).await;
            assert_eq!(too_small.status, GetStatus::OffsetTooSmall);
            assert_eq!(too_small.next_begin_offset, first_kept);
            let (seq, gone) = &queue_acks[0];
            assert!(store
                .read_by_physical_offset(gone.physical_offset)
                .await
                .is_none());
            let key = format!("key{seq}");
            let query = store.query_by_key(TOPIC, &key, 32, 0, i64::MAX).await;
            assert!(query.messages.is_empty(), "{key} was deleted");
            // Past the end with a min offset above 0: continue from the max offset.
            let badly = get(store, TOPIC, queue_id, max + 3, 32, 1 << 20, ALL).await;
            assert_eq!(badly.status, GetStatus::OffsetOverflowBadly);
            assert_eq!(badly.next_begin_offset, max);
        }
        let (seq, kept) = &queue_acks[first_kept as usize];
        let found = get(store, TOPIC, queue_id, first_kept, 1, 1 << 20, ALL).await;
        assert_eq!(found.status, GetStatus::Found);
        let record = decode(&served_bytes(&found.messages[0].data));
        assert_eq!(record.message.body, body(*seq, 3000));
        let earliest = store.earliest_msg_store_time(TOPIC, queue_id).await;
        assert_eq!(earliest, Some(kept.store_timestamp));
        assert_eq!(
            store.search_offset_by_timestamp(TOPIC, queue_id, 0).await,
            first_kept
        );
    }
}

#[test]
fn expired_segments_go_at_delete_when_or_on_request_and_queues_follow() {
    // Proves CleanCommitLogService's time rule: a segment older than fileReservedTime is
    // deleted only at a deleteWhen hour (or on a manual trigger), at most
    // deleteFileBatchMax per run, oldest first, never the newest; ConsumeQueue files,
    // index files and min offsets follow.
    run_sim(retention_config, |mut env: Env<SimStorage>| async move {
        let later = env.storage.now_ms() + 2 * HOUR_MS;
        let other_hour = (local_hour(later) + 12) % 24;
        env.config.file_reserved_time = 1;
        env.config.delete_when = format!("{other_hour:02}");
        env.config.delete_file_batch_max = 2;
        let store = env.open().await;
        let acks = fill(&store, 5).await;
        assert_eq!(segment_count(&env), 6);

        // Young segments, the wrong hour, a roomy disk: nothing to do.
        let report = store.clean_expired_files(false).await.unwrap();
        assert_eq!((report.segments_deleted, report.disk_used_percent), (0, 10));
        env.storage.pass_time(2 * HOUR_MS);
        // Expired now, but it is not the deleteWhen hour.
        assert_eq!(
            store
                .clean_expired_files(false)
                .await
                .unwrap()
                .segments_deleted,
            0
        );
        check_queues_follow(&store, &acks).await;

        // TRIGGER_DELETE_FILES does not wait for the hour; two per run.
        let manual = store.clean_expired_files(true).await.unwrap();
        assert_eq!(manual.segments_deleted, 2);
        assert_eq!(segment_count(&env), 4);
        assert_eq!(
            store.commit_log_bounds().0,
            2 * env.config.mapped_file_size_commit_log
        );
        check_queues_follow(&store, &acks).await;

        // At the deleteWhen hour the rest of the expired segments go, but not the newest.
        store.shutdown().await.unwrap();
        let hour_now = local_hour(env.storage.now_ms());
        env.config.delete_when = format!("{other_hour:02};{hour_now}");
        let store = env.open().await;
        check_queues_follow(&store, &acks).await;
        let mut reports = Vec::new();
        for _ in 0..3 {
            reports.push(store.clean_expired_files(false).await.unwrap());
        }
        let deleted: Vec<usize> = reports.iter().map(|r| r.segments_deleted).collect();
        assert_eq!(deleted, [2, 1, 0]);
        assert_eq!(segment_count(&env), 1);
        assert!(
            reports
                .iter()
                .map(|r| r.consume_queue_files_deleted)
                .sum::<usize>()
                > 0
        );
        assert!(reports.iter().map(|r| r.index_files_deleted).sum::<usize>() > 0);
        check_queues_follow(&store, &acks).await;

        // The store goes on appending after its old files are gone.
        let record = message(TOPIC, 0, body(9999, 10), "TagA", "");
        let ok = store.put(&record).await.unwrap();
        assert_eq!(ok.queue_offset, acks[0].len() as u64);
    });
}

#[test]
fn disk_pressure_deletes_expired_segments_and_past_the_force_ratio_young_ones() {
    // Proves the disk rules: above diskMaxUsedSpaceRatio (75 %) expired segments go at
    // any hour; above diskSpaceCleanForciblyRatio (85 %) even young ones, oldest first.
    run_sim(retention_config, |mut env: Env<SimStorage>| async move {
        let hour_now = local_hour(env.storage.now_ms());
        env.config.delete_when = format!("{:02}", (hour_now + 12) % 24);
        env.config.file_reserved_time = 1;
        env.config.delete_file_batch_max = 3;
        let store = env.open().await;
        let acks = fill(&store, 4).await;

        env.storage.set_disk_used_percent(80);
        let young = store.clean_expired_files(false).await.unwrap();
        assert_eq!((young.segments_deleted, young.disk_used_percent), (0, 80));

        env.storage.set_disk_used_percent(86);
        let forced = store.clean_expired_files(false).await.unwrap();
        assert_eq!(forced.segments_deleted, 3);
        check_queues_follow(&store, &acks).await;

        // Back under the force ratio but over the max-used ratio: only expired files go.
        env.storage.set_disk_used_percent(80);
        assert_eq!(
            store
                .clean_expired_files(false)
                .await
                .unwrap()
                .segments_deleted,
            0
        );
        env.storage.pass_time(2 * HOUR_MS);
        assert_eq!(
            store
                .clean_expired_files(false)
                .await
                .unwrap()
                .segments_deleted,
            1
        );
        assert_eq!(segment_count(&env), 1);
        check_queues_follow(&store, &acks).await;
    });
}

#[test]
fn disk_full_refuses_puts_until_usage_drops_in_simulation() {
    // Proves puts probe the disk themselves (at most once a second): past
    // diskSpaceWarningLevelRatio (90 %) they fail with DiskFull and take no queue offset,
    // reads go on, and puts are accepted again once usage drops.
    run_sim(
        |_| {},
        |env: Env<SimStorage>| async move {
            let store = env.open().await;
            let put = |seq| message(TOPIC, 0, body(seq, 100), "TagA", "");
            assert_eq!(store.put(&put(0)).await.unwrap().queue_offset, 0);
            env.storage.set_disk_used_percent(93);
            env.storage.pass_time(1_000);
            match store.put(&put(1)).await {
                Err(PutError::DiskFull {
                    used_percent: 93,
                    limit_percent: 90,
                }) => {}
                other => panic!("expected DiskFull, got {other:?}"),
            }
            let batch = [put(2), put(3)];
            assert!(matches!(
                store.put_batch(&batch).await,
                Err(PutError::DiskFull { .. })
            ));
            let served = get(&store, TOPIC, 0, 0, 32, 1 << 20, ALL).await;
            assert_eq!(served.messages.len(), 1);
            env.storage.set_disk_used_percent(70);
            env.storage.pass_time(1_000);
            assert_eq!(store.put(&put(4)).await.unwrap().queue_offset, 1);
        },
    );
}

#[test]
fn disk_full_refuses_puts_until_usage_drops_on_real_files() {
    // Proves the same on DmaStorage with an injected disk probe, where the broker's
    // periodic clean_expired_files run is what notices the change.
    let dir = temp_store_dir("disk-full");
    let config = small_config(&dir);
    run_on_glommio(async move {
        let used = Rc::new(Cell::new(50));
        let probe = {
            let used = used.clone();
            move |_: &std::path::Path| Ok(used.get())
        };
        let storage = DmaStorage::with_disk_usage_probe(probe);
        let (store, _) = MessageStore::open(storage, config).await.unwrap();
        let put = |seq| message(TOPIC, 0, body(seq, 100), "TagA", "");
        assert_eq!(store.put(&put(0)).await.unwrap().queue_offset, 0);
        used.set(95);
        assert_eq!(
            store
                .clean_expired_files(false)
                .await
                .unwrap()
                .disk_used_percent,
            95
        );
        let refused = store.put(&put(1)).await;
        assert!(
            matches!(
                refused,
                Err(PutError::DiskFull {
                    used_percent: 95,
                    limit_percent: 90
                })
            ),
            "{refused:?}"
        );
        used.set(89);
        store.clean_expired_files(false).await.unwrap();
        assert_eq!(store.put(&put(2)).await.unwrap().queue_offset, 1);
        let served = get(&store, TOPIC, 0, 0, 32, 1 << 20, ALL).await;
        let bodies: Vec<_> = served
            .messages
            .iter()
            .map(|m| decode(&served_bytes(&m.data)).message.body)
            .collect();
        assert_eq!(bodies, [body(0, 100), body(2, 100)]);
        store.shutdown().await.unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
