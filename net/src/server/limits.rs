//! Caps on what clients may hold of a server: connections (per server and per client
//! address), requests in flight per connection, idle time, and a per-client-address
//! request rate. The keys are broker.conf's (docs/limits.md); the name server keeps the
//! defaults.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::counters::{monotonic_nanos, Counter, LimitCounters};

/// The caps, shared by every shard of a server (the census is server-wide).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `ramjetMaxConnections`: open connections of the whole server.
    pub connections_max: usize,
    /// `ramjetMaxConnectionsPerClient`: open connections from one client IP address, so
    /// one host cannot take the whole budget.
    pub connections_per_client_max: usize,
    /// `ramjetMaxRequestsInFlightPerConnection`: requests one connection may have in
    /// processing; its reader stops past this (TCP then slows the client).
    pub requests_in_flight_max: usize,
    /// `serverChannelMaxIdleTimeSeconds`: a connection that sends nothing and has nothing
    /// in processing for this long is closed (RocketMQ: 120 s). Zero: never.
    pub idle_timeout: Duration,
    /// `ramjetClientRequestsPerSecond`: the request rate of one client address, shared by
    /// all its connections (`RequestRate`, one second of burst). Over it a request is
    /// answered SYSTEM_BUSY; a oneway request, which cannot be answered, waits for its
    /// slot instead. Zero: no limit.
    pub requests_per_second: u32,
    pub census: Arc<ConnectionCensus>,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            connections_max: 65_536,
            connections_per_client_max: 4_096,
            // Java clients allow 65535 async and oneway requests outstanding.
            requests_in_flight_max: 65_536,
            idle_timeout: Duration::from_secs(120),
            requests_per_second: 0,
            census: Arc::default(),
        }
    }
}

impl ConnectionLimits {
    /// The defaults without the idle close: for clients' own connections and tests.
    pub fn relaxed() -> ConnectionLimits {
        ConnectionLimits {
            idle_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        }
    }
}

/// Open connections by client address, each address's request-rate budget, and the
/// counters of what the caps refused. One per server, shared by its shards; its mutex is
/// taken once per accept and once per close, never per request.
#[derive(Debug, Default)]
pub struct ConnectionCensus {
    state: Mutex<CensusState>,
    pub counters: LimitCounters,
}

#[derive(Debug, Default)]
struct CensusState {
    open_total: usize,
    clients: HashMap<IpAddr, ClientEntry>,
    /// Addresses with no connection left whose rate budget was not full again when the
    /// last one closed, oldest first: kept until it is, so closing and reconnecting does
    /// not buy a fresh burst. At most `RESTING_MAX`.
    resting: VecDeque<IpAddr>,
}

#[derive(Debug)]
struct ClientEntry {
    open: usize,
    rate: Option<Arc<RequestRate>>,
}

/// Addresses kept for their rate budget after their last connection closed. Memory of the
/// census is bounded by `ramjetMaxConnections` open addresses plus this many resting ones,
/// however many source addresses a client uses (a host owns all of 127/8 on loopback).
pub const RESTING_MAX: usize = 16 * 1024;

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    ServerFull { open: usize },
    ClientFull { open: usize },
}

/// A connection's place in the census: dropping it (when the connection closes) frees it.
#[derive(Debug)]
pub struct Admission {
    census: Arc<ConnectionCensus>,
    ip: IpAddr,
    rate: Option<Arc<RequestRate>>,
}

impl Admission {
    /// The request-rate budget this connection shares with every connection of its
    /// address; `None` when `ramjetClientRequestsPerSecond` is 0.
    pub fn rate(&self) -> Option<&Arc<RequestRate>> {
        self.rate.as_ref()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.census.release(self.ip);
    }
}

