//! What a connection has queued for its peer, and how the writer sends it.
//!
//! Encoded frames go into one byte buffer. A pull answer's records are not copied there:
//! they stay the store's `Bytes` slices, each recorded at the position of the buffer it
//! follows, and the writer sends buffer runs and slices together with one gathering
//! `sendmsg` (a glommio patch, third_party/README.md). In a cold backlog drain the copy of
//! every served byte into the buffer was about half of the broker's `memmove`.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;

/// Body parts shorter than this are copied into the buffer: an iovec entry and a
/// reference count cost more than copying a few hundred bytes.
const PART_COPY_BELOW: usize = 512;
/// Parts one `Outbound` holds by reference; later ones are copied. A part keeps the whole
/// read chunk it is a slice of (`readChunkBytes`, 512 KiB) alive until it is sent, so a
/// peer that pulls and never reads its replies could otherwise pin up to 1,024 times the
/// bytes `OUTBOUND_BYTES_HIGH` allows (512 B parts, each of another chunk). With this cap a
/// connection pins at most 2 x 64 chunks (the queue and the batch being written), 64 MiB at
/// the default chunk size; a drain's usual few pulls in flight stay under it.
const PARTS_REFERENCED_MAX: usize = 64;
/// The buffer's starting capacity, and what it returns to after one huge reply grew it past
/// `BUFFER_KEPT_MAX`, so that such a buffer is not kept for the connection's life.
const BUFFER_BYTES: usize = 64 * 1024;
const BUFFER_KEPT_MAX: usize = 4 * 1024 * 1024;
/// iovec entries per `sendmsg` (the kernel's `UIO_MAXIOV` is 1024).
const SLICES_PER_SEND: usize = 256;

/// Bytes queued for the peer, in order: `bytes` with `parts` spliced in.
#[derive(Default)]
pub(super) struct Outbound {
    bytes: Vec<u8>,
    /// Each part goes out after `bytes[..position]` and before the rest; positions never
    /// decrease.
    parts: Vec<(usize, Bytes)>,
    parts_len: usize,
}

impl Outbound {
    pub(super) fn new() -> Outbound {
        Outbound {
            bytes: Vec::with_capacity(BUFFER_BYTES),
            ..Outbound::default()
        }
    }

    /// The buffer encoded frames are appended to.
    pub(super) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Queues `part` after everything queued so far, without copying it unless it is small
    /// or `PARTS_REFERENCED_MAX` parts are already held.
    pub(super) fn push_part(&mut self, part: &Bytes) {
        if part.len() < PART_COPY_BELOW || self.parts.len() >= PARTS_REFERENCED_MAX {
            self.bytes.extend_from_slice(part);
        } else {
            self.parts_len += part.len();
            self.parts.push((self.bytes.len(), part.clone()));
        }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len() + self.parts_len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties it, keeping the buffer's capacity unless one huge reply grew it.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.parts.clear();
        self.parts_len = 0;
        if self.bytes.capacity() > BUFFER_KEPT_MAX {
            self.bytes = Vec::with_capacity(BUFFER_BYTES);
        }
    }

    /// Everything queued, in order, as slices.
    fn segments(&self) -> Vec<&[u8]> {
        let mut segments = Vec::with_capacity(2 * self.parts.len() + 1);
        let mut at = 0;
        for (position, part) in &self.parts {
            if *position > at {
                segments.push(&self.bytes[at..*position]);
            }
            segments.push(&part[..]);
            at = *position;
        }
        if self.bytes.len() > at {
            segments.push(&self.bytes[at..]);
        }
        segments
    }

