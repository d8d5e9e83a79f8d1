//! Counters of what the caps refused, paused or closed, each with a log gate.
//!
//! A counter moves only when a cap bites (a refusal, a pause, a close), never for a request
//! that passes, so the hot path pays nothing; the counters are plain atomics shared by
//! every shard of a server (`ConnectionCensus::counters`). The broker sums them into
//! GET_BROKER_RUNTIME_INFO under the names of `LimitCounters::table`.
//!
//! Each event kind is logged when it first happens and then at most once per
//! `LOG_INTERVAL`, with the running count: a flood of refusals cannot flood the log, and
//! the count in the next line says how many were not logged one by one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often one kind of event may be logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Nanoseconds since the first call in this process (a monotonic clock as an integer, so
/// it fits an atomic).
pub fn monotonic_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// One event count and when it was last logged.
#[derive(Debug, Default)]
pub struct Counter {
    count: AtomicU64,
    /// `monotonic_nanos() + 1` of the last logged event; 0: never logged.
    logged_at: AtomicU64,
}

impl Counter {
    /// Counts one event. `Some(total)` when it should be logged: the first one, and then
    /// one per `LOG_INTERVAL` (the caller logs the total with it).
    pub fn count(&self) -> Option<u64> {
        self.count_at(monotonic_nanos() + 1)
    }

    fn count_at(&self, now: u64) -> Option<u64> {
        let total = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let logged_at = self.logged_at.load(Ordering::Relaxed);
        let due = logged_at == 0 || now.saturating_sub(logged_at) >= LOG_INTERVAL.as_nanos() as u64;
        // Of several shards seeing it due at once, the one that moves the stamp logs.
        (due && self
            .logged_at
            .compare_exchange(logged_at, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok())
        .then_some(total)
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Every cap's counter. The names in `table` are what GET_BROKER_RUNTIME_INFO shows
/// (docs/limits.md, "Counters").
#[derive(Debug, Default)]
pub struct LimitCounters {
    /// Connections closed on accept: `ramjetMaxConnections` reached.
    pub refused_broker_cap: Counter,
    /// Connections closed on accept: `ramjetMaxConnectionsPerClient` reached for the address.
    pub refused_client_cap: Counter,
    /// Connections closed on accept: the shard's own `CONNECTIONS_MAX` reached.
    pub refused_shard_cap: Counter,
    /// Times a connection's reader waited because `ramjetMaxRequestsInFlightPerConnection`
    /// requests were in processing.
    pub paused_requests_in_flight: Counter,
    /// Times a reader waited for the request-bytes budget of its connection or shard.
    pub paused_bytes_in_flight: Counter,
    /// Times a reader waited because the peer does not read its replies.
    pub paused_outbound_full: Counter,
    /// Connections closed after `serverChannelMaxIdleTimeSeconds` of silence.
    pub idle_closed: Counter,
    /// Requests answered SYSTEM_BUSY over `ramjetClientRequestsPerSecond`.
    pub rate_refused: Counter,
    /// Oneway requests held back (not refused) over `ramjetClientRequestsPerSecond`.
    pub rate_delayed_oneway: Counter,
    /// Oneway requests that failed after they were read: the sender cannot be told.
    pub oneway_failed: Counter,
}

impl LimitCounters {
    /// (name, value) of every counter, as GET_BROKER_RUNTIME_INFO lists them.
    pub fn table(&self) -> [(&'static str, u64); 10] {
        [
            (
                "ramjetConnectionsRefusedBrokerCap",
                self.refused_broker_cap.get(),
            ),
            (
                "ramjetConnectionsRefusedClientCap",
                self.refused_client_cap.get(),
            ),
            (
                "ramjetConnectionsRefusedShardCap",
                self.refused_shard_cap.get(),
            ),
            (
                "ramjetReadsPausedRequestsInFlight",
                self.paused_requests_in_flight.get(),
            ),
            (
                "ramjetReadsPausedBytesInFlight",
                self.paused_bytes_in_flight.get(),
            ),
            (
                "ramjetReadsPausedOutboundFull",
                self.paused_outbound_full.get(),
            ),
            ("ramjetIdleConnectionsClosed", self.idle_closed.get()),
            ("ramjetRequestsRefusedRateLimit", self.rate_refused.get()),
            (
                "ramjetOnewayRequestsDelayedRateLimit",
                self.rate_delayed_oneway.get(),
            ),
            ("ramjetOnewayRequestsFailed", self.oneway_failed.get()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_is_logged_and_a_flood_only_once_per_interval() {
        let counter = Counter::default();
        assert_eq!(counter.count(), Some(1));
        let logged = (0..10_000).filter_map(|_| counter.count()).count();
        assert_eq!(logged, 0, "a flood within the interval is not logged again");
        assert_eq!(counter.get(), 10_001);
    }

    #[test]
    fn a_counter_due_again_logs_its_running_total() {
        let counter = Counter::default();
        let interval = LOG_INTERVAL.as_nanos() as u64;
        assert_eq!(counter.count_at(1), Some(1));
        assert_eq!(counter.count_at(interval), None);
        assert_eq!(counter.count_at(interval + 1), Some(3));
        assert_eq!(counter.count_at(interval + 2), None);
    }

    #[test]
    fn every_counter_has_a_distinct_name() {
        let counters = LimitCounters::default();
        let mut names: Vec<_> = counters.table().iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), counters.table().len());
    }
}
