//! Delivery of delayed messages (`ScheduleMessageService.DeliverDelayedMessageTimerTask`).
//!
//! Each shard runs one task per delay level whose `SCHEDULE_TOPIC_XXXX` queue it owns. The
//! task reads the head of its queue; when the head is due (store timestamp + the level's
//! delay) it stores the message on its real queue through the typed put and moves on,
//! otherwise it sleeps until the head is due. With nothing pending it waits for the
//! store's append notice for its queue: no polling, and no cost per pending message until
//! that message is due (messages of one level are due in store order).
//!
//! A delivery that fails is retried with back-off and logged. Failures that retrying
//! cannot fix (the real topic was deleted, the message is malformed) are tried a few times
//! (the topic may be re-created meanwhile) and then skipped with an error log naming the
//! message, so one bad message never wedges its level; the message stays readable in
//! `SCHEDULE_TOPIC_XXXX`. Store failures (busy, disk) are retried until they succeed:
//! skipping would lose an acknowledged message.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use ramjet_store::message::record::{decode_record, DecodedRecord};
use ramjet_store::message::PROPERTY_UNIQ_KEY;
use ramjet_store::{GetRequest, MessageData, MessageRecord};

use super::delay_offsets::DelayOffsets;
use super::levels::{queue_id_of_level, DelayLevelTable};
use super::{PROPERTY_DELAY, PROPERTY_REAL_QUEUE_ID, PROPERTY_REAL_TOPIC};
use crate::error::BrokerError;
use crate::placement::owner_shard;
use crate::shard::BrokerShard;
use crate::shard_request::PutRequest;
use crate::topic_config_manager::{now_ms, SCHEDULE_TOPIC};

/// Messages read from a level's queue per round; the due ones are stored concurrently so
/// that a burst coming due at once gets group commit instead of one write each.
const READ_BATCH: usize = 64;
const READ_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Attempts at a delivery that cannot succeed by waiting (real topic gone, bad message).
const PERMANENT_FAILURE_ATTEMPTS: u32 = 4;
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Java's transaction half topic: a delayed message never becomes a half message.
const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";

/// One shard's delivery of the delay levels it owns, and their progress.
pub struct ScheduleService {
    shard_id: usize,
    shard_count: usize,
    table: DelayLevelTable,
    offsets: RefCell<DelayOffsets>,
    flush_interval: Duration,
}

/// Why a delivery did not happen.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Waiting may fix it (store busy or failing, shard unreachable): retry until it works.
    Transient(String),
    /// Waiting is unlikely to fix it: retried a few times, then skipped and logged.
    Permanent(String),
}

impl ScheduleService {
    /// Loads `<shard_root>/delayOffset.json`. A corrupt file stops the start.
    pub fn load(
        shard_root: PathBuf,
        shard_id: usize,
        shard_count: usize,
        table: DelayLevelTable,
        flush_interval: Duration,
    ) -> Result<Rc<ScheduleService>, String> {
        let offsets = DelayOffsets::load(shard_root.join("delayOffset.json"))?;
        Ok(Rc::new(ScheduleService {
            shard_id,
            shard_count,
            table,
            offsets: RefCell::new(offsets),
            flush_interval,
        }))
    }

    /// The levels whose queue this shard owns.
    pub fn owned_levels(&self) -> Vec<i32> {
        (1..=self.table.max_level())
            .filter(|&level| {
                owner_shard(SCHEDULE_TOPIC, queue_id_of_level(level), self.shard_count)
                    == self.shard_id
            })
            .collect()
    }

