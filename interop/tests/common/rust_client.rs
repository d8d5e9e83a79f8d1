//! Drives the `rocketmq-client-rust` 1.0 crate (github.com/mxsm/rocketmq-rust) from blocking
//! test code. Shared by the interop tests and by `examples/rust_client_probe.rs`, which the
//! golden-frame recorder runs.
//!
//! The client insists on an application-owned runtime: a `RuntimeOwner` (its own Tokio
//! runtime) and a `ClientRuntime` derived from it. Everything here runs inside
//! `RuntimeOwner::block_on`, so callers stay synchronous.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientConfig, ClientError, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQAdminExt,
    DefaultMQProducer, DefaultMQPushConsumer, MQAdminReadExt, MQPushConsumer,
    MessageListenerConcurrently, MessageListenerOrderly, TelemetryHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendResult;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
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
    /// The KEYS property, split on spaces as the client does.
    pub keys: Vec<String>,
    pub body: Vec<u8>,
    pub broker_name: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    /// What the client put in `MessageExt::msg_id`.
    pub msg_id: String,
    /// The UNIQ_KEY property (the producer's msgId).
    pub uniq_key: Option<String>,
    pub store_timestamp: i64,
    pub reconsume_times: i32,
    /// Delivery order across every consumer in this process (a global counter), so
    /// deliveries to different consumers can be merged in the order they happened.
    pub seq: u64,
}

static DELIVERIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl ReceivedMessage {
    fn from_ext(msg: &MessageExt) -> ReceivedMessage {
        ReceivedMessage {
            topic: msg.message.topic().to_string(),
            tags: msg.get_tags().map(|tags| tags.to_string()),
            keys: msg.message.keys().unwrap_or_default(),
            body: msg
                .message
                .body()
                .map(|body| body.to_vec())
                .unwrap_or_default(),
            broker_name: msg.broker_name.to_string(),
            queue_id: msg.queue_id,
            queue_offset: msg.queue_offset,
            msg_id: msg.msg_id.to_string(),
            uniq_key: msg.message.property("UNIQ_KEY").map(str::to_string),
            store_timestamp: msg.store_timestamp(),
            reconsume_times: msg.reconsume_times(),
            seq: DELIVERIES.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// The body as text (every test body is UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
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
    /// The crate's `AclClientRPCHook`, set by [`RustClient::with_credentials`]: every
    /// producer and push consumer this client starts signs its requests with it.
    acl_hook: Option<Arc<rocketmq_client_rust::AclClientRPCHook>>,
}

impl RustClient {
    pub fn new(name: &str) -> Self {
        // The client's own log (warnings and up unless INTEROP_CLIENT_LOG says otherwise),
        // captured per test and shown when one fails. Only the first call installs it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("INTEROP_CLIENT_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let mut config = RuntimeConfig {
            thread_name: format!("interop-{name}"),
            ..Default::default()
        };
        // The push consumer runs every listener call on the runtime's metadata-io blocking
        // lane, whose default queue (8 per core) rejects a burst: a rejected call counts as
        // RECONSUME_LATER and the client sends the message back to the broker as a retry. The
        // tests want to see first deliveries, so give the lane room for any burst they cause.
        config.blocking_lane_policies.metadata_io.max_queue_depth = 100_000;
        let owner = RuntimeOwner::plan(config)
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
            acl_hook: None,
        }
    }

    /// Signs with RocketMQ ACL 1.0 credentials (the crate's `AclClientRPCHook`).
    pub fn with_credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        let credentials =
            rocketmq_client_rust::SessionCredentials::with_keys(access_key, secret_key);
        self.acl_hook = Some(Arc::new(rocketmq_client_rust::AclClientRPCHook::new(
            credentials,
        )));
        self
    }

    /// Runs `future` as a task on the client's runtime (its worker threads keep running it
    /// after this returns); [`RustClient::join`] waits for it.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.block_on(async { tokio::runtime::Handle::current() });
        runtime.spawn(future)
    }

    /// Waits for a task from [`RustClient::spawn`]; panics if it panicked.
    pub fn join<T>(&self, task: tokio::task::JoinHandle<T>) -> T {
        self.block_on(task).expect("a spawned client task finished")
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
        let mut builder = DefaultMQProducer::builder(self.runtime.clone())
            .producer_group(group)
            .name_server_addr(namesrv)
            .send_msg_timeout(CLIENT_TIMEOUT.as_millis() as u32)
            .retry_times_when_send_failed(0);
        if let Some(hook) = &self.acl_hook {
            builder = builder.rpc_hook(hook.clone());
        }
        builder.build()
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
        received.extend(msgs.iter().map(|msg| ReceivedMessage::from_ext(msg)));
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

impl MessageListenerOrderly for Collector {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &mut ConsumeOrderlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeOrderlyStatus> {
        let mut received = self.received.lock().unwrap();
        received.extend(msgs.iter().map(|msg| ReceivedMessage::from_ext(msg)));
        Ok(ConsumeOrderlyStatus::Success)
    }
}

/// Where a push consumer group with no committed offset starts (the client's
/// `ConsumeFromWhere`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    FirstOffset,
    LastOffset,
    /// `yyyyMMddHHmmss` in local time, as the client's `consume_timestamp` takes it.
    Timestamp(String),
}

