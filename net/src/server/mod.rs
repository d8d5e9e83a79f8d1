//! glommio TCP server plumbing: a listener per shard (SO_REUSEPORT), a connection task pair
//! per peer, and the handler trait the name server and broker implement.

pub mod connection;
pub mod counters;
pub mod limits;
mod outbound;
mod shards;
mod socket_buffer;

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

pub use connection::{Connection, InvokeError, ShardLimits};
pub use counters::{Counter, LimitCounters};
pub use limits::{ConnectionCensus, ConnectionLimits};
pub use shards::{run_shards, ShardConfig, ShardId};
pub use socket_buffer::set_socket_buffer;

use crate::code::response;
use crate::remoting::RemotingCommand;

/// What a server does with requests. One instance per shard; it lives on that shard's core.
pub trait RequestHandler: 'static {
    /// Handles one request. `None` means no reply (the request was oneway, or the handler
    /// will answer later through `connection`, as a long-polling pull does).
    fn handle(
        self: Rc<Self>,
        request: RemotingCommand,
        connection: Rc<Connection>,
    ) -> impl Future<Output = Option<RemotingCommand>> + 'static;

    /// Called once when a connection closes, for whatever the handler keyed on it.
    fn on_disconnect(&self, _connection: &Rc<Connection>) {}
}

/// A handler for connections that only receive responses (plain clients): every request
/// from the peer is answered REQUEST_CODE_NOT_SUPPORTED.
pub struct NoRequests;

impl RequestHandler for NoRequests {
    async fn handle(
        self: Rc<Self>,
        request: RemotingCommand,
        _connection: Rc<Connection>,
    ) -> Option<RemotingCommand> {
        Some(not_supported(&request))
    }
}

/// Java's answer to a code with no processor; the connection stays open.
pub fn not_supported(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response::REQUEST_CODE_NOT_SUPPORTED)
        .with_remark(format!(" request type {} not supported", request.code))
}

/// Accepts connections on `listener` forever, starting each on this shard.
pub async fn serve<H: RequestHandler>(
    listener: glommio::net::TcpListener,
    handler: Rc<H>,
    limits: Rc<ShardLimits>,
) {
    let caps = &limits.connection_limits;
    let census = &caps.census;
    loop {
        match listener.accept().await {
            Ok(stream) if limits.at_capacity() => {
                if let Some(total) = census.counters.refused_shard_cap.count() {
                    tracing::warn!(
                        peer = ?stream.peer_addr().ok(),
                        live = limits.live_connections(),
                        total,
                        "connection refused: shard at CONNECTIONS_MAX"
                    );
                }
                drop(stream);
            }
            Ok(stream) => {
                let Ok(peer) = stream.peer_addr() else {
                    continue;
                };
                let admission = match census.admit(peer.ip(), caps) {
                    Ok(admission) => admission,
                    Err(refusal) => {
                        // Logged once per LOG_INTERVAL with the running count, so a flood
                        // of connects cannot flood the log.
                        if let Some(total) = census.counter_of(&refusal).count() {
                            tracing::warn!(
                                %peer,
                                ?refusal,
                                max = caps.connections_max,
                                per_client_max = caps.connections_per_client_max,
                                total,
                                "connection refused: ramjetMaxConnections / ramjetMaxConnectionsPerClient"
                            );
                        }
                        drop(stream);
                        continue;
                    }
                };
                let started = connection::start_counted(
                    stream,
                    handler.clone(),
                    limits.clone(),
                    Some(admission),
                );
                if let Err(error) = started {
                    tracing::warn!(%error, "could not start a connection");
                }
            }
            Err(error) => {
                // EMFILE and friends: back off instead of spinning, keep serving the rest.
                tracing::warn!(%error, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Accepts connections until `stop` resolves (graceful shutdown: no new connections;
/// those already open keep being served until the process ends).
pub async fn serve_until<H: RequestHandler>(
    listener: glommio::net::TcpListener,
    handler: Rc<H>,
    limits: Rc<ShardLimits>,
    stop: impl Future<Output = ()>,
) {
    futures_lite::future::or(serve(listener, handler, limits), stop).await
}

/// Fails if a socket already listens on `addr`'s port. Shard listeners use SO_REUSEPORT,
/// which would otherwise let a second broker or name server silently share the port (and
/// half the connections). Only listening sockets count: connections a previous run left in
/// FIN-WAIT or TIME-WAIT must not block a restart, so this reads the kernel's socket table
/// instead of probing with a bind. Call it once before the shards bind.
pub fn ensure_port_free(addr: SocketAddr) -> std::io::Result<()> {
    // A process killed a moment ago can leave its listener behind while the kernel tears
    // down its io_uring: wait that out before calling the port taken.
    const LINGER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
    let deadline = std::time::Instant::now() + LINGER_WAIT;
    while is_listened_on(addr.port()) {
        if std::time::Instant::now() >= deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!(
                    "cannot listen on {addr}: port {} is already in use by another listener",
                    addr.port()
                ),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

fn is_listened_on(port: u16) -> bool {
    const TCP_LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        let Ok(text) = std::fs::read_to_string(table) else {
            return false;
        };
        text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                return false;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            *state == TCP_LISTEN && local_port == Some(port)
        })
    })
}

/// Binds a listener for this shard. Every shard binds the same address; the kernel spreads
/// new connections over them (glommio sets SO_REUSEPORT, and with our patch SO_REUSEADDR, so
/// connections another program left in TIME-WAIT on the port do not block it:
/// third_party/README.md item 5).
pub fn bind(addr: SocketAddr) -> std::io::Result<glommio::net::TcpListener> {
    glommio::net::TcpListener::bind(addr).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// [`bind`] on a glommio executor of its own (a listener needs one).
    fn bind_on_executor(addr: SocketAddr) -> std::io::Result<()> {
        glommio::LocalExecutorBuilder::default()
            .spawn(move || async move { bind(addr).map(|_| ()) })
            .unwrap()
            .join()
            .unwrap()
    }

    /// A server that closes an accepted connection first leaves it in TIME-WAIT on its
    /// port; std's sockets (the console, the exporter) have no SO_REUSEPORT. A broker
    /// given that port later must still bind it.
    #[test]
    fn a_port_with_a_connection_in_time_wait_can_be_listened_on() {
        let std_server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_server.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (accepted, _) = std_server.accept().unwrap();
        drop(accepted); // The server's side closes first: its socket goes to TIME-WAIT.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        drop(client);
        drop(std_server);
        let bound = bind_on_executor(addr);
        assert!(bound.is_ok(), "bind {addr}: {bound:?}");
        // Another listener on the port still makes it fail.
        let holder = TcpListener::bind(addr).unwrap();
        let taken = bind_on_executor(addr);
        assert!(taken.is_err(), "bind {addr} while a listener holds it");
        drop(holder);
    }
}
