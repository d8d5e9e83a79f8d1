//! Dispatch: CommitLog records become ConsumeQueue units and index entries, in CommitLog
//! order, after the record is written (so consumers never see a record a crash could
//! take back), and again during recovery for records past the consistent point.

use std::path::PathBuf;
use std::rc::Rc;

use crate::consume_queue::{ConsumeQueue, CqPut, CqUnit};
use crate::error::StoreError;
use crate::fx_hash::FxHashMap;
use crate::index_service::{IndexFlush, IndexRequest, IndexService};
use crate::message::record::DecodedRecord;
use crate::message::sys_flag::{is_consumable, is_indexed};
use crate::message::MessageRecord;
use crate::storage::{ReleaseJob, Storage, SyncJob};

/// What dispatch needs of one record (`DispatchRequest` in Java).
#[derive(Clone, Debug)]
pub struct DispatchRequest {
    /// Shared with the store's queue-offset table, so a put allocates no topic copy.
    pub topic: Rc<str>,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub size: i32,
    pub tags_code: i64,
    pub store_timestamp: i64,
    pub sys_flag: i32,
    /// UNIQ_KEY first, then the KEYS tokens; empty when the index is off.
    pub keys: Vec<String>,
}

impl DispatchRequest {
    /// `index_keys`: collect the keys the IndexFile needs (skipped when the index is off).
    pub fn new(
        record: &MessageRecord,
        topic: Rc<str>,
        sys_flag: i32,
        tags_code: i64,
        index_keys: bool,
    ) -> Self {
        debug_assert_eq!(&*topic, record.topic);
        let keys = if index_keys {
            let keys = record
                .uniq_key()
                .into_iter()
                .chain(record.properties.keys());
            keys.map(String::from).collect()
        } else {
            Vec::new()
        };
        Self {
            topic,
            queue_id: record.queue_id,
            queue_offset: 0,
            commit_log_offset: 0,
            size: 0,
            tags_code,
            store_timestamp: 0,
            sys_flag,
            keys,
        }
    }

    pub fn from_decoded(record: &DecodedRecord) -> Self {
        let message = &record.message;
        let topic = Rc::from(message.topic.as_str());
        let mut request = Self::new(message, topic, message.sys_flag, record.tags_code(), true);
        request.queue_offset = record.stamp.queue_offset;
        request.commit_log_offset = record.stamp.physical_offset;
        request.size = record.total_size as i32;
        request.store_timestamp = record.stamp.store_timestamp;
        request
    }

    pub fn end(&self) -> u64 {
        (self.commit_log_offset + i64::from(self.size)) as u64
    }
}

/// Called with (topic, queue id, new max offset) after each unit: long-polling wake-ups.
pub type AppendListener = Box<dyn Fn(&str, i32, u64)>;

pub struct Dispatcher<S: Storage> {
    storage: S,
    root: PathBuf,
    file_size: u64,
    /// topic -> queue id -> queue. Nested so lookups by `&str` need no allocation.
    queues: FxHashMap<String, FxHashMap<i32, ConsumeQueue<S>>>,
    pub index: Option<IndexService<S>>,
    listeners: Vec<AppendListener>,
    /// Store time of the last dispatched record, for the checkpoint.
    pub last_store_timestamp: i64,
}

impl<S: Storage> Dispatcher<S> {
    /// Opens every ConsumeQueue under `root` (`consumequeue/<topic>/<queueId>/`).
    pub fn load(
        storage: S,
        root: PathBuf,
        file_size: u64,
        index: Option<IndexService<S>>,
    ) -> Result<Self, StoreError> {
        storage
            .create_dir_all(&root)
            .map_err(StoreError::io(&root))?;
        let mut queues: FxHashMap<String, FxHashMap<i32, ConsumeQueue<S>>> = FxHashMap::default();
        for topic in storage.list_dir(&root).map_err(StoreError::io(&root))? {
            let topic_dir = root.join(&topic);
            for queue_name in storage
                .list_dir(&topic_dir)
                .map_err(StoreError::io(&topic_dir))?
            {
                let Ok(queue_id) = queue_name.parse::<i32>() else {
                    continue;
                };
                let queue =
                    ConsumeQueue::open(storage.clone(), &root, &topic, queue_id, file_size)?;
                queues
                    .entry(topic.clone())
                    .or_default()
                    .insert(queue_id, queue);
            }
        }
        Ok(Self {
            storage,
            root,
            file_size,
            queues,
            index,
            listeners: Vec::new(),
            last_store_timestamp: 0,
        })
    }

