//! IndexService: the sequence of IndexFiles, named by creation time, and the rules for
//! which keys of a message are indexed (store-format.md §5).

use std::path::PathBuf;

use crate::error::StoreError;
use crate::index_file::IndexFile;
use crate::storage::{ReleaseJob, Storage, SyncJob};

/// One message's index work, taken from its dispatch request.
pub struct IndexRequest<'a> {
    pub topic: &'a str,
    pub keys: &'a [String],
    pub phy_offset: i64,
    pub store_timestamp: i64,
}

pub struct IndexService<S: Storage> {
    storage: S,
    dir: PathBuf,
    hash_slot_num: u32,
    index_num: u32,
    /// Oldest first.
    files: Vec<IndexFile<S>>,
    /// msyncs of files that filled up, run by the next [`IndexService::sync`] rather
    /// than on the dispatch path.
    full_file_syncs: Vec<SyncJob>,
    /// End timestamp of the newest full file whose msync is among `full_file_syncs` or
    /// already ran.
    full_end_timestamp: Option<i64>,
    /// The live (last) file's end offset at the previous [`IndexService::sync`] call, and
    /// at its last msync: the live file is synced once it has gone quiet.
    live_end_seen: i64,
    live_end_synced: i64,
}

/// What a flush syncs of the index, and what is durable once its jobs have run.
pub struct IndexSync {
    pub jobs: Vec<SyncJob>,
    /// Every file whose end timestamp is at most this is durable once `jobs` ran (the
    /// checkpoint's `indexMsgTimestamp`); `None`: nothing new to claim.
    pub durable_through: Option<i64>,
}

/// Which files a flush msyncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexFlush {
    /// Periodic: files that filled up, and the live file only once nothing was indexed
    /// since the previous flush. Each msync of the live file writes back every hash
    /// slot page dirtied since the last one (one random 4 KiB page per key) and ends
    /// in a device cache flush; on a busy broker that stalled the CommitLog's O_DIRECT
    /// writes behind it (docs/architecture.md, Write path 12).
    Periodic,
    /// Everything (recovery, shutdown).
    All,
}

impl<S: Storage> IndexService<S> {
    /// Loads the files. After a crash, files changed after the checkpointed index time
    /// may hold half an update, so they are destroyed as Java does; the returned offset
    /// (if any) is where re-dispatch must start to rebuild them.
    pub fn load(
        storage: S,
        dir: PathBuf,
        hash_slot_num: u32,
        index_num: u32,
        abnormal: bool,
        checkpoint_index_timestamp: i64,
    ) -> Result<(Self, Option<i64>), StoreError> {
        storage.create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let mut files = Vec::new();
        let mut rebuild_from = None;
        for name in storage.list_dir(&dir).map_err(StoreError::io(&dir))? {
            let path = dir.join(&name);
            let file = IndexFile::open(&storage, &path, hash_slot_num, index_num, None)?;
            let header = file.header();
            if abnormal && header.end_timestamp > checkpoint_index_timestamp {
                tracing::warn!(path = %path.display(), "recovery: destroying IndexFile newer than the checkpoint");
                drop(file);
                storage.remove_file(&path).map_err(StoreError::io(&path))?;
                let begin = header.begin_phy_offset;
                rebuild_from = Some(rebuild_from.map_or(begin, |at: i64| at.min(begin)));
                continue;
            }
            files.push(file);
        }
        Ok((
            Self {
                storage,
                dir,
                hash_slot_num,
                index_num,
                files,
                full_file_syncs: Vec::new(),
                full_end_timestamp: None,
                live_end_seen: -1,
                live_end_synced: -1,
            },
            rebuild_from,
        ))
    }

