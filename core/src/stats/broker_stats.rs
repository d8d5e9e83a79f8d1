//! RocketMQ's BrokerStatsManager items, as VIEW_BROKER_STATS_DATA (315) and `mqadmin
//! statsAll` read them: per stats name and key, the sum, TPS and average per call over the
//! last minute, hour and day (`StatsItem.getStatsDataInMinute/Hour/Day`).
//!
//! Nothing here runs on the hot path. The shard's stats loop snapshots the counters that
//! `ShardStats` already keeps (`sample`) every 10 s into the minute list, every 10 min into
//! the hour list and every hour into the day list, keeping Java's 7, 7 and 25 snapshots.
//! A window's answer is Java's `computeStatsData`: sum = last - first value, tps = sum per
//! second between the two snapshots, avgpt = sum / calls between them.
//!
//! Names and keys as Java builds them: TOPIC_PUT_NUMS and TOPIC_PUT_SIZE by topic (calls:
//! puts), GROUP_GET_NUMS and GROUP_GET_SIZE by `topic@group`, BROKER_PUT_NUMS and
//! BROKER_GET_NUMS by the cluster name, SNDBCK_PUT_NUMS by `topic@group` (topic: the
//! message's RETRY_TOPIC, else its topic; one call per retry or dead letter stored, from
//! `OpsCounters::record_send_back`). Ramjet counts no pulls per group, only messages, so
//! the GROUP_GET items' avgpt stays 0.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::ShardStats;

pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";
pub const SNDBCK_PUT_NUMS: &str = "SNDBCK_PUT_NUMS";

/// Stats loop ticks (seconds) between minute, hour and day snapshots.
pub const MINUTE_SAMPLE_SECS: u64 = 10;
pub const HOUR_SAMPLE_SECS: u64 = 600;
pub const DAY_SAMPLE_SECS: u64 = 3600;

const MINUTE_KEEP: usize = 7;
const HOUR_KEEP: usize = 7;
const DAY_KEEP: usize = 25;

/// One `CallSnapshot`: when, the running call count and the running value.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Snapshot {
    at_ms: i64,
    times: u64,
    value: u64,
}

/// One window's answer (`StatsSnapshot`); `times` lets shards' answers be added up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowStats {
    pub sum: u64,
    pub tps: f64,
    pub times: u64,
}

impl WindowStats {
    /// `avgpt`: the value per call.
    pub fn avgpt(&self) -> f64 {
        if self.times == 0 {
            0.0
        } else {
            self.sum as f64 / self.times as f64
        }
    }

    /// Adds another shard's answer for the same item.
    pub fn add(&mut self, other: &WindowStats) {
        self.sum += other.sum;
        self.tps += other.tps;
        self.times += other.times;
    }
}

/// Minute, hour and day (`BrokerStatsData`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ItemStats {
    pub minute: WindowStats,
    pub hour: WindowStats,
    pub day: WindowStats,
}

#[derive(Debug, Default)]
struct ItemWindows {
    minute: VecDeque<Snapshot>,
    hour: VecDeque<Snapshot>,
    day: VecDeque<Snapshot>,
}

fn push(list: &mut VecDeque<Snapshot>, keep: usize, snapshot: Snapshot) {
    list.push_back(snapshot);
    while list.len() > keep {
        list.pop_front();
    }
}

/// `computeStatsData`.
fn compute(list: &VecDeque<Snapshot>) -> WindowStats {
    let (Some(first), Some(last)) = (list.front(), list.back()) else {
        return WindowStats::default();
    };
    let sum = last.value.saturating_sub(first.value);
    let elapsed_ms = last.at_ms - first.at_ms;
    WindowStats {
        sum,
        tps: if elapsed_ms > 0 {
            sum as f64 * 1000.0 / elapsed_ms as f64
        } else {
            0.0
        },
        times: last.times.saturating_sub(first.times),
    }
}

