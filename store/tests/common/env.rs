//! A store under test on either storage: the same scenario runs on `SimStorage` (under
//! `block_on`) and on `DmaStorage` (real O_DIRECT files in a temp dir, inside a glommio
//! executor), so what the simulation proves is also true of the real files.

use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use futures_lite::future::block_on;
use glommio::{LocalExecutorBuilder, Placement};
use ramjet_store::message::{decode_record, DecodedRecord};
use ramjet_store::{
    DmaStorage, GetRequest, GetResult, MessageData, MessageRecord, MessageStore, Properties,
    SimFaults, SimStorage, Storage, StoreConfig,
};

/// What a scenario needs of a storage beyond the store's own seam.
pub trait TestStorage: Storage {
    /// Lets time pass: the simulation moves its clock, real storage sleeps.
    fn pass_time(&self, ms: i64);
    /// Overwrites bytes of a store file behind the store's back (damage on disk).
    fn corrupt(&self, path: &Path, pos: u64, bytes: &[u8]);
    /// Makes creating or mapping the file at `path` fail until it is healed.
    fn set_path_broken(&self, path: &Path, broken: bool);
}

impl TestStorage for SimStorage {
    fn pass_time(&self, ms: i64) {
        self.advance_clock(ms);
    }
    fn corrupt(&self, path: &Path, pos: u64, bytes: &[u8]) {
        self.poke(path, pos, bytes);
    }
    fn set_path_broken(&self, path: &Path, broken: bool) {
        SimStorage::set_path_broken(self, path, broken);
    }
}

impl TestStorage for DmaStorage {
    fn pass_time(&self, ms: i64) {
        std::thread::sleep(std::time::Duration::from_millis(ms as u64));
    }
    fn corrupt(&self, path: &Path, pos: u64, bytes: &[u8]) {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(bytes, pos).unwrap();
    }
    fn set_path_broken(&self, path: &Path, broken: bool) {
        // A directory where the file belongs: opening it for writing fails (EISDIR),
        // even for root.
        if broken {
            std::fs::create_dir_all(path).unwrap();
        } else {
            std::fs::remove_dir(path).unwrap();
        }
    }
}

pub struct Env<S> {
    pub storage: S,
    pub config: StoreConfig,
}

impl<S: TestStorage> Env<S> {
    pub async fn open(&self) -> MessageStore<S> {
        let (store, _) = MessageStore::open(self.storage.clone(), self.config.clone())
            .await
            .expect("open store");
        store
    }
}

/// Small files so a few hundred KiB of records roll segments, ConsumeQueue and index files.
pub fn small_config(root: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(root);
    config.mapped_file_size_commit_log = 128 * 1024;
    config.mapped_file_size_consume_queue = 20 * 1000;
    config.max_message_size = 8 * 1024;
    config.write_buffer_bytes = 16 * 1024;
    config.write_buffer_count_max = 3;
    config.tail_cache_bytes = 32 * 1024;
    config.max_hash_slot_num = 64;
    config.max_index_num = 1000;
    config
}

pub fn run_sim<F, Fut>(adjust: impl FnOnce(&mut StoreConfig), scenario: F)
where
    F: FnOnce(Env<SimStorage>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut config = small_config(Path::new("/store"));
    adjust(&mut config);
    let storage = SimStorage::new(1, SimFaults::default());
    block_on(scenario(Env { storage, config }));
}

pub fn run_dma<F, Fut>(name: &str, adjust: impl FnOnce(&mut StoreConfig), scenario: F)
where
    F: FnOnce(Env<DmaStorage>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = temp_store_dir(name);
    let mut config = small_config(&dir);
    // Real files land on a disk shared with other checkouts; these scenarios are not about
    // a full disk (retention.rs injects the usage it needs), so refuse only at 99 %.
    config.disk_space_warning_level_ratio = 99;
    adjust(&mut config);
    run_on_glommio(async move {
        let storage = DmaStorage::new();
        scenario(Env { storage, config }).await
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `DmaStorage` futures must be polled inside a glommio executor.
pub fn run_on_glommio<T>(future: impl Future<Output = T>) -> T {
    LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(8 << 20)
        .make()
        .expect("glommio executor")
        .run(future)
}

/// A fresh directory on a file system that takes O_DIRECT (asserted: on tmpfs the store
/// would fall back to buffered I/O and these tests would not test the real write path).
pub fn temp_store_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ramjet-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let probe = dir.join("o_direct_probe");
    let c_path = std::ffi::CString::new(probe.to_str().unwrap()).unwrap();
    // SAFETY: open/close of a path we own.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_CREAT | libc::O_RDWR | libc::O_DIRECT,
            0o644,
        )
    };
    assert!(fd >= 0, "{} does not take O_DIRECT", dir.display());
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    std::fs::remove_file(probe).unwrap();
    dir
}

/// Runs an async scenario on both storages: `mod name { fn sim(); fn dma(); }`.
#[macro_export]
macro_rules! on_both_storages {
    ($scenario:ident) => {
        $crate::on_both_storages!($scenario, |_| {});
    };
    ($scenario:ident, $adjust:expr) => {
        mod $scenario {
            #[test]
            fn sim() {
                $crate::common::env::run_sim($adjust, super::$scenario);
            }
            #[test]
            fn dma() {
                $crate::common::env::run_dma(stringify!($scenario), $adjust, super::$scenario);
            }
        }
    };
}

/// A message with an explicit tag, keys and unique key (empty strings leave them out).
pub fn message(topic: &str, queue_id: i32, body: Vec<u8>, tag: &str, keys: &str) -> MessageRecord {
    let mut properties = Properties::new();
    for (name, value) in [("TAGS", tag), ("KEYS", keys)] {
        if !value.is_empty() {
            properties.set(name, value);
        }
    }
    MessageRecord {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        body: body.into(),
        properties,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.1:5000".parse().unwrap(),
        store_host: "10.0.0.2:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// A body that names its message, so a record read back can be matched to its put.
pub fn body(seq: usize, len: usize) -> Vec<u8> {
    let mut body = format!("m{seq}:").into_bytes();
    body.resize(len.max(body.len()), (seq % 251) as u8);
    body
}

pub async fn get<S: Storage>(
    store: &MessageStore<S>,
    topic: &str,
    queue_id: i32,
    queue_offset: u64,
    max_count: usize,
    max_bytes: usize,
    filter: &dyn Fn(i64) -> bool,
) -> GetResult {
    store
        .get(&GetRequest {
            topic,
            queue_id,
            queue_offset,
            max_count,
            max_bytes,
            filter,
            zero_copy: true,
        })
        .await
}

/// The record bytes of a served message.
pub fn served_bytes(data: &MessageData) -> Vec<u8> {
    match data {
        MessageData::Bytes(bytes) => bytes.clone(),
        MessageData::Shared { buf, at } => {
            let size = i32::from_be_bytes(buf[*at..*at + 4].try_into().unwrap()) as usize;
            buf[*at..*at + size].to_vec()
        }
    }
}

pub fn decode(bytes: &[u8]) -> DecodedRecord {
    decode_record(bytes, true).expect("served record decodes")
}

/// The queue offsets a get returned.
pub fn offsets_of(result: &GetResult) -> Vec<u64> {
    result.messages.iter().map(|m| m.queue_offset).collect()
}
