//! RocketMQ 5 timer messages: a message with `TIMER_DELIVER_MS`, `TIMER_DELAY_SEC` or
//! `TIMER_DELAY_MS` is held by the broker until its deliver time (docs/timer.md).
//!
//! * `accept`: the send-path hook. A due-later message is stored in the timer queue
//!   (`rmq_sys_wheel_timer`, queue 0) with its real topic and queue in properties.
//! * `wheel`: the in-memory hierarchical timing wheel of pending messages.
//! * `checkpoint`: delivery progress, what is persisted of it, and the rebuild invariant.
//! * `service`: the loop on the shard owning the timer queue: it loads the queue into the
//!   wheel, delivers due messages to their real queues through the typed put, and writes
//!   the checkpoint off the reactor.
//! * `slave_copy`: the checkpoint served to slaves, and the slave's copy of it.

pub mod accept;
pub mod checkpoint;
pub mod service;
pub mod slave_copy;
pub mod wheel;

pub use accept::divert_on_send;
pub use service::timer_loop;

/// `TimerMessageStore.TIMER_TOPIC`.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";

/// `MessageConst` property names the timer system reads and writes.
pub const PROPERTY_TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
pub const PROPERTY_TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
pub const PROPERTY_TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
pub const PROPERTY_TIMER_OUT_MS: &str = "TIMER_OUT_MS";
pub const PROPERTY_TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
pub const PROPERTY_TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
pub const PROPERTY_TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
pub const PROPERTY_REAL_TOPIC: &str = "REAL_TOPIC";
pub const PROPERTY_REAL_QUEUE_ID: &str = "REAL_QID";
/// `MessageConst.PROPERTY_DELAY_TIME_LEVEL`.
pub const PROPERTY_DELAY_TIME_LEVEL: &str = "DELAY";

/// The broker.conf keys of the timer system (`MessageStoreConfig` names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerConfig {
    /// `timerWheelEnable`: off, timer messages are refused (SYSTEM_ERROR), as in Java.
    pub wheel_enable: bool,
    /// `timerMaxDelaySec`: a later deliver time is refused with MESSAGE_ILLEGAL.
    pub max_delay_sec: i64,
    /// `timerPrecisionMs`: one of 100, 200, 500, 1000; rounds `TIMER_OUT_MS` as Java does.
    /// The wheel itself ticks every 10 ms, so delivery is never early and rarely late.
    pub precision_ms: i64,
    /// `timerFlushIntervalMs`: how often the timer checkpoint is written.
    pub flush_interval_ms: u64,
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig {
            wheel_enable: true,
            max_delay_sec: 3600 * 24 * 3,
            precision_ms: 1000,
            flush_interval_ms: 1000,
        }
    }
}

/// `MessageStoreConfig.setTimerPrecisionMs`: the largest of 100, 200, 500, 1000 not above
/// the value (100 for anything smaller).
pub fn snap_precision_ms(value: i64) -> i64 {
    const CANDIDATES: [i64; 4] = [100, 200, 500, 1000];
    for pair in CANDIDATES.windows(2) {
        if value < pair[1] {
            return pair[0];
        }
    }
    CANDIDATES[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_snaps_like_java() {
        for (value, snapped) in [(1, 100), (150, 100), (200, 200), (999, 500), (5000, 1000)] {
            assert_eq!(snap_precision_ms(value), snapped, "{value}");
        }
    }
}
