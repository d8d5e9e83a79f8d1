//! `MessageStore`: the facade one shard's broker code calls. It owns the shard's
//! CommitLog, ConsumeQueues, index and checkpoint, assigns queue offsets under the append
//! lock, acknowledges per flush mode, and dispatches written records in CommitLog order.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::checkpoint::{Checkpoint, CheckpointTimes};
use crate::commit_log::CommitLog;
use crate::config::{FlushDiskType, StoreConfig};
use crate::consume_queue::CqPut;
use crate::dispatch::{AppendListener, DispatchRequest, Dispatcher};
use crate::error::{PutError, StoreError};
use crate::fx_hash::FxHashMap;
use crate::index_service::{IndexFlush, IndexService};
use crate::message::record::PROPERTIES_LEN_MAX;
use crate::message::sys_flag::is_consumable;
use crate::message::{push_offset_msg_id, AppendStamp, MessageRecord, RecordError};
use crate::recovery::{recover, RecoveryReport};
use crate::storage::{run_sync_jobs, Storage};
use crate::sync::{AsyncMutex, Progress};

mod behind;
mod replica;
mod replica_read;
pub use replica::ReplicaError;
pub use replica_read::ReplicaTransfer;

/// How a stored put was acknowledged (`PutMessageStatus`, the stored cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutStatus {
    PutOk,
    /// SYNC_FLUSH: the record is stored, but did not become durable within
    /// `syncFlushTimeout`. The broker answers `FLUSH_DISK_TIMEOUT` with the send result.
    FlushDiskTimeout,
    /// SYNC_MASTER: stored, but the slave did not report it within `syncFlushTimeout`
    /// (set by the broker's replication, not by the store).
    FlushSlaveTimeout,
    /// SYNC_MASTER: stored, but no slave is connected or it is too far behind.
    SlaveNotAvailable,
}

/// What an acknowledged put returns (`AppendMessageResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOk {
    pub status: PutStatus,
    /// CommitLog offset of the (first) record.
    pub physical_offset: u64,
    /// Queue offset of the (first) record; 0 for PREPARED/ROLLBACK transaction records.
    pub queue_offset: u64,
    /// Bytes written, all records together.
    pub size: usize,
    pub store_timestamp: i64,
    /// offsetMsgId; for a batch the ids joined with `,`.
    pub msg_id: String,
    pub message_count: usize,
}

/// The shared name of a topic (each dispatch request holds it), and the next queue
/// offset of each of its queues.
type QueueOffsets = (Rc<str>, FxHashMap<i32, u64>);

/// The store of one shard. Cheap to clone; every clone is the same store.
///
/// Lives on exactly one core and is deliberately `!Send`: all of its state sits in
/// `RefCell`s touched only by tasks of that core's executor.
pub struct MessageStore<S: Storage> {
    pub(crate) inner: Rc<StoreInner<S>>,
}

impl<S: Storage> Clone for MessageStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct StoreInner<S: Storage> {
    pub(crate) storage: S,
    pub(crate) config: StoreConfig,
    pub(crate) commit_log: CommitLog<S>,
    pub(crate) dispatcher: RefCell<Dispatcher<S>>,
    checkpoint: RefCell<Checkpoint<S>>,
    append_lock: AsyncMutex,
    /// topic -> (shared topic name, queue id -> next queue offset), assigned at append
    /// time.
    queue_offsets: RefCell<FxHashMap<String, QueueOffsets>>,
    /// Appended, not yet dispatched; CommitLog order.
    pending_dispatch: RefCell<VecDeque<DispatchRequest>>,
    last_store_timestamp: Cell<i64>,
    pub(crate) disk: RefCell<crate::retention::DiskState>,
    shut_down: Cell<bool>,
    /// Set by the first failed dispatch: the CommitLog offset of the record that failed
    /// and why. Records from there on may be missing from their queues.
    dispatch_failure: RefCell<Option<(u64, String)>>,
    /// The written end as of the last acknowledged put or replicated append: a master's
    /// HA connections wait on it for records to ship.
    replica_signal: Progress,
}

