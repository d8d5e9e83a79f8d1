//! Crash and corruption tests with real files and real processes.
//!
//! The crash tests re-run this test binary as a child (`RAMJET_CRASH_CHILD` set) that
//! appends from many tasks through the real `DmaStorage` store and prints one `ACK` line
//! per acknowledged record. The parent SIGKILLs it at a random moment, reopens the store,
//! and checks every acknowledged record, the ConsumeQueues and the cut tail.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{read_queue, record, test_seed, Rng};
use glommio::{LocalExecutorBuilder, Placement};
use ramjet_store::message::decode_record;
use ramjet_store::{DmaStorage, FlushDiskType, MessageStore, RecoveryStop, StoreConfig};

const CHILD_ENV: &str = "RAMJET_CRASH_CHILD";
const TOPIC: &str = "CrashTopic";
const QUEUES: i32 = 4;
const WRITERS: u64 = 16;

/// `direct`: the CommitLog's `writeDirect` (O_DIRECT writes, or the page cache).
fn config(dir: &Path, flush: FlushDiskType, direct: bool) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.mapped_file_size_commit_log = 512 * 1024;
    config.mapped_file_size_consume_queue = 20 * 2_000;
    config.max_message_size = 16 * 1024;
    config.write_buffer_bytes = 64 * 1024;
    config.write_buffer_count_max = 4;
    config.tail_cache_bytes = 256 * 1024;
    config.max_hash_slot_num = 1_000;
    config.max_index_num = 4_000;
    // The disk is shared with other checkouts; only retention.rs tests the full-disk refusal.
    config.disk_space_warning_level_ratio = 99;
    config.flush_disk_type = flush;
    config.write_direct = direct;
    config
}

fn body_of(writer: u64, seq: u64) -> Vec<u8> {
    let len = ((writer * 7919 + seq * 104_729) % 3000) as usize + 1;
    (0..len)
        .map(|at| (at as u64 * 31 + writer * 17 + seq) as u8)
        .collect()
}

fn run_on_executor<T: 'static>(future: impl std::future::Future<Output = T> + 'static) -> T {
    LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(8 << 20)
        .make()
        .expect("glommio executor")
        .run(future)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ramjet-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The child's body. Not a test on its own: without the variable it returns at once.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, dir) = spec.split_once(':').unwrap();
    let (flush, direct) = match mode.strip_suffix("-buffered") {
        Some(flush) => (flush, false),
        None => (mode, true),
    };
    let flush = if flush == "sync" {
        FlushDiskType::SyncFlush
    } else {
        FlushDiskType::AsyncFlush
    };
    let dir = PathBuf::from(dir);
    let generation: u64 = std::env::var("RAMJET_CRASH_GENERATION")
        .unwrap()
        .parse()
        .unwrap();
    run_on_executor(async move {
        let (store, _) = MessageStore::open(DmaStorage::new(), config(&dir, flush, direct))
            .await
            .unwrap();
        println!("READY");
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            let writer = generation * 1000 + writer;
            tasks.push(glommio::spawn_local(async move {
                for seq in 0.. {
                    let queue_id = ((writer + seq) % QUEUES as u64) as i32;
                    let keys = format!("w{writer}-{seq}");
                    let message = record(TOPIC, queue_id, body_of(writer, seq), &keys);
                    let ok = store.put(&message).await.unwrap();
                    println!(
                        "ACK {} {} {} {} {writer} {seq}",
                        ok.physical_offset, ok.size, queue_id, ok.queue_offset
                    );
                }
            }));
        }
        for task in tasks {
            task.await;
        }
    });
}

#[derive(Clone, Copy)]
struct Ack {
    physical_offset: u64,
    size: usize,
    queue_id: i32,
    queue_offset: u64,
    writer: u64,
    seq: u64,
}

