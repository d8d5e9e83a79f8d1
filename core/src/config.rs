//! `BrokerConfig`: RocketMQ's broker.conf property names (store-format.md section 10) mapped
//! onto the broker's settings and the store's `StoreConfig`, so an existing broker.conf
//! works unchanged. Unknown keys are returned to the caller, which warns about them.

use std::path::PathBuf;
use std::time::Duration;

use ramjet_store::config::{FlushDiskType, StoreConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub broker_cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub broker_role: BrokerRole,
    pub namesrv_addr: Vec<String>,
    pub listen_port: u16,
    /// `httpPort`: the HTTP admin API and web console (docs/console.md), on
    /// `httpBindAddress`; rocketmq-dashboard's default 8080. 0 turns it off.
    pub http_port: u16,
    /// `httpBindAddress` (Ramjet's key): 127.0.0.1 by default, because the console has no
    /// login and can change topics, offsets and config; opening it wider is a choice.
    pub http_bind_address: String,
    pub bind_address: String,
    pub broker_ip1: String,
    pub broker_ip2: String,
    pub auto_create_topic_enable: bool,
    pub auto_create_subscription_group: bool,
    pub default_topic_queue_nums: i32,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub broker_permission: i32,
    pub long_polling_enable: bool,
    /// `slaveReadEnable`: pulls may suggest a slave (`suggestWhichBrokerId`) to a consumer
    /// that lags beyond `accessMessageInMemoryMaxRatio` (processor/pull_suggestion.rs).
    pub slave_read_enable: bool,
    /// `accessMessageInMemoryMaxRatio` (percent of physical memory, default 40): a consumer
    /// further behind the CommitLog end than this reads from disk and is "slow".
    pub access_message_in_memory_max_ratio: i32,
    /// `enablePropertyFilter`: serve SQL92 subscriptions (docs/sql-filter.md). Off by
    /// default, as in RocketMQ; when off, SQL92 pulls and CHECK_CLIENT_CONFIG get
    /// SYSTEM_ERROR "The broker does not support consumer to filter message by SQL92".
    pub enable_property_filter: bool,
    pub short_polling_time: Duration,
    pub notify_consumer_ids_changed_enable: bool,
    pub flush_consumer_offset_interval: Duration,
    /// `flushIntervalCommitLog` (500 ms): how often each shard's flush loop looks at its
    /// CommitLog; it fdatasyncs when `flushCommitLogLeastPages` 4 KiB pages (4) are
    /// written but not durable, or every `flushCommitLogThoroughInterval` (10 s) whatever
    /// is there. On a device with a volatile cache each fdatasync is a cache flush that
    /// stalls writes meanwhile (docs/architecture.md, Write path 9).
    pub flush_interval_commit_log: Duration,
    pub flush_commit_log_least_pages: u64,
    pub flush_commit_log_thorough_interval: Duration,
    pub register_name_server_period: Duration,
    pub channel_expired_timeout: Duration,
    pub region_id: String,
    pub trace_on: bool,
    pub default_query_max_num: i32,
    pub max_transfer_bytes_on_message_in_memory: usize,
    pub max_transfer_count_on_message_in_memory: usize,
    pub compressed_register: bool,
    /// `messageDelayLevel`: the delay of each level (core/src/schedule).
    pub message_delay_level: crate::schedule::DelayLevelTable,
    /// `flushDelayOffsetInterval`: how often delayOffset.json is written.
    pub flush_delay_offset_interval: Duration,
    pub store: StoreConfig,
    /// Ramjet: shards (cores) serving the broker; 0 = one per core.
    pub shard_count: usize,
    /// Ramjet: sends queued per shard before new ones get SYSTEM_BUSY.
    pub send_queue_capacity: usize,
    /// `ramjetSpinBeforeParkMicros` (0 = off): how long an idle shard polls before it sleeps
    /// in io_uring. A shard that is still spinning when another shard hands it work needs no
    /// eventfd wake-up (docs/architecture.md, "Idle shards"); the price is idle CPU.
    pub spin_before_park: Duration,
    /// `ramjetPreemptTimerMicros` (0 = glommio's default, 100 ms): how long a shard runs
    /// ready tasks before it hands queued I/O (CommitLog writes among it) to the kernel
    /// and reaps completions (docs/architecture.md, "Preempt timer").
    pub preempt_timer: Duration,
    /// `ramjetPinShards` (true): each shard's thread pinned to a core of its own
    /// (docs/architecture.md, "Idle shards").
    pub pin_shards: bool,
    /// Prepared (transactional) sends are refused with NO_PERMISSION.
    pub reject_transaction_message: bool,
    /// A half message younger than this is not checked back yet (`transactionTimeOut`).
    pub transaction_timeout: Duration,
    /// Check-backs before a half message is discarded to TRANS_CHECK_MAX_TIME_TOPIC.
    pub transaction_check_max: i32,
    /// Time between check-back passes.
    pub transaction_check_interval: Duration,
    pub frame_bytes_max: usize,
    /// Timer messages: timerWheelEnable, timerMaxDelaySec, timerPrecisionMs,
    /// timerFlushIntervalMs (docs/timer.md).
    pub timer: crate::timer::TimerConfig,
    /// `aclEnable`: check every request against plain_acl.yml (docs/acl.md).
    pub acl_enable: bool,
    /// `rocketmqHome` (default: the ROCKETMQ_HOME environment variable): the ACL file is
    /// `<rocketmqHome>/conf/plain_acl.yml`, where RocketMQ 4.x reads it.
    pub rocketmq_home: Option<PathBuf>,
    /// The `-c` file, rewritten when UPDATE_BROKER_CONFIG changes a key (as Java does).
    pub config_file: Option<PathBuf>,
    /// `waitTimeMillsInSendQueue`: how long a sync send waits for room on a full owner
    /// before SYSTEM_BUSY (Java's BrokerFastFailure uses the same 200 ms). Oneway sends
    /// wait without a deadline: they cannot be told no (docs/limits.md).
    pub wait_time_in_send_queue: Duration,
    /// Connection caps and rates (docs/limits.md).
    pub limits: ramjet_net::server::ConnectionLimits,
    /// Keys of unbuilt features judged once the file is read (`unbuilt_keys`).
    pub deferred_unbuilt: Vec<(String, String)>,
    /// `metricsExporterType` (RocketMQ 5): PROM (Ramjet's default) or DISABLE
    /// (docs/metrics.md). OTLP_GRPC and LOG are refused at start.
    pub metrics_exporter: MetricsExporterType,
    /// `metricsPromExporterHost`: 127.0.0.1 by default (the endpoint has no
    /// authentication and names every topic and group); empty means brokerIP1, as in
    /// RocketMQ 5.
    pub metrics_prom_exporter_host: String,
    /// `metricsPromExporterPort` (5557); 0 turns the exporter off.
    pub metrics_prom_exporter_port: u16,
    /// Master/slave replication (docs/replication.md).
    pub ha: crate::ha::HaConfig,
}

