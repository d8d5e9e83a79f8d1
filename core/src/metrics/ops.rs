//! RocketMQ 5's connection, DLQ, transaction and storage metrics (BrokerMetricsManager,
//! DefaultStoreMetricsConstant), off the hot path:
//!
//! - `rocketmq_producer_connections{language,version,protocol_type}` and
//!   `rocketmq_consumer_connections{consumer_group,language,version,consume_mode,
//!   protocol_type,is_system}`: the leader's client registry, counted at scrape time;
//! - `rocketmq_send_to_dlq_messages_total{consumer_group,topic,is_system}`: counted where a
//!   CONSUMER_SEND_MSG_BACK decides on the dead letter queue (topic: the original topic);
//! - `rocketmq_commit_messages_total{topic}` and `rocketmq_rollback_messages_total{topic}`:
//!   counted by END_TRANSACTION on the half queue's owner (topic: the real topic);
//!   `rocketmq_half_messages`: transactions still pending (Ramjet keeps no per-topic count,
//!   so one sample without a topic label);
//! - `rocketmq_timer_enqueue_total{topic}` and `rocketmq_timer_dequeue_total{topic}` (5.x's
//!   DefaultStoreMetricsConstant, topic: the real topic): counted by the timer service when a
//!   timer message enters its wheel and when it is stored on its real queue;
//!   `rocketmq_timing_messages`: messages in the wheel now (no per-topic count, so one sample
//!   without a topic label, as `rocketmq_half_messages`);
//! - `rocketmq_storage_flush_behind_bytes` and `rocketmq_storage_dispatch_behind_bytes`:
//!   written CommitLog bytes not yet flushed / not yet dispatched, summed over the shards'
//!   stores;
//! - `rocketmq_storage_size`: the bytes of the whole store directory, walked every 10 s by
//!   a plain thread (`StoreSize`), never on a reactor.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::exposition::Exposition;
use super::scrape::{is_system_group, is_system_topic};
use crate::error::{BrokerError, BrokerResult};
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, MetricsPart};

/// Distinct label sets one counter keeps per shard; past it new ones are dropped (counted
/// under an empty key), so client-chosen group and topic names cannot grow it without bound.
const SERIES_MAX: usize = 4096;

/// Counters of rare events, per shard, written by processors (never the send path).
#[derive(Debug, Default)]
pub struct OpsCounters {
    /// (group, original topic) -> messages sent to the group's DLQ.
    dlq: RefCell<BTreeMap<(String, String), u64>>,
    /// real topic -> transactions committed / rolled back.
    commits: RefCell<BTreeMap<String, u64>>,
    rollbacks: RefCell<BTreeMap<String, u64>>,
    /// real topic -> timer messages that entered the wheel / were delivered.
    timer_enqueues: RefCell<BTreeMap<String, u64>>,
    timer_dequeues: RefCell<BTreeMap<String, u64>>,
    /// `topic@group` -> retries and dead letters stored by CONSUMER_SEND_MSG_BACK here
    /// (BrokerStatsManager's SNDBCK_PUT_NUMS, not an exported metric).
    send_backs: RefCell<BTreeMap<String, u64>>,
    /// Messages in this shard's timer wheel, set by the timer service each round.
    timing: Cell<u64>,
}

fn bump<K: Ord + Default>(table: &RefCell<BTreeMap<K, u64>>, key: K) {
    let mut table = table.borrow_mut();
    let key = if table.len() >= SERIES_MAX && !table.contains_key(&key) {
        K::default()
    } else {
        key
    };
    *table.entry(key).or_insert(0) += 1;
}

impl OpsCounters {
    pub fn record_dlq(&self, group: &str, topic: &str) {
        bump(&self.dlq, (group.to_owned(), topic.to_owned()));
    }

    pub fn record_end_transaction(&self, topic: &str, commit: bool) {
        let table = if commit {
            &self.commits
        } else {
            &self.rollbacks
        };
        bump(table, topic.to_owned());
    }

    pub fn record_timer_enqueue(&self, topic: &str) {
        bump(&self.timer_enqueues, topic.to_owned());
    }

    pub fn record_timer_dequeue(&self, topic: &str) {
        bump(&self.timer_dequeues, topic.to_owned());
    }

    /// `incSendBackNums`: one retry or dead letter of `group` stored, `topic` being the
    /// message's RETRY_TOPIC (else its topic).
    pub fn record_send_back(&self, group: &str, topic: &str) {
        bump(&self.send_backs, format!("{topic}@{group}"));
    }

