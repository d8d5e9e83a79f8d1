//! Replication on the store: a master reads whole records to ship from any CommitLog
//! offset, and a slave appends shipped records at exactly the physical offsets they
//! have on the master, dispatching them to ConsumeQueue and index as a local put would.
//!
//! The slave trusts nothing it is sent: every record is checked (magic, TOTALSIZE within
//! the largest record a put accepts, body CRC, its PHYSICALOFFSET field naming the offset
//! it lands at, room in the segment as the master's roll rule leaves it) before any byte
//! of the transfer is appended, and a transfer that does not start exactly at the local
//! end is refused as a gap or an overlap.

use std::rc::Rc;

use crate::config::FlushDiskType;
use crate::dispatch::DispatchRequest;
use crate::error::PutError;
use crate::fx_hash::FxHashMap;
use crate::message::record::{
    decode_record, BLANK_MAGIC_CODE, END_FILE_MIN_BLANK_LENGTH, MESSAGE_MAGIC_CODE_V1,
    MESSAGE_MAGIC_CODE_V2,
};
use crate::storage::Storage;

use super::MessageStore;

/// Why a replicated transfer was refused. Nothing of a refused transfer is stored.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("replicated transfer starts at {got}, past the local CommitLog end {expected} (gap)")]
    Gap { expected: u64, got: u64 },
    #[error(
        "replicated transfer starts at {got}, before the local CommitLog end {expected} (overlap)"
    )]
    Overlap { expected: u64, got: u64 },
    #[error("replicated record at CommitLog offset {offset} is invalid: {reason}")]
    BadRecord { offset: u64, reason: String },
    #[error(transparent)]
    Put(#[from] PutError),
}

/// One checked piece of a transfer.
enum Piece {
    /// A record: its position in the transfer and what dispatch needs.
    Record {
        at: usize,
        size: usize,
        request: DispatchRequest,
    },
    /// The end-of-file marker: the next record starts in a new segment.
    Blank,
}

impl<S: Storage> MessageStore<S> {
    /// Where the next replicated record must start: the end of everything appended.
    pub fn replica_next_offset(&self) -> u64 {
        self.inner.commit_log.append_offset()
    }

    /// Appends the records of `bytes` (whole records, as the master stored them; a blank
    /// end-of-file marker is sent as its 8-byte header) at CommitLog offset `offset`,
    /// which must be this store's end. Resolves with the new end once the records are
    /// written (and durable under SYNC_FLUSH) and dispatched.
    pub async fn append_replicated(&self, offset: u64, bytes: &[u8]) -> Result<u64, ReplicaError> {
        let inner = &*self.inner;
        if inner.shut_down.get() {
            return Err(PutError::Io("store is shut down".into()).into());
        }
        self.check_dispatch_failure(0)?;
        self.check_disk_space()?;
        let guard = inner.append_lock.lock().await;
        let expected = inner.commit_log.append_offset();
        if offset > expected {
            return Err(ReplicaError::Gap {
                expected,
                got: offset,
            });
        }
        if offset < expected {
            return Err(ReplicaError::Overlap {
                expected,
                got: offset,
            });
        }
        let pieces = self.check_transfer(offset, bytes)?;
        let mut end = offset;
        // What must be written before the transfer is acknowledged. A blank marker's
        // write covers its 8 bytes, not the rest of its segment.
        let mut written_target = offset;
        for piece in pieces {
            match piece {
                Piece::Blank => {
                    let segment_end =
                        inner.commit_log.segment_base_of(end) + inner.commit_log.segment_size();
                    // Too large to fit: writes the blank marker and rolls.
                    inner
                        .commit_log
                        .roll_unless_fits((segment_end - end) as usize)
                        .await?;
                    written_target = end + END_FILE_MIN_BLANK_LENGTH as u64;
                    end = segment_end;
                }
                Piece::Record { at, size, request } => {
                    let source = &bytes[at..at + size];
                    let placed = inner
                        .commit_log
                        .append(size, |dst, _| dst.copy_from_slice(source))
                        .await?;
                    debug_assert_eq!(placed, end);
                    if crate::message::sys_flag::is_consumable(request.sys_flag) {
                        self.note_replicated_queue_offset(&request);
                    }
                    if request.store_timestamp > inner.last_store_timestamp.get() {
                        inner.last_store_timestamp.set(request.store_timestamp);
                    }
                    inner.pending_dispatch.borrow_mut().push_back(request);
                    end = placed + size as u64;
                    written_target = end;
                }
            }
        }
        drop(guard);
        inner.commit_log.wait_written(written_target).await?;
        self.dispatch_written();
        self.check_dispatch_failure(written_target)?;
        if inner.config.flush_disk_type == FlushDiskType::SyncFlush {
            inner.commit_log.wait_flushed(written_target).await?;
        }
        Ok(end)
    }