    /// Writes everything queued to `writer`.
    pub(super) async fn write_to(&self, writer: &mut (impl AsyncWrite + Unpin)) -> io::Result<()> {
        if self.parts.is_empty() {
            return writer.write_all(&self.bytes).await;
        }
        let segments = self.segments();
        let (mut index, mut offset) = (0, 0);
        while index < segments.len() {
            let slices: Vec<IoSlice<'_>> = std::iter::once(&segments[index][offset..])
                .chain(segments[index + 1..].iter().copied())
                .take(SLICES_PER_SEND)
                .map(IoSlice::new)
                .collect();
            let mut written = writer.write_vectored(&slices).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            // A writer never reports more than it was offered; the bound keeps a broken one
            // from indexing past the end.
            while written > 0 && index < segments.len() {
                let left = segments[index].len() - offset;
                if written < left {
                    offset += written;
                    written = 0;
                } else {
                    written -= left;
                    index += 1;
                    offset = 0;
                }
            }
        }
        Ok(())
    }
}

/// One side of a connection's stream: the reader task and the writer task each hold one.
/// Polls borrow the stream only for the poll itself, so the two never overlap on one
/// thread. Unlike `futures_lite::io::split`, writes keep their vectored form and no lock is
/// taken per poll.
pub(super) struct StreamSide(Rc<RefCell<TcpStream>>);

impl StreamSide {
    pub(super) fn pair(stream: TcpStream) -> (StreamSide, StreamSide) {
        let stream = Rc::new(RefCell::new(stream));
        (StreamSide(stream.clone()), StreamSide(stream))
    }
}

impl AsyncRead for StreamSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for StreamSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call and records what it got.
    struct Trickle {
        got: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            let mut taken = 0;
            for buf in bufs {
                let n = buf.len().min(self.step - taken);
                self.got.extend_from_slice(&buf[..n]);
                taken += n;
                if taken == self.step {
                    break;
                }
            }
            Poll::Ready(Ok(taken))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn parts_go_out_in_order_through_partial_writes() {
        let big = |byte: u8| Bytes::from(vec![byte; 700]);
        let mut outbound = Outbound::new();
        let mut expected = Vec::new();
        outbound.bytes_mut().extend_from_slice(b"head1");
        expected.extend_from_slice(b"head1");
        for part in [big(1), Bytes::from_static(b"small"), big(2)] {
            outbound.push_part(&part);
            expected.extend_from_slice(&part);
        }
        outbound.bytes_mut().extend_from_slice(b"head2");
        expected.extend_from_slice(b"head2");
        outbound.push_part(&big(3));
        expected.extend_from_slice(&[3; 700]);
        assert_eq!(outbound.len(), expected.len());
        // Two parts were kept as slices, the small one copied.
        assert_eq!(outbound.parts.len(), 3);
        for step in [1, 7, 700, 701, 4096] {
            let mut writer = Trickle {
                got: Vec::new(),
                step,
                calls: 0,
            };
            futures_lite::future::block_on(outbound.write_to(&mut writer)).unwrap();
            assert_eq!(writer.got, expected, "step {step}");
            if step >= expected.len() {
                assert_eq!(writer.calls, 1, "one sendmsg for everything");
            }
        }
        outbound.clear();
        assert!(outbound.is_empty());
        assert!(outbound.segments().is_empty());
    }

    #[test]
    fn parts_past_the_cap_are_copied_so_a_stalled_peer_pins_few_chunks() {
        // Each part is a 600-byte slice of its own 64 KiB "chunk".
        let chunks: Vec<Bytes> = (0..PARTS_REFERENCED_MAX + 10)
            .map(|i| Bytes::from(vec![i as u8; 64 * 1024]))
            .collect();
        let mut outbound = Outbound::new();
        let mut expected = Vec::new();
        for chunk in &chunks {
            let part = chunk.slice(100..700);
            outbound.push_part(&part);
            expected.extend_from_slice(&part);
        }
        assert_eq!(outbound.parts.len(), PARTS_REFERENCED_MAX);
        assert_eq!(outbound.len(), expected.len());
        let mut writer = Trickle {
            got: Vec::new(),
            step: 1000,
            calls: 0,
        };
        futures_lite::future::block_on(outbound.write_to(&mut writer)).unwrap();
        assert_eq!(writer.got, expected);
    }
}