/// How to build a [`PushConsumer`].
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    pub group: String,
    pub topic: String,
    /// Subscription expression: `*` or `TagA || TagB`.
    pub expression: String,
    pub broadcasting: bool,
    pub orderly: bool,
    pub start_from: StartFrom,
    /// The client id's instance part. Consumers of one group inside one process need
    /// different ones (a clustering consumer picks `<pid>#<nanos>` itself; a broadcasting one
    /// stays "DEFAULT", so two of them would share a client id).
    pub instance_name: Option<String>,
    /// `pollNameServerInterval` in ms (the client's default is 30 s, its minimum 10 s): how
    /// soon the consumer sees a broker leave or come back.
    pub poll_name_server_interval_ms: Option<u32>,
}

impl ConsumerOptions {
    /// A clustering, concurrent consumer of every tag of `topic`, from the first offset.
    pub fn new(group: &str, topic: &str) -> ConsumerOptions {
        ConsumerOptions {
            group: group.to_string(),
            topic: topic.to_string(),
            expression: "*".to_string(),
            broadcasting: false,
            orderly: false,
            start_from: StartFrom::FirstOffset,
            instance_name: None,
            poll_name_server_interval_ms: None,
        }
    }
}

impl RustClient {
    /// A started `DefaultMQProducer` of `group` (send timeout [`CLIENT_TIMEOUT`], no retries:
    /// the tests want to see every failure).
    pub fn start_producer(&self, namesrv: &str, group: &str) -> Producer<'_> {
        let mut inner = self.producer(namesrv, group);
        self.block_on(inner.start())
            .unwrap_or_else(|error| panic!("producer {group} start: {error}"));
        Producer {
            client: self,
            inner: Some(Arc::new(inner)),
        }
    }

    /// A started producer configured as a RocketMQ user configures one for failover: the
    /// client's default 2 retries (each retry goes to another broker), sendLatencyFaultEnable
    /// (a broker that failed is avoided for a while), a `send_timeout` per send and name
    /// server polls every 10 s (the client's minimum).
    pub fn start_failover_producer(
        &self,
        namesrv: &str,
        group: &str,
        send_timeout: Duration,
    ) -> Producer<'_> {
        let mut config = ClientConfig::default();
        config.set_poll_name_server_interval(10_000);
        let mut inner = DefaultMQProducer::builder(self.runtime.clone())
            .client_config(config)
            .producer_group(group)
            .name_server_addr(namesrv)
            .send_msg_timeout(send_timeout.as_millis() as u32)
            .retry_times_when_send_failed(2)
            .build();
        inner.set_send_latency_fault_enable(true);
        self.block_on(inner.start())
            .unwrap_or_else(|error| panic!("producer {group} start: {error}"));
        Producer {
            client: self,
            inner: Some(Arc::new(inner)),
        }
    }

    /// A started `DefaultMQPushConsumer` that records everything delivered to it (and answers
    /// CONSUME_SUCCESS / SUCCESS).
    pub fn start_push_consumer(
        &self,
        namesrv: &str,
        options: &ConsumerOptions,
    ) -> PushConsumer<'_> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut config = ClientConfig::default();
        if let Some(instance) = &options.instance_name {
            config.set_instance_name(instance.as_str().into());
        }
        if let Some(interval) = options.poll_name_server_interval_ms {
            config.set_poll_name_server_interval(interval);
        }
        let (from, timestamp) = match &options.start_from {
            StartFrom::FirstOffset => (ConsumeFromWhere::ConsumeFromFirstOffset, None),
            StartFrom::LastOffset => (ConsumeFromWhere::ConsumeFromLastOffset, None),
            StartFrom::Timestamp(at) => (ConsumeFromWhere::ConsumeFromTimestamp, Some(at.clone())),
        };
        let mut builder = DefaultMQPushConsumer::builder(self.runtime.clone())
            .client_config(config)
            .name_server_addr(namesrv)
            .consumer_group(options.group.as_str())
            .message_model(if options.broadcasting {
                MessageModel::Broadcasting
            } else {
                MessageModel::Clustering
            })
            .consume_from_where(from);
        if let Some(timestamp) = timestamp {
            builder = builder.consume_timestamp(timestamp);
        }
        if let Some(hook) = &self.acl_hook {
            builder = builder.rpc_hook(Some(hook.clone()));
        }
        let mut consumer = builder.build();
        self.block_on(async {
            consumer
                .subscribe(options.topic.as_str(), options.expression.as_str())
                .await
                .unwrap_or_else(|error| panic!("subscribe {}: {error}", options.topic));
            let collector = Collector {
                received: received.clone(),
            };
            if options.orderly {
                consumer.register_message_listener_orderly(collector);
            } else {
                consumer.register_message_listener_concurrently(collector);
            }
            consumer
                .start()
                .await
                .unwrap_or_else(|error| panic!("consumer {} start: {error}", options.group));
        });
        PushConsumer {
            client: self,
            inner: Some(consumer),
            received,
        }
    }
}

