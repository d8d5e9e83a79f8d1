//! The CommitLog of one shard: append, group commit, read, roll.
//!
//! Why this shape: a shard owns one CommitLog so appends never contend across cores, and
//! writes go out through O_DIRECT in large aligned buffers so the device sees big
//! sequential writes and the page cache does not double the memory.
//!
//! Group commit without a background task (so the same code runs under the simulation):
//! every appender waiting for its acknowledgement drives writes. A waiter that finds a
//! write ready (a sealed buffer, or with the disk idle the partly filled one) issues it
//! and awaits it; otherwise it sleeps until a write completes. Full buffers go out as
//! soon as they are sealed, so several writes are in flight while appends fill the next
//! buffer, and the disk and the CPU work at the same time. Whoever issues or completes a
//! write and sees another one ready wakes one more waiter to issue it.

mod next_segment;
mod read;
pub mod read_cache;
mod write_buffers;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::config::{offset_to_file_name, StoreConfig};
use crate::error::{PutError, StoreError};
use crate::message::record::encode_blank;
use crate::message::{
    decode_record, END_FILE_MIN_BLANK_LENGTH, MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2,
};
use crate::storage::{SegmentFile, SegmentOptions, Storage};
use crate::sync::Progress;
use next_segment::NextSegment;
use write_buffers::{Reserve, WriteBuffers};

/// O_DIRECT alignment of buffer addresses, file positions and lengths.
pub const IO_ALIGNMENT: u64 = 4096;

pub struct CommitLog<S: Storage> {
    storage: S,
    dir: PathBuf,
    segment_size: u64,
    /// Segment base offset -> file. Contiguous: each starts where the previous ends.
    segments: RefCell<BTreeMap<u64, Rc<S::Segment>>>,
    /// The segment after the current one, created ahead of the roll.
    next_segment: NextSegment<S>,
    /// A segment was created since the last flush: its directory entry is synced after the
    /// data, by the next flush. A directory fsync alone is a device cache flush, which
    /// stalls every O_DIRECT write in flight for as long as the device takes to drain
    /// (0.2-0.5 s under load here); right after the data's fdatasync it costs 10-60 ms.
    dir_unsynced: Cell<bool>,
    buffers: RefCell<WriteBuffers<S::Buffer>>,
    /// Where the next record goes.
    append_offset: Cell<u64>,
    /// Everything below is in the kernel (O_DIRECT write completed).
    written: Progress,
    /// Everything below is durable.
    flushed: Progress,
    /// O_DIRECT writes issued and not yet completed.
    writes_in_flight: Cell<usize>,
    flush_leader: Cell<bool>,
    failure: RefCell<Option<String>>,
    /// Read side (commit_log/read.rs): chunks of older records for pulls.
    read_cache: Rc<read_cache::ReadCache>,
    read_chunk_bytes: u64,
    read_ahead_chunks: usize,
    read_direct: bool,
    /// O_DIRECT or page-cache writes, zero-ahead.
    segment_options: SegmentOptions,
}

