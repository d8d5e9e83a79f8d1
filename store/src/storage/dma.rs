//! The real storage: glommio DMA (O_DIRECT over io_uring) for CommitLog segments, a second,
//! buffered descriptor per segment for reads through the page cache, and mmap for the
//! small in-place files. Must be used inside a glommio executor.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use glommio::io::{BufferedFile, DmaBuffer, DmaFile, OpenOptions as GlommioOpenOptions};

use super::zero_ahead::ZeroAhead;
use super::{whole_pages, IoBuffer, MappedFile, SegmentFile, SegmentOptions, Storage};

type DiskUsageProbe = Rc<dyn Fn(&Path) -> io::Result<u32>>;

#[derive(Clone)]
pub struct DmaStorage {
    disk_usage_probe: Option<DiskUsageProbe>,
    direct_io_refused: Rc<Cell<bool>>,
}

impl DmaStorage {
    pub fn new() -> Self {
        log_buffer_registration_case();
        Self {
            disk_usage_probe: None,
            direct_io_refused: Rc::new(Cell::new(false)),
        }
    }

    /// Replaces statvfs, so disk-full handling can be tested on a real store.
    pub fn with_disk_usage_probe(probe: impl Fn(&Path) -> io::Result<u32> + 'static) -> Self {
        Self {
            disk_usage_probe: Some(Rc::new(probe)),
            ..Self::new()
        }
    }
}

impl Default for DmaStorage {
    fn default() -> Self {
        Self::new()
    }
}

/// glommio registers its io_memory in three rings; that needs CAP_IPC_LOCK or a memlock
/// limit of about 3x io_memory, and without either it silently uses plain buffers. Say
/// which case this is once, so a slow benchmark is not a mystery.
fn log_buffer_registration_case() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let cap_eff = status
            .lines()
            .find_map(|line| line.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        const CAP_IPC_LOCK: u64 = 14;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
        if cap_eff & (1 << CAP_IPC_LOCK) != 0 {
            tracing::info!("store: CAP_IPC_LOCK present, write buffers are io_uring-registered");
        } else {
            tracing::warn!(
                memlock_bytes = limit.rlim_cur,
                "store: no CAP_IPC_LOCK; buffers are registered only if 3x io_memory fits in \
                 RLIMIT_MEMLOCK, else glommio falls back to unregistered buffers (slower writes)"
            );
        }
    });
}

impl IoBuffer for DmaBuffer {
    fn as_bytes(&self) -> &[u8] {
        DmaBuffer::as_bytes(self)
    }
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        DmaBuffer::as_bytes_mut(self)
    }
    fn trim_to_size(&mut self, len: usize) {
        DmaBuffer::trim_to_size(self, len)
    }
}

enum SegmentWriter {
    /// Shared with the zero-ahead's writes.
    Direct(Rc<DmaFile>),
    /// O_DIRECT was refused (tmpfs, some overlays): same semantics through the page cache.
    Buffered(BufferedFile),
}

pub struct DmaSegment {
    writer: SegmentWriter,
    reader: BufferedFile,
    /// O_DIRECT segments with `zeroAheadBytes` > 0.
    pub(super) zero_ahead: Option<ZeroAhead>,
}

impl SegmentFile for DmaSegment {
    type Buffer = DmaBuffer;

