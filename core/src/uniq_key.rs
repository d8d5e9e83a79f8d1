//! `MessageClientIDSetter`: the client message id (UNIQ_KEY) the broker assigns when a
//! client sent none (remoting-protocol.md section 8.1):
//! `ip(4) | pid:i16 | classLoaderHash:i32 | msSinceStartOfMonth:i32 | counter:i16`, hex.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};

thread_local! {
    static COUNTER: Cell<u16> = const { Cell::new(0) };
}

pub fn create_uniq_key(host: SocketAddr, now_ms: i64) -> String {
    let mut bytes = Vec::with_capacity(28);
    match host.ip() {
        IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
    }
    bytes.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
    // Java uses the class loader's hash; the shard thread's id plays the same role: it
    // keeps ids from different generators in one process apart.
    let generator = thread_id_hash();
    bytes.extend_from_slice(&generator.to_be_bytes());
    bytes.extend_from_slice(&(ms_since_start_of_month(now_ms) as i32).to_be_bytes());
    let counter = COUNTER.with(|c| {
        let value = c.get();
        c.set(value.wrapping_add(1));
        value
    });
    bytes.extend_from_slice(&counter.to_be_bytes());
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn thread_id_hash() -> i32 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut hasher);
    hasher.finish() as i32
}

/// Milliseconds since the first of the current month (UTC), as Java's setter counts.
fn ms_since_start_of_month(now_ms: i64) -> i64 {
    let days = now_ms.div_euclid(86_400_000);
    let (_, _, day) = civil_from_days(days);
    now_ms - (days - (day as i64 - 1)) * 86_400_000
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian, UTC).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_chars_and_distinct() {
        let host: SocketAddr = "10.0.0.1:10911".parse().unwrap();
        let first = create_uniq_key(host, 1_700_000_000_000);
        let second = create_uniq_key(host, 1_700_000_000_000);
        assert_eq!(first.len(), 32);
        assert!(first.starts_with("0A000001"));
        assert_ne!(first, second);
    }

    #[test]
    fn month_start_is_computed_in_utc() {
        // 2023-11-14T22:13:20Z: 13 days, 22:13:20 into November.
        assert_eq!(
            ms_since_start_of_month(1_700_000_000_000),
            ((13 * 24 + 22) * 3600 + 13 * 60 + 20) * 1000
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
