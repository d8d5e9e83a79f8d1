//! The leader shard's metadata: topics, subscription groups, the client registry, and the
//! snapshots it hands to every shard. Writes here are rare (admin commands, auto-creation,
//! heartbeats every 30 s per client), so one owner keeps them consistent without locks.
//!
//! The leader reaches other shards only through the mesh and its own copy of the shard's
//! metadata cell; it knows nothing of connections' requests (`leader_requests.rs` runs the
//! typed requests it is sent).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::sync::Semaphore;
use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::body::TopicConfig;

use crate::client_connections::ClientConnections;
use crate::client_manager::{ChannelKey, ClientChannel, ClientManager};
use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use crate::mesh::{ClientNotice, Mesh, ShardMessage};
use crate::persist::write_atomically_off_reactor;
use crate::shard_request::Origin;
use crate::snapshot::{MetadataSnapshot, SharedMetadata};
use crate::subscription_group_manager::SubscriptionGroupManager;
use crate::topic_config_manager::{TopicConfigManager, RETRY_GROUP_TOPIC_PREFIX};

/// A registration request: the registration task answers once the name servers have been
/// told (or could not be reached).
pub type RegisterNow = oneshot::Sender<()>;

pub struct Leader {
    metadata: Rc<SharedMetadata>,
    mesh: Rc<Mesh>,
    connections: Rc<ClientConnections>,
    pub(crate) topics: RefCell<TopicConfigManager>,
    pub(crate) groups: RefCell<SubscriptionGroupManager>,
    pub(crate) clients: RefCell<ClientManager>,
    version: Cell<u64>,
    /// State files are written one at a time, each with the state current when its turn
    /// comes, so an older table never overwrites a newer one.
    persist_turn: Semaphore,
    register_now: LocalSender<RegisterNow>,
    register_now_receiver: RefCell<Option<LocalReceiver<RegisterNow>>>,
}

impl Leader {
    pub fn load(
        metadata: Rc<SharedMetadata>,
        mesh: Rc<Mesh>,
        connections: Rc<ClientConnections>,
    ) -> Result<Leader, String> {
        let config = metadata.config();
        let dir = config.store.store_path_root_dir.join("config");
        let topics = TopicConfigManager::load(&config, dir.join("topics.json"))?;
        let groups = SubscriptionGroupManager::load(dir.join("subscriptionGroup.json"))?;
        let (register_now, receiver) = local_channel::new_bounded(64);
        Ok(Leader {
            metadata,
            mesh,
            connections,
            topics: RefCell::new(topics),
            groups: RefCell::new(groups),
            clients: RefCell::new(ClientManager::default()),
            version: Cell::new(0),
            persist_turn: Semaphore::new(1),
            register_now,
            register_now_receiver: RefCell::new(Some(receiver)),
        })
    }

    pub fn config(&self) -> Rc<BrokerConfig> {
        self.metadata.config()
    }

    /// The registration task's end of the "register now" channel (taken once).
    pub fn take_register_receiver(&self) -> Option<LocalReceiver<RegisterNow>> {
        self.register_now_receiver.borrow_mut().take()
    }

    /// Applies a changed configuration on every shard, then re-registers (the broker's
    /// permission shapes the routes name servers hand out). Keys that shape the topic
    /// table (autoCreateTopicEnable, defaultTopicQueueNums) take effect on it at once.
    pub async fn update_config(&self, config: BrokerConfig) -> BrokerResult<()> {
        let topics_changed = self.topics.borrow_mut().apply_auto_create(
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
        );
        self.mesh
            .broadcast(|| ShardMessage::Config(Box::new(config.clone())))
            .await;
        self.metadata.install_config(config);
        if topics_changed {
            self.topics_changed().await
        } else {
            self.register_and_wait().await;
            Ok(())
        }
    }

    fn build_snapshot(&self) -> MetadataSnapshot {
        self.version.set(self.version.get() + 1);
        let subscriptions = self
            .clients
            .borrow()
            .consumer_groups()
            .map(|(group, info)| {
                (
                    group.clone(),
                    info.subscriptions.clone().into_iter().collect(),
                )
            })
            .collect();
        MetadataSnapshot {
            version: self.version.get(),
            topics: self
                .topics
                .borrow()
                .table()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            groups: self
                .groups
                .borrow()
                .table()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            subscriptions,
        }
    }

