//! The typed requests the leader shard runs for the others: client registry, locks,
//! topic and group tables, connections, broker configuration.

use std::time::Instant;

use ramjet_net::body::{Connection, ConsumerConnection, ProducerConnection, WireBody};
use serde_json::json;

use crate::client_manager::ClientChannel;
use crate::error::{BrokerError, BrokerResult};
use crate::leader::Leader;
use crate::shard_request::{LeaderReply, LeaderRequest};
use crate::topic_validator;

impl Leader {
    pub async fn execute(&self, request: LeaderRequest) -> BrokerResult<LeaderReply> {
        match request {
            LeaderRequest::Heartbeat { data, origin } => {
                self.heartbeat(&data, &origin).await?;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::UnregisterClient {
                channel,
                producer_group,
                consumer_group,
            } => {
                self.unregister_client(
                    channel,
                    producer_group.as_deref(),
                    consumer_group.as_deref(),
                )
                .await;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::ConsumerIds { group } => {
                let ids = self.clients.borrow().consumer_ids(&group);
                if ids.is_empty() {
                    return Err(BrokerError::NotFound(format!(
                        "no consumer for this group, {group}"
                    )));
                }
                Ok(LeaderReply::Strings(ids))
            }
            LeaderRequest::LockBatch {
                group,
                client_id,
                queues,
            } => {
                let locked = self.clients.borrow_mut().try_lock_batch(
                    &group,
                    &queues,
                    &client_id,
                    Instant::now(),
                );
                Ok(LeaderReply::Queues(locked))
            }
            LeaderRequest::UnlockBatch {
                group,
                client_id,
                queues,
            } => {
                self.clients
                    .borrow_mut()
                    .unlock_batch(&group, &queues, &client_id);
                Ok(LeaderReply::Done)
            }
            LeaderRequest::EnsureTopic {
                topic,
                default_topic,
                queue_nums,
                sys_flag,
            } => self
                .ensure_topic(&topic, &default_topic, queue_nums, sys_flag)
                .await
                .map(LeaderReply::Topic),
            LeaderRequest::EnsureGroupTopic {
                topic,
                queue_nums,
                perm,
            } => self
                .ensure_group_topic(&topic, queue_nums, perm)
                .await
                .map(|config| LeaderReply::Topic(Some(config))),
            LeaderRequest::CreateTopic(config) => {
                topic_validator::validate(&config.topic_name)
                    .map_err(BrokerError::InvalidParameter)?;
                if config.topic_name == self.config().broker_cluster_name {
                    return Err(BrokerError::InvalidParameter(format!(
                        "the topic[{}] is conflict with system topic.",
                        config.topic_name
                    )));
                }
                self.topics
                    .borrow_mut()
                    .put(config)
                    .map_err(BrokerError::InvalidParameter)?;
                self.topics_changed().await?;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::DeleteTopic { topic } => {
                let deleted = self.topics.borrow_mut().delete(&topic);
                deleted.map_err(BrokerError::Persist)?;
                self.topics_changed().await?;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::AllTopicConfig => {
                let wrapper = self.topics.borrow().wrapper();
                let mut value = serde_json::to_value(&wrapper).expect("serializes");
                // 5.x tools read TopicConfigAndMappingSerializeWrapper; empty mappings are
                // valid.
                value["mappingDataVersion"] =
                    serde_json::to_value(wrapper.data_version).expect("serializes");
                value["topicQueueMappingDetailMap"] = json!({});
                value["topicQueueMappingInfoMap"] = json!({});
                Ok(LeaderReply::Body(
                    serde_json::to_vec(&value).expect("serializes"),
                ))
            }
            LeaderRequest::UpdateGroup(config) => {
                self.groups
                    .borrow_mut()
                    .put(config)
                    .map_err(BrokerError::InvalidParameter)?;
                self.groups_changed().await?;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::AllGroups => {
                Ok(LeaderReply::Body(self.groups.borrow().wrapper().encode()))
            }
            LeaderRequest::DeleteGroup { group, .. } => {
                let deleted = self.groups.borrow_mut().delete(&group);
                deleted.map_err(BrokerError::Persist)?;
                self.groups_changed().await?;
                Ok(LeaderReply::Done)
            }
            LeaderRequest::ProducerChannel { group } => Ok(LeaderReply::Channel(
                self.clients.borrow().available_producer_channel(&group),
            )),
            LeaderRequest::ProducerConnections { group } => {
                let clients = self.clients.borrow();
                let channels = clients
                    .producer_group(&group)
                    .filter(|channels| !channels.is_empty())
                    .ok_or_else(|| {
                        BrokerError::NotFound(format!("the producer group[{group}] not exist"))
                    })?;
                let body = ProducerConnection {
                    connection_set: channels.values().map(connection).collect(),
                };
                Ok(LeaderReply::Body(body.encode()))
            }
            LeaderRequest::ConnectionCensus => {
                use crate::metrics::ops::{consume_mode, ConnectionCensus};
                let version = |v: i32| ramjet_net::code::version::desc(v).to_lowercase();
                let clients = self.clients.borrow();
                let mut census = ConnectionCensus::default();
                for channel in clients.producer_channels() {
                    let key = (
                        channel.language.name().to_lowercase(),
                        version(channel.version),
                    );
                    *census.producers.entry(key).or_insert(0) += 1;
                }
                for (group, info) in clients.consumer_groups() {
                    for channel in info.channels.values() {
                        let key = (
                            group.clone(),
                            channel.language.name().to_lowercase(),
                            version(channel.version),
                            consume_mode(&info.consume_type).to_owned(),
                        );
                        *census.consumers.entry(key).or_insert(0) += 1;
                    }
                }
                Ok(LeaderReply::Census(census))
            }
            LeaderRequest::ConsumerConnections { group } => {
                let clients = self.clients.borrow();
                let info = clients
                    .consumer_group(&group)
                    .filter(|info| !info.channels.is_empty())
                    .ok_or_else(|| {
                        BrokerError::ConsumerNotOnline(format!(
                            "the consumer group[{group}] not online"
                        ))
                    })?;
                let body = ConsumerConnection {
                    connection_set: info.channels.values().map(connection).collect(),
                    consume_from_where: Some(info.consume_from_where.clone()),
                    consume_type: Some(info.consume_type.clone()),
                    message_model: Some(info.message_model.clone()),
                    subscription_table: info.subscriptions.clone(),
                };
                Ok(LeaderReply::Body(body.encode()))
            }
            LeaderRequest::ConsumerChannels { group } => Ok(LeaderReply::Channels(
                self.clients
                    .borrow()
                    .consumer_group(&group)
                    .map(|info| info.channels.values().cloned().collect())
                    .unwrap_or_default(),
            )),
            LeaderRequest::GroupsConsuming { topic } => {
                Ok(LeaderReply::Strings(self.groups_consuming(&topic)))
            }
            LeaderRequest::SubscribedTopics { group } => {
                let topics = self
                    .clients
                    .borrow()
                    .consumer_group(&group)
                    .map(|info| info.subscriptions.keys().cloned().collect())
                    .unwrap_or_default();
                Ok(LeaderReply::Strings(topics))
            }
            LeaderRequest::BrokerConfig => {
                let text = ramjet_net::properties::to_text(
                    self.config()
                        .to_pairs()
                        .iter()
                        .map(|(k, v)| (*k, v.as_str())),
                );
                let data_version = serde_json::to_string(&self.topics.borrow().data_version())
                    .expect("serializes");
                Ok(LeaderReply::BrokerConfig { text, data_version })
            }
            LeaderRequest::UpdateBrokerConfig { text } => {
                let (config, pairs) = self
                    .config()
                    .updated(&text)
                    .map_err(BrokerError::InvalidParameter)?;
                let persisted = config.clone();
                let updates = pairs.clone();
                glommio::executor()
                    .spawn_blocking(move || persisted.persist_updates(&updates))
                    .await
                    .map_err(BrokerError::Persist)?;
                tracing::info!(?pairs, "broker config updated");
                self.update_config(config).await?;
                Ok(LeaderReply::Done)
            }
        }
    }
}

fn connection(channel: &ClientChannel) -> Connection {
    Connection {
        client_addr: channel.client_addr.clone(),
        client_id: channel.client_id.clone(),
        language: channel.language.name().to_owned(),
        version: channel.version,
    }
}
