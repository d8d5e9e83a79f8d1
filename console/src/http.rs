//! The HTTP side: a few worker threads accept on one listener, read one bounded request per
//! connection (parsed by `httparse`), answer it, and close (`Connection: close`).
//!
//! Why not a server crate: the small blocking ones (tiny_http) read request lines and
//! headers without a bound and start a thread per connection, so one hostile client could
//! make the broker allocate without limit. Here every byte read is bounded (head 16 KiB,
//! body 64 KiB, 10 s per request) and at most `WORKERS` (lib.rs) connections are served
//! at once; the rest wait in the kernel's accept queue.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ramjet_net::code::response;

use crate::api::{Api, ApiRequest};
use crate::error::ApiError;
use crate::latency::LatencyMemory;
use crate::ConsoleConfig;

/// The largest request body the API reads (topic or config updates are a few hundred
/// bytes); a longer declared one is refused with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The request line and headers together; more is refused with 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The longest request URL (path and query) served; longer ones get 414.
pub const MAX_URL_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// One read or write may wait this long, and a whole request (head and body) this long:
/// a client that trickles bytes holds a worker for at most REQUEST_DEADLINE.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// One request as read from the socket.
struct RawRequest {
    method: String,
    url: String,
    body: Vec<u8>,
}

/// Serves connections from `listener` until the process exits. Each worker owns its own
/// connections to the broker and the name servers.
pub fn serve(listener: &TcpListener, config: &ConsoleConfig, latency: Arc<LatencyMemory>) {
    let mut api = Api::new(config, latency);
    loop {
        match listener.accept() {
            Ok((stream, _)) => serve_connection(&mut api, stream),
            Err(error) => {
                // Out of descriptors, say: back off instead of spinning.
                tracing::warn!(%error, "http console: accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn serve_connection(api: &mut Api, mut stream: TcpStream) {
    if stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let (status, content_type, body, head_only) = match read_request(&mut stream) {
        Ok(request) => {
            let head_only = request.method == "HEAD";
            let (status, content_type, body) = answer(api, request);
            (status, content_type, body, head_only)
        }
        Err(Some(error)) => (error.status, JSON, error.to_json().into_bytes(), false),
        // The peer closed, timed out or sent nothing: nobody to answer.
        Err(None) => return,
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if !head_only {
        let _ = stream.write_all(&body);
    }
    // Closing with unread bytes (a refused body) would reset the connection and could
    // destroy the answer before the client reads it: finish writing, then drain a little.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut drained = 0;
    while drained < 4 * MAX_BODY_BYTES {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
}

const JSON: &str = "application/json";

/// Routes one request: `/api/...` to the API, anything else to the embedded assets.
fn answer(api: &mut Api, request: RawRequest) -> (u16, &'static str, Vec<u8>) {
    let (path, query) = request
        .url
        .split_once('?')
        .unwrap_or((request.url.as_str(), ""));
    if !path.starts_with("/api/") {
        return match (request.method.as_str(), crate::assets::find(path)) {
            ("GET" | "HEAD", Some((content_type, bytes))) => (200, content_type, bytes.to_vec()),
            _ => {
                let error = ApiError::not_found(format!("no page {path}"));
                (error.status, JSON, error.to_json().into_bytes())
            }
        };
    }
    let api_request = ApiRequest {
        method: request.method.clone(),
        path: path.to_owned(),
        query: form_urlencoded::parse(query.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect(),
        body: request.body,
    };
    // Handlers return ApiError for everything a caller can cause; a panic would be a bug
    // (and the broker's panic hook ends the process).
    match api.handle(&api_request) {
        Ok(value) => (200, JSON, value.to_string().into_bytes()),
        Err(error) => {
            tracing::debug!(%path, code = error.code, remark = %error.remark, "http console: refused");
            (error.status, JSON, error.to_json().into_bytes())
        }
    }
}

fn head_too_large() -> Option<ApiError> {
    refusal(
        431,
        response::INVALID_PARAMETER,
        format!("request line and headers are above the {MAX_HEAD_BYTES}-byte limit"),
    )
}

fn refusal(status: u16, code: i32, remark: String) -> Option<ApiError> {
    Some(ApiError {
        status,
        code,
        remark,
    })
}

/// Reads one request within the limits. `Err(None)`: nothing to answer (closed, timed
/// out); `Err(Some(error))`: answer with the error.
fn read_request(stream: &mut TcpStream) -> Result<RawRequest, Option<ApiError>> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let (method, url, content_length, head_len) = loop {
        if Instant::now() > deadline {
            return Err(None);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(None),
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) if head_len > MAX_HEAD_BYTES => {
                return Err(head_too_large());
            }
            Ok(httparse::Status::Complete(head_len)) => {
                let method = parsed.method.unwrap_or("").to_owned();
                let url = parsed.path.unwrap_or("").to_owned();
                let mut content_length = 0usize;
                for header in parsed.headers.iter() {
                    if header.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(refusal(
                            411,
                            response::INVALID_PARAMETER,
                            "Transfer-Encoding is not accepted: send the body with Content-Length"
                                .into(),
                        ));
                    }
                    if header.name.eq_ignore_ascii_case("content-length") {
                        let text = std::str::from_utf8(header.value).unwrap_or("").trim();
                        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(refusal(
                                400,
                                response::INVALID_PARAMETER,
                                format!("Content-Length {text:?} is not a number"),
                            ));
                        }
                        // Digits that do not fit a usize are past the limit as well.
                        match text.parse::<usize>() {
                            Ok(length) if length <= MAX_BODY_BYTES => content_length = length,
                            _ => {
                                return Err(refusal(
                                    413,
                                    response::MESSAGE_ILLEGAL,
                                    format!(
                                        "request body is {text} bytes, above the \
                                         {MAX_BODY_BYTES}-byte limit"
                                    ),
                                ))
                            }
                        }
                    }
                }
                break (method, url, content_length, head_len);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(head_too_large());
                }
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(refusal(
                    431,
                    response::INVALID_PARAMETER,
                    format!("more than {MAX_HEADERS} headers"),
                ))
            }
            Err(error) => {
                return Err(refusal(
                    400,
                    response::INVALID_PARAMETER,
                    format!("malformed HTTP request: {error}"),
                ))
            }
        }
    };
    if url.len() > MAX_URL_BYTES {
        return Err(refusal(
            414,
            response::INVALID_PARAMETER,
            format!(
                "request URL is {} bytes, above the {MAX_URL_BYTES}-byte limit",
                url.len()
            ),
        ));
    }
    let mut body = buf.split_off(head_len.min(buf.len()));
    while body.len() < content_length {
        if Instant::now() > deadline {
            return Err(None);
        }
        let want = (content_length - body.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return Err(None),
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    // Bytes past Content-Length (a pipelined request) are not served: one per connection.
    body.truncate(content_length);
    Ok(RawRequest { method, url, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `raw` from a client thread and reads it with `read_request`.
    fn read(raw: Vec<u8>) -> Result<RawRequest, Option<ApiError>> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            let _ = stream.write_all(&raw);
            // Keep the connection open until the server has read what it wants.
            std::thread::sleep(Duration::from_millis(300));
        });
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let result = read_request(&mut stream);
        client.join().unwrap();
        result
    }

    fn status(result: Result<RawRequest, Option<ApiError>>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(Some(error)) => error.status,
            Err(None) => 0,
        }
    }

    #[test]
    fn reads_one_request_with_its_body() {
        let request =
            read(b"POST /api/topics?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}extra".to_vec())
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("POST", "/api/topics?x=1")
        );
        assert_eq!(request.body, b"{}");
    }

    #[test]
    fn every_limit_is_enforced_before_reading_more() {
        let huge = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(status(read(huge.into_bytes())), 431);
        let many: String = (0..100).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            status(read(format!("GET / HTTP/1.1\r\n{many}\r\n").into_bytes())),
            431
        );
        let url = format!(
            "GET /api/x?t={} HTTP/1.1\r\n\r\n",
            "t".repeat(MAX_URL_BYTES)
        );
        assert_eq!(status(read(url.into_bytes())), 414);
        for length in ["65537", "18446744073709551616", "99999999999999999999999"] {
            let raw = format!("POST /api/topics HTTP/1.1\r\nContent-Length: {length}\r\n\r\n");
            assert_eq!(status(read(raw.into_bytes())), 413, "{length}");
        }
        for length in ["-1", "1e3", "", "0x10"] {
            let raw = format!("POST /api/topics HTTP/1.1\r\nContent-Length: {length}\r\n\r\n");
            assert_eq!(status(read(raw.into_bytes())), 400, "{length:?}");
        }
        let chunked = b"POST /api/topics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(status(read(chunked.to_vec())), 411);
        assert_eq!(status(read(b"\x00\x01 nonsense\r\n\r\n".to_vec())), 400);
        // A body shorter than declared, then EOF: nothing to answer.
        assert_eq!(
            status(read(
                b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".to_vec()
            )),
            0
        );
    }
}
