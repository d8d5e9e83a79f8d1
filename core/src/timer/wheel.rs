//! A hierarchical timing wheel holding the pending timer messages.
//!
//! Six levels of 64 slots; a slot of level `L` spans `64^L` ticks, so the wheel reaches
//! `64^6` ticks ahead (2^36 ticks: 21 years at 10 ms). An entry sits in the level of the
//! highest bit in which its tick differs from the wheel's current tick, so it is moved
//! ("cascaded") at most five times before it fires from level 0. Advancing by one tick costs
//! one slot drain plus, every 64^L ticks, one cascade of level `L`, and ticks at which no
//! slot is due are skipped by a bitmap of occupied slots per level: the cost per tick does
//! not depend on how many entries are pending, only on how many fire.
//!
//! An entry holds what delivery needs to find the message, never the message: its deliver
//! time, its CommitLog offset and size, and the low 32 bits of its timer-queue offset (they
//! fill what would be padding, and let delivery progress be tracked by queue offset).

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
pub const LEVELS: usize = 6;

/// One pending timer message: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEntry {
    /// When the message is due, in epoch milliseconds.
    pub deliver_ms: i64,
    /// Where the timer record is stored (broker-wide physical offset).
    pub commit_log_offset: i64,
    pub size: i32,
    /// The low 32 bits of the record's offset in the timer queue.
    pub queue_offset_low: u32,
}

pub struct TimerWheel {
    tick_ms: i64,
    /// The next tick to fire: every entry whose tick is below it has been returned.
    current: u64,
    /// `LEVELS * SLOTS` slots, level-major.
    slots: Vec<Vec<TimerEntry>>,
    /// Which slots of each level hold entries, so `advance` jumps over empty ticks.
    occupied: [u64; LEVELS],
    /// Entries inserted with a tick already passed; they fire on the next advance.
    overdue: Vec<TimerEntry>,
    len: usize,
}

