//! Delivery progress per delay level: the queue offset of the next message of
//! `SCHEDULE_TOPIC_XXXX` queue `level - 1` to deliver, in RocketMQ's `delayOffset.json`
//! shape (`DelayOffsetSerializeWrapper`: `{"offsetTable":{level:offset}}`). Each shard
//! keeps the levels it owns in `shards/<n>/delayOffset.json`.
//!
//! An offset is advanced only after the delivered message was stored on its real queue,
//! so the file (written every `flushDelayOffsetInterval` and at shutdown) can only be
//! behind: a restart redelivers what was delivered since the last write (at least once),
//! never skips.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::persist;

#[derive(Debug, Default, Serialize, Deserialize)]
struct DelayOffsetSerializeWrapper {
    #[serde(rename = "offsetTable", default)]
    offset_table: BTreeMap<i32, i64>,
}

#[derive(Debug)]
pub struct DelayOffsets {
    path: PathBuf,
    table: BTreeMap<i32, i64>,
    dirty: bool,
}

impl DelayOffsets {
    /// Reads the file; a missing one starts every level at 0, a corrupt one is an error
    /// naming it (starting from 0 would redeliver every delayed message ever stored).
    pub fn load(path: PathBuf) -> Result<DelayOffsets, String> {
        let file: DelayOffsetSerializeWrapper = persist::read_json(&path)?.unwrap_or_default();
        Ok(DelayOffsets {
            path,
            table: file.offset_table,
            dirty: false,
        })
    }

    pub fn get(&self, level: i32) -> u64 {
        self.table.get(&level).map_or(0, |&o| o.max(0) as u64)
    }

    pub fn set(&mut self, level: i32, offset: u64) {
        let offset = offset as i64;
        if self.table.insert(level, offset) != Some(offset) {
            self.dirty = true;
        }
    }

    /// Every level's offset (GET_ALL_DELAY_OFFSET).
    pub fn table(&self) -> &BTreeMap<i32, i64> {
        &self.table
    }

    /// The body of GET_ALL_DELAY_OFFSET: `{"offsetTable":{level:offset}}`.
    pub fn encode_table(table: &BTreeMap<i32, i64>) -> Vec<u8> {
        let wrapper = DelayOffsetSerializeWrapper {
            offset_table: table.clone(),
        };
        serde_json::to_vec(&wrapper).expect("a map of numbers serializes")
    }

    /// Reads GET_ALL_DELAY_OFFSET's body (fastjson: unquoted number keys accepted).
    pub fn decode_table(body: &[u8]) -> Result<BTreeMap<i32, i64>, String> {
        let wrapper: DelayOffsetSerializeWrapper = ramjet_net::body::fastjson::from_slice(body)?;
        Ok(wrapper.offset_table)
    }

    /// The file's path and bytes when something changed since the last call.
    pub fn take_dirty(&mut self) -> Option<(PathBuf, Vec<u8>)> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some((self.path.clone(), self.to_json()))
    }

    /// Marks the table changed again after a write that failed, so the next flush retries.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    fn to_json(&self) -> Vec<u8> {
        let wrapper = DelayOffsetSerializeWrapper {
            offset_table: self.table.clone(),
        };
        serde_json::to_vec_pretty(&wrapper).expect("a map of numbers serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ramjet-delay-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("delayOffset.json")
    }

    #[test]
    fn round_trips_and_reads_javas_unquoted_keys() {
        let path = temp_path("rt");
        let _ = std::fs::remove_file(&path);
        let mut offsets = DelayOffsets::load(path.clone()).unwrap();
        assert_eq!(offsets.get(3), 0);
        assert!(offsets.take_dirty().is_none());
        offsets.set(3, 42);
        offsets.set(18, 7);
        let (file, bytes) = offsets.take_dirty().unwrap();
        assert!(offsets.take_dirty().is_none());
        persist::write_atomically(&file, &bytes).unwrap();
        let loaded = DelayOffsets::load(path.clone()).unwrap();
        assert_eq!((loaded.get(3), loaded.get(18), loaded.get(1)), (42, 7, 0));

        // What a Java broker writes (fastjson, pretty format).
        std::fs::write(&path, "{\n\t\"offsetTable\":{1:5,2:0,3:17\n\t}\n}").unwrap();
        let java = DelayOffsets::load(path.clone()).unwrap();
        assert_eq!((java.get(1), java.get(3)), (5, 17));

        std::fs::write(&path, "{\"offsetTable\":").unwrap();
        assert!(DelayOffsets::load(path)
            .unwrap_err()
            .contains("delayOffset.json"));
    }

    #[test]
    fn setting_the_same_offset_changes_nothing() {
        let mut offsets = DelayOffsets::load(temp_path("same")).unwrap();
        offsets.set(1, 0);
        assert!(offsets.take_dirty().is_some());
        offsets.set(1, 0);
        assert!(offsets.take_dirty().is_none());
    }
}
