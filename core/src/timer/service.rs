//! The timer loop: runs on the shard that owns the timer queue (`rmq_sys_wheel_timer`,
//! queue 0). Every 10 ms it
//!
//! 1. loads the timer queue's new units into the wheel (deliver time, CommitLog offset,
//!    size), skipping those the checkpoint proves delivered;
//! 2. advances the wheel to now and delivers every due message: the stored timer record is
//!    read back, its real topic and queue restored, TIMER_ENQUEUE_MS / TIMER_DEQUEUE_MS set
//!    as Java sets them, and it is stored with the typed put on the real queue's owner. A
//!    put that fails for a passing reason (busy, I/O, an unreachable shard) is retried with
//!    back-off until it succeeds; one that can never succeed (record gone or unreadable,
//!    message illegal) is logged as an error and counted done, as Java's PUT_NO_RETRY;
//! 3. after a round in which every fired message was stored, records delivery progress,
//!    and every `timerFlushIntervalMs` writes it (`checkpoint.rs`) off the reactor.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use ramjet_store::message::record::decode_record;
use ramjet_store::{GetRequest, GetStatus, MessageData, PutError};

use super::accept::stored_deliver_ms;
use super::checkpoint::{PendingOffsets, TimerCheckpoint};
use super::wheel::{TimerEntry, TimerWheel};
use super::*;
use crate::error::BrokerError;
use crate::placement::owner_shard;
use crate::shard::BrokerShard;
use crate::shard_request::PutRequest;
use crate::shutdown;
use crate::topic_config_manager::now_ms;

/// The wheel's tick, finer than any timerPrecisionMs.
pub const WHEEL_TICK_MS: i64 = 10;
/// Units read from the timer queue per round, so delivery keeps going during a backlog.
const LOAD_PER_ROUND: usize = 64 * 1024;
/// Deliveries in flight at once.
const DELIVERY_CONCURRENCY: usize = 256;
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// The pending window stays far below 2^32 units, so entries' 32-bit offsets are exact.
const WINDOW_MAX: usize = 1 << 30;

pub fn checkpoint_path(shard: &BrokerShard) -> PathBuf {
    checkpoint_path_of(&shard.config(), shard.shard_count())
}

/// Where the shard owning the timer queue keeps its checkpoint; any shard can name it.
pub fn checkpoint_path_of(config: &crate::config::BrokerConfig, shard_count: usize) -> PathBuf {
    let owner = owner_shard(TIMER_TOPIC, 0, shard_count);
    crate::broker::shard_root(config, owner)
        .join("timer")
        .join("timercheck.json")
}

/// The timer loop of `shard`, which returns at once unless the shard owns the timer queue.
pub async fn timer_loop(shard: Rc<BrokerShard>) {
    if owner_shard(TIMER_TOPIC, 0, shard.shard_count()) != shard.id() {
        return;
    }
    let path = checkpoint_path(&shard);
    let read_path = path.clone();
    let checkpoint = glommio::executor()
        .spawn_blocking(move || crate::persist::read_json::<TimerCheckpoint>(&read_path))
        .await
        .unwrap_or_else(|error| {
            // Nothing is proven delivered: the whole queue is delivered again.
            tracing::error!(%error, "timer checkpoint unreadable; redelivering from the queue's start");
            None
        })
        .unwrap_or_default();
    let mut timer = TimerService::new(shard.clone(), checkpoint);
    tracing::info!(
        shard = shard.id(),
        ?checkpoint,
        "timer wheel rebuilding from the timer queue"
    );
    let mut written = checkpoint;
    let mut since_flush = Duration::ZERO;
    let tick = Duration::from_millis(WHEEL_TICK_MS as u64);
    while !shutdown::requested() {
        glommio::timer::sleep(tick).await;
        since_flush += tick;
        let Some(progress) = timer.round().await else {
            break;
        };
        let flush_every = Duration::from_millis(shard.config().timer.flush_interval_ms);
        if progress != written && since_flush >= flush_every {
            since_flush = Duration::ZERO;
            match write_checkpoint(&path, &progress).await {
                Ok(()) => written = progress,
                Err(error) => tracing::error!(%error, "timer checkpoint not written"),
            }
        }
    }
}

async fn write_checkpoint(
    path: &std::path::Path,
    checkpoint: &TimerCheckpoint,
) -> Result<(), String> {
    let bytes = serde_json::to_vec(checkpoint).map_err(|e| e.to_string())?;
    crate::persist::write_atomically_off_reactor(path.to_path_buf(), bytes).await
}

