//! The half-queue owner's ledger of transactions: which half messages still wait for a
//! decision (pending), which were decided, and the op records that say so. Pure state,
//! no I/O: the service feeds it what it reads from the half and op queues and what it
//! decides, and asks it how far the `CID_RMQ_SYS_TRANS` consume offsets may advance.
//!
//! A transaction is named by its *origin*: the half queue offset of the half message the
//! producer sent. Each check-back re-appends the half message (so its check count is
//! durable); every copy carries the origin in `TRAN_PREPARED_QUEUE_OFFSET`, so all copies
//! and every op record of one transaction meet under one key. Deciding is a synchronous
//! `claim` on this single-threaded ledger: of two END_TRANSACTIONs (or a check-back answer
//! and a late one) for the same origin, exactly one wins, so a commit is delivered once.

use std::collections::{BTreeMap, HashMap, HashSet};

/// One stored copy of a half message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfCopy {
    pub queue_offset: u64,
    pub physical_offset: u64,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Commit,
    Rollback,
    /// Checked `transactionCheckMax` times without an answer: moved to
    /// TRANS_CHECK_MAX_TIME_TOPIC.
    Discard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decided {
    /// `None` when learned from an op record, which says "done" but not how.
    decision: Option<Decision>,
    /// The newest copy seen, so the half offset is not moved past an undecided copy and
    /// the decision is remembered while any copy can still be named.
    last_copy: HalfCopy,
    op_written: bool,
}

/// What `claim` found for an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// It was pending and is now being decided by the caller.
    Won(HalfCopy),
    /// Already decided (by an op record, an earlier END_TRANSACTION or a discard).
    Decided(Option<Decision>),
    /// Not pending and not remembered: decided long ago, or never a half message.
    Unknown,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// The next half queue offset to read.
    pub scanned_half: u64,
    /// The next op queue offset (the op queue's end as far as this ledger knows).
    pub next_op: u64,
    pending: BTreeMap<u64, HalfCopy>,
    decided: HashMap<u64, Decided>,
    /// Op queue offset -> origin, for the op records not yet passed by the op offset.
    ops: BTreeMap<u64, u64>,
}

impl Ledger {
    pub fn new(half_offset: u64, op_offset: u64) -> Ledger {
        Ledger {
            scanned_half: half_offset,
            next_op: op_offset,
            ..Ledger::default()
        }
    }

    /// A half message copy was read from (or written to) the half queue.
    pub fn on_half(&mut self, origin: u64, copy: HalfCopy) {
        self.scanned_half = self.scanned_half.max(copy.queue_offset + 1);
        if let Some(decided) = self.decided.get_mut(&origin) {
            if copy.queue_offset > decided.last_copy.queue_offset {
                decided.last_copy = copy;
            }
            return;
        }
        match self.pending.get_mut(&origin) {
            Some(existing) if existing.queue_offset >= copy.queue_offset => {}
            Some(existing) => *existing = copy,
            None => {
                self.pending.insert(origin, copy);
            }
        }
    }

    /// An op record was read (at startup) or written: `origin` is decided.
    pub fn on_op(&mut self, op_offset: u64, origin: u64, decision: Option<Decision>) {
        self.next_op = self.next_op.max(op_offset + 1);
        self.ops.insert(op_offset, origin);
        let pending = self.pending.remove(&origin);
        let entry = self.decided.entry(origin).or_insert(Decided {
            decision,
            last_copy: HalfCopy {
                queue_offset: origin,
                physical_offset: 0,
                born_timestamp: 0,
                store_timestamp: 0,
            },
            op_written: true,
        });
        entry.op_written = true;
        entry.decision = entry.decision.or(decision);
        if let Some(copy) = pending.filter(|c| c.queue_offset > entry.last_copy.queue_offset) {
            entry.last_copy = copy;
        }
    }

    /// Takes a pending origin for deciding it. Synchronous, so exactly one caller wins.
    pub fn claim(&mut self, origin: u64, decision: Decision) -> Claim {
        if let Some(copy) = self.pending.remove(&origin) {
            self.decided.insert(
                origin,
                Decided {
                    decision: Some(decision),
                    last_copy: copy,
                    op_written: false,
                },
            );
            return Claim::Won(copy);
        }
        match self.decided.get(&origin) {
            Some(decided) => Claim::Decided(decided.decision),
            None => Claim::Unknown,
        }
    }

    /// The decision could not be carried out (the commit's put failed): pending again.
    pub fn release(&mut self, origin: u64, copy: HalfCopy) {
        if let Some(decided) = self.decided.remove(&origin) {
            // A check-back may have re-appended it meanwhile; that copy is the one to check.
            let newest = if decided.last_copy.queue_offset > copy.queue_offset {
                decided.last_copy
            } else {
                copy
            };
            self.pending.insert(origin, newest);
        }
    }

    pub fn is_pending(&self, origin: u64) -> bool {
        self.pending.contains_key(&origin)
    }

