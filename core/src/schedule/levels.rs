//! The delay level table (`messageDelayLevel`): level n (1-based) waits the n-th duration
//! of a space-separated list such as RocketMQ's default "1s 5s 10s 30s 1m ... 2h". Units
//! are s, m, h and d, as in Java's `ScheduleMessageService.parseDelayLevel`.

use std::fmt;

/// RocketMQ's default `messageDelayLevel`.
pub const DEFAULT_MESSAGE_DELAY_LEVEL: &str =
    "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// The delays of levels 1..=max, in milliseconds. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayLevelTable {
    text: String,
    delays_ms: Vec<u64>,
}

impl Default for DelayLevelTable {
    fn default() -> Self {
        DelayLevelTable::parse(DEFAULT_MESSAGE_DELAY_LEVEL).expect("the default table parses")
    }
}

impl DelayLevelTable {
    /// Parses "1s 5s 10m 2h 1d". A value Java would reject (no unit, unknown unit, not a
    /// number) is an error naming it, so a broker with a bad table does not start.
    pub fn parse(text: &str) -> Result<DelayLevelTable, String> {
        let mut delays_ms = Vec::new();
        for value in text.split_whitespace() {
            let unit_at = value.len().saturating_sub(1);
            let (number, unit) = value.split_at(unit_at);
            let unit_ms: u64 = match unit {
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("delay level {value:?} needs a unit s, m, h or d")),
            };
            let number: u64 = number
                .parse()
                .map_err(|_| format!("delay level {value:?} is not a whole number of {unit}"))?;
            let delay = number
                .checked_mul(unit_ms)
                .ok_or_else(|| format!("delay level {value:?} is too long"))?;
            delays_ms.push(delay);
        }
        if delays_ms.is_empty() {
            return Err("no delay level given".into());
        }
        // Queue ids of SCHEDULE_TOPIC_XXXX are level - 1 and must fit an i32.
        if delays_ms.len() > i32::MAX as usize {
            return Err("too many delay levels".into());
        }
        Ok(DelayLevelTable {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            delays_ms,
        })
    }

    /// The highest level; a message asking for more is clamped to it.
    pub fn max_level(&self) -> i32 {
        self.delays_ms.len() as i32
    }

    /// The delay of a level in 1..=max_level; levels above the max are clamped.
    pub fn delay_ms(&self, level: i32) -> Option<u64> {
        if level <= 0 {
            return None;
        }
        let index = (level.min(self.max_level()) - 1) as usize;
        Some(self.delays_ms[index])
    }

    /// `ScheduleMessageService.computeDeliverTimestamp`.
    pub fn deliver_timestamp(&self, level: i32, store_timestamp: i64) -> Option<i64> {
        let delay = self.delay_ms(level)?;
        Some(store_timestamp.saturating_add(delay as i64))
    }
}

impl fmt::Display for DelayLevelTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// SCHEDULE_TOPIC_XXXX holds level n in queue n - 1.
pub fn queue_id_of_level(level: i32) -> i32 {
    level - 1
}

pub fn level_of_queue_id(queue_id: i32) -> i32 {
    queue_id + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_is_rocketmqs() {
        let table = DelayLevelTable::default();
        assert_eq!(table.max_level(), 18);
        assert_eq!(table.delay_ms(1), Some(1_000));
        assert_eq!(table.delay_ms(2), Some(5_000));
        assert_eq!(table.delay_ms(3), Some(10_000));
        assert_eq!(table.delay_ms(5), Some(60_000));
        assert_eq!(table.delay_ms(18), Some(7_200_000));
        assert_eq!(table.to_string(), DEFAULT_MESSAGE_DELAY_LEVEL);
    }

    #[test]
    fn units_and_clamping() {
        let table = DelayLevelTable::parse(" 2s  3m 1h 1d ").unwrap();
        assert_eq!(table.max_level(), 4);
        assert_eq!(table.delay_ms(2), Some(180_000));
        assert_eq!(table.delay_ms(3), Some(3_600_000));
        assert_eq!(table.delay_ms(4), Some(86_400_000));
        assert_eq!(table.delay_ms(99), Some(86_400_000));
        assert_eq!(table.delay_ms(0), None);
        assert_eq!(table.delay_ms(-3), None);
        assert_eq!(table.deliver_timestamp(1, 1_000), Some(3_000));
        assert_eq!(table.to_string(), "2s 3m 1h 1d");
    }

    #[test]
    fn bad_values_are_named() {
        for (text, named) in [
            ("1s 5x", "5x"),
            ("1s 5", "5"),
            ("s", "s"),
            ("1.5s", "1.5s"),
            ("-1s", "-1s"),
            ("99999999999999999999d", "99999999999999999999d"),
            ("999999999999999999d", "999999999999999999d"),
        ] {
            let error = DelayLevelTable::parse(text).unwrap_err();
            assert!(error.contains(named), "{text}: {error}");
        }
        assert!(DelayLevelTable::parse("").is_err());
        assert!(DelayLevelTable::parse("   ").is_err());
    }

    #[test]
    fn queue_ids_are_level_minus_one() {
        assert_eq!(queue_id_of_level(1), 0);
        assert_eq!(level_of_queue_id(17), 18);
    }
}
