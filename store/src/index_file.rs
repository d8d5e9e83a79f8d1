//! IndexFile: RocketMQ's on-disk hash index from `topic#key` to CommitLog offsets
//! (store-format.md §5): a 40-byte header, `hash_slot_num` 4-byte slots holding the newest
//! entry of their bucket, and `index_num` 20-byte entries chained to older ones.

use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::message::java_string_hash;
use crate::storage::{release_job, sync_job, MappedFile, ReleaseJob, Storage, SyncJob};

pub const INDEX_HEADER_BYTES: u64 = 40;
const SLOT_BYTES: u64 = 4;
const ENTRY_BYTES: u64 = 20;
const _: () = assert!(ENTRY_BYTES == 4 + 8 + 4 + 4);
/// Entry number 0 is never used, so 0 in a slot or a chain means "none".
const INVALID_INDEX: i32 = 0;

pub fn index_file_len(hash_slot_num: u32, index_num: u32) -> u64 {
    INDEX_HEADER_BYTES + u64::from(hash_slot_num) * SLOT_BYTES + u64::from(index_num) * ENTRY_BYTES
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexHeader {
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
    pub begin_phy_offset: i64,
    pub end_phy_offset: i64,
    pub hash_slot_count: i32,
    /// Starts at 1: entry 0 is the "none" sentinel.
    pub index_count: i32,
}

impl IndexHeader {
    fn to_bytes(self) -> [u8; 40] {
        let mut bytes = [0u8; 40];
        bytes[..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.begin_phy_offset.to_be_bytes());
        bytes[24..32].copy_from_slice(&self.end_phy_offset.to_be_bytes());
        bytes[32..36].copy_from_slice(&self.hash_slot_count.to_be_bytes());
        bytes[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8; 40]) -> Self {
        let i64_at = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let i32_at = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        Self {
            begin_timestamp: i64_at(0),
            end_timestamp: i64_at(8),
            begin_phy_offset: i64_at(16),
            end_phy_offset: i64_at(24),
            hash_slot_count: i32_at(32),
            index_count: i32_at(36).max(1),
        }
    }
}

/// `abs(key.hashCode())`, where `abs(Integer.MIN_VALUE)` stays negative and Java uses 0.
pub fn index_key_hash(key: &str) -> i32 {
    let hash = java_string_hash(key);
    if hash == i32::MIN {
        0
    } else {
        hash.abs()
    }
}

pub struct IndexFile<S: Storage> {
    pub path: PathBuf,
    file: S::Mapped,
    hash_slot_num: u32,
    index_num: u32,
    header: IndexHeader,
}

impl<S: Storage> IndexFile<S> {
    /// Its path and mapping, for retention to release off the shard's thread.
    pub fn into_parts(self) -> (PathBuf, S::Mapped) {
        (self.path, self.file)
    }

    /// Opens an existing file or creates one whose header continues from `previous_end`.
    pub fn open(
        storage: &S,
        path: &Path,
        hash_slot_num: u32,
        index_num: u32,
        previous_end: Option<(i64, i64)>,
    ) -> Result<Self, StoreError> {
        let len = index_file_len(hash_slot_num, index_num);
        let existed = storage.exists(path);
        if existed {
            let actual = storage.file_len(path).map_err(StoreError::io(path))?;
            if actual != len {
                return Err(StoreError::UnexpectedFileSize {
                    path: path.into(),
                    actual,
                    expected: len,
                });
            }
        }
        let file = storage.map_file(path, len).map_err(StoreError::io(path))?;
        let mut bytes = [0u8; 40];
        file.read(0, &mut bytes);
        let mut header = IndexHeader::from_bytes(&bytes);
        if !existed {
            if let Some((phy_offset, timestamp)) = previous_end {
                header.begin_phy_offset = phy_offset;
                header.end_phy_offset = phy_offset;
                header.begin_timestamp = timestamp;
                header.end_timestamp = timestamp;
            }
        }
        let mut index = Self {
            path: path.into(),
            file,
            hash_slot_num,
            index_num,
            header,
        };
        index.write_header();
        Ok(index)
    }

    pub fn header(&self) -> IndexHeader {
        self.header
    }

    pub fn is_full(&self) -> bool {
        self.header.index_count as u32 >= self.index_num
    }

    fn write_header(&mut self) {
        self.file.write(0, &self.header.to_bytes());
    }

    fn slot_position(&self, key_hash: i32) -> u64 {
        INDEX_HEADER_BYTES + (key_hash as u32 % self.hash_slot_num) as u64 * SLOT_BYTES
    }

    fn entry_position(&self, entry: i32) -> u64 {
        INDEX_HEADER_BYTES + u64::from(self.hash_slot_num) * SLOT_BYTES + entry as u64 * ENTRY_BYTES
    }

    fn read_i32(&self, position: u64) -> i32 {
        let mut bytes = [0u8; 4];
        self.file.read(position, &mut bytes);
        i32::from_be_bytes(bytes)
    }

    /// `IndexFile.putKey`. False when the file is full.
    pub fn put_key(&mut self, key: &str, phy_offset: i64, store_timestamp: i64) -> bool {
        if self.is_full() {
            return false;
        }
        let key_hash = index_key_hash(key);
        let slot_position = self.slot_position(key_hash);
        let mut slot_value = self.read_i32(slot_position);
        if slot_value <= INVALID_INDEX || slot_value > self.header.index_count {
            slot_value = INVALID_INDEX;
        }
        let time_diff = if self.header.begin_timestamp <= 0 {
            0
        } else {
            ((store_timestamp - self.header.begin_timestamp) / 1000).clamp(0, i64::from(i32::MAX))
        };
        let entry = self.header.index_count;
        let mut bytes = [0u8; 20];
        bytes[..4].copy_from_slice(&key_hash.to_be_bytes());
        bytes[4..12].copy_from_slice(&phy_offset.to_be_bytes());
        bytes[12..16].copy_from_slice(&(time_diff as i32).to_be_bytes());
        bytes[16..20].copy_from_slice(&slot_value.to_be_bytes());
        self.file.write(self.entry_position(entry), &bytes);
        self.file.write(slot_position, &entry.to_be_bytes());
        if self.header.index_count <= 1 {
            self.header.begin_phy_offset = phy_offset;
            self.header.begin_timestamp = store_timestamp;
        }
        if slot_value == INVALID_INDEX {
            self.header.hash_slot_count += 1;
        }
        self.header.index_count += 1;
        self.header.end_phy_offset = phy_offset;
        self.header.end_timestamp = store_timestamp;
        self.write_header();
        true
    }

    /// Java's `isTimeMatched`: does this file's time span meet `[begin, end]`?
    pub fn is_time_matched(&self, begin: i64, end: i64) -> bool {
        let (first, last) = (self.header.begin_timestamp, self.header.end_timestamp);
        (begin < first && end > last)
            || (begin >= first && begin <= last)
            || (end >= first && end <= last)
    }

    /// `IndexFile.selectPhyOffset`: newest first along the bucket's chain.
    pub fn select_phy_offsets(
        &self,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
        out: &mut Vec<i64>,
    ) {
        let key_hash = index_key_hash(key);
        let mut next = self.read_i32(self.slot_position(key_hash));
        if next <= INVALID_INDEX || next > self.header.index_count {
            return;
        }
        while out.len() < max {
            let mut bytes = [0u8; 20];
            self.file.read(self.entry_position(next), &mut bytes);
            let hash_read = i32::from_be_bytes(bytes[..4].try_into().unwrap());
            let phy_offset = i64::from_be_bytes(bytes[4..12].try_into().unwrap());
            let time_diff = i32::from_be_bytes(bytes[12..16].try_into().unwrap());
            let previous = i32::from_be_bytes(bytes[16..20].try_into().unwrap());
            if time_diff < 0 {
                break;
            }
            let time = self.header.begin_timestamp + i64::from(time_diff) * 1000;
            if hash_read == key_hash && time >= begin && time <= end {
                out.push(phy_offset);
            }
            if previous <= INVALID_INDEX
                || previous > self.header.index_count
                || previous == next
                || time < begin
            {
                break;
            }
            next = previous;
        }
    }

    pub fn sync(&self) -> SyncJob {
        sync_job(&self.file, &self.path)
    }

    /// Releases the resident pages no put will touch again, if the file was used since
    /// the last release: a full file's whole mapping (queries map back what they read),
    /// or the live file's entries written so far. The live file's header and hash slots
    /// stay: every put reads and writes a random slot.
    pub fn release_cold(&self, live: bool) -> Option<ReleaseJob> {
        if !self.file.touched() {
            return None;
        }
        let range = if live {
            self.entry_position(0)..self.entry_position(self.header.index_count)
        } else {
            0..self.file.len_bytes()
        };
        Some(release_job(&self.file, range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SimFaults, SimStorage};

    #[test]
    fn entries_chain_per_slot_in_rocketmq_layout() {
        // Proves header/slot/entry positions and the newest-first chain.
        let storage = SimStorage::new(1, SimFaults::default());
        let path = Path::new("/index/x");
        let mut index = IndexFile::open(&storage, path, 4, 10, None).unwrap();
        let t0 = 1_700_000_000_000;
        assert!(index.put_key("T#a", 100, t0));
        assert!(index.put_key("T#b", 200, t0 + 2_000));
        assert!(index.put_key("T#a", 300, t0 + 5_000));
        let bytes = storage.file_bytes(path).unwrap();
        assert_eq!(bytes.len() as u64, index_file_len(4, 10));
        assert_eq!(i32::from_be_bytes(bytes[36..40].try_into().unwrap()), 4); // count from 1
        let hash_a = index_key_hash("T#a");
        let slot_at = 40 + (hash_a as usize % 4) * 4;
        assert_eq!(
            i32::from_be_bytes(bytes[slot_at..slot_at + 4].try_into().unwrap()),
            3
        );
        let entry3 = 40 + 16 + 3 * 20;
        assert_eq!(
            i32::from_be_bytes(bytes[entry3..entry3 + 4].try_into().unwrap()),
            hash_a
        );
        assert_eq!(
            i32::from_be_bytes(bytes[entry3 + 12..entry3 + 16].try_into().unwrap()),
            5
        );
        let mut found = Vec::new();
        index.select_phy_offsets("T#a", 10, 0, i64::MAX, &mut found);
        assert_eq!(found, vec![300, 100]);
        found.clear();
        index.select_phy_offsets("T#a", 10, t0 + 3_000, i64::MAX, &mut found);
        assert_eq!(found, vec![300]);
        // Reopening reads the same header.
        let reopened = IndexFile::open(&storage, path, 4, 10, None).unwrap();
        assert_eq!(reopened.header(), index.header());
    }

    #[test]
    fn min_value_hash_maps_to_zero_like_java() {
        assert_eq!(index_key_hash(""), 0);
        assert!(index_key_hash("TopicTest#order-1") > 0);
    }
}
