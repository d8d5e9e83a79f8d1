//! An in-memory file system for deterministic simulation (style.md §8).
//!
//! Every file keeps two images: what reads see, and what would survive power loss. Writes
//! land in the first and are queued; `sync` moves them to the second. A segment write
//! stays in flight for a random number of polls, so concurrent writes complete (and are
//! queued) in any order, as O_DIRECT writes do; two in-flight writes sharing a byte are
//! a bug in the caller and panic. [`SimStorage::crash`]
//! keeps a random prefix of each file's queued writes, may tear the next one at a sector
//! boundary, drops the rest, and invalidates every open handle, just as a power cut does
//! to a process. All randomness comes from the seed, so `SEED=<n>` replays a run exactly.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{IoBuffer, MappedFile, SegmentFile, SegmentOptions, Storage};

/// Failure rates, in parts per million of operations.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimFaults {
    pub write_error_ppm: u32,
    pub sync_error_ppm: u32,
    /// On crash, tear the first dropped write of a file (part of its sectors reach disk).
    pub torn_writes: bool,
}

#[derive(Clone)]
pub struct SimStorage {
    disk: Rc<RefCell<SimDisk>>,
}

struct SimDisk {
    files: BTreeMap<PathBuf, SimFile>,
    dirs: BTreeSet<PathBuf>,
    rng: SplitMix64,
    faults: SimFaults,
    clock_ms: i64,
    /// Bumped by a crash; handles from before it fail every operation.
    generation: u64,
    disk_used_percent: u32,
    /// Segment writes issued and not yet completed: `(path, start, end)`.
    writes_in_flight: Vec<(PathBuf, u64, u64)>,
    /// Simulated ms each segment fdatasync takes (a slow or stalled disk).
    sync_stall_ms: i64,
    /// Files that cannot be opened, mapped or created (a bad block, a broken directory).
    broken_paths: BTreeSet<PathBuf>,
    /// Bytes of each mapped file released by [`MappedFile::release_resident`].
    released: BTreeMap<PathBuf, u64>,
}

struct SimFile {
    data: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<(u64, Vec<u8>)>,
    modified_ms: i64,
}

/// A tiny PRNG so the crate needs no `rand`; quality is ample for fault injection.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next() % bound
        }
    }
}

impl SimStorage {
    pub fn new(seed: u64, faults: SimFaults) -> Self {
        let disk = SimDisk {
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            rng: SplitMix64(seed),
            faults,
            clock_ms: 1_700_000_000_000,
            generation: 0,
            disk_used_percent: 10,
            writes_in_flight: Vec::new(),
            sync_stall_ms: 0,
            broken_paths: BTreeSet::new(),
            released: BTreeMap::new(),
        };
        Self {
            disk: Rc::new(RefCell::new(disk)),
        }
    }

    /// Power loss: see the module comment. Returns how many queued writes were dropped.
    pub fn crash(&self) -> usize {
        let mut disk = self.disk.borrow_mut();
        let disk = &mut *disk;
        disk.generation += 1;
        disk.writes_in_flight.clear();
        let mut dropped = 0;
        for file in disk.files.values_mut() {
            let unsynced = std::mem::take(&mut file.unsynced);
            let kept = disk.rng.below(unsynced.len() as u64 + 1) as usize;
            for (at, (pos, bytes)) in unsynced.iter().enumerate() {
                let bytes = if at < kept {
                    &bytes[..]
                } else if at == kept && disk.faults.torn_writes {
                    let sectors = bytes.len().div_ceil(512) as u64;
                    &bytes[..(disk.rng.below(sectors) as usize * 512).min(bytes.len())]
                } else {
                    dropped += 1;
                    continue;
                };
                write_into(&mut file.durable, *pos, bytes);
            }
            file.data = file.durable.clone();
        }
        dropped
    }

    pub fn set_faults(&self, faults: SimFaults) {
        self.disk.borrow_mut().faults = faults;
    }

    pub fn set_disk_used_percent(&self, percent: u32) {
        self.disk.borrow_mut().disk_used_percent = percent;
    }

    pub fn advance_clock(&self, ms: i64) {
        self.disk.borrow_mut().clock_ms += ms;
    }

    /// Makes every segment fdatasync take `ms` of simulated time from now on.
    pub fn set_sync_stall_ms(&self, ms: i64) {
        self.disk.borrow_mut().sync_stall_ms = ms;
    }

