//! How far flushing and dispatching trail the CommitLog's written end, read-only, for
//! RocketMQ 5's `rocketmq_storage_flush_behind_bytes` and
//! `rocketmq_storage_dispatch_behind_bytes` (`flushBehindBytes`, `dispatchBehindBytes`).

use super::MessageStore;
use crate::storage::Storage;

impl<S: Storage> MessageStore<S> {
    /// Written bytes not yet flushed to disk (Java's `remainHowManyDataToFlush`).
    pub fn flush_behind_bytes(&self) -> u64 {
        let commit_log = &self.inner.commit_log;
        commit_log
            .max_offset()
            .saturating_sub(commit_log.flushed_offset())
    }

    /// Written bytes not yet dispatched to ConsumeQueue and index (Java's reput
    /// `behind()`): from the oldest pending record to the written end.
    pub fn dispatch_behind_bytes(&self) -> u64 {
        let written = self.inner.commit_log.max_offset();
        self.inner
            .pending_dispatch
            .borrow()
            .front()
            .map_or(0, |oldest| {
                written.saturating_sub(oldest.commit_log_offset.max(0) as u64)
            })
    }
}
