//! Where things live: which shard owns a queue, which holds a CommitLog offset, and which
//! one is the leader.

/// The leader shard: owns topics, subscription groups, the client registry and name
/// server registration.
pub const LEADER_SHARD: usize = 0;

/// Physical offsets carry the shard in their high bits so that an offsetMsgId names the
/// shard holding the record: 2^48 bytes (256 TiB) of CommitLog per shard.
pub const SHARD_OFFSET_SHIFT: u32 = 48;

/// Which shard owns a queue. Changing this function moves data on disk, so the shard count
/// is recorded in the data directory and checked at start instead of being tuned freely.
pub fn owner_shard(topic: &str, queue_id: i32, shard_count: usize) -> usize {
    assert!(shard_count > 0);
    let hash = u64::from(crc32fast::hash(topic.as_bytes())).wrapping_add(queue_id as u32 as u64);
    (hash % shard_count as u64) as usize
}

/// The shard whose CommitLog holds `physical_offset`, if there is such a shard.
pub fn shard_of_physical_offset(physical_offset: u64, shard_count: usize) -> Option<usize> {
    let shard = (physical_offset >> SHARD_OFFSET_SHIFT) as usize;
    (shard < shard_count).then_some(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_shard_is_pinned() {
        // Pinned values: changing the function would strand data written under the old one.
        // crc32("TopicTest") = 0x84743bc9 (IEEE), plus the queue id, modulo the shard count.
        let owners: Vec<usize> = (0..8).map(|q| owner_shard("TopicTest", q, 2)).collect();
        assert_eq!(owners, [1, 0, 1, 0, 1, 0, 1, 0]);
        let owners: Vec<usize> = (0..4).map(|q| owner_shard("TopicTest", q, 3)).collect();
        assert_eq!(owners, [1, 2, 0, 1]);
        assert_eq!(owner_shard("anything", 5, 1), 0);
    }

    #[test]
    fn physical_offsets_name_their_shard() {
        assert_eq!(
            shard_of_physical_offset(3 << SHARD_OFFSET_SHIFT | 12345, 4),
            Some(3)
        );
        assert_eq!(shard_of_physical_offset(3 << SHARD_OFFSET_SHIFT, 2), None);
        assert_eq!(shard_of_physical_offset(u64::MAX, 2), None);
        assert_eq!(shard_of_physical_offset(17, 1), Some(0));
    }
}
