//! Times as RocketMQ's tools print and read them, in the machine's local time zone
//! (`UtilAll.timeMillisToHumanString2`, `UtilAll.formatDate`, `UtilAll.parseDate`).
//! libc's `localtime_r`/`mktime` do the zone work, so no time-zone crate is needed.

use std::time::{SystemTime, UNIX_EPOCH};

extern "C" {
    /// POSIX; reads `TZ` or /etc/localtime. `libc` does not declare it for Linux.
    fn tzset();
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Local calendar fields of a millisecond timestamp.
fn local_tm(ms: i64) -> libc::tm {
    let seconds = ms.div_euclid(1000) as libc::time_t;
    // SAFETY: tzset has no arguments; localtime_r writes only into the zeroed `tm` we own.
    unsafe {
        tzset();
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&seconds, &mut tm);
        tm
    }
}

/// `yyyy-MM-dd HH:mm:ss,SSS`, as `timeMillisToHumanString2` (message and topic times).
pub fn human_ms(ms: i64) -> String {
    let tm = local_tm(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms.rem_euclid(1000)
    )
}

/// `yyyy-MM-dd HH:mm:ss`, as `UtilAll.YYYY_MM_DD_HH_MM_SS` (consumerProgress's #LastTime).
pub fn date_time(ms: i64) -> String {
    let tm = local_tm(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A timestamp flag: `now`, milliseconds since the epoch, or local
/// `yyyy-MM-dd#HH:mm:ss:SSS` (`UtilAll.YYYY_MM_DD_HH_MM_SS_SSS`).
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now_ms());
    }
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    parse_local(text).ok_or_else(|| {
        format!("bad timestamp {text:?}: use now, milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS")
    })
}

fn parse_local(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('#')?;
    let date: Vec<i32> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let time: Vec<i32> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [year, month, day] = <[i32; 3]>::try_from(date).ok()?;
    let [hour, minute, second, millis] = <[i32; 4]>::try_from(time).ok()?;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second)
        && (0..1000).contains(&millis);
    if !valid {
        return None;
    }
    // SAFETY: mktime reads and normalizes the `tm` we own; -1 with tm_isdst -1 means
    // "let the zone rules decide daylight saving time".
    let seconds = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    Some(seconds as i64 * 1000 + i64::from(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_text_round_trips_through_parse() {
        // Whatever the zone, printing then parsing a time gives it back.
        let ms = 1_700_000_123_456;
        let human = human_ms(ms); // yyyy-MM-dd HH:mm:ss,SSS
        let flag = human.replacen(' ', "#", 1).replacen(',', ":", 1);
        assert_eq!(parse_timestamp(&flag), Ok(ms));
        assert_eq!(date_time(ms), human[..19]);
    }

    #[test]
    fn numbers_and_now_are_accepted_and_garbage_is_not() {
        assert_eq!(parse_timestamp("1234"), Ok(1234));
        assert!(parse_timestamp("now").unwrap() > 1_600_000_000_000);
        assert!(parse_timestamp("2024-13-01#00:00:00:000").is_err());
        assert!(parse_timestamp("yesterday").is_err());
    }
}