    pub fn queue(&self, topic: &str, queue_id: i32) -> Option<&ConsumeQueue<S>> {
        self.queues.get(topic)?.get(&queue_id)
    }

    pub fn queue_mut(
        &mut self,
        topic: &str,
        queue_id: i32,
    ) -> Result<&mut ConsumeQueue<S>, StoreError> {
        if self.queue(topic, queue_id).is_none() {
            let queue = ConsumeQueue::open(
                self.storage.clone(),
                &self.root,
                topic,
                queue_id,
                self.file_size,
            )?;
            self.queues
                .entry(topic.to_string())
                .or_default()
                .insert(queue_id, queue);
        }
        Ok(self
            .queues
            .get_mut(topic)
            .unwrap()
            .get_mut(&queue_id)
            .unwrap())
    }

    pub fn queues_mut(&mut self) -> impl Iterator<Item = &mut ConsumeQueue<S>> {
        self.queues.values_mut().flat_map(FxHashMap::values_mut)
    }

    pub fn queues(&self) -> impl Iterator<Item = &ConsumeQueue<S>> {
        self.queues.values().flat_map(FxHashMap::values)
    }

    pub fn add_listener(&mut self, listener: AppendListener) {
        self.listeners.push(listener);
    }

    /// Applies one record. A `Gap` means this ConsumeQueue lacks earlier units: only
    /// recovery can see that, and it answers by dispatching from further back.
    pub fn dispatch(&mut self, request: &DispatchRequest) -> Result<CqPut, StoreError> {
        let mut put = CqPut::Duplicate;
        if is_consumable(request.sys_flag) {
            let unit = CqUnit {
                commit_log_offset: request.commit_log_offset,
                size: request.size,
                tags_code: request.tags_code,
            };
            let queue = self.queue_mut(&request.topic, request.queue_id)?;
            put = queue.put(request.queue_offset as u64, unit)?;
            if put == CqPut::Appended {
                let max_offset = queue.max_offset();
                for listener in &self.listeners {
                    listener(&request.topic, request.queue_id, max_offset);
                }
            }
        }
        if let (Some(index), true) = (&mut self.index, is_indexed(request.sys_flag)) {
            if !request.keys.is_empty() {
                index.build_index(&IndexRequest {
                    topic: &request.topic,
                    keys: &request.keys,
                    phy_offset: request.commit_log_offset,
                    store_timestamp: request.store_timestamp,
                })?;
            }
        }
        self.last_store_timestamp = self.last_store_timestamp.max(request.store_timestamp);
        Ok(put)
    }

    /// The msyncs of every written ConsumeQueue file and of the IndexFiles `flush` asks
    /// for, to be awaited after the dispatcher's borrow ends (dispatch goes on
    /// meanwhile), and the index time that is durable once they ran (with the index off,
    /// the last dispatched record's).
    /// The page releases of every ConsumeQueue and the index ([`MappedFile::release_resident`]).
    pub fn release_cold(&self) -> Vec<ReleaseJob> {
        let mut jobs: Vec<ReleaseJob> =
            self.queues().flat_map(ConsumeQueue::release_cold).collect();
        if let Some(index) = &self.index {
            jobs.extend(index.release_cold());
        }
        jobs
    }

    pub fn sync(&mut self, flush: IndexFlush) -> (Vec<SyncJob>, Option<i64>) {
        let mut jobs: Vec<SyncJob> = self.queues_mut().flat_map(ConsumeQueue::sync).collect();
        let mut index_durable_through = Some(self.last_store_timestamp);
        if let Some(index) = &mut self.index {
            let index = index.sync(flush);
            jobs.extend(index.jobs);
            index_durable_through = index.durable_through;
        }
        (jobs, index_durable_through)
    }
}