    /// Lets `ms` of simulated time pass. Time only moves while somebody waits: each poll
    /// of a waiting future advances the clock by 1 ms, so `block_on` runs it to the end.
    async fn pass_ms(&self, ms: i64) {
        let deadline = self.disk.borrow().clock_ms + ms;
        std::future::poll_fn(|cx| {
            let mut disk = self.disk.borrow_mut();
            if disk.clock_ms >= deadline {
                return std::task::Poll::Ready(());
            }
            disk.clock_ms += 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await;
    }

    /// Makes opening or mapping `path` fail from now on (`false` heals it).
    pub fn set_path_broken(&self, path: &Path, broken: bool) {
        let mut disk = self.disk.borrow_mut();
        if broken {
            disk.broken_paths.insert(path.to_path_buf());
        } else {
            disk.broken_paths.remove(path);
        }
    }

    fn check_not_broken(&self, path: &Path) -> io::Result<()> {
        if self.disk.borrow().broken_paths.contains(path) {
            return Err(io::Error::other(format!(
                "sim: injected failure opening {}",
                path.display()
            )));
        }
        Ok(())
    }

    /// Corrupts a file directly (for corruption tests): the change is durable.
    pub fn poke(&self, path: &Path, pos: u64, bytes: &[u8]) {
        let mut disk = self.disk.borrow_mut();
        let file = disk.files.get_mut(path).expect("poke: no such file");
        write_into(&mut file.data, pos, bytes);
        write_into(&mut file.durable, pos, bytes);
    }

    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.disk
            .borrow()
            .files
            .get(path)
            .map(|file| file.data.clone())
    }

    fn generation(&self) -> u64 {
        self.disk.borrow().generation
    }

    /// Bytes of `path`'s mapping released so far ([`MappedFile::release_resident`]).
    pub fn released_bytes(&self, path: &Path) -> u64 {
        self.disk.borrow().released.get(path).copied().unwrap_or(0)
    }

    fn check(&self, generation: u64) -> io::Result<()> {
        if self.disk.borrow().generation != generation {
            return Err(io::Error::other("sim: handle from before a crash"));
        }
        Ok(())
    }

    fn fault(&self, ppm: impl Fn(&SimFaults) -> u32) -> io::Result<()> {
        let mut disk = self.disk.borrow_mut();
        let rate = ppm(&disk.faults);
        if rate > 0 && disk.rng.below(1_000_000) < u64::from(rate) {
            return Err(io::Error::other("sim: injected I/O error"));
        }
        Ok(())
    }

    /// Registers an in-flight segment write; returns for how many polls it stays pending.
    fn begin_write(&self, path: &Path, start: u64, end: u64) -> u64 {
        let mut disk = self.disk.borrow_mut();
        let overlapping = disk
            .writes_in_flight
            .iter()
            .find(|(other, from, to)| other == path && start < *to && *from < end);
        if let Some((_, from, to)) = overlapping {
            panic!(
                "sim: write [{start}, {end}) of {} overlaps the in-flight write [{from}, {to})",
                path.display()
            );
        }
        disk.writes_in_flight.push((path.to_path_buf(), start, end));
        disk.rng.below(4)
    }

    fn end_write(&self, path: &Path, start: u64) {
        let mut disk = self.disk.borrow_mut();
        let at = disk
            .writes_in_flight
            .iter()
            .position(|(other, from, _)| other == path && *from == start);
        if let Some(at) = at {
            disk.writes_in_flight.remove(at);
        }
    }

    fn write(&self, path: &Path, pos: u64, bytes: &[u8]) {
        let mut disk = self.disk.borrow_mut();
        let now = disk.clock_ms;
        let file = disk
            .files
            .get_mut(path)
            .expect("sim: write to a removed file");
        write_into(&mut file.data, pos, bytes);
        file.unsynced.push((pos, bytes.to_vec()));
        file.modified_ms = now;
    }

    fn sync(&self, path: &Path) {
        let mut disk = self.disk.borrow_mut();
        if let Some(file) = disk.files.get_mut(path) {
            for (pos, bytes) in std::mem::take(&mut file.unsynced) {
                write_into(&mut file.durable, pos, &bytes);
            }
        }
    }

    fn create(&self, path: &Path, len: u64) {
        let mut disk = self.disk.borrow_mut();
        let now = disk.clock_ms;
        disk.files
            .entry(path.to_path_buf())
            .or_insert_with(|| SimFile {
                data: vec![0; len as usize],
                durable: vec![0; len as usize],
                unsynced: Vec::new(),
                modified_ms: now,
            });
    }
}

fn write_into(target: &mut Vec<u8>, pos: u64, bytes: &[u8]) {
    let end = pos as usize + bytes.len();
    if target.len() < end {
        target.resize(end, 0);
    }
    target[pos as usize..end].copy_from_slice(bytes);
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("sim: {} not found", path.display()),
    )
}

