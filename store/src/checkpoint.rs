//! `StoreCheckpoint` (store-format.md §6.1): a 4096-byte mapped file of store timestamps
//! telling recovery how far CommitLog, ConsumeQueues and index were durable.

use std::path::Path;

use crate::error::StoreError;
use crate::storage::{sync_job, MappedFile, Storage};

pub const CHECKPOINT_FILE_BYTES: u64 = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointTimes {
    /// Store time of the last flushed CommitLog record.
    pub physic_msg_timestamp: i64,
    /// Store time of the last flushed ConsumeQueue unit.
    pub logics_msg_timestamp: i64,
    /// Store time of the last flushed index entry.
    pub index_msg_timestamp: i64,
}

impl CheckpointTimes {
    /// `getMinTimestamp`: 3 s of slack for clocks and unflushed stragglers.
    pub fn min_timestamp(&self) -> i64 {
        (self.physic_msg_timestamp.min(self.logics_msg_timestamp) - 3000).max(0)
    }

    /// `getMinTimestampIndex`.
    pub fn min_timestamp_index(&self) -> i64 {
        self.min_timestamp().min(self.index_msg_timestamp)
    }
}

pub struct Checkpoint<S: Storage> {
    file: S::Mapped,
    times: CheckpointTimes,
}

impl<S: Storage> Checkpoint<S> {
    pub fn open(storage: &S, path: &Path) -> Result<Self, StoreError> {
        let file = storage
            .map_file(path, CHECKPOINT_FILE_BYTES)
            .map_err(StoreError::io(path))?;
        let mut bytes = [0u8; 24];
        file.read(0, &mut bytes);
        let at = |i: usize| i64::from_be_bytes(bytes[i..i + 8].try_into().unwrap());
        let times = CheckpointTimes {
            physic_msg_timestamp: at(0),
            logics_msg_timestamp: at(8),
            index_msg_timestamp: at(16),
        };
        Ok(Self { file, times })
    }

    pub fn times(&self) -> CheckpointTimes {
        self.times
    }

    /// Records and msyncs new times. Callers sync the data they describe first. The
    /// msync is awaited without borrowing the checkpoint.
    pub fn store(
        &mut self,
        times: CheckpointTimes,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + 'static {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&times.physic_msg_timestamp.to_be_bytes());
        bytes[8..16].copy_from_slice(&times.logics_msg_timestamp.to_be_bytes());
        bytes[16..24].copy_from_slice(&times.index_msg_timestamp.to_be_bytes());
        self.file.write(0, &bytes);
        self.times = times;
        sync_job(&self.file, Path::new("checkpoint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SimFaults, SimStorage};

    #[test]
    fn times_survive_reopen_and_min_keeps_three_seconds_of_slack() {
        let storage = SimStorage::new(1, SimFaults::default());
        let path = Path::new("/checkpoint");
        let mut checkpoint = Checkpoint::open(&storage, path).unwrap();
        let times = CheckpointTimes {
            physic_msg_timestamp: 10_000,
            logics_msg_timestamp: 9_000,
            index_msg_timestamp: 5_000,
        };
        futures_lite::future::block_on(checkpoint.store(times)).unwrap();
        storage.crash();
        assert_eq!(Checkpoint::open(&storage, path).unwrap().times(), times);
        assert_eq!(times.min_timestamp(), 6_000);
        assert_eq!(times.min_timestamp_index(), 5_000);
        assert_eq!(storage.file_len(path).unwrap(), 4096);
    }
}