    /// Starts one delivery task per owned level and the offset flusher. Call once per
    /// shard, after the store is open.
    pub fn start(self: &Rc<Self>, shard: &Rc<BrokerShard>) {
        let levels = self.owned_levels();
        let mut signals: HashMap<i32, LocalSender<()>> = HashMap::new();
        for &level in &levels {
            let (sender, receiver) = local_channel::new_bounded(1);
            signals.insert(queue_id_of_level(level), sender);
            let (service, shard) = (self.clone(), shard.clone());
            glommio::spawn_local(async move { service.level_loop(shard, level, receiver).await })
                .detach();
        }
        // The store tells us of every new ConsumeQueue unit; a full channel already holds
        // a wake-up, so nothing is lost by dropping this one.
        shard
            .owner()
            .store()
            .register_append_listener(Box::new(move |topic, queue_id, _| {
                if topic == SCHEDULE_TOPIC {
                    if let Some(sender) = signals.get(&queue_id) {
                        let _ = sender.try_send(());
                    }
                }
            }));
        let service = self.clone();
        glommio::spawn_local(async move { service.flush_loop().await }).detach();
        tracing::info!(shard = self.shard_id, ?levels, table = %self.table, "delay levels served");
    }

    /// This shard's levels and their delivery offsets.
    pub fn offset_table(&self) -> BTreeMap<i32, i64> {
        let owned = self.owned_levels();
        let offsets = self.offsets.borrow();
        offsets
            .table()
            .iter()
            .filter(|(level, _)| owned.contains(level))
            .map(|(level, offset)| (*level, *offset))
            .collect()
    }

    /// A slave takes its master's progress for the levels this shard owns, and saves it.
    pub async fn take_from_master(&self, table: &BTreeMap<i32, i64>) -> Result<(), String> {
        {
            let mut offsets = self.offsets.borrow_mut();
            for level in self.owned_levels() {
                if let Some(&offset) = table.get(&level) {
                    offsets.set(level, offset.max(0) as u64);
                }
            }
        }
        self.flush().await
    }

    /// Writes delayOffset.json if it changed (off the reactor).
    pub async fn flush(&self) -> Result<(), String> {
        let pending = self.offsets.borrow_mut().take_dirty();
        let Some((path, bytes)) = pending else {
            return Ok(());
        };
        let result = crate::persist::write_atomically_off_reactor(path, bytes).await;
        if result.is_err() {
            self.offsets.borrow_mut().mark_dirty();
        }
        result
    }

