//! `NamesrvConfig` + the listener settings of `NettyServerConfig`, read from RocketMQ's
//! property names so an existing `namesrv.properties` works unchanged.

use std::path::PathBuf;
use std::time::Duration;

/// Effective name server configuration.
#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    pub listen_port: u16,
    pub bind_address: String,
    pub rocketmq_home: String,
    pub kv_config_path: PathBuf,
    pub order_message_enable: bool,
    pub scan_not_active_broker_interval: Duration,
    /// How long a silent broker stays registered (Java: a constant, 120 s; a broker may
    /// override it per registration with `heartbeatTimeoutMillis`).
    pub broker_channel_expired_time: Duration,
    pub enable_all_topic_list: bool,
    pub enable_topic_list: bool,
    pub delete_topic_with_broker_registration: bool,
    /// Ramjet: how many shards (cores) serve requests; 0 = one per core.
    pub shard_count: usize,
    /// Ramjet: the largest frame accepted from a peer.
    pub frame_bytes_max: usize,
}

/// Keys RocketMQ's name server knows but Ramjet does not need (thread pools and the like):
/// accepted without a warning because they change nothing here.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "configStorePath",
    "productEnvName",
    "clusterTest",
    "returnOrderTopicConfigToBroker",
    "clientRequestThreadPoolNums",
    "defaultThreadPoolNums",
    "clientRequestThreadPoolQueueCapacity",
    "defaultThreadPoolQueueCapacity",
    "unRegisterBrokerQueueCapacity",
    "supportActingMaster",
    "notifyMinBrokerIdChanged",
    "enableControllerInNamesrv",
    "needWaitForService",
    "waitSecondsForService",
    "serverWorkerThreads",
    "serverCallbackExecutorThreads",
    "serverSelectorThreads",
    "serverOnewaySemaphoreValue",
    "serverAsyncSemaphoreValue",
    "serverChannelMaxIdleTimeSeconds",
    "serverSocketSndBufSize",
    "serverSocketRcvBufSize",
    "serverPooledByteBufAllocatorEnable",
    "useEpollNativeSelector",
    "namesrvAddr",
    "scanNotActiveBrokerInterval_",
    "useTLS",
];

/// Why a configuration could not be built.
pub type ConfigError = ramjet_net::properties::PropertyError;

impl Default for NamesrvConfig {
    fn default() -> NamesrvConfig {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        NamesrvConfig {
            listen_port: 9876,
            bind_address: "0.0.0.0".into(),
            rocketmq_home: std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            kv_config_path: PathBuf::from(home).join("namesrv").join("kvConfig.json"),
            order_message_enable: false,
            scan_not_active_broker_interval: Duration::from_millis(5000),
            broker_channel_expired_time: Duration::from_millis(120_000),
            enable_all_topic_list: true,
            enable_topic_list: true,
            delete_topic_with_broker_registration: false,
            shard_count: 0,
            frame_bytes_max: ramjet_net::remoting::FRAME_BYTES_MAX_DEFAULT,
        }
    }
}

impl NamesrvConfig {
    /// Applies one property. Unknown keys are returned so the caller can warn about them.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let value = value.trim();
        match key {
            "listenPort" => self.listen_port = parse(key, value, "port")?,
            "bindAddress" => self.bind_address = value.to_owned(),
            "rocketmqHome" => self.rocketmq_home = value.to_owned(),
            "kvConfigPath" => self.kv_config_path = PathBuf::from(value),
            "orderMessageEnable" => self.order_message_enable = parse_bool(key, value)?,
            "scanNotActiveBrokerInterval" => {
                self.scan_not_active_broker_interval =
                    Duration::from_millis(parse(key, value, "millisecond count")?)
            }
            "brokerChannelExpiredTime" => {
                self.broker_channel_expired_time =
                    Duration::from_millis(parse(key, value, "millisecond count")?)
            }
            "enableAllTopicList" => self.enable_all_topic_list = parse_bool(key, value)?,
            "enableTopicList" => self.enable_topic_list = parse_bool(key, value)?,
            "deleteTopicWithBrokerRegistration" => {
                self.delete_topic_with_broker_registration = parse_bool(key, value)?
            }
            "shardCount" => self.shard_count = parse(key, value, "shard count")?,
            "frameMaxLength" | "com.rocketmq.remoting.frameMaxLength" => {
                self.frame_bytes_max = parse(key, value, "byte count")?
            }
            _ if ACCEPTED_WITHOUT_EFFECT.contains(&key) => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Every property with its effective value, for `mqnamesrv -p` and GET_NAMESRV_CONFIG.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("listenPort", self.listen_port.to_string()),
            ("bindAddress", self.bind_address.clone()),
            ("rocketmqHome", self.rocketmq_home.clone()),
            ("kvConfigPath", self.kv_config_path.display().to_string()),
            ("orderMessageEnable", self.order_message_enable.to_string()),
            (
                "scanNotActiveBrokerInterval",
                self.scan_not_active_broker_interval.as_millis().to_string(),
            ),
            (
                "brokerChannelExpiredTime",
                self.broker_channel_expired_time.as_millis().to_string(),
            ),
            ("enableAllTopicList", self.enable_all_topic_list.to_string()),
            ("enableTopicList", self.enable_topic_list.to_string()),
            (
                "deleteTopicWithBrokerRegistration",
                self.delete_topic_with_broker_registration.to_string(),
            ),
            ("shardCount", self.shard_count.to_string()),
            ("frameMaxLength", self.frame_bytes_max.to_string()),
        ]
    }

    /// Loads a properties file on top of the current values; returns the unknown keys.
    pub fn load_file(&mut self, path: &str) -> Result<Vec<String>, ConfigError> {
        ramjet_net::properties::load_file(path, |key, value| self.set(key, value))
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
}

use ramjet_net::properties::{parse_bool, parse_value as parse};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_rocketmq_names_and_reports_unknown_ones() {
        let mut config = NamesrvConfig::default();
        assert!(config.set("listenPort", "19876").unwrap());
        assert!(config.set("orderMessageEnable", "true").unwrap());
        assert!(config.set("serverWorkerThreads", "8").unwrap());
        assert!(!config.set("listenPortt", "1").unwrap());
        assert_eq!(config.listen_port, 19876);
        assert!(config.order_message_enable);
        assert!(matches!(
            config.set("listenPort", "x"),
            Err(ConfigError::BadValue { .. })
        ));
    }
}
