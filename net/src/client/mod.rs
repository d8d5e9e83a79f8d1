//! The client side of the protocol, written once for every Rust client here (the broker's
//! name server link, `mqadmin`, `mqbench`, tests):
//!
//! - transports: [`connect`] (async, on glommio, the same `Connection` as the server) and
//!   [`BlockingClient`] (one request at a time from an ordinary thread);
//! - [`requests`]: typed builders for the requests tools and bench send, and readers of their
//!   answers;
//! - [`queues`]: a topic route turned into the queues a producer or consumer uses;
//! - [`uniq_key`]: client message ids (`UNIQ_KEY`) in Java's layout.
//!
//! Nothing here retries or picks a name server: callers own that policy.

pub mod blocking;
pub mod queues;
pub mod requests;
pub mod uniq_key;

pub use blocking::BlockingClient;
pub use queues::{publish_queues, select_addr, subscribe_queues, QueueAt};
pub use uniq_key::UniqKeyGenerator;

use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use crate::remoting::FRAME_BYTES_MAX_DEFAULT;
use crate::server::connection::{self, Connection, InvokeError};
use crate::server::{NoRequests, RequestHandler};

/// Connects on the current glommio executor. Requests the server sends us go to `handler`.
pub async fn connect_with<H: RequestHandler>(
    addr: &str,
    handler: Rc<H>,
    timeout: Duration,
) -> Result<Rc<Connection>, InvokeError> {
    let error = |reason: String| InvokeError::Connect {
        addr: addr.to_owned(),
        reason,
    };
    let socket_addr = resolve(addr).map_err(error)?;
    let stream = glommio::net::TcpStream::connect_timeout(socket_addr, timeout)
        .await
        .map_err(|e| error(e.to_string()))?;
    connection::start(
        stream,
        handler,
        connection::ShardLimits::new(FRAME_BYTES_MAX_DEFAULT),
    )
    .map_err(|e| error(e.to_string()))
}

/// Connects a plain client: requests from the server are refused.
pub async fn connect(addr: &str, timeout: Duration) -> Result<Rc<Connection>, InvokeError> {
    connect_with(addr, Rc::new(NoRequests), timeout).await
}

/// The first socket address `addr` (`host:port`) names.
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))
}