impl<S: Storage> CommitLog<S> {
    /// Opens the segment files (validating their size) without scanning them; recovery
    /// then finds the valid end and calls [`CommitLog::start_appending_at`].
    pub async fn open(storage: S, config: &StoreConfig) -> Result<Self, StoreError> {
        let dir = config.commit_log_dir();
        let segment_size = config.mapped_file_size_commit_log;
        if !segment_size.is_multiple_of(IO_ALIGNMENT)
            || !(config.write_buffer_bytes as u64).is_multiple_of(IO_ALIGNMENT)
        {
            return Err(StoreError::Config(format!(
                "mapped_file_size_commit_log and write_buffer_bytes must be multiples of {IO_ALIGNMENT}"
            )));
        }
        if (config.record_size_max() + END_FILE_MIN_BLANK_LENGTH) as u64 > segment_size {
            return Err(StoreError::Config(
                "a CommitLog segment must hold the largest record".into(),
            ));
        }
        storage.create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let mut segments = BTreeMap::new();
        let names = storage.list_dir(&dir).map_err(StoreError::io(&dir))?;
        let names: Vec<&String> = names
            .iter()
            .filter(|name| name.parse::<u64>().is_ok())
            .collect();
        for (at, name) in names.iter().enumerate() {
            let base: u64 = name.parse().unwrap();
            let path = dir.join(name);
            let mut actual = storage.file_len(&path).map_err(StoreError::io(&path))?;
            if actual < segment_size && at + 1 == names.len() {
                // The newest segment cut short (a crash while it was created, or a bad
                // copy): its missing part reads as zeros and recovery finds the valid end.
                tracing::warn!(path = %path.display(), actual, "CommitLog: last segment is short; extending it");
                storage
                    .extend_file(&path, segment_size)
                    .map_err(StoreError::io(&path))?;
                actual = segment_size;
            }
            if actual != segment_size {
                return Err(StoreError::UnexpectedFileSize {
                    path,
                    actual,
                    expected: segment_size,
                });
            }
            let segment = storage
                .open_segment(&path, segment_size, config.segment_options())
                .await;
            segments.insert(base, Rc::new(segment.map_err(StoreError::io(&path))?));
        }
        let bases: Vec<u64> = segments.keys().copied().collect();
        for pair in bases.windows(2) {
            if pair[1] != pair[0] + segment_size {
                return Err(StoreError::Config(format!(
                    "CommitLog files are not contiguous: {} then {}",
                    pair[0], pair[1]
                )));
            }
        }
        let start = bases
            .first()
            .copied()
            .unwrap_or(config.commit_log_offset_base);
        let buffers = WriteBuffers::new(
            config.write_buffer_bytes,
            config.write_buffer_count_max,
            config.tail_cache_bytes,
        );
        // Chunks are O_DIRECT reads: aligned, and no larger than a segment.
        let read_chunk_bytes = (config.read_chunk_bytes.max(1) as u64)
            .next_multiple_of(IO_ALIGNMENT)
            .min(segment_size);
        let read_chunks_max = (config.read_cache_bytes as u64 / read_chunk_bytes).max(1) as usize;
        Ok(Self {
            storage,
            dir,
            segment_size,
            segments: RefCell::new(segments),
            next_segment: NextSegment::new(),
            dir_unsynced: Cell::new(false),
            buffers: RefCell::new(buffers),
            append_offset: Cell::new(start),
            written: Progress::new(start),
            flushed: Progress::new(start),
            writes_in_flight: Cell::new(0),
            flush_leader: Cell::new(false),
            failure: RefCell::new(None),
            read_cache: Rc::new(read_cache::ReadCache::new(read_chunks_max)),
            read_chunk_bytes,
            read_ahead_chunks: config.read_ahead_chunks,
            read_direct: config.read_direct,
            segment_options: config.segment_options(),
        })
    }

    pub fn segment_size(&self) -> u64 {
        self.segment_size
    }

    /// `(base offset, segment)` of every file, oldest first.
    pub fn segments(&self) -> Vec<(u64, Rc<S::Segment>)> {
        self.segments
            .borrow()
            .iter()
            .map(|(base, segment)| (*base, segment.clone()))
            .collect()
    }

