//! Producer and consumer registries (`ProducerManager`, `ConsumerManager`) and the orderly
//! queue locks (`RebalanceLockManager`). Owned by the leader shard: heartbeats are rare
//! (every 30 s per client), and one owner keeps a group's view consistent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ramjet_net::body::heartbeat::{ConsumerData, SubscriptionData};
use ramjet_net::LanguageCode;

/// A client's connection, wherever it lives: the shard that accepted it and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey {
    pub shard: usize,
    pub connection_id: u64,
}

#[derive(Debug, Clone)]
pub struct ClientChannel {
    pub key: ChannelKey,
    pub client_id: String,
    pub client_addr: String,
    pub language: LanguageCode,
    pub version: i32,
    pub last_update: Instant,
}

#[derive(Debug, Clone)]
pub struct ConsumerGroupInfo {
    pub channels: BTreeMap<ChannelKey, ClientChannel>,
    pub subscriptions: BTreeMap<String, SubscriptionData>,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
}

/// What a consumer heartbeat changed, so the caller knows whom to notify.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub channels_changed: bool,
    pub subscriptions_changed: bool,
}

#[derive(Default)]
pub struct ClientManager {
    consumers: HashMap<String, ConsumerGroupInfo>,
    producers: HashMap<String, BTreeMap<ChannelKey, ClientChannel>>,
    /// (group, topic, brokerName, queueId) -> (clientId, last lock time).
    locks: HashMap<(String, String, String, i32), (String, Instant)>,
}

/// `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

impl ClientManager {
    pub fn register_producer(&mut self, group: &str, channel: ClientChannel) {
        self.producers
            .entry(group.to_owned())
            .or_default()
            .insert(channel.key, channel);
    }

    /// `ConsumerManager.registerConsumer`: records the channel and the group's latest
    /// subscriptions. `without_sub` (5.x V2 heartbeat) keeps the previous ones.
    pub fn register_consumer(
        &mut self,
        data: &ConsumerData,
        channel: ClientChannel,
        without_sub: bool,
    ) -> RegisterOutcome {
        let group = self
            .consumers
            .entry(data.group_name.clone())
            .or_insert_with(|| ConsumerGroupInfo {
                channels: BTreeMap::new(),
                subscriptions: BTreeMap::new(),
                consume_type: data.consume_type.clone(),
                message_model: data.message_model.clone(),
                consume_from_where: data.consume_from_where.clone(),
            });
        group.consume_type = data.consume_type.clone();
        group.message_model = data.message_model.clone();
        group.consume_from_where = data.consume_from_where.clone();
        let channels_changed = match group.channels.get_mut(&channel.key) {
            Some(existing) if existing.client_id == channel.client_id => {
                existing.last_update = channel.last_update;
                false
            }
            _ => {
                group.channels.insert(channel.key, channel);
                true
            }
        };
        let mut subscriptions_changed = false;
        if !without_sub {
            let incoming: BTreeMap<String, SubscriptionData> = data
                .subscriptions
                .iter()
                .map(|s| (s.topic.clone(), s.clone()))
                .collect();
            for (topic, sub) in &incoming {
                let newer = group.subscriptions.get(topic).is_none_or(|old| {
                    old.sub_version < sub.sub_version || old.sub_string != sub.sub_string
                });
                if newer {
                    group.subscriptions.insert(topic.clone(), sub.clone());
                    subscriptions_changed = true;
                }
            }
            let before = group.subscriptions.len();
            group
                .subscriptions
                .retain(|topic, _| incoming.contains_key(topic));
            subscriptions_changed |= group.subscriptions.len() != before;
        }
        RegisterOutcome {
            channels_changed,
            subscriptions_changed,
        }
    }

    /// Removes a client from a group (UNREGISTER_CLIENT); true when the group changed.
    pub fn unregister_consumer(&mut self, group: &str, key: ChannelKey) -> bool {
        let Some(info) = self.consumers.get_mut(group) else {
            return false;
        };
        let removed = info.channels.remove(&key).is_some();
        if info.channels.is_empty() {
            self.consumers.remove(group);
        }
        self.release_locks_of_channel(group, key);
        removed
    }

    pub fn unregister_producer(&mut self, group: &str, key: ChannelKey) {
        if let Some(channels) = self.producers.get_mut(group) {
            channels.remove(&key);
            if channels.is_empty() {
                self.producers.remove(group);
            }
        }
    }

    /// A connection closed or expired: returns the consumer groups that lost a member.
    pub fn remove_channel(&mut self, key: ChannelKey) -> Vec<String> {
        for channels in self.producers.values_mut() {
            channels.remove(&key);
        }
        self.producers.retain(|_, channels| !channels.is_empty());
        let groups: Vec<String> = self
            .consumers
            .iter()
            .filter(|(_, info)| info.channels.contains_key(&key))
            .map(|(group, _)| group.clone())
            .collect();
        for group in &groups {
            self.unregister_consumer(group, key);
        }
        groups
    }

    /// Channels with no heartbeat for `timeout`.
    pub fn expired_channels(&self, now: Instant, timeout: Duration) -> BTreeSet<ChannelKey> {
        let consumer = self
            .consumers
            .values()
            .flat_map(|info| info.channels.values());
        let producer = self
            .producers
            .values()
            .flat_map(|channels| channels.values());
        consumer
            .chain(producer)
            .filter(|c| now.saturating_duration_since(c.last_update) > timeout)
            .map(|c| c.key)
            .collect()
    }

    /// Every producer connection, of every group.
    pub fn producer_channels(&self) -> impl Iterator<Item = &ClientChannel> {
        self.producers
            .values()
            .flat_map(|channels| channels.values())
    }