impl<S: Storage> MessageStore<S> {
    /// Loads and recovers the store under `config.store_path_root_dir`, then marks it
    /// running (creates `abort`).
    pub async fn open(
        storage: S,
        config: StoreConfig,
    ) -> Result<(Self, RecoveryReport), StoreError> {
        let root = config.root().to_path_buf();
        storage
            .create_dir_all(&root)
            .map_err(StoreError::io(&root))?;
        let abort_path = config.abort_path();
        let abnormal = storage.exists(&abort_path);
        if abnormal {
            tracing::warn!("store: abort file present, the last shutdown was abnormal");
        }
        let checkpoint = Checkpoint::open(&storage, &config.checkpoint_path())?;
        let times = checkpoint.times();
        let commit_log = CommitLog::open(storage.clone(), &config).await?;
        let (index, index_rebuild_from) = if config.message_index_enable {
            let (index, rebuild_from) = IndexService::load(
                storage.clone(),
                config.index_dir(),
                config.max_hash_slot_num,
                config.max_index_num,
                abnormal,
                times.index_msg_timestamp,
            )?;
            (Some(index), rebuild_from)
        } else {
            (None, None)
        };
        let mut dispatcher = Dispatcher::load(
            storage.clone(),
            config.consume_queue_dir(),
            config.mapped_file_size_consume_queue,
            index,
        )?;
        let report = recover(
            &commit_log,
            &mut dispatcher,
            times,
            abnormal,
            index_rebuild_from,
            config.check_crc_on_recover,
        )
        .await?;
        let mut queue_offsets: FxHashMap<String, QueueOffsets> = FxHashMap::default();
        for queue in dispatcher.queues() {
            let (_, offsets) = queue_offsets
                .entry(queue.topic.clone())
                .or_insert_with(|| (Rc::from(queue.topic.as_str()), FxHashMap::default()));
            offsets.insert(queue.queue_id, queue.max_offset());
        }
        storage
            .create_empty_file(&abort_path)
            .map_err(StoreError::io(&abort_path))?;
        let last_store_timestamp = dispatcher
            .last_store_timestamp
            .max(times.physic_msg_timestamp);
        let inner = StoreInner {
            storage,
            config,
            commit_log,
            dispatcher: RefCell::new(dispatcher),
            checkpoint: RefCell::new(checkpoint),
            append_lock: AsyncMutex::default(),
            queue_offsets: RefCell::new(queue_offsets),
            pending_dispatch: RefCell::new(VecDeque::new()),
            last_store_timestamp: Cell::new(last_store_timestamp),
            disk: RefCell::new(crate::retention::DiskState::default()),
            shut_down: Cell::new(false),
            dispatch_failure: RefCell::new(None),
            replica_signal: Progress::new(0),
        };
        Ok((
            Self {
                inner: Rc::new(inner),
            },
            report,
        ))
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Appends one message and resolves when it is acknowledged: written (ASYNC_FLUSH) or
    /// durable (SYNC_FLUSH, unless the message says `WAIT=false`).
    pub async fn put(&self, record: &MessageRecord) -> Result<PutOk, PutError> {
        self.put_batch(std::slice::from_ref(record)).await
    }

    /// Appends records with consecutive queue offsets (a batch send), acknowledged together.
    pub async fn put_batch(&self, records: &[MessageRecord]) -> Result<PutOk, PutError> {
        assert!(!records.is_empty());
        let inner = &*self.inner;
        if inner.shut_down.get() {
            return Err(PutError::Io("store is shut down".into()));
        }
        self.check_dispatch_failure(0)?;
        self.check_disk_space()?;
        let mut prepared = Vec::with_capacity(records.len());
        for record in records {
            prepared.push(self.validate(record)?);
        }
        // A batch stays in one segment (it rolls as a whole), so it may not be larger than
        // one record may be: RocketMQ 5.x refuses a batch over maxMessageSize + 64 KiB.
        let batch_size: usize = prepared.iter().map(|prepared| prepared.total_size).sum();
        let record_max = inner.config.record_size_max();
        if batch_size > record_max {
            return Err(PutError::MessageTooLarge {
                size: batch_size,
                max: record_max,
            });
        }
        let guard = inner.append_lock.lock().await;
        // A dispatch may have failed while this put waited for the lock.
        self.check_dispatch_failure(0)?;
        if let Err(error) = inner.commit_log.roll_unless_fits(batch_size).await {
            drop(guard);
            return Err(error);
        }
        // One store time for the whole batch, as Java stamps a MessageExtBatch. It never
        // goes backwards, or timestamp search and recovery's checkpoint comparison would
        // misorder records.
        let store_timestamp = inner.storage.now_ms().max(inner.last_store_timestamp.get());
        inner.last_store_timestamp.set(store_timestamp);
        let index_keys = inner.config.message_index_enable;
        let mut first: Option<(u64, u64)> = None;
        let mut end = 0;
        let mut size_total = 0;
        let mut msg_id = String::with_capacity(records.len() * 33);
        for prepared in &prepared {
            let record = prepared.record;
            let consumable = is_consumable(prepared.sys_flag());
            // Taken before the append: an append can only fail for good (the store must be
            // reopened, which rebuilds the table), so no offset is ever handed out twice.
            let (topic, queue_offset) = if consumable {
                self.take_queue_offset(&record.topic, record.queue_id)
            } else {
                (Rc::from(record.topic.as_str()), 0)
            };
            let append = inner
                .commit_log
                .append(prepared.total_size, |dst, physical_offset| {
                    let stamp = AppendStamp {
                        queue_offset: queue_offset as i64,
                        physical_offset: physical_offset as i64,
                        store_timestamp,
                    };
                    prepared.encode_into(dst, stamp);
                });
            let physical_offset = match append.await {
                Ok(offset) => offset,
                Err(error) => {
                    drop(guard);
                    return Err(error);
                }
            };
            let sys_flag = prepared.sys_flag();
            let mut request =
                DispatchRequest::new(record, topic, sys_flag, prepared.tags_code, index_keys);
            request.queue_offset = queue_offset as i64;
            request.commit_log_offset = physical_offset as i64;
            request.size = prepared.total_size as i32;
            request.store_timestamp = store_timestamp;
            inner.pending_dispatch.borrow_mut().push_back(request);
            first.get_or_insert((physical_offset, queue_offset));
            end = physical_offset + prepared.total_size as u64;
            size_total += prepared.total_size;
            if !msg_id.is_empty() {
                msg_id.push(',');
            }
            push_offset_msg_id(&mut msg_id, record.store_host, physical_offset as i64);
        }
        drop(guard);
        inner.commit_log.wait_written(end).await?;
        self.dispatch_written();
        // The records are in the CommitLog, but not all of them reached their queues:
        // the client hears of it (and may resend: at least once), and the store's
        // reopen re-dispatches them.
        self.check_dispatch_failure(end)?;
        let wait = records[0].properties.get("WAIT") != Some("false");
        let mut status = PutStatus::PutOk;
        if inner.config.flush_disk_type == FlushDiskType::SyncFlush && wait {
            // A timeout too large for the clock means none (no timer per waiting put).
            let deadline = i64::try_from(inner.config.sync_flush_timeout_ms)
                .ok()
                .and_then(|timeout_ms| inner.storage.now_ms().checked_add(timeout_ms));
            if !inner.commit_log.wait_flushed_until(end, deadline).await? {
                status = PutStatus::FlushDiskTimeout;
            }
        }
        let (physical_offset, queue_offset) = first.unwrap();
        Ok(PutOk {
            status,
            physical_offset,
            queue_offset,
            size: size_total,
            store_timestamp,
            msg_id,
            message_count: records.len(),
        })
    }

    fn validate<'a>(
        &self,
        record: &'a MessageRecord,
    ) -> Result<crate::message::PreparedRecord<'a>, PutError> {
        let max = self.inner.config.max_message_size;
        if record.body.len() > max {
            return Err(PutError::MessageTooLarge {
                size: record.body.len(),
                max,
            });
        }
        let prepared = record.prepare().map_err(|error| match error {
            RecordError::PropertiesTooLarge { len, .. } => PutError::PropertiesTooLarge {
                size: len,
                max: PROPERTIES_LEN_MAX,
            },
            other => PutError::Malformed(other),
        })?;
        let record_max = self.inner.config.record_size_max();
        if prepared.total_size > record_max {
            return Err(PutError::MessageTooLarge {
                size: prepared.total_size,
                max: record_max,
            });
        }
        Ok(prepared)
    }

    /// The next queue offset of `topic`/`queue_id`, advanced past the one returned, and
    /// the table's shared copy of the topic name.
    fn take_queue_offset(&self, topic: &str, queue_id: i32) -> (Rc<str>, u64) {
        let mut offsets = self.inner.queue_offsets.borrow_mut();
        if !offsets.contains_key(topic) {
            let name = Rc::from(topic);
            offsets.insert(topic.to_string(), (name, FxHashMap::default()));
        }
        let (name, queues) = offsets.get_mut(topic).unwrap();
        let next = queues.entry(queue_id).or_insert(0);
        *next += 1;
        (name.clone(), *next - 1)
    }

    /// Dispatches every pending record that is now written, in order. Runs synchronously,
    /// so whichever task gets here first does it for all and order is kept.
    fn dispatch_written(&self) {
        let written = self.inner.commit_log.max_offset();
        let mut dispatcher = self.inner.dispatcher.borrow_mut();
        loop {
            let request = {
                let mut pending = self.inner.pending_dispatch.borrow_mut();
                match pending.front() {
                    Some(request) if request.end() <= written => pending.pop_front().unwrap(),
                    _ => break,
                }
            };
            let failure = match dispatcher.dispatch(&request) {
                Ok(CqPut::Appended | CqPut::Duplicate) => continue,
                // Only a unit that failed earlier leaves a live queue short.
                Ok(CqPut::Gap { expected }) => format!(
                    "ConsumeQueue expects queue offset {expected}, not {}",
                    request.queue_offset
                ),
                Err(error) => error.to_string(),
            };
            self.fail_dispatch(&request, failure);
        }
        drop(dispatcher);
        let signal = &self.inner.replica_signal;
        if written > signal.get() {
            signal.set(written);
            signal.notify(false);
        }
    }

    /// Stops the store taking messages after a dispatch failure, saying so once. A queue
    /// that missed a unit would answer every later unit with a gap, so its consumers
    /// would see nothing more while sends still succeeded. The record itself is safe in
    /// the CommitLog; reopening the store re-dispatches it.
    fn fail_dispatch(&self, request: &DispatchRequest, reason: String) {
        let mut failure = self.inner.dispatch_failure.borrow_mut();
        if failure.is_some() {
            return;
        }
        tracing::error!(
            topic = %request.topic, queue_id = request.queue_id,
            queue_offset = request.queue_offset, commit_log_offset = request.commit_log_offset,
            reason,
            "store: dispatch to ConsumeQueue/index failed; refusing puts until the store is \
             reopened (reads of intact queues go on)"
        );
        let reason = format!(
            "dispatch of {}/{} queue offset {} failed: {reason}",
            request.topic, request.queue_id, request.queue_offset
        );
        *failure = Some((request.commit_log_offset as u64, reason));
    }

    /// Refuses a put once dispatch has failed, unless all of its records (which end at
    /// `end`; 0 before appending) were dispatched before the failure.
    fn check_dispatch_failure(&self, end: u64) -> Result<(), PutError> {
        match &*self.inner.dispatch_failure.borrow() {
            Some((failed_at, reason)) if end == 0 || *failed_at < end => {
                Err(PutError::StoreFailed(reason.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Registers a callback for every new ConsumeQueue unit (long-polling wake-ups).
    pub fn register_append_listener(&self, listener: AppendListener) {
        self.inner.dispatcher.borrow_mut().add_listener(listener);
    }

    /// Whether the live IndexFile holds keys no msync covered yet: a periodic flush with
    /// nothing else to do should still run, so that a broker gone idle syncs it once
    /// ([`IndexFlush::Periodic`]) and its next start after a crash rebuilds nothing.
    pub fn index_unsynced(&self) -> bool {
        let dispatcher = self.inner.dispatcher.borrow();
        dispatcher
            .index
            .as_ref()
            .is_some_and(IndexService::live_unsynced)
    }

    /// Releases the mapped ConsumeQueue and IndexFile pages that dispatch no longer
    /// writes and nobody read since the last call (docs/architecture.md, Memory), so the
    /// broker's RSS follows its configuration, not the size of its backlog. The broker
    /// calls this every second; returns how many files (or ranges) it released.
    pub async fn release_cold_pages(&self) -> usize {
        let jobs = self.inner.dispatcher.borrow().release_cold();
        let released = jobs.len();
        for job in jobs {
            // Only a bug (a range outside the mapping) fails madvise; the pages then stay.
            if let Err(error) = job.await {
                tracing::warn!(%error, "store: releasing mapped pages failed");
            }
        }
        released
    }

    /// Writes and syncs the CommitLog, syncs ConsumeQueues and every written IndexFile,
    /// then records the checkpoint. The broker calls this periodically under ASYNC_FLUSH.
    ///
    /// It syncs the live IndexFile too ([`IndexFlush::All`]), not only full ones as Java
    /// does ([`IndexFlush::Periodic`]): Java's rule took the 10-25 ms flushes away and
    /// lowered mqbench's fixed-rate p99, but the official Java client's 64-thread and async
    /// cells ran 5-47% slower with it in 6 of 6 alternated rounds, for a reason not found
    /// yet (docs/architecture.md, Write path 12). Measure again before switching.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flush_index(IndexFlush::All).await
    }

    async fn flush_index(&self, index: IndexFlush) -> Result<(), StoreError> {
        let inner = &*self.inner;
        inner
            .commit_log
            .flush()
            .await
            .map_err(|error| StoreError::Failed(error.to_string()))?;
        self.dispatch_written();
        let (jobs, index_timestamp, timestamp) = {
            let mut dispatcher = inner.dispatcher.borrow_mut();
            let (jobs, index_timestamp) = dispatcher.sync(index);
            (jobs, index_timestamp, dispatcher.last_store_timestamp)
        };
        run_sync_jobs(jobs).await?;
        if inner.dispatch_failure.borrow().is_some() {
            // Queues may miss records from the failure on: the checkpoint stays where it
            // was, so the reopen's recovery scans from before the failure.
            return Ok(());
        }
        let previous = inner.checkpoint.borrow().times();
        let times = CheckpointTimes {
            physic_msg_timestamp: timestamp.max(previous.physic_msg_timestamp),
            logics_msg_timestamp: timestamp.max(previous.logics_msg_timestamp),
            index_msg_timestamp: index_timestamp
                .unwrap_or(0)
                .max(previous.index_msg_timestamp),
        };
        let stored = inner.checkpoint.borrow_mut().store(times);
        stored.await
    }

    /// Flushes everything and removes `abort`, so the next start takes the normal path.
    /// Puts are refused from here on.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.inner.shut_down.set(true);
        let _guard = self.inner.append_lock.lock().await;
        self.flush_index(IndexFlush::All).await?;
        let abort_path = self.inner.config.abort_path();
        self.inner
            .storage
            .remove_file(&abort_path)
            .map_err(StoreError::io(&abort_path))?;
        tracing::info!("store: clean shutdown");
        Ok(())
    }

    /// The broker address written as store host, decoded back from an offsetMsgId.
    pub fn decode_msg_id(msg_id: &str) -> Option<(SocketAddr, i64)> {
        crate::message::decode_offset_msg_id(msg_id)
    }
}
