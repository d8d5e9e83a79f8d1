//! IndexService: the sequence of IndexFiles, named by creation time, and the rules for
//! which keys of a message are indexed (store-format.md §5).

use std::path::PathBuf;

use crate::error::StoreError;
use crate::index_file::IndexFile;
use crate::storage::{Storage, SyncJob};

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

    /// The msyncs of the files written since the last call.
    pub fn sync(&mut self) -> Vec<SyncJob> {
        let mut jobs = std::mem::take(&mut self.full_file_syncs);
        jobs.extend(self.files.last().map(IndexFile::sync));
        jobs
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
    use crate::storage::{SimFaults, SimStorage};

    #[test]
    fn keys_roll_into_new_files_and_queries_span_them() {
        let storage = SimStorage::new(1, SimFaults::default());
        let dir = PathBuf::from("/index");
        let (mut service, _) =
            IndexService::load(storage.clone(), dir.clone(), 8, 4, false, 0).unwrap();
        let keys = vec!["k".to_string()];
        for n in 0..10i64 {
            let request = IndexRequest {
                topic: "T",
                keys: &keys,
                phy_offset: n * 10,
                store_timestamp: 1_000 + n,
            };
            service.build_index(&request).unwrap();
        }
        // 3 entries per file (entry 0 unused): 4 files.
        assert_eq!(storage.list_dir(Path::new("/index")).unwrap().len(), 4);
        let found = service.query("T", "k", 64, 0, i64::MAX);
        assert_eq!(found, (0..10).rev().map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(service.query("T", "k", 2, 0, i64::MAX).len(), 2);
        assert!(service.query("U", "k", 64, 0, i64::MAX).is_empty());
        assert_eq!(format_index_file_name(0).len(), 17);
    }
}
