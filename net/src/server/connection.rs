//! One remoting connection, used by servers (accepted) and clients (connected) alike.
//!
//! ```text
//!   reader task: bytes ─► decode_frame_split ─► request  ─► spawn handler ─► Outbound
//!                                             └► response ─► pending[opaque] (our own request)
//!   writer task: Outbound ─► write_to (one gathering sendmsg) ─► socket
//! ```
//! The reader never waits for a handler: clients pipeline many requests on one connection
//! and match replies by opaque, so each request runs as its own task and writes its reply
//! when ready. Bounds keep memory flat: at most `IN_FLIGHT_MAX` requests run per connection
//! and the reader stops reading while more than `OUTBOUND_BYTES_HIGH` bytes wait to be sent.
//! A reader stopped that way sleeps on a waker that the writer fires when it takes the
//! queued bytes (or the connection closes), so it resumes as soon as there is room and no
//! timer polls in between.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;

use super::counters::LimitCounters;
use super::limits::{Admission, ConnectionLimits, RequestRate};
use super::outbound::{Outbound, StreamSide};
use super::RequestHandler;
use crate::code::response;
use crate::remoting::{decode_frame_split, RemotingCommand};

/// Request bytes (in KiB, rounded up, plus one per request) one connection may have in
/// processing at once; its reader waits past this, which pushes back through TCP.
pub const CONNECTION_IN_FLIGHT_KIB_MAX: u64 = 64 * 1024;
/// The same bound for all connections of one shard together.
pub const SHARD_IN_FLIGHT_KIB_MAX: u64 = 512 * 1024;
/// Connections one shard serves at once; more are closed on accept with a log line.
pub const CONNECTIONS_MAX: usize = 16 * 1024;
/// Outbound bytes above which the reader stops reading (a slow reader of our replies).
pub const OUTBOUND_BYTES_HIGH: usize = 64 * 1024 * 1024;
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Why a request we sent got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    #[error("no response from {peer} within {timeout_ms} ms")]
    Timeout { peer: SocketAddr, timeout_ms: u128 },
    #[error("connection to {0} closed")]
    Closed(SocketAddr),
    #[error("connect to {addr} failed: {reason}")]
    Connect { addr: String, reason: String },
}

/// The shared half of a connection: what handlers keep to answer later or to send the
/// peer requests of their own (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE).
pub struct Connection {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    frame_bytes_max: usize,
    outbound: RefCell<Outbound>,
    wake_writer: RefCell<Option<LocalSender<()>>>,
    /// The reader's waker while it waits for `outbound` to drop to `OUTBOUND_BYTES_HIGH`.
    wake_reader: RefCell<Option<Waker>>,
    /// How often the reader found `outbound` over the bound; once per stall plus once per
    /// wake-up, so a steady count while stalled shows that nothing polls.
    outbound_full_checks: Cell<u64>,
    /// Opaque -> waiter, for requests this side sent.
    pending: RefCell<HashMap<i32, futures_channel::oneshot::Sender<RemotingCommand>>>,
    next_opaque: Cell<i32>,
    closed: Cell<bool>,
    /// Set by whoever owns the connection's metadata (the broker's client id, say).
    pub tag: RefCell<Option<String>>,
}