    pub fn segment_path(&self, base: u64) -> PathBuf {
        self.dir.join(offset_to_file_name(base))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lowest offset still stored.
    pub fn min_offset(&self) -> u64 {
        let segments = self.segments.borrow();
        segments
            .keys()
            .next()
            .copied()
            .unwrap_or(self.append_offset.get())
    }

    /// Everything below this is written and readable (`getMaxPhyOffset`).
    pub fn max_offset(&self) -> u64 {
        self.written.get()
    }

    pub fn flushed_offset(&self) -> u64 {
        self.flushed.get()
    }

    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Recovery found the valid data to end at `end`: cut everything after it and make the
    /// next append go there.
    pub async fn start_appending_at(&self, end: u64) -> Result<(), StoreError> {
        let segment_size = self.segment_size;
        let later: Vec<u64> = self
            .segments
            .borrow()
            .range(end..)
            .map(|(base, _)| *base)
            .collect();
        for base in later {
            // A segment starting exactly at `end` is empty or torn garbage: remove it too.
            if base >= end {
                self.segments.borrow_mut().remove(&base);
                let path = self.segment_path(base);
                self.storage
                    .remove_file(&path)
                    .map_err(StoreError::io(&path))?;
                tracing::warn!(path = %path.display(), "recovery: removed CommitLog file past the valid end");
            }
        }
        let mut tail_block = Vec::new();
        if let Some((base, segment)) = self.segment_containing(end) {
            let in_file = end - base;
            if in_file < segment_size {
                let path = self.segment_path(base);
                segment
                    .zero_from(in_file)
                    .await
                    .map_err(StoreError::io(&path))?;
                segment.sync_data().await.map_err(StoreError::io(&path))?;
                let block = in_file / IO_ALIGNMENT * IO_ALIGNMENT;
                let len = (in_file - block) as usize;
                if len > 0 {
                    tail_block = segment
                        .read_at(block, len)
                        .await
                        .map_err(StoreError::io(&path))?;
                }
            }
        }
        // The previous process may have left written but unsynced data in any segment;
        // `flushed = end` below claims it durable, so make that true.
        for (base, segment) in self.segments() {
            let path = self.segment_path(base);
            segment.sync_data().await.map_err(StoreError::io(&path))?;
        }
        self.buffers.borrow_mut().reset(end, tail_block);
        self.append_offset.set(end);
        self.written.set(end);
        self.flushed.set(end);
        Ok(())
    }

    /// An empty CommitLog (nothing ever appended) starts over at `start`, a segment start
    /// (an empty slave starting at its master's newest file). Its empty segment files go, so
    /// the files stay contiguous from `start`.
    pub async fn restart_empty_at(&self, start: u64) -> Result<(), StoreError> {
        assert_eq!(
            self.append_offset.get(),
            self.written.get(),
            "restart_empty_at on a CommitLog with appends in flight"
        );
        let bases: Vec<u64> = self.segments.borrow().keys().copied().collect();
        for base in bases {
            self.segments.borrow_mut().remove(&base);
            let path = self.segment_path(base);
            self.storage
                .remove_file(&path)
                .map_err(StoreError::io(&path))?;
        }
        self.start_appending_at(start).await
    }

    fn segment_containing(&self, offset: u64) -> Option<(u64, Rc<S::Segment>)> {
        let segments = self.segments.borrow();
        let (base, segment) = segments.range(..=offset).next_back()?;
        (offset < base + self.segment_size).then(|| (*base, segment.clone()))
    }

    async fn ensure_segment(&self, base: u64) -> Result<(), PutError> {
        if self.segments.borrow().contains_key(&base) {
            return Ok(());
        }
        let path = self.segment_path(base);
        let segment = match self.next_segment.take(base).await {
            Some(Ok(segment)) => Ok(segment),
            Some(Err(error)) => {
                tracing::warn!(path = %path.display(), %error, "CommitLog: creating the next segment ahead failed; trying again now");
                self.storage
                    .open_segment(&path, self.segment_size, self.segment_options)
                    .await
            }
            None => {
                self.storage
                    .open_segment(&path, self.segment_size, self.segment_options)
                    .await
            }
        };
        let segment =
            segment.map_err(|error| self.fail(&format!("create {}: {error}", path.display())))?;
        self.segments.borrow_mut().insert(base, Rc::new(segment));
        self.dir_unsynced.set(true);
        tracing::info!(path = %path.display(), "CommitLog: new segment");
        Ok(())
    }

    /// Once appends pass the middle of a segment, starts creating the next one so the roll
    /// does not wait for the file's preallocation and directory fsync
    /// (commit_log/next_segment.rs).
    fn create_next_segment_ahead(&self, offset: u64) {
        let base = self.segment_base_of(offset);
        let next = base + self.segment_size;
        if offset - base < self.segment_size / 2
            || self.next_segment.started(next)
            || self.segments.borrow().contains_key(&next)
        {
            return;
        }
        let path = self.segment_path(next);
        self.next_segment.start(
            &self.storage,
            next,
            path,
            self.segment_size,
            self.segment_options,
        );
    }

    /// Rolls to the next segment, behind a blank end-of-file record, unless `size` more
    /// bytes fit in the current one with room for a blank after them (`TOTALSIZE + 8 >
    /// remaining`). A batch calls this with its whole size before its first record, so all
    /// of its records land in one file, as RocketMQ keeps them.
    pub async fn roll_unless_fits(&self, size: usize) -> Result<(), PutError> {
        self.check_failed()?;
        let offset = self.append_offset.get();
        let segment_base = self.segment_base_of(offset);
        self.ensure_segment(segment_base).await?;
        let segment_end = segment_base + self.segment_size;
        if offset + (size + END_FILE_MIN_BLANK_LENGTH) as u64 <= segment_end {
            return Ok(());
        }
        self.reserve(offset, END_FILE_MIN_BLANK_LENGTH, segment_end)
            .await?;
        let remaining = (segment_end - offset) as usize;
        encode_blank(
            self.buffers.borrow_mut().append(END_FILE_MIN_BLANK_LENGTH),
            remaining,
        );
        self.buffers.borrow_mut().seal_active(false);
        self.append_offset.set(segment_end);
        self.ensure_segment(segment_end).await
    }

    /// Places one record of `size` bytes, rolling to a new segment first when it does not
    /// fit. `encode` gets the record's slice and its physical offset. Callers serialize
    /// appends (the store's append lock); the record is acknowledged only after
    /// [`CommitLog::wait_written`] or [`CommitLog::wait_flushed`].
    pub async fn append(
        &self,
        size: usize,
        encode: impl FnOnce(&mut [u8], u64),
    ) -> Result<u64, PutError> {
        self.roll_unless_fits(size).await?;
        let offset = self.append_offset.get();
        let limit = self.segment_base_of(offset) + self.segment_size;
        self.reserve(offset, size, limit).await?;
        let mut buffers = self.buffers.borrow_mut();
        encode(buffers.append(size), offset);
        // A record of the same size would not fit: write this buffer now.
        buffers.seal_if_full(size);
        drop(buffers);
        self.append_offset.set(offset + size as u64);
        self.create_next_segment_ahead(offset);
        Ok(offset)
    }

    /// Where the next record goes (appended, maybe not yet written).
    pub fn append_offset(&self) -> u64 {
        self.append_offset.get()
    }

    /// The base offset of the segment `offset` falls in.
    pub(crate) fn segment_base_of(&self, offset: u64) -> u64 {
        let first = self
            .segments
            .borrow()
            .keys()
            .next()
            .copied()
            .unwrap_or(offset);
        assert!(offset >= first);
        first + (offset - first) / self.segment_size * self.segment_size
    }

    async fn reserve(&self, offset: u64, size: usize, limit: u64) -> Result<(), PutError> {
        loop {
            self.check_failed()?;
            let storage = &self.storage;
            let reserve = self
                .buffers
                .borrow_mut()
                .reserve(offset, size, limit, |len| storage.alloc_buffer(len));
            match reserve {
                Reserve::Ready => return Ok(()),
                // Every buffer is queued or in flight: help write them, or wait for it.
                Reserve::NoBuffer => self.write_or_wait(self.written.get() + 1).await,
            }
        }
    }

    fn check_failed(&self) -> Result<(), PutError> {
        match &*self.failure.borrow() {
            Some(reason) => Err(PutError::Io(reason.clone())),
            None => Ok(()),
        }
    }

    fn fail(&self, reason: &str) -> PutError {
        tracing::error!(
            reason,
            "CommitLog I/O failed; refusing writes until reopened"
        );
        self.failure
            .borrow_mut()
            .get_or_insert_with(|| reason.to_string());
        self.buffers.borrow_mut().clear();
        self.written.notify_all();
        self.flushed.notify_all();
        PutError::Io(reason.to_string())
    }

    /// Resolves once `[.., end)` is in the kernel (ASYNC_FLUSH acknowledgement).
    pub async fn wait_written(&self, end: u64) -> Result<(), PutError> {
        loop {
            // A record written before a later write failed is acknowledged: it is in the
            // kernel, and every record before it too.
            if self.written.get() >= end {
                return Ok(());
            }
            self.check_failed()?;
            self.write_or_wait(end).await;
        }
    }

    /// Issues the next write that may go and awaits it, or else sleeps until a write
    /// completes (or this waiter is woken to issue one).
    async fn write_or_wait(&self, target: u64) {
        self.write_or_wait_until(target, None).await;
    }

    async fn write_or_wait_until(&self, target: u64, deadline_ms: Option<i64>) {
        let idle = self.writes_in_flight.get() == 0;
        let write = self.buffers.borrow_mut().next_write(idle);
        let Some(write) = write else {
            // A buffer may have completed without a write (its data all carried on).
            self.publish_written();
            self.wait_progress(&self.written, target, deadline_ms).await;
            return;
        };
        self.writes_in_flight.set(self.writes_in_flight.get() + 1);
        if self.buffers.borrow().has_write_ready(false) {
            self.written.kick_one(); // Another write may go at once: wake its issuer.
        }
        let (base, segment) = self
            .segment_containing(write.offset)
            .expect("segment of a sealed buffer");
        let result = segment
            .write_at(write.buf, write.offset - base, write.urgent)
            .await;
        self.writes_in_flight.set(self.writes_in_flight.get() - 1);
        if let Err(error) = result {
            self.fail(&format!("CommitLog write: {error}"));
            return;
        }
        if self.failure.borrow().is_some() {
            return;
        }
        self.buffers.borrow_mut().complete_write(write.offset);
        self.publish_written();
    }

    /// Moves the written offset to what the buffers say is on disk, wakes the waiters it
    /// reaches, and one more if a write is ready to go.
    fn publish_written(&self) {
        let (written_end, ready) = {
            let buffers = self.buffers.borrow();
            let idle = self.writes_in_flight.get() == 0;
            (buffers.written_end(), buffers.has_write_ready(idle))
        };
        let advanced = written_end > self.written.get();
        if advanced {
            self.written.set(written_end);
        }
        if advanced || ready {
            self.written.notify(ready);
        }
    }

    /// Resolves once `[.., end)` is durable (SYNC_FLUSH acknowledgement). One fdatasync
    /// serves every waiter whose record was written before it started.
    pub async fn wait_flushed(&self, end: u64) -> Result<(), PutError> {
        self.wait_flushed_until(end, None).await.map(|_| ())
    }

    /// [`CommitLog::wait_flushed`] that gives up waiting at `deadline_ms` (store clock;
    /// `syncFlushTimeout`). True if `[.., end)` became durable by then. A waiter that is
    /// issuing a write or leading an fdatasync finishes it first: that work is never
    /// abandoned, or the written offset could never move past it.
    pub async fn wait_flushed_until(
        &self,
        end: u64,
        deadline_ms: Option<i64>,
    ) -> Result<bool, PutError> {
        let in_time = |now: i64| deadline_ms.is_none_or(|deadline| now <= deadline);
        loop {
            if self.flushed.get() >= end {
                return Ok(in_time(self.storage.now_ms()));
            }
            self.check_failed()?;
            if !in_time(self.storage.now_ms()) {
                return Ok(false);
            }
            if self.written.get() < end {
                self.write_or_wait_until(end, deadline_ms).await;
            } else if self.flush_leader.get() {
                self.wait_progress(&self.flushed, end, deadline_ms).await;
            } else {
                self.lead_flush().await;
            }
        }
    }

    /// Sleeps until `progress` reaches `target` or this waiter is kicked, or until the
    /// deadline. A wait given up at the deadline passes any kick it got on.
    async fn wait_progress(&self, progress: &Progress, target: u64, deadline_ms: Option<i64>) {
        let Some(deadline) = deadline_ms else {
            return progress.wait(target).await;
        };
        let left = deadline - self.storage.now_ms();
        if left > 0 {
            let sleep = self.storage.sleep_ms(left as u64);
            futures_lite::future::or(progress.wait(target), sleep).await;
        }
    }

    async fn lead_flush(&self) {
        self.flush_leader.set(true);
        let from = self.flushed.get();
        let upto = self.written.get();
        let segment_size = self.segment_size;
        let dirty: Vec<_> = self
            .segments
            .borrow()
            .iter()
            .filter(|(base, _)| **base < upto && from < **base + segment_size)
            .map(|(_, segment)| segment.clone())
            .collect();
        // Every segment holding data below `upto` was inserted before this read.
        let dir_unsynced = self.dir_unsynced.replace(false);
        let mut failed = None;
        for segment in dirty {
            if let Err(error) = segment.sync_data().await {
                failed = Some(format!("CommitLog fdatasync: {error}"));
                break;
            }
        }
        if failed.is_none() && dir_unsynced {
            if let Err(error) = self.storage.sync_dir(&self.dir).await {
                failed = Some(format!("CommitLog directory fsync: {error}"));
            }
        }
        self.flush_leader.set(false);
        if let Some(reason) = failed {
            self.fail(&reason);
            return;
        }
        if upto > self.flushed.get() {
            self.flushed.set(upto);
        }
        self.flushed.notify(true);
    }

    /// Writes and syncs everything appended so far.
    pub async fn flush(&self) -> Result<(), PutError> {
        let end = self.append_offset.get();
        self.wait_written(end).await?;
        self.wait_flushed(self.written.get()).await
    }

    /// Reads `[offset, offset + len)`, from the write buffers if they still hold it, else
    /// from the segment file (one segment: a record never crosses a segment end). Only
    /// written data is served.
    pub async fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = offset.checked_add(len as u64).ok_or_else(gone)?;
        if end > self.written.get() || offset < self.min_offset() {
            return Err(gone());
        }
        if let Some(bytes) = self.buffers.borrow().read(offset, len) {
            return Ok(bytes.to_vec());
        }
        let (base, segment) = self.segment_containing(offset).ok_or_else(gone)?;
        if end > base + self.segment_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range spans two segments",
            ));
        }
        segment.read_at(offset - base, len).await
    }

    /// Reads the whole message record that starts at `offset`, or fails with `InvalidData`
    /// if none does. The offset may come from a client (viewMessageById) or a damaged
    /// index, so the record's own TOTALSIZE is trusted only up to `size_max` (the largest
    /// record a put accepts): the bytes must carry a message MAGIC, decode whole inside
    /// one segment, pass the body CRC and name `offset` as their PHYSICALOFFSET.
    pub async fn read_record(&self, offset: u64, size_max: usize) -> io::Result<Vec<u8>> {
        let head = self.read(offset, 8).await?;
        let size = i32::from_be_bytes(head[..4].try_into().unwrap());
        let magic = i32::from_be_bytes(head[4..8].try_into().unwrap());
        if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
            return Err(no_record(format!("magic {magic:#010x}")));
        }
        if size <= 8 || size as usize > size_max {
            return Err(no_record(format!("TOTALSIZE {size}, at most {size_max}")));
        }
        // `read` refuses a range past the written end or across a segment end.
        let bytes = self.read(offset, size as usize).await?;
        let record = decode_record(&bytes, true).map_err(|error| no_record(error.to_string()))?;
        if record.total_size != bytes.len() {
            return Err(no_record(format!("decodes as {} bytes", record.total_size)));
        }
        if record.stamp.physical_offset != offset as i64 {
            let named = record.stamp.physical_offset;
            return Err(no_record(format!("PHYSICALOFFSET field says {named}")));
        }
        Ok(bytes)
    }

    /// Drops the oldest segment (retention) and returns its file for the caller to remove
    /// off the shard's thread. The newest one is never dropped.
    pub fn forget_oldest_segment(&self) -> Option<PathBuf> {
        let mut segments = self.segments.borrow_mut();
        if segments.len() <= 1 {
            return None;
        }
        let (base, _) = segments.pop_first().unwrap();
        self.read_cache.forget_below(base + self.segment_size);
        Some(self.dir.join(offset_to_file_name(base)))
    }
}

fn no_record(reason: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("no message record starts here: {reason}"),
    )
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "offset not in the CommitLog")
}
