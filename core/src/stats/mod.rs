//! A shard's counters: what GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO, GET_CONSUME_STATS
//! and the Prometheus exporter (docs/metrics.md) answer.
//!
//! Each counter is written only by the shard that owns what it counts (puts and pulls run
//! on the queue's owner), as plain integers behind `Cell`/`RefCell`: no atomics, no locks on
//! the hot path. Readers ask every shard for a copy over the mesh (`PartRequest::Runtime`,
//! `PartRequest::Metrics`, ...) and add the copies up.

pub mod broker_stats;
mod histogram;
mod window;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use ramjet_net::server::Counter;
use ramjet_store::message::sys_flag::TRANSACTION_PREPARED_TYPE;
use ramjet_store::MessageRecord;

pub use histogram::{
    Histogram, MESSAGE_SIZE_BOUNDS, RPC_LATENCY_MS_BOUNDS, SEND_LATENCY_SECONDS_BOUNDS,
    STORE_LATENCY_SECONDS_BOUNDS,
};
pub use window::{java_double, Window};

/// RocketMQ 5's `TopicMessageType.getMetricsValue()`, the `message_type` label.
pub const MESSAGE_TYPES: [&str; 4] = ["normal", "fifo", "delay", "transaction"];

/// Seconds between the samples of the broker-wide window (RocketMQ's StoreStatsService).
pub const SAMPLE_SECS: u64 = 1;
/// Seconds between the samples of the per-topic and per-group windows (RocketMQ's
/// StatsItem minute samples).
pub const KEY_SAMPLE_SECS: u64 = 10;

/// The index into `MESSAGE_TYPES` of a stored record, from what its sender set, as
/// `BrokerMetricsManager.getMessageType` reads the send header. One pass over the
/// properties: this runs for every put.
pub fn message_type(record: &MessageRecord) -> usize {
    if record.sys_flag & TRANSACTION_PREPARED_TYPE != 0 {
        return 3;
    }
    let mut kind = 0;
    for (name, value) in record.properties.iter() {
        match name {
            "TRAN_MSG" if value == "true" => return 3,
            "DELAY" if value.trim() != "0" => kind = 2,
            "TIMER_DELIVER_MS" | "TIMER_DELAY_SEC" | "TIMER_DELAY_MS" | "REAL_TOPIC" => kind = 2,
            "__SHARDINGKEY" if kind == 0 => kind = 1,
            _ => {}
        }
    }
    kind
}

/// What was put into one topic on this shard, by message type.
#[derive(Debug, Clone)]
pub struct TopicIn {
    pub messages: [u64; 4],
    pub bytes: [u64; 4],
    pub sizes: [Histogram; 4],
    /// Send latency of the topic's puts (one observation per put, whatever its message
    /// count or type), seconds: `ramjet_send_latency_seconds`.
    pub send_latency: Histogram,
    /// Samples of the message total every `KEY_SAMPLE_SECS` (one minute and the newest).
    pub window: Window<7>,
}

impl Default for TopicIn {
    fn default() -> Self {
        TopicIn {
            messages: [0; 4],
            bytes: [0; 4],
            sizes: std::array::from_fn(|_| Histogram::new(MESSAGE_SIZE_BOUNDS)),
            send_latency: Histogram::new(SEND_LATENCY_SECONDS_BOUNDS),
            window: Window::default(),
        }
    }
}

impl TopicIn {
    pub fn total(&self) -> u64 {
        self.messages.iter().sum()
    }
}

/// What one consumer group pulled from one topic on this shard.
#[derive(Debug, Clone, Default)]
pub struct GroupOut {
    pub messages: u64,
    pub bytes: u64,
    pub window: Window<7>,
}

/// The broker-wide TPS windows of one shard, sampled every `SAMPLE_SECS` (10 min kept).
#[derive(Debug, Default)]
pub struct Windows {
    pub put: Window<601>,
    pub get_transferred: Window<601>,
    pub get_found: Window<601>,
    pub get_miss: Window<601>,
}

/// The running totals at the start of today and of yesterday (RocketMQ's `BrokerStats`,
/// which moves them at local midnight; 0 until the broker has seen a midnight).
#[derive(Debug, Default, Clone, Copy)]
pub struct DayTotals {
    pub day: i64,
    pub put_today_morning: u64,
    pub put_yesterday_morning: u64,
    pub get_today_morning: u64,
    pub get_yesterday_morning: u64,
}

impl DayTotals {
    /// Called with the local day number and the running totals; moves the mornings when
    /// the day changed since the last call.
    pub fn roll(&mut self, day: i64, put_now: u64, get_now: u64) {
        if self.day == 0 {
            self.day = day;
        } else if day != self.day {
            self.day = day;
            self.put_yesterday_morning = self.put_today_morning;
            self.get_yesterday_morning = self.get_today_morning;
            self.put_today_morning = put_now;
            self.get_today_morning = get_now;
        }
    }
}