impl ItemWindows {
    /// A new item, as Java's `init`: a zero snapshot one period back in every list, then
    /// the first real one.
    fn new(now_ms: i64, times: u64, value: u64) -> ItemWindows {
        let mut item = ItemWindows::default();
        for (list, period) in [
            (&mut item.minute, MINUTE_SAMPLE_SECS),
            (&mut item.hour, HOUR_SAMPLE_SECS),
            (&mut item.day, DAY_SAMPLE_SECS),
        ] {
            list.push_back(Snapshot {
                at_ms: now_ms - period as i64 * 1000,
                times: 0,
                value: 0,
            });
        }
        item.sample(now_ms, times, value, true, true);
        item
    }

    fn sample(&mut self, now_ms: i64, times: u64, value: u64, hour: bool, day: bool) {
        let snapshot = Snapshot {
            at_ms: now_ms,
            times,
            value,
        };
        push(&mut self.minute, MINUTE_KEEP, snapshot);
        if hour {
            push(&mut self.hour, HOUR_KEEP, snapshot);
        }
        if day {
            push(&mut self.day, DAY_KEEP, snapshot);
        }
    }

    fn stats(&self) -> ItemStats {
        ItemStats {
            minute: compute(&self.minute),
            hour: compute(&self.hour),
            day: compute(&self.day),
        }
    }
}

/// One shard's BrokerStatsManager items.
#[derive(Debug, Default)]
pub struct BrokerStatsTable {
    items: HashMap<(&'static str, String), ItemWindows>,
}

impl BrokerStatsTable {
    /// Snapshots `stats` into the windows; `tick` is the stats loop's second count, a
    /// multiple of `MINUTE_SAMPLE_SECS`. Items whose counters went (a deleted topic or
    /// group) go too.
    pub fn sample(&mut self, stats: &ShardStats, cluster: &str, now_ms: i64, tick: u64) {
        self.sample_with_send_backs(stats, &BTreeMap::new(), cluster, now_ms, tick);
    }

