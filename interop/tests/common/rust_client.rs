//! Drives the `rocketmq-client-rust` 1.0 crate (github.com/mxsm/rocketmq-rust) from blocking
//! test code. Shared by the interop tests and by `examples/rust_client_probe.rs`, which the
//! golden-frame recorder runs.
//!
//! The client insists on an application-owned runtime: a `RuntimeOwner` (its own Tokio
//! runtime) and a `ClientRuntime` derived from it. Everything here runs inside
//! `RuntimeOwner::block_on`, so callers stay synchronous.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    DefaultMQAdminExt, DefaultMQProducer, DefaultMQPushConsumer, MQAdminReadExt, MQPushConsumer,
    MessageListenerConcurrently, TelemetryHandle,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

/// How long the client waits for any one name server or broker reply.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A topic route as the client decoded it, reduced to what tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSummary {
    /// brokerName -> (cluster, brokerId -> address).
    pub brokers: BTreeMap<String, (String, BTreeMap<u64, String>)>,
    /// brokerName -> (readQueueNums, writeQueueNums, perm).
    pub queues: BTreeMap<String, (u32, u32, u32)>,
}

/// One message a push consumer delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub topic: String,
    pub tags: Option<String>,
    pub body: Vec<u8>,
    pub broker_name: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub msg_id: String,
}

/// One message the producer got a SendResult for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub status: String,
    pub msg_id: Option<String>,
    pub offset_msg_id: Option<String>,
    pub broker_name: Option<String>,
    pub queue_id: Option<i32>,
    pub queue_offset: u64,
}

pub struct RustClient {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
}

