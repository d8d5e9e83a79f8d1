use proptest::prelude::*;

use super::*;
use crate::storage::{SimFaults, SimStorage};

const FILE_UNITS: u64 = 8;

fn open(storage: &SimStorage) -> ConsumeQueue<SimStorage> {
    ConsumeQueue::open(
        storage.clone(),
        Path::new("/cq"),
        "T",
        1,
        FILE_UNITS * CQ_UNIT_BYTES,
    )
    .unwrap()
}

fn unit(n: u64) -> CqUnit {
    CqUnit {
        commit_log_offset: (n * 100) as i64,
        size: 100,
        tags_code: n as i64 - 5,
    }
}

#[test]
fn units_are_twenty_bytes_in_files_named_by_start_byte() {
    // Proves the on-disk layout: unit n at byte n*20, file names = start byte, 20 digits.
    let storage = SimStorage::new(1, SimFaults::default());
    let mut queue = open(&storage);
    for n in 0..10 {
        assert_eq!(queue.put(n, unit(n)).unwrap(), CqPut::Appended);
    }
    let second = storage
        .file_bytes(Path::new("/cq/T/1/00000000000000000160"))
        .unwrap();
    assert_eq!(&second[..8], &800i64.to_be_bytes()); // Unit 8: offset 800,
    assert_eq!(&second[8..12], &100i32.to_be_bytes()); // size 100,
    assert_eq!(&second[12..20], &3i64.to_be_bytes()); // tag hash 3.
    assert_eq!((queue.min_offset(), queue.max_offset()), (0, 10));
}

#[test]
fn redispatch_is_idempotent_and_gaps_are_reported() {
    let storage = SimStorage::new(1, SimFaults::default());
    let mut queue = open(&storage);
    for n in 0..3 {
        queue.put(n, unit(n)).unwrap();
    }
    assert_eq!(queue.put(1, unit(1)).unwrap(), CqPut::Duplicate);
    assert_eq!(queue.put(5, unit(5)).unwrap(), CqPut::Gap { expected: 3 });
    // A different unit at an existing offset: the CommitLog wins and the tail is cut.
    let other = CqUnit {
        commit_log_offset: 150,
        size: 10,
        tags_code: 0,
    };
    assert_eq!(queue.put(1, other).unwrap(), CqPut::Appended);
    assert_eq!(queue.max_offset(), 2);
    assert_eq!(queue.get(1), Some(other));
}

#[test]
fn empty_queue_starting_late_is_pre_filled_with_blanks() {
    let storage = SimStorage::new(1, SimFaults::default());
    let mut queue = open(&storage);
    queue.put(11, unit(11)).unwrap();
    assert_eq!((queue.min_offset(), queue.max_offset()), (11, 12));
    let reopened = open(&storage);
    assert_eq!(reopened.max_offset(), 12);
    assert_eq!(reopened.get(11), Some(unit(11)));
}

#[test]
fn truncate_dirty_and_min_offset_follow_the_commit_log() {
    let storage = SimStorage::new(1, SimFaults::default());
    let mut queue = open(&storage);
    for n in 0..20 {
        queue.put(n, unit(n)).unwrap();
    }
    queue.truncate_dirty(1_250); // Units 13.. point at or past the end.
    assert_eq!(queue.max_offset(), 13);
    assert_eq!(open(&storage).max_offset(), 13, "the cut is on disk too");
    assert_eq!(queue.forget_expired_files(850).len(), 1); // Units 0..8 (file 0) all below 850.
    assert_eq!(queue.min_offset(), 9);
    assert_eq!(queue.get(8), None);
    assert_eq!(queue.get(9), Some(unit(9)));
}

proptest! {
    #[test]
    fn lookups_match_a_model_across_reopen_and_truncation(
        count in 0..60u64, cut in 0..70u64, reopen in any::<bool>()
    ) {
        let storage = SimStorage::new(1, SimFaults::default());
        let mut queue = open(&storage);
        for n in 0..count {
            prop_assert_eq!(queue.put(n, unit(n)).unwrap(), CqPut::Appended);
        }
        queue.truncate_dirty(cut * 100);
        let expected_max = count.min(cut);
        if reopen {
            queue = open(&storage);
        }
        prop_assert_eq!(queue.max_offset(), expected_max);
        for n in 0..count + 2 {
            let expected = (n < expected_max).then(|| unit(n));
            prop_assert_eq!(queue.get(n), expected);
        }
    }
}

#[test]
fn sealed_files_release_their_pages_after_each_use_and_the_live_file_never() {
    // Proves what bounds the broker's mapped memory: a file dispatch no longer writes is
    // released once after each use, the file being written stays, and an unused file
    // costs nothing. The units stay readable after a release.
    let storage = SimStorage::new(1, SimFaults::default());
    let file_bytes = 1024 * CQ_UNIT_BYTES; // Five whole pages.
    let mut queue =
        ConsumeQueue::open(storage.clone(), Path::new("/cq"), "T", 1, file_bytes).unwrap();
    for n in 0..2048 + 10 {
        queue.put(n, unit(n)).unwrap();
    }
    let released =
        |start: u64| storage.released_bytes(&Path::new("/cq/T/1").join(offset_to_file_name(start)));
    let run = |jobs: Vec<ReleaseJob>| {
        let count = jobs.len();
        for job in jobs {
            futures_lite::future::block_on(job).unwrap();
        }
        count
    };
    assert_eq!(run(queue.release_cold()), 2, "the two sealed files");
    assert_eq!(released(0), file_bytes);
    assert_eq!(released(file_bytes), file_bytes);
    assert_eq!(released(2 * file_bytes), 0, "the live file stays mapped");
    assert_eq!(run(queue.release_cold()), 0, "nothing was used since");
    // A consumer catching up reads the first file again: it alone is released again.
    assert_eq!(queue.get(5), Some(unit(5)));
    assert_eq!(run(queue.release_cold()), 1);
    assert_eq!(released(0), 2 * file_bytes);
    assert_eq!(released(file_bytes), file_bytes);
    assert_eq!(queue.get(1500), Some(unit(1500)));
}