pub struct TimerService {
    shard: Rc<BrokerShard>,
    wheel: TimerWheel,
    pending: PendingOffsets,
    /// What the checkpoint read at start proves delivered (cleared if the queue shrank).
    rebuilt_from: TimerCheckpoint,
    fired: Vec<TimerEntry>,
}

impl TimerService {
    pub fn new(shard: Rc<BrokerShard>, checkpoint: TimerCheckpoint) -> TimerService {
        let min_in_queue = shard.owner().store().min_offset_in_queue(TIMER_TOPIC, 0);
        TimerService {
            shard,
            wheel: TimerWheel::new(WHEEL_TICK_MS, now_ms()),
            pending: PendingOffsets::new(checkpoint.min_pending_offset.max(min_in_queue)),
            rebuilt_from: checkpoint,
            fired: Vec::new(),
        }
    }

    pub fn pending_count(&self) -> usize {
        self.wheel.len()
    }

    /// One load-fire-deliver round. `None` when shutdown interrupted a delivery; else the
    /// progress that is now true (only whole rounds count, see `checkpoint.rs`).
    pub async fn round(&mut self) -> Option<TimerCheckpoint> {
        self.load().await;
        self.wheel.advance(now_ms(), &mut self.fired);
        // rocketmq_timing_messages: what is left in the wheel after this round's firing.
        self.shard
            .ops()
            .set_timing_messages(self.wheel.len() as u64);
        let fired = std::mem::take(&mut self.fired);
        // A sliding window of deliveries: a slow one holds up only its own place.
        let mut in_flight = std::collections::VecDeque::with_capacity(DELIVERY_CONCURRENCY);
        for entry in &fired {
            if in_flight.len() == DELIVERY_CONCURRENCY && !self.finish_oldest(&mut in_flight).await
            {
                return None;
            }
            let task = glommio::spawn_local(deliver(self.shard.clone(), *entry));
            in_flight.push_back((task, entry.queue_offset_low));
        }
        while !in_flight.is_empty() {
            if !self.finish_oldest(&mut in_flight).await {
                return None;
            }
        }
        self.fired = fired;
        self.fired.clear();
        Some(TimerCheckpoint {
            min_pending_offset: self.pending.min_pending(),
            loaded_offset: self.pending.loaded(),
            delivered_up_to_ms: self.wheel.fired_up_to_ms(),
        })
    }

    /// Waits for the oldest delivery in flight and marks its unit done; `false` when
    /// shutdown stopped it.
    async fn finish_oldest(
        &mut self,
        in_flight: &mut std::collections::VecDeque<(glommio::Task<bool>, u32)>,
    ) -> bool {
        let Some((task, queue_offset_low)) = in_flight.pop_front() else {
            return true;
        };
        if !task.await {
            return false;
        }
        let offset = self.pending.offset_of(queue_offset_low);
        self.pending.mark_done(offset);
        true
    }

