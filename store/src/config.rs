//! `MessageStoreConfig`: RocketMQ's property names in snake case, RocketMQ's defaults
//! (store-format.md §3, §9, §10), plus the few knobs of our own write path.

use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushDiskType {
    /// Acknowledge once the O_DIRECT write completed: survives kill -9, not power loss.
    AsyncFlush,
    /// Acknowledge once fdatasync covered the record; one sync serves every waiter.
    SyncFlush,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub store_path_root_dir: PathBuf,
    /// `mappedFileSizeCommitLog`. A multiple of [`crate::commit_log::IO_ALIGNMENT`].
    pub mapped_file_size_commit_log: u64,
    /// `mappedFileSizeConsumeQueue`, in bytes (units × 20).
    pub mapped_file_size_consume_queue: u64,
    /// `maxMessageSize`: the body limit; the whole record may be 64 KiB larger (5.x rule).
    pub max_message_size: usize,
    pub flush_disk_type: FlushDiskType,
    /// `syncFlushTimeout`: how long a SYNC_FLUSH put waits for durability before it is
    /// answered `FLUSH_DISK_TIMEOUT` (the message stays stored).
    pub sync_flush_timeout_ms: u64,
    /// Size of one write buffer; 1 MiB writes measured fastest on our disks.
    pub write_buffer_bytes: usize,
    /// Buffers being filled, queued or in flight at once. Appends wait when all are busy,
    /// which is what bounds a shard's write memory.
    pub write_buffer_count_max: usize,
    /// Written buffers kept for reads of recent records (the tail cache).
    pub tail_cache_bytes: usize,
    /// Size of one CommitLog read (`readChunkBytes`): pulls of records no longer in the
    /// write buffers read whole aligned chunks with O_DIRECT, and serve records as slices.
    pub read_chunk_bytes: usize,
    /// Chunks a shard keeps for readers (`readCacheBytes`): the read side's memory bound.
    pub read_cache_bytes: usize,
    /// Chunks read ahead of a pull served from the file (`readAheadChunks`), so a
    /// consumer catching up finds the next chunk loaded; 0 turns read-ahead off.
    pub read_ahead_chunks: usize,
    /// Read chunks with O_DIRECT (`readDirect`, true), or through the page cache.
    pub read_direct: bool,
    /// Write the CommitLog with O_DIRECT (`writeDirect`, true), or through the page cache.
    pub write_direct: bool,
    /// Bytes of an O_DIRECT segment kept written with zeros ahead of the appends
    /// (`zeroAheadBytes`; 0 turns it off): appends then overwrite written blocks, which
    /// ext4 completes without an io-wq worker or an extent conversion per write.
    pub zero_ahead_bytes: u64,
    /// The first physical offset of an empty CommitLog. The broker puts the shard in the
    /// high bits so offsetMsgId stays unique across shards.
    pub commit_log_offset_base: u64,
    pub message_index_enable: bool,
    pub max_hash_slot_num: u32,
    pub max_index_num: u32,
    pub check_crc_on_recover: bool,
    /// `fileReservedTime`, hours.
    pub file_reserved_time: u64,
    /// `deleteWhen`: hours of day separated by `;`.
    pub delete_when: String,
    pub disk_max_used_space_ratio: u32,
    pub disk_space_clean_forcibly_ratio: u32,
    /// Past this, puts fail with `PutError::DiskFull` until usage drops.
    pub disk_space_warning_level_ratio: u32,
    pub clean_file_forcibly_enable: bool,
    pub delete_file_batch_max: usize,
    /// `maxMsgsNumBatch`: cap on key-query results.
    pub max_msgs_num_batch: usize,
    /// `maxFilterMessageSize`: bytes of ConsumeQueue units (20 each) one get may scan while
    /// filtering by tag, or `max_count` units if more.
    pub max_filter_message_size: usize,
}

impl StoreConfig {
    /// How the CommitLog writes its segments.
    pub fn segment_options(&self) -> crate::storage::SegmentOptions {
        crate::storage::SegmentOptions {
            direct: self.write_direct,
            zero_ahead: self.zero_ahead_bytes,
        }
    }

    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            store_path_root_dir: root.into(),
            mapped_file_size_commit_log: 1 << 30,
            mapped_file_size_consume_queue: 300_000 * 20,
            max_message_size: 4 << 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            sync_flush_timeout_ms: 5000,
            write_buffer_bytes: 1 << 20,
            write_buffer_count_max: 8,
            tail_cache_bytes: 16 << 20,
            read_chunk_bytes: 512 << 10,
            read_cache_bytes: 32 << 20,
            read_ahead_chunks: 2,
            read_direct: true,
            write_direct: true,
            zero_ahead_bytes: 8 << 20,
            commit_log_offset_base: 0,
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            check_crc_on_recover: true,
            file_reserved_time: 72,
            delete_when: "04".to_string(),
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            disk_space_warning_level_ratio: 90,
            clean_file_forcibly_enable: true,
            delete_file_batch_max: 10,
            max_msgs_num_batch: 64,
            max_filter_message_size: 16_000,
        }
    }

    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("commitlog")
    }
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }
    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }
    pub fn checkpoint_path(&self) -> PathBuf {
        self.store_path_root_dir.join("checkpoint")
    }
    pub fn abort_path(&self) -> PathBuf {
        self.store_path_root_dir.join("abort")
    }
    pub fn root(&self) -> &Path {
        &self.store_path_root_dir
    }

    /// The largest whole record accepted: body limit plus room for topic and properties.
    pub fn record_size_max(&self) -> usize {
        self.max_message_size + 64 * 1024
    }
}

/// The 20-digit zero-padded start offset RocketMQ names mapped files by.
pub fn offset_to_file_name(offset: u64) -> String {
    format!("{offset:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_twenty_digits() {
        assert_eq!(offset_to_file_name(1 << 30), "00000000001073741824");
        assert_eq!(offset_to_file_name(0).len(), 20);
    }
}