/// What [`Producer::queue_admin`] asks a broker about one queue.
#[derive(Debug, Clone, Copy)]
pub enum QueueAdmin {
    /// The first offset stored at or after this many milliseconds since the epoch.
    SearchOffset(u64),
    MaxOffset,
    MinOffset,
    EarliestStoreTime,
}

/// A started producer; shut down on drop.
pub struct Producer<'a> {
    client: &'a RustClient,
    inner: Option<Arc<DefaultMQProducer>>,
}

/// What one acknowledged send returned.
fn sent(result: &SendResult) -> SentMessage {
    SentMessage {
        status: format!("{:?}", result.send_status),
        msg_id: result.msg_id.as_ref().map(|id| id.to_string()),
        offset_msg_id: result.offset_msg_id.clone(),
        broker_name: result
            .message_queue
            .as_ref()
            .map(|q| q.broker_name().to_string()),
        queue_id: result.message_queue.as_ref().map(|q| q.queue_id()),
        queue_offset: result.queue_offset,
    }
}

/// A message for `topic` with one tag, one key and a text body.
pub fn message(topic: &str, tag: &str, key: &str, body: &str) -> Message {
    Message::builder()
        .topic(topic)
        .tags(tag)
        .keys(vec![key.to_string()])
        .body_slice(body.as_bytes())
        .build_unchecked()
}