/// RocketMQ 5's `MetricsExporterType`, of which Ramjet builds DISABLE and PROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporterType {
    Disable,
    Prom,
}

impl BrokerConfig {
    /// Where the Prometheus exporter listens, `None` when it is off.
    pub fn metrics_prom_addr(&self) -> Option<String> {
        if self.metrics_exporter != MetricsExporterType::Prom
            || self.metrics_prom_exporter_port == 0
        {
            return None;
        }
        let host = match self.metrics_prom_exporter_host.trim() {
            "" => self.broker_ip1.as_str(),
            host => host,
        };
        Some(format!("{host}:{}", self.metrics_prom_exporter_port))
    }
}

/// Keys UPDATE_BROKER_CONFIG may change on a running broker. The rest (ports, paths, file
/// sizes, names) shape state already on disk or on the network and need a restart.
pub const RUNTIME_KEYS: &[&str] = &[
    "brokerPermission",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "defaultTopicQueueNums",
    "longPollingEnable",
    "slaveReadEnable",
    "accessMessageInMemoryMaxRatio",
    "enablePropertyFilter",
    "shortPollingTimeMills",
    "notifyConsumerIdsChangedEnable",
    "flushConsumerOffsetInterval",
    "flushIntervalCommitLog",
    "flushCommitLogLeastPages",
    "flushCommitLogThoroughInterval",
    "registerNameServerPeriod",
    "channelExpiredTimeout",
    "regionId",
    "traceOn",
    "defaultQueryMaxNum",
    "maxTransferBytesOnMessageInMemory",
    "maxTransferCountOnMessageInMemory",
    "sendQueueCapacity",
    "namesrvAddr",
    "compressedRegister",
    "rejectTransactionMessage",
    "transactionTimeOut",
    "transactionCheckMax",
    "transactionCheckInterval",
    "timerWheelEnable",
    "timerMaxDelaySec",
    "waitTimeMillsInSendQueue",
];

/// RocketMQ keys that tune Java internals (thread pools, Netty buffers, mmap flushing,
/// cleanup timing, registration retries) with no counterpart here. Accepted without a
/// warning because no value of them changes what the broker promises a client. Keys of
/// features Ramjet does not build are not here: `crate::unbuilt_keys` refuses a value that
/// asks for one.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "queryMessageThreadPoolNums",
    "adminBrokerThreadPoolNums",
    "clientManageThreadPoolNums",
    "consumerManageThreadPoolNums",
    "heartbeatThreadPoolNums",
    "endTransactionThreadPoolNums",
    "serverWorkerThreads",
    "serverSelectorThreads",
    "serverCallbackExecutorThreads",
    "serverSocketSndBufSize",
    "serverSocketRcvBufSize",
    "serverPooledByteBufAllocatorEnable",
    "useEpollNativeSelector",
    "flushCommitLogTimed",
    "commitIntervalCommitLog",
    "transientStorePoolEnable",
    "transientStorePoolSize",
    "flushIntervalConsumeQueue",
    "flushConsumeQueueLeastPages",
    "warmMapedFileEnable",
    "useReentrantLockWhenPutMessage",
    "messageIndexSafe",
    "autoMessageVersionOnTopicLen",
    "registerBrokerTimeoutMills",
    "forceRegister",
    "maxTransferBytesOnMessageInDisk",
    "maxTransferCountOnMessageInDisk",
    "osPageCacheBusyTimeOutMills",
    // Only names the topic traceTopicEnable would create; moot while that is off.
    "msgTraceTopicName",
    "deleteCommitLogFilesInterval",
    "deleteConsumeQueueFilesInterval",
    "destroyMapedFileIntervalForcibly",
    "cleanResourceInterval",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Property(#[from] ramjet_net::properties::PropertyError),
    #[error("{0}")]
    Invalid(String),
}