    /// Installs fresh metadata here and on every other shard. Returns once every shard
    /// has it queued, so a client told "done" finds it wherever its next request lands.
    pub async fn publish(&self) {
        let snapshot = self.build_snapshot();
        self.mesh
            .broadcast(|| ShardMessage::Snapshot(snapshot.clone()))
            .await;
        self.metadata.install_snapshot(snapshot);
    }

    /// Writes `topics.json` off the reactor.
    pub async fn persist_topics(&self) -> BrokerResult<()> {
        let _turn = self.persist_turn.acquire_permit(1).await;
        let (path, bytes) = self.topics.borrow().encoded();
        write_atomically_off_reactor(path, bytes)
            .await
            .map_err(BrokerError::Persist)
    }

    /// Writes `subscriptionGroup.json` off the reactor.
    pub async fn persist_groups(&self) -> BrokerResult<()> {
        let _turn = self.persist_turn.acquire_permit(1).await;
        let (path, bytes) = self.groups.borrow().encoded();
        write_atomically_off_reactor(path, bytes)
            .await
            .map_err(BrokerError::Persist)
    }

    /// Asks the registration task to register now and waits until it has.
    async fn register_and_wait(&self) {
        let (done, registered) = oneshot::channel();
        if self.register_now.send(done).await.is_ok() {
            let _ = registered.await;
        }
    }

    /// Topic changes are saved, reach every shard, and then the name servers before the
    /// change is answered, as Java's `registerBrokerAll` in the request path does: a client
    /// that created a topic finds its route right away.
    pub async fn topics_changed(&self) -> BrokerResult<()> {
        let persisted = self.persist_topics().await;
        self.publish().await;
        self.register_and_wait().await;
        persisted
    }

    /// Groups changed: saved, then every shard gets them.
    pub async fn groups_changed(&self) -> BrokerResult<()> {
        let persisted = self.persist_groups().await;
        self.publish().await;
        persisted
    }

    /// Auto-creation for a send (`createTopicInSendMessageMethod`).
    pub async fn ensure_topic(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
        sys_flag: i32,
    ) -> BrokerResult<Option<TopicConfig>> {
        if let Some(existing) = self.topics.borrow().get(topic) {
            return Ok(Some(existing.clone()));
        }
        let auto_create = self.config().auto_create_topic_enable;
        let created = self
            .topics
            .borrow_mut()
            .create_for_send(topic, default_topic, queue_nums, sys_flag, auto_create)
            .map_err(BrokerError::InvalidParameter)?;
        if created.is_some() {
            self.topics_changed().await?;
        }
        Ok(created)
    }

    /// `%RETRY%<group>` / `%DLQ%<group>` on demand.
    pub async fn ensure_group_topic(
        &self,
        topic: &str,
        queue_nums: i32,
        perm: i32,
    ) -> BrokerResult<TopicConfig> {
        if let Some(existing) = self.topics.borrow().get(topic) {
            return Ok(existing.clone());
        }
        let config = TopicConfig::new(topic, queue_nums.max(1), queue_nums.max(1), perm);
        self.topics
            .borrow_mut()
            .put(config.clone())
            .map_err(BrokerError::InvalidParameter)?;
        self.topics_changed().await?;
        Ok(config)
    }

