//! The read cache of one shard: large aligned chunks of the CommitLog, read with one
//! O_DIRECT request each and shared, as `Bytes` slices, by every pull that needs a record
//! in them.
//!
//! Why chunks: the CommitLog is written with O_DIRECT, so the page cache does not hold it
//! and a record-at-a-time read costs one device request per ~1 KiB record. A chunk holds
//! the records of every queue of the shard that were appended together, so consumers of
//! different queues (and a batch whose records are nearly adjacent, with a few of other
//! queues' records between them) share one read. The chunk grid is fixed per segment
//! (`start = segment base + k * chunk`), so two readers of the same region always ask
//! for the same chunk and one load serves both.
//!
//! Memory: at most `chunks_max` loaded chunks stay here (least recently used go first);
//! pulls in progress hold their chunks through their slices until the response is sent.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use bytes::Bytes;

/// CommitLog bytes from `start`: as many as were written when the chunk was read.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub start: u64,
    pub bytes: Bytes,
}

impl Chunk {
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Whether `[offset, end)` lies inside the chunk's loaded bytes.
    pub fn covers(&self, offset: u64, end: u64) -> bool {
        self.start <= offset && end <= self.end()
    }
}

enum Slot {
    Ready { chunk: Chunk, last_used: u64 },
    Loading(Rc<Pending>),
}

/// A load in progress: whoever needs the chunk meanwhile waits here rather than issuing a
/// second read of the same bytes.
#[derive(Default)]
pub struct Pending {
    done: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

impl Pending {
    /// Resolves once the load ended (loaded, failed or abandoned); look the chunk up again.
    pub fn wait(self: &Rc<Self>) -> impl Future<Output = ()> + 'static {
        let pending = self.clone();
        std::future::poll_fn(move |context| {
            if pending.done.get() {
                return Poll::Ready(());
            }
            pending.wakers.borrow_mut().push(context.waker().clone());
            Poll::Pending
        })
    }

    fn finish(&self) {
        self.done.set(true);
        for waker in self.wakers.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

pub enum Lookup {
    Hit(Chunk),
    Loading(Rc<Pending>),
    Miss,
}

/// Counters for the read path (exposed for tests and tuning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Chunks read from the device.
    pub loads: u64,
    /// Of those, loads started as read-ahead.
    pub read_ahead: u64,
    /// Lookups answered by a loaded chunk.
    pub hits: u64,
    pub evictions: u64,
}

pub struct ReadCache {
    chunks_max: usize,
    slots: RefCell<HashMap<u64, Slot>>,
    clock: Cell<u64>,
    stats: Cell<ReadStats>,
}

impl ReadCache {
    pub fn new(chunks_max: usize) -> Self {
        Self {
            chunks_max: chunks_max.max(1),
            slots: RefCell::new(HashMap::new()),
            clock: Cell::new(0),
            stats: Cell::new(ReadStats::default()),
        }
    }

    pub fn stats(&self) -> ReadStats {
        self.stats.get()
    }