    pub fn send_backs(&self) -> std::cell::Ref<'_, BTreeMap<String, u64>> {
        self.send_backs.borrow()
    }

    pub fn set_timing_messages(&self, count: u64) {
        self.timing.set(count);
    }

    pub fn part(&self) -> OpsPart {
        OpsPart {
            dlq: self.dlq.borrow().clone(),
            commits: self.commits.borrow().clone(),
            rollbacks: self.rollbacks.borrow().clone(),
            timer_enqueues: self.timer_enqueues.borrow().clone(),
            timer_dequeues: self.timer_dequeues.borrow().clone(),
            timing_messages: self.timing.get(),
            ..Default::default()
        }
    }
}

/// One shard's counters, as the exporter gathers them.
#[derive(Debug, Clone, Default)]
pub struct OpsPart {
    pub dlq: BTreeMap<(String, String), u64>,
    pub commits: BTreeMap<String, u64>,
    pub rollbacks: BTreeMap<String, u64>,
    pub half_messages: u64,
    pub timer_enqueues: BTreeMap<String, u64>,
    pub timer_dequeues: BTreeMap<String, u64>,
    pub timing_messages: u64,
    /// Filled by the shard from its store (`MessageStore::flush_behind_bytes`, ...).
    pub flush_behind_bytes: u64,
    pub dispatch_behind_bytes: u64,
}

impl OpsPart {
    pub fn merge(&mut self, other: &OpsPart) {
        for (key, value) in &other.dlq {
            *self.dlq.entry(key.clone()).or_insert(0) += value;
        }
        for (key, value) in &other.commits {
            *self.commits.entry(key.clone()).or_insert(0) += value;
        }
        for (mine, theirs) in [
            (&mut self.rollbacks, &other.rollbacks),
            (&mut self.timer_enqueues, &other.timer_enqueues),
            (&mut self.timer_dequeues, &other.timer_dequeues),
        ] {
            for (key, value) in theirs {
                *mine.entry(key.clone()).or_insert(0) += value;
            }
        }
        self.half_messages += other.half_messages;
        self.timing_messages += other.timing_messages;
        self.flush_behind_bytes += other.flush_behind_bytes;
        self.dispatch_behind_bytes += other.dispatch_behind_bytes;
    }
}

/// Producer and consumer connections by the labels RocketMQ 5 gives them (leader side).
#[derive(Debug, Clone, Default)]
pub struct ConnectionCensus {
    /// (language, version) -> connections.
    pub producers: BTreeMap<(String, String), u64>,
    /// (group, language, version, consume mode) -> connections.
    pub consumers: BTreeMap<(String, String, String, String), u64>,
}

/// `ConsumeType.getTypeCN()`, lower-cased as the metric writes it.
pub fn consume_mode(consume_type: &str) -> &'static str {
    match consume_type {
        "CONSUME_ACTIVELY" => "pull",
        "CONSUME_POP" => "pop",
        _ => "push",
    }
}

