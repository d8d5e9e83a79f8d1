//! ramjet-console: the broker's HTTP admin API (JSON under `/api/`) and its web console
//! (`/`), on `httpPort`.
//!
//! Owns: the HTTP listener (plain threads, requests parsed by httparse within fixed
//! bounds), the API's routes and their JSON, and
//! the console's static assets (built into the binary).
//!
//! Must never import: `ramjet-core`. Every API call is an ordinary remoting request to this
//! broker's own listen port or to the name servers, sent with `ramjet_tools::remote::Remote`
//! (mqadmin's code), so it goes through the same handlers, validation and ACL as any client,
//! and nothing here touches a shard or the data path.
//!
//! Which core: none of the shards'. A couple of OS threads that block on sockets; the
//! kernel schedules them beside the shards, and they are idle unless an operator looks.

mod api;
mod assets;
mod error;
mod http;
mod latency;

use std::net::TcpListener;
use std::sync::Arc;

pub use error::ApiError;
pub use http::{MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_URL_BYTES};

/// Where the console listens and whom it asks.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// `bindAddress:httpPort`.
    pub http_addr: String,
    /// This broker's remoting address (`brokerIP1:listenPort` or loopback).
    pub broker_addr: String,
    /// `namesrvAddr`, joined with ';'.
    pub namesrv_addr: String,
    pub cluster_name: String,
    pub broker_name: String,
    /// This broker's Prometheus exporter (`host:port`), `None` when it is off: the source
    /// of the live send latency (`/api/topic/latency`, docs/console.md).
    pub metrics_addr: Option<String>,
}

/// Worker threads, each serving one connection at a time: the console polls once a
/// second and an operator clicks; a few workers keep one slow request (a 5 s broker
/// timeout, or a client trickling its request) from stalling the others. Connections
/// beyond them wait in the kernel's accept queue, costing the broker nothing.
const WORKERS: usize = 4;

/// Binds `http_addr` and serves on background threads. An error names the address; the
/// caller logs it and the broker keeps serving without a console.
pub fn start(config: ConsoleConfig) -> Result<(), String> {
    let listener = TcpListener::bind(&config.http_addr)
        .map_err(|e| format!("cannot bind {}: {e}", config.http_addr))?;
    let config = Arc::new(config);
    // Shared by the workers: a poll's interval starts at the previous poll, whichever
    // worker answered it.
    let latency = Arc::new(latency::LatencyMemory::default());
    for worker in 0..WORKERS {
        let listener = listener
            .try_clone()
            .map_err(|e| format!("cannot share the console listener: {e}"))?;
        let config = config.clone();
        let latency = latency.clone();
        std::thread::Builder::new()
            .name(format!("http-console-{worker}"))
            .spawn(move || http::serve(&listener, &config, latency))
            .map_err(|e| format!("cannot start the console thread: {e}"))?;
    }
    Ok(())
}
