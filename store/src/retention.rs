//! Retention and disk protection (store-format.md §9): delete expired CommitLog segments
//! at `deleteWhen` or when the disk fills, let ConsumeQueues and index follow, and refuse
//! puts past the warning level until space returns.

use crate::error::{PutError, StoreError};
use crate::index_service::local_hour;
use crate::message_store::MessageStore;
use crate::storage::Storage;

/// How often a put may probe disk usage; probing is a syscall, puts are hot.
const DISK_PROBE_INTERVAL_MS: i64 = 1000;

#[derive(Default)]
pub struct DiskState {
    full: bool,
    used_percent: u32,
    probed_at_ms: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    pub disk_used_percent: u32,
    pub segments_deleted: usize,
    pub consume_queue_files_deleted: usize,
    pub index_files_deleted: usize,
}

impl<S: Storage> MessageStore<S> {
    /// Refuses puts while the disk is past `diskSpaceWarningLevelRatio`.
    pub(crate) fn check_disk_space(&self) -> Result<(), PutError> {
        let now = self.inner.storage.now_ms();
        let stale = self
            .inner
            .disk
            .borrow()
            .probed_at_ms
            .is_none_or(|at| now - at >= DISK_PROBE_INTERVAL_MS);
        if stale {
            self.probe_disk(now);
        }
        let disk = self.inner.disk.borrow();
        if disk.full {
            return Err(PutError::DiskFull {
                used_percent: disk.used_percent,
                limit_percent: self.inner.config.disk_space_warning_level_ratio,
            });
        }
        Ok(())
    }

    fn probe_disk(&self, now: i64) -> u32 {
        let dir = self.inner.commit_log.dir().to_path_buf();
        let used = match self.inner.storage.disk_used_percent(&dir) {
            Ok(used) => used,
            Err(error) => {
                tracing::warn!(%error, "could not probe disk usage; keeping the last reading");
                self.inner.disk.borrow().used_percent
            }
        };
        let limit = self.inner.config.disk_space_warning_level_ratio;
        let mut disk = self.inner.disk.borrow_mut();
        let full = used >= limit;
        if full != disk.full {
            if full {
                tracing::error!(used, limit, "disk full: refusing puts until usage drops");
            } else {
                tracing::warn!(
                    used,
                    limit,
                    "disk usage back under the limit: accepting puts"
                );
            }
        }
        *disk = DiskState {
            full,
            used_percent: used,
            probed_at_ms: Some(now),
        };
        used
    }

    /// One run of `CleanCommitLogService` + `CleanConsumeQueueService`; the broker calls
    /// this every `cleanResourceInterval` (10 s). `manual` is `TRIGGER_DELETE_FILES`.
    pub async fn clean_expired_files(&self, manual: bool) -> Result<CleanReport, StoreError> {
        let inner = &*self.inner;
        let config = &inner.config;
        let now = inner.storage.now_ms();
        let used = self.probe_disk(now);
        let hour = local_hour(now);
        let is_delete_hour = config
            .delete_when
            .split(';')
            .any(|when| when.trim().parse() == Ok(hour));
        let space_pressure = used > config.disk_max_used_space_ratio;
        let forcibly =
            config.clean_file_forcibly_enable && used > config.disk_space_clean_forcibly_ratio;
        let mut report = CleanReport {
            disk_used_percent: used,
            ..CleanReport::default()
        };
        if !(is_delete_hour || space_pressure || manual) {
            return Ok(report);
        }
        let reserved_ms = config.file_reserved_time as i64 * 3_600_000;
        let commit_log = &inner.commit_log;
        let mut expired = Vec::new();
        let mut mappings = Vec::new();
        while report.segments_deleted < config.delete_file_batch_max {
            let segments = commit_log.segments();
            if segments.len() <= 1 {
                break; // The current segment is never deleted.
            }
            let path = commit_log.segment_path(segments[0].0);
            let modified = inner
                .storage
                .modified_ms(&path)
                .map_err(StoreError::io(&path))?;
            if modified + reserved_ms > now && !forcibly {
                break; // Oldest first: if this one is young, so are the rest.
            }
            expired.extend(commit_log.forget_oldest_segment());
            report.segments_deleted += 1;
        }
        let commit_log_min = commit_log.min_offset();
        {
            let mut dispatcher = inner.dispatcher.borrow_mut();
            for queue in dispatcher.queues_mut() {
                let files = queue.forget_expired_files(commit_log_min);
                report.consume_queue_files_deleted += files.len();
                for (path, mapped) in files {
                    expired.push(path);
                    mappings.push(mapped);
                }
            }
            if let Some(index) = &mut dispatcher.index {
                let files = index.forget_expired(commit_log_min as i64);
                report.index_files_deleted = files.len();
                for (path, mapped) in files {
                    expired.push(path);
                    mappings.push(mapped);
                }
            }
        }
        // Dropped from the store's tables above, so nothing reads them any more; the
        // munmaps, unlinks and directory syncs run on the blocking pool.
        let dir = commit_log.dir().to_path_buf();
        inner
            .storage
            .remove_files(expired, mappings)
            .await
            .map_err(StoreError::io(&dir))?;
        if report.segments_deleted > 0 {
            tracing::info!(?report, commit_log_min, "retention: deleted expired files");
        }
        Ok(report)
    }
}
