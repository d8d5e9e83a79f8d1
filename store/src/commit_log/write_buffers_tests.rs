use super::*;

struct VecBuf(Vec<u8>);

impl IoBuffer for VecBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn trim_to_size(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

fn garbage(len: usize) -> VecBuf {
    VecBuf(vec![0xEE; len])
}

struct Disk {
    bytes: Vec<u8>,
    in_flight: Vec<(u64, Rc<VecBuf>)>,
}

impl Disk {
    /// Issues every write the buffers hand out now; no two in-flight writes may share a
    /// byte, since O_DIRECT writes complete in any order.
    fn issue_ready(&mut self, buffers: &mut WriteBuffers<VecBuf>) {
        while let Some(write) = buffers.next_write(self.in_flight.is_empty()) {
            let end = write.offset + write.buf.0.len() as u64;
            assert_eq!(write.offset % IO_ALIGNMENT, 0);
            assert_eq!(end % IO_ALIGNMENT, 0);
            for (offset, buf) in &self.in_flight {
                let other_end = offset + buf.0.len() as u64;
                assert!(
                    end <= *offset || other_end <= write.offset,
                    "overlapping writes"
                );
            }
            self.in_flight.push((write.offset, write.buf));
        }
    }

    fn complete(&mut self, at: usize, buffers: &mut WriteBuffers<VecBuf>) -> u64 {
        let (offset, buf) = self.in_flight.remove(at);
        let start = offset as usize;
        self.bytes[start..start + buf.0.len()].copy_from_slice(&buf.0);
        buffers.complete_write(offset)
    }
}

#[test]
fn disk_image_equals_appended_bytes_whatever_order_writes_complete() {
    // Proves the no-overlap and carry rules with several writes in flight completing in
    // random order: the written offset only covers bytes that are on disk, and the disk
    // never holds anything but appended bytes or zero padding.
    let mut seed = 12345u64;
    let mut next = |bound: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    let limit = 2 << 20;
    let mut buffers = WriteBuffers::<VecBuf>::new(16 * 1024, 4, 64 * 1024);
    let mut disk = Disk {
        bytes: vec![0u8; limit as usize],
        in_flight: Vec::new(),
    };
    let mut appended = Vec::new();
    let mut written = 0u64;
    let mut max_in_flight = 0;
    let mut multi_piece_reads = 0;
    while appended.len() < 1_200_000 {
        let size = 1 + next(9000) as usize;
        let offset = appended.len() as u64;
        if let Reserve::Ready = buffers.reserve(offset, size, limit, garbage) {
            let record: Vec<u8> = (0..size).map(|i| (offset as usize + i) as u8 | 1).collect();
            buffers.append(size).copy_from_slice(&record);
            if next(2) == 0 {
                buffers.seal_if_full(size); // What CommitLog::append does.
            }
            appended.extend_from_slice(&record);
            assert_eq!(buffers.read(offset, size), Some(&record[..]));
            // The recent tail, read piece by piece across buffers (replication reads).
            let end = appended.len();
            let mut from = end.saturating_sub(1 + next(40_000) as usize);
            let mut pieces = 0;
            while from < end {
                let Some(piece) = buffers.read_prefix(from as u64, end - from) else {
                    break; // Older than the tail cache.
                };
                assert!(!piece.is_empty());
                assert_eq!(piece, &appended[from..from + piece.len()]);
                from += piece.len();
                pieces += 1;
            }
            multi_piece_reads += usize::from(from == end && pieces > 1);
        } else if disk.in_flight.is_empty() {
            disk.issue_ready(&mut buffers);
            assert!(!disk.in_flight.is_empty(), "no buffer and nothing to write");
        }
        if next(4) == 0 {
            disk.issue_ready(&mut buffers);
        }
        max_in_flight = max_in_flight.max(disk.in_flight.len());
        if !disk.in_flight.is_empty() && next(3) == 0 {
            let at = next(disk.in_flight.len() as u64) as usize;
            let now = disk.complete(at, &mut buffers);
            assert!(now >= written);
            written = now;
            assert_eq!(
                &disk.bytes[..written as usize],
                &appended[..written as usize]
            );
            let issued_end = align_up(appended.len());
            let beyond = disk.bytes[written as usize..issued_end].iter().enumerate();
            for (at, byte) in beyond.filter(|(_, byte)| **byte != 0) {
                assert_eq!(*byte, appended[written as usize + at], "garbage on disk");
            }
        }
    }
    while !disk.in_flight.is_empty() || buffers.has_write_ready(true) {
        disk.issue_ready(&mut buffers);
        let at = next(disk.in_flight.len() as u64) as usize;
        written = disk.complete(at, &mut buffers);
    }
    assert_eq!(written, appended.len() as u64);
    assert_eq!(&disk.bytes[..appended.len()], &appended[..]);
    let block_end = align_up(appended.len());
    assert!(disk.bytes[appended.len()..block_end]
        .iter()
        .all(|byte| *byte == 0));
    assert!(
        max_in_flight >= 3,
        "writes overlapped in time: {max_in_flight}"
    );
    assert!(multi_piece_reads > 0, "tail reads across buffers");
}

#[test]
fn reset_carries_the_recovered_tail_block() {
    let mut buffers = WriteBuffers::<VecBuf>::new(8192, 2, 0);
    buffers.reset(4096 + 10, vec![7; 10]);
    assert!(matches!(
        buffers.reserve(4106, 5, 1 << 20, garbage),
        Reserve::Ready
    ));
    buffers.append(5).copy_from_slice(&[9; 5]);
    let write = buffers.next_write(true).unwrap();
    assert_eq!(write.offset, 4096);
    let buf = &write.buf.0;
    assert_eq!(&buf[..15], &[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9, 9, 9, 9, 9]);
    assert_eq!(buf.len(), 4096);
    assert!(buf[15..].iter().all(|byte| *byte == 0));
    assert_eq!(buffers.written_end(), 4106);
    assert_eq!(buffers.complete_write(4096), 4111);
}

#[test]
fn one_record_per_write_keeps_the_tail_cache_within_its_memory_bound() {
    // A single sync producer: every record is written alone (a partial buffer sealed
    // while the disk is idle), and each such buffer holds a whole allocation however
    // little of it the write used. The cache must count allocations, or it keeps
    // thousands of mostly empty buffers: their memory, and bookkeeping that walks them
    // all on every append and completion (~150 µs of CPU per record measured).
    let buffer_bytes = 64 * 1024;
    let cache_bytes = 256 * 1024;
    let mut buffers = WriteBuffers::<VecBuf>::new(buffer_bytes, 4, cache_bytes);
    let mut disk = Disk {
        bytes: vec![0u8; 4 << 20],
        in_flight: Vec::new(),
    };
    let mut offset = 0u64;
    for _ in 0..2000 {
        assert!(matches!(
            buffers.reserve(offset, 1000, 4 << 20, garbage),
            Reserve::Ready
        ));
        buffers.append(1000).fill(7);
        offset += 1000;
        disk.issue_ready(&mut buffers);
        assert_eq!(
            disk.in_flight.len(),
            1,
            "the idle disk writes the partial buffer"
        );
        assert_eq!(disk.complete(0, &mut buffers), offset);
        assert!(
            buffers.slots.len() <= cache_bytes / buffer_bytes + 1,
            "{} buffers kept for a {cache_bytes}-byte cache of {buffer_bytes}-byte buffers",
            buffers.slots.len()
        );
    }
    // What the cache keeps is still served.
    assert_eq!(buffers.read(offset - 1000, 1000), Some(&[7u8; 1000][..]));
}

#[test]
fn a_full_buffer_is_written_at_once_while_another_write_is_in_flight() {
    // Proves the pipeline `mqbench store` needs: with 4 KiB records filling 16 KiB buffers
    // exactly, a buffer is sealed by the append that fills it, so its write may go while
    // the previous one is still in flight, marked urgent (handed to the kernel at once).
    // Without the eager seal it waited for the next append, which under load only comes
    // after the writes in flight complete: the disk then idled in between.
    let mut buffers = WriteBuffers::<VecBuf>::new(16 * 1024, 4, 0);
    let mut disk = Disk {
        bytes: vec![0u8; 1 << 20],
        in_flight: Vec::new(),
    };
    let record = 4096;
    let mut offset = 0u64;
    let mut append = |buffers: &mut WriteBuffers<VecBuf>| {
        assert!(matches!(
            buffers.reserve(offset, record, 1 << 20, garbage),
            Reserve::Ready
        ));
        buffers.append(record).fill(3);
        buffers.seal_if_full(record);
        offset += record as u64;
    };
    // A lone record on an idle disk: the partial buffer goes, not urgent.
    append(&mut buffers);
    let write = buffers.next_write(true).expect("idle write");
    assert!(!write.urgent);
    assert_eq!(write.buf.0.len(), 4096);
    disk.in_flight.push((write.offset, write.buf));
    // Four more fill the next buffer, and the last of them seals it.
    for _ in 0..4 {
        append(&mut buffers);
    }
    let write = buffers
        .next_write(false)
        .expect("a full buffer goes while a write is in flight");
    assert!(write.urgent);
    assert_eq!(write.offset, 4096);
    assert_eq!(write.buf.0.len(), 16 * 1024);
    assert!(buffers.next_write(false).is_none(), "nothing else is full");
    disk.in_flight.push((write.offset, write.buf));
    assert_eq!(disk.complete(1, &mut buffers), 0, "in CommitLog order");
    assert_eq!(disk.complete(0, &mut buffers), 5 * 4096);
}
