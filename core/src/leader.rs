//! The leader shard's metadata: topics, subscription groups, the client registry, and the
//! snapshots it hands to every shard. Writes here are rare (admin commands, auto-creation,
//! heartbeats every 30 s per client), so one owner keeps them consistent without locks.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::body::TopicConfig;
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, ConsumerGroupRequestHeader};
use ramjet_net::RemotingCommand;

use crate::client_manager::{ChannelKey, ClientChannel, ClientManager};
use crate::config::BrokerConfig;
use crate::shard::{BrokerShard, Origin, ShardMessage};
use crate::snapshot::MetadataSnapshot;
use crate::subscription_group_manager::SubscriptionGroupManager;
use crate::topic_config_manager::{TopicConfigManager, RETRY_GROUP_TOPIC_PREFIX};

pub struct Leader {
    config: RefCell<Rc<BrokerConfig>>,
    pub topics: RefCell<TopicConfigManager>,
    pub groups: RefCell<SubscriptionGroupManager>,
    pub clients: RefCell<ClientManager>,
    version: Cell<u64>,
    shard: RefCell<Weak<BrokerShard>>,
    /// Wakes the registration task when topics change, so routes appear at once.
    register_now: LocalSender<()>,
    register_now_receiver: RefCell<Option<LocalReceiver<()>>>,
    registration: RefCell<Weak<crate::registration::NamesrvRegistration>>,
}

impl Leader {
    pub fn load(config: Rc<BrokerConfig>) -> Result<Leader, String> {
        let dir = config.store.store_path_root_dir.join("config");
        let topics = TopicConfigManager::load(&config, dir.join("topics.json"))?;
        let groups = SubscriptionGroupManager::load(dir.join("subscriptionGroup.json"))?;
        let (register_now, receiver) = local_channel::new_bounded(1);
        Ok(Leader {
            config: RefCell::new(config),
            topics: RefCell::new(topics),
            groups: RefCell::new(groups),
            clients: RefCell::new(ClientManager::default()),
            version: Cell::new(0),
            shard: RefCell::new(Weak::new()),
            register_now,
            register_now_receiver: RefCell::new(Some(receiver)),
            registration: RefCell::new(Weak::new()),
        })
    }

    pub fn config(&self) -> Rc<BrokerConfig> {
        self.config.borrow().clone()
    }

    /// Applies a changed configuration on every shard, then re-registers (the broker's
    /// permission shapes the routes name servers hand out).
    pub async fn update_config(&self, config: BrokerConfig) {
        *self.config.borrow_mut() = Rc::new(config.clone());
        let shard = self.shard();
        for other in (0..shard.shard_count).filter(|s| *s != shard.id) {
            shard
                .send_to_shard(other, ShardMessage::Config(Box::new(config.clone())))
                .await;
        }
        shard.install_config(config);
        self.request_registration();
    }

    pub fn attach(&self, shard: &Rc<BrokerShard>) {
        *self.shard.borrow_mut() = Rc::downgrade(shard);
    }

    fn shard(&self) -> Rc<BrokerShard> {
        self.shard
            .borrow()
            .upgrade()
            .expect("the leader's shard outlives it")
    }

    pub fn take_register_receiver(&self) -> Option<LocalReceiver<()>> {
        self.register_now_receiver.borrow_mut().take()
    }

    pub fn request_registration(&self) {
        let _ = self.register_now.try_send(());
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
        let shard = self.shard();
        for other in (0..shard.shard_count).filter(|s| *s != shard.id) {
            shard
                .send_to_shard(other, ShardMessage::Snapshot(snapshot.clone()))
                .await;
        }
        shard.install_snapshot(snapshot);
    }

    /// Topic changes also reach the name servers.
    pub fn attach_registration(&self, registration: &Rc<crate::registration::NamesrvRegistration>) {
        *self.registration.borrow_mut() = Rc::downgrade(registration);
    }

    /// Topic changes reach every shard and then the name servers before the change is
    /// answered, as Java's `registerBrokerAll` in the request path does: a client that
    /// created a topic finds its route right away.
    pub async fn topics_changed(&self) {
        self.publish().await;
        let registration = self.registration.borrow().upgrade();
        match registration {
            Some(registration) => {
                registration.register_all().await;
            }
            None => self.request_registration(),
        }
    }

    /// Auto-creation for a send (`createTopicInSendMessageMethod`).
    pub async fn ensure_topic(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
        sys_flag: i32,
    ) -> Result<Option<TopicConfig>, String> {
        if let Some(existing) = self.topics.borrow().get(topic) {
            return Ok(Some(existing.clone()));
        }
        let created =
            self.topics
                .borrow_mut()
                .create_for_send(topic, default_topic, queue_nums, sys_flag)?;
        if created.is_some() {
            self.topics_changed().await;
        }
        Ok(created)
    }

    /// HEART_BEAT (`ClientManageProcessor.heartBeat`).
    pub async fn heartbeat(&self, data: &HeartbeatData, origin: &Origin) {
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
        let mut metadata_changed = false;
        let mut topics_changed = false;
        let mut notify = Vec::new();
        for consumer in &data.consumers {
            let auto_create = self.config().auto_create_subscription_group;
            let known = self.groups.borrow().get(&consumer.group_name).is_some();
            let group = match self
                .groups
                .borrow_mut()
                .find_or_create(&consumer.group_name, auto_create)
            {
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
            metadata_changed |= !known;
            if consumer.message_model == "CLUSTERING" {
                let retry_topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", consumer.group_name);
                if self.topics.borrow().get(&retry_topic).is_none() {
                    match self
                        .topics
                        .borrow_mut()
                        .create_system_group_topic(&retry_topic, group.retry_queue_nums.max(1))
                    {
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
            metadata_changed |= outcome.subscriptions_changed || outcome.channels_changed;
            if (outcome.channels_changed || outcome.subscriptions_changed)
                && group.notify_consumer_ids_changed_enable
                && consumer.message_model != "BROADCASTING"
            {
                notify.push(consumer.group_name.clone());
            }
        }
        if topics_changed {
            self.topics_changed().await;
        } else if metadata_changed {
            self.publish().await;
        }
        for group in notify {
            self.notify_consumer_ids_changed(&group).await;
        }
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
        let header = ConsumerGroupRequestHeader {
            consumer_group: group.to_owned(),
        };
        let shard = self.shard();
        for channel in channels {
            let command = RemotingCommand::request(request::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_ext_fields(header.to_ext_fields());
            shard.send_to_client(channel, command).await;
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

    /// Every consumer group's subscribed topics, for QUERY_TOPIC_CONSUME_BY_WHO.
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

    pub fn producer_channels(&self, group: &str) -> HashMap<ChannelKey, ClientChannel> {
        self.clients
            .borrow()
            .producer_group(group)
            .map(|channels| channels.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }
}
