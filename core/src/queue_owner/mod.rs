//! `QueueOwner`: what one shard does for the queues it owns. It holds the shard's store,
//! the consumer offsets of its queues, its long-polling waiters and counters, and runs the
//! typed requests other shards (or this one) send it: puts, pulls, offsets, lookups and
//! its part of broker-wide answers.

mod metrics;
mod parts;
mod pull;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use futures_channel::oneshot;

use ramjet_store::{DmaStorage, MessageStore, PutOk};

use crate::config::{BrokerConfig, BrokerRole};
use crate::consumer_offset_manager::ConsumerOffsetManager;
use crate::error::{BrokerError, BrokerResult};
use crate::ha::ShardHa;
use crate::long_polling::LongPolling;
use crate::placement::owner_shard;
use crate::shard_request::{KeyQuery, KeyQueryPart, OffsetRequest, PutPatience, PutRequest};
use crate::snapshot::SharedMetadata;
use crate::stats::ShardStats;

pub type Store = MessageStore<DmaStorage>;

/// RocketMQ's remark for SERVICE_NOT_AVAILABLE, which names the slave case.
pub const SLAVE_REFUSES_PUT: &str = "service not available now. It may be caused by one of the \
     following reasons: the broker's disk is full, messages are put to the slave, message store \
     has been shut down, etc. (this broker is a slave: send to its master)";

pub struct QueueOwner {
    id: usize,
    shard_count: usize,
    metadata: Rc<SharedMetadata>,
    store: Store,
    offsets: RefCell<ConsumerOffsetManager>,
    long_polling: Rc<LongPolling>,
    stats: ShardStats,
    in_flight_puts: Cell<usize>,
    /// Puts waiting for `in_flight_puts` to drop below `sendQueueCapacity`, oldest first;
    /// each finished put wakes as many as it freed.
    room_waiters: RefCell<VecDeque<oneshot::Sender<()>>>,
    /// Replication state of this shard (docs/replication.md).
    ha: Rc<ShardHa>,
}

impl QueueOwner {
    pub fn new(
        id: usize,
        shard_count: usize,
        metadata: Rc<SharedMetadata>,
        store: Store,
        offsets: ConsumerOffsetManager,
    ) -> QueueOwner {
        let long_polling = Rc::new(LongPolling::default());
        let waiters = long_polling.clone();
        store.register_append_listener(Box::new(move |topic, queue_id, _| {
            waiters.notify(topic, queue_id)
        }));
        QueueOwner {
            id,
            shard_count,
            metadata,
            store,
            offsets: RefCell::new(offsets),
            long_polling,
            stats: ShardStats::default(),
            in_flight_puts: Cell::new(0),
            room_waiters: RefCell::new(VecDeque::new()),
            ha: ShardHa::new(),
        }
    }

