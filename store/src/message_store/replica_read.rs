//! The master's replication read: whole records from any CommitLog offset, cut for one
//! transfer, as `Bytes` parts the HA link writes to the socket as they are (vectored).
//!
//! Data only on the device comes as slices of the read cache's O_DIRECT chunks, with
//! read-ahead for a slave catching up; recent records as one copy out of the write
//! buffers. No user-space copy of device data, and no page-cache path: the CommitLog is
//! written with O_DIRECT, so sendfile/splice from it would read the device synchronously
//! on the shard (docs/replication.md, "Why not sendfile").

use bytes::Bytes;

use crate::message::record::BLANK_MAGIC_CODE;
use crate::storage::Storage;

use super::replica::ReplicaError;
use super::MessageStore;

/// One transfer to a slave: whole records (or one blank end-of-file marker, as its
/// 8-byte header) from the offset asked for, in order across `parts`.
#[derive(Debug, Clone, Default)]
pub struct ReplicaTransfer {
    pub parts: Vec<Bytes>,
    /// Where the next transfer starts: past the records, or the next segment's start
    /// after a blank marker.
    pub end: u64,
}

impl ReplicaTransfer {
    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The transfer as one buffer (tests, and a slave in the same process).
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

impl<S: Storage> MessageStore<S> {
    /// Whole records (or one blank marker, as its 8-byte header) from `offset`, at most
    /// `max_bytes` unless the first record alone is larger, never past the segment end.
    /// `None` when nothing is written past `offset` yet.
    pub async fn read_for_replica(
        &self,
        offset: u64,
        max_bytes: usize,
    ) -> Result<Option<ReplicaTransfer>, ReplicaError> {
        let commit_log = &self.inner.commit_log;
        let written = commit_log.max_offset();
        if offset >= written {
            return Ok(None);
        }
        let bad = |reason: String| ReplicaError::BadRecord { offset, reason };
        if offset < commit_log.min_offset() {
            return Err(bad(format!(
                "already deleted by retention (oldest offset {})",
                commit_log.min_offset()
            )));
        }
        let segment_end = commit_log.segment_base_of(offset) + commit_log.segment_size();
        let head_end = offset + 8;
        if head_end > segment_end.min(written) {
            return Err(bad("no record header at this offset".into()));
        }
        let head_parts = commit_log
            .read_parts(offset, head_end)
            .await
            .map_err(|e| bad(e.to_string()))?;
        let head = PartCursor::new(&head_parts)
            .head_at(0)
            .ok_or_else(|| bad("no record header at this offset".into()))?;
        let (size, magic) = head;
        if magic == BLANK_MAGIC_CODE {
            return Ok(Some(ReplicaTransfer {
                parts: head_parts,
                end: segment_end,
            }));
        }
        let record_max = self.inner.config.record_size_max();
        if size <= 8 || size as usize > record_max {
            return Err(bad(format!("TOTALSIZE {size} (magic {magic:#010x})")));
        }
        // The written end may have moved on while the head was read.
        let limit = commit_log
            .max_offset()
            .min(segment_end)
            .min(offset + max_bytes.max(size as usize) as u64);
        let mut parts = commit_log
            .read_parts(offset, limit)
            .await
            .map_err(|e| bad(e.to_string()))?;
        let len = whole_records_len(&parts);
        if len == 0 {
            return Err(bad("no whole record at this offset".into()));
        }
        truncate_parts(&mut parts, len);
        Ok(Some(ReplicaTransfer {
            parts,
            end: offset + len as u64,
        }))
    }
}

/// The length of the whole records at the start of `parts`: cut after the last whole
/// one, and before a blank marker (it goes alone, in a transfer of its own).
fn whole_records_len(parts: &[Bytes]) -> usize {
    let total: usize = parts.iter().map(Bytes::len).sum();
    let mut cursor = PartCursor::new(parts);
    let mut at = 0usize;
    while let Some((size, magic)) = cursor.head_at(at) {
        if magic == BLANK_MAGIC_CODE || size <= 8 || size as usize > total - at {
            break;
        }
        at += size as usize;
    }
    at
}

/// Drops everything of `parts` past `len` bytes.
fn truncate_parts(parts: &mut Vec<Bytes>, len: usize) {
    let mut kept = 0usize;
    let mut count = 0usize;
    for part in parts.iter_mut() {
        if kept >= len {
            break;
        }
        if kept + part.len() > len {
            part.truncate(len - kept);
        }
        kept += part.len();
        count += 1;
    }
    parts.truncate(count);
}

/// Reads record heads (TOTALSIZE, MAGICCODE) at increasing positions of a transfer held
/// in parts; a head may straddle two (or more) parts.
struct PartCursor<'a> {
    parts: &'a [Bytes],
    /// The part holding the last position asked for, and where that part starts.
    index: usize,
    part_start: usize,
}

