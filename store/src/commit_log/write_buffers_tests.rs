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

#[test]
fn disk_image_equals_appended_bytes_whatever_order_writes_complete() {
    // Proves the no-overlap and carry rules: apply each batch's writes in reverse order
    // (the worst case for overlaps) and the disk must still hold exactly what was appended,
    // followed by zeros up to the end of the last block.
    let mut seed = 12345u64;
    let mut next = |bound: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    let limit = 1 << 20;
    let mut buffers = WriteBuffers::<VecBuf>::new(16 * 1024, 3, 64 * 1024);
    let mut disk = vec![0u8; limit as usize];
    let mut appended = Vec::new();
    let mut written = 0u64;
    while appended.len() < 600_000 {
        let size = 1 + next(9000) as usize;
        let offset = appended.len() as u64;
        match buffers.reserve(offset, size, limit, garbage) {
            Reserve::Ready => {
                let record: Vec<u8> = (0..size).map(|i| (offset as usize + i) as u8 | 1).collect();
                buffers.append(size).copy_from_slice(&record);
                appended.extend_from_slice(&record);
                assert_eq!(buffers.read(offset, size), Some(&record[..]));
            }
            Reserve::NoBuffer => {}
        }
        if next(3) == 0
            || matches!(
                buffers.reserve(appended.len() as u64, 1, limit, garbage),
                Reserve::NoBuffer
            )
        {
            let batch = buffers.take_batch(written);
            for (base, buf) in batch.writes.iter().rev() {
                let start = *base as usize;
                disk[start..start + buf.0.len()].copy_from_slice(&buf.0);
            }
            buffers.complete_batch();
            written = batch.end;
            assert_eq!(&disk[..written as usize], &appended[..written as usize]);
            let block_end = align_up(written as usize);
            assert!(disk[written as usize..block_end]
                .iter()
                .all(|byte| *byte == 0));
        }
    }
    assert!(written > 500_000);
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
    let batch = buffers.take_batch(4106);
    assert_eq!(batch.end, 4111);
    let (base, buf) = &batch.writes[0];
    assert_eq!(*base, 4096);
    assert_eq!(&buf.0[..15], &[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9, 9, 9, 9, 9]);
    assert_eq!(buf.0.len(), 4096);
    assert!(buf.0[15..].iter().all(|byte| *byte == 0));
}