impl Default for BrokerConfig {
    fn default() -> BrokerConfig {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: local_host_name(),
            broker_id: 0,
            broker_role: BrokerRole::AsyncMaster,
            namesrv_addr: std::env::var("NAMESRV_ADDR")
                .map(|a| split_addrs(&a))
                .unwrap_or_default(),
            listen_port: 10911,
            http_port: 8080,
            http_bind_address: "127.0.0.1".into(),
            bind_address: "0.0.0.0".into(),
            broker_ip1: "127.0.0.1".into(),
            broker_ip2: "127.0.0.1".into(),
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            broker_permission: 6,
            long_polling_enable: true,
            slave_read_enable: false,
            access_message_in_memory_max_ratio: 40,
            enable_property_filter: false,
            short_polling_time: Duration::from_millis(1000),
            notify_consumer_ids_changed_enable: true,
            flush_consumer_offset_interval: Duration::from_millis(5000),
            flush_interval_commit_log: Duration::from_millis(500),
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval: Duration::from_millis(10_000),
            register_name_server_period: Duration::from_millis(30_000),
            channel_expired_timeout: Duration::from_millis(120_000),
            region_id: "DefaultRegion".into(),
            trace_on: true,
            default_query_max_num: 32,
            // Java caps one pull at 32 messages / 256 KiB to protect its page cache. Java
            // clients ask for 32 anyway; a client that asks for more (a lite pull consumer
            // with a large pullBatchSize, mqbench) drains a backlog in fewer round trips.
            // The store reads the tail from memory, so the larger cap costs nothing else.
            max_transfer_bytes_on_message_in_memory: 4 * 1024 * 1024,
            max_transfer_count_on_message_in_memory: 1024,
            compressed_register: false,
            message_delay_level: crate::schedule::DelayLevelTable::default(),
            flush_delay_offset_interval: Duration::from_millis(10_000),
            store: StoreConfig::new(PathBuf::from(home).join("store")),
            shard_count: 0,
            send_queue_capacity: 16 * 1024,
            spin_before_park: Duration::ZERO,
            preempt_timer: Duration::ZERO,
            pin_shards: true,
            reject_transaction_message: false,
            transaction_timeout: Duration::from_millis(6_000),
            transaction_check_max: 15,
            transaction_check_interval: Duration::from_millis(60_000),
            frame_bytes_max: ramjet_net::remoting::FRAME_BYTES_MAX_DEFAULT,
            timer: crate::timer::TimerConfig::default(),
            acl_enable: false,
            rocketmq_home: std::env::var_os("ROCKETMQ_HOME").map(PathBuf::from),
            config_file: None,
            wait_time_in_send_queue: Duration::from_millis(200),
            limits: ramjet_net::server::ConnectionLimits::default(),
            deferred_unbuilt: Vec::new(),
            metrics_exporter: MetricsExporterType::Prom,
            metrics_prom_exporter_host: "127.0.0.1".into(),
            metrics_prom_exporter_port: 5557,
            ha: crate::ha::HaConfig::default(),
        }
    }
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "broker-a".into())
}

