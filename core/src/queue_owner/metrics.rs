//! The owner's share of a /metrics scrape: copies of its counters and its consumer lag.

use std::collections::BTreeMap;

use super::QueueOwner;
use crate::shard_request::{LagRow, MetricsPart};
use crate::stats::thread_cpu_seconds;

impl QueueOwner {
    pub(super) async fn metrics_part(&self) -> MetricsPart {
        let stats = &self.stats;
        let topics_in = stats
            .topics_in
            .borrow()
            .iter()
            .map(|(topic, counters)| (topic.clone(), counters.clone()))
            .collect();
        let groups_out = stats
            .groups_out
            .borrow()
            .iter()
            .flat_map(|(topic, groups)| {
                groups
                    .iter()
                    .map(|(group, out)| (topic.clone(), group.clone(), out.messages, out.bytes))
            })
            .collect();
        let (min, max) = self.store.commit_log_bounds();
        MetricsPart {
            shard: self.id,
            topics_in,
            groups_out,
            lags: self.lags().await,
            commit_log_bytes: max.saturating_sub(min),
            in_flight_puts: self.in_flight_puts.get() as u64,
            parked_pulls: self.long_polling.parked_count() as u64,
            inbox_depth: 0,
            cpu_seconds: thread_cpu_seconds(),
            append_latency: stats.append_latency.borrow().clone(),
            flush_latency: stats.flush_latency.borrow().clone(),
            rpc_latency: Vec::new(),
            ops: Default::default(),
        }
    }

    /// Every group with committed offsets here: its backlog per topic over the queues this
    /// shard owns (RocketMQ's ConsumerLagCalculator, from the committed offset).
    async fn lags(&self) -> Vec<LagRow> {
        // (group, topic) -> queue -> committed offset, copied so no borrow spans an await.
        let mut committed: BTreeMap<(String, String), Vec<(i32, i64)>> = BTreeMap::new();
        {
            let offsets = self.offsets.borrow();
            for key in offsets.keys() {
                let Some((topic, group)) = key.split_once('@') else {
                    continue;
                };
                if let Some(queues) = offsets.offsets_of(key) {
                    committed.insert(
                        (group.to_owned(), topic.to_owned()),
                        queues.iter().map(|(id, offset)| (*id, *offset)).collect(),
                    );
                }
            }
        }
        let mut rows = Vec::new();
        for ((group, topic), queues) in committed {
            let mut messages = 0u64;
            let mut earliest_unconsumed = 0i64;
            for (queue_id, offset) in queues {
                let max = self.store.max_offset_in_queue(&topic, queue_id) as i64;
                let offset = offset.max(0);
                if max <= offset {
                    continue;
                }
                messages += (max - offset) as u64;
                let stored = self.store_time_at(&topic, queue_id, offset as u64).await;
                if stored > 0 && (earliest_unconsumed == 0 || stored < earliest_unconsumed) {
                    earliest_unconsumed = stored;
                }
            }
            rows.push(LagRow {
                group,
                topic,
                messages,
                earliest_unconsumed,
            });
        }
        rows
    }
}