    /// `IndexService.buildIndex`: UNIQ_KEY and each KEYS token, as `topic#key`. Records
    /// below the newest file's end offset were indexed before (re-dispatch) and are skipped.
    pub fn build_index(&mut self, request: &IndexRequest<'_>) -> Result<(), StoreError> {
        if let Some(last) = self.files.last() {
            if request.phy_offset < last.header().end_phy_offset {
                return Ok(());
            }
        }
        for key in request.keys {
            let key = format!("{}#{}", request.topic, key);
            loop {
                let file = self.writable_file(request.store_timestamp)?;
                if file.put_key(&key, request.phy_offset, request.store_timestamp) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn writable_file(&mut self, now_ms: i64) -> Result<&mut IndexFile<S>, StoreError> {
        if self.files.last().is_none_or(IndexFile::is_full) {
            let previous_end = self.files.last().map(|file| {
                let header = file.header();
                (header.end_phy_offset, header.end_timestamp)
            });
            if let Some(full) = self.files.last() {
                // A full file never changes again: one last msync, at the next flush.
                self.full_file_syncs.push(full.sync());
                self.full_end_timestamp = Some(full.header().end_timestamp);
            }
            let mut name = format_index_file_name(now_ms.max(self.storage.now_ms()));
            let mut bump = 1;
            while self.storage.exists(&self.dir.join(&name)) {
                name = format_index_file_name(now_ms + bump);
                bump += 1;
            }
            let path = self.dir.join(name);
            let file = IndexFile::open(
                &self.storage,
                &path,
                self.hash_slot_num,
                self.index_num,
                previous_end,
            )?;
            self.files.push(file);
        }
        Ok(self.files.last_mut().unwrap())
    }

    /// `queryOffset`: newest files first, up to `max` offsets.
    pub fn query(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> Vec<i64> {
        let key = format!("{topic}#{key}");
        let mut found = Vec::new();
        for file in self.files.iter().rev() {
            if found.len() >= max {
                break;
            }
            if file.is_time_matched(begin, end) {
                file.select_phy_offsets(&key, max, begin, end, &mut found);
            }
            if file.header().begin_timestamp < begin {
                break;
            }
        }
        found
    }

    /// `(indexLastUpdateTimestamp, indexLastUpdatePhyoffset)` for query responses.
    pub fn last_update(&self) -> (i64, i64) {
        self.files.last().map_or((0, 0), |file| {
            let header = file.header();
            (header.end_timestamp, header.end_phy_offset)
        })
    }

    /// Whether the live file holds keys its last msync did not cover.
    pub fn live_unsynced(&self) -> bool {
        self.files
            .last()
            .is_some_and(|live| live.header().end_phy_offset != self.live_end_synced)
    }

    /// The msyncs a flush runs, RocketMQ's rule (`IndexService.flush`): a file is synced
    /// once, when it is full, and the checkpoint's index time moves to its end. The live
    /// file is not synced while keys keep coming: a crash (kill -9 or power loss) finds it
    /// newer than the checkpoint and recovery rebuilds it from the CommitLog, which it
    /// would do anyway for any key indexed after the last flush. It is synced when the
    /// flush asks for everything, once it has gone quiet (so an idle broker's restart
    /// rebuilds nothing), and when its end time cannot be told from the last full
    /// file's (all its keys in that same millisecond).
    pub fn sync(&mut self, flush: IndexFlush) -> IndexSync {
        let mut jobs = std::mem::take(&mut self.full_file_syncs);
        let mut durable_through = self.full_end_timestamp;
        if let Some(live) = self.files.last() {
            let header = live.header();
            let end = header.end_phy_offset;
            let quiet = end == self.live_end_seen;
            let unsynced = end != self.live_end_synced;
            let ambiguous = self
                .full_end_timestamp
                .is_some_and(|full_end| header.end_timestamp <= full_end);
            self.live_end_seen = end;
            if unsynced && (flush == IndexFlush::All || quiet || ambiguous) {
                jobs.push(live.sync());
                self.live_end_synced = end;
                durable_through = Some(header.end_timestamp);
            } else if !unsynced {
                durable_through = Some(header.end_timestamp);
            }
        }
        IndexSync {
            jobs,
            durable_through,
        }
    }

    /// Releases the resident pages of the files that no put writes any more (all but the
    /// live one) and of the live file's entries ([`IndexFile::release_cold`]).
    pub fn release_cold(&self) -> Vec<ReleaseJob> {
        let live = self.files.len().saturating_sub(1);
        self.files
            .iter()
            .enumerate()
            .filter_map(|(at, file)| file.release_cold(at == live))
            .collect()
    }

    /// Retention: drops files whose entries all point below `commit_log_min` and returns
    /// them, with their mappings, for the caller to remove off the shard's thread.
    pub fn forget_expired(&mut self, commit_log_min: i64) -> Vec<(PathBuf, S::Mapped)> {
        let mut forgotten = Vec::new();
        while self.files.len() > 1 && self.files[0].header().end_phy_offset < commit_log_min {
            forgotten.push(self.files.remove(0).into_parts());
        }
        forgotten
    }
}

/// `yyyyMMddHHmmssSSS` in local time, as `UtilAll.timeMillisToHumanString`.
pub fn format_index_file_name(ms: i64) -> String {
    let seconds = ms.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r writes only the struct we pass.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&seconds, &mut tm);
        tm
    };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms.rem_euclid(1000)
    )
}

/// Local hour of day, for `deleteWhen`.
pub fn local_hour(ms: i64) -> u32 {
    let name = format_index_file_name(ms);
    name[8..10].parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::storage::{run_sync_jobs, SimFaults, SimStorage};
    use futures_lite::future::block_on;

    /// Indexes `k<n>` for a record at physical offset `n * 10`.
    fn put(service: &mut IndexService<SimStorage>, n: i64, timestamp: i64) {
        put_key(service, &format!("k{n}"), n, timestamp);
    }

    /// Indexes `key` for a record at physical offset `n * 10`.
    fn put_key(service: &mut IndexService<SimStorage>, key: &str, n: i64, timestamp: i64) {
        let keys = vec![key.to_string()];
        let request = IndexRequest {
            topic: "T",
            keys: &keys,
            phy_offset: n * 10,
            store_timestamp: timestamp,
        };
        service.build_index(&request).unwrap();
    }

    /// A new IndexService on simulated storage under `/index` (8 hash slots).
    fn fresh(seed: u64, index_num: u32) -> (SimStorage, IndexService<SimStorage>) {
        let storage = SimStorage::new(seed, SimFaults::default());
        let (service, _) = IndexService::load(
            storage.clone(),
            PathBuf::from("/index"),
            8,
            index_num,
            false,
            0,
        )
        .unwrap();
        (storage, service)
    }

    /// Bytes of the `at`th IndexFile (oldest first) released so far.
    fn released(storage: &SimStorage, at: usize) -> u64 {
        let names = storage.list_dir(Path::new("/index")).unwrap();
        storage.released_bytes(&Path::new("/index").join(&names[at]))
    }

    fn run(jobs: Vec<ReleaseJob>) -> usize {
        let count = jobs.len();
        for job in jobs {
            block_on(job).unwrap();
        }
        count
    }

    #[test]
    fn full_files_are_released_whole_and_the_live_file_its_written_entries() {
        // Proves what bounds the index's mapped memory: the live file keeps only its
        // header, hash slots and the page being written; a full file is released after
        // each use (a query maps back what it reads).
        let (storage, mut service) = fresh(1, 1000);
        // 8 slots: entries start at byte 72; file 20,072 bytes, 999 keys (entry 0 unused).
        for n in 0..500 {
            put(&mut service, n, 1_000 + n);
        }
        assert_eq!(run(service.release_cold()), 1);
        // Entries 0..=500 end at byte 10,092: the one whole page inside is 4096..8192.
        assert_eq!(released(&storage, 0), 4096);
        for n in 500..1500 {
            put(&mut service, n, 1_000 + n);
        }
        assert_eq!(
            run(service.release_cold()),
            2,
            "the full file and the live one"
        );
        // 20,072 bytes map five pages; the last holds the file's tail and goes too.
        assert_eq!(released(&storage, 0), 4096 + 20480, "the full file");
        assert_eq!(released(&storage, 1), 4096, "502 entries: 72..10,112");
        assert_eq!(run(service.release_cold()), 0, "nothing was used since");
        // A query reads both files; both are released again, and it still finds its key.
        assert_eq!(service.query("T", "k3", 8, 0, i64::MAX), vec![30]);
        assert_eq!(run(service.release_cold()), 2);
        assert_eq!(released(&storage, 0), 4096 + 2 * 20480);
        assert_eq!(service.query("T", "k1400", 8, 0, i64::MAX), vec![14_000]);
    }

    #[test]
    fn keys_roll_into_new_files_and_queries_span_them() {
        let (storage, mut service) = fresh(1, 4);
        for n in 0..10i64 {
            put_key(&mut service, "k", n, 1_000 + n);
        }
        // 3 entries per file (entry 0 unused): 4 files.
        assert_eq!(storage.list_dir(Path::new("/index")).unwrap().len(), 4);
        let found = service.query("T", "k", 64, 0, i64::MAX);
        assert_eq!(found, (0..10).rev().map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(service.query("T", "k", 2, 0, i64::MAX).len(), 2);
        assert!(service.query("U", "k", 64, 0, i64::MAX).is_empty());
        assert_eq!(format_index_file_name(0).len(), 17);
    }

    #[test]
    fn a_periodic_flush_syncs_the_live_file_only_once_it_is_quiet() {
        let (_, mut service) = fresh(1, 100);
        put(&mut service, 0, 1_000);
        let busy = service.sync(IndexFlush::Periodic);
        assert!(busy.jobs.is_empty(), "keys came since the last flush");
        assert_eq!(busy.durable_through, None);
        let quiet = service.sync(IndexFlush::Periodic);
        assert_eq!(quiet.jobs.len(), 1, "nothing came since: sync it once");
        assert_eq!(quiet.durable_through, Some(1_000));
        let again = service.sync(IndexFlush::Periodic);
        assert!(again.jobs.is_empty(), "already synced");
        assert_eq!(again.durable_through, Some(1_000));
        put(&mut service, 1, 1_001);
        let busy = service.sync(IndexFlush::Periodic);
        assert!(busy.jobs.is_empty());
        assert_eq!(busy.durable_through, None);
        put(&mut service, 2, 1_002);
        let all = service.sync(IndexFlush::All);
        assert_eq!(all.jobs.len(), 1, "shutdown syncs the live file");
        assert_eq!(all.durable_through, Some(1_002));
    }

    #[test]
    fn a_full_file_is_synced_and_becomes_the_checkpoint_while_the_live_one_is_not() {
        // 3 entries per file (entry 0 unused).
        let (storage, mut service) = fresh(7, 4);
        let dir = PathBuf::from("/index");
        for n in 0..4 {
            put(&mut service, n, 1_000 + n);
        }
        let flush = service.sync(IndexFlush::Periodic);
        assert_eq!(flush.jobs.len(), 1, "the full file, not the live one");
        assert_eq!(flush.durable_through, Some(1_002), "the full file's end");
        block_on(run_sync_jobs(flush.jobs)).unwrap();
        put(&mut service, 4, 1_004);
        // A power loss: the live file was never synced, so recovery must not trust it.
        storage.crash();
        let (reloaded, rebuild_from) =
            IndexService::load(storage.clone(), dir, 8, 4, true, 1_002).unwrap();
        assert_eq!(
            rebuild_from,
            Some(30),
            "rebuilt from the live file's first record (k3)"
        );
        assert_eq!(reloaded.files.len(), 1, "the synced full file is kept");
        assert_eq!(reloaded.query("T", "k1", 64, 0, i64::MAX), vec![10]);
    }

    #[test]
    fn a_live_file_whose_end_time_equals_the_full_files_is_synced() {
        let (_, mut service) = fresh(1, 4);
        for n in 0..4 {
            put(&mut service, n, 1_000);
        }
        // The checkpoint could not tell the live file from the full one by time alone.
        let flush = service.sync(IndexFlush::Periodic);
        assert_eq!(flush.jobs.len(), 2);
        assert_eq!(flush.durable_through, Some(1_000));
    }
}
