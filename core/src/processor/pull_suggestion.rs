//! Which broker of its brokerName a consumer should pull from next: the pull response's
//! `suggestWhichBrokerId`, decided as RocketMQ 4.9.8 decides it (`PullMessageProcessor`
//! and `DefaultMessageStore.getMessage`). The client remembers the suggestion per queue
//! (`PullAPIWrapper.updatePullFromWhichNode`) and sends its next pull of that queue to
//! that broker id, falling back to the master when no such broker is alive.
//!
//! A master reading mostly from disk (the consumer is further behind the CommitLog's end
//! than `accessMessageInMemoryMaxRatio` percent of physical memory, so the data it asks
//! for has likely left the page cache) sends a slow consumer to a slave, which has the
//! same data and an idle page cache, but only when `slaveReadEnable` is on.

use ramjet_net::body::{SubscriptionGroupConfig, MASTER_ID};

use crate::config::BrokerConfig;

/// `suggestPullingFromSlave`: `fall_behind_bytes` (CommitLog end minus the last unit the
/// read looked at) is past `ratio`% of physical memory. Java compares in `long` after a
/// `double` product, so a ratio of 0 suggests the slave for any consumer not at the tail.
pub fn suggest_pulling_from_slave(
    fall_behind_bytes: Option<u64>,
    ratio_percent: i32,
    total_memory_bytes: u64,
) -> bool {
    let Some(fall_behind) = fall_behind_bytes else {
        return false;
    };
    let memory = (total_memory_bytes as f64 * (f64::from(ratio_percent) / 100.0)) as i64;
    i64::try_from(fall_behind).unwrap_or(i64::MAX) > memory
}

/// `suggestWhichBrokerId` as `PullMessageProcessor.processRequest` (4.9.8) sets it.
/// `group` is the consumer group's config (`None`: not created yet, so Java's defaults:
/// brokerId 0, whichBrokerWhenConsumeSlowly 1).
///
/// Without `slaveReadEnable` the answer is always the master, on a master and on a slave
/// alike. (Java 4.9.8 also sets PULL_RETRY_IMMEDIATELY on a slave without
/// `slaveReadEnable`, but the status switch right after overwrites that code, so the slave
/// serves the read and only the suggestion sends the consumer back; Ramjet does the same.)
pub fn which_broker_id(
    config: &BrokerConfig,
    group: Option<&SubscriptionGroupConfig>,
    from_slave: bool,
) -> i64 {
    let defaults;
    let group = match group {
        Some(group) => group,
        None => {
            defaults = SubscriptionGroupConfig::default();
            &defaults
        }
    };
    if !config.slave_read_enable {
        MASTER_ID
    } else if from_slave {
        group.which_broker_when_consume_slowly
    } else {
        group.broker_id
    }
}

/// Physical memory in bytes (Java's `StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE`), read once
/// with sysinfo(2), a non-blocking call.
pub fn total_physical_memory() -> u64 {
    static TOTAL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        // SAFETY: sysinfo only writes into the struct it is given.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        if unsafe { libc::sysinfo(&mut info) } != 0 {
            // Unknown memory: 0 makes every lagging consumer "slow", which only matters
            // with slaveReadEnable; log it so an operator knows why.
            tracing::warn!("sysinfo failed; accessMessageInMemoryMaxRatio treats memory as 0");
            return 0;
        }
        (info.totalram as u64).saturating_mul(u64::from(info.mem_unit.max(1)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerRole;

    const GIB: u64 = 1 << 30;

    #[test]
    fn slow_means_past_the_ratio_of_memory() {
        // 40% of 10 GiB = 4 GiB.
        assert!(!suggest_pulling_from_slave(Some(4 * GIB), 40, 10 * GIB));
        assert!(suggest_pulling_from_slave(Some(4 * GIB + 1), 40, 10 * GIB));
        assert!(!suggest_pulling_from_slave(None, 40, 10 * GIB));
        // Ratio 0: anything behind the tail; at the tail, nothing.
        assert!(suggest_pulling_from_slave(Some(1), 0, 10 * GIB));
        assert!(!suggest_pulling_from_slave(Some(0), 0, 10 * GIB));
        // Ratio 100: never for a consumer less than all of memory behind.
        assert!(!suggest_pulling_from_slave(Some(9 * GIB), 100, 10 * GIB));
    }

    fn config(role: BrokerRole, slave_read_enable: bool) -> BrokerConfig {
        BrokerConfig {
            broker_role: role,
            slave_read_enable,
            ..BrokerConfig::default()
        }
    }

    #[test]
    fn without_slave_read_the_answer_is_the_master_on_every_role() {
        for role in [
            BrokerRole::AsyncMaster,
            BrokerRole::SyncMaster,
            BrokerRole::Slave,
        ] {
            let config = config(role, false);
            for from_slave in [false, true] {
                assert_eq!(which_broker_id(&config, None, from_slave), MASTER_ID);
            }
        }
    }

    #[test]
    fn slave_read_sends_slow_consumers_to_the_groups_slow_broker() {
        for role in [BrokerRole::AsyncMaster, BrokerRole::Slave] {
            let config = config(role, true);
            assert_eq!(which_broker_id(&config, None, true), 1);
            assert_eq!(which_broker_id(&config, None, false), MASTER_ID);
            let group = SubscriptionGroupConfig {
                broker_id: 2,
                which_broker_when_consume_slowly: 3,
                ..SubscriptionGroupConfig::default()
            };
            assert_eq!(which_broker_id(&config, Some(&group), true), 3);
            // Not slow: the group's own brokerId, as Java answers.
            assert_eq!(which_broker_id(&config, Some(&group), false), 2);
        }
    }

    #[test]
    fn physical_memory_is_known() {
        assert!(total_physical_memory() > 0);
    }
}
