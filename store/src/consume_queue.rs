//! ConsumeQueue: one per (topic, queueId), 20-byte units pointing into the CommitLog
//! (store-format.md §4). Unit n is queue offset n, at byte n × 20 of the logical queue,
//! split into files of `mapped_file_size_consume_queue` bytes named by their start byte.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::offset_to_file_name;
use crate::error::StoreError;
use crate::storage::{release_job, sync_job, MappedFile, ReleaseJob, Storage, SyncJob};

/// One unit per message: CommitLog offset (8), size (4), tag hash (8).
pub const CQ_UNIT_BYTES: u64 = 20;
const _: () = assert!(CQ_UNIT_BYTES == 8 + 4 + 8);

/// `fillPreBlank` units: a queue whose first file starts before its first message.
const BLANK_UNIT_SIZE: i32 = i32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqUnit {
    pub commit_log_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl CqUnit {
    fn to_bytes(self) -> [u8; 20] {
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&self.commit_log_offset.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.size.to_be_bytes());
        bytes[12..].copy_from_slice(&self.tags_code.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8; 20]) -> Self {
        Self {
            commit_log_offset: i64::from_be_bytes(bytes[..8].try_into().unwrap()),
            size: i32::from_be_bytes(bytes[8..12].try_into().unwrap()),
            tags_code: i64::from_be_bytes(bytes[12..].try_into().unwrap()),
        }
    }

    /// Recovery's rule: the first unit with `offset < 0 || size <= 0` ends the valid data.
    fn is_valid(self) -> bool {
        self.commit_log_offset >= 0 && self.size > 0
    }

    pub fn is_blank(self) -> bool {
        self.size == BLANK_UNIT_SIZE && self.commit_log_offset == 0
    }
}

/// What happened to a unit handed to [`ConsumeQueue::put`].
#[derive(Debug, PartialEq, Eq)]
pub enum CqPut {
    Appended,
    /// Already there (recovery re-dispatch).
    Duplicate,
    /// The queue is missing units before this one; recovery must start earlier.
    Gap {
        expected: u64,
    },
}

pub struct ConsumeQueue<S: Storage> {
    storage: S,
    pub topic: String,
    pub queue_id: i32,
    dir: PathBuf,
    file_size: u64,
    /// File start byte -> mapped file.
    files: BTreeMap<u64, S::Mapped>,
    min_offset: u64,
    max_offset: u64,
    /// Files written since the last msync.
    dirty_files: BTreeSet<u64>,
    /// A get already logged a damaged unit of this queue.
    pub(crate) damage_logged: Cell<bool>,
}

impl<S: Storage> ConsumeQueue<S> {
    /// Opens (or starts) the queue and finds where its valid units end.
    pub fn open(
        storage: S,
        root: &Path,
        topic: &str,
        queue_id: i32,
        file_size: u64,
    ) -> Result<Self, StoreError> {
        assert_eq!(file_size % CQ_UNIT_BYTES, 0, "units never straddle files");
        let dir = root.join(topic).join(queue_id.to_string());
        let mut files = BTreeMap::new();
        for name in storage.list_dir(&dir).map_err(StoreError::io(&dir))? {
            let Ok(start) = name.parse::<u64>() else {
                continue;
            };
            let path = dir.join(&name);
            let actual = storage.file_len(&path).map_err(StoreError::io(&path))?;
            if actual != file_size {
                return Err(StoreError::UnexpectedFileSize {
                    path,
                    actual,
                    expected: file_size,
                });
            }
            files.insert(
                start,
                storage
                    .map_file(&path, file_size)
                    .map_err(StoreError::io(&path))?,
            );
        }
        let mut queue = Self {
            storage,
            topic: topic.to_string(),
            queue_id,
            dir,
            file_size,
            files,
            min_offset: 0,
            max_offset: 0,
            dirty_files: BTreeSet::new(),
            damage_logged: Cell::new(false),
        };
        queue.recover();
        Ok(queue)
    }