impl Connection {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }

    /// Queues one encoded command for the writer. Dropped silently once closed: the peer
    /// is gone and nobody can read it.
    pub fn send(&self, command: &RemotingCommand) {
        if self.closed.get() {
            return;
        }
        command.encode_into(self.outbound.borrow_mut().bytes_mut());
        self.wake();
    }

    /// Queues a header followed by a body from other buffers (a pull response's records),
    /// which are sent from where they are rather than copied (`outbound.rs`).
    pub fn send_with_body_parts(&self, command: &RemotingCommand, parts: &[Bytes]) {
        if self.closed.get() {
            return;
        }
        let body_bytes = parts.iter().map(Bytes::len).sum();
        let mut outbound = self.outbound.borrow_mut();
        command.encode_header_for_body(body_bytes, outbound.bytes_mut());
        for part in parts {
            outbound.push_part(part);
        }
        drop(outbound);
        self.wake();
    }

    fn wake(&self) {
        if let Some(sender) = self.wake_writer.borrow().as_ref() {
            // A full channel already holds a wake-up; one is enough.
            let _ = sender.try_send(());
        }
    }

    fn outbound_bytes(&self) -> usize {
        self.outbound.borrow().len()
    }

    /// Resolves once the queued outbound bytes are at most `OUTBOUND_BYTES_HIGH` or the
    /// connection is closed. Only the writer shrinks `outbound`, so only it (and `close`)
    /// needs to wake this.
    async fn outbound_room(&self) {
        std::future::poll_fn(|context| {
            if self.outbound_bytes() <= OUTBOUND_BYTES_HIGH || self.closed.get() {
                return Poll::Ready(());
            }
            self.outbound_full_checks
                .set(self.outbound_full_checks.get() + 1);
            *self.wake_reader.borrow_mut() = Some(context.waker().clone());
            Poll::Pending
        })
        .await;
    }

    fn wake_reader(&self) {
        if let Some(waker) = self.wake_reader.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Sends a request and waits for the response with the same opaque.
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, InvokeError> {
        if self.closed.get() {
            return Err(InvokeError::Closed(self.peer));
        }
        let opaque = self.allocate_opaque();
        request.opaque = opaque;
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.pending.borrow_mut().insert(opaque, sender);
        self.send(&request);
        let result = glommio::timer::timeout(timeout, async {
            receiver
                .await
                .map_err(|_| glommio::GlommioError::Closed(glommio::ResourceType::Channel(())))
        })
        .await;
        match result {
            Ok(response) => Ok(response),
            Err(glommio::GlommioError::TimedOut(_)) => {
                self.pending.borrow_mut().remove(&opaque);
                Err(InvokeError::Timeout {
                    peer: self.peer,
                    timeout_ms: timeout.as_millis(),
                })
            }
            Err(_) => Err(InvokeError::Closed(self.peer)),
        }
    }

    /// Sends a request that must not be answered.
    pub fn invoke_oneway(&self, mut request: RemotingCommand) {
        request.opaque = self.allocate_opaque();
        request.mark_oneway();
        self.send(&request);
    }

    fn allocate_opaque(&self) -> i32 {
        let opaque = self.next_opaque.get();
        self.next_opaque.set(opaque.wrapping_add(1));
        opaque
    }

    fn complete(&self, response: RemotingCommand) {
        let waiter = self.pending.borrow_mut().remove(&response.opaque);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(response);
            }
            None => tracing::debug!(
                peer = %self.peer, opaque = response.opaque,
                "response for no pending request (it timed out)"
            ),
        }
    }

    /// Marks the connection closed: waiters fail at once instead of timing out.
    pub fn close(&self) {
        self.closed.set(true);
        self.pending.borrow_mut().clear();
        self.wake_writer.borrow_mut().take();
        self.wake_reader();
    }
}

thread_local! {
    static NEXT_CONNECTION_ID: Cell<u64> = const { Cell::new(1) };
}

/// Bounds shared by every connection of one shard: with them, a shard's memory for
/// requests is set by configuration, not by what clients send or how many connect.
pub struct ShardLimits {
    pub frame_bytes_max: usize,
    in_flight_kib: Rc<glommio::sync::Semaphore>,
    live_connections: Cell<usize>,
    pub connection_limits: ConnectionLimits,
}

impl ShardLimits {
    /// Default caps without an idle close (clients, the name server, tests).
    pub fn new(frame_bytes_max: usize) -> Rc<ShardLimits> {
        ShardLimits::with_limits(frame_bytes_max, ConnectionLimits::relaxed())
    }

    pub fn with_limits(frame_bytes_max: usize, limits: ConnectionLimits) -> Rc<ShardLimits> {
        Rc::new(ShardLimits {
            frame_bytes_max,
            in_flight_kib: Rc::new(glommio::sync::Semaphore::new(SHARD_IN_FLIGHT_KIB_MAX)),
            live_connections: Cell::new(0),
            connection_limits: limits,
        })
    }

    pub fn live_connections(&self) -> usize {
        self.live_connections.get()
    }

    pub fn at_capacity(&self) -> bool {
        self.live_connections.get() >= CONNECTIONS_MAX
    }
}