fn owned(node: &[(&'static str, &str)], extra: &[(&'static str, &str)]) -> Vec<(String, String)> {
    node.iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn borrowed(labels: &[(String, String)]) -> Vec<(&str, &str)> {
    labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn flag(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// Writes this module's families: the leader's connection census and every shard's ops
/// counters summed.
pub async fn families(
    out: &mut Exposition,
    shard: &Rc<BrokerShard>,
    parts: &[MetricsPart],
    node: &[(&'static str, &str)],
) -> BrokerResult<()> {
    let census = match shard.leader_call(LeaderRequest::ConnectionCensus).await? {
        LeaderReply::Census(census) => census,
        _ => {
            return Err(BrokerError::Internal(
                "the leader answered no census".into(),
            ))
        }
    };
    out.family(
        "rocketmq_producer_connections",
        "gauge",
        "Producer connections",
    );
    for ((language, version), count) in &census.producers {
        let labels = owned(
            node,
            &[
                ("language", language),
                ("version", version),
                ("protocol_type", "remoting"),
            ],
        );
        out.sample(
            "rocketmq_producer_connections",
            &borrowed(&labels),
            *count as f64,
        );
    }
    out.family(
        "rocketmq_consumer_connections",
        "gauge",
        "Consumer connections",
    );
    for ((group, language, version, mode), count) in &census.consumers {
        let labels = owned(
            node,
            &[
                ("consumer_group", group),
                ("language", language),
                ("version", version),
                ("consume_mode", mode),
                ("protocol_type", "remoting"),
                ("is_system", flag(is_system_group(group))),
            ],
        );
        out.sample(
            "rocketmq_consumer_connections",
            &borrowed(&labels),
            *count as f64,
        );
    }

    let mut sum = OpsPart::default();
    for part in parts {
        sum.merge(&part.ops);
    }
    out.family(
        "rocketmq_send_to_dlq_messages_total",
        "counter",
        "Consumer send to DLQ messages",
    );
    for ((group, topic), count) in &sum.dlq {
        let system = is_system_topic(topic) || is_system_group(group);
        let labels = owned(
            node,
            &[
                ("consumer_group", group),
                ("topic", topic),
                ("is_system", flag(system)),
            ],
        );
        out.sample(
            "rocketmq_send_to_dlq_messages_total",
            &borrowed(&labels),
            *count as f64,
        );
    }
    for (name, help, table) in [
        (
            "rocketmq_commit_messages_total",
            "Total number of commit messages",
            &sum.commits,
        ),
        (
            "rocketmq_rollback_messages_total",
            "Total number of rollback messages",
            &sum.rollbacks,
        ),
        (
            "rocketmq_timer_enqueue_total",
            "Total number of timer enqueue",
            &sum.timer_enqueues,
        ),
        (
            "rocketmq_timer_dequeue_total",
            "Total number of timer dequeue",
            &sum.timer_dequeues,
        ),
    ] {
        out.family(name, "counter", help);
        for (topic, count) in table {
            let labels = owned(node, &[("topic", topic)]);
            out.sample(name, &borrowed(&labels), *count as f64);
        }
    }
    out.family(
        "rocketmq_half_messages",
        "gauge",
        "Half messages of all topics (transactions still pending)",
    );
    out.sample(
        "rocketmq_half_messages",
        &borrowed(&owned(node, &[])),
        sum.half_messages as f64,
    );
    for (name, help, value) in [
        (
            "rocketmq_timing_messages",
            "Current message number in timing",
            sum.timing_messages,
        ),
        (
            "rocketmq_storage_flush_behind_bytes",
            "Broker flush behind bytes",
            sum.flush_behind_bytes,
        ),
        (
            "rocketmq_storage_dispatch_behind_bytes",
            "Broker dispatch behind bytes",
            sum.dispatch_behind_bytes,
        ),
    ] {
        out.family(name, "gauge", help);
        out.sample(name, &borrowed(&owned(node, &[])), value as f64);
    }
    Ok(())
}

thread_local! {
    /// The store walker's latest total, on the exporter's shard.
    static STORE_SIZE: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// Seconds between two walks of the store directory.
pub const STORE_SIZE_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the thread that walks `root` every `STORE_SIZE_INTERVAL` (once per exporter).
pub fn start_store_size(root: PathBuf) {
    let bytes = Arc::new(AtomicU64::new(directory_bytes(&root)));
    STORE_SIZE.with(|cell| *cell.borrow_mut() = Some(bytes.clone()));
    // Runs for the process's life, as the exporter does.
    let spawned = std::thread::Builder::new()
        .name("ramjet-store-size".into())
        .spawn(move || loop {
            std::thread::sleep(STORE_SIZE_INTERVAL);
            bytes.store(directory_bytes(&root), Ordering::Relaxed);
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "rocketmq_storage_size: walker thread not started");
    }
}

/// The latest walk's total, if the walker runs on this thread's shard.
pub fn store_size() -> Option<u64> {
    STORE_SIZE.with(|cell| {
        cell.borrow()
            .as_ref()
            .map(|bytes| bytes.load(Ordering::Relaxed))
    })
}

/// Bytes of the regular files under `root` (allocated size, so preallocated CommitLog
/// segments count what they hold on disk), without following symlinks.
pub fn directory_bytes(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else if metadata.is_file() {
                total += metadata.blocks() * 512;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_merge_over_shards_and_stay_bounded() {
        let a = OpsCounters::default();
        a.record_dlq("G", "T");
        a.record_dlq("G", "T");
        a.record_end_transaction("T", true);
        let b = OpsCounters::default();
        b.record_dlq("G", "T");
        b.record_end_transaction("T", false);
        let mut sum = a.part();
        sum.merge(&b.part());
        assert_eq!(sum.dlq[&("G".to_owned(), "T".to_owned())], 3);
        assert_eq!(sum.commits["T"], 1);
        assert_eq!(sum.rollbacks["T"], 1);
        a.record_timer_enqueue("T");
        b.record_timer_enqueue("T");
        b.record_timer_dequeue("T");
        a.set_timing_messages(2);
        b.set_timing_messages(3);
        let mut sum = a.part();
        sum.merge(&b.part());
        assert_eq!(sum.timer_enqueues["T"], 2);
        assert_eq!(sum.timer_dequeues["T"], 1);
        assert_eq!(sum.timing_messages, 5);
        for index in 0..SERIES_MAX + 10 {
            a.record_end_transaction(&format!("T{index}"), true);
        }
        assert!(a.commits.borrow().len() <= SERIES_MAX + 1);
    }

    #[test]
    fn the_store_walk_counts_nested_files() {
        let dir = std::env::temp_dir().join(format!("ramjet-store-size-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/f"), vec![1u8; 10_000]).unwrap();
        std::fs::write(dir.join("g"), vec![1u8; 5_000]).unwrap();
        let bytes = directory_bytes(&dir);
        assert!(bytes >= 15_000, "{bytes}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(consume_mode("CONSUME_PASSIVELY"), "push");
    }
}