fn split_addrs(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

impl BrokerConfig {
    /// Applies one property; `Ok(false)` for an unknown key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let value = value.trim();
        let store = &mut self.store;
        match key {
            "brokerClusterName" => self.broker_cluster_name = value.to_owned(),
            "brokerName" => self.broker_name = value.to_owned(),
            "brokerId" => self.broker_id = parse(key, value)?,
            "brokerRole" => {
                self.broker_role = match value.to_ascii_uppercase().as_str() {
                    "ASYNC_MASTER" => BrokerRole::AsyncMaster,
                    "SYNC_MASTER" => BrokerRole::SyncMaster,
                    "SLAVE" => BrokerRole::Slave,
                    _ => {
                        return Err(bad(
                            key,
                            value,
                            "broker role (ASYNC_MASTER, SYNC_MASTER, SLAVE)",
                        ))
                    }
                }
            }
            "namesrvAddr" => self.namesrv_addr = split_addrs(value),
            "listenPort" => self.listen_port = parse(key, value)?,
            "httpPort" => self.http_port = parse(key, value)?,
            "httpBindAddress" => {
                value.parse::<std::net::IpAddr>().map_err(|_| {
                    ConfigError::Invalid(format!("httpBindAddress={value}: not an IP address"))
                })?;
                self.http_bind_address = value.to_owned()
            }
            "bindAddress" => self.bind_address = value.to_owned(),
            "brokerIP1" => self.broker_ip1 = value.to_owned(),
            "brokerIP2" => self.broker_ip2 = value.to_owned(),
            "autoCreateTopicEnable" => self.auto_create_topic_enable = parse_bool(key, value)?,
            "autoCreateSubscriptionGroup" => {
                self.auto_create_subscription_group = parse_bool(key, value)?
            }
            "defaultTopicQueueNums" => self.default_topic_queue_nums = parse(key, value)?,
            "clusterTopicEnable" => self.cluster_topic_enable = parse_bool(key, value)?,
            "brokerTopicEnable" => self.broker_topic_enable = parse_bool(key, value)?,
            "brokerPermission" => self.broker_permission = parse(key, value)?,
            "longPollingEnable" => self.long_polling_enable = parse_bool(key, value)?,
            "slaveReadEnable" => self.slave_read_enable = parse_bool(key, value)?,
            "accessMessageInMemoryMaxRatio" => {
                self.access_message_in_memory_max_ratio = parse(key, value)?
            }
            "enablePropertyFilter" => self.enable_property_filter = parse_bool(key, value)?,
            "shortPollingTimeMills" => self.short_polling_time = millis(key, value)?,
            "notifyConsumerIdsChangedEnable" => {
                self.notify_consumer_ids_changed_enable = parse_bool(key, value)?
            }
            "flushConsumerOffsetInterval" => {
                self.flush_consumer_offset_interval = millis(key, value)?
            }
            "flushIntervalCommitLog" => {
                self.flush_interval_commit_log = millis(key, value)?.max(Duration::from_millis(1))
            }
            "flushCommitLogLeastPages" => self.flush_commit_log_least_pages = parse(key, value)?,
            "flushCommitLogThoroughInterval" => {
                self.flush_commit_log_thorough_interval = millis(key, value)?
            }
            "registerNameServerPeriod" => {
                // Java clamps the period to 10-60 s.
                let period: u64 = parse(key, value)?;
                self.register_name_server_period =
                    Duration::from_millis(period.clamp(10_000, 60_000));
            }
            "channelExpiredTimeout" => self.channel_expired_timeout = millis(key, value)?,
            "regionId" => self.region_id = value.to_owned(),
            "traceOn" => self.trace_on = parse_bool(key, value)?,
            "defaultQueryMaxNum" => self.default_query_max_num = parse(key, value)?,
            "maxTransferBytesOnMessageInMemory" => {
                self.max_transfer_bytes_on_message_in_memory = parse(key, value)?
            }
            "maxTransferCountOnMessageInMemory" => {
                self.max_transfer_count_on_message_in_memory = parse(key, value)?
            }
            "compressedRegister" => self.compressed_register = parse_bool(key, value)?,
            "messageDelayLevel" => {
                self.message_delay_level =
                    crate::schedule::DelayLevelTable::parse(value).map_err(|reason| {
                        ConfigError::Invalid(format!("messageDelayLevel={value}: {reason}"))
                    })?
            }
            "flushDelayOffsetInterval" => self.flush_delay_offset_interval = millis(key, value)?,
            "storePathRootDir" => store.store_path_root_dir = PathBuf::from(value),
            _ if crate::unbuilt_keys::DEFERRED_KEYS.contains(&key) => {
                // Judged in `finish`, against storePathRootDir and listenPort.
                self.deferred_unbuilt.retain(|(k, _)| k != key);
                self.deferred_unbuilt
                    .push((key.to_owned(), value.to_owned()));
            }
            _ if crate::unbuilt_keys::KEYS.contains(&key) => {
                crate::unbuilt_keys::check(key, value).map_err(ConfigError::Invalid)?
            }
            "waitTimeMillsInSendQueue" => self.wait_time_in_send_queue = millis(key, value)?,
            "serverChannelMaxIdleTimeSeconds" => {
                let seconds: u64 = parse(key, value)?;
                self.limits.idle_timeout = Duration::from_secs(seconds);
            }
            "ramjetMaxConnections" => self.limits.connections_max = parse(key, value)?,
            "ramjetMaxConnectionsPerClient" => {
                self.limits.connections_per_client_max = parse(key, value)?
            }
            "ramjetMaxRequestsInFlightPerConnection" => {
                let max: usize = parse(key, value)?;
                self.limits.requests_in_flight_max = max.max(1);
            }
            "ramjetClientRequestsPerSecond" => self.limits.requests_per_second = parse(key, value)?,
            "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
                store.mapped_file_size_commit_log = parse(key, value)?
            }
            "mapedFileSizeConsumeQueue" | "mappedFileSizeConsumeQueue" => {
                store.mapped_file_size_consume_queue = parse(key, value)?
            }
            "maxMessageSize" => store.max_message_size = parse(key, value)?,
            "flushDiskType" => {
                store.flush_disk_type = match value.to_ascii_uppercase().as_str() {
                    "ASYNC_FLUSH" => FlushDiskType::AsyncFlush,
                    "SYNC_FLUSH" => FlushDiskType::SyncFlush,
                    _ => return Err(bad(key, value, "flush type (ASYNC_FLUSH, SYNC_FLUSH)")),
                }
            }
            "fileReservedTime" => store.file_reserved_time = parse(key, value)?,
            "syncFlushTimeout" => store.sync_flush_timeout_ms = parse(key, value)?,
            "haListenPort" => self.ha.listen_port = Some(parse(key, value)?),
            "haMasterAddress" => {
                self.ha.master_address = (!value.is_empty()).then(|| value.to_owned())
            }
            "haSendHeartbeatInterval" => {
                self.ha.send_heartbeat_interval = millis(key, value)?.max(Duration::from_millis(10))
            }
            "haHousekeepingInterval" => {
                self.ha.housekeeping_interval = millis(key, value)?.max(Duration::from_millis(100))
            }
            "haTransferBatchSize" => {
                self.ha.transfer_batch_size = parse::<usize>(key, value)?.clamp(4096, 64 << 20)
            }
            "haSlaveFallbehindMax" => self.ha.slave_fallbehind_max = parse(key, value)?,
            "ramjetSlaveSyncIntervalMillis" => {
                self.ha.slave_sync_interval = millis(key, value)?.max(Duration::from_millis(100))
            }
            "deleteWhen" => store.delete_when = value.to_owned(),
            "diskMaxUsedSpaceRatio" => store.disk_max_used_space_ratio = parse(key, value)?,
            // Java reads it from the system property
            // rocketmq.broker.diskSpaceWarningLevelRatio; here it is a broker.conf key.
            "diskSpaceWarningLevelRatio" => {
                store.disk_space_warning_level_ratio = parse(key, value)?
            }
            "cleanFileForciblyEnable" => store.clean_file_forcibly_enable = parse_bool(key, value)?,
            "deleteFileBatchMax" => store.delete_file_batch_max = parse(key, value)?,
            "messageIndexEnable" => store.message_index_enable = parse_bool(key, value)?,
            "maxHashSlotNum" => store.max_hash_slot_num = parse(key, value)?,
            "maxIndexNum" => store.max_index_num = parse(key, value)?,
            "maxMsgsNumBatch" => store.max_msgs_num_batch = parse(key, value)?,
            "timerWheelEnable" => self.timer.wheel_enable = parse_bool(key, value)?,
            "timerMaxDelaySec" => {
                let sec: i32 = parse(key, value)?;
                if sec <= 0 {
                    return Err(bad(key, value, "a positive number of seconds"));
                }
                self.timer.max_delay_sec = i64::from(sec);
            }
            "timerPrecisionMs" => {
                self.timer.precision_ms = crate::timer::snap_precision_ms(parse(key, value)?)
            }
            "timerFlushIntervalMs" => {
                let ms: u64 = parse(key, value)?;
                self.timer.flush_interval_ms = ms.max(1);
            }
            "aclEnable" => self.acl_enable = parse_bool(key, value)?,
            "rocketmqHome" => self.rocketmq_home = Some(PathBuf::from(value)),
            "checkCRCOnRecover" => store.check_crc_on_recover = parse_bool(key, value)?,
            "shardCount" => self.shard_count = parse(key, value)?,
            "sendQueueCapacity" => self.send_queue_capacity = parse(key, value)?,
            "ramjetSpinBeforeParkMicros" => {
                self.spin_before_park = Duration::from_micros(parse(key, value)?)
            }
            "ramjetPinShards" => self.pin_shards = parse_bool(key, value)?,
            "ramjetPreemptTimerMicros" => {
                self.preempt_timer = Duration::from_micros(parse(key, value)?)
            }
            "rejectTransactionMessage" => self.reject_transaction_message = parse_bool(key, value)?,
            "transactionTimeOut" => self.transaction_timeout = millis(key, value)?,
            "transactionCheckMax" => self.transaction_check_max = parse(key, value)?,
            "transactionCheckInterval" => {
                // A zero interval would spin the check loop.
                self.transaction_check_interval = millis(key, value)?.max(Duration::from_millis(10))
            }
            "metricsExporterType" => {
                self.metrics_exporter = match value.to_ascii_uppercase().as_str() {
                    "PROM" => MetricsExporterType::Prom,
                    "DISABLE" => MetricsExporterType::Disable,
                    "OTLP_GRPC" | "LOG" => {
                        return Err(ConfigError::Invalid(format!(
                            "metricsExporterType={value}: Ramjet exports metrics only as PROM \
                             (Prometheus /metrics) or DISABLE; use one of those"
                        )))
                    }
                    _ => return Err(bad(key, value, "metrics exporter (PROM, DISABLE)")),
                }
            }
            "metricsPromExporterHost" => self.metrics_prom_exporter_host = value.to_owned(),
            "metricsPromExporterPort" => self.metrics_prom_exporter_port = parse(key, value)?,
            "writeBufferBytes" => store.write_buffer_bytes = parse(key, value)?,
            "tailCacheBytes" => store.tail_cache_bytes = parse(key, value)?,
            "readChunkBytes" => store.read_chunk_bytes = parse(key, value)?,
            "readCacheBytes" => store.read_cache_bytes = parse(key, value)?,
            "readAheadChunks" => store.read_ahead_chunks = parse(key, value)?,
            "readDirect" => store.read_direct = parse(key, value)?,
            "writeDirect" => store.write_direct = parse(key, value)?,
            "zeroAheadBytes" => store.zero_ahead_bytes = parse(key, value)?,
            _ if ACCEPTED_WITHOUT_EFFECT.contains(&key) => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// RocketMQ's startup fixups and checks.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        match self.broker_role {
            BrokerRole::AsyncMaster | BrokerRole::SyncMaster => self.broker_id = 0,
            BrokerRole::Slave if self.broker_id <= 0 => {
                return Err(ConfigError::Invalid(
                    "brokerRole SLAVE needs brokerId > 0".into(),
                ))
            }
            BrokerRole::Slave => {}
        }
        crate::unbuilt_keys::check_deferred(
            &self.deferred_unbuilt,
            &self.store.store_path_root_dir,
        )
        .map_err(ConfigError::Invalid)?;
        if self.listen_port < 3 {
            return Err(ConfigError::Invalid(
                "listenPort must be at least 3 (the VIP port is listenPort-2)".into(),
            ));
        }
        Ok(())
    }

    pub fn effective_shard_count(&self) -> usize {
        if self.shard_count == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.shard_count
        }
    }

    /// `brokerIP1:listenPort`: the address registered with name servers and written as
    /// every message's store host.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// Applies UPDATE_BROKER_CONFIG's properties to a copy: every key must be known and
    /// changeable at runtime, or nothing changes.
    pub fn updated(&self, text: &str) -> Result<(BrokerConfig, Vec<(String, String)>), String> {
        let mut updated = self.clone();
        let pairs = ramjet_net::properties::parse(text);
        for (key, value) in &pairs {
            if !RUNTIME_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "{key} cannot be changed on a running broker; edit broker.conf and restart"
                ));
            }
            match updated.set(key, value) {
                Ok(true) => {}
                Ok(false) => return Err(format!("unknown broker config key {key}")),
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok((updated, pairs))
    }

    /// Writes changed keys back into the `-c` file, keeping its other lines and comments.
    pub fn persist_updates(&self, updates: &[(String, String)]) -> Result<(), String> {
        let Some(path) = &self.config_file else {
            return Ok(());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for (key, value) in updates {
            let found = lines.iter_mut().find(|line| {
                let trimmed = line.trim_start();
                !trimmed.starts_with('#')
                    && ramjet_net::properties::parse(trimmed)
                        .first()
                        .is_some_and(|(k, _)| k == key)
            });
            match found {
                Some(line) => *line = format!("{key}={value}"),
                None => lines.push(format!("{key}={value}")),
            }
        }
        let mut out = lines.join("\n");
        out.push('\n');
        crate::persist::write_atomically(path, out.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn load_file(&mut self, path: &str) -> Result<Vec<String>, ConfigError> {
        self.config_file = Some(PathBuf::from(path));
        ramjet_net::properties::load_file(path, |key, value| self.set(key, value))
    }

    /// The effective configuration as properties, for `-p` and GET_BROKER_CONFIG.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let store = &self.store;
        vec![
            ("brokerClusterName", self.broker_cluster_name.clone()),
            ("brokerName", self.broker_name.clone()),
            ("brokerId", self.broker_id.to_string()),
            (
                "brokerRole",
                format!("{:?}", self.broker_role)
                    .to_uppercase()
                    .replace("ASYNCMASTER", "ASYNC_MASTER")
                    .replace("SYNCMASTER", "SYNC_MASTER"),
            ),
            ("namesrvAddr", self.namesrv_addr.join(";")),
            ("listenPort", self.listen_port.to_string()),
            ("httpPort", self.http_port.to_string()),
            ("httpBindAddress", self.http_bind_address.clone()),
            ("haListenPort", self.ha.port(self.listen_port).to_string()),
            (
                "haMasterAddress",
                self.ha.master_address.clone().unwrap_or_default(),
            ),
            (
                "haSendHeartbeatInterval",
                self.ha.send_heartbeat_interval.as_millis().to_string(),
            ),
            (
                "haHousekeepingInterval",
                self.ha.housekeeping_interval.as_millis().to_string(),
            ),
            (
                "haTransferBatchSize",
                self.ha.transfer_batch_size.to_string(),
            ),
            (
                "haSlaveFallbehindMax",
                self.ha.slave_fallbehind_max.to_string(),
            ),
            ("bindAddress", self.bind_address.clone()),
            ("brokerIP1", self.broker_ip1.clone()),
            ("brokerIP2", self.broker_ip2.clone()),
            (
                "autoCreateTopicEnable",
                self.auto_create_topic_enable.to_string(),
            ),
            (
                "autoCreateSubscriptionGroup",
                self.auto_create_subscription_group.to_string(),
            ),
            (
                "defaultTopicQueueNums",
                self.default_topic_queue_nums.to_string(),
            ),
            ("brokerPermission", self.broker_permission.to_string()),
            ("longPollingEnable", self.long_polling_enable.to_string()),
            ("slaveReadEnable", self.slave_read_enable.to_string()),
            (
                "accessMessageInMemoryMaxRatio",
                self.access_message_in_memory_max_ratio.to_string(),
            ),
            (
                "enablePropertyFilter",
                self.enable_property_filter.to_string(),
            ),
            (
                "shortPollingTimeMills",
                self.short_polling_time.as_millis().to_string(),
            ),
            (
                "flushConsumerOffsetInterval",
                self.flush_consumer_offset_interval.as_millis().to_string(),
            ),
            (
                "flushIntervalCommitLog",
                self.flush_interval_commit_log.as_millis().to_string(),
            ),
            (
                "flushCommitLogLeastPages",
                self.flush_commit_log_least_pages.to_string(),
            ),
            (
                "flushCommitLogThoroughInterval",
                self.flush_commit_log_thorough_interval
                    .as_millis()
                    .to_string(),
            ),
            (
                "registerNameServerPeriod",
                self.register_name_server_period.as_millis().to_string(),
            ),
            (
                "notifyConsumerIdsChangedEnable",
                self.notify_consumer_ids_changed_enable.to_string(),
            ),
            (
                "channelExpiredTimeout",
                self.channel_expired_timeout.as_millis().to_string(),
            ),
            ("defaultQueryMaxNum", self.default_query_max_num.to_string()),
            (
                "maxTransferBytesOnMessageInMemory",
                self.max_transfer_bytes_on_message_in_memory.to_string(),
            ),
            (
                "maxTransferCountOnMessageInMemory",
                self.max_transfer_count_on_message_in_memory.to_string(),
            ),
            ("compressedRegister", self.compressed_register.to_string()),
            ("messageDelayLevel", self.message_delay_level.to_string()),
            (
                "flushDelayOffsetInterval",
                self.flush_delay_offset_interval.as_millis().to_string(),
            ),
            ("regionId", self.region_id.clone()),
            ("traceOn", self.trace_on.to_string()),
            ("aclEnable", self.acl_enable.to_string()),
            (
                "storePathRootDir",
                store.store_path_root_dir.display().to_string(),
            ),
            (
                "mappedFileSizeCommitLog",
                store.mapped_file_size_commit_log.to_string(),
            ),
            (
                "mappedFileSizeConsumeQueue",
                store.mapped_file_size_consume_queue.to_string(),
            ),
            ("maxMessageSize", store.max_message_size.to_string()),
            (
                "flushDiskType",
                match store.flush_disk_type {
                    FlushDiskType::AsyncFlush => "ASYNC_FLUSH".into(),
                    FlushDiskType::SyncFlush => "SYNC_FLUSH".into(),
                },
            ),
            ("fileReservedTime", store.file_reserved_time.to_string()),
            ("deleteWhen", store.delete_when.clone()),
            (
                "diskMaxUsedSpaceRatio",
                store.disk_max_used_space_ratio.to_string(),
            ),
            ("messageIndexEnable", store.message_index_enable.to_string()),
            ("shardCount", self.shard_count.to_string()),
            ("sendQueueCapacity", self.send_queue_capacity.to_string()),
            (
                "ramjetSpinBeforeParkMicros",
                self.spin_before_park.as_micros().to_string(),
            ),
            ("ramjetPinShards", self.pin_shards.to_string()),
            (
                "ramjetPreemptTimerMicros",
                self.preempt_timer.as_micros().to_string(),
            ),
            (
                "rejectTransactionMessage",
                self.reject_transaction_message.to_string(),
            ),
            (
                "transactionTimeOut",
                self.transaction_timeout.as_millis().to_string(),
            ),
            (
                "transactionCheckMax",
                self.transaction_check_max.to_string(),
            ),
            (
                "transactionCheckInterval",
                self.transaction_check_interval.as_millis().to_string(),
            ),
            (
                "metricsExporterType",
                match self.metrics_exporter {
                    MetricsExporterType::Prom => "PROM".into(),
                    MetricsExporterType::Disable => "DISABLE".into(),
                },
            ),
            (
                "metricsPromExporterHost",
                self.metrics_prom_exporter_host.clone(),
            ),
            (
                "metricsPromExporterPort",
                self.metrics_prom_exporter_port.to_string(),
            ),
            ("timerWheelEnable", self.timer.wheel_enable.to_string()),
            ("timerMaxDelaySec", self.timer.max_delay_sec.to_string()),
            ("timerPrecisionMs", self.timer.precision_ms.to_string()),
            (
                "timerFlushIntervalMs",
                self.timer.flush_interval_ms.to_string(),
            ),
            (
                "waitTimeMillsInSendQueue",
                self.wait_time_in_send_queue.as_millis().to_string(),
            ),
            (
                "serverChannelMaxIdleTimeSeconds",
                self.limits.idle_timeout.as_secs().to_string(),
            ),
            (
                "ramjetMaxConnections",
                self.limits.connections_max.to_string(),
            ),
            (
                "ramjetMaxConnectionsPerClient",
                self.limits.connections_per_client_max.to_string(),
            ),
            (
                "ramjetMaxRequestsInFlightPerConnection",
                self.limits.requests_in_flight_max.to_string(),
            ),
            (
                "ramjetClientRequestsPerSecond",
                self.limits.requests_per_second.to_string(),
            ),
        ]
    }
}

fn bad(key: &str, value: &str, expected: &'static str) -> ConfigError {
    ramjet_net::properties::PropertyError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected,
    }
    .into()
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    Ok(ramjet_net::properties::parse_value(key, value, "number")?)
}

