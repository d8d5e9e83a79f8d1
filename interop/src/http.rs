//! A raw HTTP/1.1 client for the broker's admin API (docs/console.md): one request per
//! connection (`Connection: close`), so a test can also send what no library would (an
//! oversized or lying body). Answers are read to the end, bounded by a timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One answer: status code, and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
    pub json: serde_json::Value,
}

/// Sends `method path` with `body` (as JSON when given) to `addr` and reads the answer.
pub fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> HttpAnswer {
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.as_bytes());
    send_raw(addr, &raw)
}

pub fn get(addr: &str, path: &str) -> HttpAnswer {
    request(addr, "GET", path, None)
}

pub fn post(addr: &str, path: &str, body: &serde_json::Value) -> HttpAnswer {
    request(addr, "POST", path, Some(&body.to_string()))
}

/// Writes `raw` bytes as they are and reads the answer (status line, headers, body).
pub fn send_raw(addr: &str, raw: &[u8]) -> HttpAnswer {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    // The server may answer (413) and close before reading all of an oversized body.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse(&answer).unwrap_or_else(|| {
        panic!(
            "no HTTP answer from {addr}: {:?}",
            String::from_utf8_lossy(&answer)
        )
    })
}

fn parse(answer: &[u8]) -> Option<HttpAnswer> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    Some(HttpAnswer { status, body, json })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// `text` with every byte outside `[A-Za-z0-9_.-]` percent-encoded, for query strings.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
