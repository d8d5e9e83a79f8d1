//! The one seam between the store and the file system (style.md §8).
//!
//! [`DmaStorage`] is the real thing: glommio O_DIRECT segment writes, buffered reads, and
//! memory-mapped ConsumeQueue, IndexFile and checkpoint files. [`SimStorage`] keeps every
//! file in memory, its futures are always ready (so `block_on` runs it deterministically),
//! and it can fail operations and crash, dropping writes that were never synced.
//!
//! Two kinds of file sit behind it, because they are written in two different ways:
//! CommitLog segments are large, append-only and written in aligned buffers, so they get
//! async DMA writes; ConsumeQueue, IndexFile and checkpoint files get small writes at
//! random positions in order with dispatch, so they are mapped (RocketMQ maps all of
//! them) and written synchronously into the page cache.

pub mod dma;
pub mod sim;
mod zero_ahead;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use dma::DmaStorage;
pub use sim::{SimFaults, SimStorage};

/// An aligned buffer the storage can write without copying.
pub trait IoBuffer: 'static {
    fn as_bytes(&self) -> &[u8];
    fn as_bytes_mut(&mut self) -> &mut [u8];
    /// Shortens the buffer for good (glommio's `DmaBuffer` cannot grow back).
    fn trim_to_size(&mut self, len: usize);
}

/// How a CommitLog segment is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Write with O_DIRECT (`writeDirect`), or through the page cache.
    pub direct: bool,
    /// Bytes kept written with zeros ahead of the appends (`zeroAheadBytes`; 0: off).
    /// Only O_DIRECT segments use it (storage/zero_ahead.rs says why).
    pub zero_ahead: u64,
}

/// One CommitLog segment file.
// The futures are deliberately !Send: a segment lives on one shard's executor.
#[allow(async_fn_in_trait)]
pub trait SegmentFile: 'static {
    type Buffer: IoBuffer;
    /// Writes the whole buffer at `pos`; both aligned to [`crate::commit_log::IO_ALIGNMENT`].
    /// With `urgent` the write is handed to the kernel before this returns its future
    /// (one more `io_uring_enter`); otherwise it goes with the executor's next pass
    /// through its rings, which comes only when the running task queue yields.
    async fn write_at(&self, buf: Rc<Self::Buffer>, pos: u64, urgent: bool) -> io::Result<()>;
    /// Reads exactly `len` bytes (through the page cache), or fails.
    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Reads a large chunk for the read cache: `pos` and `len` aligned to
    /// [`crate::commit_log::IO_ALIGNMENT`]. Real storage reads it with O_DIRECT (one device
    /// request per chunk, no page-cache copy: the CommitLog is written with O_DIRECT, so
    /// the page cache does not hold it anyway), or through the page cache when `direct`
    /// is false (a second drain of the same backlog then reads memory).
    async fn read_chunk(&self, pos: u64, len: usize, direct: bool) -> io::Result<Vec<u8>> {
        let _ = direct;
        self.read_at(pos, len).await
    }
    /// Makes completed writes durable (fdatasync).
    async fn sync_data(&self) -> io::Result<()>;
    /// Makes every byte from `from` to the end of the file read as zero (torn-tail cut).
    async fn zero_from(&self, from: u64) -> io::Result<()>;
}

/// A fixed-size file written in place (ConsumeQueue, IndexFile, checkpoint).
pub trait MappedFile: 'static {
    fn len_bytes(&self) -> u64;
    fn read(&self, pos: u64, dst: &mut [u8]);
    fn write(&mut self, pos: u64, src: &[u8]);
    /// msync: what was written before this call survives power loss once the returned
    /// future resolves. The future borrows nothing, so callers may drop their borrows of
    /// the file (and of whatever holds it) before awaiting it; real storage runs the
    /// msync on the executor's blocking thread pool, never on the shard's own thread.
    fn sync(&self) -> impl std::future::Future<Output = io::Result<()>> + 'static;
    /// Whether the file was read or written since it was mapped or last released.
    fn touched(&self) -> bool;
    /// Drops the pages of `range` (shrunk to whole pages) from this process's page tables,
    /// so that they stop counting in its RSS, and clears [`MappedFile::touched`]. The
    /// contents, synced or not, stay in the page cache (a shared mapping's dirty pages stay
    /// dirty there) and the next access maps them back. Without this every ConsumeQueue
    /// and IndexFile page ever written stays mapped, and RSS grows with the stored data
    /// (docs/architecture.md, Memory). Real storage runs it on the blocking pool:
    /// releasing a whole IndexFile's pages takes milliseconds.
    fn release_resident(
        &self,
        range: Range<u64>,
    ) -> impl std::future::Future<Output = io::Result<()>> + 'static;
}