    fn count(&self, update: impl FnOnce(&mut ReadStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

    /// The chunk at `start` if it is loaded up to `need_end` at least, or its load.
    pub fn lookup(&self, start: u64, need_end: u64) -> Lookup {
        let tick = self.tick();
        let mut slots = self.slots.borrow_mut();
        match slots.get_mut(&start) {
            Some(Slot::Ready { chunk, last_used }) if need_end <= chunk.end() => {
                *last_used = tick;
                let chunk = chunk.clone();
                drop(slots);
                self.count(|stats| stats.hits += 1);
                Lookup::Hit(chunk)
            }
            Some(Slot::Loading(pending)) => Lookup::Loading(pending.clone()),
            _ => Lookup::Miss,
        }
    }

    /// Whether the chunk at `start` is loaded (to `need_end`) or loading.
    pub fn has(&self, start: u64, need_end: u64) -> bool {
        match self.slots.borrow().get(&start) {
            Some(Slot::Ready { chunk, .. }) => need_end <= chunk.end(),
            Some(Slot::Loading(_)) => true,
            None => false,
        }
    }

    /// Claims the load of the chunk at `start` (replacing a shorter loaded copy), unless
    /// another load of it is under way.
    pub fn begin_load(self: &Rc<Self>, start: u64, read_ahead: bool) -> Option<LoadGuard> {
        let mut slots = self.slots.borrow_mut();
        if matches!(slots.get(&start), Some(Slot::Loading(_))) {
            return None;
        }
        let pending = Rc::new(Pending::default());
        slots.insert(start, Slot::Loading(pending.clone()));
        drop(slots);
        self.count(|stats| {
            stats.loads += 1;
            stats.read_ahead += u64::from(read_ahead);
        });
        Some(LoadGuard {
            cache: self.clone(),
            start,
            pending,
            finished: false,
        })
    }

    fn tick(&self) -> u64 {
        let tick = self.clock.get() + 1;
        self.clock.set(tick);
        tick
    }

    fn settle(&self, start: u64, pending: &Rc<Pending>, chunk: Option<Chunk>) {
        let tick = self.tick();
        let mut slots = self.slots.borrow_mut();
        let ours = matches!(slots.get(&start), Some(Slot::Loading(p)) if Rc::ptr_eq(p, pending));
        if ours {
            match chunk {
                Some(chunk) => {
                    slots.insert(
                        start,
                        Slot::Ready {
                            chunk,
                            last_used: tick,
                        },
                    );
                }
                None => {
                    slots.remove(&start);
                }
            }
        }
        let evicted = evict(&mut slots, self.chunks_max, start);
        drop(slots);
        self.count(|stats| stats.evictions += evicted);
        pending.finish();
    }

    /// Drops every chunk that ends at or below `offset` (retention deleted its segment).
    pub fn forget_below(&self, offset: u64) {
        self.slots.borrow_mut().retain(|_, slot| match slot {
            Slot::Ready { chunk, .. } => chunk.end() > offset,
            Slot::Loading(_) => true,
        });
    }

    /// Loaded chunks (for tests and memory accounting).
    pub fn loaded_chunks(&self) -> usize {
        let slots = self.slots.borrow();
        slots
            .values()
            .filter(|slot| matches!(slot, Slot::Ready { .. }))
            .count()
    }
}

/// Removes the least recently used loaded chunks (never `keep`) past `chunks_max`.
fn evict(slots: &mut HashMap<u64, Slot>, chunks_max: usize, keep: u64) -> u64 {
    let mut evicted = 0;
    loop {
        let mut loaded = 0;
        let mut oldest: Option<(u64, u64)> = None;
        for (start, slot) in slots.iter() {
            if let Slot::Ready { last_used, .. } = slot {
                loaded += 1;
                if *start != keep && oldest.is_none_or(|(_, used)| *last_used < used) {
                    oldest = Some((*start, *last_used));
                }
            }
        }
        match oldest {
            Some((start, _)) if loaded > chunks_max => {
                slots.remove(&start);
                evicted += 1;
            }
            _ => return evicted,
        }
    }
}

/// The right to load one chunk. Finishing it publishes the chunk (or the failure) to the
/// waiters; dropping it unfinished (its task was dropped) frees the slot for another load.
pub struct LoadGuard {
    cache: Rc<ReadCache>,
    start: u64,
    pending: Rc<Pending>,
    finished: bool,
}

impl LoadGuard {
    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn finish(mut self, chunk: Option<Chunk>) {
        self.finished = true;
        self.cache.settle(self.start, &self.pending, chunk);
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.cache.settle(self.start, &self.pending, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(start: u64, len: usize) -> Chunk {
        Chunk {
            start,
            bytes: Bytes::from(vec![start as u8; len]),
        }
    }

    #[test]
    fn a_loaded_chunk_serves_only_what_it_holds() {
        let cache = Rc::new(ReadCache::new(4));
        let guard = cache.begin_load(0, false).unwrap();
        assert!(matches!(cache.lookup(0, 10), Lookup::Loading(_)));
        assert!(cache.begin_load(0, false).is_none(), "one load at a time");
        guard.finish(Some(chunk(0, 100)));
        assert!(matches!(cache.lookup(0, 100), Lookup::Hit(c) if c.bytes.len() == 100));
        // Written later than the chunk was read: it must be read again.
        assert!(matches!(cache.lookup(0, 101), Lookup::Miss));
        assert!(!cache.has(0, 101));
        let guard = cache.begin_load(0, false).unwrap();
        guard.finish(Some(chunk(0, 200)));
        assert!(matches!(cache.lookup(0, 150), Lookup::Hit(_)));
        assert_eq!(cache.stats().loads, 2);
    }

    #[test]
    fn an_abandoned_or_failed_load_frees_the_slot_and_wakes_waiters() {
        let cache = Rc::new(ReadCache::new(4));
        let guard = cache.begin_load(8, true).unwrap();
        let Lookup::Loading(pending) = cache.lookup(8, 9) else {
            panic!("expected a load in progress")
        };
        drop(guard);
        assert!(pending.done.get());
        assert!(matches!(cache.lookup(8, 9), Lookup::Miss));
        cache.begin_load(8, false).unwrap().finish(None);
        assert!(matches!(cache.lookup(8, 9), Lookup::Miss));
        assert_eq!(cache.stats().read_ahead, 1);
    }

    #[test]
    fn the_least_recently_used_chunk_goes_first() {
        let cache = Rc::new(ReadCache::new(2));
        for start in [0, 10, 20] {
            if start == 20 {
                assert!(matches!(cache.lookup(0, 1), Lookup::Hit(_))); // 0 is now newer than 10
            }
            cache
                .begin_load(start, false)
                .unwrap()
                .finish(Some(chunk(start, 10)));
        }
        assert_eq!(cache.loaded_chunks(), 2);
        assert!(matches!(cache.lookup(10, 11), Lookup::Miss));
        assert!(matches!(cache.lookup(0, 1), Lookup::Hit(_)));
        assert!(matches!(cache.lookup(20, 21), Lookup::Hit(_)));
        assert_eq!(cache.stats().evictions, 1);
        cache.forget_below(10);
        assert!(matches!(cache.lookup(0, 1), Lookup::Miss));
    }
}
