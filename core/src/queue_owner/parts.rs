//! One shard's part of a broker-wide answer (topic stats, consume stats, offsets, runtime
//! counters), and what it forgets when a topic or group is deleted.

use std::collections::BTreeSet;

use ramjet_store::message::record::store_timestamp_of;
use ramjet_store::GetRequest;

use super::QueueOwner;
use crate::placement::owner_shard;
use crate::shard_request::{ConsumeRow, PartReply, PartRequest, QueueStats, RuntimePart};
use crate::stats::{Window, SAMPLE_SECS};

impl QueueOwner {
    pub async fn part(&self, request: PartRequest) -> PartReply {
        match request {
            PartRequest::TopicStats { topic } => {
                let tps = self.stats.topic_put_tps(&topic);
                PartReply::TopicStats(self.topic_stats(&topic).await, tps)
            }
            PartRequest::ConsumeStats {
                group,
                topics,
                with_committed_topics,
            } => {
                let rows = self
                    .consume_stats(&group, topics, with_committed_topics)
                    .await;
                // RocketMQ sums tpsGroupGetNums over the topics it answers.
                let mut topics: Vec<&str> = rows.iter().map(|r| r.topic.as_str()).collect();
                topics.dedup();
                let tps = topics
                    .iter()
                    .map(|topic| self.stats.group_get_tps(&group, topic))
                    .sum();
                PartReply::ConsumeStats(rows, tps)
            }
            PartRequest::ConsumerOffsets => {
                let offsets = self.offsets.borrow();
                let table = offsets
                    .keys()
                    .map(|key| {
                        let queues = offsets
                            .offsets_of(key)
                            .map(|q| q.iter().map(|(id, o)| (*id, *o)).collect());
                        (key.clone(), queues.unwrap_or_default())
                    })
                    .collect();
                PartReply::ConsumerOffsets(table)
            }
            PartRequest::GroupsOfTopic { topic } => {
                let prefix = format!("{topic}@");
                let groups = self
                    .offsets
                    .borrow()
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(str::to_owned)
                    .collect();
                PartReply::Groups(groups)
            }
            PartRequest::Runtime => PartReply::Runtime(self.runtime().await),
            PartRequest::Metrics => PartReply::Metrics(Box::new(self.metrics_part().await)),
            PartRequest::ForgetTopic { topic } => {
                self.offsets.borrow_mut().remove_topic(&topic);
                self.stats.forget_topic(&topic);
                PartReply::Done
            }
            PartRequest::ForgetGroup { group } => {
                self.offsets.borrow_mut().remove_group(&group);
                self.stats.forget_group(&group);
                PartReply::Done
            }
            PartRequest::CommitLogEnd => PartReply::Offset(self.store.max_physical_offset()),
            // Answered by the shard (it holds the schedule service), never here.
            PartRequest::DelayOffsets
            | PartRequest::SetDelayOffsets(_)
            | PartRequest::BrokerStats { .. } => PartReply::Done,
        }
    }

    /// The queue ids of `topic` this shard owns.
    pub(super) fn owned_queues(&self, topic: &str) -> Vec<i32> {
        let queue_count = self
            .metadata
            .snapshot()
            .topics
            .get(topic)
            .map_or(0, |t| t.read_queue_nums.max(t.write_queue_nums));
        (0..queue_count)
            .filter(|q| owner_shard(topic, *q, self.shard_count) == self.id)
            .collect()
    }

    async fn topic_stats(&self, topic: &str) -> Vec<QueueStats> {
        let mut rows = Vec::new();
        for queue_id in self.owned_queues(topic) {
            let (min, max) = self.store.queue_bounds(topic, queue_id);
            let last_update_timestamp = if max > 0 {
                self.store_time_at(topic, queue_id, max - 1).await
            } else {
                0
            };
            rows.push(QueueStats {
                queue_id,
                min_offset: min as i64,
                max_offset: max as i64,
                last_update_timestamp,
            });
        }
        rows
    }

    async fn consume_stats(
        &self,
        group: &str,
        topics: Vec<String>,
        with_committed_topics: bool,
    ) -> Vec<ConsumeRow> {
        let mut topics: BTreeSet<String> = topics.into_iter().collect();
        if with_committed_topics {
            let suffix = format!("@{group}");
            let offsets = self.offsets.borrow();
            topics.extend(
                offsets
                    .keys()
                    .filter_map(|k| k.strip_suffix(&suffix))
                    .map(str::to_owned),
            );
        }
        let mut rows = Vec::new();
        for topic in topics {
            for queue_id in self.owned_queues(&topic) {
                let broker_offset = self.store.max_offset_in_queue(&topic, queue_id) as i64;
                let (consumer, pulled) = {
                    let offsets = self.offsets.borrow();
                    (
                        offsets.query(group, &topic, queue_id),
                        offsets.pulled(group, &topic, queue_id),
                    )
                };
                let consumer_offset = consumer.unwrap_or(0).max(0);
                let last_timestamp = if consumer_offset > 0 {
                    self.store_time_at(&topic, queue_id, consumer_offset as u64 - 1)
                        .await
                } else {
                    0
                };
                rows.push(ConsumeRow {
                    topic: topic.clone(),
                    queue_id,
                    broker_offset,
                    consumer_offset,
                    pull_offset: pulled.unwrap_or(0).max(consumer_offset),
                    last_timestamp,
                });
            }
        }
        rows
    }

    async fn runtime(&self) -> RuntimePart {
        let (min, max) = self.store.commit_log_bounds();
        // The oldest record still stored: mqadmin clusterList shows its age (#Hour).
        let earliest = if max > min {
            self.store
                .read_by_physical_offset(min)
                .await
                .as_deref()
                .and_then(store_timestamp_of)
        } else {
            None
        };
        let windows = self.stats.windows.borrow();
        RuntimePart {
            put_messages: self.stats.put_messages.get(),
            get_messages: self.stats.get_messages.get(),
            put_bytes: self.stats.put_bytes.get(),
            commit_log_bytes: max.saturating_sub(min),
            parked_pulls: self.long_polling.parked_count() as u64,
            earliest_store_time: earliest.unwrap_or(0).max(0) as u64,
            puts_busy: self.stats.puts_busy.get(),
            oneway_puts_waited: self.stats.oneway_puts_waited.get(),
            put_tps: triple(&windows.put),
            get_transferred_tps: triple(&windows.get_transferred),
            get_found_tps: triple(&windows.get_found),
            get_miss_tps: triple(&windows.get_miss),
            days: self.stats.days.get(),
        }
    }

    /// The store time of the message at `queue_offset` (ConsumeStats' lastTimestamp).
    pub(super) async fn store_time_at(&self, topic: &str, queue_id: i32, queue_offset: u64) -> i64 {
        let filter = |_: i64| true;
        let request = GetRequest {
            topic,
            queue_id,
            queue_offset,
            max_count: 1,
            max_bytes: usize::MAX,
            filter: &filter,
            zero_copy: false,
        };
        let result = self.store.get(&request).await;
        result
            .messages
            .first()
            .and_then(|message| message.bytes().and_then(store_timestamp_of))
            .unwrap_or(0)
    }
}

/// Rates over 10 s, 1 min and 10 min from a window sampled every second.
fn triple(window: &Window<601>) -> [f64; 3] {
    let secs = SAMPLE_SECS as f64;
    [
        window.rate(10, secs),
        window.rate(60, secs),
        window.rate(600, secs),
    ]
}