impl TimerWheel {
    /// An empty wheel of `tick_ms` ticks whose time starts at `now_ms`.
    pub fn new(tick_ms: i64, now_ms: i64) -> TimerWheel {
        let tick_ms = tick_ms.max(1);
        TimerWheel {
            tick_ms,
            current: (now_ms.max(0) / tick_ms) as u64,
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            overdue: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn tick_ms(&self) -> i64 {
        self.tick_ms
    }

    /// Every entry due at or before this time has been returned by `advance` (an entry
    /// fires at the tick its time rounds up to, and every tick below `current` has fired).
    pub fn fired_up_to_ms(&self) -> i64 {
        (self.current as i64 - 1) * self.tick_ms
    }

    /// The tick an entry fires at: rounded up, so it never fires before its time.
    fn tick_of(&self, deliver_ms: i64) -> u64 {
        let ms = deliver_ms.max(0) as u64;
        ms.div_ceil(self.tick_ms as u64)
    }

    pub fn insert(&mut self, entry: TimerEntry) {
        self.len += 1;
        let tick = self.tick_of(entry.deliver_ms);
        if tick < self.current {
            self.overdue.push(entry);
        } else {
            self.place(tick, entry);
        }
    }

    fn place(&mut self, tick: u64, entry: TimerEntry) {
        let differing = tick ^ self.current;
        let level = if differing == 0 {
            0
        } else {
            ((63 - differing.leading_zeros()) / SLOT_BITS) as usize
        };
        // Beyond the wheel's reach the entry waits in the top level and is re-placed each
        // time that slot comes round; it still cannot reach level 0 before its time.
        let level = level.min(LEVELS - 1);
        let slot = ((tick >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
        self.slots[level * SLOTS + slot].push(entry);
        self.occupied[level] |= 1 << slot;
    }

    fn take_slot(&mut self, level: usize, slot: usize) -> Vec<TimerEntry> {
        self.occupied[level] &= !(1 << slot);
        std::mem::take(&mut self.slots[level * SLOTS + slot])
    }

    /// The first tick at or after `current` at which a slot must be drained (level 0) or
    /// cascaded (levels above): the start of the nearest occupied slot of each level.
    fn next_event(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        for level in 0..LEVELS {
            let bits = self.occupied[level];
            if bits == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let position = (self.current >> shift) as u32 & (SLOTS as u32 - 1);
            // Distance to the nearest occupied slot, going round from the current one. Above
            // level 0 the current slot is cascaded when its span begins: at `current` itself
            // if that is the span's first tick, else it was emptied already and an entry
            // there (only one beyond the wheel's reach) waits a full turn.
            let mut distance = u64::from(bits.rotate_right(position).trailing_zeros());
            let span_begins_now = self.current & ((1u64 << shift) - 1) == 0;
            if distance == 0 && level > 0 && !span_begins_now {
                distance = SLOTS as u64;
            }
            let tick = if level == 0 {
                self.current + distance
            } else {
                ((self.current >> shift) + distance) << shift
            };
            next = Some(next.map_or(tick, |n| n.min(tick)));
        }
        next
    }

    /// Moves time forward to `now_ms` and appends every entry due by then to `fired`, in
    /// tick order (entries of one tick in the order they reached level 0).
    pub fn advance(&mut self, now_ms: i64, fired: &mut Vec<TimerEntry>) {
        let before = fired.len();
        // Overdue entries all precede the current tick; sorted, they keep the tick order.
        let tick_ms = self.tick_ms;
        self.overdue
            .sort_by_key(|e| (e.deliver_ms.max(0) as u64).div_ceil(tick_ms as u64));
        fired.append(&mut self.overdue);
        let target = (now_ms.max(0) / self.tick_ms) as u64;
        while self.current <= target {
            // Jump over ticks at which nothing is drained or cascaded.
            match self.next_event() {
                Some(next) if next <= target => self.current = next.max(self.current),
                _ => {
                    self.current = target + 1;
                    break;
                }
            }
            self.cascade();
            let slot = (self.current as usize) & (SLOTS - 1);
            let entries = self.take_slot(0, slot);
            for entry in entries {
                if self.tick_of(entry.deliver_ms) <= self.current {
                    fired.push(entry);
                } else {
                    // Only an entry beyond the wheel's reach can land here early.
                    let tick = self.tick_of(entry.deliver_ms);
                    self.place(tick, entry);
                }
            }
            self.current += 1;
        }
        self.len -= fired.len() - before;
    }

    /// At a tick whose low `6 * L` bits are zero, level `L`'s slot for that tick holds the
    /// entries of the next `64^L` ticks: spread them over the levels below.
    fn cascade(&mut self) {
        for level in (1..LEVELS).rev() {
            let shift = SLOT_BITS * level as u32;
            if self.current & ((1u64 << shift) - 1) != 0 {
                continue;
            }
            let slot = ((self.current >> shift) as usize) & (SLOTS - 1);
            let entries = self.take_slot(level, slot);
            for entry in entries {
                let tick = self.tick_of(entry.deliver_ms).max(self.current);
                self.place(tick, entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(deliver_ms: i64, id: u32) -> TimerEntry {
        TimerEntry {
            deliver_ms,
            commit_log_offset: id as i64,
            size: 1,
            queue_offset_low: id,
        }
    }

    #[test]
    fn an_entry_fires_at_its_tick_and_not_before() {
        let mut wheel = TimerWheel::new(10, 1_000);
        wheel.insert(entry(1_095, 1));
        let mut fired = Vec::new();
        wheel.advance(1_099, &mut fired);
        assert!(fired.is_empty());
        wheel.advance(1_100, &mut fired);
        assert_eq!(fired, vec![entry(1_095, 1)]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn overdue_and_far_entries() {
        let mut wheel = TimerWheel::new(10, 1_000_000);
        wheel.insert(entry(5, 1));
        // Further than 64^6 ticks ahead.
        let far = 1_000_000 + 10 * (1i64 << 37);
        wheel.insert(entry(far, 2));
        let mut fired = Vec::new();
        wheel.advance(1_000_000, &mut fired);
        assert_eq!(fired, vec![entry(5, 1)]);
        fired.clear();
        wheel.advance(far - 1, &mut fired);
        assert!(fired.is_empty());
        wheel.advance(far, &mut fired);
        assert_eq!(fired, vec![entry(far, 2)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Against a sorted model: every entry fires exactly once, never before its time,
        /// at the first advance that reaches it, and the firing order follows deliver ticks.
        #[test]
        fn the_wheel_matches_a_sorted_model(
            start in 0i64..1_000_000_000,
            tick_ms in prop_oneof![Just(1i64), Just(10), Just(100), Just(1000)],
            delays in proptest::collection::vec(
                prop_oneof![0i64..2_000, 0i64..200_000, 0i64..50_000_000], 1..300),
            steps in proptest::collection::vec(
                prop_oneof![1i64..50, 1i64..5_000, 1i64..5_000_000], 1..60),
            insert_between in proptest::collection::vec(0usize..10, 60),
        ) {
            let mut wheel = TimerWheel::new(tick_ms, start);
            let mut model: Vec<TimerEntry> = Vec::new();
            let mut now = start;
            let mut delays = delays.into_iter().enumerate().peekable();
            let mut insert_more = |wheel: &mut TimerWheel, model: &mut Vec<TimerEntry>, n: usize, now: i64| {
                for _ in 0..n {
                    if let Some((id, delay)) = delays.next() {
                        // Some entries are already overdue when inserted.
                        let e = entry(now + delay - 500, id as u32);
                        wheel.insert(e);
                        model.push(e);
                    }
                }
            };
            insert_more(&mut wheel, &mut model, 100, now);
            let mut fired_ids = std::collections::HashSet::new();
            for (step, between) in steps.into_iter().zip(insert_between) {
                now += step;
                let mut fired = Vec::new();
                wheel.advance(now, &mut fired);
                let mut last_tick = 0u64;
                for e in &fired {
                    prop_assert!(e.deliver_ms <= now, "fired early: {e:?} at {now}");
                    prop_assert!(fired_ids.insert(e.queue_offset_low), "fired twice: {e:?}");
                    let tick = (e.deliver_ms.max(0) as u64).div_ceil(tick_ms as u64);
                    prop_assert!(tick >= last_tick, "out of order");
                    last_tick = last_tick.max(tick);
                }
                // Everything the model says is due has fired.
                for e in &model {
                    if e.deliver_ms <= now / tick_ms * tick_ms {
                        prop_assert!(fired_ids.contains(&e.queue_offset_low), "late: {e:?} at {now}");
                    }
                }
                prop_assert_eq!(wheel.len(), model.len() - fired_ids.len());
                insert_more(&mut wheel, &mut model, between, now);
            }
        }
    }
}
