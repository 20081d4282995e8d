//! A forward HTTP proxy on loopback for tests.
//!
//! [`TestProxy`] accepts what an HTTP client sends to a proxy:
//! - `CONNECT host:port` (for `https://` targets): it connects to the target, answers `200` and copies bytes both
//!   ways, so TLS runs end to end between client and target;
//! - absolute-form requests such as `GET http://host:port/v2/ HTTP/1.1` (for `http://` targets): it connects to
//!   the target, rewrites the request line to origin form (`GET /v2/ HTTP/1.1`), drops the hop-by-hop and proxy
//!   headers, adds `Connection: close` (one request per connection, so each is recorded), and copies bytes both
//!   ways until the target closes.
//!
//! Every request line it sees is recorded as a [`ProxyRequest`], with the `Proxy-Authorization` header. It runs on
//! its own thread with its own tokio runtime, like [`crate::http::TestServer`], and stops when dropped.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::background::{lock, Background};
use crate::http::read_head;

/// Headers a proxy does not forward (hop-by-hop, or meant for the proxy itself).
const DROPPED_HEADERS: &[&str] = &["proxy-authorization", "proxy-connection", "connection", "keep-alive"];

/// One request as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The method, e.g. `CONNECT` or `GET`.
    pub method: String,
    /// The request target as sent: `host:port` for `CONNECT`, an absolute URL (`http://host:port/path`) otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, if one was sent.
    pub proxy_authorization: Option<String>,
    /// All headers in order of arrival; names are lowercase, values as sent.
    pub headers: Vec<(String, String)>,
}

impl ProxyRequest {
    /// Whether this opened a tunnel (`CONNECT`).
    pub fn is_connect(&self) -> bool {
        self.method.eq_ignore_ascii_case("CONNECT")
    }

    /// The `host:port` the request was for (port 80 when an `http://` URL names none).
    pub fn authority(&self) -> String {
        if self.is_connect() {
            return self.target.clone();
        }
        split_absolute(&self.target).map(|(authority, _)| authority).unwrap_or_default()
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `http://host[:port]/path?q` -> (`host:port`, `/path?q`); `None` unless an absolute `http` URL.
fn split_absolute(target: &str) -> Option<(String, String)> {
    let scheme_len = "http://".len();
    if target.len() < scheme_len || !target[..scheme_len].eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &target[scheme_len..];
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    let authority = if has_port { authority.to_owned() } else { format!("{authority}:80") };
    Some((authority, path))
}

struct Shared {
    requests: Mutex<Vec<ProxyRequest>>,
    /// The `Proxy-Authorization` value required, if any.
    required_auth: Option<String>,
}

/// A running forward proxy on loopback; it stops (closing open tunnels) when dropped.
pub struct TestProxy {
    shared: Arc<Shared>,
    background: Background,
}

impl fmt::Debug for TestProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProxy")
            .field("addr", &self.background.addr())
            .field("requests", &lock(&self.shared.requests).len())
            .field("requires_auth", &self.shared.required_auth.is_some())
            .finish_non_exhaustive()
    }
}

