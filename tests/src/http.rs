//! A minimal in-test HTTP/1.1 server.
//!
//! [`TestServer`] runs on its own thread with its own tokio runtime, so it
//! works the same from `#[tokio::test]` (any flavor) and from plain `#[test]`
//! functions. Every request is recorded and handed to a synchronous handler,
//! which runs on tokio's blocking pool (it may sleep to simulate slowness).
//!
//! Request bodies are read with `Content-Length` or chunked transfer
//! encoding; connections are kept alive (HTTP/1.1) unless the client asks to
//! close them. A panicking handler makes the server answer 500 and makes the
//! test fail when the server is dropped.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::background::{lock, Background};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The handler type a [`TestServer`] calls for every request.
pub type Handler = Arc<dyn Fn(&TestRequest) -> TestResponse + Send + Sync>;

/// Largest request head (request line and headers) the server accepts.
const MAX_HEAD: usize = 64 * 1024;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent: path and optional query, e.g. `/v2/?a=b`.
    pub path_and_query: String,
    /// Headers in order of arrival; names are lowercase, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking (empty if there was none).
    pub body: Vec<u8>,
}

impl TestRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        match self.path_and_query.split_once('?') {
            Some((path, _)) => path,
            None => &self.path_and_query,
        }
    }

    /// The raw query string (without `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// The query parameters, percent-decoded (`+` decodes to a space), in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query().map(parse_form).unwrap_or_default()
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The body as UTF-8 text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A response for a [`TestServer`] handler to return.
///
/// `Content-Length` is added automatically unless the handler sets it. For a
/// `HEAD` request the body is not sent, but its length is still announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        TestResponse { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header (several with the same name are allowed).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON response: `status`, `Content-Type: application/json`, `value` as body.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        TestResponse::new(status).header("Content-Type", "application/json").body(value.to_string())
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        TestResponse::new(status).header("Content-Type", "text/plain; charset=utf-8").body(text.into())
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

struct Shared {
    handler: Handler,
    requests: Mutex<Vec<TestRequest>>,
    panics: Mutex<Vec<String>>,
}

