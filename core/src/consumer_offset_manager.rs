//! `ConsumerOffsetManager`: committed consumer offsets of the queues one shard owns,
//! flushed to `consumerOffset.json` in RocketMQ's shape (store-format.md section 7.2) every
//! `flushConsumerOffsetInterval` and at shutdown.
//!
//! Offsets live on the shard that owns the queue, beside its ConsumeQueue, so a commit
//! never crosses cores.

use std::collections::HashMap;
use std::path::PathBuf;

use ramjet_net::body::{ConsumerOffsetSerializeWrapper, WireBody};

use crate::persist;

pub struct ConsumerOffsetManager {
    path: PathBuf,
    /// `topic@group` -> queueId -> committed offset (the next message to consume).
    table: HashMap<String, HashMap<i32, i64>>,
    /// Last offset each group pulled from, for ConsumeStats' pullOffset.
    pulled: HashMap<String, HashMap<i32, i64>>,
    dirty: bool,
}

pub fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetManager {
    pub fn load(path: PathBuf) -> Result<ConsumerOffsetManager, String> {
        let file: ConsumerOffsetSerializeWrapper = persist::read_json(&path)?.unwrap_or_default();
        let table = file
            .offset_table
            .into_iter()
            .map(|(key, queues)| (key, queues.into_iter().collect()))
            .collect();
        Ok(ConsumerOffsetManager {
            path,
            table,
            pulled: HashMap::new(),
            dirty: false,
        })
    }

    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .get(&key(topic, group))
            .and_then(|queues| queues.get(&queue_id))
            .copied()
    }

    pub fn commit(&mut self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        if offset < 0 {
            return;
        }
        self.table
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty = true;
    }

    pub fn record_pull(&mut self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.pulled
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
    }

    pub fn pulled(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.pulled
            .get(&key(topic, group))
            .and_then(|queues| queues.get(&queue_id))
            .copied()
    }

    /// Every (topic, group) with an offset on this shard.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.table.keys()
    }

    pub fn offsets_of(&self, topic_at_group: &str) -> Option<&HashMap<i32, i64>> {
        self.table.get(topic_at_group)
    }

    pub fn remove_topic(&mut self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.retain(|key, _| !key.starts_with(&prefix));
        self.pulled.retain(|key, _| !key.starts_with(&prefix));
        self.dirty = true;
    }

    pub fn remove_group(&mut self, group: &str) {
        let suffix = format!("@{group}");
        self.table.retain(|key, _| !key.ends_with(&suffix));
        self.dirty = true;
    }

    /// The file's path and new contents if anything changed since the last call. The
    /// caller writes them off the reactor and calls `mark_dirty` if that fails.
    pub fn take_dirty(&mut self) -> Option<(PathBuf, Vec<u8>)> {
        if !self.dirty {
            return None;
        }
        // Java's own form (fastjson, unquoted queue ids), so a Java broker reads it too.
        let file = ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: self
                .table
                .iter()
                .map(|(key, queues)| (key.clone(), queues.iter().map(|(q, o)| (*q, *o)).collect()))
                .collect(),
        };
        let bytes = file.encode();
        self.dirty = false;
        Some((self.path.clone(), bytes))
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_a_flush_and_reload_and_read_java_files() {
        let dir = std::env::temp_dir().join(format!("ramjet-offsets-{}", std::process::id()));
        let path = dir.join("consumerOffset.json");
        let mut offsets = ConsumerOffsetManager::load(path.clone()).unwrap();
        offsets.commit("g1", "T", 3, 250);
        let (written, bytes) = offsets.take_dirty().unwrap();
        persist::write_atomically(&written, &bytes).unwrap();
        assert!(offsets.take_dirty().is_none(), "nothing changed since");
        assert_eq!(
            ConsumerOffsetManager::load(path.clone())
                .unwrap()
                .query("g1", "T", 3),
            Some(250)
        );
        // A Java broker's file: fastjson writes number keys unquoted.
        std::fs::write(
            &path,
            "{\n\t\"offsetTable\":{\n\t\t\"T@g2\":{0:7,1:9}\n\t}\n}",
        )
        .unwrap();
        let java = ConsumerOffsetManager::load(path).unwrap();
        assert_eq!(java.query("g2", "T", 1), Some(9));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
