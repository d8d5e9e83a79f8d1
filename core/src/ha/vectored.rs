//! Writes a transfer (its 12-byte header and the `Bytes` parts the store read, slices of
//! read-cache chunks or one copy of the write buffers' tail) to a slave's socket with
//! `sendmsg` over all of them at once: no frame buffer, no copy in user space.
//!
//! glommio's `TcpStream` has no `poll_write_vectored` (the default writes only the first
//! slice, one syscall per part), and `futures_lite::io::split` would not forward it
//! either. So the fast path calls `sendmsg(MSG_DONTWAIT)` on the socket itself; when the
//! socket buffer is full it writes through the stream's own `write`, which parks the task
//! until the socket is writable (glommio's readiness poll), then goes on vectored.

use std::io;
use std::os::fd::RawFd;

use bytes::Bytes;
use futures_lite::{AsyncWrite, AsyncWriteExt};

/// The most slices one `sendmsg` takes (far below IOV_MAX; a transfer has a few parts).
const IOVECS_MAX: usize = 64;

/// Writes `header` then every part, whole, to `fd`, the socket `writer` writes to.
pub async fn write_all_parts<W: AsyncWrite + Unpin>(
    writer: &mut W,
    fd: RawFd,
    header: &[u8],
    parts: &[Bytes],
) -> io::Result<()> {
    let slices: Vec<&[u8]> = std::iter::once(header)
        .chain(parts.iter().map(|part| &part[..]))
        .filter(|slice| !slice.is_empty())
        .collect();
    // The first slice not wholly sent, and how much of it was.
    let (mut first, mut sent_of_first) = (0usize, 0usize);
    while first < slices.len() {
        let sent = match send_vectored(fd, &slices[first..], sent_of_first) {
            Ok(sent) => sent,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                // Socket buffer full: let glommio wait for room (it writes what fits of
                // this slice once there is).
                writer.write(&slices[first][sent_of_first..]).await?
            }
            Err(error) => return Err(error),
        };
        if sent == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let mut left = sent_of_first + sent;
        while first < slices.len() && left >= slices[first].len() {
            left -= slices[first].len();
            first += 1;
        }
        sent_of_first = left;
    }
    Ok(())
}

/// One non-blocking `sendmsg` of `slices` (the first one from `skip`).
fn send_vectored(fd: RawFd, slices: &[&[u8]], skip: usize) -> io::Result<usize> {
    let mut iovecs: Vec<libc::iovec> = slices
        .iter()
        .take(IOVECS_MAX)
        .enumerate()
        .map(|(index, slice)| {
            let slice = if index == 0 { &slice[skip..] } else { slice };
            libc::iovec {
                iov_base: slice.as_ptr() as *mut libc::c_void,
                iov_len: slice.len(),
            }
        })
        .collect();
    // SAFETY: zeroed is a valid msghdr (no address, no control data).
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iovecs.as_mut_ptr();
    message.msg_iovlen = iovecs.len() as _;
    // SAFETY: every iovec points into a slice borrowed for this call; the kernel only
    // reads them. MSG_NOSIGNAL: a closed peer is an error here, not SIGPIPE.
    let sent = unsafe { libc::sendmsg(fd, &message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use futures_lite::AsyncReadExt;
    use glommio::net::{TcpListener, TcpStream};

    use super::*;

    fn set_buffer(stream: &TcpStream, option: libc::c_int, bytes: libc::c_int) {
        ramjet_net::server::set_socket_buffer(stream.as_raw_fd(), option, bytes)
            .expect("setsockopt");
    }

    #[test]
    fn parts_arrive_whole_and_in_order_through_a_full_socket() {
        // Proves partial sends (small socket buffers, a slow reader) resume at the right
        // byte of the right part, across many parts and more than IOVECS_MAX of them,
        // including empty ones, and that the stream's write path handles a full buffer.
        let executor = glommio::LocalExecutorBuilder::default().make().unwrap();
        executor.run(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            set_buffer(&client, libc::SO_RCVBUF, 16 * 1024);
            let mut server = listener.accept().await.unwrap();
            set_buffer(&server, libc::SO_SNDBUF, 16 * 1024);
            let fd = server.as_raw_fd();
            let data: Vec<u8> = (0..3_000_000u32).map(|at| (at * 7 % 251) as u8).collect();
            let data = Bytes::from(data);
            let mut parts = Vec::new();
            let mut at = 0;
            for len in (0..200).map(|i| (i * 7919) % 30_000) {
                let end = (at + len).min(data.len());
                parts.push(data.slice(at..end));
                at = end;
            }
            parts.push(data.slice(at..));
            let header = *b"header-12byt";
            let expected_len = header.len() + data.len();
            let writer = async {
                write_all_parts(&mut server, fd, &header, &parts)
                    .await
                    .unwrap();
            };
            let reader = async {
                let mut received = Vec::new();
                let mut buf = vec![0u8; 7000];
                while received.len() < expected_len {
                    let read = client.read(&mut buf).await.unwrap();
                    assert!(read > 0);
                    received.extend_from_slice(&buf[..read]);
                    glommio::timer::sleep(std::time::Duration::from_micros(50)).await;
                }
                received
            };
            let ((), received) = futures_lite::future::zip(writer, reader).await;
            assert_eq!(&received[..12], &header);
            assert!(received[12..] == data[..], "bytes differ");
        });
    }
}