    pub fn consumer_group(&self, group: &str) -> Option<&ConsumerGroupInfo> {
        self.consumers.get(group)
    }

    pub fn consumer_groups(&self) -> impl Iterator<Item = (&String, &ConsumerGroupInfo)> {
        self.consumers.iter()
    }

    /// `ProducerManager.getAvailableChannel`: the group's most recently heard-from
    /// connection, to ask about a transaction.
    pub fn available_producer_channel(&self, group: &str) -> Option<ChannelKey> {
        self.producers
            .get(group)?
            .values()
            .max_by_key(|channel| channel.last_update)
            .map(|channel| channel.key)
    }

    pub fn producer_group(&self, group: &str) -> Option<&BTreeMap<ChannelKey, ClientChannel>> {
        self.producers.get(group)
    }

    /// Client ids of a group, sorted as rebalancing expects.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let Some(info) = self.consumers.get(group) else {
            return Vec::new();
        };
        let ids: BTreeSet<String> = info
            .channels
            .values()
            .map(|c| c.client_id.clone())
            .collect();
        ids.into_iter().collect()
    }

    /// `RebalanceLockManager.tryLockBatch`: locks free, expired or already ours.
    pub fn try_lock_batch(
        &mut self,
        group: &str,
        queues: &[(String, String, i32)],
        client_id: &str,
        now: Instant,
    ) -> Vec<(String, String, i32)> {
        let mut locked = Vec::new();
        for (topic, broker_name, queue_id) in queues {
            let key = (
                group.to_owned(),
                topic.clone(),
                broker_name.clone(),
                *queue_id,
            );
            let available = match self.locks.get(&key) {
                None => true,
                Some((holder, at)) => {
                    holder == client_id || now.saturating_duration_since(*at) > LOCK_MAX_LIVE
                }
            };
            if available {
                self.locks.insert(key, (client_id.to_owned(), now));
                locked.push((topic.clone(), broker_name.clone(), *queue_id));
            }
        }
        locked
    }

    pub fn unlock_batch(&mut self, group: &str, queues: &[(String, String, i32)], client_id: &str) {
        for (topic, broker_name, queue_id) in queues {
            let key = (
                group.to_owned(),
                topic.clone(),
                broker_name.clone(),
                *queue_id,
            );
            if self
                .locks
                .get(&key)
                .is_some_and(|(holder, _)| holder == client_id)
            {
                self.locks.remove(&key);
            }
        }
    }

    fn release_locks_of_channel(&mut self, group: &str, key: ChannelKey) {
        let Some(info) = self.consumers.get(group) else {
            self.locks.retain(|(g, ..), _| g != group);
            return;
        };
        let live: BTreeSet<&String> = info.channels.values().map(|c| &c.client_id).collect();
        let _ = key;
        self.locks
            .retain(|(g, ..), (holder, _)| g != group || live.contains(holder));
    }

    /// Whether `group` holds any unexpired orderly lock (sends of such a group's retries
    /// go straight to the DLQ).
    pub fn group_has_locks(&self, group: &str, now: Instant) -> bool {
        self.locks.iter().any(|((g, ..), (_, at))| {
            g == group && now.saturating_duration_since(*at) <= LOCK_MAX_LIVE
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_net::body::heartbeat::SubscriptionData;

    fn channel(id: u64, client: &str) -> ClientChannel {
        ClientChannel {
            key: ChannelKey {
                shard: 0,
                connection_id: id,
            },
            client_id: client.into(),
            client_addr: "127.0.0.1:1".into(),
            language: LanguageCode::Java,
            version: 401,
            last_update: Instant::now(),
        }
    }

    fn consumer(group: &str, sub: &str) -> ConsumerData {
        ConsumerData {
            group_name: group.into(),
            consume_type: "CONSUME_PASSIVELY".into(),
            message_model: "CLUSTERING".into(),
            consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
            subscriptions: vec![SubscriptionData::build("T", sub, "TAG")],
            unit_mode: false,
        }
    }

    #[test]
    fn membership_changes_are_reported_and_closed_channels_leave() {
        let mut clients = ClientManager::default();
        let first = clients.register_consumer(&consumer("g", "*"), channel(1, "c1"), false);
        assert_eq!(
            first,
            RegisterOutcome {
                channels_changed: true,
                subscriptions_changed: true
            }
        );
        let again = clients.register_consumer(&consumer("g", "*"), channel(1, "c1"), false);
        assert_eq!(again, RegisterOutcome::default());
        clients.register_consumer(&consumer("g", "*"), channel(2, "c2"), false);
        assert_eq!(clients.consumer_ids("g"), ["c1", "c2"]);
        assert_eq!(
            clients.remove_channel(ChannelKey {
                shard: 0,
                connection_id: 1
            }),
            ["g"]
        );
        assert_eq!(clients.consumer_ids("g"), ["c2"]);
    }

    #[test]
    fn locks_are_exclusive_until_they_expire() {
        let mut clients = ClientManager::default();
        let now = Instant::now();
        let queues = vec![("T".to_owned(), "b".to_owned(), 0)];
        assert_eq!(clients.try_lock_batch("g", &queues, "c1", now).len(), 1);
        assert!(clients.try_lock_batch("g", &queues, "c2", now).is_empty());
        assert_eq!(clients.try_lock_batch("g", &queues, "c1", now).len(), 1);
        let later = now + LOCK_MAX_LIVE + Duration::from_secs(1);
        assert_eq!(clients.try_lock_batch("g", &queues, "c2", later).len(), 1);
        clients.unlock_batch("g", &queues, "c2");
        assert_eq!(clients.try_lock_batch("g", &queues, "c3", later).len(), 1);
    }
}