impl TestProxy {
    /// Starts a proxy on `127.0.0.1` with a free port, open to anyone.
    pub fn start() -> TestProxy {
        TestProxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), None)
    }

    /// Starts a proxy on `127.0.0.1` that answers `407 Proxy Authentication Required` unless the request carries
    /// `Proxy-Authorization: Basic base64(user:password)`.
    pub fn start_with_basic_auth(user: &str, password: &str) -> TestProxy {
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        TestProxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), Some(value))
    }

    /// Starts a proxy bound to `addr` (port 0 picks a free port), requiring exactly `required_auth` as
    /// `Proxy-Authorization` when it is given.
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub fn start_on(addr: SocketAddr, required_auth: Option<String>) -> TestProxy {
        let shared = Arc::new(Shared { requests: Mutex::new(Vec::new()), required_auth });
        let serving = Arc::clone(&shared);
        // Open tunnels are cut.
        let background = Background::start("test-proxy", addr, Duration::from_millis(200), drop, move |stream| {
            let shared = Arc::clone(&serving);
            async move {
                // I/O errors only end this connection.
                let _ = serve_connection(stream, shared).await;
            }
        });
        TestProxy { shared, background }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// The proxy URL, e.g. `http://127.0.0.1:34567`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The proxy URL with credentials, e.g. `http://user:password@127.0.0.1:34567` (neither may need escaping).
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr())
    }

    /// All requests received so far, in order of arrival.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// The distinct `host:port` targets seen so far, in order of first appearance.
    pub fn authorities(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for request in lock(&self.shared.requests).iter() {
            let authority = request.authority();
            if !seen.contains(&authority) {
                seen.push(authority);
            }
        }
        seen
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read_half, mut client_out) = stream.into_split();
    let mut client_in = BufReader::new(read_half);
    let Some(head) = read_head(&mut client_in).await? else {
        return Ok(());
    };
    let proxy_authorization = head.headers.iter().find(|(k, _)| k == "proxy-authorization").map(|(_, v)| v.clone());
    let request = ProxyRequest {
        method: head.method.clone(),
        target: head.target.clone(),
        proxy_authorization: proxy_authorization.clone(),
        headers: head.headers.clone(),
    };
    lock(&shared.requests).push(request.clone());

    if let Some(required) = &shared.required_auth {
        if proxy_authorization.as_deref() != Some(required.as_str()) {
            return answer(
                &mut client_out,
                "407 Proxy Authentication Required",
                &[("Proxy-Authenticate", "Basic realm=\"test-proxy\"")],
            )
            .await;
        }
    }

    if request.is_connect() {
        let Ok(upstream) = TcpStream::connect(request.target.as_str()).await else {
            return answer(&mut client_out, "502 Bad Gateway", &[]).await;
        };
        let _ = upstream.set_nodelay(true);
        client_out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
        let (mut upstream_in, mut upstream_out) = upstream.into_split();
        let to_target = async {
            let _ = tokio::io::copy(&mut client_in, &mut upstream_out).await;
            let _ = upstream_out.shutdown().await;
        };
        let to_client = async {
            let _ = tokio::io::copy(&mut upstream_in, &mut client_out).await;
            let _ = client_out.shutdown().await;
        };
        tokio::join!(to_target, to_client);
        return Ok(());
    }

    let Some((authority, path)) = split_absolute(&request.target) else {
        return answer(&mut client_out, "400 Bad Request", &[]).await;
    };
    let Ok(upstream) = TcpStream::connect(authority.as_str()).await else {
        return answer(&mut client_out, "502 Bad Gateway", &[]).await;
    };
    let _ = upstream.set_nodelay(true);
    let (mut upstream_in, mut upstream_out) = upstream.into_split();
    let mut forwarded = format!("{} {} {}\r\n", head.method, path, head.version);
    for (name, value) in &head.headers {
        if !DROPPED_HEADERS.contains(&name.as_str()) {
            forwarded.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream_out.write_all(forwarded.as_bytes()).await?;
    // The body (if any) follows as is; the target closes after its answer, which ends the exchange.
    let to_target = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_in, &mut upstream_out).await;
        let _ = upstream_out.shutdown().await;
    });
    let _ = tokio::io::copy(&mut upstream_in, &mut client_out).await;
    let _ = client_out.shutdown().await;
    to_target.abort();
    Ok(())
}

/// Answers with an empty body and closes.
async fn answer(out: &mut OwnedWriteHalf, status: &str, headers: &[(&str, &str)]) -> io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    out.write_all(text.as_bytes()).await?;
    out.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_targets() {
        let split = |t: &str| split_absolute(t);
        assert_eq!(split("http://127.0.0.1:5000/v2/"), Some(("127.0.0.1:5000".into(), "/v2/".into())));
        assert_eq!(split("HTTP://h/v2/?a=b"), Some(("h:80".into(), "/v2/?a=b".into())));
        assert_eq!(split("http://h:1"), Some(("h:1".into(), "/".into())));
        assert_eq!(split("http://h?x"), Some(("h:80".into(), "/?x".into())));
        assert_eq!(split("http://[::1]/x"), Some(("[::1]:80".into(), "/x".into())));
        assert_eq!(split("http://[::1]:8/x"), Some(("[::1]:8".into(), "/x".into())));
        assert_eq!(split("https://h/x"), None);
        assert_eq!(split("/v2/"), None);
        assert_eq!(split("http://u:p@h/"), None);
    }

    #[test]
    fn forwards_and_tunnels() {
        use std::io::{Read, Write};

        let target = crate::http::TestServer::start(|req| {
            crate::http::TestResponse::text(200, format!("{} {}", req.method, req.path_and_query))
        });
        let proxy = TestProxy::start_with_basic_auth("u", "p");

        // Absolute form, authorized: forwarded in origin form without the proxy's header.
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        write!(
            s,
            "GET {}/v2/x?y=1 HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
            target.url(),
            target.addr()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("GET /v2/x?y=1"), "{answer}");
        let seen = target.requests();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].header("proxy-authorization").is_none());

        // Unauthorized: 407, nothing forwarded.
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        write!(s, "GET {}/v2/ HTTP/1.1\r\nHost: x\r\n\r\n", target.url()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 407"), "{answer}");
        assert_eq!(target.request_count(), 1);

        // CONNECT: a raw tunnel.
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        write!(s, "CONNECT {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic dTpw\r\n\r\n", target.addr()).unwrap();
        let mut established = [0u8; 39];
        s.read_exact(&mut established).unwrap();
        assert_eq!(&established[..], b"HTTP/1.1 200 Connection established\r\n\r\n");
        write!(s, "GET /through HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.ends_with("GET /through"), "{answer}");

        let requests = proxy.requests();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[2].method, "CONNECT");
        assert_eq!(proxy.authorities(), vec![target.addr().to_string()]);
        assert_eq!(requests[0].proxy_authorization.as_deref(), Some("Basic dTpw"));
        assert_eq!(requests[1].proxy_authorization, None);
    }
}