pub struct SimBuffer(Vec<u8>);

impl IoBuffer for SimBuffer {
    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn trim_to_size(&mut self, len: usize) {
        assert!(len <= self.0.len());
        self.0.truncate(len);
    }
}

pub struct SimSegment {
    storage: SimStorage,
    path: PathBuf,
    generation: u64,
}

impl SegmentFile for SimSegment {
    type Buffer = SimBuffer;

    async fn write_at(&self, buf: Rc<SimBuffer>, pos: u64, _urgent: bool) -> io::Result<()> {
        self.storage.check(self.generation)?;
        self.storage.fault(|faults| faults.write_error_ppm)?;
        let end = pos + buf.as_bytes().len() as u64;
        let polls = self.storage.begin_write(&self.path, pos, end);
        for _ in 0..polls {
            futures_lite::future::yield_now().await;
        }
        self.storage.end_write(&self.path, pos);
        // A crash while the write was in flight took it (and this handle) away.
        self.storage.check(self.generation)?;
        self.storage.write(&self.path, pos, buf.as_bytes());
        Ok(())
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        self.storage.check(self.generation)?;
        let disk = self.storage.disk.borrow();
        let file = disk
            .files
            .get(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        let end = pos as usize + len;
        if end > file.data.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sim: read past end",
            ));
        }
        Ok(file.data[pos as usize..end].to_vec())
    }

    async fn sync_data(&self) -> io::Result<()> {
        self.storage.check(self.generation)?;
        let stall_ms = self.storage.disk.borrow().sync_stall_ms;
        if stall_ms > 0 {
            self.storage.pass_ms(stall_ms).await;
            self.storage.check(self.generation)?;
        }
        self.storage.fault(|faults| faults.sync_error_ppm)?;
        self.storage.sync(&self.path);
        Ok(())
    }

    async fn zero_from(&self, from: u64) -> io::Result<()> {
        self.storage.check(self.generation)?;
        let len = self.storage.file_len(&self.path)?;
        if from < len {
            let zeros = vec![0; (len - from) as usize];
            self.storage.write(&self.path, from, &zeros);
        }
        Ok(())
    }
}

pub struct SimMapped {
    storage: SimStorage,
    path: PathBuf,
    generation: u64,
    len: u64,
    touched: Cell<bool>,
}

impl MappedFile for SimMapped {
    fn len_bytes(&self) -> u64 {
        self.len
    }

    fn read(&self, pos: u64, dst: &mut [u8]) {
        assert!(
            pos + dst.len() as u64 <= self.len,
            "mapped read past the end"
        );
        self.touched.set(true);
        let disk = self.storage.disk.borrow();
        let file = disk
            .files
            .get(&self.path)
            .expect("sim: mapped file removed");
        dst.copy_from_slice(&file.data[pos as usize..pos as usize + dst.len()]);
    }

    fn write(&mut self, pos: u64, src: &[u8]) {
        assert!(
            pos + src.len() as u64 <= self.len,
            "mapped write past the end"
        );
        self.touched.set(true);
        // A stale mapping after a crash must not touch the new disk image; a real process
        // would be dead by now.
        if self.storage.generation() == self.generation {
            self.storage.write(&self.path, pos, src);
        }
    }

    fn sync(&self) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        // Done now, so the future is ready at once (block_on keeps working): the writes
        // made before this call become durable, as they would by the future's end.
        let result = self.storage.check(self.generation);
        if result.is_ok() {
            self.storage.sync(&self.path);
        }
        std::future::ready(result)
    }

    fn touched(&self) -> bool {
        self.touched.get()
    }

    fn release_resident(
        &self,
        range: Range<u64>,
    ) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        // Nothing is resident in a simulation; the release is counted, whole pages only,
        // so tests can see what the store released.
        self.touched.set(false);
        let (start, end) = super::whole_pages(range, self.len, 4096);
        if start < end {
            let mut disk = self.storage.disk.borrow_mut();
            *disk.released.entry(self.path.clone()).or_default() += end - start;
        }
        std::future::ready(Ok(()))
    }
}

impl Storage for SimStorage {
    type Buffer = SimBuffer;
    type Segment = SimSegment;
    type Mapped = SimMapped;

