//! Client message ids (`UNIQ_KEY`, what Java calls msgId), laid out as Java's
//! `MessageClientIDSetter`: a fixed part (IPv4, pid, a per-generator hash), then the
//! milliseconds since the start of the month and a counter, as 32 upper-case hex digits.
//! Java tools decode the IP and time back out of the id, so the layout matters, not only
//! uniqueness.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

const MS_PER_DAY: u64 = 24 * 3600 * 1000;

pub struct UniqKeyGenerator {
    /// IP, pid and hash: 10 bytes as 20 hex digits.
    fixed_hex: String,
    /// When this generator started, and how far into the month that was: `Instant` keeps
    /// the ids increasing even if the wall clock steps back.
    started: Instant,
    started_ms_in_month: u64,
    counter: u16,
}

impl UniqKeyGenerator {
    /// `ip` is the client's IPv4 address; `salt` keeps generators of one process (one per
    /// thread) apart.
    pub fn new(ip: [u8; 4], salt: u32) -> UniqKeyGenerator {
        let pid = std::process::id();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Java uses the class loader's identity hash here; any per-instance value will do.
        let hash =
            since_epoch.subsec_nanos() ^ salt.wrapping_mul(0x9E37_79B9) ^ pid.rotate_left(16);
        let mut fixed = Vec::with_capacity(10);
        fixed.extend_from_slice(&ip);
        fixed.extend_from_slice(&(pid as u16).to_be_bytes());
        fixed.extend_from_slice(&hash.to_be_bytes());
        let mut fixed_hex = Vec::with_capacity(20);
        for byte in fixed {
            push_hex(&mut fixed_hex, u64::from(byte), 2);
        }
        let now_ms = since_epoch.as_millis() as u64;
        UniqKeyGenerator {
            fixed_hex: String::from_utf8(fixed_hex).expect("hex digits are ASCII"),
            started: Instant::now(),
            started_ms_in_month: now_ms - month_start_ms(now_ms),
            counter: 0,
        }
    }

    pub fn next_id(&mut self) -> String {
        let mut id = Vec::with_capacity(32);
        self.write_next_id(&mut id);
        String::from_utf8(id).expect("hex digits are ASCII")
    }

    /// Appends the next id to `out` without allocating (mqbench's send path).
    pub fn write_next_id(&mut self, out: &mut Vec<u8>) {
        let ms_in_month = self.started_ms_in_month + self.started.elapsed().as_millis() as u64;
        self.counter = self.counter.wrapping_add(1);
        out.extend_from_slice(self.fixed_hex.as_bytes());
        push_hex(out, u64::from(ms_in_month as u32), 8);
        push_hex(out, u64::from(self.counter), 4);
    }
}

/// The first millisecond of the UTC month holding `ms` (Java takes the local month; the
/// difference only shifts the time Java tools decode by the zone offset).
fn month_start_ms(ms: u64) -> u64 {
    let days = ms / MS_PER_DAY;
    let (_, _, day_of_month) = civil_from_days(days as i64);
    (days - (day_of_month - 1)) * MS_PER_DAY
}

/// Howard Hinnant's days-to-civil: (year, month 1..=12, day 1..=31) of a day since 1970.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097) as u64;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era as i64 + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_hex(out: &mut Vec<u8>, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..digits).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_upper_hex_digits_distinct_and_carry_the_ip() {
        // Java decodes UNIQ_KEY as hex: the IP first, then pid, hash, time and counter.
        let mut ids = UniqKeyGenerator::new([127, 0, 0, 1], 1);
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert!(a.starts_with("7F000001"));
        assert_ne!(a, b);
        assert_eq!(&a[..20], &b[..20]); // The fixed part is fixed.
    }

    #[test]
    fn month_start_is_the_first_of_the_month() {
        // 2024-03-15T12:00:00Z -> 2024-03-01T00:00:00Z; 2024-02-29 (leap) -> 2024-02-01.
        assert_eq!(month_start_ms(1_710_504_000_000), 1_709_251_200_000);
        assert_eq!(month_start_ms(1_709_164_800_000), 1_706_745_600_000);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
