//! The CommitLog's read side for pulls: records still in the write buffers are copied out
//! once; older ones come from the shard's [`ReadCache`] of large O_DIRECT chunks, read
//! ahead for a reader catching up. See docs/architecture.md, "Read path".

use std::future::Future;
use std::io;

use bytes::Bytes;

use super::read_cache::{Chunk, LoadGuard, Lookup, ReadStats};
use super::{gone, CommitLog, IO_ALIGNMENT};
use crate::storage::{SegmentFile, Storage};

impl<S: Storage> CommitLog<S> {
    /// `[start, end)` of the read chunk holding `offset`. The grid restarts at every
    /// segment base, so a chunk never crosses a segment end (the last one of a segment may
    /// be shorter). `offset` must not be below the first segment.
    pub(crate) fn chunk_span(&self, offset: u64) -> (u64, u64) {
        let base = self.segment_base_of(offset);
        let start = base + (offset - base) / self.read_chunk_bytes * self.read_chunk_bytes;
        (
            start,
            (start + self.read_chunk_bytes).min(base + self.segment_size),
        )
    }

    /// Whether `[offset, end)` is written and not yet deleted by retention.
    pub(crate) fn readable(&self, offset: u64, end: u64) -> bool {
        offset >= self.min_offset() && end <= self.written.get()
    }

    /// `[offset, offset + len)` copied out of the write buffers, if they still hold it
    /// (recent records: no device read at all). One copy: the buffers are reused for
    /// later appends, and the answer may cross to another shard.
    pub(crate) fn tail_bytes(&self, offset: u64, len: usize) -> Option<Bytes> {
        let buffers = self.buffers.borrow();
        buffers.read(offset, len).map(Bytes::copy_from_slice)
    }

    /// The chunk starting at `start`, loaded at least up to `need_end`: from the cache,
    /// from a load already under way (read-ahead, or another pull), or read now.
    pub(crate) async fn chunk(&self, start: u64, need_end: u64) -> io::Result<Chunk> {
        // A load we waited for may have ended short of `need_end` (more was written
        // since it started) or failed: then read it ourselves, once.
        for _ in 0..2 {
            match self.read_cache.lookup(start, need_end) {
                Lookup::Hit(chunk) => return Ok(chunk),
                Lookup::Loading(pending) => pending.wait().await,
                Lookup::Miss => break,
            }
        }
        loop {
            if let Some(guard) = self.read_cache.begin_load(start, false) {
                let task = self.load_task(guard).ok_or_else(gone)?;
                let chunk = task.await?;
                return if need_end <= chunk.end() {
                    Ok(chunk)
                } else {
                    Err(gone())
                };
            }
            // Another load began in between (it cannot, on one thread, but never spin).
            match self.read_cache.lookup(start, need_end) {
                Lookup::Hit(chunk) => return Ok(chunk),
                Lookup::Loading(pending) => pending.wait().await,
                Lookup::Miss => {}
            }
        }
    }

    /// The read of the chunk `guard` holds, as a future owning everything it needs (the
    /// segment stays open even if retention deletes its file meanwhile), so it can run
    /// detached as read-ahead. Only bytes written when the read starts are kept: later
    /// bytes of the same block may still be on their way to the device. `None` when
    /// there is nothing to read there (deleted, or nothing written yet).
    fn load_task(&self, guard: LoadGuard) -> Option<impl Future<Output = io::Result<Chunk>>> {
        let start = guard.start();
        let (base, segment) = self.segment_containing(start)?;
        let (_, chunk_end) = self.chunk_span(start);
        let valid_end = chunk_end.min(self.written.get());
        if valid_end <= start {
            return None;
        }
        let valid_len = (valid_end - start) as usize;
        let read_len = (valid_end - start).next_multiple_of(IO_ALIGNMENT) as usize;
        let direct = self.read_direct;
        Some(async move {
            match segment.read_chunk(start - base, read_len, direct).await {
                Ok(mut bytes) => {
                    bytes.truncate(valid_len);
                    let chunk = Chunk {
                        start,
                        bytes: Bytes::from(bytes),
                    };
                    guard.finish(Some(chunk.clone()));
                    Ok(chunk)
                }
                Err(error) => {
                    guard.finish(None);
                    Err(error)
                }
            }
        })
    }