impl Producer<'_> {
    fn inner(&self) -> &Arc<DefaultMQProducer> {
        self.inner.as_ref().expect("producer lives until drop")
    }

    /// The producer itself, for sending from tasks on the client's runtime.
    pub fn shared(&self) -> Arc<DefaultMQProducer> {
        self.inner().clone()
    }

    /// Runs `future` on the client's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.client.block_on(future)
    }

    /// `send_with_timeout`: a synchronous send.
    pub fn send(&self, message: Message) -> Result<SentMessage, String> {
        let timeout_ms = CLIENT_TIMEOUT.as_millis() as u64;
        match self.block_on(self.inner().send_with_timeout(message, timeout_ms)) {
            Ok(Some(result)) => Ok(sent(&result)),
            Ok(None) => Err("no SendResult".to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// `send_with_callback` for every message, then waits for every callback (up to
    /// `2 * CLIENT_TIMEOUT`). Returns one outcome per message, in message order.
    pub fn send_async(&self, messages: Vec<Message>) -> Vec<Result<SentMessage, String>> {
        let count = messages.len();
        type Outcome = Option<Result<SentMessage, String>>;
        let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(vec![None; count]));
        for (index, message) in messages.into_iter().enumerate() {
            let slot = outcomes.clone();
            let callback = move |result: Option<&SendResult>, error: Option<&ClientError>| {
                let outcome = match (result, error) {
                    (Some(result), _) => Ok(sent(result)),
                    (None, Some(error)) => Err(error.to_string()),
                    (None, None) => Err("callback with neither result nor error".to_string()),
                };
                slot.lock().unwrap()[index] = Some(outcome);
            };
            if let Err(error) = self.block_on(self.inner().send_with_callback(message, callback)) {
                outcomes.lock().unwrap()[index] = Some(Err(error.to_string()));
            }
        }
        let deadline = Instant::now() + 2 * CLIENT_TIMEOUT;
        while outcomes.lock().unwrap().iter().any(Option::is_none) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let outcomes = outcomes.lock().unwrap();
        outcomes
            .iter()
            .map(|outcome| {
                outcome
                    .clone()
                    .unwrap_or_else(|| Err("no callback within the deadline".to_string()))
            })
            .collect()
    }

    /// `send_oneway`: no reply is expected, so success only means it was written.
    pub fn send_oneway(&self, message: Message) -> Result<(), String> {
        self.block_on(self.inner().send_oneway(message))
            .map_err(|error| error.to_string())
    }

    /// `send_batch_with_timeout`: one SEND_BATCH_MESSAGE for all of `messages`.
    pub fn send_batch(&self, messages: Vec<Message>) -> Result<SentMessage, String> {
        let timeout_ms = CLIENT_TIMEOUT.as_millis() as u64;
        self.block_on(self.inner().send_batch_with_timeout(messages, timeout_ms))
            .map(|result| sent(&result))
            .map_err(|error| error.to_string())
    }

    /// `send_with_selector_timeout` choosing queue `shard_key % queues`, as Java's
    /// SelectMessageQueueByHash does: the same key always lands on the same queue.
    pub fn send_orderly(&self, message: Message, shard_key: u64) -> Result<SentMessage, String> {
        let timeout_ms = CLIENT_TIMEOUT.as_millis() as u64;
        let selector = |queues: &[MessageQueue], _message: &Message, key: &u64| {
            if queues.is_empty() {
                return None;
            }
            queues.get((*key % queues.len() as u64) as usize).cloned()
        };
        match self.block_on(
            self.inner()
                .send_with_selector_timeout(message, selector, shard_key, timeout_ms),
        ) {
            Ok(Some(result)) => Ok(sent(&result)),
            Ok(None) => Err("no SendResult".to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The client's admin reads for one queue of broker-a, through this producer:
    /// SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
    /// GET_EARLIEST_MSG_STORETIME (32).
    pub fn queue_admin(
        &mut self,
        topic: &str,
        queue_id: i32,
        ask: QueueAdmin,
    ) -> Result<i64, String> {
        let queue = MessageQueue::from_parts(topic, "broker-a", queue_id);
        let producer = Arc::get_mut(self.inner.as_mut().expect("producer lives until drop"))
            .expect("queue_admin needs the producer unshared");
        let answer = self.client.block_on(async {
            match ask {
                QueueAdmin::SearchOffset(timestamp) => {
                    producer.search_offset(&queue, timestamp).await
                }
                QueueAdmin::MaxOffset => producer.max_offset(&queue).await,
                QueueAdmin::MinOffset => producer.min_offset(&queue).await,
                QueueAdmin::EarliestStoreTime => producer.earliest_msg_store_time(&queue).await,
            }
        });
        answer.map_err(|error| error.to_string())
    }

    /// QUERY_MESSAGE (12) by KEYS through the client (`query_message`, any store time, up
    /// to 32 results): the bodies of the messages found.
    pub fn query_by_key(&mut self, topic: &str, key: &str) -> Result<Vec<String>, String> {
        let producer = Arc::get_mut(self.inner.as_mut().expect("producer lives until drop"))
            .expect("query_by_key needs the producer unshared");
        let end = u64::MAX / 2;
        let found = self
            .client
            .block_on(producer.query_message(topic, key, 32, 0, end))
            .map_err(|error| error.to_string())?;
        Ok(found
            .message_list()
            .iter()
            .map(|message| {
                let body = message
                    .message
                    .body()
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                String::from_utf8_lossy(&body).into_owned()
            })
            .collect())
    }

    pub fn shutdown(&mut self) {
        if let Some(producer) = self.inner.take() {
            match Arc::try_unwrap(producer) {
                Ok(mut producer) => self.client.block_on(producer.shutdown()),
                Err(_) => eprintln!("interop: producer still shared at shutdown; left running"),
            }
        }
    }
}

impl Drop for Producer<'_> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A started push consumer and what it has received so far; shut down on drop.
pub struct PushConsumer<'a> {
    client: &'a RustClient,
    inner: Option<DefaultMQPushConsumer>,
    received: Arc<Mutex<Vec<ReceivedMessage>>>,
}

impl PushConsumer<'_> {
    /// Everything delivered so far, in delivery order.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Polls until `done(received)` holds or `wait` passed; returns whether it held.
    pub fn wait_until(&self, wait: Duration, done: impl Fn(&[ReceivedMessage]) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if done(&self.received.lock().unwrap()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until every body of `expected` is among the messages received after the
    /// first `skip`, or `wait` passed; returns whether they all arrived.
    pub fn wait_for_bodies(
        &self,
        expected: &BTreeSet<String>,
        skip: usize,
        wait: Duration,
    ) -> bool {
        self.wait_until(wait, |received| {
            expected.is_subset(&bodies_of(&received[skip.min(received.len())..]))
        })
    }

    /// Polls until at least `count` messages arrived or `wait` passed.
    pub fn wait_for_count(&self, count: usize, wait: Duration) -> bool {
        self.wait_until(wait, |received| received.len() >= count)
    }

    /// Shuts the consumer down (persists offsets, UNREGISTER_CLIENT, unlocks queues).
    pub fn shutdown(&mut self) {
        if let Some(mut consumer) = self.inner.take() {
            self.client.block_on(consumer.shutdown());
        }
    }
}

impl Drop for PushConsumer<'_> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Decides a transaction from its message body, for [`RustClient::start_transaction_producer`].
pub trait TransactionDecider: Send + Sync + 'static {
    /// After the half message is stored (`executeLocalTransaction`).
    fn execute(&self, body: &str) -> rocketmq_client_rust::LocalTransactionState;
    /// When the broker checks back (`checkLocalTransaction`).
    fn check(&self, body: &str) -> rocketmq_client_rust::LocalTransactionState;
}

struct DeciderListener<D: TransactionDecider>(Arc<D>);

fn body_text(body: Option<&[u8]>) -> String {
    body.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

impl<D: TransactionDecider> rocketmq_client_rust::TransactionListener for DeciderListener<D> {
    fn execute_local_transaction(
        &self,
        msg: &dyn rocketmq_model::common::message::MessageTrait,
        _arg: Option<&(dyn std::any::Any + Send + Sync)>,
    ) -> rocketmq_client_rust::LocalTransactionState {
        self.0
            .execute(&body_text(msg.get_body().map(|b| b.as_ref())))
    }

    fn check_local_transaction(
        &self,
        msg: &MessageExt,
    ) -> rocketmq_client_rust::LocalTransactionState {
        use rocketmq_model::common::message::MessageTrait;
        self.0.check(&body_text(msg.get_body().map(|b| b.as_ref())))
    }
}

/// A started `TransactionMQProducer`; shut down on drop.
pub struct TransactionProducer<'a> {
    client: &'a RustClient,
    inner: Option<rocketmq_client_rust::TransactionMQProducer>,
}

impl RustClient {
    /// A started `TransactionMQProducer` of `group` whose listener asks `decider`. It
    /// heartbeats every 10 s (the client's minimum), so a restarted broker soon knows where
    /// to check back.
    pub fn start_transaction_producer<D: TransactionDecider>(
        &self,
        namesrv: &str,
        group: &str,
        decider: Arc<D>,
    ) -> TransactionProducer<'_> {
        let mut config = ClientConfig::default();
        config.set_heartbeat_broker_interval(10_000);
        let mut producer =
            rocketmq_client_rust::TransactionMQProducer::builder(self.runtime.clone())
                .client_config(config)
                .producer_group(group)
                .name_server_addr(namesrv)
                .send_msg_timeout(CLIENT_TIMEOUT.as_millis() as u32)
                .retry_times_when_send_failed(0)
                .transaction_listener(DeciderListener(decider))
                .build();
        self.block_on(producer.start())
            .unwrap_or_else(|error| panic!("transaction producer {group} start: {error}"));
        TransactionProducer {
            client: self,
            inner: Some(producer),
        }
    }
}

/// What one transactional send returned.
#[derive(Debug, Clone)]
pub struct TransactionSent {
    /// The send status (`SendOk`) and the local transaction state, as the client reports them.
    pub status: String,
    pub state: String,
    /// The half message's offsetMsgId and its offset in the half queue: what END_TRANSACTION
    /// quotes back.
    pub offset_msg_id: String,
    pub queue_offset: u64,
}

impl TransactionProducer<'_> {
    /// Sends a half message and runs the local transaction; returns the send status and
    /// the local state as the client reports them.
    pub fn send(&self, message: Message) -> Result<(String, String), String> {
        self.send_full(message)
            .map(|sent| (sent.status, sent.state))
    }

    pub fn send_full(&self, message: Message) -> Result<TransactionSent, String> {
        let producer = self.inner.as_ref().expect("producer lives until drop");
        let result = self
            .client
            .block_on(producer.send_message_in_transaction::<(), _>(message, None))
            .map_err(|error| error.to_string())?;
        let send = result.send_result.as_ref();
        Ok(TransactionSent {
            status: send
                .map(|r| format!("{:?}", r.send_status))
                .unwrap_or_default(),
            state: format!("{:?}", result.local_transaction_state),
            offset_msg_id: send
                .and_then(|r| r.offset_msg_id.clone())
                .unwrap_or_default(),
            queue_offset: send.map(|r| r.queue_offset).unwrap_or_default(),
        })
    }
}

impl Drop for TransactionProducer<'_> {
    fn drop(&mut self) {
        if let Some(mut producer) = self.inner.take() {
            self.client.block_on(producer.shutdown());
        }
    }
}

/// The distinct bodies (as text) of `received`.
pub fn bodies_of(received: &[ReceivedMessage]) -> BTreeSet<String> {
    received.iter().map(ReceivedMessage::text).collect()
}

/// Polls until every body of `expected` arrived at one of `consumers`, or `wait` passed;
/// returns whether they all did.
pub fn wait_for_bodies_across(
    consumers: &[&PushConsumer],
    expected: &BTreeSet<String>,
    wait: Duration,
) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let mut bodies = BTreeSet::new();
        for consumer in consumers {
            bodies.extend(bodies_of(&consumer.received()));
        }
        if expected.is_subset(&bodies) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