fn millis(key: &str, value: &str) -> Result<Duration, ConfigError> {
    parse::<u64>(key, value).map(Duration::from_millis)
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    Ok(ramjet_net::properties::parse_bool(key, value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_listens_on_loopback_unless_told_otherwise() {
        let mut config = BrokerConfig::default();
        assert_eq!(config.http_bind_address, "127.0.0.1");
        config.set("httpBindAddress", "0.0.0.0").unwrap();
        assert_eq!(config.http_bind_address, "0.0.0.0");
        let error = config.set("httpBindAddress", "everywhere").unwrap_err();
        assert!(error.to_string().contains("httpBindAddress"), "{error}");
        assert_eq!(config.http_bind_address, "0.0.0.0");
    }

    #[test]
    fn shards_are_pinned_unless_told_otherwise_and_only_at_start() {
        let mut config = BrokerConfig::default();
        assert!(config.pin_shards);
        config.set("ramjetPinShards", "false").unwrap();
        assert!(!config.pin_shards);
        assert!(config.set("ramjetPinShards", "sometimes").is_err());
        let error = config.updated("ramjetPinShards=true").unwrap_err();
        assert!(error.contains("restart"), "{error}");
    }

    #[test]
    fn the_preempt_timer_is_glommios_unless_set_and_only_at_start() {
        let mut config = BrokerConfig::default();
        assert!(config.preempt_timer.is_zero());
        config.set("ramjetPreemptTimerMicros", "250").unwrap();
        assert_eq!(config.preempt_timer, Duration::from_micros(250));
        assert!(config.set("ramjetPreemptTimerMicros", "soon").is_err());
        let error = config.updated("ramjetPreemptTimerMicros=1000").unwrap_err();
        assert!(error.contains("restart"), "{error}");
    }

    #[test]
    fn commit_log_flush_keys_take_effect_at_runtime() {
        let config = BrokerConfig::default();
        assert_eq!(config.flush_interval_commit_log, Duration::from_millis(500));
        assert_eq!(config.flush_commit_log_least_pages, 4);
        let (updated, _) = config
            .updated("flushIntervalCommitLog=200\nflushCommitLogLeastPages=0\nflushCommitLogThoroughInterval=1000")
            .unwrap();
        assert_eq!(
            updated.flush_interval_commit_log,
            Duration::from_millis(200)
        );
        assert_eq!(updated.flush_commit_log_least_pages, 0);
        assert_eq!(
            updated.flush_commit_log_thorough_interval,
            Duration::from_secs(1)
        );
        assert!(config.updated("flushIntervalCommitLog=soon").is_err());
    }

    #[test]
    fn write_direct_is_read_at_start() {
        let mut config = BrokerConfig::default();
        assert!(config.store.write_direct);
        config.set("writeDirect", "false").unwrap();
        assert!(!config.store.write_direct);
        assert!(config.set("writeDirect", "maybe").is_err());
        assert_eq!(config.store.zero_ahead_bytes, 8 << 20);
        config.set("zeroAheadBytes", "0").unwrap();
        assert_eq!(config.store.zero_ahead_bytes, 0);
        assert!(config.set("zeroAheadBytes", "-1").is_err());
    }

    #[test]
    fn reads_the_stock_broker_conf() {
        let mut config = BrokerConfig::default();
        let text = "brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\n\
                    deleteWhen = 04\nfileReservedTime = 48\nbrokerRole = ASYNC_MASTER\n\
                    flushDiskType = ASYNC_FLUSH\nmapedFileSizeCommitLog=10485760\nbogusKey=1\n";
        let mut unknown = Vec::new();
        for (key, value) in ramjet_net::properties::parse(text) {
            if !config.set(&key, &value).unwrap() {
                unknown.push(key);
            }
        }
        config.finish().unwrap();
        assert_eq!(unknown, ["bogusKey"]);
        assert_eq!(config.broker_name, "broker-a");
        assert_eq!(config.store.file_reserved_time, 48);
        assert_eq!(config.store.mapped_file_size_commit_log, 10 << 20);
    }

    #[test]
    fn runtime_updates_are_checked_and_written_back() {
        let dir = std::env::temp_dir().join(format!("ramjet-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.conf");
        std::fs::write(
            &path,
            "# comment\nbrokerName=broker-a\nbrokerPermission=6\n",
        )
        .unwrap();
        let mut config = BrokerConfig::default();
        config.load_file(path.to_str().unwrap()).unwrap();
        assert!(config.updated("listenPort=1").is_err());
        let (updated, pairs) = config.updated("brokerPermission=4\ntraceOn=false").unwrap();
        assert_eq!(updated.broker_permission, 4);
        updated.persist_updates(&pairs).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# comment\nbrokerName=broker-a\nbrokerPermission=4\ntraceOn=false\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_runtime_key_can_be_read_back() {
        let pairs = BrokerConfig::default().to_pairs();
        for key in RUNTIME_KEYS {
            assert!(
                pairs.iter().any(|(k, _)| k == key),
                "{key} is missing from to_pairs"
            );
        }
    }

    #[test]
    fn unbuilt_features_stop_the_start_by_name() {
        let mut config = BrokerConfig::default();
        config.set("enableDLegerCommitLog", "false").unwrap();
        let error = config.set("enableDLegerCommitLog", "true").unwrap_err();
        assert!(error.to_string().contains("enableDLegerCommitLog"));
        config.set("storePathIndex", "/elsewhere/index").unwrap();
        let error = config.finish().unwrap_err();
        assert!(error.to_string().contains("storePathIndex"), "{error}");
        // At runtime the keys are refused too, by name.
        let error = BrokerConfig::default()
            .updated("enableDLegerCommitLog=true")
            .unwrap_err();
        assert!(error.contains("enableDLegerCommitLog"), "{error}");
    }

    #[test]
    fn a_slave_starts_with_its_ha_keys() {
        let mut config = BrokerConfig::default();
        let text =
            "brokerRole=SLAVE\nbrokerId=1\nlistenPort=10921\nhaMasterAddress=10.0.0.1:10912\n\
                    haSendHeartbeatInterval=1000\nhaHousekeepingInterval=3000\n\
                    haTransferBatchSize=65536\nramjetSlaveSyncIntervalMillis=500\n";
        for (key, value) in ramjet_net::properties::parse(text) {
            assert!(config.set(&key, &value).unwrap(), "{key} is a known key");
        }
        config.finish().unwrap();
        assert_eq!(config.broker_role, BrokerRole::Slave);
        assert_eq!(config.ha.master_address.as_deref(), Some("10.0.0.1:10912"));
        assert_eq!(config.ha.port(config.listen_port), 10922, "listenPort + 1");
        assert_eq!(config.ha.housekeeping_interval, Duration::from_secs(3));
        assert_eq!(config.ha.transfer_batch_size, 65536);
        assert_eq!(config.ha.slave_sync_interval, Duration::from_millis(500));
        let mut no_id = BrokerConfig::default();
        no_id.set("brokerRole", "SLAVE").unwrap();
        assert!(no_id.finish().unwrap_err().to_string().contains("brokerId"));
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut config = BrokerConfig::default();
        let error = config.set("flushDiskType", "SOMETIMES").unwrap_err();
        assert!(error.to_string().contains("flushDiskType"));
    }

    #[test]
    fn metrics_exporter_keys() {
        let mut config = BrokerConfig::default();
        assert_eq!(
            config.metrics_prom_addr().as_deref(),
            Some("127.0.0.1:5557")
        );
        config.set("metricsPromExporterPort", "0").unwrap();
        assert_eq!(config.metrics_prom_addr(), None);
        config.set("metricsPromExporterPort", "6000").unwrap();
        config.set("metricsPromExporterHost", "").unwrap();
        config.set("brokerIP1", "10.0.0.7").unwrap();
        assert_eq!(config.metrics_prom_addr().as_deref(), Some("10.0.0.7:6000"));
        config.set("metricsExporterType", "DISABLE").unwrap();
        assert_eq!(config.metrics_prom_addr(), None);
        for unbuilt in ["OTLP_GRPC", "LOG"] {
            let error = config.set("metricsExporterType", unbuilt).unwrap_err();
            assert!(error.to_string().contains("metricsExporterType"), "{error}");
        }
    }
}