#[derive(Default)]
pub struct ShardStats {
    pub put_messages: Cell<u64>,
    pub put_bytes: Cell<u64>,
    /// Messages pulled (RocketMQ's getTransferred count).
    pub get_messages: Cell<u64>,
    pub get_bytes: Cell<u64>,
    /// Pulls that found messages / found none (RocketMQ's getFound / getMiss).
    pub get_found: Cell<u64>,
    pub get_miss: Cell<u64>,
    /// topic -> what was put into it here.
    pub topics_in: RefCell<HashMap<String, TopicIn>>,
    /// topic -> group -> what the group pulled from it here.
    pub groups_out: RefCell<HashMap<String, HashMap<String, GroupOut>>>,
    pub windows: RefCell<Windows>,
    pub days: Cell<DayTotals>,
    /// Store appends (a put's records, until the write completed), seconds.
    pub append_latency: RefCell<Option<Histogram>>,
    /// Store flushes of the flush loop, seconds.
    pub flush_latency: RefCell<Option<Histogram>>,
    /// Puts answered SYSTEM_BUSY after `waitTimeMillsInSendQueue` with the send queue full
    /// (`ramjetPutsBusySendQueue`).
    pub puts_busy: Counter,
    /// Oneway puts that found the send queue full and waited for room instead of being
    /// dropped (`ramjetOnewayPutsWaitedSendQueue`).
    pub oneway_puts_waited: Counter,
}

fn add(cell: &Cell<u64>, value: u64) {
    cell.set(cell.get() + value);
}

impl ShardStats {
    /// A put stored `records` (`bytes` in the CommitLog) into `topic`, `seconds` after it
    /// arrived at the owner.
    pub fn record_put(&self, topic: &str, records: &[MessageRecord], bytes: usize, seconds: f64) {
        let count = records.len() as u64;
        add(&self.put_messages, count);
        add(&self.put_bytes, bytes as u64);
        let Some(first) = records.first() else {
            return;
        };
        let kind = message_type(first);
        let mut topics = self.topics_in.borrow_mut();
        let entry = match topics.get_mut(topic) {
            Some(entry) => entry,
            None => {
                let entry = topics.entry(topic.to_owned()).or_default();
                // A zero sample first: the first minute sample then counts these puts.
                entry.window.push(0);
                entry
            }
        };
        entry.messages[kind] += count;
        entry.bytes[kind] += bytes as u64;
        for record in records {
            entry.sizes[kind].observe(record.body.len() as f64);
        }
        entry.send_latency.observe(seconds);
    }

    /// A pull of `group` from `topic` answered `messages` messages of `bytes` bytes.
    pub fn record_get(&self, group: &str, topic: &str, messages: usize, bytes: usize) {
        if messages == 0 {
            add(&self.get_miss, 1);
            return;
        }
        add(&self.get_found, 1);
        add(&self.get_messages, messages as u64);
        add(&self.get_bytes, bytes as u64);
        let mut topics = self.groups_out.borrow_mut();
        let groups = match topics.get_mut(topic) {
            Some(groups) => groups,
            None => topics.entry(topic.to_owned()).or_default(),
        };
        let entry = match groups.get_mut(group) {
            Some(entry) => entry,
            None => {
                let entry = groups.entry(group.to_owned()).or_default();
                entry.window.push(0);
                entry
            }
        };
        entry.messages += messages as u64;
        entry.bytes += bytes as u64;
    }

    pub fn record_append(&self, seconds: f64) {
        self.append_latency
            .borrow_mut()
            .get_or_insert_with(|| Histogram::new(STORE_LATENCY_SECONDS_BOUNDS))
            .observe(seconds);
    }

    pub fn record_flush(&self, seconds: f64) {
        self.flush_latency
            .borrow_mut()
            .get_or_insert_with(|| Histogram::new(STORE_LATENCY_SECONDS_BOUNDS))
            .observe(seconds);
    }

    /// The sampler's tick (every `SAMPLE_SECS`): the broker-wide windows, every
    /// `KEY_SAMPLE_SECS` the per-topic and per-group ones, and the day's mornings.
    pub fn sample(&self, tick: u64, local_day: i64) {
        {
            let mut windows = self.windows.borrow_mut();
            windows.put.push(self.put_messages.get());
            windows.get_transferred.push(self.get_messages.get());
            windows.get_found.push(self.get_found.get());
            windows.get_miss.push(self.get_miss.get());
        }
        if tick.is_multiple_of(KEY_SAMPLE_SECS / SAMPLE_SECS) {
            for entry in self.topics_in.borrow_mut().values_mut() {
                let total = entry.total();
                entry.window.push(total);
            }
            for groups in self.groups_out.borrow_mut().values_mut() {
                for entry in groups.values_mut() {
                    entry.window.push(entry.messages);
                }
            }
        }
        let mut days = self.days.get();
        days.roll(local_day, self.put_messages.get(), self.get_messages.get());
        self.days.set(days);
    }

    /// Put TPS of `topic` over the last minute (RocketMQ's `tpsTopicPutNums`).
    pub fn topic_put_tps(&self, topic: &str) -> f64 {
        self.topics_in
            .borrow()
            .get(topic)
            .map_or(0.0, |t| t.window.rate(6, KEY_SAMPLE_SECS as f64))
    }