impl ConnectionCensus {
    /// Counts a new connection from `ip`, or says which cap it would pass (the caller
    /// counts and logs the refusal: `counter_of`).
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &ConnectionLimits,
    ) -> Result<Admission, Refusal> {
        let ip = client_key(ip);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.forget_rested();
        if state.open_total >= limits.connections_max {
            return Err(Refusal::ServerFull {
                open: state.open_total,
            });
        }
        let from_ip = state.clients.get(&ip).map_or(0, |entry| entry.open);
        if from_ip >= limits.connections_per_client_max {
            return Err(Refusal::ClientFull { open: from_ip });
        }
        let entry = state.clients.entry(ip).or_insert_with(|| ClientEntry {
            open: 0,
            rate: (limits.requests_per_second > 0)
                .then(|| Arc::new(RequestRate::new(limits.requests_per_second))),
        });
        entry.open += 1;
        let rate = entry.rate.clone();
        state.open_total += 1;
        Ok(Admission {
            census: self.clone(),
            ip,
            rate,
        })
    }

    /// The counter (and log gate) of a refusal.
    pub fn counter_of(&self, refusal: &Refusal) -> &Counter {
        match refusal {
            Refusal::ServerFull { .. } => &self.counters.refused_broker_cap,
            Refusal::ClientFull { .. } => &self.counters.refused_client_cap,
        }
    }

    fn release(&self, ip: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = state.clients.get_mut(&ip) else {
            return;
        };
        entry.open -= 1;
        let (open, resting) = (entry.open, entry.rate.as_ref().is_some_and(|r| !r.full()));
        state.open_total -= 1;
        if open == 0 {
            if resting {
                if state.resting.len() >= RESTING_MAX {
                    if let Some(oldest) = state.resting.pop_front() {
                        state.forget_if_unused(oldest);
                    }
                }
                state.resting.push_back(ip);
            } else {
                state.clients.remove(&ip);
            }
        }
        state.forget_rested();
    }

    pub fn open_total(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.open_total
    }

    /// Addresses the census holds (open or resting): bounded, see `RESTING_MAX`.
    pub fn addresses_held(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.clients.len()
    }
}

impl CensusState {
    /// Drops resting addresses from the front whose budget is full again (amortized O(1):
    /// each address is pushed once per last close and popped once).
    fn forget_rested(&mut self) {
        while let Some(&ip) = self.resting.front() {
            let done = match self.clients.get(&ip) {
                None => true,
                Some(entry) if entry.open > 0 => true,
                Some(entry) => entry.rate.as_ref().is_none_or(|r| r.full()),
            };
            if !done {
                break;
            }
            self.resting.pop_front();
            self.forget_if_unused(ip);
        }
    }

    fn forget_if_unused(&mut self, ip: IpAddr) {
        if self.clients.get(&ip).is_some_and(|entry| entry.open == 0) {
            self.clients.remove(&ip);
        }
    }
}

/// The address a client is counted under: an IPv4-mapped IPv6 peer (a dual-stack
/// listener) is the IPv4 client it is.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A request-rate budget shared by every connection of one client address, on any shard:
/// the generic cell rate algorithm on one atomic (the "theoretical arrival time" of the
/// next request), so taking a slot is a load and a compare-and-swap, with no lock.
/// `rate` requests a second, with a burst of `rate` (one second's worth) after a quiet
/// second.
#[derive(Debug)]
pub struct RequestRate {
    rate: u32,
    /// Nanoseconds between two requests at the rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: the burst, less one interval.
    tolerance: u64,
    /// `monotonic_nanos()` at which the budget is full again.
    arrival: AtomicU64,
}

impl RequestRate {
    pub fn new(rate: u32) -> RequestRate {
        let rate = rate.max(1);
        let interval = (1_000_000_000 / u64::from(rate)).max(1);
        RequestRate {
            rate,
            interval,
            tolerance: interval * (u64::from(rate) - 1),
            arrival: AtomicU64::new(0),
        }
    }

    pub fn per_second(&self) -> u32 {
        self.rate
    }

    /// Takes a slot now, or says how long until one frees.
    pub fn try_take(&self) -> Result<(), Duration> {
        let now = monotonic_nanos();
        let mut arrival = self.arrival.load(Ordering::Relaxed);
        loop {
            let start = arrival.max(now);
            let ahead = start - now;
            if ahead > self.tolerance {
                return Err(Duration::from_nanos(ahead - self.tolerance));
            }
            match self.arrival.compare_exchange_weak(
                arrival,
                start + self.interval,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => arrival = actual,
            }
        }
    }