    async fn write_at(&self, buf: Rc<DmaBuffer>, pos: u64, urgent: bool) -> io::Result<()> {
        let len = buf.len();
        if let Some(zero_ahead) = &self.zero_ahead {
            zero_ahead.before_write(pos, pos + len as u64).await;
        }
        let written = match &self.writer {
            SegmentWriter::Direct(file) => {
                if urgent {
                    file.write_rc_at_rushed(buf, pos).await?
                } else {
                    file.write_rc_at(buf, pos).await?
                }
            }
            SegmentWriter::Buffered(file) => {
                let bytes = buf.as_bytes().to_vec();
                if urgent {
                    file.write_at_rushed(bytes, pos).await?
                } else {
                    file.write_at(bytes, pos).await?
                }
            }
        };
        if written != len {
            // A short O_DIRECT write means the device is full; the tail is now unknown.
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {written} of {len} bytes at {pos}"),
            ));
        }
        Ok(())
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        let result = self.reader.read_at(pos, len).await?;
        if result.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read {} of {len} bytes at {pos}", result.len()),
            ));
        }
        Ok(result[..len].to_vec())
    }

    async fn read_chunk(&self, pos: u64, len: usize, direct: bool) -> io::Result<Vec<u8>> {
        let SegmentWriter::Direct(file) = &self.writer else {
            return self.read_at(pos, len).await;
        };
        if !direct {
            // io_uring serves a page-cache miss from its worker threads: the shard's
            // thread never waits for the device here either.
            return self.read_at(pos, len).await;
        }
        // One O_DIRECT request into glommio's aligned buffer, then one copy into plain
        // memory: the chunk's slices travel to other shards (pull answers cross the
        // mesh), and glommio's buffers may not leave this thread.
        let result = file.read_at_aligned(pos, len).await?;
        if result.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read {} of {len} bytes at {pos}", result.len()),
            ));
        }
        Ok(result[..len].to_vec())
    }

    async fn sync_data(&self) -> io::Result<()> {
        match &self.writer {
            SegmentWriter::Direct(file) => file.fdatasync().await?,
            SegmentWriter::Buffered(file) => file.fdatasync().await?,
        }
        Ok(())
    }

    async fn zero_from(&self, from: u64) -> io::Result<()> {
        let fd = self.write_fd();
        // SAFETY: fstat/fallocate on a descriptor we own.
        let len = unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut stat) != 0 {
                return Err(io::Error::last_os_error());
            }
            stat.st_size as u64
        };
        if from >= len {
            return Ok(());
        }
        let mode = libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE;
        // SAFETY: as above. ZERO_RANGE keeps the blocks allocated, so later appends into
        // this range stay as fast as into a fresh preallocated segment.
        let rc = unsafe { libc::fallocate(fd, mode, from as i64, (len - from) as i64) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl DmaSegment {
    fn write_fd(&self) -> RawFd {
        match &self.writer {
            SegmentWriter::Direct(file) => file.as_raw_fd(),
            SegmentWriter::Buffered(file) => file.as_raw_fd(),
        }
    }
}

/// A shared mapping of a whole file. Held by an `Arc` so an msync running on the
/// blocking thread pool keeps the mapping alive even if the store drops the file meanwhile.
pub struct Mmap {
    region: Arc<MmapRegion>,
    touched: Cell<bool>,
}

struct MmapRegion {
    ptr: NonNull<u8>,
    len: usize,
    _file: File,
    /// A new file's directory entry is made durable with its first msync, off the
    /// shard's thread, instead of when dispatch creates the file.
    parent_dir_unsynced: Mutex<Option<PathBuf>>,
}

// SAFETY: the region is plain shared memory plus a descriptor. The shard's thread is the
// only writer (through `&mut Mmap`); other threads only msync it, which the kernel allows
// concurrently with writes.
unsafe impl Send for MmapRegion {}
unsafe impl Sync for MmapRegion {}

impl MmapRegion {
    /// Blocking: msync(MS_SYNC) of the whole mapping, after the parent directory if new.
    fn sync_blocking(&self) -> io::Result<()> {
        let parent = self.parent_dir_unsynced.lock().unwrap().take();
        if let Some(parent) = parent {
            if let Err(error) = File::open(&parent).and_then(|dir| dir.sync_all()) {
                *self.parent_dir_unsynced.lock().unwrap() = Some(parent);
                return Err(error);
            }
        }
        #[cfg(test)]
        tests::note_sync_thread();
        // SAFETY: the whole mapping, which lives as long as self.
        let rc = unsafe { libc::msync(self.ptr.as_ptr().cast(), self.len, libc::MS_SYNC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Blocking: madvise(MADV_DONTNEED) of whole pages `start..end` of the mapping. On a
    /// shared file mapping this only unmaps them: the page cache keeps the data (dirty
    /// pages stay dirty) and the next access faults it back in.
    fn release_blocking(&self, start: usize, end: usize) -> io::Result<()> {
        // No assert here: a panic on the blocking pool never answers the awaiting task.
        if start >= end || end > self.len.next_multiple_of(page_bytes()) {
            return Err(io::Error::other(format!(
                "release of {start}..{end} outside a {}-byte mapping",
                self.len
            )));
        }
        // SAFETY: a page-aligned range inside the mapping, which lives as long as self.
        let rc = unsafe {
            libc::madvise(
                self.ptr.as_ptr().add(start).cast(),
                end - start,
                libc::MADV_DONTNEED,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The kernel's page size: madvise takes only ranges aligned to it.
fn page_bytes() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf reads a constant of the running kernel.
    *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as usize,
        _ => 4096,
    })
}

impl MappedFile for Mmap {
    fn len_bytes(&self) -> u64 {
        self.region.len as u64
    }

    fn read(&self, pos: u64, dst: &mut [u8]) {
        self.touched.set(true);
        let pos = pos as usize;
        assert!(
            pos + dst.len() <= self.region.len,
            "mapped read past the end"
        );
        // SAFETY: in bounds (asserted), and the mapping lives as long as self.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.region.ptr.as_ptr().add(pos),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
    }

    fn write(&mut self, pos: u64, src: &[u8]) {
        self.touched.set(true);
        let pos = pos as usize;
        assert!(
            pos + src.len() <= self.region.len,
            "mapped write past the end"
        );
        // SAFETY: in bounds (asserted); &mut self makes this the only writer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.region.ptr.as_ptr().add(pos),
                src.len(),
            )
        };
    }

    fn sync(&self) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        // msync(MS_SYNC) blocks for as long as the device takes; on the shard's thread it
        // would stall every connection of the shard, so it runs on glommio's blocking
        // pool (one thread per executor unless the builder says otherwise).
        let region = self.region.clone();
        async move {
            glommio::executor()
                .spawn_blocking(move || region.sync_blocking())
                .await
        }
    }

    fn touched(&self) -> bool {
        self.touched.get()
    }

    fn release_resident(
        &self,
        range: Range<u64>,
    ) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        self.touched.set(false);
        let (start, end) = whole_pages(range, self.region.len as u64, page_bytes() as u64);
        let (start, end) = (start as usize, end as usize);
        let region = (start < end).then(|| self.region.clone());
        async move {
            match region {
                Some(region) => {
                    glommio::executor()
                        .spawn_blocking(move || region.release_blocking(start, end))
                        .await
                }
                None => Ok(()),
            }
        }
    }
}

impl Drop for MmapRegion {
    fn drop(&mut self) {
        #[cfg(test)]
        tests::note_munmap_thread();
        // SAFETY: unmapping exactly what `map_file` mapped.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl Storage for DmaStorage {
    type Buffer = DmaBuffer;
    type Segment = DmaSegment;
    type Mapped = Mmap;

    fn alloc_buffer(&self, len: usize) -> DmaBuffer {
        // From the executor's registered io_memory while it lasts, else plain aligned memory.
        glommio::allocate_dma_buffer(len)
    }

    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    async fn sleep_ms(&self, ms: u64) {
        glommio::timer::sleep(std::time::Duration::from_millis(ms)).await;
    }

    fn spawn_detached(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
        glommio::spawn_local(task).detach();
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        let modified = std::fs::metadata(path)?.modified()?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn create_empty_file(&self, path: &Path) -> io::Result<()> {
        File::create(path)?.sync_all()?;
        sync_parent_dir(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)?;
        sync_parent_dir(path)
    }

    fn extend_file(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        if file.metadata()?.len() < len {
            file.set_len(len)?;
            file.sync_all()?;
        }
        Ok(())
    }

    fn disk_used_percent(&self, path: &Path) -> io::Result<u32> {
        if let Some(probe) = &self.disk_usage_probe {
            return probe(path);
        }
        disk_used_percent_statvfs(path)
    }

    async fn open_segment(
        &self,
        path: &Path,
        size: u64,
        segment_options: SegmentOptions,
    ) -> io::Result<DmaSegment> {
        let existed = path.exists();
        let mut options = GlommioOpenOptions::new();
        options.read(true).write(true).create(true);
        let writer = if !segment_options.direct {
            SegmentWriter::Buffered(options.buffered_open(path).await?)
        } else {
            match options.dma_open(path).await {
                Ok(file) => SegmentWriter::Direct(Rc::new(file)),
                Err(error) => {
                    if !self.direct_io_refused.replace(true) {
                        tracing::warn!(
                            path = %path.display(), %error,
                            "store: O_DIRECT open failed (tmpfs or overlay?); CommitLog falls back \
                             to buffered I/O: same durability rules, one more copy per write"
                        );
                    }
                    SegmentWriter::Buffered(options.buffered_open(path).await?)
                }
            }
        };
        if !existed {
            // Preallocate so appends never extend the file (no metadata update per write).
            match &writer {
                SegmentWriter::Direct(file) => file.pre_allocate(size, false).await?,
                SegmentWriter::Buffered(file) => file.pre_allocate(size, false).await?,
            }
        }
        let zero_ahead = match &writer {
            SegmentWriter::Direct(file) if segment_options.zero_ahead > 0 => {
                let zero_ahead = ZeroAhead::new(file.clone(), size, segment_options.zero_ahead, 0);
                if !existed {
                    // Nothing to protect in a new file: its first appends find zeros.
                    zero_ahead.start();
                }
                // An existing file (recovered, or created ahead before a restart) starts
                // zeroing past its first write: whatever it holds before that is kept.
                Some(zero_ahead)
            }
            _ => None,
        };
        let reader = BufferedFile::open(path).await?;
        Ok(DmaSegment {
            writer,
            reader,
            zero_ahead,
        })
    }

    async fn remove_files(&self, paths: Vec<PathBuf>, mappings: Vec<Mmap>) -> io::Result<()> {
        if paths.is_empty() && mappings.is_empty() {
            return Ok(());
        }
        glommio::executor()
            .spawn_blocking(move || {
                // Unmapped here, not on the shard (unless an msync in flight still holds
                // a region: its task drops it when done, also on this pool).
                drop(mappings);
                let mut dirs = std::collections::BTreeSet::new();
                for path in &paths {
                    std::fs::remove_file(path)?;
                    dirs.extend(path.parent().map(Path::to_path_buf));
                }
                dirs.iter().try_for_each(|dir| File::open(dir)?.sync_all())
            })
            .await
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let dir = dir.to_path_buf();
        glommio::executor()
            .spawn_blocking(move || File::open(dir)?.sync_all())
            .await
    }

    fn map_file(&self, path: &Path, len: u64) -> io::Result<Mmap> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if !existed || file.metadata()?.len() < len {
            file.set_len(len)?;
        }
        assert!(len > 0, "cannot map an empty file");
        // SAFETY: a fresh shared mapping of a file at least `len` long.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let parent_dir_unsynced = path.parent().filter(|_| !existed).map(Path::to_path_buf);
        let region = MmapRegion {
            ptr: NonNull::new(ptr.cast()).unwrap(),
            len: len as usize,
            _file: file,
            parent_dir_unsynced: Mutex::new(parent_dir_unsynced),
        };
        Ok(Mmap {
            region: Arc::new(region),
            touched: Cell::new(false),
        })
    }
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

fn disk_used_percent_statvfs(path: &Path) -> io::Result<u32> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: statvfs fills the struct we pass.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stat) != 0 {
            return Err(io::Error::last_os_error());
        }
        stat
    };
    // As df: blocks in use over blocks usable by us (reserved root blocks excluded).
    let used = stat.f_blocks.saturating_sub(stat.f_bfree);
    let usable = used + stat.f_bavail;
    if usable == 0 {
        return Ok(0);
    }
    Ok(((used as u128 * 100).div_ceil(usable as u128)) as u32)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use glommio::{LocalExecutorBuilder, Placement};

    use super::*;

    static SYNC_THREADS: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());
    static MUNMAP_THREADS: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());

    pub(super) fn note_munmap_thread() {
        MUNMAP_THREADS
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }

    pub(super) fn note_sync_thread() {
        SYNC_THREADS
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }

    #[test]
    fn msync_runs_off_the_executor_thread_and_keeps_the_mapping_alive() {
        // Proves a mapped file's msync (and a new file's directory fsync) runs on the
        // blocking pool, not on the shard's thread, and that dropping the file while the
        // msync is pending is safe.
        let dir = std::env::temp_dir().join(format!("ramjet-dma-msync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mapped");
        let executor_thread = LocalExecutorBuilder::new(Placement::Unbound)
            .make()
            .unwrap()
            .run({
                let path = path.clone();
                async move {
                    let storage = DmaStorage::new();
                    let mut file = storage.map_file(&path, 4096).unwrap();
                    file.write(100, b"durable");
                    file.sync().await.unwrap();
                    file.write(200, b"again");
                    let pending = file.sync();
                    drop(file);
                    pending.await.unwrap();
                    std::thread::current().id()
                }
            });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[100..107], b"durable");
        assert_eq!(&bytes[200..205], b"again");
        let threads = SYNC_THREADS.lock().unwrap().clone();
        assert_eq!(threads.len(), 2);
        assert!(threads.iter().all(|thread| *thread != executor_thread));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Resident kB of `file`'s mapping, from /proc/self/smaps.
    fn mapping_rss_kb(file: &Mmap) -> u64 {
        let start = format!("{:x}-", file.region.ptr.as_ptr() as usize);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines().skip_while(|line| !line.starts_with(&start));
        assert!(lines.next().is_some(), "mapping not in /proc/self/smaps");
        let rss = lines.find(|line| line.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn released_pages_leave_the_rss_and_keep_their_data() {
        // Proves what the broker's memory bound rests on: after a release the mapping
        // holds no resident page, yet every byte written (not synced) reads back, through
        // the mapping and through the file; a partial range releases only whole pages.
        let dir = std::env::temp_dir().join(format!("ramjet-dma-release-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mapped");
        const LEN: usize = 1 << 20;
        let pattern: Vec<u8> = (0..LEN).map(|at| (at % 251) as u8).collect();
        LocalExecutorBuilder::new(Placement::Unbound)
            .make()
            .unwrap()
            .run({
                let (path, pattern) = (path.clone(), pattern.clone());
                async move {
                    let storage = DmaStorage::new();
                    let mut file = storage.map_file(&path, LEN as u64).unwrap();
                    assert!(!file.touched());
                    file.write(0, &pattern);
                    assert!(file.touched());
                    assert_eq!(mapping_rss_kb(&file), 1024);
                    file.release_resident(0..LEN as u64).await.unwrap();
                    assert!(!file.touched());
                    assert_eq!(mapping_rss_kb(&file), 0);
                    assert_eq!(
                        std::fs::read(&path).unwrap(),
                        pattern,
                        "the page cache kept it"
                    );
                    let mut back = vec![0; LEN];
                    file.read(0, &mut back);
                    assert!(back == pattern && file.touched(), "mapped back on access");
                    assert_eq!(mapping_rss_kb(&file), 1024);
                    file.release_resident(4097..3 * 4096 + 5).await.unwrap();
                    assert_eq!(mapping_rss_kb(&file), 1024 - 4, "only 8192..12288 is whole");
                    file.release_resident(10..4000).await.unwrap();
                    assert_eq!(mapping_rss_kb(&file), 1024 - 4, "no whole page inside");
                    // A file ending inside a page: its last page goes with a range to the end.
                    let mut odd = storage.map_file(&path.with_extension("odd"), 5000).unwrap();
                    odd.write(0, &pattern[..5000]);
                    assert_eq!(mapping_rss_kb(&odd), 8);
                    odd.release_resident(0..5000).await.unwrap();
                    assert_eq!(mapping_rss_kb(&odd), 0);
                    let mut back = vec![0; 5000];
                    odd.read(0, &mut back);
                    assert_eq!(back, pattern[..5000]);
                }
            });
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_unmaps_and_unlinks_off_the_executor_thread() {
        let dir = std::env::temp_dir().join(format!("ramjet-dma-remove-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let paths = [dir.join("expired-cq"), dir.join("expired-index")];
        let executor_thread = LocalExecutorBuilder::new(Placement::Unbound)
            .make()
            .unwrap()
            .run({
                let paths = paths.clone();
                async move {
                    let storage = DmaStorage::new();
                    let mappings: Vec<Mmap> = paths
                        .iter()
                        .map(|path| {
                            let mut file = storage.map_file(path, 1 << 20).unwrap();
                            file.write(0, b"resident");
                            file
                        })
                        .collect();
                    let mapped_here = MUNMAP_THREADS.lock().unwrap().len();
                    storage
                        .remove_files(paths.to_vec(), mappings)
                        .await
                        .unwrap();
                    assert!(MUNMAP_THREADS.lock().unwrap().len() >= mapped_here + 2);
                    std::thread::current().id()
                }
            });
        assert!(paths.iter().all(|path| !path.exists()));
        let threads = MUNMAP_THREADS.lock().unwrap().clone();
        assert!(threads.len() >= 2);
        assert!(
            threads.iter().all(|thread| *thread != executor_thread),
            "a mapping was released on the shard's thread"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
