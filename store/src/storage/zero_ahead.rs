//! Zero-ahead: a CommitLog segment's blocks are written with zeros a few MiB ahead of the
//! appends, so that the appends' O_DIRECT writes overwrite written blocks.
//!
//! Why: a segment is preallocated with fallocate, whose blocks ext4 marks unwritten. An
//! O_DIRECT write into unwritten blocks is not an overwrite: ext4 converts the extent when
//! the write completes, and a write that starts in the last, already written block of the
//! previous write and goes on into unwritten ones (every group commit rewrites its partial
//! last block) cannot be issued without blocking, so io_uring hands it to an io-wq worker
//! thread, and the conversion runs on a dio kworker. Under load that was 44-66% of the
//! CommitLog's writes and ~20% of the broker's CPU on a 2-core machine, in context switches
//! and wake-ups (docs/architecture.md, Write path). Zeroing ahead in 1 MiB writes converts
//! each extent once per MiB instead of once per group commit; the appends then complete
//! inline in the submitting thread. The price is writing each segment twice, in large
//! sequential writes (a few hundred per GiB), so zeroing pauses while the appends' own
//! writes are large (`LARGE_WRITE`): then the device is the limit, not the punts.
//!
//! Invariant: a zero write never covers a byte a data write has covered or will cover
//! before the zero write completes. Zero chunks start at or past the end of every data
//! write issued or waiting to be issued, and a data write that reaches the chunk in flight
//! waits for it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use glommio::io::{DmaBuffer, DmaFile};

/// Size of one zero write. Also the alignment of the zeroed frontier past the appends.
pub const ZERO_CHUNK: u64 = 1 << 20;

/// Zeroing pauses while the data writes average this size or more. Large writes mean the
/// group commit is batching heavily: the device, not the CPU, is the limit, and zeroing
/// would halve what it has left for the appends (`mqbench store`, 4 KiB records: 0.51-0.56
/// of raw O_DIRECT with zeroing, 0.76-1.05 without), while the punts it saves come once
/// per large write. Small writes mean low load, where each punt costs its message a
/// worker wake-up and the device has time to spare.
pub const LARGE_WRITE: u64 = 256 << 10;

/// The shared, read-only buffer of zeros every segment of a shard writes from.
pub fn zero_buffer() -> Rc<DmaBuffer> {
    thread_local! {
        static ZEROS: Rc<DmaBuffer> = {
            // Not from the registered io_memory: that pool is the write buffers' and the
            // tail cache's, and a few hundred zero writes per GiB do not need it.
            let mut buffer = glommio::allocate_dma_buffer_global(ZERO_CHUNK as usize);
            buffer.as_bytes_mut().fill(0);
            Rc::new(buffer)
        };
    }
    ZEROS.with(Rc::clone)
}

struct State {
    /// File size: nothing is zeroed at or past it.
    size: u64,
    /// How far past the appends to keep the file zeroed.
    ahead: u64,
    /// End of the furthest data write issued or waiting; zero chunks start at or past it.
    data_end: u64,
    /// Where the next zero chunk starts (the end of the last one issued).
    next: u64,
    /// The zero chunk being written, if any.
    in_flight: Option<(u64, u64)>,
    /// Data writes waiting for the chunk in flight.
    waiters: Vec<Waker>,
    /// A zero write failed: stop zeroing this segment (appends still work, only slower).
    stopped: bool,
    /// Moving average of the data writes' size (weight 1/8 per write).
    average_write: u64,
    /// Every chunk started, for the tests.
    #[cfg(test)]
    started: Vec<(u64, u64)>,
}

/// One segment's zero-ahead state. Cloning shares it (the zero writes' tasks hold a clone).
#[derive(Clone)]
pub struct ZeroAhead {
    state: Rc<RefCell<State>>,
    file: Rc<DmaFile>,
}

impl ZeroAhead {
    /// `ahead`: bytes to keep zeroed past the furthest data write. `from`: where zeroing
    /// may start (0 for a new file; for an existing one, the first data write sets it).
    pub fn new(file: Rc<DmaFile>, size: u64, ahead: u64, from: u64) -> Self {
        assert!(ahead > 0, "zero-ahead of 0 bytes is off, not a ZeroAhead");
        Self {
            state: Rc::new(RefCell::new(State {
                size,
                ahead,
                data_end: from,
                next: from,
                in_flight: None,
                waiters: Vec::new(),
                stopped: false,
                average_write: 0,
                #[cfg(test)]
                started: Vec::new(),
            })),
            file,
        }
    }