/// A running in-test HTTP/1.1 server; it stops when dropped.
///
/// Dropping it re-raises, as a panic, any panic of the handler (unless the
/// thread is already panicking), so a failed assertion inside a handler fails
/// the test.
pub struct TestServer {
    shared: Arc<Shared>,
    background: Background,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.background.addr())
            .field("requests", &lock(&self.shared.requests).len())
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1` with a free port.
    pub fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        TestServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler)
    }

    /// Starts a server bound to `addr` (port 0 picks a free port), e.g.
    /// `"127.0.0.2:0".parse().unwrap()`.
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub fn start_on<F>(addr: SocketAddr, handler: F) -> TestServer
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        TestServer::start_with(addr, Arc::new(handler))
    }

    /// Starts a server bound to `addr` with an already shared handler.
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub fn start_with(addr: SocketAddr, handler: Handler) -> TestServer {
        let shared = Arc::new(Shared { handler, requests: Mutex::new(Vec::new()), panics: Mutex::new(Vec::new()) });
        let (on_error, serving) = (Arc::clone(&shared), Arc::clone(&shared));
        // Handlers still running (e.g. sleeping) are not waited for long.
        let background = Background::start(
            "test-server",
            addr,
            Duration::from_millis(500),
            move |e| lock(&on_error.panics).push(e),
            move |stream| {
                let shared = Arc::clone(&serving);
                async move {
                    // I/O errors only end this connection.
                    let _ = serve_connection(stream, shared).await;
                }
            },
        );
        TestServer { shared, background }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// The base URL, e.g. `http://127.0.0.1:34567` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// All requests received so far, in order of arrival.
    pub fn requests(&self) -> Vec<TestRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The panic messages of handler calls so far (they are re-raised on drop).
    pub fn handler_panics(&self) -> Vec<String> {
        lock(&self.shared.panics).clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.background.stop();
        let panics = std::mem::take(&mut *lock(&self.shared.panics));
        if !panics.is_empty() && !std::thread::panicking() {
            panic!("TestServer at {}: handler panicked: {}", self.addr(), panics.join(" | "));
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    loop {
        let Some(head) = read_head(&mut reader).await? else {
            return Ok(());
        };
        let request_line_version = head.version.clone();
        let mut request =
            TestRequest { method: head.method, path_and_query: head.target, headers: head.headers, body: Vec::new() };
        let expects_continue = request.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue {
            write_half.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let chunked =
            request.header_all("transfer-encoding").iter().any(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            request.body = read_chunked(&mut reader).await?;
        } else if let Some(len) = request.header("content-length") {
            let len: usize =
                len.trim().parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await?;
            request.body = body;
        }

        let connection = request.header("connection").map(str::to_ascii_lowercase).unwrap_or_default();
        let close = if request_line_version == "HTTP/1.0" {
            !connection.contains("keep-alive")
        } else {
            connection.contains("close")
        };

        lock(&shared.requests).push(request.clone());
        let is_head = request.method.eq_ignore_ascii_case("HEAD");
        let response = call_handler(&shared, request).await;
        write_response(&mut write_half, &response, is_head, close).await?;
        if close {
            write_half.shutdown().await?;
            return Ok(());
        }
    }
}

async fn call_handler(shared: &Arc<Shared>, request: TestRequest) -> TestResponse {
    let task_shared = Arc::clone(shared);
    let outcome =
        tokio::task::spawn_blocking(move || catch_unwind(AssertUnwindSafe(|| (task_shared.handler)(&request)))).await;
    let message = match outcome {
        Ok(Ok(response)) => return response,
        Ok(Err(payload)) => panic_message(payload.as_ref()),
        Err(join_error) => format!("handler task failed: {join_error}"),
    };
    lock(&shared.panics).push(message.clone());
    TestResponse::text(500, format!("TestServer handler panicked: {message}"))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// The request line and headers of an HTTP/1 request (header names lowercased).
pub(crate) struct RequestHead {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) version: String,
    pub(crate) headers: Vec<(String, String)>,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// Reads one CRLF- (or LF-) terminated line without the terminator.
/// Returns `None` at EOF before any byte.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, budget: &mut usize) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *reader).take(*budget as u64 + 1).read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(invalid("request head too large"));
    }
    *budget -= n;
    if buf.last() != Some(&b'\n') {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated line"));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| invalid("non-UTF-8 header line"))
}

/// Reads a request head (at most 64 KiB); `None` at EOF before a request.
pub(crate) async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<RequestHead>> {
    let mut budget = MAX_HEAD;
    let request_line = loop {
        match read_line(reader, &mut budget).await? {
            None => return Ok(None),
            // Tolerate stray empty lines between requests (RFC 9112 2.2).
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("bad request line"));
    };
    let mut head = RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers: Vec::new(),
    };
    loop {
        let line = read_line(reader, &mut budget)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof in headers"))?;
        if line.is_empty() {
            return Ok(Some(head));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        head.headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let line = read_line(reader, &mut budget)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof in chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let trailer = read_line(reader, &mut budget)
                    .await?
                    .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof in trailers"))?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let end = read_line(reader, &mut budget).await?;
        if end.as_deref() != Some("") {
            return Err(invalid("missing CRLF after chunk"));
        }
        // Chunk-size lines do not accumulate toward the head limit.
        budget = MAX_HEAD;
    }
}

async fn write_response<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    response: &TestResponse,
    is_head: bool,
    close: bool,
) -> io::Result<()> {
    let status = response.status;
    let mut out = format!("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodiless_status = (100..200).contains(&status) || status == 204 || status == 304;
    if !bodiless_status && !response.has_header("content-length") {
        out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if close && !response.has_header("connection") {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !is_head && !bodiless_status {
        bytes.extend_from_slice(&response.body);
    }
    writer.write_all(&bytes).await?;
    writer.flush().await
}

/// The standard reason phrase for `status` (empty if unknown).
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Decodes `application/x-www-form-urlencoded` text (also query strings).
pub fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

/// Percent-decodes `input`, turning `+` into a space; invalid escapes are kept.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%3Ab%2Cc+d"), "a:b,c d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode(&percent_encode("repo:x/y:pull,push *")), "repo:x/y:pull,push *");
    }

    #[test]
    fn form_parsing() {
        assert_eq!(
            parse_form("scope=a%3Ab&scope=c&flag"),
            vec![
                ("scope".to_owned(), "a:b".to_owned()),
                ("scope".to_owned(), "c".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }
}