    fn alloc_buffer(&self, len: usize) -> SimBuffer {
        // Garbage, not zeros, like a real allocation: padding must be zeroed explicitly.
        SimBuffer(vec![0xA5; len])
    }

    fn now_ms(&self) -> i64 {
        let mut disk = self.disk.borrow_mut();
        disk.clock_ms += 1;
        disk.clock_ms
    }

    async fn sleep_ms(&self, ms: u64) {
        self.pass_ms(ms as i64).await;
    }

    fn spawn_detached(&self, mut task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
        // Simulated I/O is always ready, so one poll runs a read-ahead to its end; a task
        // that would wait is dropped (read-ahead is only ever a hint).
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = task.as_mut().poll(&mut context);
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut disk = self.disk.borrow_mut();
        for ancestor in dir.ancestors() {
            disk.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let disk = self.disk.borrow();
        let files = disk.files.keys();
        let dirs = disk.dirs.iter();
        let mut names: Vec<String> = files
            .chain(dirs)
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let disk = self.disk.borrow();
        disk.files
            .get(path)
            .map(|file| file.data.len() as u64)
            .ok_or_else(|| not_found(path))
    }

    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        let disk = self.disk.borrow();
        disk.files
            .get(path)
            .map(|file| file.modified_ms)
            .ok_or_else(|| not_found(path))
    }

    fn exists(&self, path: &Path) -> bool {
        let disk = self.disk.borrow();
        disk.files.contains_key(path) || disk.dirs.contains(path)
    }

    fn create_empty_file(&self, path: &Path) -> io::Result<()> {
        self.create(path, 0);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let removed = self.disk.borrow_mut().files.remove(path);
        removed.map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn extend_file(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut disk = self.disk.borrow_mut();
        let file = disk.files.get_mut(path).ok_or_else(|| not_found(path))?;
        if (file.data.len() as u64) < len {
            file.data.resize(len as usize, 0);
            file.durable.resize(len as usize, 0);
        }
        Ok(())
    }

    fn disk_used_percent(&self, _path: &Path) -> io::Result<u32> {
        Ok(self.disk.borrow().disk_used_percent)
    }

    async fn open_segment(
        &self,
        path: &Path,
        size: u64,
        _options: SegmentOptions,
    ) -> io::Result<SimSegment> {
        self.check_not_broken(path)?;
        self.create(path, size);
        Ok(SimSegment {
            storage: self.clone(),
            path: path.to_path_buf(),
            generation: self.generation(),
        })
    }

    async fn remove_files(&self, paths: Vec<PathBuf>, mappings: Vec<SimMapped>) -> io::Result<()> {
        drop(mappings);
        paths.iter().try_for_each(|path| self.remove_file(path))
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // The simulation keeps no unsynced directory entries: files exist once created.
        self.check_not_broken(dir)
    }

    fn map_file(&self, path: &Path, len: u64) -> io::Result<SimMapped> {
        self.check_not_broken(path)?;
        self.create(path, len);
        let actual = self.file_len(path)?;
        if actual < len {
            let mut disk = self.disk.borrow_mut();
            let file = disk.files.get_mut(path).unwrap();
            file.data.resize(len as usize, 0);
            file.durable.resize(len as usize, 0);
        }
        Ok(SimMapped {
            storage: self.clone(),
            path: path.to_path_buf(),
            generation: self.generation(),
            len,
            touched: Cell::new(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::future::block_on;

    use super::*;

    #[test]
    fn crash_keeps_synced_writes_and_a_prefix_of_the_rest() {
        // Proves the crash model the simulation tests rely on.
        let storage = SimStorage::new(7, SimFaults::default());
        let path = Path::new("/s/seg");
        let segment = block_on(storage.open_segment(
            path,
            4096,
            SegmentOptions {
                direct: true,
                zero_ahead: 0,
            },
        ))
        .unwrap();
        let write = |byte: u8, pos: u64| {
            let buffer = Rc::new(SimBuffer(vec![byte; 512]));
            block_on(segment.write_at(buffer, pos, false)).unwrap();
        };
        write(1, 0);
        block_on(segment.sync_data()).unwrap();
        write(2, 512);
        write(3, 1024);
        storage.crash();
        let bytes = storage.file_bytes(path).unwrap();
        assert!(bytes[..512].iter().all(|byte| *byte == 1));
        // Write 3 can only have survived if write 2 did.
        assert!(bytes[1024] == 0 || bytes[512] == 2);
        assert!(
            block_on(segment.read_at(0, 1)).is_err(),
            "stale handle must fail"
        );
    }
}