    /// Pull TPS of `group` from `topic` over the last minute (`tpsGroupGetNums`).
    pub fn group_get_tps(&self, group: &str, topic: &str) -> f64 {
        self.groups_out
            .borrow()
            .get(topic)
            .and_then(|groups| groups.get(group))
            .map_or(0.0, |g| g.window.rate(6, KEY_SAMPLE_SECS as f64))
    }

    /// A deleted topic's counters go with it.
    pub fn forget_topic(&self, topic: &str) {
        self.topics_in.borrow_mut().remove(topic);
        self.groups_out.borrow_mut().remove(topic);
    }

    pub fn forget_group(&self, group: &str) {
        for groups in self.groups_out.borrow_mut().values_mut() {
            groups.remove(group);
        }
    }
}

/// The local day number (year * 1000 + day of year), for the midnight roll.
pub fn local_day(unix_seconds: i64) -> i64 {
    let time = unix_seconds as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed struct we pass; `time` outlives the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&time, &mut tm) }.is_null() {
        return unix_seconds / 86_400;
    }
    i64::from(tm.tm_year) * 1000 + i64::from(tm.tm_yday)
}

/// CPU time this thread has used, seconds (each shard is one thread).
pub fn thread_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime writes into the struct we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::properties::Properties;

    fn record(properties: &[(&str, &str)], body: usize) -> MessageRecord {
        let mut props = Properties::new();
        for (k, v) in properties {
            props.set(k, v);
        }
        MessageRecord {
            topic: "T".into(),
            queue_id: 0,
            flag: 0,
            body: vec![0; body].into(),
            properties: props,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn message_types_follow_the_sender_properties() {
        assert_eq!(message_type(&record(&[], 1)), 0);
        assert_eq!(message_type(&record(&[("__SHARDINGKEY", "k")], 1)), 1);
        assert_eq!(message_type(&record(&[("DELAY", "3")], 1)), 2);
        assert_eq!(message_type(&record(&[("DELAY", "0")], 1)), 0);
        assert_eq!(message_type(&record(&[("TRAN_MSG", "true")], 1)), 3);
        // Delay wins over a sharding key whatever the order, transaction over both.
        assert_eq!(
            message_type(&record(&[("DELAY", "2"), ("__SHARDINGKEY", "k")], 1)),
            2
        );
        assert_eq!(
            message_type(&record(&[("__SHARDINGKEY", "k"), ("DELAY", "2")], 1)),
            2
        );
        assert_eq!(
            message_type(&record(&[("DELAY", "2"), ("TRAN_MSG", "true")], 1)),
            3
        );
    }

    #[test]
    fn puts_and_gets_count_per_topic_and_group_and_feed_the_windows() {
        let stats = ShardStats::default();
        stats.record_put("T", &[record(&[], 100), record(&[], 2000)], 2300, 0.000_2);
        stats.record_put("T", &[record(&[("DELAY", "1")], 10)], 200, 0.003);
        stats.record_get("G", "T", 3, 2500);
        stats.record_get("G", "T", 0, 0);
        assert_eq!(stats.put_messages.get(), 3);
        assert_eq!(stats.get_found.get(), 1);
        assert_eq!(stats.get_miss.get(), 1);
        {
            let topics = stats.topics_in.borrow();
            let t = &topics["T"];
            assert_eq!(t.messages, [2, 0, 1, 0]);
            assert_eq!(t.sizes[0].counts[..2], [1, 1]);
            // One observation per put, not per message: 200 us and 3 ms.
            assert_eq!(t.send_latency.count, 2);
            assert_eq!(t.send_latency.counts[4], 1);
            assert_eq!(t.send_latency.counts[8], 1);
        }
        stats.sample(0, 1);
        stats.record_put("T", &[record(&[], 1)], 1, 0.0);
        for tick in 1..=10 {
            stats.sample(tick, 1);
        }
        // 4 messages over the two 10 s intervals since the topic's first put.
        assert_eq!(stats.topic_put_tps("T"), 0.2);
        // 3 messages in the first interval, none in the second.
        assert_eq!(stats.group_get_tps("G", "T"), 0.15);
        assert_eq!(stats.windows.borrow().put.rate(10, 1.0), 0.1);
        stats.forget_topic("T");
        assert!(stats.topics_in.borrow().is_empty());
    }

    #[test]
    fn mornings_move_at_midnight() {
        let mut days = DayTotals::default();
        days.roll(5, 10, 1);
        assert_eq!(days.put_today_morning, 0);
        days.roll(6, 20, 2);
        assert_eq!(
            (days.put_today_morning, days.put_yesterday_morning),
            (20, 0)
        );
        days.roll(7, 50, 5);
        assert_eq!(
            (days.put_today_morning, days.put_yesterday_morning),
            (50, 20)
        );
        assert_eq!((days.get_today_morning, days.get_yesterday_morning), (5, 2));
    }
}