    /// HEART_BEAT (`ClientManageProcessor.heartBeat`).
    pub async fn heartbeat(&self, data: &HeartbeatData, origin: &Origin) -> BrokerResult<()> {
        let channel = ClientChannel {
            key: origin.channel,
            client_id: data.client_id.clone(),
            client_addr: origin.peer.to_string(),
            language: origin.language,
            version: origin.version,
            last_update: Instant::now(),
        };
        for group in &data.producer_groups {
            self.clients
                .borrow_mut()
                .register_producer(group, channel.clone());
        }
        let mut groups_changed = false;
        let mut subscriptions_changed = false;
        let mut topics_changed = false;
        let mut notify = Vec::new();
        for consumer in &data.consumers {
            let auto_create = self.config().auto_create_subscription_group;
            let known = self.groups.borrow().get(&consumer.group_name).is_some();
            let found = self
                .groups
                .borrow_mut()
                .find_or_create(&consumer.group_name, auto_create);
            let group = match found {
                Ok(Some(group)) => group,
                Ok(None) => {
                    tracing::warn!(
                        group = consumer.group_name,
                        "heartbeat from an unknown group; autoCreateSubscriptionGroup is off"
                    );
                    continue;
                }
                Err(error) => {
                    tracing::warn!(group = consumer.group_name, %error, "heartbeat ignored");
                    continue;
                }
            };
            groups_changed |= !known;
            if consumer.message_model == "CLUSTERING" {
                let retry_topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", consumer.group_name);
                if self.topics.borrow().get(&retry_topic).is_none() {
                    let created = self
                        .topics
                        .borrow_mut()
                        .create_system_group_topic(&retry_topic, group.retry_queue_nums.max(1));
                    match created {
                        Ok(_) => topics_changed = true,
                        Err(error) => {
                            tracing::warn!(topic = retry_topic, %error, "cannot create retry topic")
                        }
                    }
                }
            }
            let outcome = self.clients.borrow_mut().register_consumer(
                consumer,
                channel.clone(),
                data.without_sub,
            );
            subscriptions_changed |= outcome.subscriptions_changed || outcome.channels_changed;
            if (outcome.channels_changed || outcome.subscriptions_changed)
                && group.notify_consumer_ids_changed_enable
                && consumer.message_model != "BROADCASTING"
            {
                notify.push(consumer.group_name.clone());
            }
        }
        let mut result = Ok(());
        if groups_changed {
            result = self.persist_groups().await;
        }
        if topics_changed {
            result = result.and(self.topics_changed().await);
        } else if groups_changed || subscriptions_changed {
            self.publish().await;
        }
        for group in notify {
            self.notify_consumer_ids_changed(&group).await;
        }
        result
    }

    /// Tells every member of `group` to rebalance (NOTIFY_CONSUMER_IDS_CHANGED, oneway).
    pub async fn notify_consumer_ids_changed(&self, group: &str) {
        if !self.config().notify_consumer_ids_changed_enable {
            return;
        }
        let channels: Vec<ChannelKey> = self
            .clients
            .borrow()
            .consumer_group(group)
            .map(|info| info.channels.keys().copied().collect())
            .unwrap_or_default();
        for channel in channels {
            let notice = ClientNotice::ConsumerIdsChanged {
                group: group.to_owned(),
            };
            self.connections.notify(channel, notice).await;
        }
    }

    /// A client connection closed (or expired): its groups lose a member and are told.
    pub async fn connection_closed(&self, channel: ChannelKey) {
        let groups = self.clients.borrow_mut().remove_channel(channel);
        if groups.is_empty() {
            return;
        }
        self.publish().await;
        for group in groups {
            tracing::debug!(group, ?channel, "consumer left");
            self.notify_consumer_ids_changed(&group).await;
        }
    }

    pub async fn unregister_client(
        &self,
        channel: ChannelKey,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) {
        if let Some(group) = producer_group.filter(|g| !g.is_empty()) {
            self.clients
                .borrow_mut()
                .unregister_producer(group, channel);
        }
        if let Some(group) = consumer_group.filter(|g| !g.is_empty()) {
            let changed = self
                .clients
                .borrow_mut()
                .unregister_consumer(group, channel);
            if changed {
                self.publish().await;
                self.notify_consumer_ids_changed(group).await;
            }
        }
    }

    /// Drops clients silent past `channelExpiredTimeout` (Java's `ClientHousekeepingService`).
    pub async fn scan_expired_clients(&self) {
        let expired = self
            .clients
            .borrow()
            .expired_channels(Instant::now(), self.config().channel_expired_timeout);
        for channel in expired {
            tracing::info!(
                ?channel,
                "client expired: no heartbeat within channelExpiredTimeout"
            );
            self.connection_closed(channel).await;
        }
    }

    pub async fn housekeeping_loop(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(Duration::from_secs(10)).await;
            self.scan_expired_clients().await;
        }
    }

    /// Groups whose online consumers subscribe `topic`, for QUERY_TOPIC_CONSUME_BY_WHO.
    pub fn groups_consuming(&self, topic: &str) -> Vec<String> {
        let clients = self.clients.borrow();
        let mut groups: Vec<String> = clients
            .consumer_groups()
            .filter(|(_, info)| info.subscriptions.contains_key(topic))
            .map(|(group, _)| group.clone())
            .collect();
        groups.sort();
        groups
    }
}
