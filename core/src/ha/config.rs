//! HA (master/slave replication) settings: RocketMQ's `MessageStoreConfig` names and
//! defaults, plus Ramjet's metadata sync interval (RocketMQ hard-codes 10 s).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HaConfig {
    /// `haListenPort`: where a master accepts its slaves. `None` = listenPort + 1.
    pub listen_port: Option<u16>,
    /// `haMasterAddress`: host:port of the master's HA listener. Empty = learn it from the
    /// name server's REGISTER_BROKER answer (`haServerAddr`).
    pub master_address: Option<String>,
    /// `haSendHeartbeatInterval`: an idle master sends an empty transfer this often, and
    /// the slave answers with its offset, so both see the link alive.
    pub send_heartbeat_interval: Duration,
    /// `haHousekeepingInterval`: a link silent this long is closed (and the slave
    /// reconnects).
    pub housekeeping_interval: Duration,
    /// `haTransferBatchSize`: the most CommitLog bytes in one transfer (a larger record
    /// goes alone).
    pub transfer_batch_size: usize,
    /// `haSlaveFallbehindMax`: a SYNC_MASTER answers SLAVE_NOT_AVAILABLE when its slave is
    /// further behind than this (bytes).
    pub slave_fallbehind_max: u64,
    /// `ramjetSlaveSyncIntervalMillis`: how often a slave pulls topics, groups, consumer
    /// and delay offsets from its master (RocketMQ's SlaveSynchronize: 10 s).
    pub slave_sync_interval: Duration,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            listen_port: None,
            master_address: None,
            send_heartbeat_interval: Duration::from_millis(5_000),
            housekeeping_interval: Duration::from_millis(20_000),
            transfer_batch_size: 32 * 1024,
            slave_fallbehind_max: 256 * 1024 * 1024,
            slave_sync_interval: Duration::from_millis(10_000),
        }
    }
}

impl HaConfig {
    /// The HA port of a broker listening on `listen_port`.
    pub fn port(&self, listen_port: u16) -> u16 {
        self.listen_port
            .unwrap_or_else(|| listen_port.saturating_add(1))
    }
}
