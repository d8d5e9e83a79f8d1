//! What survives a restart of the timer system, and how delivery progress is tracked.
//!
//! The timer queue (`rmq_sys_wheel_timer`, queue 0) is the durable list of timer messages:
//! a message is acknowledged to its producer only once its timer record is stored there.
//! The wheel is memory only. The checkpoint says how much of the queue is done:
//!
//! * `minPendingOffset`: every unit below it has been delivered (or skipped with an error
//!   logged, see `service.rs`).
//! * `loadedOffset` and `deliveredUpToMs`: every unit below `loadedOffset` whose deliver
//!   time is at or before `deliveredUpToMs` has been delivered.
//!
//! Invariant: each claim was true when the checkpoint was taken, and stays true (delivered
//! stays delivered). So at start the wheel is rebuilt by reading the queue from
//! `minPendingOffset`, skipping only units the checkpoint proves delivered; everything else
//! is delivered (again, at worst): at-least-once, and nothing acknowledged is lost. A lost
//! or stale checkpoint costs duplicates, never messages.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerCheckpoint {
    pub min_pending_offset: u64,
    pub loaded_offset: u64,
    pub delivered_up_to_ms: i64,
}

impl TimerCheckpoint {
    /// Whether the unit at `queue_offset`, due at `deliver_ms`, was delivered before the
    /// checkpoint was taken.
    pub fn proves_delivered(&self, queue_offset: u64, deliver_ms: i64) -> bool {
        queue_offset < self.min_pending_offset
            || (queue_offset < self.loaded_offset && deliver_ms <= self.delivered_up_to_ms)
    }
}

/// The units between the lowest pending one and the last loaded one, and which of them
/// are done. Delivery finishes out of queue order, so the low end advances over a run of
/// done units. One byte per unit in the window.
#[derive(Debug)]
pub struct PendingOffsets {
    /// The queue offset of `done[0]`: the lowest unit not known done.
    base: u64,
    done: VecDeque<bool>,
}

impl PendingOffsets {
    pub fn new(base: u64) -> PendingOffsets {
        PendingOffsets {
            base,
            done: VecDeque::new(),
        }
    }

    /// The lowest unit not yet done (or the next to load).
    pub fn min_pending(&self) -> u64 {
        self.base
    }

    /// The next unit to load.
    pub fn loaded(&self) -> u64 {
        self.base + self.done.len() as u64
    }

    /// How many loaded units are not done.
    pub fn window(&self) -> usize {
        self.done.len()
    }

    /// Unit `loaded()` was read from the queue and is pending.
    pub fn push_loaded(&mut self) {
        self.done.push_back(false);
    }

    /// The queue's units below `offset` are gone (retention) or unreadable: nothing to
    /// load or wait for below it.
    pub fn skip_to(&mut self, offset: u64) {
        while self.loaded() < offset {
            self.done.push_back(true);
        }
        self.compact();
    }

    /// The full queue offset of an entry that carries its low 32 bits. Units in the window
    /// are fewer than 2^32 (loading stops well before), so the low bits are unambiguous.
    pub fn offset_of(&self, low: u32) -> u64 {
        self.base + u64::from(low.wrapping_sub(self.base as u32))
    }

    pub fn mark_done(&mut self, queue_offset: u64) {
        if queue_offset < self.base {
            return;
        }
        if let Some(flag) = self.done.get_mut((queue_offset - self.base) as usize) {
            *flag = true;
        }
        self.compact();
    }

    fn compact(&mut self) {
        while self.done.front() == Some(&true) {
            self.done.pop_front();
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn min_pending_moves_over_runs_of_done_units() {
        let mut pending = PendingOffsets::new(10);
        for _ in 0..5 {
            pending.push_loaded();
        }
        assert_eq!((pending.min_pending(), pending.loaded()), (10, 15));
        pending.mark_done(12);
        pending.mark_done(11);
        assert_eq!(pending.min_pending(), 10);
        pending.mark_done(10);
        assert_eq!(pending.min_pending(), 13);
        pending.mark_done(14);
        pending.mark_done(13);
        assert_eq!((pending.min_pending(), pending.window()), (15, 0));
        pending.skip_to(20);
        assert_eq!((pending.min_pending(), pending.loaded()), (20, 20));
    }

    #[test]
    fn low_bits_name_the_full_offset_across_the_32_bit_boundary() {
        let mut pending = PendingOffsets::new((1 << 32) - 2);
        for _ in 0..4 {
            pending.push_loaded();
        }
        assert_eq!(pending.offset_of(((1u64 << 32) - 1) as u32), (1 << 32) - 1);
        assert_eq!(pending.offset_of(1), (1 << 32) + 1);
    }

    #[test]
    fn the_checkpoint_round_trips_in_json() {
        let ckpt = TimerCheckpoint {
            min_pending_offset: 3,
            loaded_offset: 9,
            delivered_up_to_ms: 1_700_000_000_000,
        };
        let text = serde_json::to_string(&ckpt).unwrap();
        assert_eq!(
            text,
            r#"{"minPendingOffset":3,"loadedOffset":9,"deliveredUpToMs":1700000000000}"#
        );
        assert_eq!(
            serde_json::from_str::<TimerCheckpoint>(&text).unwrap(),
            ckpt
        );
    }

    proptest! {
        /// A rebuild from any checkpoint taken during a run skips only delivered units and
        /// reloads every undelivered one.
        #[test]
        fn a_rebuild_skips_only_what_was_delivered(
            deliver in proptest::collection::vec(0i64..100, 1..200),
            crash_at in 0i64..120,
            checkpoint_every in 1i64..20,
            load_per_step in 1usize..30,
        ) {
            // Simulated run: time advances 1 ms per step; each step loads some units, fires
            // the due ones and delivers them, then maybe takes a checkpoint.
            let mut pending = PendingOffsets::new(0);
            let mut delivered = vec![false; deliver.len()];
            let mut checkpoint = TimerCheckpoint::default();
            let mut loaded_deliver: Vec<i64> = Vec::new();
            for now in 0..crash_at {
                for _ in 0..load_per_step {
                    if (pending.loaded() as usize) < deliver.len() {
                        loaded_deliver.push(deliver[pending.loaded() as usize]);
                        pending.push_loaded();
                    }
                }
                for (offset, &at) in loaded_deliver.iter().enumerate() {
                    if at <= now && !delivered[offset] {
                        delivered[offset] = true;
                        pending.mark_done(offset as u64);
                    }
                }
                if now % checkpoint_every == 0 {
                    checkpoint = TimerCheckpoint {
                        min_pending_offset: pending.min_pending(),
                        loaded_offset: pending.loaded(),
                        delivered_up_to_ms: now,
                    };
                }
            }
            for (offset, &at) in deliver.iter().enumerate() {
                if checkpoint.proves_delivered(offset as u64, at) {
                    prop_assert!(delivered[offset], "unit {offset} skipped but never delivered");
                }
            }
        }
    }
}