    fn config(&self) -> Rc<BrokerConfig> {
        self.metadata.config()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This shard's counters (docs/metrics.md).
    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    pub fn long_polling(&self) -> &LongPolling {
        &self.long_polling
    }

    pub fn ha(&self) -> &Rc<ShardHa> {
        &self.ha
    }

    pub fn in_flight_puts(&self) -> usize {
        self.in_flight_puts.get()
    }

    /// Writes the consumer offsets file if it changed.
    pub async fn flush_offsets(&self) -> Result<(), String> {
        let pending = self.offsets.borrow_mut().take_dirty();
        match pending {
            Some((path, bytes)) => crate::persist::write_atomically_off_reactor(path, bytes).await,
            None => Ok(()),
        }
    }

    fn check_owned(&self, topic: &str, queue_id: i32) -> BrokerResult<()> {
        let owner = owner_shard(topic, queue_id, self.shard_count);
        if owner != self.id {
            return Err(BrokerError::Internal(format!(
                "queue {topic}:{queue_id} belongs to shard {owner}, not {}",
                self.id
            )));
        }
        Ok(())
    }

    /// Appends the records of one queue: the typed put every writer uses.
    pub async fn put(&self, request: PutRequest, patience: PutPatience) -> BrokerResult<PutOk> {
        // The send latency counts from here: the send queue's wait is part of it.
        let arrived = Instant::now();
        self.check_owned(&request.topic, request.queue_id)?;
        if request.records.is_empty() {
            return Err(BrokerError::MessageIllegal("no message to put".into()));
        }
        if request
            .records
            .iter()
            .any(|r| r.topic != request.topic || r.queue_id != request.queue_id)
        {
            return Err(BrokerError::Internal(
                "a put's records must all belong to its queue".into(),
            ));
        }
        let config = self.config();
        if config.broker_role == BrokerRole::Slave {
            // RocketMQ's store refuses every put on a slave (PutMessageStatus
            // SERVICE_NOT_AVAILABLE); records reach a slave only by replication.
            return Err(BrokerError::ServiceNotAvailable(SLAVE_REFUSES_PUT.into()));
        }
        let wait_slave = config.broker_role == BrokerRole::SyncMaster
            && request.records[0].properties.get("WAIT") != Some("false");
        self.wait_for_room(patience).await?;
        let count = request.records.len();
        self.in_flight_puts.set(self.in_flight_puts.get() + count);
        let started = Instant::now();
        let result = if count == 1 && !request.batch {
            self.store.put(&request.records[0]).await
        } else {
            self.store.put_batch(&request.records).await
        };
        self.stats.record_append(started.elapsed().as_secs_f64());
        self.in_flight_puts.set(self.in_flight_puts.get() - count);
        self.wake_room_waiters(count);
        let mut ok = result?;
        if wait_slave {
            // SYNC_MASTER (RocketMQ's handleHA): acknowledged once the slave reported the
            // records' end; sends wait in one list per shard, woken by each report.
            let end = ok.physical_offset + ok.size as u64;
            let timeout = std::time::Duration::from_millis(config.store.sync_flush_timeout_ms);
            let ack = self
                .ha
                .wait_for_slave(end, timeout, config.ha.slave_fallbehind_max)
                .await;
            ok.status = ack.status(ok.status);
        }
        // Counted once the answer is known: the store answers after the SYNC_FLUSH wait and
        // a SYNC_MASTER after the slave's report, so the send latency includes both. The
        // records are in this CommitLog whatever the slave said, so they count as put.
        self.stats.record_put(
            &request.topic,
            &request.records,
            ok.size,
            arrived.elapsed().as_secs_f64(),
        );
        Ok(ok)
    }

    /// Returns once fewer than `sendQueueCapacity` puts are in flight, or `Busy` when a
    /// `Brief` put waited `waitTimeMillsInSendQueue` in vain.
    async fn wait_for_room(&self, patience: PutPatience) -> BrokerResult<()> {
        let deadline = match patience {
            PutPatience::Brief => Some(Instant::now() + self.config().wait_time_in_send_queue),
            PutPatience::UntilRoom => None,
        };
        if self.in_flight_puts.get() >= self.config().send_queue_capacity
            && patience == PutPatience::UntilRoom
        {
            if let Some(total) = self.stats.oneway_puts_waited.count() {
                tracing::info!(
                    shard = self.id,
                    capacity = self.config().send_queue_capacity,
                    total,
                    "oneway put waits for room in the full send queue (sendQueueCapacity)"
                );
            }
        }
        // The capacity is read each time: UPDATE_BROKER_CONFIG may change it meanwhile.
        while self.in_flight_puts.get() >= self.config().send_queue_capacity {
            let (sender, receiver) = oneshot::channel();
            self.room_waiters.borrow_mut().push_back(sender);
            match deadline {
                None => {
                    let _ = receiver.await;
                }
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let woken = futures_lite::future::or(async { receiver.await.is_ok() }, async {
                        glommio::timer::sleep(left).await;
                        false
                    })
                    .await;
                    if !woken && self.in_flight_puts.get() >= self.config().send_queue_capacity {
                        if let Some(total) = self.stats.puts_busy.count() {
                            tracing::warn!(
                                shard = self.id,
                                capacity = self.config().send_queue_capacity,
                                wait_ms = self.config().wait_time_in_send_queue.as_millis(),
                                total,
                                "put answered SYSTEM_BUSY: send queue full for waitTimeMillsInSendQueue"
                            );
                        }
                        return Err(BrokerError::Busy);
                    }
                }
            }
        }
        Ok(())
    }