    /// `sample`, plus SNDBCK_PUT_NUMS from `send_backs` (`topic@group` -> retries and dead
    /// letters stored).
    pub fn sample_with_send_backs(
        &mut self,
        stats: &ShardStats,
        send_backs: &BTreeMap<String, u64>,
        cluster: &str,
        now_ms: i64,
        tick: u64,
    ) {
        let hour = tick.is_multiple_of(HOUR_SAMPLE_SECS);
        let day = tick.is_multiple_of(DAY_SAMPLE_SECS);
        let mut current: Vec<((&'static str, String), u64, u64)> = Vec::new();
        for (topic, entry) in stats.topics_in.borrow().iter() {
            let puts = entry.send_latency.count;
            current.push(((TOPIC_PUT_NUMS, topic.clone()), puts, entry.total()));
            let bytes = entry.bytes.iter().sum();
            current.push(((TOPIC_PUT_SIZE, topic.clone()), puts, bytes));
        }
        for (topic, groups) in stats.groups_out.borrow().iter() {
            for (group, entry) in groups {
                let key = format!("{topic}@{group}");
                current.push(((GROUP_GET_NUMS, key.clone()), 0, entry.messages));
                current.push(((GROUP_GET_SIZE, key), 0, entry.bytes));
            }
        }
        let put = stats.put_messages.get();
        let get = stats.get_messages.get();
        current.push(((BROKER_PUT_NUMS, cluster.to_owned()), put, put));
        current.push(((BROKER_GET_NUMS, cluster.to_owned()), get, get));
        for (key, count) in send_backs {
            current.push(((SNDBCK_PUT_NUMS, key.clone()), *count, *count));
        }

        let mut seen = std::collections::HashSet::with_capacity(current.len());
        for (key, times, value) in current {
            match self.items.get_mut(&key) {
                Some(item) => item.sample(now_ms, times, value, hour, day),
                None => {
                    self.items
                        .insert(key.clone(), ItemWindows::new(now_ms, times, value));
                }
            }
            seen.insert(key);
        }
        self.items.retain(|key, _| seen.contains(key));
    }

    /// The item's windows here; `None` when this shard has no such item.
    pub fn get(&self, name: &str, key: &str) -> Option<ItemStats> {
        let name = [
            TOPIC_PUT_NUMS,
            TOPIC_PUT_SIZE,
            GROUP_GET_NUMS,
            GROUP_GET_SIZE,
            BROKER_PUT_NUMS,
            BROKER_GET_NUMS,
            SNDBCK_PUT_NUMS,
        ]
        .into_iter()
        .find(|known| *known == name)?;
        self.items
            .get(&(name, key.to_owned()))
            .map(ItemWindows::stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_compute_as_java_stats_item() {
        let mut item = ItemWindows::new(100_000, 0, 0);
        // Two puts of 5 and 15 messages within the first 10 s.
        item.sample(110_000, 2, 20, false, false);
        let stats = item.stats();
        assert_eq!(stats.minute.sum, 20);
        assert_eq!(stats.minute.tps, 20.0 * 1000.0 / 20_000.0);
        assert_eq!(stats.minute.avgpt(), 10.0);
        // The hour and day lists have only their start: nothing yet.
        assert_eq!(stats.hour.sum, 0);
        assert_eq!(stats.day.sum, 0);
        // The minute list keeps 7 snapshots: after 8 more, the first 20 fell out.
        for step in 2..=9 {
            item.sample(100_000 + step * 10_000, 2, 20, false, false);
        }
        assert_eq!(item.minute.len(), MINUTE_KEEP);
        assert_eq!(item.stats().minute.sum, 0);
        item.sample(200_000, 3, 26, true, true);
        assert_eq!(item.stats().hour.sum, 26);
        assert_eq!(item.stats().day.sum, 26);
    }

    #[test]
    fn the_table_follows_the_counters_and_their_keys() {
        let stats = ShardStats::default();
        let mut table = BrokerStatsTable::default();
        table.sample(&stats, "C", 0, 0);
        assert!(table.get(TOPIC_PUT_NUMS, "T").is_none());
        assert_eq!(table.get(BROKER_PUT_NUMS, "C").unwrap().minute.sum, 0);
        stats
            .topics_in
            .borrow_mut()
            .entry("T".into())
            .or_default()
            .messages[0] = 4;
        stats
            .topics_in
            .borrow_mut()
            .get_mut("T")
            .unwrap()
            .send_latency
            .observe(0.1);
        stats
            .groups_out
            .borrow_mut()
            .entry("T".into())
            .or_default()
            .insert(
                "G".into(),
                super::super::GroupOut {
                    messages: 3,
                    bytes: 30,
                    ..Default::default()
                },
            );
        stats.put_messages.set(4);
        table.sample(&stats, "C", 10_000, 10);
        // Created at this sample: its zero start lies one period back.
        let put = table.get(TOPIC_PUT_NUMS, "T").unwrap();
        assert_eq!((put.minute.sum, put.minute.times), (4, 1));
        assert_eq!(put.minute.tps, 0.4);
        assert_eq!(table.get(GROUP_GET_SIZE, "T@G").unwrap().minute.sum, 30);
        assert_eq!(table.get(BROKER_PUT_NUMS, "C").unwrap().minute.sum, 4);
        assert!(table.get("NO_SUCH_STATS", "T").is_none());
        let send_backs = BTreeMap::from([("T@G".to_owned(), 2)]);
        table.sample_with_send_backs(&stats, &send_backs, "C", 15_000, 15);
        let back = table.get(SNDBCK_PUT_NUMS, "T@G").unwrap();
        assert_eq!((back.minute.sum, back.minute.times), (2, 2));
        stats.forget_topic("T");
        table.sample(&stats, "C", 20_000, 20);
        assert!(table.get(TOPIC_PUT_NUMS, "T").is_none());
    }
}