fn run_child_and_kill(dir: &Path, flush: &str, generation: u64, rng: &mut Rng) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{flush}:{}", dir.display()))
        .env("RAMJET_CRASH_GENERATION", generation.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready_sender, ready) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.ends_with("READY") {
                let _ = ready_sender.send(());
            }
            let fields: Vec<&str> = line.split(' ').collect();
            // A line cut by the kill has fewer fields; it was not a complete ack print.
            if fields.len() == 7 && fields[0] == "ACK" {
                acks.push(Ack {
                    physical_offset: fields[1].parse().unwrap(),
                    size: fields[2].parse().unwrap(),
                    queue_id: fields[3].parse().unwrap(),
                    queue_offset: fields[4].parse().unwrap(),
                    writer: fields[5].parse().unwrap(),
                    seq: fields[6].parse().unwrap(),
                });
            }
        }
        acks
    });
    ready
        .recv_timeout(Duration::from_secs(30))
        .expect("child never got ready");
    std::thread::sleep(Duration::from_millis(20 + rng.below(250)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}

fn verify(
    dir: PathBuf,
    flush: FlushDiskType,
    direct: bool,
    acks: &'static [Ack],
    clean_shutdown: bool,
) {
    run_on_executor(async move {
        let (store, report) = MessageStore::open(DmaStorage::new(), config(&dir, flush, direct))
            .await
            .unwrap();
        assert!(report.abnormal, "SIGKILL leaves the abort file");
        // Several writes are in flight at once, and a full buffer's write ends at a block
        // boundary that may fall inside a record whose rest goes out with the next
        // buffer: a kill between the two leaves that record torn on disk. It was never
        // acknowledged (acks cover only records wholly inside completed writes), and
        // recovery cuts exactly there.
        match &report.stop {
            RecoveryStop::EndOfData => {}
            RecoveryStop::InvalidRecord { offset, .. } => assert_eq!(*offset, report.end_offset),
            other => panic!("unexpected recovery stop {other:?}: {report}"),
        }
        for ack in acks {
            assert!(
                ack.physical_offset + ack.size as u64 <= report.end_offset,
                "recovery cut an acknowledged record: {report}"
            );
        }
        for ack in acks {
            let bytes = store
                .read_by_physical_offset(ack.physical_offset)
                .await
                .expect("acked record lost");
            assert_eq!(bytes.len(), ack.size);
            let decoded = decode_record(&bytes, true).unwrap();
            assert_eq!(decoded.message.body, body_of(ack.writer, ack.seq));
            assert_eq!(
                decoded.message.properties.get("KEYS"),
                Some(format!("w{}-{}", ack.writer, ack.seq).as_str())
            );
            assert_eq!(decoded.message.queue_id, ack.queue_id);
            assert_eq!(decoded.stamp.queue_offset as u64, ack.queue_offset);
        }
        // The index is found by key after the crash: the live IndexFile is never synced
        // while keys keep coming, so recovery must have rebuilt it from the CommitLog.
        for ack in acks.iter().step_by(7) {
            let key = format!("w{}-{}", ack.writer, ack.seq);
            let found = store.query_by_key(TOPIC, &key, 32, 0, i64::MAX).await;
            assert!(
                found.messages.iter().any(|bytes| {
                    decode_record(bytes, true).is_ok_and(|decoded| {
                        decoded.message.properties.get("KEYS") == Some(key.as_str())
                    })
                }),
                "acked key {key} not found by query after recovery: {report}"
            );
        }
        // Every ConsumeQueue unit points at a record of its queue and offset (read_queue
        // checks), every acked queue offset is served, and the queues hold nothing else.
        let mut served = 0;
        for queue_id in 0..QUEUES {
            let records = read_queue(&store, TOPIC, queue_id).await;
            let acked_max = acks
                .iter()
                .filter(|ack| ack.queue_id == queue_id)
                .map(|ack| ack.queue_offset + 1)
                .max();
            assert!(records.len() as u64 >= acked_max.unwrap_or(0));
            served += records.len() as u64;
        }
        // Queues serve only records recovery found in the log: never more than the log
        // holds, and when the scan covered the whole log, no more than it scanned.
        let in_log = records_in_log(&store, report.end_offset).await;
        assert!(
            served <= in_log,
            "served {served} of {in_log} records in the log"
        );
        let (min, _) = store.commit_log_bounds();
        if report.scan_start_offset == min {
            assert!(
                served <= report.records_scanned,
                "served {served}, scanned {}: {report}",
                report.records_scanned
            );
        }
        // Every record the children appended is consumable (all are plain messages), so
        // none of those in the recovered log may be missing from the queues either.
        assert_eq!(
            served, in_log,
            "queues serve every record in the log: {report}"
        );
        // Nothing at or past the recovered end is served.
        let (_, max) = store.commit_log_bounds();
        assert_eq!(max, report.end_offset);
        assert!(store
            .read_by_physical_offset(report.end_offset)
            .await
            .is_none());
        if clean_shutdown {
            store.shutdown().await.unwrap();
        }
    });
}

/// Counts the records in `[min, end)` of the CommitLog by walking it record by record;
/// a segment's blank end-of-file record sends the walk to the next segment.
async fn records_in_log(store: &MessageStore<DmaStorage>, end: u64) -> u64 {
    let segment_size =
        config(Path::new("/"), FlushDiskType::AsyncFlush, true).mapped_file_size_commit_log;
    let (mut offset, _) = store.commit_log_bounds();
    let mut count = 0;
    while offset < end {
        let record = store.read_by_physical_offset(offset).await;
        match record.filter(|bytes| decode_record(bytes, true).is_ok()) {
            Some(bytes) => {
                count += 1;
                offset += bytes.len() as u64;
            }
            None => offset = (offset / segment_size + 1) * segment_size,
        }
    }
    count
}

fn crash_many_times(flush: FlushDiskType, direct: bool, name: &str, rounds: u64) {
    let seed = test_seed();
    let mut rng = Rng(seed);
    let dir = temp_dir(name);
    let mut all_acks = Vec::new();
    for generation in 0..rounds {
        let flush_arg = if flush == FlushDiskType::SyncFlush {
            "sync"
        } else {
            "async"
        };
        let mode = if direct {
            flush_arg.to_string()
        } else {
            format!("{flush_arg}-buffered")
        };
        let acks = run_child_and_kill(&dir, &mode, generation, &mut rng);
        eprintln!("round {generation}: {} acks", acks.len());
        all_acks.extend(acks);
        // Leak one copy per round so the executor closure can borrow it as 'static.
        let snapshot: &'static [Ack] = Box::leak(all_acks.clone().into_boxed_slice());
        verify(dir.clone(), flush, direct, snapshot, generation % 3 == 2);
    }
    assert!(
        all_acks.len() > 100,
        "the children acknowledged too little to prove anything"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn async_flush_loses_no_acknowledged_record_to_sigkill() {
    crash_many_times(FlushDiskType::AsyncFlush, true, "crash-async", 10);
}

#[test]
fn buffered_writes_lose_no_acknowledged_record_to_sigkill() {
    // writeDirect=false: an ASYNC_FLUSH ack means the page cache has the record, which
    // outlives the process.
    crash_many_times(FlushDiskType::AsyncFlush, false, "crash-buffered", 6);
}

#[test]
fn sync_flush_loses_no_acknowledged_record_to_sigkill() {
    crash_many_times(FlushDiskType::SyncFlush, true, "crash-sync", 8);
}

/// Writes `count` records to a fresh store, shuts it down cleanly, returns their offsets.
fn write_clean_store(dir: &Path, count: u64) -> Vec<(u64, usize)> {
    let dir = dir.to_path_buf();
    run_on_executor(async move {
        let (store, _) = MessageStore::open(
            DmaStorage::new(),
            config(&dir, FlushDiskType::AsyncFlush, true),
        )
        .await
        .unwrap();
        let mut offsets = Vec::new();
        for seq in 0..count {
            let ok = store
                .put(&record(TOPIC, 0, body_of(0, seq), ""))
                .await
                .unwrap();
            offsets.push((ok.physical_offset, ok.size));
        }
        store.shutdown().await.unwrap();
        offsets
    })
}

fn reopen_report(dir: &Path) -> (ramjet_store::RecoveryReport, u64) {
    let dir = dir.to_path_buf();
    run_on_executor(async move {
        let (store, report) = MessageStore::open(
            DmaStorage::new(),
            config(&dir, FlushDiskType::AsyncFlush, true),
        )
        .await
        .unwrap();
        let served = read_queue(&store, TOPIC, 0).await.len() as u64;
        (report, served)
    })
}

fn segment_of(dir: &Path, offset: u64) -> (PathBuf, u64) {
    let size = 512 * 1024;
    let base = offset / size * size;
    (
        dir.join("commitlog").join(format!("{base:020}")),
        offset - base,
    )
}

fn patch(path: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, at).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn flipped_byte_stops_recovery_at_the_damaged_record() {
    // A flipped body byte fails the CRC: everything from that record on is cut, and the
    // report names the offset and the reason.
    let dir = temp_dir("flip");
    let offsets = write_clean_store(&dir, 60);
    let (damaged, size) = offsets[40];
    let (path, in_file) = segment_of(&dir, damaged);
    let mut byte = [0u8; 1];
    {
        use std::os::unix::fs::FileExt;
        std::fs::File::open(&path)
            .unwrap()
            .read_exact_at(&mut byte, in_file + size as u64 - 30)
            .unwrap();
    }
    // Make it look like a crash so the scan starts early enough to see the damage.
    std::fs::File::create(dir.join("abort")).unwrap();
    std::fs::remove_file(dir.join("checkpoint")).unwrap();
    patch(&path, in_file + 100, &[byte[0] ^ 0xFF, 0xAB]);
    let (report, served) = reopen_report(&dir);
    assert_eq!(report.end_offset, damaged);
    assert!(
        matches!(&report.stop, RecoveryStop::InvalidRecord { offset, reason }
        if *offset == damaged && reason.contains("CRC")),
        "{report}"
    );
    assert_eq!(served, 40, "records after the damage are not served");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_segment_recovers_up_to_the_last_whole_record() {
    let dir = temp_dir("truncate");
    let offsets = write_clean_store(&dir, 40);
    let (last_offset, last_size) = *offsets.last().unwrap();
    let (path, in_file) = segment_of(&dir, last_offset);
    // Cut the file in the middle of the last record.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(in_file + last_size as u64 / 2)
        .unwrap();
    std::fs::File::create(dir.join("abort")).unwrap();
    let (report, served) = reopen_report(&dir);
    assert_eq!(report.end_offset, last_offset, "{report}");
    assert!(
        matches!(report.stop, RecoveryStop::InvalidRecord { offset, .. } if offset == last_offset),
        "{report}"
    );
    assert_eq!(served, 39);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        512 * 1024,
        "segment restored to full size"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zeroed_tail_is_cut_and_the_store_appends_after_it() {
    let dir = temp_dir("zero");
    let offsets = write_clean_store(&dir, 50);
    let (cut_at, _) = offsets[45];
    let (path, in_file) = segment_of(&dir, cut_at);
    let end = offsets
        .last()
        .map(|(offset, size)| offset + *size as u64)
        .unwrap();
    patch(&path, in_file, &vec![0u8; (end - cut_at) as usize]);
    std::fs::File::create(dir.join("abort")).unwrap();
    std::fs::remove_file(dir.join("checkpoint")).unwrap();
    let (report, served) = reopen_report(&dir);
    assert_eq!(report.end_offset, cut_at, "{report}");
    assert_eq!(report.stop, RecoveryStop::EndOfData);
    assert_eq!(
        served, 45,
        "ConsumeQueue units of the zeroed records were dropped"
    );
    // The store keeps working after the cut: the next record goes where the cut was.
    let dir_for_put = dir.clone();
    let (offset, queue_offset) = run_on_executor(async move {
        let (store, _) = MessageStore::open(
            DmaStorage::new(),
            config(&dir_for_put, FlushDiskType::SyncFlush, true),
        )
        .await
        .unwrap();
        let ok = store
            .put(&record(TOPIC, 0, b"after".to_vec(), ""))
            .await
            .unwrap();
        (ok.physical_offset, ok.queue_offset)
    });
    assert_eq!((offset, queue_offset), (cut_at, 45));
    std::fs::remove_dir_all(&dir).unwrap();
}
