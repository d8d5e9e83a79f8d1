//! The store's errors, in its own words. `core/src/response_code.rs` maps them to
//! RocketMQ response codes; nothing here knows about the wire.

use std::io;
use std::path::PathBuf;

use crate::message::RecordError;

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("message body is {size} bytes; maxMessageSize is {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("message properties are {size} bytes; at most {max}")]
    PropertiesTooLarge { size: usize, max: usize },
    #[error("message is malformed: {0}")]
    Malformed(RecordError),
    #[error("disk usage {used_percent}% is past the {limit_percent}% limit; writes refused")]
    DiskFull {
        used_percent: u32,
        limit_percent: u32,
    },
    /// A failed write leaves the tail of the CommitLog unknown, so the store refuses
    /// further puts until it is reopened (and recovery finds the valid tail).
    #[error("CommitLog I/O failed; the store must be reopened: {0}")]
    Io(String),
    /// Dispatch (CommitLog to ConsumeQueue and index) failed, so a queue lacks records
    /// the CommitLog holds. Further puts are refused until the store is reopened, whose
    /// recovery re-dispatches them; reads of intact queues go on.
    #[error("the store stopped taking messages and must be reopened: {0}")]
    StoreFailed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is {actual} bytes; expected {expected}")]
    UnexpectedFileSize {
        path: PathBuf,
        actual: u64,
        expected: u64,
    },
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("CommitLog I/O failed earlier; reopen the store: {0}")]
    Failed(String),
}

impl StoreError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
