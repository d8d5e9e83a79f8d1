//! The HTTP side: one tiny_http server shared by the worker threads, request size limits,
//! static assets, and JSON answers. Routing of `/api/...` is in `api`.

use std::io::Read;

use tiny_http::{Header, Method, Request, Response, Server};

use crate::api::{Api, ApiRequest};
use crate::error::ApiError;
use crate::ConsoleConfig;

/// The largest request body the API reads (topic or config updates are a few hundred
/// bytes); a longer one is refused with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest request URL (path and query) served; longer ones get 414.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// Serves requests until the process exits. Each worker owns its own connections to the
/// broker and the name servers.
pub fn serve(server: &Server, config: &ConsoleConfig) {
    let mut api = Api::new(config);
    loop {
        let request = match server.recv() {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(%error, "http console: accept failed");
                continue;
            }
        };
        handle(&mut api, request);
    }
}

fn handle(api: &mut Api, mut request: Request) {
    let url = request.url().to_owned();
    if url.len() > MAX_URL_BYTES {
        let error = ApiError {
            status: 414,
            code: ramjet_net::code::response::INVALID_PARAMETER,
            remark: format!(
                "request URL is {} bytes, above the {MAX_URL_BYTES}-byte limit",
                url.len()
            ),
        };
        return reply_error(request, &error);
    }
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let path = path.to_owned();
    if !path.starts_with("/api/") {
        return match (request.method(), crate::assets::find(&path)) {
            (Method::Get | Method::Head, Some((content_type, bytes))) => {
                let response =
                    Response::from_data(bytes).with_header(header("Content-Type", content_type));
                let _ = request.respond(response);
            }
            _ => reply_error(request, &ApiError::not_found(format!("no page {path}"))),
        };
    }
    let body = match read_body(&mut request) {
        Ok(body) => body,
        Err(error) => return reply_error(request, &error),
    };
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let api_request = ApiRequest {
        method: request.method().as_str().to_owned(),
        path: path.clone(),
        query,
        body,
    };
    // A panic in a handler would be a bug; the broker's panic hook exits the process, so
    // no input may reach one. Handlers return ApiError for everything a caller can cause.
    match api.handle(&api_request) {
        Ok(value) => {
            let response = Response::from_string(value.to_string())
                .with_header(header("Content-Type", "application/json"));
            let _ = request.respond(response);
        }
        Err(error) => {
            tracing::debug!(%path, code = error.code, remark = %error.remark, "http console: refused");
            reply_error(request, &error)
        }
    }
}

/// Reads at most [`MAX_BODY_BYTES`]: a declared length above it is refused unread, and a
/// chunked body is cut off one byte past the limit.
fn read_body(request: &mut Request) -> Result<Vec<u8>, ApiError> {
    let too_large = |size: String| ApiError {
        status: 413,
        code: ramjet_net::code::response::MESSAGE_ILLEGAL,
        remark: format!("request body is {size} bytes, above the {MAX_BODY_BYTES}-byte limit"),
    };
    if let Some(length) = request.body_length() {
        if length > MAX_BODY_BYTES {
            return Err(too_large(length.to_string()));
        }
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::invalid(format!("cannot read the request body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large(
            "more than".to_owned() + &format!(" {MAX_BODY_BYTES}"),
        ));
    }
    Ok(body)
}

fn reply_error(request: Request, error: &ApiError) {
    let response = Response::from_string(error.to_json())
        .with_status_code(error.status)
        .with_header(header("Content-Type", "application/json"));
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}