    /// Scans from the third-last file (as Java) to the first invalid unit, and zeroes what
    /// follows it so a later scan stops at the same place.
    fn recover(&mut self) {
        let starts: Vec<u64> = self.files.keys().copied().collect();
        let Some(&first) = starts.first() else { return };
        let scan_from = starts[starts.len().saturating_sub(3)];
        let mut end_byte = scan_from;
        'files: for &start in starts.iter().filter(|start| **start >= scan_from) {
            if start != end_byte {
                break; // A missing file: everything after it is unreachable.
            }
            for unit_at in (0..self.file_size).step_by(CQ_UNIT_BYTES as usize) {
                if !self.read_unit_at(start + unit_at).is_valid() {
                    end_byte = start + unit_at;
                    break 'files;
                }
            }
            end_byte = start + self.file_size;
        }
        self.max_offset = end_byte / CQ_UNIT_BYTES;
        self.min_offset = first / CQ_UNIT_BYTES;
        self.cut_after(self.max_offset);
    }

    fn read_unit_at(&self, byte: u64) -> CqUnit {
        let start = byte / self.file_size * self.file_size;
        let Some(file) = self.files.get(&start) else {
            return CqUnit::from_bytes(&[0; 20]);
        };
        let mut bytes = [0u8; 20];
        file.read(byte - start, &mut bytes);
        CqUnit::from_bytes(&bytes)
    }

    fn write_unit(&mut self, queue_offset: u64, unit: CqUnit) -> Result<(), StoreError> {
        let byte = queue_offset * CQ_UNIT_BYTES;
        let start = byte / self.file_size * self.file_size;
        if !self.files.contains_key(&start) {
            self.storage
                .create_dir_all(&self.dir)
                .map_err(StoreError::io(&self.dir))?;
            let path = self.dir.join(offset_to_file_name(start));
            let file = self
                .storage
                .map_file(&path, self.file_size)
                .map_err(StoreError::io(&path))?;
            self.files.insert(start, file);
        }
        self.files
            .get_mut(&start)
            .unwrap()
            .write(byte - start, &unit.to_bytes());
        self.dirty_files.insert(start);
        Ok(())
    }

    /// Appends the unit for `queue_offset` (dispatch), or recognises it as already there.
    pub fn put(&mut self, queue_offset: u64, unit: CqUnit) -> Result<CqPut, StoreError> {
        assert!(unit.size > 0);
        assert!(unit.commit_log_offset >= 0);
        if queue_offset < self.max_offset {
            if queue_offset >= self.min_offset && self.get(queue_offset) == Some(unit) {
                return Ok(CqPut::Duplicate);
            }
            // A unit from before a crash pointing elsewhere: the CommitLog is the truth.
            self.truncate_to(queue_offset.max(self.min_offset));
        }
        if queue_offset > self.max_offset {
            if !self.files.is_empty() {
                return Ok(CqPut::Gap {
                    expected: self.max_offset,
                });
            }
            self.fill_pre_blank(queue_offset)?;
        }
        // Dispatch follows CommitLog order; going backwards means a message was replayed.
        if let Some(last) = self
            .max_offset
            .checked_sub(1)
            .and_then(|last| self.get(last))
        {
            assert!(last.is_blank() || last.commit_log_offset < unit.commit_log_offset);
        }
        self.write_unit(queue_offset, unit)?;
        self.max_offset = queue_offset + 1;
        Ok(CqPut::Appended)
    }

    /// A new queue whose first message has offset > 0 (after retention removed its files,
    /// or a reset): blank units from the start of that file, as Java's `fillPreBlank`.
    fn fill_pre_blank(&mut self, queue_offset: u64) -> Result<(), StoreError> {
        let units_per_file = self.file_size / CQ_UNIT_BYTES;
        let file_first = queue_offset / units_per_file * units_per_file;
        let blank = CqUnit {
            commit_log_offset: 0,
            size: BLANK_UNIT_SIZE,
            tags_code: 0,
        };
        for offset in file_first..queue_offset {
            self.write_unit(offset, blank)?;
        }
        self.min_offset = queue_offset;
        self.max_offset = queue_offset;
        Ok(())
    }

    /// Last resort of recovery when the units before `queue_offset` are gone for good
    /// (their records were deleted too): blanks keep later offsets where clients expect.
    pub fn fill_blank_until(&mut self, queue_offset: u64) -> Result<(), StoreError> {
        let blank = CqUnit {
            commit_log_offset: 0,
            size: BLANK_UNIT_SIZE,
            tags_code: 0,
        };
        for offset in self.max_offset..queue_offset {
            self.write_unit(offset, blank)?;
        }
        self.max_offset = self.max_offset.max(queue_offset);
        Ok(())
    }

    pub fn get(&self, queue_offset: u64) -> Option<CqUnit> {
        if queue_offset < self.min_offset || queue_offset >= self.max_offset {
            return None;
        }
        Some(self.read_unit_at(queue_offset * CQ_UNIT_BYTES))
    }

    /// The first queue offset still served.
    pub fn min_offset(&self) -> u64 {
        self.min_offset
    }

    /// The next queue offset to be written. Java clients compute lag as max - current, so
    /// the first free slot is reported, not the last used one.
    pub fn max_offset(&self) -> u64 {
        self.max_offset
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first queue offset past the file holding `queue_offset`: one pull reads units
    /// from one file only, as Java's `getIndexBuffer` does.
    pub fn file_end_offset(&self, queue_offset: u64) -> u64 {
        let units_per_file = self.file_size / CQ_UNIT_BYTES;
        (queue_offset / units_per_file + 1) * units_per_file
    }

    /// Drops units from `queue_offset` on.
    fn truncate_to(&mut self, queue_offset: u64) {
        assert!(queue_offset >= self.min_offset);
        self.cut_after(queue_offset);
        self.max_offset = queue_offset;
    }

    /// Zeroes every unit from `queue_offset` on and removes files that hold none before it.
    fn cut_after(&mut self, queue_offset: u64) {
        let byte = queue_offset * CQ_UNIT_BYTES;
        let Some(&first) = self.files.keys().next() else {
            return;
        };
        let from_file = byte / self.file_size * self.file_size;
        let starts: Vec<u64> = self
            .files
            .range(from_file..)
            .map(|(start, _)| *start)
            .collect();
        for start in starts {
            if start >= byte && start != first {
                self.files.remove(&start);
                self.dirty_files.remove(&start);
                let path = self.dir.join(offset_to_file_name(start));
                if let Err(error) = self.storage.remove_file(&path) {
                    tracing::warn!(path = %path.display(), %error, "could not remove ConsumeQueue file");
                }
                continue;
            }
            let from = byte.max(start) - start;
            let file = self.files.get_mut(&start).unwrap();
            let mut rest = vec![0u8; (self.file_size - from) as usize];
            file.read(from, &mut rest);
            if rest.iter().any(|byte| *byte != 0) {
                rest.fill(0);
                file.write(from, &rest);
                self.dirty_files.insert(start);
            }
        }
    }

    /// `truncateDirtyLogicFiles`: removes units that point at or past the CommitLog end.
    pub fn truncate_dirty(&mut self, commit_log_end: u64) {
        let mut keep = self.max_offset;
        while keep > self.min_offset {
            let unit = self.read_unit_at((keep - 1) * CQ_UNIT_BYTES);
            if unit.is_blank() || (unit.commit_log_offset as u64) < commit_log_end {
                break;
            }
            keep -= 1;
        }
        if keep < self.max_offset {
            tracing::warn!(
                topic = %self.topic, queue_id = self.queue_id, from = keep, to = self.max_offset,
                "recovery: dropped ConsumeQueue units past the CommitLog end"
            );
            self.truncate_to(keep);
        }
    }

    /// First unit whose record is still in the CommitLog (`correctMinOffset`). Units are
    /// in CommitLog order, so a binary search finds it.
    pub fn correct_min_offset(&mut self, commit_log_min: u64) {
        let (mut low, mut high) = (self.min_offset, self.max_offset);
        while low < high {
            let middle = low + (high - low) / 2;
            let unit = self.read_unit_at(middle * CQ_UNIT_BYTES);
            if unit.is_blank() || (unit.commit_log_offset as u64) < commit_log_min {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        self.min_offset = low;
    }

    /// Drops files whose every unit points below `commit_log_min`, never the last one, and
    /// returns them for the caller to remove off the shard's thread.
    pub fn forget_expired_files(&mut self, commit_log_min: u64) -> Vec<(PathBuf, S::Mapped)> {
        self.correct_min_offset(commit_log_min);
        let min_byte = self.min_offset * CQ_UNIT_BYTES;
        let expired: Vec<u64> = self
            .files
            .keys()
            .copied()
            .filter(|start| start + self.file_size <= min_byte)
            .collect();
        let mut forgotten = Vec::new();
        for start in expired {
            if self.files.len() <= 1 {
                break;
            }
            let Some(mapped) = self.files.remove(&start) else {
                continue;
            };
            self.dirty_files.remove(&start);
            forgotten.push((self.dir.join(offset_to_file_name(start)), mapped));
        }
        forgotten
    }

    /// The msyncs of the files written since the last call.
    /// Releases the resident pages of the files no dispatch writes any more (all but the
    /// last) that were read or written since their last release: a consumer catching up
    /// maps them back as it reads, and they stop counting once it has moved on.
    pub fn release_cold(&self) -> Vec<ReleaseJob> {
        let live = self.files.keys().next_back().copied();
        self.files
            .iter()
            .filter(|(start, file)| Some(**start) != live && file.touched())
            .map(|(_, file)| release_job(file, 0..self.file_size))
            .collect()
    }

    pub fn sync(&mut self) -> Vec<SyncJob> {
        let mut jobs = Vec::new();
        for start in std::mem::take(&mut self.dirty_files) {
            if let Some(file) = self.files.get(&start) {
                jobs.push(sync_job(file, &self.dir.join(offset_to_file_name(start))));
            }
        }
        jobs
    }
}

#[cfg(test)]
#[path = "consume_queue_tests.rs"]
mod tests;