    /// Starts loading the `read_ahead_chunks` chunks after the one at `start` that are
    /// written, only on the device (not in the write buffers) and not loaded yet, so a
    /// reader catching up finds them ready. Loads run detached; a pull never waits for
    /// one unless it needs that chunk.
    pub(crate) fn read_ahead(&self, start: u64) {
        let mut next = start;
        for _ in 0..self.read_ahead_chunks {
            next = self.chunk_span(next).1;
            if next >= self.written.get() || self.buffers.borrow().read(next, 1).is_some() {
                return;
            }
            self.spawn_load(next, true);
        }
    }

    /// Starts loading the chunk at `start` in the background unless it is loaded or
    /// loading already (a batch's chunks load concurrently this way).
    pub(crate) fn start_load(&self, start: u64) {
        self.spawn_load(start, false);
    }

    fn spawn_load(&self, start: u64, read_ahead: bool) {
        let need_end = self.chunk_span(start).1.min(self.written.get());
        if self.read_cache.has(start, need_end) {
            return;
        }
        let Some(guard) = self.read_cache.begin_load(start, read_ahead) else {
            return;
        };
        let Some(task) = self.load_task(guard) else {
            return;
        };
        self.storage.spawn_detached(Box::pin(async move {
            if let Err(error) = task.await {
                tracing::debug!(%error, "CommitLog chunk load failed");
            }
        }));
    }

    /// Whether the write buffers still hold `[offset, offset + len)`.
    pub(crate) fn tail_bytes_held(&self, offset: u64, len: usize) -> bool {
        self.buffers.borrow().read(offset, len).is_some()
    }

    /// Starts of the chunks `[offset, end)` falls in: one for most records; a record
    /// across chunk boundaries (or larger than a chunk) needs each of them. A record never
    /// crosses a segment end.
    /// An iterator, not a Vec: a pull asks this for every record it serves.
    pub(crate) fn chunk_starts(&self, offset: u64, end: u64) -> impl Iterator<Item = u64> + '_ {
        let (first, first_end) = self.chunk_span(offset);
        std::iter::successors(Some((first, first_end)), move |&(_, chunk_end)| {
            (end > chunk_end).then(|| self.chunk_span(chunk_end))
        })
        .map(|(start, _)| start)
    }

    /// `[offset, end)` (written, inside one segment) as parts in order: slices of the
    /// read-cache chunks for what is only on the device (no copy; the chunks load
    /// concurrently, and the ones after the last load ahead, for a reader catching up),
    /// then copies out of the write buffers for what they still hold (one per buffer the
    /// range crosses). The replication read ([`crate::MessageStore::read_for_replica`])
    /// ships these as they are.
    pub(crate) async fn read_parts(&self, offset: u64, end: u64) -> io::Result<Vec<Bytes>> {
        if offset >= end {
            return Ok(Vec::new());
        }
        let base = self.segment_base_of(offset);
        if !self.readable(offset, end) || end > base + self.segment_size {
            return Err(gone());
        }
        // The buffers hold a suffix of what was written: the chunks before the first
        // byte they hold start loading now, all at once.
        for start in self.chunk_starts(offset, end).skip(1) {
            if self.buffers.borrow().read(start, 1).is_some() {
                break;
            }
            self.start_load(start);
        }
        let mut parts = Vec::with_capacity(2);
        let mut last_chunk = None;
        let mut at = offset;
        while at < end {
            let held = self
                .buffers
                .borrow()
                .read_prefix(at, (end - at) as usize)
                .map(Bytes::copy_from_slice);
            if let Some(bytes) = held {
                at += bytes.len() as u64;
                parts.push(bytes);
                continue;
            }
            let (start, chunk_end) = self.chunk_span(at);
            let to = chunk_end.min(end);
            let chunk = self.chunk(start, to).await?;
            parts.push(
                chunk
                    .bytes
                    .slice((at - start) as usize..(to - start) as usize),
            );
            last_chunk = Some(start);
            at = to;
        }
        if let Some(start) = last_chunk {
            self.read_ahead(start);
        }
        Ok(parts)
    }

    /// Read cache counters of this CommitLog.
    pub fn read_stats(&self) -> ReadStats {
        self.read_cache.stats()
    }
}
