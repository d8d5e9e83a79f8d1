//! [`BlockingClient`]: one connection, one request at a time, from an ordinary thread.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::resolve;
use crate::remoting::{decode_frame, RemotingCommand, FRAME_BYTES_MAX_DEFAULT};
use crate::server::connection::InvokeError;

/// One connection used one request at a time, from ordinary threads: `mqadmin`, tests.
pub struct BlockingClient {
    stream: TcpStream,
    peer: SocketAddr,
    next_opaque: i32,
    buf: Vec<u8>,
    /// With ACL credentials every request is signed before it is written (docs/acl.md).
    credentials: Option<crate::acl::SessionCredentials>,
}

impl BlockingClient {
    pub fn connect(addr: &str, timeout: Duration) -> Result<BlockingClient, InvokeError> {
        let error = |reason: String| InvokeError::Connect {
            addr: addr.to_owned(),
            reason,
        };
        let peer = resolve(addr).map_err(error)?;
        let stream =
            TcpStream::connect_timeout(&peer, timeout).map_err(|e| error(e.to_string()))?;
        stream.set_nodelay(true).map_err(|e| error(e.to_string()))?;
        Ok(BlockingClient {
            stream,
            peer,
            next_opaque: 1,
            buf: Vec::new(),
            credentials: None,
        })
    }

    /// A client on a stream connected elsewhere (a test that binds its source address
    /// before connecting, say).
    pub fn from_stream(stream: TcpStream) -> std::io::Result<BlockingClient> {
        stream.set_nodelay(true)?;
        Ok(BlockingClient {
            peer: stream.peer_addr()?,
            stream,
            next_opaque: 1,
            buf: Vec::new(),
            credentials: None,
        })
    }

    /// Signs every later request with `credentials` (RocketMQ ACL 1.0), as Java's
    /// `AclClientRPCHook` does.
    pub fn with_credentials(
        mut self,
        credentials: Option<crate::acl::SessionCredentials>,
    ) -> BlockingClient {
        self.credentials = credentials;
        self
    }

    /// Sends `request` and waits up to `timeout` for its response. Responses to other
    /// opaques (an earlier request that timed out) are skipped.
    pub fn invoke(
        &mut self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, InvokeError> {
        request.opaque = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1);
        if let Some(credentials) = &self.credentials {
            credentials.sign(&mut request);
        }
        let closed = |_| InvokeError::Closed(self.peer);
        self.stream
            .write_all(&request.encode_to_vec())
            .map_err(closed)?;
        let opaque = request.opaque;
        self.next_frame(timeout, |frame| {
            frame.is_response() && frame.opaque == opaque
        })
    }

    /// Waits up to `timeout` for the next request the server sends this client (a broker's
    /// NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE, RESET_CONSUMER_CLIENT_OFFSET).
    /// Responses read meanwhile are dropped; so are requests that arrive during `invoke`.
    pub fn receive_request(&mut self, timeout: Duration) -> Result<RemotingCommand, InvokeError> {
        self.next_frame(timeout, |frame| !frame.is_response())
    }

    /// Reads frames until one is `wanted`, skipping the others, for at most `timeout`.
    fn next_frame(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&RemotingCommand) -> bool,
    ) -> Result<RemotingCommand, InvokeError> {
        let closed = |_| InvokeError::Closed(self.peer);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some((frame, used)) = decode_frame(&self.buf, FRAME_BYTES_MAX_DEFAULT)
                .map_err(|_| InvokeError::Closed(self.peer))?
            {
                self.buf.drain(..used);
                if wanted(&frame) {
                    return Ok(frame);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(InvokeError::Timeout {
                    peer: self.peer,
                    timeout_ms: timeout.as_millis(),
                });
            }
            self.stream.set_read_timeout(Some(left)).map_err(closed)?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(InvokeError::Closed(self.peer)),
                Ok(read) => self.buf.extend_from_slice(&chunk[..read]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => return Err(InvokeError::Closed(self.peer)),
            }
        }
    }

    /// Sends a oneway request.
    pub fn invoke_oneway(&mut self, mut request: RemotingCommand) -> Result<(), InvokeError> {
        request.opaque = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1);
        request.mark_oneway();
        if let Some(credentials) = &self.credentials {
            credentials.sign(&mut request);
        }
        self.stream
            .write_all(&request.encode_to_vec())
            .map_err(|_| InvokeError::Closed(self.peer))
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}
