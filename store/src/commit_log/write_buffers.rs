//! The CommitLog's in-memory tail: the buffer being filled, buffers waiting for or under an
//! O_DIRECT write, and written buffers kept for reads. Pure bookkeeping, no I/O, so the
//! rules that keep the disk image right are testable on their own:
//!
//! * A buffer is never written while appends still go into it (the kernel reads it
//!   during DMA). Sealing starts a fresh buffer that begins with a copy of the partial
//!   last 4 KiB block, so a later write rewrites that block with more data in it.
//! * Several writes may be in flight, but never two covering the same block: O_DIRECT
//!   writes complete in any order. A buffer whose tail block is carried by a successor
//!   that already exists writes only its whole blocks, so a full buffer never overlaps
//!   the next one; a buffer written while it is the newest pads its partial last block,
//!   and the buffer that carries that block waits until that write has completed.
//! * A partial buffer is only sealed for writing when no write is in flight (the disk
//!   would otherwise idle); while writes are in flight, appends fill whole buffers.
//! * The written offset (acknowledgements) only moves over a prefix of completed
//!   writes, in CommitLog order, whatever order they complete in.
//! * Padding written past the data is zero, so recovery reads it as end-of-data.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::storage::IoBuffer;

use super::IO_ALIGNMENT;

const ALIGN: usize = IO_ALIGNMENT as usize;

fn align_down(value: usize) -> usize {
    value / ALIGN * ALIGN
}

fn align_up(value: usize) -> usize {
    value.div_ceil(ALIGN) * ALIGN
}

struct Active<B> {
    buf: B,
    /// CommitLog offset of `buf[0]`; always block-aligned.
    base: u64,
    fill: usize,
}

enum SlotState<B> {
    Sealed(B),
    InFlight(Rc<B>),
    Written(Rc<B>),
    /// Only while a buffer is moved from one state to the next.
    Moving,
}

struct Slot<B> {
    base: u64,
    data_len: usize,
    state: SlotState<B>,
    /// Once issued: the end of the bytes its write covers on disk (padding included).
    write_end: u64,
    /// Once issued: the end of the data its write puts on disk; a buffer trimmed to its
    /// whole blocks leaves its tail to the successor that carries it.
    data_written_end: u64,
    /// Bytes the buffer holds in memory, as allocated: trimming for the write does not
    /// give any back, and this is what the tail cache's bound counts.
    alloc_len: usize,
}

impl<B: IoBuffer> Slot<B> {
    fn bytes(&self) -> &[u8] {
        let bytes = match &self.state {
            SlotState::Sealed(buf) => buf.as_bytes(),
            SlotState::InFlight(buf) | SlotState::Written(buf) => buf.as_bytes(),
            SlotState::Moving => &[],
        };
        // A buffer trimmed to its whole blocks no longer holds its tail; its successor does.
        &bytes[..self.data_len.min(bytes.len())]
    }
}

/// One O_DIRECT write to issue: `buf` goes to CommitLog offset `offset`. Report its
/// completion with [`WriteBuffers::complete_write`].
pub struct Write<B> {
    pub offset: u64,
    pub buf: Rc<B>,
    /// The buffer was sealed because it filled up (or its segment ended), not because the
    /// disk was idle: appends are outpacing writes, so the write should reach the kernel
    /// at once rather than when the executor next passes through its rings.
    pub urgent: bool,
}

/// What [`WriteBuffers::reserve`] needs before it can place a record.
pub enum Reserve {
    Ready,
    /// Every buffer is busy; wait for a write to complete.
    NoBuffer,
}

pub struct WriteBuffers<B> {
    buffer_bytes: usize,
    busy_count_max: usize,
    cache_bytes_max: usize,
    active: Option<Active<B>>,
    /// The partial block of the last sealed buffer, for the next active buffer to start with.
    carry: Option<(u64, Vec<u8>)>,
    /// Oldest first, ordered by base.
    slots: VecDeque<Slot<B>>,
    cached_bytes: usize,
    /// Everything below is on disk: the end of the prefix of completed writes.
    written_end: u64,
}

impl<B: IoBuffer> WriteBuffers<B> {
    pub fn new(buffer_bytes: usize, busy_count_max: usize, cache_bytes_max: usize) -> Self {
        assert_eq!(buffer_bytes % ALIGN, 0);
        assert!(
            busy_count_max >= 2,
            "need one buffer to fill while another is written"
        );
        Self {
            buffer_bytes,
            busy_count_max,
            cache_bytes_max,
            active: None,
            carry: None,
            slots: VecDeque::new(),
            cached_bytes: 0,
            written_end: 0,
        }
    }

    /// After recovery: the next append goes to `offset`, and `tail_block` holds the bytes
    /// from the start of its block (already on disk) so they are rewritten intact.
    pub fn reset(&mut self, offset: u64, tail_block: Vec<u8>) {
        assert!(self.active.is_none() && self.slots.is_empty());
        assert!(tail_block.len() < ALIGN);
        let base = offset - tail_block.len() as u64;
        assert_eq!(base % IO_ALIGNMENT, 0);
        self.carry = if tail_block.is_empty() {
            None
        } else {
            Some((base, tail_block))
        };
        self.written_end = offset;
    }

