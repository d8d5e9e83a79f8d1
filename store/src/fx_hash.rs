//! FxHash, rustc's hasher, for the tables a put looks up several times: queue offsets
//! and ConsumeQueues keyed by topic. SipHash showed up at 5 % of a 4 KiB put's CPU; the
//! keys are topics the broker has already accepted, so its flooding resistance buys
//! nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_topics_and_queue_ids_land_in_one_map() {
        let mut map: FxHashMap<String, FxHashMap<i32, u64>> = FxHashMap::default();
        for topic in ["TopicA", "TopicB", "%RETRY%group", ""] {
            for queue_id in [-1, 0, 1, 1 << 20] {
                *map.entry(topic.to_string())
                    .or_default()
                    .entry(queue_id)
                    .or_default() += 1;
            }
        }
        assert_eq!(map.len(), 4);
        assert!(map.values().all(|queues| queues.len() == 4));
        assert_eq!(map["TopicB"][&1], 1);
    }
}
