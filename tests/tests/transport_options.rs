//! Builder options reach the wire: user agent, timeout, HTTPS by default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_client::core::transport::RetryConfig;
use registry_client::{Client, ErrorKind, RemoteClient};
use registry_tests::{TestResponse, TestServer};

fn manifest_unknown() -> TestResponse {
    TestResponse::json(
        404,
        &serde_json::json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn user_agent_is_sent() {
    let server = TestServer::start(|_| manifest_unknown());
    let c: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(server.addr().to_string()).insecure(true).user_agent("mirror-job/1.2").build().unwrap(),
    );
    let e = c.with_segment("app").check_image_exists("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("user-agent"), Some("mirror-job/1.2"));
    assert_eq!(reqs[0].method, "HEAD");
    assert_eq!(reqs[0].path(), "/v2/app/manifests/v1");

    let default = RemoteClient::builder(server.addr().to_string()).insecure(true).build().unwrap();
    let _ = Client::with_segment(&default, "app").check_image_exists("v1").await;
    let ua = server.requests().last().and_then(|r| r.header("user-agent").map(str::to_string)).unwrap_or_default();
    assert!(ua.starts_with("registry-client/"), "{ua}");
    assert!(RemoteClient::builder("h").user_agent("bad\nagent").build().is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_applies_to_a_stalled_answer() {
    let server = TestServer::start(|_| {
        std::thread::sleep(Duration::from_secs(3));
        manifest_unknown()
    });
    let c: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(server.addr().to_string())
            .insecure(true)
            .timeout(Duration::from_millis(300))
            .retry(RetryConfig::none())
            .build()
            .unwrap(),
    );
    let start = Instant::now();
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(start.elapsed() < Duration::from_secs(2), "gave up in time: {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn https_by_default_never_falls_back_to_http() {
    // The server speaks plain HTTP; a client not told `insecure(true)` must fail the TLS handshake, not retry in
    // plain text.
    let server = TestServer::start(|_| manifest_unknown());
    let c: Arc<dyn Client> =
        Arc::new(RemoteClient::builder(server.addr().to_string()).retry(RetryConfig::none()).build().unwrap());
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    // This server closes the connection on what it cannot parse (others answer 400: see below).
    assert!(matches!(e.kind(), ErrorKind::Io | ErrorKind::Protocol), "{e}");
    assert!(e.to_string().contains("insecure(true)"), "hints at the fix: {e}");
    assert!(
        server.requests().iter().all(|r| r.method != "HEAD" && r.method != "GET"),
        "no plain-HTTP request reached the server"
    );
}

/// A plain-HTTP server that answers whatever arrives with `400 Bad Request` and closes, as Go's and nginx's do
/// when a TLS handshake reaches them; it counts the connections.
struct PlainHttp400 {
    addr: std::net::SocketAddr,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl PlainHttp400 {
    fn start() -> PlainHttp400 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request",
                );
            }
        });
        PlainHttp400 { addr, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Asserts that `e` is the failure of a TLS handshake a plain-HTTP server answered: kind `Tls`, one attempt, a
/// message that says so and names the fix.
#[track_caller]
fn assert_answered_plain_http(e: &registry_client::Error, url: &str) {
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(e.attempts(), 1, "trying again cannot help: {e}");
    let shown = e.to_string();
    assert!(shown.contains("answered plain HTTP, not TLS"), "says what happened: {shown}");
    assert!(shown.contains("insecure(true)"), "names the fix: {shown}");
    assert!(shown.contains(url), "names the URL {url}: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_registry_without_insecure_is_one_tls_failure() {
    let server = PlainHttp400::start();
    // The default retry policy: the failure must not be retried.
    let c: Arc<dyn Client> = Arc::new(RemoteClient::builder(server.addr.to_string()).build().unwrap());
    let start = Instant::now();
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    assert_answered_plain_http(&e, &format!("https://{}/v2/app/manifests/v1", server.addr));
    assert!(start.elapsed() < Duration::from_millis(500), "no retries: {:?}", start.elapsed());
    assert_eq!(server.connections(), 1);
    let e = c.with_segment("app").list_tags(Default::default()).await.unwrap_err();
    assert_answered_plain_http(&e, &format!("https://{}/v2/app/tags/list", server.addr));
    assert_eq!(server.connections(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_token_realm_answered_in_plain_http_is_one_tls_failure() {
    // A plain-HTTP token server, announced by the registry as an https:// realm.
    let token = PlainHttp400::start();
    let realm = format!("https://{}/token", token.addr);
    let registry = TestServer::start(move |_| {
        TestResponse::new(401).header("www-authenticate", format!("Bearer realm=\"{realm}\",service=\"test\""))
    });
    let c = RemoteClient::builder(registry.addr().to_string()).insecure(true).basic_auth("u", "p").build().unwrap();
    let c: Arc<dyn Client> = Arc::new(c);
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    assert_answered_plain_http(&e, &format!("https://{}/token", token.addr));
    assert_eq!(registry.request_count(), 1, "the registry was asked once: {:?}", registry.requests());
    assert_eq!(token.connections(), 1, "the token server was tried once");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_to_https_answered_in_plain_http_is_one_tls_failure() {
    // A plain-HTTP registry that sends blob reads to an https:// storage host that speaks plain HTTP.
    let storage = PlainHttp400::start();
    let target = format!("https://{}/blob", storage.addr);
    let registry = TestServer::start(move |_| TestResponse::new(307).header("location", target.clone()));
    let c = RemoteClient::builder(registry.addr().to_string()).insecure(true).build().unwrap();
    let digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
    let e = Client::with_segment(&c, "app").get_blob(&digest, 10).await.err().unwrap();
    // The error names the request as sent (reqwest does not tell where it was redirected).
    assert_answered_plain_http(&e, &format!("http://{}/v2/app/blobs/{digest}", registry.addr()));
    assert_eq!(storage.connections(), 1, "the storage host was tried once");
}

#[test]
fn a_scheme_in_the_host_is_invalid_input_naming_the_fix() {
    for (target, fix) in [
        ("http://127.0.0.1:5000", "insecure(true)"),
        ("http://127.0.0.1:5000/org/app", "insecure(true)"),
        ("https://registry.example.com", "HTTPS is the default"),
        ("https://registry.example.com/org", "HTTPS is the default"),
    ] {
        let e = RemoteClient::builder(target).build().err().unwrap_or_else(|| panic!("{target} accepted"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{target}: {e}");
        let shown = e.to_string();
        assert!(shown.contains("without a scheme") && shown.contains(fix), "{target}: {shown}");
        assert!(!shown.contains("registry port"), "not a port-parse error: {shown}");
    }
}

/// A server that accepts connections and never answers; it counts the connections.
struct Silent {
    addr: std::net::SocketAddr,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Silent {
    fn start() -> Silent {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                open.push(stream);
            }
        });
        Silent { addr, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_bounds_every_attempt_and_wait_of_a_call() {
    let server = Silent::start();
    let c = RemoteClient::builder(server.addr.to_string())
        .insecure(true)
        .timeout(Duration::from_secs(1))
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let c: Arc<dyn Client> = Arc::new(c);
    let start = Instant::now();
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2500),
        "ended at the deadline: {took:?}"
    );
    assert!(e.to_string().contains("deadline of 2s"), "says the deadline: {e}");
    assert_eq!(e.attempts() as usize, server.connections(), "says how many attempts: {e}");
    assert!(e.attempts() >= 2, "retried within the deadline: {e}");
    assert_eq!(e.to_string().matches("attempts").count(), 1, "the count said once: {e}");
    assert!(e.to_string().contains(&format!("after {} attempts", e.attempts())), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_deadline_each_attempt_has_its_timeout() {
    let server = Silent::start();
    let c = RemoteClient::builder(server.addr.to_string())
        .insecure(true)
        .timeout(Duration::from_millis(300))
        .retry(RetryConfig::default().max_retries(2).initial_backoff(Duration::from_millis(20)))
        .build()
        .unwrap();
    let start = Instant::now();
    let e = Client::with_segment(&c, "app").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.attempts(), 3, "every attempt made: {e}");
    assert!(start.elapsed() >= Duration::from_millis(900), "each attempt waited its timeout: {:?}", start.elapsed());
    assert!(!e.to_string().contains("deadline"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_includes_the_token_exchange() {
    let token = Silent::start();
    let realm = format!("http://{}/token", token.addr);
    let registry = TestServer::start(move |_| {
        TestResponse::new(401).header("www-authenticate", format!("Bearer realm=\"{realm}\",service=\"test\""))
    });
    let c = RemoteClient::builder(registry.addr().to_string())
        .insecure(true)
        .timeout(Duration::from_secs(30))
        .deadline(Duration::from_millis(800))
        .build()
        .unwrap();
    let start = Instant::now();
    let e = Client::with_segment(&c, "app").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(start.elapsed() < Duration::from_millis(1500), "ended at the deadline: {:?}", start.elapsed());
    assert!(e.to_string().contains("deadline of 800ms"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_past_the_deadline_is_not_started() {
    let server = TestServer::start(|_| TestResponse::new(503).header("retry-after", "5"));
    let c = RemoteClient::builder(server.addr().to_string())
        .insecure(true)
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let e = Client::with_segment(&c, "app").get_digest("v1").await.unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(500), "gave up at once: {:?}", start.elapsed());
    // Nothing timed out: the registry's 503 is the error, saying why it was not tried again.
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(503), "keeps the last answer's status: {e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)), "and its Retry-After: {e}");
    assert_eq!(e.attempts(), 1, "{e}");
    assert!(e.to_string().contains("deadline of 1s") && e.to_string().contains("503"), "{e}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_zero_deadline_is_a_build_error() {
    let e = RemoteClient::builder("127.0.0.1:1").deadline(Duration::ZERO).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("deadline"), "{e}");
}