    /// Reads new timer-queue units into the wheel.
    async fn load(&mut self) {
        let store = self.shard.owner().store();
        let mut budget = LOAD_PER_ROUND;
        while budget > 0 && self.pending.window() < WINDOW_MAX {
            let from = self.pending.loaded();
            let all = |_: i64| true;
            let result = store
                .get(&GetRequest {
                    topic: TIMER_TOPIC,
                    queue_id: 0,
                    queue_offset: from,
                    max_count: budget.min(4096),
                    max_bytes: 16 * 1024 * 1024,
                    filter: &all,
                    zero_copy: false,
                })
                .await;
            match result.status {
                GetStatus::Found | GetStatus::NoMatchedMessage => {}
                GetStatus::OffsetOverflowOne | GetStatus::NoMessageInQueue => return,
                GetStatus::OffsetTooSmall => {
                    tracing::error!(
                        from,
                        to = result.next_begin_offset,
                        "timer queue units removed before delivery (retention); skipped"
                    );
                    self.pending.skip_to(result.next_begin_offset);
                    continue;
                }
                GetStatus::OffsetOverflowBadly => {
                    // The queue is shorter than the checkpoint says: restart from its end and
                    // trust no skip proof, since new units will reuse those offsets.
                    tracing::error!(
                        from,
                        max = result.max_offset,
                        "timer queue shorter than its checkpoint"
                    );
                    self.rebuilt_from = TimerCheckpoint::default();
                    self.pending = PendingOffsets::new(result.max_offset);
                    return;
                }
            }
            for unit in &result.damaged_units {
                tracing::error!(
                    ?unit,
                    "timer queue unit damaged; its message is not delivered"
                );
            }
            for message in &result.messages {
                if message.queue_offset > self.pending.loaded() {
                    tracing::error!(
                        from = self.pending.loaded(),
                        to = message.queue_offset,
                        "timer queue units unreadable; skipped"
                    );
                    self.pending.skip_to(message.queue_offset);
                }
                let bytes = match &message.data {
                    MessageData::Bytes(bytes) => Some(bytes.clone()),
                    MessageData::Shared { .. } => message.bytes().map(<[u8]>::to_vec),
                };
                let record = bytes
                    .as_deref()
                    .and_then(|bytes| decode_record(bytes, false).ok());
                let deliver_ms = record.as_ref().and_then(|r| {
                    stored_deliver_ms(&r.message.properties, r.stamp.store_timestamp)
                });
                let queue_offset = self.pending.loaded();
                self.pending.push_loaded();
                match deliver_ms {
                    Some(deliver_ms)
                        if self.rebuilt_from.proves_delivered(queue_offset, deliver_ms) =>
                    {
                        self.pending.mark_done(queue_offset);
                    }
                    Some(deliver_ms) => {
                        self.wheel.insert(TimerEntry {
                            deliver_ms,
                            commit_log_offset: message.physical_offset as i64,
                            size: message.size as i32,
                            queue_offset_low: queue_offset as u32,
                        });
                        // Java's incTimerEnqueueCount, labelled by the real topic.
                        let real_topic = record
                            .as_ref()
                            .and_then(|r| r.message.properties.get(PROPERTY_REAL_TOPIC));
                        let ops = self.shard.ops();
                        ops.record_timer_enqueue(real_topic.unwrap_or_default());
                        // Counted and visible together: a scrape never sees one without the other.
                        ops.set_timing_messages(self.wheel.len() as u64);
                    }
                    None => {
                        tracing::error!(queue_offset, "timer record unreadable; not delivered");
                        self.pending.mark_done(queue_offset);
                    }
                }
            }
            budget = budget.saturating_sub(result.messages.len().max(1));
            if result.next_begin_offset > self.pending.loaded() {
                self.pending.skip_to(result.next_begin_offset);
            } else if result.messages.is_empty() {
                return;
            }
        }
    }
}

/// Stores one due message on its real queue; `false` only when shutdown stopped retries.
async fn deliver(shard: Rc<BrokerShard>, entry: TimerEntry) -> bool {
    let mut backoff = RETRY_FIRST;
    loop {
        match deliver_once(&shard, &entry).await {
            Ok(()) => return true,
            Err(Failure::Permanent(error)) => {
                tracing::error!(?entry, %error, "timer message cannot be delivered; dropped");
                return true;
            }
            Err(Failure::Transient(error)) => {
                if shutdown::requested() {
                    return false;
                }
                tracing::warn!(?entry, %error, ?backoff, "timer message delivery failed; retrying");
                glommio::timer::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

enum Failure {
    Permanent(String),
    Transient(String),
}

async fn deliver_once(shard: &Rc<BrokerShard>, entry: &TimerEntry) -> Result<(), Failure> {
    let bytes = shard
        .owner()
        .view(entry.commit_log_offset as u64)
        .await
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let stored = decode_record(&bytes, false).map_err(|e| Failure::Permanent(e.to_string()))?;
    let mut record = stored.message;
    let properties = &mut record.properties;
    let topic = properties
        .remove(PROPERTY_REAL_TOPIC)
        .ok_or_else(|| Failure::Permanent("no REAL_TOPIC".into()))?;
    let queue_id: i32 = properties
        .remove(PROPERTY_REAL_QUEUE_ID)
        .and_then(|text| text.parse().ok())
        .filter(|id| *id >= 0)
        .ok_or_else(|| Failure::Permanent("no valid REAL_QID".into()))?;
    properties.set(
        PROPERTY_TIMER_ENQUEUE_MS,
        &stored.stamp.store_timestamp.to_string(),
    );
    properties.set(PROPERTY_TIMER_DEQUEUE_MS, &now_ms().to_string());
    record.topic = topic.clone();
    record.queue_id = queue_id;
    let owner = owner_shard(&topic, queue_id, shard.shard_count());
    let real_topic = topic.clone();
    let put = PutRequest {
        topic,
        queue_id,
        records: vec![record],
        batch: false,
    };
    match shard.put(owner, put).await {
        Ok(_) => {
            shard.ops().record_timer_dequeue(&real_topic);
            Ok(())
        }
        Err(
            error @ (BrokerError::MessageIllegal(_)
            | BrokerError::InvalidParameter(_)
            | BrokerError::Put(
                PutError::MessageTooLarge { .. }
                | PutError::PropertiesTooLarge { .. }
                | PutError::Malformed(_),
            )),
        ) => Err(Failure::Permanent(error.to_string())),
        Err(error) => Err(Failure::Transient(error.to_string())),
    }
}