impl<'a> PartCursor<'a> {
    fn new(parts: &'a [Bytes]) -> Self {
        Self {
            parts,
            index: 0,
            part_start: 0,
        }
    }

    /// The 8-byte head at `at` (never below a position asked before), if the parts hold
    /// all 8 bytes.
    fn head_at(&mut self, at: usize) -> Option<(i32, i32)> {
        while self.index < self.parts.len() && self.part_start + self.parts[self.index].len() <= at
        {
            self.part_start += self.parts[self.index].len();
            self.index += 1;
        }
        let mut head = [0u8; 8];
        let mut filled = 0;
        let (mut index, mut from) = (self.index, at.checked_sub(self.part_start)?);
        while filled < 8 {
            let part = self.parts.get(index)?;
            let take = (part.len() - from).min(8 - filled);
            head[filled..filled + take].copy_from_slice(&part[from..from + take]);
            filled += take;
            index += 1;
            from = 0;
        }
        Some((
            i32::from_be_bytes(head[..4].try_into().unwrap()),
            i32::from_be_bytes(head[4..].try_into().unwrap()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::record::MESSAGE_MAGIC_CODE_V1;

    /// A fake record of `size` bytes: its head, then filler.
    fn record(size: usize) -> Vec<u8> {
        let mut bytes = vec![0xabu8; size];
        bytes[..4].copy_from_slice(&(size as i32).to_be_bytes());
        bytes[4..8].copy_from_slice(&MESSAGE_MAGIC_CODE_V1.to_be_bytes());
        bytes
    }

    fn blank(size: usize) -> Vec<u8> {
        let mut bytes = record(size);
        bytes[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
        bytes
    }

    /// `bytes` cut into parts at `cuts` (as chunk edges cut a range).
    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
        let mut parts = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            parts.push(Bytes::copy_from_slice(&bytes[from..cut]));
            from = cut;
        }
        parts
    }

    #[test]
    fn a_record_split_across_two_chunks_counts_whole() {
        let log = [record(100), record(300), record(50)].concat();
        // The second record's head straddles the edge (at 103 = 3 bytes into it), and its
        // body runs into the next part.
        for cuts in [vec![103], vec![100], vec![200], vec![102, 104, 400]] {
            let parts = split(&log, &cuts);
            assert_eq!(whole_records_len(&parts), 450, "cuts {cuts:?}");
        }
    }

    #[test]
    fn the_batch_is_cut_after_the_last_whole_record() {
        let log = [record(100), record(300)].concat();
        // The read stopped 10 bytes short of the second record's end, or inside its head.
        let short = split(&log[..390], &[250]);
        assert_eq!(whole_records_len(&short), 100);
        let mut parts = split(&log[..390], &[250]);
        truncate_parts(&mut parts, 100);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts.concat(), record(100));
        assert_eq!(whole_records_len(&split(&log[..104], &[102])), 100);
        assert_eq!(
            whole_records_len(&split(&log[..50], &[])),
            0,
            "no whole record"
        );
    }

    #[test]
    fn a_blank_marker_at_a_chunk_edge_is_not_taken_with_records() {
        let log = [record(100), record(60), blank(40)].concat();
        for cuts in [vec![160], vec![162], vec![80, 165]] {
            assert_eq!(whole_records_len(&split(&log, &cuts)), 160, "cuts {cuts:?}");
        }
    }

    #[test]
    fn a_damaged_size_stops_the_cut() {
        let mut log = [record(100), record(60)].concat();
        log[100..104].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(whole_records_len(&split(&log, &[120])), 100);
        log[100..104].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(whole_records_len(&split(&log, &[120])), 100);
    }

    #[test]
    fn truncation_keeps_slices_of_the_same_memory() {
        let log = Bytes::from([record(100), record(60), record(40)].concat());
        let mut parts = vec![log.slice(..130), log.slice(130..)];
        truncate_parts(&mut parts, 160);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].len(), 30);
        assert_eq!(
            parts[1].as_ptr(),
            log[130..].as_ptr(),
            "a slice, not a copy"
        );
        let transfer = ReplicaTransfer { parts, end: 160 };
        assert_eq!(transfer.len(), 160);
        assert_eq!(transfer.to_vec(), log[..160].to_vec());
    }
}
