//! Recovery: find where the valid CommitLog ends, cut everything after it, and bring the
//! ConsumeQueues and index in line (store-format.md §6.3).
//!
//! Both after a clean shutdown and after a crash, the scan starts at the newest segment
//! whose first record is older than the checkpoint's min timestamp, validates every record
//! (magic, size, CRC, and that its PHYSICALOFFSET field names its own position), and
//! re-dispatches each one; dispatch recognises units that are already there, so the only
//! difference a crash makes is how much work that is. Whatever follows the last valid
//! record is cut: a torn tail is never served.

use std::fmt;

use crate::checkpoint::CheckpointTimes;
use crate::commit_log::CommitLog;
use crate::consume_queue::CqPut;
use crate::dispatch::{DispatchRequest, Dispatcher};
use crate::error::StoreError;
use crate::index_service::IndexFlush;
use crate::message::record::store_timestamp_of;
use crate::message::{check_record, RecordCheck, RecordError};
use crate::storage::{run_sync_jobs, SegmentFile, Storage};

const SCAN_CHUNK_BYTES: usize = 4 << 20;

/// Why the scan stopped where it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryStop {
    /// Zeros after the last record: the ordinary end of written data.
    EndOfData,
    /// Something that is not a valid record; everything from here on was cut.
    InvalidRecord {
        offset: u64,
        reason: String,
    },
    /// A segment ended without its blank end-of-file record.
    MissingBlank {
        offset: u64,
    },
    NoCommitLog,
}

#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// The `abort` file was present: the last run did not shut down cleanly.
    pub abnormal: bool,
    pub scan_start_offset: u64,
    /// The first invalid byte: the next append goes here.
    pub end_offset: u64,
    pub stop: RecoveryStop,
    pub records_scanned: u64,
    /// ConsumeQueue units written by re-dispatch (missing before recovery).
    pub units_redispatched: u64,
    /// A ConsumeQueue had lost units before the scan start, so the scan was redone
    /// from the first segment.
    pub rescanned_from_first_segment: bool,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recovery scanned {} records from offset {} and stopped at {}: {:?}; \
             {} ConsumeQueue units re-dispatched",
            if self.abnormal { "abnormal" } else { "normal" },
            self.records_scanned,
            self.scan_start_offset,
            self.end_offset,
            self.stop,
            self.units_redispatched,
        )
    }
}

struct ScanEnd {
    end: u64,
    stop: RecoveryStop,
    records: u64,
    redispatched: u64,
    gap: bool,
}

pub async fn recover<S: Storage>(
    commit_log: &CommitLog<S>,
    dispatcher: &mut Dispatcher<S>,
    checkpoint: CheckpointTimes,
    abnormal: bool,
    index_rebuild_from: Option<i64>,
    verify_crc: bool,
) -> Result<RecoveryReport, StoreError> {
    let segments = commit_log.segments();
    let Some(&(first_base, _)) = segments.first() else {
        let end = commit_log.min_offset();
        commit_log.start_appending_at(end).await?;
        for queue in dispatcher.queues_mut() {
            queue.truncate_dirty(end);
        }
        return Ok(RecoveryReport {
            abnormal,
            scan_start_offset: end,
            end_offset: end,
            stop: RecoveryStop::NoCommitLog,
            records_scanned: 0,
            units_redispatched: 0,
            rescanned_from_first_segment: false,
        });
    };
    let mut start = scan_start(commit_log, checkpoint.min_timestamp()).await?;
    if let Some(rebuild_from) = index_rebuild_from {
        let rebuild_from = (rebuild_from.max(0) as u64).max(first_base);
        let segment_size = commit_log.segment_size();
        start = start.min(first_base + (rebuild_from - first_base) / segment_size * segment_size);
    }
    let mut scan = scan_from(commit_log, dispatcher, start, verify_crc, false).await?;
    let rescanned = scan.gap;
    if scan.gap {
        tracing::warn!(start, "recovery: a ConsumeQueue misses units before the scan start; rescanning from the first segment");
        start = first_base;
        scan = scan_from(commit_log, dispatcher, start, verify_crc, true).await?;
    }
    commit_log.start_appending_at(scan.end).await?;
    let commit_log_min = commit_log.min_offset();
    for queue in dispatcher.queues_mut() {
        queue.truncate_dirty(scan.end);
        queue.correct_min_offset(commit_log_min);
    }
    run_sync_jobs(dispatcher.sync(IndexFlush::All).0).await?;
    let report = RecoveryReport {
        abnormal,
        scan_start_offset: start,
        end_offset: scan.end,
        stop: scan.stop,
        records_scanned: scan.records,
        units_redispatched: scan.redispatched,
        rescanned_from_first_segment: rescanned,
    };
    if abnormal || !matches!(report.stop, RecoveryStop::EndOfData) {
        tracing::warn!(%report, "store recovered after an abnormal shutdown or damage");
    } else {
        tracing::info!(%report, "store recovered");
    }
    Ok(report)
}