    /// Checks every record of a transfer before anything is appended.
    fn check_transfer(&self, offset: u64, bytes: &[u8]) -> Result<Vec<Piece>, ReplicaError> {
        let commit_log = &self.inner.commit_log;
        let segment_size = commit_log.segment_size();
        let record_max = self.inner.config.record_size_max();
        let mut pieces = Vec::new();
        let (mut at, mut position) = (0usize, offset);
        while at < bytes.len() {
            let bad = |reason: String| ReplicaError::BadRecord {
                offset: position,
                reason,
            };
            let rest = &bytes[at..];
            if rest.len() < 8 {
                return Err(bad(format!(
                    "{} trailing bytes, no record header",
                    rest.len()
                )));
            }
            let size = i32::from_be_bytes(rest[..4].try_into().unwrap());
            let magic = i32::from_be_bytes(rest[4..8].try_into().unwrap());
            let segment_end = commit_log.segment_base_of(position) + segment_size;
            if magic == BLANK_MAGIC_CODE {
                if size < END_FILE_MIN_BLANK_LENGTH as i32 || position + size as u64 != segment_end
                {
                    return Err(bad(format!(
                        "blank marker of {size} bytes does not end the segment at {segment_end}"
                    )));
                }
                pieces.push(Piece::Blank);
                at += END_FILE_MIN_BLANK_LENGTH;
                position = segment_end;
                continue;
            }
            if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
                return Err(bad(format!("magic {magic:#010x}")));
            }
            if size <= 8 || size as usize > record_max {
                return Err(bad(format!("TOTALSIZE {size}, at most {record_max}")));
            }
            let size = size as usize;
            if size > rest.len() {
                return Err(bad(format!(
                    "TOTALSIZE {size} but the transfer holds {} more bytes",
                    rest.len()
                )));
            }
            if position + (size + END_FILE_MIN_BLANK_LENGTH) as u64 > segment_end {
                return Err(bad(format!(
                    "{size} bytes do not fit before the segment end at {segment_end}"
                )));
            }
            let record = decode_record(&rest[..size], true).map_err(|e| bad(e.to_string()))?;
            if record.total_size != size {
                return Err(bad(format!("decodes as {} bytes", record.total_size)));
            }
            if record.stamp.physical_offset != position as i64 {
                let named = record.stamp.physical_offset;
                return Err(bad(format!("PHYSICALOFFSET field says {named}")));
            }
            let mut request = DispatchRequest::from_decoded(&record);
            if !self.inner.config.message_index_enable {
                request.keys.clear();
            }
            pieces.push(Piece::Record { at, size, request });
            at += size;
            position += size as u64;
        }
        Ok(pieces)
    }

    /// Where shipping to a slave whose CommitLog ends at `slave_end` starts (RocketMQ's
    /// HAConnection rule): at its end; for an empty slave, at the start of this master's
    /// newest CommitLog file (older files may already be gone, and a new slave should not
    /// copy the whole history before it is useful). A slave that holds data but ends
    /// below what this master still stores cannot continue: retention deleted the records
    /// it needs. The caller checked that `slave_end` is not past this master's end.
    pub fn replica_start_for(&self, slave_end: u64) -> Result<u64, String> {
        let commit_log = &self.inner.commit_log;
        let base = self.inner.config.commit_log_offset_base;
        if slave_end == base {
            let newest = commit_log
                .segments()
                .last()
                .map_or(commit_log.min_offset(), |(start, _)| *start);
            return Ok(newest.max(base));
        }
        let oldest = commit_log.min_offset();
        if slave_end < oldest {
            return Err(format!(
                "the slave's CommitLog ends at {slave_end}, but this master keeps only {oldest} \
                 onwards (retention deleted the rest); clear the slave's store to restart it \
                 from this master's newest file"
            ));
        }
        Ok(slave_end)
    }

    /// Whether nothing was ever appended here: an empty slave may start where its master
    /// starts shipping ([`MessageStore::start_empty_replica_at`]).
    pub fn is_empty_replica(&self) -> bool {
        let commit_log = &self.inner.commit_log;
        commit_log.append_offset() == self.inner.config.commit_log_offset_base
            && commit_log.max_offset() == self.inner.config.commit_log_offset_base
    }

    /// Moves an empty store's CommitLog start to `offset`, the start of a segment: its
    /// master ships from its newest file ([`MessageStore::replica_start_for`]).
    pub async fn start_empty_replica_at(&self, offset: u64) -> Result<(), ReplicaError> {
        let inner = &*self.inner;
        let _guard = inner.append_lock.lock().await;
        let base = inner.config.commit_log_offset_base;
        let bad = |reason: String| ReplicaError::BadRecord { offset, reason };
        if !self.is_empty_replica() {
            return Err(bad("the local CommitLog is not empty".into()));
        }
        if offset < base || !(offset - base).is_multiple_of(inner.commit_log.segment_size()) {
            return Err(bad(format!(
                "an empty slave starts at a segment start at or past {base}"
            )));
        }
        inner
            .commit_log
            .restart_empty_at(offset)
            .await
            .map_err(|e| bad(e.to_string()))?;
        tracing::info!(
            offset,
            "replica: empty CommitLog starts at the master's newest file"
        );
        Ok(())
    }

    /// Keeps the queue-offset table past replicated records, as a local put leaves it.
    fn note_replicated_queue_offset(&self, request: &DispatchRequest) {
        let mut offsets = self.inner.queue_offsets.borrow_mut();
        let topic = &*request.topic;
        if !offsets.contains_key(topic) {
            offsets.insert(topic.to_string(), (Rc::from(topic), FxHashMap::default()));
        }
        let (_, queues) = offsets.get_mut(topic).unwrap();
        let next = queues.entry(request.queue_id).or_insert(0);
        *next = (*next).max(request.queue_offset as u64 + 1);
    }

    /// The written end of the CommitLog (`getMaxPhyOffset`).
    pub fn max_physical_offset(&self) -> u64 {
        self.inner.commit_log.max_offset()
    }

    /// Resolves once the CommitLog's written end passes `offset` (or soon after some
    /// put or replicated append was acknowledged: callers re-check).
    pub async fn wait_written_past(&self, offset: u64) {
        if self.inner.commit_log.max_offset() > offset {
            return;
        }
        self.inner.replica_signal.wait(offset + 1).await;
    }
}
