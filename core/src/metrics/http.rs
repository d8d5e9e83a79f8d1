//! The exporter's HTTP listener: GET /metrics, one request per connection.
//!
//! It runs on the leader shard (shard 0) as a glommio task, not on a thread of its own: a
//! scrape must ask every shard for its counters, and only shards can use the mesh. A scrape
//! costs the leader one mesh round and a few microseconds of formatting every scrape
//! interval (15 s by default in Prometheus), which the data path does not notice. The
//! socket is bound with std (no SO_REUSEPORT, unlike glommio's bind), so a port in use is
//! an error instead of a silent share with another process.
//!
//! Hostile input: at most `HEADER_BYTES_MAX` bytes of request head are read, within
//! `READ_TIMEOUT`; at most `CONNECTIONS_MAX` connections are served at once, more are
//! closed on accept; the body of a request is never read.

use std::cell::Cell;
use std::os::unix::io::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use super::exposition::CONTENT_TYPE;
use crate::shard::BrokerShard;

const HEADER_BYTES_MAX: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTIONS_MAX: usize = 8;

/// Binds `addr` and serves it on this shard. A bind failure is logged naming the key and
/// the port, and the broker serves on without the exporter: it is an ops endpoint.
pub fn listen(shard: &Rc<BrokerShard>, addr: &str, port: u16) {
    let std_listener = match std::net::TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(error) => {
            let message = format!(
                "metricsPromExporterPort={port}: cannot listen on {addr} ({error}); \
                 the broker serves without /metrics (set another port, or 0 to turn it off)"
            );
            eprintln!("mqbroker: {message}");
            tracing::error!("{message}");
            return;
        }
    };
    let local = std_listener
        .local_addr()
        .map_or_else(|_| addr.to_owned(), |a| a.to_string());
    // SAFETY: the descriptor is a bound, listening TCP socket we own and hand over.
    let listener = unsafe { TcpListener::from_raw_fd(std_listener.into_raw_fd()) };
    println!("The metrics exporter listens on http://{local}/metrics");
    tracing::info!(%local, "Prometheus exporter started");
    glommio::spawn_local(serve(listener, shard.clone())).detach();
}

async fn serve(listener: TcpListener, shard: Rc<BrokerShard>) {
    let active = Rc::new(Cell::new(0usize));
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "metrics exporter: accept failed");
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if active.get() >= CONNECTIONS_MAX {
            continue; // Dropped: closed.
        }
        active.set(active.get() + 1);
        let (shard, active) = (shard.clone(), active.clone());
        glommio::spawn_local(async move {
            if let Err(error) = answer(stream, &shard).await {
                tracing::debug!(%error, "metrics exporter: connection ended");
            }
            active.set(active.get() - 1);
        })
        .detach();
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    Metrics { head_only: bool },
    NotFound,
    BadMethod,
    Malformed,
}

/// Parses a complete request head; `None` while more bytes are needed.
fn parse(head: &[u8]) -> Option<Ask> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(Ask::Malformed),
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            let head_only = match request.method {
                Some("GET") => false,
                Some("HEAD") => true,
                _ => return Some(Ask::BadMethod),
            };
            Some(if path == "/metrics" {
                Ask::Metrics { head_only }
            } else {
                Ask::NotFound
            })
        }
    }
}

async fn answer(mut stream: TcpStream, shard: &Rc<BrokerShard>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    let ask = loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(ask) = parse(&head) {
            break ask;
        }
        if head.len() >= HEADER_BYTES_MAX {
            break Ask::Malformed;
        }
    };
    let (status, content_type, body, head_only) = match ask {
        Ask::Metrics { head_only } => match super::scrape::scrape(shard).await {
            Ok(text) => ("200 OK", CONTENT_TYPE, text, head_only),
            Err(error) => (
                "500 Internal Server Error",
                "text/plain",
                format!("{error}\n"),
                false,
            ),
        },
        Ask::NotFound => (
            "404 Not Found",
            "text/plain",
            "only /metrics is served here\n".into(),
            false,
        ),
        Ask::BadMethod => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".into(),
            false,
        ),
        Ask::Malformed => (
            "400 Bad Request",
            "text/plain",
            "malformed request\n".into(),
            false,
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    if !head_only {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.flush().await?;
    stream.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            parse(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Ask::Metrics { head_only: false })
        );
        assert_eq!(
            parse(b"HEAD /metrics HTTP/1.0\r\n\r\n"),
            Some(Ask::Metrics { head_only: true })
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Some(Ask::NotFound));
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Ask::BadMethod)
        );
        assert_eq!(parse(b"\x00\x01 junk\r\n\r\n"), Some(Ask::Malformed));
    }
}