/// What one request costs against the in-flight budgets.
fn request_cost_kib(frame_bytes: usize) -> u64 {
    (frame_bytes as u64).div_ceil(1024) + 1
}

/// Starts the reader and writer tasks of `stream` on the current executor and returns the
/// shared handle. `handler` gets every request the peer sends.
pub fn start<H: RequestHandler>(
    stream: TcpStream,
    handler: Rc<H>,
    limits: Rc<ShardLimits>,
) -> std::io::Result<Rc<Connection>> {
    start_counted(stream, handler, limits, None)
}

/// `start`, for a connection `serve` admitted into the census: closing it releases its
/// place there, and its requests draw on its address's rate budget.
pub(super) fn start_counted<H: RequestHandler>(
    stream: TcpStream,
    handler: Rc<H>,
    limits: Rc<ShardLimits>,
    admission: Option<Admission>,
) -> std::io::Result<Rc<Connection>> {
    let frame_bytes_max = limits.frame_bytes_max;
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    stream.set_nodelay(true)?;
    let (wake_sender, wake_receiver) = local_channel::new_bounded(1);
    let id = NEXT_CONNECTION_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    });
    let connection = Rc::new(Connection {
        id,
        peer,
        local,
        frame_bytes_max,
        outbound: RefCell::new(Outbound::new()),
        wake_writer: RefCell::new(Some(wake_sender)),
        wake_reader: RefCell::new(None),
        outbound_full_checks: Cell::new(0),
        pending: RefCell::new(HashMap::new()),
        next_opaque: Cell::new(1),
        closed: Cell::new(false),
        tag: RefCell::new(None),
    });
    let (reader, writer) = StreamSide::pair(stream);
    let connection_for_reader = connection.clone();
    glommio::spawn_local(write_loop(connection.clone(), writer, wake_receiver)).detach();
    limits
        .live_connections
        .set(limits.live_connections.get() + 1);
    // A connection outside the census (a client's own) gets a budget of its own.
    let per_second = limits.connection_limits.requests_per_second;
    let rate = match &admission {
        Some(admission) => admission.rate().cloned(),
        None => (per_second > 0).then(|| Arc::new(RequestRate::new(per_second))),
    };
    glommio::spawn_local(async move {
        read_loop(connection_for_reader, reader, handler, limits, rate).await;
        // Only now does the address get its place back.
        drop(admission);
    })
    .detach();
    Ok(connection)
}