impl RustClient {
    pub fn new(name: &str) -> Self {
        let owner = RuntimeOwner::plan(RuntimeConfig {
            thread_name: format!("interop-{name}"),
            ..Default::default()
        })
        .expect("the default runtime configuration is valid")
        .build()
        .expect("the client runtime owner starts");
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .expect("the client runtime is valid");
        RustClient {
            owner: Some(owner),
            runtime,
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.owner
            .as_ref()
            .expect("owner lives until drop")
            .block_on(future)
    }

    /// GET_ROUTEINFO_BY_TOPIC through the admin API. `Ok(None)` is the client's reading of
    /// TOPIC_NOT_EXIST (17): `get_topic_route_info_from_name_server` maps that code, and only
    /// that code, to `None`; every other non-success code is an `Err`.
    pub fn topic_route(&self, namesrv: &str, topic: &str) -> Result<Option<RouteSummary>, String> {
        self.block_on(async {
            let mut admin = DefaultMQAdminExt::with_timeout(self.runtime.clone(), CLIENT_TIMEOUT);
            admin.set_namesrv_addr(namesrv);
            admin
                .start()
                .await
                .map_err(|error| format!("admin start: {error}"))?;
            let route = admin.examine_topic_route_info(topic.into()).await;
            admin.shutdown().await;
            let Some(route) = route.map_err(|error| format!("route of {topic}: {error}"))? else {
                return Ok(None);
            };
            let mut summary = RouteSummary {
                brokers: BTreeMap::new(),
                queues: BTreeMap::new(),
            };
            for broker in &route.broker_datas {
                let addrs = broker
                    .broker_addrs()
                    .iter()
                    .map(|(id, addr)| (*id, addr.to_string()))
                    .collect();
                summary.brokers.insert(
                    broker.broker_name().to_string(),
                    (broker.cluster().to_string(), addrs),
                );
            }
            for queue in &route.queue_datas {
                summary.queues.insert(
                    queue.broker_name.to_string(),
                    (queue.read_queue_nums, queue.write_queue_nums, queue.perm),
                );
            }
            Ok(Some(summary))
        })
    }

    /// What a producer would send to: `DefaultMQProducer::fetch_publish_message_queues`,
    /// returned as (brokerName, queueId) pairs.
    pub fn publish_queues(&self, namesrv: &str, topic: &str) -> Result<Vec<(String, i32)>, String> {
        self.block_on(async {
            let mut producer = self.producer(namesrv, "interop_rust_route_probe");
            producer
                .start()
                .await
                .map_err(|error| format!("producer start: {error}"))?;
            let queues = producer.fetch_publish_message_queues(topic).await;
            producer.shutdown().await;
            let queues = queues.map_err(|error| format!("publish queues of {topic}: {error}"))?;
            Ok(queues
                .iter()
                .map(|queue| (queue.broker_name().to_string(), queue.queue_id()))
                .collect())
        })
    }

    /// Sends `count` messages synchronously with `DefaultMQProducer::send_with_timeout`.
    pub fn produce(
        &self,
        namesrv: &str,
        group: &str,
        topic: &str,
        tag: &str,
        count: usize,
    ) -> Result<Vec<SentMessage>, String> {
        self.block_on(async {
            let mut producer = self.producer(namesrv, group);
            producer
                .start()
                .await
                .map_err(|error| format!("producer start: {error}"))?;
            let mut sent = Vec::new();
            let mut failure = None;
            for index in 0..count {
                let message = Message::builder()
                    .topic(topic)
                    .tags(tag)
                    .keys(vec![format!("interop-key-{index}")])
                    .body_slice(format!("hello from rocketmq-client-rust #{index}").as_bytes())
                    .build_unchecked();
                let timeout_ms = CLIENT_TIMEOUT.as_millis() as u64;
                match producer.send_with_timeout(message, timeout_ms).await {
                    Ok(Some(result)) => sent.push(SentMessage {
                        status: format!("{:?}", result.send_status),
                        msg_id: result.msg_id.as_ref().map(|id| id.to_string()),
                        offset_msg_id: result.offset_msg_id.clone(),
                        broker_name: result
                            .message_queue
                            .as_ref()
                            .map(|q| q.broker_name().to_string()),
                        queue_id: result.message_queue.as_ref().map(|q| q.queue_id()),
                        queue_offset: result.queue_offset,
                    }),
                    Ok(None) => {
                        failure = Some(format!("send #{index} to {topic}: no SendResult"));
                        break;
                    }
                    Err(error) => {
                        failure = Some(format!("send #{index} to {topic}: {error}"));
                        break;
                    }
                }
            }
            producer.shutdown().await;
            match failure {
                Some(failure) => Err(failure),
                None => Ok(sent),
            }
        })
    }

    /// Runs a CLUSTERING push consumer subscribed to `topic` with `expression` until `expect`
    /// messages arrived or `wait` elapsed, and returns what it received.
    pub fn consume(
        &self,
        namesrv: &str,
        group: &str,
        topic: &str,
        expression: &str,
        expect: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, String> {
        self.block_on(async {
            let received = Arc::new(Mutex::new(Vec::new()));
            let mut consumer = DefaultMQPushConsumer::builder(self.runtime.clone())
                .consumer_group(group)
                .name_server_addr(namesrv)
                .build();
            consumer
                .subscribe(topic, expression)
                .await
                .map_err(|error| format!("subscribe: {error}"))?;
            consumer.register_message_listener_concurrently(Collector {
                received: received.clone(),
            });
            consumer
                .start()
                .await
                .map_err(|error| format!("consumer start: {error}"))?;
            let started = Instant::now();
            while started.elapsed() < wait && received.lock().unwrap().len() < expect.max(1) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if expect == 0 {
                // Nothing to wait for but the time: let heartbeats and pulls go out.
                tokio::time::sleep(wait.saturating_sub(started.elapsed())).await;
            }
            consumer.shutdown().await;
            let received = received.lock().unwrap().clone();
            Ok(received)
        })
    }

    fn producer(&self, namesrv: &str, group: &str) -> DefaultMQProducer {
        DefaultMQProducer::builder(self.runtime.clone())
            .producer_group(group)
            .name_server_addr(namesrv)
            .send_msg_timeout(CLIENT_TIMEOUT.as_millis() as u32)
            .retry_times_when_send_failed(0)
            .build()
    }
}

impl Drop for RustClient {
    fn drop(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        let runtime = self.runtime.clone();
        let _ = owner.block_on(async move { runtime.shutdown().await });
        let _ = owner.shutdown_runtime_blocking_with_timeout(Duration::from_secs(5));
    }
}

struct Collector {
    received: Arc<Mutex<Vec<ReceivedMessage>>>,
}

impl MessageListenerConcurrently for Collector {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
        let mut received = self.received.lock().unwrap();
        for msg in msgs {
            received.push(ReceivedMessage {
                topic: msg.message.topic().to_string(),
                tags: msg.get_tags().map(|tags| tags.to_string()),
                body: msg
                    .message
                    .body()
                    .map(|body| body.to_vec())
                    .unwrap_or_default(),
                broker_name: msg.broker_name.to_string(),
                queue_id: msg.queue_id,
                queue_offset: msg.queue_offset,
                msg_id: msg.msg_id.to_string(),
            });
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}