    /// Call before issuing a data write of `[pos, end)`: records it (so no zero chunk
    /// started from now on covers it), waits while it overlaps the zero chunk in flight,
    /// then starts the next zero chunk if the zeroed frontier is less than `ahead` past
    /// the appends.
    pub async fn before_write(&self, pos: u64, end: u64) {
        {
            let mut state = self.state.borrow_mut();
            debug_assert_eq!(end % 4096, 0, "O_DIRECT writes end on a block boundary");
            if end > state.data_end {
                state.data_end = end;
            }
            state.average_write = state.average_write - state.average_write / 8 + (end - pos) / 8;
            if state.next < state.data_end {
                // The appends overtook the zeroing (or it has not started in this file):
                // carry on past them, never behind.
                state.next = state.data_end;
            }
        }
        // Recorded first: the chunk that completes while this write waits starts the next
        // one at once, and that one must begin past this write, not inside it.
        ChunkClear {
            zero: self,
            pos,
            end,
        }
        .await;
        self.maybe_start();
    }

    /// Starts zeroing at once (a new segment: its first appends then find written blocks).
    pub fn start(&self) {
        self.maybe_start();
    }

    fn maybe_start(&self) {
        let (start, end) = {
            let mut state = self.state.borrow_mut();
            if state.stopped
                || state.in_flight.is_some()
                || state.average_write >= LARGE_WRITE
                || state.next >= state.size
                || state.next >= state.data_end.saturating_add(state.ahead)
            {
                return;
            }
            let start = state.next;
            // Up to the next chunk boundary (the first chunk after a data write may be
            // short), never past the file.
            let end = ((start / ZERO_CHUNK + 1) * ZERO_CHUNK).min(state.size);
            debug_assert!(start >= state.data_end, "zero chunk behind the appends");
            state.in_flight = Some((start, end));
            state.next = end;
            #[cfg(test)]
            state.started.push((start, end));
            (start, end)
        };
        let zero = self.clone();
        glommio::spawn_local(async move {
            let buffer = zero_buffer();
            let result = if end - start == ZERO_CHUNK && start % ZERO_CHUNK == 0 {
                zero.file.write_rc_at(buffer, start).await
            } else {
                // A short chunk: a fresh buffer of its length (aligned: both ends are
                // 4 KiB multiples, as every data write's end is).
                let mut short = glommio::allocate_dma_buffer_global((end - start) as usize);
                short.as_bytes_mut().fill(0);
                zero.file.write_rc_at(Rc::new(short), start).await
            };
            zero.finish(start, end, result);
        })
        .detach();
    }

    fn finish(&self, start: u64, end: u64, result: glommio::Result<usize, ()>) {
        let waiters = {
            let mut state = self.state.borrow_mut();
            state.in_flight = None;
            match result {
                Ok(written) if written as u64 == end - start => {}
                Ok(written) => {
                    tracing::warn!(
                        start,
                        end,
                        written,
                        "CommitLog zero-ahead: short write; zeroing stops for this segment"
                    );
                    state.stopped = true;
                }
                Err(error) => {
                    tracing::warn!(start, end, %error, "CommitLog zero-ahead write failed; zeroing stops for this segment");
                    state.stopped = true;
                }
            }
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
        self.maybe_start();
    }

    #[cfg(test)]
    fn snapshot(&self) -> (u64, u64, Option<(u64, u64)>) {
        let state = self.state.borrow();
        (state.data_end, state.next, state.in_flight)
    }
}

/// Resolves once no zero chunk in flight overlaps `[pos, end)`.
struct ChunkClear<'a> {
    zero: &'a ZeroAhead,
    pos: u64,
    end: u64,
}

