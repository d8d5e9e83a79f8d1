//! ramjet-store: the message store of one broker shard, in RocketMQ's formats.
//!
//! Owns: the CommitLog record codec (the same bytes go to disk and into pull responses),
//! properties, offsetMsgId, the per-shard CommitLog with O_DIRECT group commit,
//! ConsumeQueues, IndexFiles, checkpoint and abort file, recovery, retention.
//!
//! Must never import: sockets, `ramjet-net`, or anything that builds a `RemotingCommand`.
//! Errors come out as [`PutError`], [`StoreError`] and [`GetStatus`]; `core` maps them to
//! response codes.
//!
//! Which core: a [`MessageStore`] and everything inside it live on exactly one core, the
//! shard's glommio executor, and are deliberately `!Send` (`Rc`/`RefCell` inside). Many
//! tasks of that executor may call it concurrently; nothing may call it from another core.
//! Append listeners run inside dispatch and must not call back into the store
//! synchronously (wake a task instead). With [`DmaStorage`] every async method must be
//! polled inside a glommio executor; with [`SimStorage`] any executor (even `block_on`).
//!
//! Memory is set by configuration, not by data size: `write_buffer_count_max` ×
//! `write_buffer_bytes` for writes in progress, `tail_cache_bytes` of written buffers for
//! recent reads, and the kernel's page cache (which it may evict) for ConsumeQueue and
//! index mappings and for older records.

pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod consume_queue;
pub mod dispatch;
pub mod error;
mod fx_hash;
mod get;
pub mod index_file;
pub mod index_service;
pub mod message;
mod message_store;
pub mod recovery;
mod retention;
pub mod storage;
mod sync;

pub use commit_log::read_cache::ReadStats;
pub use config::{FlushDiskType, StoreConfig};
pub use error::{PutError, StoreError};
pub use get::{
    body_parts, record_properties, DamagedUnit, GetMessage, GetRequest, GetResult, GetStatus,
    MessageData, QueryResult, RecordFilter,
};
pub use message::{MessageRecord, Properties};
pub use message_store::{MessageStore, PutOk, PutStatus, ReplicaError, ReplicaTransfer};
pub use recovery::{RecoveryReport, RecoveryStop};
pub use retention::CleanReport;
pub use storage::{DmaStorage, SimFaults, SimStorage, Storage};