    async fn flush_loop(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(self.flush_interval).await;
            if let Err(error) = self.flush().await {
                tracing::error!(shard = self.shard_id, %error, "delay offset flush failed");
            }
        }
    }

    async fn level_loop(
        self: Rc<Self>,
        shard: Rc<BrokerShard>,
        level: i32,
        wakeups: LocalReceiver<()>,
    ) {
        let queue_id = queue_id_of_level(level);
        let delay = self.table.delay_ms(level).unwrap_or(0);
        // Deliveries check that their real topic exists: wait for the leader's first
        // metadata snapshot (it always holds the system topics), once, at start.
        while !shard.snapshot().topics.contains_key(SCHEDULE_TOPIC) {
            glommio::timer::sleep(Duration::from_millis(50)).await;
        }
        loop {
            let offset = self.offsets.borrow().get(level);
            let store = shard.owner().store();
            let accept_all = |_: i64| true;
            let result = store
                .get(&GetRequest {
                    topic: SCHEDULE_TOPIC,
                    queue_id,
                    queue_offset: offset,
                    max_count: READ_BATCH,
                    max_bytes: READ_BYTES_MAX,
                    filter: &accept_all,
                    zero_copy: false,
                })
                .await;
            for damaged in &result.damaged_units {
                tracing::error!(level, ?damaged, "damaged SCHEDULE_TOPIC_XXXX unit skipped");
            }
            if result.messages.is_empty() {
                let next = if offset > result.max_offset {
                    result.max_offset // The store holds less than we delivered (recovery).
                } else if offset < result.min_offset {
                    result.min_offset // Retention removed what was not delivered.
                } else {
                    result.next_begin_offset.max(offset)
                };
                if next != offset {
                    tracing::warn!(level, offset, next, "delay level offset corrected");
                    self.offsets.borrow_mut().set(level, next);
                    continue;
                }
                // Caught up: wait for the next append to this level's queue.
                if wakeups.recv().await.is_none() {
                    return;
                }
                continue;
            }
            let now = now_ms();
            let mut due = Vec::new();
            let mut wait = None;
            for message in result.messages {
                let MessageData::Bytes(bytes) = message.data else {
                    unreachable!("a get without zero copy returns bytes")
                };
                let decoded = match decode_record(&bytes, false) {
                    Ok(decoded) => decoded,
                    Err(error) => {
                        tracing::error!(level, offset = message.queue_offset, %error,
                            "unreadable delayed message skipped");
                        due.push((message.queue_offset, None));
                        continue;
                    }
                };
                let deliver_at = decoded.stamp.store_timestamp.saturating_add(delay as i64);
                if deliver_at > now {
                    // Java's correctDeliverTimestamp: a due time further away than the
                    // level's delay means the clock went back; deliver after one delay.
                    let ms = ((deliver_at - now) as u64).min(delay);
                    wait = Some(Duration::from_millis(ms));
                    break;
                }
                due.push((message.queue_offset, Some(decoded)));
            }
            let delivered_any = !due.is_empty();
            let tasks: Vec<_> = due
                .into_iter()
                .map(|(queue_offset, decoded)| {
                    let (service, shard) = (self.clone(), shard.clone());
                    let task = glommio::spawn_local(async move {
                        if let Some(decoded) = decoded {
                            service.deliver(&shard, level, queue_offset, decoded).await;
                        }
                    });
                    (queue_offset, task)
                })
                .collect();
            for (queue_offset, task) in tasks {
                task.await;
                self.offsets.borrow_mut().set(level, queue_offset + 1);
            }
            if !delivered_any {
                if let Some(wait) = wait {
                    glommio::timer::sleep(wait).await;
                }
            }
        }
    }

    /// Stores one due message on its real queue, retrying until it is stored or skipped.
    async fn deliver(
        &self,
        shard: &Rc<BrokerShard>,
        level: i32,
        queue_offset: u64,
        decoded: DecodedRecord,
    ) {
        let msg_id = decoded
            .message
            .properties
            .get(PROPERTY_UNIQ_KEY)
            .unwrap_or("")
            .to_owned();
        let mut attempt: u32 = 0;
        loop {
            let failure = match time_up(&decoded.message) {
                Err(reason) => Failure::Permanent(reason),
                Ok(record) => match self.put(shard, record).await {
                    Ok(()) => return,
                    Err(failure) => failure,
                },
            };
            attempt += 1;
            match failure {
                Failure::Permanent(reason) if attempt >= PERMANENT_FAILURE_ATTEMPTS => {
                    tracing::error!(level, queue_offset, msg_id, reason,
                        "delayed message not delivered after {attempt} attempts; skipped (it stays in SCHEDULE_TOPIC_XXXX)");
                    return;
                }
                Failure::Permanent(reason) | Failure::Transient(reason) => {
                    let wait = backoff(attempt);
                    tracing::warn!(
                        level,
                        queue_offset,
                        msg_id,
                        reason,
                        attempt,
                        "delayed message delivery failed; retrying in {wait:?}"
                    );
                    glommio::timer::sleep(wait).await;
                }
            }
        }
    }

    async fn put(&self, shard: &Rc<BrokerShard>, record: MessageRecord) -> Result<(), Failure> {
        if !shard.snapshot().topics.contains_key(&record.topic) {
            return Err(Failure::Permanent(format!(
                "the real topic {} does not exist",
                record.topic
            )));
        }
        let owner = owner_shard(&record.topic, record.queue_id, self.shard_count);
        let put = PutRequest {
            topic: record.topic.clone(),
            queue_id: record.queue_id,
            records: vec![record],
            batch: false,
        };
        match shard.put(owner, put).await {
            Ok(_) => Ok(()),
            Err(error @ (BrokerError::MessageIllegal(_) | BrokerError::InvalidParameter(_))) => {
                Err(Failure::Permanent(error.to_string()))
            }
            Err(error) => Err(Failure::Transient(error.to_string())),
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF_FIRST
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_MAX)
}