    /// Everything below this offset is on disk.
    pub fn written_end(&self) -> u64 {
        self.written_end
    }

    fn busy_count(&self) -> usize {
        let queued = self
            .slots
            .iter()
            .filter(|slot| !matches!(slot.state, SlotState::Written(_)))
            .count();
        queued + usize::from(self.active.is_some())
    }

    /// Makes room for `size` bytes at `offset` in the active buffer, which must not extend
    /// past `limit` (the end of the segment).
    pub fn reserve(
        &mut self,
        offset: u64,
        size: usize,
        limit: u64,
        alloc: impl FnOnce(usize) -> B,
    ) -> Reserve {
        if let Some(active) = &self.active {
            let fits = active.fill + size <= active.buf.as_bytes().len();
            if fits && active.base + active.fill as u64 == offset {
                return Reserve::Ready;
            }
            self.seal_active(true);
        }
        if self.busy_count() >= self.busy_count_max {
            return Reserve::NoBuffer;
        }
        let (base, carried) = match self.carry.take() {
            Some((base, bytes)) if base + bytes.len() as u64 == offset => (base, bytes),
            _ => (offset, Vec::new()),
        };
        assert_eq!(base % IO_ALIGNMENT, 0, "buffers start on a block boundary");
        let wanted = self.buffer_bytes.max(align_up(carried.len() + size));
        let capacity = wanted.min((limit - base) as usize);
        assert!(
            carried.len() + size <= capacity,
            "record does not fit before the limit"
        );
        let mut buf = alloc(capacity);
        buf.as_bytes_mut()[..carried.len()].copy_from_slice(&carried);
        self.active = Some(Active {
            buf,
            base,
            fill: carried.len(),
        });
        Reserve::Ready
    }

    /// The `size` bytes reserved at the current fill position; the caller encodes into them.
    pub fn append(&mut self, size: usize) -> &mut [u8] {
        let active = self.active.as_mut().expect("reserve before append");
        let start = active.fill;
        active.fill += size;
        &mut active.buf.as_bytes_mut()[start..start + size]
    }

    /// Seals the active buffer once fewer than `next_size` bytes are left in it, so that
    /// its write may go out while earlier ones are still in flight. Otherwise a full
    /// buffer would wait for the next append to find no room, and under load that append
    /// comes only after the writes in flight complete and their puts are dispatched: the
    /// disk then sits idle in between (`mqbench store`: three writes in flight, then ~1 ms
    /// with none, in turn).
    pub fn seal_if_full(&mut self, next_size: usize) {
        let full = self
            .active
            .as_ref()
            .is_some_and(|active| active.buf.as_bytes().len() - active.fill < next_size);
        if full {
            self.seal_active(true);
        }
    }

    /// Seals the active buffer. At a segment end there is nothing to carry: the next
    /// buffer starts the next file.
    pub fn seal_active(&mut self, carry_tail: bool) {
        let Some(active) = self.active.take() else {
            return;
        };
        if carry_tail {
            let block = align_down(active.fill);
            let tail = active.buf.as_bytes()[block..active.fill].to_vec();
            self.carry = (!tail.is_empty()).then(|| (active.base + block as u64, tail));
        } else {
            self.carry = None;
        }
        self.slots.push_back(Slot {
            base: active.base,
            data_len: active.fill,
            alloc_len: active.buf.as_bytes().len(),
            state: SlotState::Sealed(active.buf),
            write_end: active.base,
            data_written_end: active.base,
        });
    }

    /// The next write to issue, if one may go now: the oldest sealed buffer, unless an
    /// in-flight write still covers its first block. With `idle` (no write in flight), a
    /// partially filled active buffer holding unwritten data is sealed and written too.
    /// A buffer whose data is all carried by its successor needs no write at all: it
    /// completes here, and the search goes on.
    pub fn next_write(&mut self, idle: bool) -> Option<Write<B>> {
        loop {
            let (index, urgent) = match self.first_sealed() {
                Some(index) => (index, true),
                None if idle && self.active_holds_unwritten_data() => {
                    self.seal_active(true);
                    (self.slots.len() - 1, false)
                }
                None => return None,
            };
            if self.blocked_by_in_flight(index) {
                return None;
            }
            let successor_base = self.successor_base(index);
            let slot = &mut self.slots[index];
            let padded = align_up(slot.data_len);
            let carried_by_successor =
                successor_base.is_some_and(|next| next < slot.base + padded as u64);
            let write_len = if carried_by_successor {
                align_down(slot.data_len)
            } else {
                padded
            };
            let SlotState::Sealed(mut buf) = std::mem::replace(&mut slot.state, SlotState::Moving)
            else {
                unreachable!("first_sealed returned a sealed slot")
            };
            buf.as_bytes_mut()[slot.data_len..write_len.max(slot.data_len)].fill(0);
            buf.trim_to_size(write_len);
            let buf = Rc::new(buf);
            slot.write_end = slot.base + write_len as u64;
            slot.data_written_end = slot.base + write_len.min(slot.data_len) as u64;
            slot.state = SlotState::InFlight(buf.clone());
            if write_len > 0 {
                return Some(Write {
                    offset: slot.base,
                    buf,
                    urgent,
                });
            }
            let base = slot.base;
            self.complete_write(base);
        }
    }