async fn read_loop<H: RequestHandler>(
    connection: Rc<Connection>,
    mut reader: StreamSide,
    handler: Rc<H>,
    limits: Rc<ShardLimits>,
    rate: Option<Arc<RequestRate>>,
) {
    let caps = limits.connection_limits.clone();
    let counters = &caps.census.counters;
    let in_flight = Rc::new(glommio::sync::Semaphore::new(CONNECTION_IN_FLIGHT_KIB_MAX));
    let requests_max = caps.requests_in_flight_max.max(1) as u64;
    let requests = Rc::new(glommio::sync::Semaphore::new(requests_max));
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let reason = loop {
        match decode_frame_split(&mut buf, connection.frame_bytes_max) {
            Ok(Some(command)) if command.is_response() => connection.complete(command),
            Ok(Some(request)) => {
                if let Some(rate) = rate.as_deref() {
                    if !within_rate(&connection, &request, rate, counters).await {
                        continue;
                    }
                }
                if requests.available() == 0 {
                    if let Some(total) = counters.paused_requests_in_flight.count() {
                        tracing::info!(
                            peer = %connection.peer,
                            max = requests_max,
                            total,
                            "reader paused: ramjetMaxRequestsInFlightPerConnection requests in processing"
                        );
                    }
                }
                let request_permit = match requests.acquire_static_permit(1).await {
                    Ok(permit) => permit,
                    Err(_) => break "shutting down".to_owned(),
                };
                let cost = request_cost_kib(request.body.len()).min(CONNECTION_IN_FLIGHT_KIB_MAX);
                if in_flight.available() < cost || limits.in_flight_kib.available() < cost {
                    if let Some(total) = counters.paused_bytes_in_flight.count() {
                        tracing::info!(
                            peer = %connection.peer,
                            total,
                            "reader paused: request bytes in processing over the connection's or shard's budget"
                        );
                    }
                }
                let permit = match in_flight.acquire_static_permit(cost).await {
                    Ok(permit) => permit,
                    Err(_) => break "shutting down".to_owned(),
                };
                let shard_permit = match limits.in_flight_kib.acquire_static_permit(cost).await {
                    Ok(permit) => permit,
                    Err(_) => break "shutting down".to_owned(),
                };
                let (handler, connection) = (handler.clone(), connection.clone());
                let census = caps.census.clone();
                glommio::spawn_local(async move {
                    let oneway = request.is_oneway();
                    let code = request.code;
                    let response = handler.handle(request, connection.clone()).await;
                    match (response, oneway) {
                        (Some(response), false) => connection.send(&response),
                        (Some(refusal), true) if refusal.code != response::SUCCESS => {
                            // The client never hears of it: count every failure of a oneway
                            // request and log them (rate-limited), so none is lost in silence.
                            if let Some(failed) = census.counters.oneway_failed.count() {
                                tracing::warn!(
                                    peer = %connection.peer,
                                    code,
                                    response_code = refusal.code,
                                    remark = refusal.remark.as_deref().unwrap_or(""),
                                    failed,
                                    "oneway request failed; its sender is not told"
                                );
                            }
                        }
                        _ => {}
                    }
                    drop((permit, shard_permit, request_permit));
                })
                .detach();
            }
            Ok(None) => {
                if connection.outbound_bytes() > OUTBOUND_BYTES_HIGH {
                    if let Some(total) = counters.paused_outbound_full.count() {
                        tracing::info!(
                            peer = %connection.peer,
                            total,
                            "reader paused: the peer does not read its replies"
                        );
                    }
                }
                connection.outbound_room().await;
                if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
                    buf.reserve(READ_CHUNK_BYTES);
                }
                let start = buf.len();
                buf.resize(buf.capacity(), 0);
                let read = read_or_idle(&mut reader, &mut buf[start..], caps.idle_timeout).await;
                let Some(read) = read else {
                    buf.truncate(start);
                    if requests.available() == requests_max && connection.outbound_bytes() == 0 {
                        if let Some(total) = counters.idle_closed.count() {
                            tracing::info!(
                                peer = %connection.peer,
                                idle_seconds = caps.idle_timeout.as_secs(),
                                total,
                                "closing idle connection (serverChannelMaxIdleTimeSeconds)"
                            );
                        }
                        break "idle".to_owned();
                    }
                    continue;
                };
                match read {
                    Ok(0) => {
                        buf.truncate(start);
                        break "closed by peer".to_owned();
                    }
                    Ok(read) => buf.truncate(start + read),
                    Err(error) => {
                        buf.truncate(start);
                        break format!("read error: {error}");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(peer = %connection.peer, %error, "closing connection: bad frame");
                break error.to_string();
            }
        }
    };
    tracing::debug!(peer = %connection.peer, reason, "connection closed");
    limits
        .live_connections
        .set(limits.live_connections.get() - 1);
    connection.close();
    handler.on_disconnect(&connection);
}

/// Whether `request` may go on under its address's request rate. Over it, a request that
/// expects an answer is answered SYSTEM_BUSY (false); a oneway request, which cannot be
/// answered, waits for its booked slot, and the reader with it (true).
async fn within_rate(
    connection: &Connection,
    request: &RemotingCommand,
    rate: &RequestRate,
    counters: &LimitCounters,
) -> bool {
    if request.is_oneway() {
        let wait = rate.book();
        if !wait.is_zero() {
            if let Some(total) = counters.rate_delayed_oneway.count() {
                tracing::info!(
                    peer = %connection.peer,
                    limit = rate.per_second(),
                    total,
                    "oneway request held back: client over ramjetClientRequestsPerSecond"
                );
            }
            glommio::timer::sleep(wait).await;
        }
        return true;
    }
    if rate.try_take().is_ok() {
        return true;
    }
    if let Some(total) = counters.rate_refused.count() {
        tracing::warn!(
            peer = %connection.peer,
            limit = rate.per_second(),
            total,
            "request refused SYSTEM_BUSY: client over ramjetClientRequestsPerSecond"
        );
    }
    connection.send(
        &RemotingCommand::response_to(request, response::SYSTEM_BUSY).with_remark(format!(
            "[RATE_LIMIT]client {} is over ramjetClientRequestsPerSecond={}, try again later",
            connection.peer.ip(),
            rate.per_second()
        )),
    );
    false
}

/// One read, or `None` once `idle` passes without one (never when `idle` is zero).
async fn read_or_idle(
    reader: &mut StreamSide,
    buf: &mut [u8],
    idle: Duration,
) -> Option<std::io::Result<usize>> {
    if idle.is_zero() {
        return Some(reader.read(buf).await);
    }
    futures_lite::future::or(async { Some(reader.read(buf).await) }, async {
        glommio::timer::sleep(idle).await;
        None
    })
    .await
}

async fn write_loop(connection: Rc<Connection>, mut writer: StreamSide, wake: LocalReceiver<()>) {
    let mut spare = Outbound::new();
    loop {
        let mut pending = std::mem::replace(&mut *connection.outbound.borrow_mut(), spare);
        // `outbound` is empty now, so a reader stopped on the bound may read again.
        connection.wake_reader();
        if pending.is_empty() {
            spare = pending;
            if wake.recv().await.is_none() && connection.outbound_bytes() == 0 {
                break;
            }
            continue;
        }
        if let Err(error) = pending.write_to(&mut writer).await {
            tracing::debug!(peer = %connection.peer, %error, "write failed");
            connection.close();
            break;
        }
        pending.clear();
        spare = pending;
    }
    let _ = writer.close().await;
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::time::Instant;

    use glommio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::remoting::FRAME_BYTES_MAX_DEFAULT;

    const REPLY_BODY_BYTES: usize = 1024 * 1024;

    /// Answers every request with a 1 MiB body and counts what it handled.
    struct BigReplies {
        body: Bytes,
        handled: Cell<usize>,
    }

    impl RequestHandler for BigReplies {
        async fn handle(
            self: Rc<Self>,
            request: RemotingCommand,
            _connection: Rc<Connection>,
        ) -> Option<RemotingCommand> {
            self.handled.set(self.handled.get() + 1);
            Some(RemotingCommand::response_to(&request, 0).with_body(self.body.clone()))
        }
    }

    async fn send_requests(client: &mut TcpStream, opaques: std::ops::Range<i32>) {
        let mut bytes = Vec::new();
        for opaque in opaques {
            let mut request = RemotingCommand::request(1);
            request.opaque = opaque;
            request.encode_into(&mut bytes);
        }
        client.write_all(&bytes).await.unwrap();
    }

    /// Reads `count` replies, checking each, and returns their opaques in arrival order.
    async fn read_replies(
        client: &mut TcpStream,
        count: usize,
        check: impl Fn(&RemotingCommand),
    ) -> Vec<i32> {
        let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
        let mut opaques = Vec::new();
        while opaques.len() < count {
            match decode_frame_split(&mut buf, FRAME_BYTES_MAX_DEFAULT).unwrap() {
                Some(reply) => {
                    check(&reply);
                    opaques.push(reply.opaque);
                }
                None => {
                    let start = buf.len();
                    buf.resize(start + READ_CHUNK_BYTES, 0);
                    let read = client.read(&mut buf[start..]).await.unwrap();
                    assert!(read > 0, "server closed after {} replies", opaques.len());
                    buf.truncate(start + read);
                }
            }
        }
        opaques
    }

    /// Test-side polling only: the condition is the connection's state, not a timer in it.
    async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A small receive buffer (it also turns off autotuning) so that a client that does not
    /// read blocks the server's writer after a few MiB, whatever the sysctl limits are.
    fn shrink_receive_buffer(stream: &TcpStream) {
        crate::server::set_socket_buffer(stream.as_raw_fd(), libc::SO_RCVBUF, 64 * 1024)
            .expect("setsockopt SO_RCVBUF");
    }

    #[test]
    fn reader_stalled_by_full_outbound_sleeps_until_the_peer_reads() {
        // Proves that a reader stopped by OUTBOUND_BYTES_HIGH is not polled while stalled
        // (its check count stays put and a later request stays unread) and that it resumes
        // and answers everything once the peer reads.
        let executor = glommio::LocalExecutorBuilder::default().make().unwrap();
        executor.run(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            shrink_receive_buffer(&client);
            let handler = Rc::new(BigReplies {
                body: Bytes::from(vec![7u8; REPLY_BODY_BYTES]),
                handled: Cell::new(0),
            });
            let accepted = listener.accept().await.unwrap();
            let limits = ShardLimits::new(FRAME_BYTES_MAX_DEFAULT);
            let connection = start(accepted, handler.clone(), limits).unwrap();

            // 16 MiB of replies: the writer takes them all and blocks in write_all, since
            // the socket buffers hold far less.
            send_requests(&mut client, 0..16).await;
            wait_until("the writer holds the first replies", || {
                handler.handled.get() == 16 && connection.outbound_bytes() == 0
            })
            .await;
            // 70 MiB more pile up in `outbound` behind the blocked writer. The reader stalls
            // at its next read after that; the probe makes sure there is one.
            send_requests(&mut client, 16..86).await;
            wait_until("the replies queue", || handler.handled.get() == 86).await;
            send_requests(&mut client, 86..87).await;
            wait_until("the reader stalls", || {
                connection.outbound_full_checks.get() > 0
            })
            .await;
            assert!(connection.outbound_bytes() > OUTBOUND_BYTES_HIGH);

            // While stalled the reader neither runs nor reads: a late request waits.
            send_requests(&mut client, 87..88).await;
            let checks_at_stall = connection.outbound_full_checks.get();
            let handled_at_stall = handler.handled.get();
            glommio::timer::sleep(Duration::from_millis(300)).await;
            assert_eq!(connection.outbound_full_checks.get(), checks_at_stall);
            assert_eq!(handler.handled.get(), handled_at_stall, "late request read");
            assert!(handled_at_stall < 88);
            assert!(connection.wake_reader.borrow().is_some());

            // The peer reads: every request, the late one included, gets its reply.
            let opaques = read_replies(&mut client, 88, |reply| {
                assert_eq!(reply.body.len(), REPLY_BODY_BYTES);
            })
            .await;
            assert_eq!(opaques, (0..88).collect::<Vec<_>>());
            assert_eq!(connection.outbound_full_checks.get(), checks_at_stall);
            assert!(!connection.is_closed());
        });
    }

    /// Answers every request as a pull is answered: the header, then the body as parts
    /// that the connection sends from where they are.
    struct PartedReplies {
        parts: Vec<Bytes>,
    }

    impl RequestHandler for PartedReplies {
        async fn handle(
            self: Rc<Self>,
            request: RemotingCommand,
            connection: Rc<Connection>,
        ) -> Option<RemotingCommand> {
            let answer = RemotingCommand::response_to(&request, 0);
            connection.send_with_body_parts(&answer, &self.parts);
            None
        }
    }

    #[test]
    fn body_parts_arrive_whole_and_in_order_through_a_full_socket() {
        // 2,000 parts (large ones sent as they are, small ones copied) make replies of
        // ~4.4 MiB; the client's 64 KiB receive buffer and a late first read make the
        // gathering sends stop part-way and wait for room, more than once per reply.
        let parts: Vec<Bytes> = (0..2000u32)
            .map(|i| {
                let len = if i % 3 == 0 { 100 } else { 3000 + i as usize };
                Bytes::from(vec![(i % 251) as u8; len])
            })
            .collect();
        let expected: Vec<u8> = parts.concat();
        let executor = glommio::LocalExecutorBuilder::default().make().unwrap();
        executor.run(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            shrink_receive_buffer(&client);
            let accepted = listener.accept().await.unwrap();
            let limits = ShardLimits::new(FRAME_BYTES_MAX_DEFAULT);
            let handler = Rc::new(PartedReplies { parts });
            let connection = start(accepted, handler, limits).unwrap();
            send_requests(&mut client, 0..3).await;
            glommio::timer::sleep(Duration::from_millis(100)).await;
            let opaques = read_replies(&mut client, 3, |reply| {
                assert!(
                    reply.body[..] == expected[..],
                    "reply {} body",
                    reply.opaque
                );
            })
            .await;
            assert_eq!(opaques, [0, 1, 2]);
            assert!(!connection.is_closed());
        });
    }
}