/// `ScheduleMessageService.messageTimeUp`: the message as it goes to its real queue. Body,
/// flag, properties (REAL_TOPIC and REAL_QID stay, DELAY goes), sys flag, born time and
/// host, store host and reconsume times are kept.
fn time_up(message: &MessageRecord) -> Result<MessageRecord, String> {
    let mut record = message.clone();
    record.properties.remove(PROPERTY_DELAY);
    let topic = record
        .properties
        .get(PROPERTY_REAL_TOPIC)
        .filter(|t| !t.is_empty())
        .ok_or("no REAL_TOPIC property")?
        .to_owned();
    if topic == TRANS_HALF_TOPIC || topic == SCHEDULE_TOPIC {
        return Err(format!("a delayed message cannot go to {topic}"));
    }
    let queue_id: i32 = record
        .properties
        .get(PROPERTY_REAL_QUEUE_ID)
        .and_then(|q| q.trim().parse().ok())
        .filter(|q| *q >= 0)
        .ok_or("no valid REAL_QID property")?;
    record.topic = topic;
    record.queue_id = queue_id;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::divert_delayed;
    use ramjet_store::Properties;

    fn record(topic: &str, queue_id: i32) -> MessageRecord {
        let mut properties = Properties::new();
        properties.set(PROPERTY_UNIQ_KEY, "ID");
        properties.set("KEYS", "k1");
        properties.set(PROPERTY_DELAY, "3");
        let host = "127.0.0.1:10911".parse().unwrap();
        MessageRecord {
            topic: topic.into(),
            queue_id,
            flag: 3,
            body: bytes::Bytes::from_static(b"hello"),
            properties,
            sys_flag: 0,
            born_timestamp: 11,
            born_host: "10.0.0.1:5555".parse().unwrap(),
            store_host: host,
            reconsume_times: 4,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn time_up_restores_the_real_queue_and_clears_delay() {
        let mut put = PutRequest {
            topic: "%RETRY%G".into(),
            queue_id: 0,
            records: vec![record("%RETRY%G", 0)],
            batch: false,
        };
        divert_delayed(&DelayLevelTable::default(), &mut put).unwrap();
        let stored = &put.records[0];
        let delivered = time_up(stored).unwrap();
        assert_eq!(
            (delivered.topic.as_str(), delivered.queue_id),
            ("%RETRY%G", 0)
        );
        assert_eq!(delivered.properties.get(PROPERTY_DELAY), None);
        assert_eq!(
            delivered.properties.get(PROPERTY_REAL_TOPIC),
            Some("%RETRY%G")
        );
        assert_eq!(delivered.properties.get(PROPERTY_REAL_QUEUE_ID), Some("0"));
        assert_eq!(delivered.properties.get("KEYS"), Some("k1"));
        assert_eq!(delivered.properties.get(PROPERTY_UNIQ_KEY), Some("ID"));
        assert_eq!(
            (
                delivered.flag,
                delivered.reconsume_times,
                delivered.born_timestamp
            ),
            (3, 4, 11)
        );
        assert_eq!(delivered.body, &b"hello"[..]);
        assert_eq!(delivered.born_host, stored.born_host);
    }

    #[test]
    fn time_up_refuses_a_message_without_a_real_queue() {
        let mut message = record(SCHEDULE_TOPIC, 2);
        assert!(time_up(&message).is_err());
        message.properties.set(PROPERTY_REAL_TOPIC, "T");
        message.properties.set(PROPERTY_REAL_QUEUE_ID, "x");
        assert!(time_up(&message).is_err());
        message.properties.set(PROPERTY_REAL_QUEUE_ID, "-1");
        assert!(time_up(&message).is_err());
        message.properties.set(PROPERTY_REAL_QUEUE_ID, "1");
        assert!(time_up(&message).is_ok());
        message
            .properties
            .set(PROPERTY_REAL_TOPIC, TRANS_HALF_TOPIC);
        assert!(time_up(&message).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(5), Duration::from_millis(3200));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
