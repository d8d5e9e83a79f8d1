//! Caps on what clients may hold of a server: connections (per server and per client
//! address), requests in flight per connection, idle time, and a per-connection request
//! rate. The keys are broker.conf's (docs/limits.md); the name server keeps the defaults.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// `ramjetClientRequestsPerSecond`: each connection's request rate (a token bucket
    /// with one second of burst). Over it a request is answered SYSTEM_BUSY; a oneway
    /// request, which cannot be answered, waits for its token instead. Zero: no limit.
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

/// Open connections by client address, and what the caps refused.
#[derive(Debug, Default)]
pub struct ConnectionCensus {
    open: Mutex<HashMap<IpAddr, usize>>,
    pub refused_connections: AtomicU64,
    pub idle_closed: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Oneway requests whose handler failed (the sender cannot be told).
    pub oneway_failed: AtomicU64,
}

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    ServerFull { open: usize },
    ClientFull { open: usize },
}

impl ConnectionCensus {
    /// Counts a new connection from `ip`, or says which cap it would pass.
    pub fn admit(&self, ip: IpAddr, limits: &ConnectionLimits) -> Result<(), Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = open.values().sum();
        let refusal = if total >= limits.connections_max {
            Some(Refusal::ServerFull { open: total })
        } else {
            let from_ip = open.get(&ip).copied().unwrap_or(0);
            (from_ip >= limits.connections_per_client_max)
                .then_some(Refusal::ClientFull { open: from_ip })
        };
        if let Some(refusal) = refusal {
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        *open.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    pub fn release(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }

    pub fn open_total(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().sum()
    }
}

/// A token bucket: `rate` tokens a second, at most `rate` banked.
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32) -> TokenBucket {
        TokenBucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.rate);
        self.last = now;
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token will be there.
    pub fn wait_for_token(&mut self) -> Duration {
        self.refill();
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_capped_while_another_is_admitted() {
        let limits = ConnectionLimits {
            connections_per_client_max: 2,
            connections_max: 3,
            ..ConnectionLimits::default()
        };
        let census = &limits.census;
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        census.admit(a, &limits).unwrap();
        census.admit(a, &limits).unwrap();
        assert_eq!(
            census.admit(a, &limits),
            Err(Refusal::ClientFull { open: 2 })
        );
        census.admit(b, &limits).unwrap();
        assert_eq!(
            census.admit(b, &limits),
            Err(Refusal::ServerFull { open: 3 })
        );
        census.release(a);
        census.admit(b, &limits).unwrap();
        assert_eq!(census.refused_connections.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_bucket_allows_its_rate_and_then_refuses() {
        let mut bucket = TokenBucket::new(10);
        let taken = (0..100).filter(|_| bucket.try_take()).count();
        assert!((10..=11).contains(&taken), "{taken}");
        assert!(bucket.wait_for_token() > Duration::ZERO);
    }
}