impl Future for ChunkClear<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.zero.state.borrow_mut();
        match state.in_flight {
            Some((start, end)) if start < self.end && self.pos < end => {
                if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    state.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::path::{Path, PathBuf};
    use std::task::{Context, Poll};

    use glommio::{LocalExecutorBuilder, Placement};

    use super::*;
    use crate::storage::{DmaStorage, SegmentFile, SegmentOptions, Storage};

    const BLOCK: u64 = 4096;

    fn test_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ramjet-zero-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `(logical start, length, unwritten)` of each extent of `path`, from FIEMAP.
    fn extents(path: &Path) -> Vec<(u64, u64, bool)> {
        #[repr(C)]
        struct Extent {
            logical: u64,
            physical: u64,
            length: u64,
            reserved64: [u64; 2],
            flags: u32,
            reserved: [u32; 3],
        }
        #[repr(C)]
        struct Fiemap {
            start: u64,
            length: u64,
            flags: u32,
            mapped_extents: u32,
            extent_count: u32,
            reserved: u32,
            extents: [Extent; 256],
        }
        const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
        const FIEMAP_FLAG_SYNC: u32 = 1;
        const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
        let file = std::fs::File::open(path).unwrap();
        // SAFETY: all-zero is a valid Fiemap; the ioctl writes at most extent_count extents.
        let mut map: Box<Fiemap> = Box::new(unsafe { std::mem::zeroed() });
        map.length = u64::MAX;
        map.flags = FIEMAP_FLAG_SYNC;
        map.extent_count = 256;
        // SAFETY: FS_IOC_FIEMAP on a descriptor we own, with a buffer of the size declared.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut *map) };
        assert_eq!(rc, 0, "FIEMAP: {}", std::io::Error::last_os_error());
        map.extents[..map.mapped_extents as usize]
            .iter()
            .map(|e| (e.logical, e.length, e.flags & FIEMAP_EXTENT_UNWRITTEN != 0))
            .collect()
    }

    /// Whether every byte of `[from, to)` lies in a written (not unwritten) extent.
    fn written(extents: &[(u64, u64, bool)], from: u64, to: u64) -> bool {
        let mut at = from;
        for &(start, len, unwritten) in extents {
            if start <= at && at < start + len {
                if unwritten {
                    return false;
                }
                at = start + len;
                if at >= to {
                    return true;
                }
            }
        }
        at >= to
    }

    /// Runs `test` with its own copy of `path` on a fresh executor of this thread.
    fn run_at<T, F>(path: &Path, test: impl FnOnce(PathBuf) -> F) -> T
    where
        T: Send + 'static,
        F: std::future::Future<Output = T> + 'static,
    {
        LocalExecutorBuilder::new(Placement::Unbound)
            .make()
            .unwrap()
            .run(test(path.to_path_buf()))
    }

    /// A new O_DIRECT file of `size` preallocated bytes (unwritten extents), and its
    /// zero-ahead, not started.
    async fn fallocated(path: &Path, size: u64, ahead: u64) -> ZeroAhead {
        let file = glommio::io::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .dma_open(path)
            .await
            .unwrap();
        file.pre_allocate(size, false).await.unwrap();
        ZeroAhead::new(Rc::new(file), size, ahead, 0)
    }

    #[test]
    fn appends_keep_their_bytes_and_find_written_blocks_ahead() {
        // Proves the invariant (no zero write covers data) through the real segment: many
        // writes in flight at once, some jumping past the zeroed frontier, each with its
        // own byte pattern; and that the blocks past the last write end up written.
        let dir = test_dir("appends");
        let path = dir.join("segment");
        const SIZE: u64 = 32 << 20;
        const AHEAD: u64 = 3 << 20;
        let (writes, end) = run_at(&path, |path| async move {
            let storage = DmaStorage::new();
            let options = SegmentOptions {
                direct: true,
                zero_ahead: AHEAD,
            };
            let segment = Rc::new(storage.open_segment(&path, SIZE, options).await.unwrap());
            let mut tasks = Vec::new();
            let mut writes = Vec::new();
            let mut pos = 0u64;
            for i in 0..120u64 {
                // Mostly small group commits, and every 17th a large one that lands
                // past the zeroed frontier or on the chunk in flight.
                let blocks = if i % 17 == 16 { 400 } else { 1 + (i * 7) % 23 };
                let len = blocks * BLOCK;
                if pos + len > 12 << 20 {
                    break;
                }
                let mut buf = storage.alloc_buffer(len as usize);
                buf.as_bytes_mut().fill((i % 251) as u8 + 1);
                let segment = segment.clone();
                let at = pos;
                tasks.push(glommio::spawn_local(async move {
                    segment
                        .write_at(Rc::new(buf), at, i % 3 == 0)
                        .await
                        .unwrap();
                }));
                writes.push((pos, len, (i % 251) as u8 + 1));
                pos += len;
            }
            for task in tasks {
                task.await;
            }
            // Let the zeroing finish its run ahead of the last write.
            for _ in 0..2000 {
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                let state = segment.zero_ahead.as_ref().unwrap().snapshot();
                if state.2.is_none() && state.1 >= pos + AHEAD {
                    break;
                }
            }
            (writes, pos)
        });
        let bytes = std::fs::read(&path).unwrap();
        for (pos, len, value) in writes {
            let range = pos as usize..(pos + len) as usize;
            assert!(
                bytes[range.clone()].iter().all(|b| *b == value),
                "data at {pos}..{} overwritten",
                pos + len
            );
        }
        assert!(bytes[end as usize..].iter().all(|b| *b == 0));
        let map = extents(&path);
        assert!(
            written(&map, 0, end + AHEAD),
            "blocks up to {} past the appends not all written: {map:?}",
            end + AHEAD
        );
        assert!(
            !written(&map, end + AHEAD + ZERO_CHUNK, SIZE),
            "zeroed far past the appends: {map:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn large_writes_pause_the_zeroing_and_small_ones_resume_it() {
        let dir = test_dir("pause");
        let path = dir.join("segment");
        run_at(&path, |path| async move {
            let zero = fallocated(&path, 64 << 20, 4 << 20).await;
            // Device-bound appends: 1 MiB writes. Once their average passes
            // LARGE_WRITE no chunk is started, and the frontier stays at the appends.
            let mut pos = 0;
            for _ in 0..16 {
                zero.before_write(pos, pos + ZERO_CHUNK).await;
                pos += ZERO_CHUNK;
                while zero.snapshot().2.is_some() {
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            zero.before_write(pos, pos + ZERO_CHUNK).await;
            pos += ZERO_CHUNK;
            assert_eq!(
                zero.snapshot(),
                (pos, pos, None),
                "zeroing while writes are large"
            );
            // Low load again: 4 KiB writes bring the average down and zeroing back.
            for _ in 0..64 {
                zero.before_write(pos, pos + BLOCK).await;
                pos += BLOCK;
            }
            let (data_end, next, in_flight) = zero.snapshot();
            assert_eq!(data_end, pos);
            assert!(in_flight.is_some() || next > pos, "zeroing did not resume");
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_onto_the_chunk_in_flight_waits_for_it() {
        let dir = test_dir("wait");
        let path = dir.join("segment");
        run_at(&path, |path| async move {
            let zero = fallocated(&path, 4 << 20, 2 << 20).await;
            zero.start();
            assert_eq!(zero.snapshot(), (0, ZERO_CHUNK, Some((0, ZERO_CHUNK))));
            // A write inside the chunk being zeroed must not go out before it.
            let mut wait = Box::pin(zero.before_write(0, BLOCK));
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
            // One past it does not wait, and moves the frontier past itself.
            zero.before_write(ZERO_CHUNK + BLOCK, ZERO_CHUNK + 2 * BLOCK)
                .await;
            assert_eq!(zero.snapshot().0, ZERO_CHUNK + 2 * BLOCK);
            wait.await;
            let (data_end, next, _) = zero.snapshot();
            assert_eq!(data_end, ZERO_CHUNK + 2 * BLOCK);
            assert!(next >= data_end, "zeroing behind the appends");
            // A write that overlaps the chunk in flight and reaches past it: the chunk
            // started when that one completes begins past the write, not inside it.
            while zero.snapshot().2.is_some() {
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
            let zero = ZeroAhead::new(zero.file.clone(), 4 << 20, 2 << 20, 0);
            zero.start();
            let long_end = ZERO_CHUNK + 8 * BLOCK;
            let mut wait = Box::pin(zero.before_write(0, long_end));
            assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
            wait.await;
            let started = zero.state.borrow().started.clone();
            assert_eq!(started[0], (0, ZERO_CHUNK));
            assert!(
                started[1..].iter().all(|&(start, _)| start >= long_end),
                "a chunk started inside the waiting write: {started:?}"
            );
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
