//! ramjet-console: the broker's HTTP admin API (JSON under `/api/`) and its web console
//! (`/`), on `httpPort`.
//!
//! Owns: the HTTP listener (tiny_http, plain threads), the API's routes and their JSON, and
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

use std::sync::Arc;

pub use error::ApiError;
pub use http::MAX_BODY_BYTES;

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
}

/// Worker threads: the console polls once a second and an operator clicks; two workers
/// keep one slow request (a 5 s broker timeout) from stalling the charts.
const WORKERS: usize = 2;

/// Binds `http_addr` and serves on background threads. An error names the address; the
/// caller logs it and the broker keeps serving without a console.
pub fn start(config: ConsoleConfig) -> Result<(), String> {
    let server = tiny_http::Server::http(&config.http_addr)
        .map_err(|e| format!("cannot bind {}: {e}", config.http_addr))?;
    let server = Arc::new(server);
    let config = Arc::new(config);
    for worker in 0..WORKERS {
        let (server, config) = (server.clone(), config.clone());
        std::thread::Builder::new()
            .name(format!("http-console-{worker}"))
            .spawn(move || http::serve(&server, &config))
            .map_err(|e| format!("cannot start the console thread: {e}"))?;
    }
    Ok(())
}