    /// Wakes up to `freed` waiting puts (skipping those that gave up).
    fn wake_room_waiters(&self, freed: usize) {
        let mut woken = 0;
        let mut waiters = self.room_waiters.borrow_mut();
        while woken < freed {
            match waiters.pop_front() {
                Some(waiter) => {
                    if waiter.send(()).is_ok() {
                        woken += 1;
                    }
                }
                None => break,
            }
        }
    }

    pub async fn offset(&self, request: OffsetRequest) -> BrokerResult<i64> {
        match request {
            OffsetRequest::QueryConsumer {
                group,
                topic,
                queue_id,
                set_zero_if_not_found,
            } => self.query_consumer_offset(&group, &topic, queue_id, set_zero_if_not_found),
            OffsetRequest::Commit {
                group,
                topic,
                queue_id,
                offset,
            } => {
                self.offsets
                    .borrow_mut()
                    .commit(&group, &topic, queue_id, offset);
                Ok(offset)
            }
            OffsetRequest::Committed {
                group,
                topic,
                queue_id,
            } => Ok(self
                .offsets
                .borrow()
                .query(&group, &topic, queue_id)
                .unwrap_or(-1)),
            OffsetRequest::Max { topic, queue_id } => {
                Ok(self.store.max_offset_in_queue(&topic, queue_id) as i64)
            }
            OffsetRequest::Min { topic, queue_id } => {
                Ok(self.store.min_offset_in_queue(&topic, queue_id) as i64)
            }
            OffsetRequest::SearchByTimestamp {
                topic,
                queue_id,
                timestamp,
            } => Ok(self
                .store
                .search_offset_by_timestamp(&topic, queue_id, timestamp)
                .await as i64),
            OffsetRequest::EarliestStoreTime { topic, queue_id } => Ok(self
                .store
                .earliest_msg_store_time(&topic, queue_id)
                .await
                .unwrap_or(-1)),
        }
    }

    /// `ConsumerManageProcessor.queryConsumerOffset`: a group with no committed offset reads
    /// a queue from 0 while the queue still starts at 0, whatever its consume-from setting,
    /// so a new group's first messages are not skipped (the C++ push consumer relies on it).
    fn query_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        set_zero_if_not_found: Option<bool>,
    ) -> BrokerResult<i64> {
        if let Some(committed) = self.offsets.borrow().query(group, topic, queue_id) {
            return Ok(committed);
        }
        if set_zero_if_not_found == Some(false) {
            return Err(BrokerError::QueryNotFound(
                "Not found, do not set to zero, maybe this group boot first".into(),
            ));
        }
        if self.store.min_offset_in_queue(topic, queue_id) == 0 {
            return Ok(0);
        }
        Err(BrokerError::QueryNotFound(
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into(),
        ))
    }

    /// The record stored at `physical_offset`, checked by the store (magic, size, CRC).
    pub async fn view(&self, physical_offset: u64) -> BrokerResult<Vec<u8>> {
        self.store
            .read_by_physical_offset(physical_offset)
            .await
            .ok_or_else(|| {
                BrokerError::NotFound(format!(
                    "can not find message by the offset, {physical_offset}"
                ))
            })
    }

    pub async fn query_by_key(&self, query: KeyQuery) -> KeyQueryPart {
        let result = self
            .store
            .query_by_key(
                &query.topic,
                &query.key,
                query.max_count,
                query.begin_timestamp,
                query.end_timestamp,
            )
            .await;
        KeyQueryPart {
            messages: result.messages,
            index_last_update_timestamp: result.index_last_update_timestamp,
            index_last_update_phy_offset: result.index_last_update_phy_offset,
        }
    }
}