    /// Books the next free slot, however far ahead, and says how long to wait for it: for
    /// a oneway request, which cannot be refused. Its reader waits that long, so one
    /// connection books at most one slot ahead.
    pub fn book(&self) -> Duration {
        let now = monotonic_nanos();
        let interval = self.interval;
        let before = self
            .arrival
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |arrival| {
                Some(arrival.max(now) + interval)
            })
            .unwrap_or_else(|arrival| arrival);
        Duration::from_nanos((before.max(now) - now).saturating_sub(self.tolerance))
    }

    /// Whether the budget has its whole burst again.
    fn full(&self) -> bool {
        self.arrival.load(Ordering::Relaxed) <= monotonic_nanos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_client: usize, max: usize, rate: u32) -> ConnectionLimits {
        ConnectionLimits {
            connections_per_client_max: per_client,
            connections_max: max,
            requests_per_second: rate,
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn one_address_is_capped_while_another_is_admitted() {
        let limits = limits(2, 3, 0);
        let census = &limits.census;
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let a1 = census.admit(a, &limits).unwrap();
        let _a2 = census.admit(a, &limits).unwrap();
        assert_eq!(
            census.admit(a, &limits).unwrap_err(),
            Refusal::ClientFull { open: 2 }
        );
        let _b1 = census.admit(b, &limits).unwrap();
        assert_eq!(
            census.admit(b, &limits).unwrap_err(),
            Refusal::ServerFull { open: 3 }
        );
        drop(a1);
        let _b2 = census.admit(b, &limits).unwrap();
        assert_eq!(census.open_total(), 3);
    }

    #[test]
    fn an_ipv4_mapped_peer_counts_as_its_ipv4_address() {
        let limits = limits(1, 10, 0);
        let census = &limits.census;
        let _v4 = census.admit("127.0.0.1".parse().unwrap(), &limits).unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            census.admit(mapped, &limits).unwrap_err(),
            Refusal::ClientFull { open: 1 }
        );
    }

    #[test]
    fn connections_of_one_address_share_one_rate_and_another_has_its_own() {
        let limits = limits(10, 10, 10);
        let census = &limits.census;
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let (a1, a2) = (
            census.admit(a, &limits).unwrap(),
            census.admit(a, &limits).unwrap(),
        );
        let mut taken = 0;
        for _ in 0..50 {
            for admission in [&a1, &a2] {
                if admission.rate().unwrap().try_take().is_ok() {
                    taken += 1;
                }
            }
        }
        assert!((10..=11).contains(&taken), "{taken}");
        let b = census.admit("127.0.0.2".parse().unwrap(), &limits).unwrap();
        assert!(b.rate().unwrap().try_take().is_ok());
    }

    #[test]
    fn reconnecting_does_not_refill_a_spent_rate() {
        let limits = limits(10, 10, 5);
        let census = &limits.census;
        let a: IpAddr = "127.0.0.9".parse().unwrap();
        let first = census.admit(a, &limits).unwrap();
        while first.rate().unwrap().try_take().is_ok() {}
        drop(first);
        assert_eq!(census.addresses_held(), 1, "the spent budget rests");
        let again = census.admit(a, &limits).unwrap();
        assert!(again.rate().unwrap().try_take().is_err());
    }

    #[test]
    fn many_source_addresses_leave_a_bounded_census() {
        let limits = limits(10, 100_000, 1);
        let census = &limits.census;
        for n in 0..(RESTING_MAX as u32 + 5_000) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 + n));
            let admission = census.admit(ip, &limits).unwrap();
            // Spend the budget so the address would rest.
            let _ = admission.rate().unwrap().try_take();
        }
        assert_eq!(census.open_total(), 0);
        assert!(
            census.addresses_held() <= RESTING_MAX,
            "{}",
            census.addresses_held()
        );
    }

    #[test]
    fn the_rate_allows_its_burst_then_refuses_and_books_oneways_ahead() {
        let rate = RequestRate::new(10);
        let taken = (0..100).filter(|_| rate.try_take().is_ok()).count();
        assert!((10..=11).contains(&taken), "{taken}");
        let wait = rate.try_take().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Two bookings wait one interval apart.
        let (first, second) = (rate.book(), rate.book());
        assert!(second > first, "{first:?} {second:?}");
        assert!(
            second - first >= Duration::from_millis(99),
            "{first:?} {second:?}"
        );
    }
}
