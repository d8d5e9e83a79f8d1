//! One scrape: every shard's counters (a `PartRequest::Metrics` over the mesh), added up
//! and written in RocketMQ 5.1's metric names and labels, then Ramjet's own.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::exposition::Exposition;
use crate::error::BrokerResult;
use crate::shard::BrokerShard;
use crate::shard_request::{MetricsPart, PartReply, PartRequest};
use crate::stats::{Histogram, MESSAGE_TYPES};

/// One figure of a topic's in-counters, by message type.
type InValue = fn(&crate::stats::TopicIn, usize) -> u64;
/// One per-shard figure.
type ShardValue = fn(&MetricsPart) -> f64;
/// One per-shard histogram, when the shard has observed any.
type ShardHistogram = fn(&MetricsPart) -> Option<&Histogram>;

/// `TopicValidator.isSystemTopic`.
pub(super) fn is_system_topic(topic: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "BenchmarkTest",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    ];
    topic.starts_with("rmq_sys_") || SYSTEM.contains(&topic)
}

/// `MixAll.isSysConsumerGroup`.
pub(super) fn is_system_group(group: &str) -> bool {
    group.starts_with("CID_RMQ_SYS_")
}

fn flag(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

pub async fn scrape(shard: &Rc<BrokerShard>) -> BrokerResult<String> {
    let mut parts: Vec<MetricsPart> = Vec::new();
    for part in shard.parts(|| PartRequest::Metrics).await? {
        if let PartReply::Metrics(part) = part {
            parts.push(*part);
        }
    }
    parts.sort_by_key(|part| part.shard);
    let config = shard.config();
    let snapshot = shard.snapshot();
    let node = [
        ("cluster", config.broker_cluster_name.as_str()),
        ("node_type", "broker"),
        ("node_id", config.broker_name.as_str()),
    ];
    let with = |extra: &[(&'static str, &str)]| labels(&node, extra);
    let mut out = Exposition::default();

    // In: by (topic, message type), over shards.
    let mut topics_in: BTreeMap<String, crate::stats::TopicIn> = BTreeMap::new();
    for part in &parts {
        for (topic, counters) in &part.topics_in {
            match topics_in.get_mut(topic) {
                None => {
                    topics_in.insert(topic.clone(), counters.clone());
                }
                Some(sum) => {
                    for kind in 0..MESSAGE_TYPES.len() {
                        sum.messages[kind] += counters.messages[kind];
                        sum.bytes[kind] += counters.bytes[kind];
                        sum.sizes[kind].merge(&counters.sizes[kind]);
                    }
                    sum.send_latency.merge(&counters.send_latency);
                }
            }
        }
    }
    let in_families: [(&str, &str, InValue); 2] = [
        (
            "rocketmq_messages_in_total",
            "Total number of incoming messages",
            |t, k| t.messages[k],
        ),
        (
            "rocketmq_throughput_in_total",
            "Total traffic of incoming messages, bytes",
            |t, k| t.bytes[k],
        ),
    ];
    for (name, help, value) in in_families {
        out.family(name, "counter", help);
        for (topic, counters) in &topics_in {
            for (kind, type_name) in MESSAGE_TYPES.iter().enumerate() {
                if counters.messages[kind] == 0 {
                    continue;
                }
                let labels = with(&[
                    ("topic", topic),
                    ("message_type", type_name),
                    ("is_system", flag(is_system_topic(topic))),
                ]);
                out.sample(name, &borrow(&labels), value(counters, kind) as f64);
            }
        }
    }
    out.family(
        "rocketmq_message_size",
        "histogram",
        "Incoming messages size, bytes",
    );
    for (topic, counters) in &topics_in {
        for (kind, type_name) in MESSAGE_TYPES.iter().enumerate() {
            if counters.sizes[kind].count == 0 {
                continue;
            }
            let labels = with(&[("topic", topic), ("message_type", type_name)]);
            out.histogram(
                "rocketmq_message_size",
                &borrow(&labels),
                &counters.sizes[kind],
            );
        }
    }

    // Out: by (topic, group), over shards.
    let mut groups_out: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for part in &parts {
        for (topic, group, messages, bytes) in &part.groups_out {
            let sum = groups_out
                .entry((topic.clone(), group.clone()))
                .or_default();
            sum.0 += messages;
            sum.1 += bytes;
        }
    }
    let out_labels = |topic: &str, group: &str| {
        with(&[
            ("topic", topic),
            ("consumer_group", group),
            ("is_retry", flag(topic.starts_with("%RETRY%"))),
            (
                "is_system",
                flag(is_system_topic(topic) || is_system_group(group)),
            ),
        ])
    };
    for (name, help, bytes) in [
        (
            "rocketmq_messages_out_total",
            "Total number of outgoing messages",
            false,
        ),
        (
            "rocketmq_throughput_out_total",
            "Total traffic of outgoing messages, bytes",
            true,
        ),
    ] {
        out.family(name, "counter", help);
        for ((topic, group), (messages, size)) in &groups_out {
            let value = if bytes { *size } else { *messages };
            out.sample(name, &borrow(&out_labels(topic, group)), value as f64);
        }
    }

    // Lag: by (group, topic), over shards.
    let mut lags: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
    for part in &parts {
        for row in &part.lags {
            let sum = lags
                .entry((row.group.clone(), row.topic.clone()))
                .or_default();
            sum.0 += row.messages;
            if row.earliest_unconsumed > 0 && (sum.1 == 0 || row.earliest_unconsumed < sum.1) {
                sum.1 = row.earliest_unconsumed;
            }
        }
    }
    let now = crate::topic_config_manager::now_ms();
    out.family(
        "rocketmq_consumer_lag_messages",
        "gauge",
        "Consumer lag messages",
    );
    for ((group, topic), (messages, _)) in &lags {
        out.sample(
            "rocketmq_consumer_lag_messages",
            &borrow(&out_labels(topic, group)),
            *messages as f64,
        );
    }
    out.family(
        "rocketmq_consumer_lag_latency",
        "gauge",
        "Consumer lag time, milliseconds",
    );
    for ((group, topic), (_, earliest)) in &lags {
        let latency = if *earliest > 0 {
            (now - earliest).max(0)
        } else {
            0
        };
        out.sample(
            "rocketmq_consumer_lag_latency",
            &borrow(&out_labels(topic, group)),
            latency as f64,
        );
    }

    // Broker gauges.
    let node_labels = with(&[]);
    let gauges: [(&str, &str, f64); 2] = [
        (
            "rocketmq_topic_number",
            "Active topic number",
            snapshot.topics.len() as f64,
        ),
        (
            "rocketmq_consumer_group_number",
            "Active subscription group number",
            snapshot.groups.len() as f64,
        ),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &borrow(&node_labels), value);
    }
    out.family(
        "rocketmq_storage_size",
        "gauge",
        "Broker storage size, bytes of the store directory",
    );
    let storage = with(&[("storage_type", "local"), ("storage_medium", "disk")]);
    // The whole store directory as the walker last saw it (metrics::ops); the CommitLog
    // bytes held until its first walk.
    let store_bytes = super::ops::store_size()
        .unwrap_or_else(|| parts.iter().map(|p| p.commit_log_bytes).sum::<u64>());
    out.sample(
        "rocketmq_storage_size",
        &borrow(&storage),
        store_bytes as f64,
    );
    out.family(
        "rocketmq_processor_watermark",
        "gauge",
        "Request processor watermark: puts in flight on the owners (the send queue)",
    );
    let send = with(&[("processor", "send")]);
    out.sample(
        "rocketmq_processor_watermark",
        &borrow(&send),
        parts.iter().map(|p| p.in_flight_puts).sum::<u64>() as f64,
    );

    // RPC latency: by (request code, response code), over the connections' shards.
    let mut rpc: BTreeMap<(i32, i32), Histogram> = BTreeMap::new();
    for part in &parts {
        for (codes, histogram) in &part.rpc_latency {
            match rpc.get_mut(codes) {
                Some(sum) => sum.merge(histogram),
                None => {
                    rpc.insert(*codes, histogram.clone());
                }
            }
        }
    }
    out.family(
        "rocketmq_rpc_latency",
        "histogram",
        "Rpc latency, milliseconds",
    );
    for ((request_code, response_code), histogram) in &rpc {
        let (request_code, response_code) = (request_code.to_string(), response_code.to_string());
        let labels = with(&[
            ("protocol_type", "remoting"),
            ("request_code", &request_code),
            ("response_code", &response_code),
        ]);
        out.histogram("rocketmq_rpc_latency", &borrow(&labels), histogram);
    }

    out.family(
        "ramjet_send_latency_seconds",
        "histogram",
        "Send latency: a put from its arrival at the queue's owner until the store answered \
         (the SYNC_FLUSH wait included), seconds",
    );
    for (topic, counters) in &topics_in {
        if counters.send_latency.count == 0 {
            continue;
        }
        let labels = with(&[("topic", topic)]);
        out.histogram(
            "ramjet_send_latency_seconds",
            &borrow(&labels),
            &counters.send_latency,
        );
    }

    super::ops::families(&mut out, shard, &parts, &node).await?;
    ramjet_families(&mut out, &parts, &node, shard);
    Ok(out.finish())
}

/// Ramjet's own figures: per shard, the store's latencies, and the connection caps.
fn ramjet_families(
    out: &mut Exposition,
    parts: &[MetricsPart],
    node: &[(&'static str, &str)],
    shard: &Rc<BrokerShard>,
) {
    let with = |extra: &[(&'static str, &str)]| labels(node, extra);
    let ids: Vec<String> = parts.iter().map(|p| p.shard.to_string()).collect();
    let per_shard: [(&str, &str, &str, ShardValue); 4] = [
        (
            "ramjet_shard_inbox_depth",
            "gauge",
            "Requests from other shards running on this shard",
            |p| p.inbox_depth as f64,
        ),
        (
            "ramjet_shard_cpu_seconds_total",
            "counter",
            "CPU time used by the shard's thread, seconds",
            |p| p.cpu_seconds,
        ),
        (
            "ramjet_long_polling_waiters",
            "gauge",
            "Pulls parked on this shard's queues (long polling)",
            |p| p.parked_pulls as f64,
        ),
        (
            "ramjet_store_puts_in_flight",
            "gauge",
            "Puts being appended by this shard's store",
            |p| p.in_flight_puts as f64,
        ),
    ];
    for (name, kind, help, value) in per_shard {
        out.family(name, kind, help);
        for (part, id) in parts.iter().zip(&ids) {
            let labels = with(&[]);
            let mut labels = borrow(&labels);
            labels.push(("shard", id));
            out.sample(name, &labels, value(part));
        }
    }
    let histograms: [(&str, &str, ShardHistogram); 2] = [
        (
            "ramjet_store_append_latency_seconds",
            "Store append of one put's records, until the write completed, seconds",
            |p| p.append_latency.as_ref(),
        ),
        (
            "ramjet_store_flush_latency_seconds",
            "Store flush of the flush loop (once a second), seconds",
            |p| p.flush_latency.as_ref(),
        ),
    ];
    for (name, help, value) in histograms {
        out.family(name, "histogram", help);
        for (part, id) in parts.iter().zip(&ids) {
            if let Some(histogram) = value(part) {
                let labels = with(&[]);
                let mut labels = borrow(&labels);
                labels.push(("shard", id));
                out.histogram(name, &labels, histogram);
            }
        }
    }
    let census = &shard.config().limits.census;
    out.family(
        "ramjet_connections",
        "gauge",
        "Client connections open on the broker's ports",
    );
    out.sample(
        "ramjet_connections",
        &borrow(&with(&[])),
        census.open_total() as f64,
    );
    out.family(
        "ramjet_limit_events_total",
        "counter",
        "Connection caps and rates that refused, paused or closed (docs/limits.md)",
    );
    for (name, value) in census.counters.table() {
        let labels = with(&[]);
        let mut labels = borrow(&labels);
        labels.push(("event", name));
        out.sample("ramjet_limit_events_total", &labels, value as f64);
    }
}

/// The node's labels (cluster, node_type, node_id) followed by `extra`.
fn labels(
    node: &[(&'static str, &str)],
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    node.iter()
        .chain(extra)
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect()
}

fn borrow<'a>(labels: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
