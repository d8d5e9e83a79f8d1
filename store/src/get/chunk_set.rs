//! The chunks one get has loaded: held for the whole batch (the cache may evict them
//! meanwhile; the batch's slices keep them alive), and the records cut out of them.

use bytes::{Bytes, BytesMut};

use crate::commit_log::read_cache::Chunk;

#[derive(Default)]
pub(super) struct ChunkSet {
    chunks: Vec<Chunk>,
}

impl ChunkSet {
    /// The held chunk starting at `start`, if it is loaded to `need_end`.
    pub fn covering(&self, start: u64, need_end: u64) -> Option<&Chunk> {
        self.chunks
            .iter()
            .find(|chunk| chunk.start == start && need_end <= chunk.end())
    }

    /// Holds `chunk`, in place of a shorter copy of it.
    pub fn add(&mut self, chunk: Chunk) {
        self.chunks.retain(|held| held.start != chunk.start);
        self.chunks.push(chunk);
    }

    /// The highest chunk read for this get: where read-ahead continues from.
    pub fn last_start(&self) -> Option<u64> {
        self.chunks.iter().map(|chunk| chunk.start).max()
    }

    /// `[offset, end)` as `(buffer, at)`: a slice of the one chunk holding it (no copy), or
    /// copied together from the chunks it spans. `None` if the held chunks do not cover it.
    pub fn record(&self, offset: u64, end: u64) -> Option<(Bytes, usize)> {
        if let Some(chunk) = self.chunks.iter().find(|chunk| chunk.covers(offset, end)) {
            return Some((chunk.bytes.clone(), (offset - chunk.start) as usize));
        }
        let mut joined = BytesMut::with_capacity((end - offset) as usize);
        let mut at = offset;
        while at < end {
            let chunk = self
                .chunks
                .iter()
                .find(|chunk| chunk.start <= at && at < chunk.end())?;
            let piece_end = end.min(chunk.end());
            let from = (at - chunk.start) as usize;
            let to = (piece_end - chunk.start) as usize;
            joined.extend_from_slice(&chunk.bytes[from..to]);
            at = piece_end;
        }
        Some((joined.freeze(), 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(start: u64, len: usize) -> Chunk {
        let bytes: Vec<u8> = (start..start + len as u64).map(|at| at as u8).collect();
        Chunk {
            start,
            bytes: Bytes::from(bytes),
        }
    }

    fn expected(offset: u64, end: u64) -> Vec<u8> {
        (offset..end).map(|at| at as u8).collect()
    }

    #[test]
    fn a_record_inside_a_chunk_is_a_slice_of_it() {
        let mut set = ChunkSet::default();
        set.add(chunk(4096, 4096));
        let (buf, at) = set.record(5000, 6000).unwrap();
        assert_eq!(buf.as_ptr(), set.chunks[0].bytes.as_ptr(), "no copy");
        assert_eq!(&buf[at..at + 1000], expected(5000, 6000).as_slice());
        assert!(set.record(8000, 8200).is_none(), "past the chunk");
    }

    #[test]
    fn a_record_across_chunks_is_joined_from_each() {
        let mut set = ChunkSet::default();
        for start in [0, 100, 200] {
            set.add(chunk(start, 100));
        }
        let (buf, at) = set.record(50, 250).unwrap();
        assert_eq!(at, 0);
        assert_eq!(&buf[..], expected(50, 250).as_slice());
        assert!(set.record(250, 301).is_none(), "a missing piece");
        assert_eq!(set.last_start(), Some(200));
    }

    #[test]
    fn a_longer_copy_of_a_chunk_replaces_the_shorter() {
        let mut set = ChunkSet::default();
        set.add(chunk(0, 10));
        assert!(set.covering(0, 20).is_none());
        set.add(chunk(0, 30));
        assert!(set.covering(0, 20).is_some());
        assert_eq!(set.chunks.len(), 1);
    }
}