    /// Whether [`WriteBuffers::next_write`] would hand out a write now.
    pub fn has_write_ready(&self, idle: bool) -> bool {
        match self.first_sealed() {
            Some(index) => !self.blocked_by_in_flight(index),
            None => idle && self.active_holds_unwritten_data(),
        }
    }

    fn first_sealed(&self) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| matches!(slot.state, SlotState::Sealed(_)))
    }

    fn active_holds_unwritten_data(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|active| active.base + active.fill as u64 > self.written_end)
    }

    /// An in-flight write still covers the first block of slot `index`.
    fn blocked_by_in_flight(&self, index: usize) -> bool {
        let base = self.slots[index].base;
        self.slots
            .iter()
            .take(index)
            .any(|slot| matches!(slot.state, SlotState::InFlight(_)) && slot.write_end > base)
    }

    /// Where the buffer after slot `index` starts, if one exists yet.
    fn successor_base(&self, index: usize) -> Option<u64> {
        match self.slots.get(index + 1) {
            Some(next) => Some(next.base),
            None => self.active.as_ref().map(|active| active.base),
        }
    }

    /// The write of the buffer at `offset` completed: it joins the read cache, and the
    /// written offset moves over every completed write before the first one still out.
    /// Returns the new written offset.
    pub fn complete_write(&mut self, offset: u64) -> u64 {
        let slot = self
            .slots
            .iter_mut()
            .find(|slot| slot.base == offset && matches!(slot.state, SlotState::InFlight(_)))
            .expect("a completed write belongs to an in-flight buffer");
        let SlotState::InFlight(buf) = &slot.state else {
            unreachable!()
        };
        let buf = buf.clone();
        self.cached_bytes += slot.alloc_len;
        slot.state = SlotState::Written(buf);
        for slot in &self.slots {
            if !matches!(slot.state, SlotState::Written(_)) {
                break;
            }
            self.written_end = self.written_end.max(slot.data_written_end);
        }
        while self.cached_bytes > self.cache_bytes_max {
            let Some(front) = self.slots.front() else {
                break;
            };
            if !matches!(front.state, SlotState::Written(_)) {
                break;
            }
            self.cached_bytes -= front.alloc_len;
            self.slots.pop_front();
        }
        self.written_end
    }

    /// Bytes `[offset, offset + len)` if one buffer in memory holds all of them.
    pub fn read(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let end = offset + len as u64;
        if let Some(active) = &self.active {
            if active.base <= offset && end <= active.base + active.fill as u64 {
                let start = (offset - active.base) as usize;
                return Some(&active.buf.as_bytes()[start..start + len]);
            }
        }
        // Slots are in offset order; start at the newest one that begins at or before
        // `offset` (a backlog read would otherwise walk every slot of the tail cache, and a
        // tail cache of small buffers has thousands).
        let newer = self.slots.partition_point(|slot| slot.base <= offset);
        self.slots.range(..newer).rev().find_map(|slot| {
            let bytes = slot.bytes();
            if slot.base <= offset && end <= slot.base + bytes.len() as u64 {
                let start = (offset - slot.base) as usize;
                Some(&bytes[start..start + len])
            } else {
                None
            }
        })
    }

    /// The bytes from `offset` to `offset + len` or to the end of the one buffer holding
    /// `offset`, whichever comes first: a range across buffers is read piece by piece.
    pub fn read_prefix(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let take = |base: u64, bytes: &'_ [u8]| -> Option<(usize, usize)> {
            let end = base + bytes.len() as u64;
            (base <= offset && offset < end).then(|| {
                let start = (offset - base) as usize;
                (start, len.min((end - offset) as usize))
            })
        };
        if let Some(active) = &self.active {
            let filled = &active.buf.as_bytes()[..active.fill];
            if let Some((start, n)) = take(active.base, filled) {
                return Some(&filled[start..start + n]);
            }
        }
        let newer = self.slots.partition_point(|slot| slot.base <= offset);
        self.slots.range(..newer).rev().find_map(|slot| {
            let bytes = slot.bytes();
            take(slot.base, bytes).map(|(start, n)| &bytes[start..start + n])
        })
    }

    /// Drops everything (a failed write leaves the tail unknown; recovery rebuilds it).
    pub fn clear(&mut self) {
        self.active = None;
        self.carry = None;
        self.slots.clear();
        self.cached_bytes = 0;
    }
}

#[cfg(test)]
#[path = "write_buffers_tests.rs"]
mod tests;