    pub fn pending(&self) -> impl Iterator<Item = (u64, HalfCopy)> + '_ {
        self.pending.iter().map(|(origin, copy)| (*origin, *copy))
    }

    /// How far the half consume offset may go: not past any copy of an undecided
    /// transaction, nor past one whose op record is not stored (a restart must find it).
    pub fn half_progress(&self) -> u64 {
        let pending = self.pending.values().map(|c| c.queue_offset);
        let unrecorded = self
            .decided
            .values()
            .filter(|d| !d.op_written)
            .map(|d| d.last_copy.queue_offset);
        pending
            .chain(unrecorded)
            .min()
            .unwrap_or(self.scanned_half)
            .min(self.scanned_half)
    }

    /// Advances past the op records no longer needed: those whose transaction has no copy
    /// at or after the half offset. Forgets such transactions. Returns the op offset.
    pub fn advance(&mut self) -> u64 {
        let half = self.half_progress();
        let done = |decided: &HashMap<u64, Decided>, origin: &u64| {
            decided
                .get(origin)
                .is_none_or(|d| d.op_written && d.last_copy.queue_offset < half)
        };
        while let Some((_, origin)) = self.ops.first_key_value() {
            if !done(&self.decided, origin) {
                break;
            }
            self.ops.pop_first();
        }
        let op_offset = self.ops.keys().next().copied().unwrap_or(self.next_op);
        let named: HashSet<u64> = self.ops.values().copied().collect();
        self.decided.retain(|origin, d| {
            !(d.op_written && d.last_copy.queue_offset < half && !named.contains(origin))
        });
        op_offset
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(queue_offset: u64) -> HalfCopy {
        HalfCopy {
            queue_offset,
            physical_offset: queue_offset * 100,
            born_timestamp: 0,
            store_timestamp: 0,
        }
    }

    #[test]
    fn a_commit_is_claimed_once_even_when_a_check_and_a_late_end_race() {
        let mut ledger = Ledger::new(0, 0);
        ledger.on_half(0, copy(0));
        // The check-back re-appended it as offset 1 (origin 0).
        ledger.on_half(0, copy(1));
        assert_eq!(ledger.claim(0, Decision::Commit), Claim::Won(copy(1)));
        // The producer's own, late END_TRANSACTION names the first copy: same origin.
        assert_eq!(
            ledger.claim(0, Decision::Commit),
            Claim::Decided(Some(Decision::Commit))
        );
        assert_eq!(ledger.claim(7, Decision::Commit), Claim::Unknown);
    }

    #[test]
    fn the_half_offset_waits_for_undecided_and_unrecorded_transactions() {
        let mut ledger = Ledger::new(0, 0);
        for offset in 0..3 {
            ledger.on_half(offset, copy(offset));
        }
        assert_eq!(ledger.half_progress(), 0);
        ledger.claim(0, Decision::Rollback);
        // Decided but the op record is not stored: a restart must still see offset 0.
        assert_eq!(ledger.half_progress(), 0);
        ledger.on_op(0, 0, Some(Decision::Rollback));
        assert_eq!(ledger.half_progress(), 1);
        ledger.claim(2, Decision::Commit);
        ledger.on_op(1, 2, Some(Decision::Commit));
        assert_eq!(ledger.half_progress(), 1, "origin 1 is still pending");
        assert_eq!(ledger.advance(), 1, "op 0 is done, op 1 waits for offset 2");
        ledger.claim(1, Decision::Commit);
        ledger.on_op(2, 1, Some(Decision::Commit));
        assert_eq!(ledger.half_progress(), 3);
        assert_eq!(ledger.advance(), 3);
        assert_eq!(ledger.claim(2, Decision::Commit), Claim::Unknown);
    }

    #[test]
    fn a_rebuild_from_half_and_op_queues_finds_only_undecided_transactions() {
        // Half queue: 0, 1, 2 and a check-back copy of 1 at 3. Op queue: 0 decided,
        // then 1 decided through its copy (the op names copy 3, origin 1).
        let mut ledger = Ledger::new(0, 0);
        ledger.on_half(0, copy(0));
        ledger.on_half(1, copy(1));
        ledger.on_half(2, copy(2));
        ledger.on_half(1, copy(3));
        ledger.on_op(0, 0, None);
        ledger.on_op(1, 1, None);
        let pending: Vec<u64> = ledger.pending().map(|(origin, _)| origin).collect();
        assert_eq!(pending, [2]);
        assert_eq!(ledger.half_progress(), 2);
        // Op 1's transaction has a copy at 3 >= 2: the op is still needed after a restart.
        assert_eq!(ledger.advance(), 1);
        assert_eq!(ledger.claim(1, Decision::Commit), Claim::Decided(None));
    }

    #[test]
    fn a_failed_commit_is_pending_again_at_its_newest_copy() {
        let mut ledger = Ledger::new(0, 0);
        ledger.on_half(0, copy(0));
        let Claim::Won(won) = ledger.claim(0, Decision::Commit) else {
            panic!("pending")
        };
        ledger.on_half(0, copy(4)); // a check-back copy written while committing
        ledger.release(0, won);
        assert!(ledger.is_pending(0));
        assert_eq!(ledger.pending().next().unwrap().1.queue_offset, 4);
    }

    #[test]
    fn a_discard_with_its_op_lets_both_offsets_pass() {
        let mut ledger = Ledger::new(0, 5);
        ledger.on_half(0, copy(0));
        ledger.claim(0, Decision::Discard);
        assert_eq!(ledger.half_progress(), 0);
        ledger.on_op(5, 0, Some(Decision::Discard));
        assert_eq!(ledger.half_progress(), 1);
        assert_eq!(ledger.advance(), 6);
        assert_eq!(ledger.claim(0, Decision::Commit), Claim::Unknown);
    }
}