/// The whole `page`-byte pages of `range` in a mapping of a `len`-byte file. The mapping's
/// last page holds the file's tail and nothing else, so a range reaching the end takes it.
pub(crate) fn whole_pages(range: Range<u64>, len: u64, page: u64) -> (u64, u64) {
    let start = range.start.next_multiple_of(page);
    let end = if range.end >= len {
        len.next_multiple_of(page)
    } else {
        range.end / page * page
    };
    (start, end.max(start))
}

/// A pending [`MappedFile::release_resident`].
pub type ReleaseJob = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>>>>;

/// The job that releases `range` of `file`'s resident pages.
pub fn release_job<M: MappedFile>(file: &M, range: Range<u64>) -> ReleaseJob {
    Box::pin(file.release_resident(range))
}

/// A pending msync (or several) whose errors name their file; see [`MappedFile::sync`].
pub type SyncJob =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), crate::StoreError>>>>;

/// The job that msyncs `file`, its errors naming `path`.
pub fn sync_job<M: MappedFile>(file: &M, path: &Path) -> SyncJob {
    let sync = file.sync();
    let path = path.to_path_buf();
    Box::pin(async move { sync.await.map_err(crate::StoreError::io(path)) })
}

/// Runs sync jobs one after another; the first error wins.
pub async fn run_sync_jobs(jobs: Vec<SyncJob>) -> Result<(), crate::StoreError> {
    for job in jobs {
        job.await?;
    }
    Ok(())
}

#[allow(async_fn_in_trait)]
pub trait Storage: Clone + 'static {
    type Buffer: IoBuffer;
    type Segment: SegmentFile<Buffer = Self::Buffer>;
    type Mapped: MappedFile;

    fn alloc_buffer(&self, len: usize) -> Self::Buffer;
    /// Wall clock in ms; the simulation supplies its own so runs replay exactly.
    fn now_ms(&self) -> i64;
    /// Resolves after `ms` of [`Storage::now_ms`] time (`syncFlushTimeout`).
    async fn sleep_ms(&self, ms: u64);
    /// Runs `task` on its own, without anybody awaiting it (read-ahead). The simulation
    /// runs it to completion at once, so its runs stay deterministic.
    fn spawn_detached(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries of `dir`, sorted; empty if `dir` does not exist.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    fn modified_ms(&self, path: &Path) -> io::Result<i64>;
    fn exists(&self, path: &Path) -> bool;
    /// Creates an empty file durably (the abort marker).
    fn create_empty_file(&self, path: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes files and makes the removal durable (their directories synced), off the
    /// shard's thread: retention deletes 1 GiB segments, and an unlink plus a directory
    /// fsync on the reactor would stall every connection of the shard meanwhile.
    /// `mappings` are those files' mappings, released (unmapped) off the shard's thread
    /// too: an index file maps ~400 MB, and munmap of its resident pages takes milliseconds.
    async fn remove_files(
        &self,
        paths: Vec<PathBuf>,
        mappings: Vec<Self::Mapped>,
    ) -> io::Result<()>;
    /// Grows a file to `len` with zeros (a segment cut short by damage or a bad copy).
    fn extend_file(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Percent of the file system holding `path` that is in use.
    fn disk_used_percent(&self, path: &Path) -> io::Result<u32>;
    /// Opens a segment, creating and preallocating it to `size` bytes if missing. A new
    /// file's directory entry is not synced here: the CommitLog does that with
    /// [`Storage::sync_dir`] in its next flush, after the data (commit_log.rs, `lead_flush`).
    async fn open_segment(
        &self,
        path: &Path,
        size: u64,
        options: SegmentOptions,
    ) -> io::Result<Self::Segment>;
    /// Makes the entries of `dir` durable (files created in it survive a power loss), off
    /// the shard's thread.
    async fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Maps a file of exactly `len` bytes, creating it (zero-filled) if missing.
    fn map_file(&self, path: &Path, len: u64) -> io::Result<Self::Mapped>;
}