/// The newest segment whose first record is older than the checkpoint (Java's
/// `isMappedFileMatchedRecover`); the first segment if none is.
async fn scan_start<S: Storage>(
    commit_log: &CommitLog<S>,
    min_timestamp: i64,
) -> Result<u64, StoreError> {
    let segments = commit_log.segments();
    for (base, segment) in segments.iter().rev() {
        let Ok(head) = segment.read_at(0, 128).await else {
            continue;
        };
        let magic = i32::from_be_bytes(head[4..8].try_into().unwrap());
        let is_message = matches!(
            magic,
            crate::message::MESSAGE_MAGIC_CODE_V1 | crate::message::MESSAGE_MAGIC_CODE_V2
        );
        let store_timestamp = store_timestamp_of(&head).unwrap_or(0);
        if is_message && store_timestamp != 0 && store_timestamp <= min_timestamp {
            return Ok(*base);
        }
    }
    Ok(segments[0].0)
}

async fn scan_from<S: Storage>(
    commit_log: &CommitLog<S>,
    dispatcher: &mut Dispatcher<S>,
    start: u64,
    verify_crc: bool,
    fill_gaps: bool,
) -> Result<ScanEnd, StoreError> {
    let segment_size = commit_log.segment_size();
    let mut scan = ScanEnd {
        end: start,
        stop: RecoveryStop::EndOfData,
        records: 0,
        redispatched: 0,
        gap: false,
    };
    for (base, segment) in commit_log
        .segments()
        .into_iter()
        .filter(|(base, _)| *base >= start)
    {
        if base != scan.end {
            // The previous segment ended early; nothing after that point is trusted.
            return Ok(scan);
        }
        let path = commit_log.segment_path(base);
        let mut chunk_start = 0u64;
        let mut chunk = Vec::new();
        let mut refilled_at = None;
        let mut position = 0u64; // Within the segment.
        loop {
            if position >= segment_size {
                scan.stop = RecoveryStop::MissingBlank {
                    offset: base + position,
                };
                return Ok(scan);
            }
            let in_chunk = (position - chunk_start) as usize;
            let view = &chunk[in_chunk.min(chunk.len())..];
            let check = check_record(view, verify_crc);
            if let RecordCheck::Invalid(RecordError::Truncated { needed, .. }) = check {
                // The record may continue past this chunk: read on from its start, once.
                let needed = needed.max(SCAN_CHUNK_BYTES) as u64;
                if refilled_at != Some(position) {
                    refilled_at = Some(position);
                    chunk_start = position;
                    let len = needed.min(segment_size - position) as usize;
                    chunk = segment
                        .read_at(position, len)
                        .await
                        .map_err(StoreError::io(&path))?;
                    continue;
                }
            }
            match check {
                RecordCheck::Message(record) => {
                    let offset = base + position;
                    if record.stamp.physical_offset != offset as i64 {
                        scan.stop = RecoveryStop::InvalidRecord {
                            offset,
                            reason: format!(
                                "PHYSICALOFFSET field says {}",
                                record.stamp.physical_offset
                            ),
                        };
                        return Ok(scan);
                    }
                    let request = DispatchRequest::from_decoded(&record);
                    match dispatcher.dispatch(&request)? {
                        CqPut::Appended => scan.redispatched += 1,
                        CqPut::Duplicate => {}
                        CqPut::Gap { .. } if !fill_gaps => {
                            scan.gap = true;
                            return Ok(scan);
                        }
                        CqPut::Gap { expected } => {
                            tracing::error!(
                                topic = %request.topic, queue_id = request.queue_id, expected,
                                found = request.queue_offset,
                                "recovery: ConsumeQueue units lost for good; filling with blanks"
                            );
                            let queue = dispatcher.queue_mut(&request.topic, request.queue_id)?;
                            queue.fill_blank_until(request.queue_offset as u64)?;
                            dispatcher.dispatch(&request)?;
                        }
                    }
                    scan.records += 1;
                    position += record.total_size as u64;
                    scan.end = base + position;
                }
                RecordCheck::Blank { size } => {
                    if position + size as u64 != segment_size {
                        scan.stop = RecoveryStop::InvalidRecord {
                            offset: base + position,
                            reason: format!(
                                "blank record of {size} bytes does not reach the segment end"
                            ),
                        };
                        return Ok(scan);
                    }
                    scan.end = base + segment_size;
                    break;
                }
                RecordCheck::Invalid(error) => {
                    let offset = base + position;
                    scan.stop = if view.iter().take(8).all(|byte| *byte == 0) {
                        RecoveryStop::EndOfData
                    } else {
                        RecoveryStop::InvalidRecord {
                            offset,
                            reason: error.to_string(),
                        }
                    };
                    return Ok(scan);
                }
            }
        }
    }
    Ok(scan)
}
