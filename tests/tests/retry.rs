//! Retries: which answers are retried and how often, `Retry-After` (seconds and HTTP-date, capped by
//! `max_backoff`), the `max_elapsed` budget, and that a streamed body is never sent twice while a bytes body is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use registry_client::{Client, Image, ImageBuilder, ImageOptions, RemoteClient, TransferOptions};
use registry_core::api::TransferConfig;
use registry_core::manifest::media_type;
use registry_core::transport::RetryConfig;
use registry_core::{Digest, Error, ErrorKind};
use registry_tests::{TestRequest, TestResponse, TestServer};
use serde_json::json;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn fast_retry() -> RetryConfig {
    RetryConfig::default().initial_backoff(Duration::from_millis(10)).max_backoff(Duration::from_millis(200))
}

fn client_with(addr: SocketAddr, retry: RetryConfig) -> Arc<dyn Client> {
    RemoteClient::builder(format!("127.0.0.1:{}", addr.port()))
        .insecure(true)
        .retry(retry)
        .build()
        .unwrap()
        .with_segment("repo")
}

fn client(addr: SocketAddr) -> Arc<dyn Client> {
    client_with(addr, fast_retry())
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// A valid one-layer OCI manifest (its blobs are never fetched by these tests).
fn manifest_bytes() -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": media_type::OCI_LAYER_TAR, "digest": Digest::sha256(b"l").to_string(), "size": 1}],
    })
    .to_string()
    .into_bytes()
}

fn manifest_ok() -> TestResponse {
    let body = manifest_bytes();
    TestResponse::new(200)
        .header("Content-Type", media_type::OCI_MANIFEST)
        .header("Docker-Content-Digest", Digest::sha256(&body).to_string())
        .body(body)
}

/// A server answering `failures[i]` to the i-th request and `ok()` after them; `counter` counts requests.
fn flaky(failures: Vec<TestResponse>, ok: fn() -> TestResponse) -> TestServer {
    let n = AtomicUsize::new(0);
    TestServer::start(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        failures.get(i).cloned().unwrap_or_else(ok)
    })
}

fn status(code: u16) -> TestResponse {
    TestResponse::json(code, &json!({"errors": [{"code": "UNKNOWN", "message": format!("status {code}")}]}))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for a time (IMF-fixdate, RFC 9110).
fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let (year, month, day) = registry_tests::token::civil_from_days(days);
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn http_date_formatting() {
    assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
}

// ---------------------------------------------------------------------------------------------------------------
// Which answers are retried
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn get_manifest_recovers_from_two_503s() {
    let server = flaky(vec![status(503), status(503)], manifest_ok);
    let m = client(server.addr()).get_manifest("v1").await.unwrap();
    assert_eq!(m.digest(), &Digest::sha256(&manifest_bytes()));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.method == "GET" && r.path() == "/v2/repo/manifests/v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn head_is_retried_too() {
    let server = flaky(vec![status(502)], manifest_ok);
    let d = client(server.addr()).get_digest("v1").await.unwrap();
    assert_eq!(d, Digest::sha256(&manifest_bytes()));
    let methods: Vec<String> = server.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["HEAD", "HEAD"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_statuses_are_retried() {
    for code in [408, 429, 500, 502, 503, 504] {
        let server = flaky(vec![status(code)], manifest_ok);
        let result = client(server.addr()).get_manifest("v1").await;
        assert!(result.is_ok(), "{code}: {:?}", result.err());
        assert_eq!(server.requests().len(), 2, "status {code} must be retried once");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried() {
    let cases = [
        (400, ErrorKind::InvalidInput),
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Denied),
        (404, ErrorKind::NotFound),
        (405, ErrorKind::Unsupported),
        (409, ErrorKind::Protocol),
        (501, ErrorKind::Unsupported),
    ];
    for (code, kind) in cases {
        let server = TestServer::start(move |_| status(code));
        let e = expect_err(client(server.addr()).get_manifest("v1").await, &code.to_string());
        assert_eq!(e.kind(), kind, "{code}: {e}");
        assert_eq!(e.status(), Some(code), "{e}");
        assert_eq!(e.attempts(), 1, "{e}");
        assert!(e.to_string().contains(&format!("HTTP {code}")), "{e}");
        assert_eq!(server.requests().len(), 1, "status {code} must not be retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_503_gives_up_after_max_retries() {
    for max_retries in [0u32, 1, 3] {
        let server = TestServer::start(|_| status(503));
        let started = Instant::now();
        let retry = fast_retry().max_retries(max_retries);
        let e = expect_err(client_with(server.addr(), retry).get_manifest("v1").await, "persistent 503");
        assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        assert_eq!(e.status(), Some(503));
        assert!(e.is_temporary());
        assert_eq!(e.attempts(), max_retries + 1, "{e}");
        assert_eq!(server.requests().len(), max_retries as usize + 1);
        if max_retries > 0 {
            assert!(e.to_string().contains(&format!("after {} attempts", max_retries + 1)), "{e}");
        }
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    // The default policy: 4 retries.
    let server = TestServer::start(|_| status(429));
    let e = expect_err(client(server.addr()).get_manifest("v1").await, "persistent 429");
    assert_eq!(e.kind(), ErrorKind::TooManyRequests, "{e}");
    assert_eq!(e.attempts(), RetryConfig::default().max_retries + 1);
    assert_eq!(server.requests().len(), RetryConfig::default().max_retries as usize + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_none_sends_one_request() {
    let server = TestServer::start(|_| status(503));
    let e = expect_err(client_with(server.addr(), RetryConfig::none()).get_manifest("v1").await, "none");
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.requests().len(), 1);
    assert!(!e.to_string().contains("attempts"), "{e}");

    // Not even a refused connection is retried.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let e = expect_err(client_with(addr, RetryConfig::none()).get_digest("v1").await, "refused");
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert_eq!(e.attempts(), 1);
}

/// A connection closed before any answer is an I/O failure; a GET is retried on a new connection.
#[tokio::test(flavor = "multi_thread")]
async fn dropped_connection_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            if n == 0 {
                // Hang up without a word.
                drop(stream);
                continue;
            }
            let body = manifest_bytes();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                media_type::OCI_MANIFEST,
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
            return;
        }
    });
    let m = client(addr).get_manifest("v1").await.unwrap();
    assert_eq!(m.digest(), &Digest::sha256(&manifest_bytes()));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_seconds_is_honoured() {
    let server = flaky(vec![status(429).header("Retry-After", "1")], manifest_ok);
    let retry = fast_retry().max_backoff(Duration::from_secs(5));
    let started = Instant::now();
    client_with(server.addr(), retry).get_manifest("v1").await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(950), "Retry-After: 1 not honoured, retried after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_http_date_is_honoured() {
    // The date has a resolution of one second: two seconds ahead means a wait of one to two seconds.
    let first = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(move |_| {
        if first.fetch_add(1, Ordering::SeqCst) == 0 {
            status(503).header("Retry-After", http_date(SystemTime::now() + Duration::from_secs(2)))
        } else {
            manifest_ok()
        }
    });
    let retry = fast_retry().max_backoff(Duration::from_secs(5));
    let started = Instant::now();
    client_with(server.addr(), retry).get_manifest("v1").await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "Retry-After date not honoured, retried after {elapsed:?}");
    assert!(elapsed < Duration::from_millis(4500), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_retry_after_is_capped_by_max_backoff() {
    let in_an_hour = http_date(SystemTime::now() + Duration::from_secs(3600));
    for value in ["3600".to_string(), in_an_hour, "99999999999".to_string()] {
        let server = flaky(vec![status(429).header("Retry-After", value.clone())], manifest_ok);
        let started = Instant::now();
        // max_backoff is 200 ms.
        client(server.addr()).get_manifest("v1").await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(3), "Retry-After {value} waited {elapsed:?}");
        assert_eq!(server.requests().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unparseable_retry_after_falls_back_to_backoff() {
    for value in ["soon", "-5", "1.5", ""] {
        let server = flaky(vec![status(503).header("Retry-After", value)], manifest_ok);
        let started = Instant::now();
        client(server.addr()).get_manifest("v1").await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(server.requests().len(), 2, "Retry-After {value:?}");
    }
}

/// With an uncapped `max_backoff`, a `Retry-After` of `u64::MAX` seconds must end the retries (it is beyond any
/// budget), not overflow. (The first answer makes more than a second pass, so that adding the elapsed time to the
/// huge wait carries into the seconds.)
#[tokio::test(flavor = "multi_thread")]
async fn enormous_retry_after_with_uncapped_backoff_does_not_overflow() {
    let server = flaky(
        vec![status(503).header("Retry-After", "1"), status(503).header("Retry-After", u64::MAX.to_string())],
        || status(503),
    );
    let addr = server.addr();
    let retry = fast_retry().max_backoff(Duration::MAX).max_elapsed(Duration::from_secs(10));
    let started = Instant::now();
    let handle = tokio::spawn(async move { client_with(addr, retry).get_manifest("v1").await.map(|_| ()) });
    let outcome = tokio::time::timeout(Duration::from_secs(10), handle).await.expect("did not finish");
    let result = outcome.unwrap_or_else(|e| panic!("the client panicked: {e}"));
    let e = expect_err(result, "enormous Retry-After");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.attempts(), 2, "{e}");
    assert_eq!(server.requests().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------------------------
// The time budget
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn max_elapsed_stops_retrying() {
    let server = TestServer::start(|_| status(503));
    let retry = RetryConfig::default()
        .max_retries(1000)
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(100))
        .max_elapsed(Duration::from_millis(600));
    let started = Instant::now();
    let e = expect_err(client_with(server.addr(), retry).get_manifest("v1").await, "budget");
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(elapsed < Duration::from_millis(1500), "budget of 600 ms not respected: {elapsed:?}");
    let requests = server.requests().len();
    // Waits of 50-100 ms each: between 6 and 13 attempts fit in 600 ms.
    assert!((3..=20).contains(&requests), "{requests} attempts");
    assert_eq!(e.attempts() as usize, requests);

    // A Retry-After longer than what is left of the budget ends the retries at once.
    let server = TestServer::start(|_| status(429).header("Retry-After", "30"));
    let retry = fast_retry().max_backoff(Duration::from_secs(60)).max_elapsed(Duration::from_secs(2));
    let started = Instant::now();
    let e = expect_err(client_with(server.addr(), retry).get_manifest("v1").await, "budget vs Retry-After");
    assert_eq!(e.kind(), ErrorKind::TooManyRequests, "{e}");
    assert_eq!(server.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------------------------
// Pushes: streamed bodies are never replayed, bytes bodies are
// ---------------------------------------------------------------------------------------------------------------

fn test_image() -> Image {
    ImageBuilder::new().layer(&b"some layer bytes"[..]).label("test", "retry").build().unwrap()
}

/// A registry accepting pushes to `repo`, with `blob_put` deciding the answer to the n-th blob PUT (0-based) and
/// `manifest_put` the n-th manifest PUT. Blobs are never present beforehand; uploads use numbered locations.
fn push_registry(
    post: impl Fn(usize) -> Option<TestResponse> + Send + Sync + 'static,
    blob_put: impl Fn(usize) -> Option<TestResponse> + Send + Sync + 'static,
    manifest_put: impl Fn(usize) -> Option<TestResponse> + Send + Sync + 'static,
) -> TestServer {
    let (posts, blob_puts, manifest_puts) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    TestServer::start(move |req: &TestRequest| match (req.method.as_str(), req.path()) {
        ("HEAD", p) if p.starts_with("/v2/repo/blobs/") => TestResponse::new(404),
        ("POST", "/v2/repo/blobs/uploads/") => {
            let n = posts.fetch_add(1, Ordering::SeqCst);
            post(n).unwrap_or_else(|| {
                TestResponse::new(202).header("Location", format!("/v2/repo/blobs/uploads/session-{n}"))
            })
        }
        ("PUT", p) if p.starts_with("/v2/repo/blobs/uploads/") => {
            let n = blob_puts.fetch_add(1, Ordering::SeqCst);
            if let Some(r) = blob_put(n) {
                return r;
            }
            let digest = req.query_param("digest").expect("digest query parameter");
            assert_eq!(Digest::sha256(&req.body).to_string(), digest, "uploaded bytes do not match");
            TestResponse::new(201).header("Docker-Content-Digest", digest)
        }
        // An abandoned upload session is cancelled.
        ("DELETE", p) if p.starts_with("/v2/repo/blobs/uploads/") => TestResponse::new(204),
        ("PUT", "/v2/repo/manifests/v1") => {
            let n = manifest_puts.fetch_add(1, Ordering::SeqCst);
            if let Some(r) = manifest_put(n) {
                return r;
            }
            TestResponse::new(201).header("Docker-Content-Digest", Digest::sha256(&req.body).to_string())
        }
        (m, p) => panic!("unexpected {m} {p}"),
    })
}

fn count(server: &TestServer, method: &str, prefix: &str) -> usize {
    server.requests().iter().filter(|r| r.method == method && r.path().starts_with(prefix)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_succeeds_against_the_fake_registry() {
    let server = push_registry(|_| None, |_| None, |_| None);
    let image = test_image();
    client(server.addr()).push_image("v1", &image).await.unwrap();
    assert_eq!(count(&server, "PUT", "/v2/repo/blobs/uploads/"), 2);
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/v1"), 1);
    let manifest = server.requests().into_iter().find(|r| r.path() == "/v2/repo/manifests/v1").unwrap();
    assert_eq!(manifest.body, image.raw_manifest().bytes().to_vec());
    assert_eq!(manifest.header("content-type"), Some(media_type::OCI_MANIFEST));
}

/// The most PUTs of one blob (by its `digest` parameter) the server saw.
fn max_puts_per_blob(server: &TestServer) -> usize {
    let mut per_digest = std::collections::HashMap::<String, usize>::new();
    for r in server.requests() {
        if r.method == "PUT" && r.path().starts_with("/v2/repo/blobs/uploads/") {
            *per_digest.entry(r.query_param("digest").unwrap_or_default()).or_default() += 1;
        }
    }
    per_digest.values().copied().max().unwrap_or(0)
}

fn client_without_upload_recovery(addr: SocketAddr) -> Arc<dyn Client> {
    let no_recovery = TransferOptions::new().blob_config(TransferConfig::default().upload_retries(0));
    RemoteClient::builder(format!("127.0.0.1:{}", addr.port()))
        .insecure(true)
        .retry(fast_retry())
        .transfer(no_recovery)
        .build()
        .unwrap()
        .with_segment("repo")
}

/// A streamed PUT is never replayed by the transport; the upload starts over from its source, a bounded number of
/// times (`upload_retries`), and a failed push pushes no manifest.
#[tokio::test(flavor = "multi_thread")]
async fn streamed_blob_put_is_not_replayed_and_restarts_are_bounded() {
    let server = push_registry(|_| None, |_| Some(status(503)), |_| None);
    let image = test_image();
    let started = Instant::now();
    let e = expect_err(client_without_upload_recovery(server.addr()).push_image("v1", &image).await, "blob PUT 503");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(503));
    let shown = e.to_string();
    assert!(shown.contains("503") && shown.contains("upload"), "{shown}");
    assert_eq!(max_puts_per_blob(&server), 1, "without upload recovery, each blob is sent once");
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/"), 0, "a manifest was pushed despite the failure");
    assert!(started.elapsed() < Duration::from_secs(5));

    // With recovery, the blob is sent again from its source, but not forever.
    let server = push_registry(|_| None, |_| Some(status(503)), |_| None);
    let e = expect_err(client(server.addr()).push_image("v1", &image).await, "persistent blob PUT 503");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    let per_blob = max_puts_per_blob(&server);
    assert!((2..=6).contains(&per_blob), "restarted from the source a bounded number of times: {per_blob}");
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/"), 0);

    // And a single 503 is survived.
    let server = push_registry(|_| None, |n| (n == 0).then(|| status(503)), |_| None);
    client(server.addr()).push_image("v1", &image).await.unwrap();
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/v1"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_put_is_retried() {
    let server = push_registry(|_| None, |_| None, |n| (n == 0).then(|| status(503)));
    let image = test_image();
    client(server.addr()).push_image("v1", &image).await.unwrap();
    let puts: Vec<TestRequest> =
        server.requests().into_iter().filter(|r| r.method == "PUT" && r.path() == "/v2/repo/manifests/v1").collect();
    assert_eq!(puts.len(), 2, "the manifest PUT must be retried once");
    // The same bytes both times.
    assert_eq!(puts[0].body, puts[1].body);
    assert_eq!(puts[1].body, image.raw_manifest().bytes().to_vec());

    // And given up on like any request when the 503s persist.
    let server = push_registry(|_| None, |_| None, |_| Some(status(503)));
    let e = expect_err(client(server.addr()).push_image("v1", &image).await, "persistent manifest 503");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.attempts(), RetryConfig::default().max_retries + 1);
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/"), RetryConfig::default().max_retries as usize + 1);
}

/// Starting an upload session twice is harmless, so its POST is retried.
#[tokio::test(flavor = "multi_thread")]
async fn upload_start_is_retried() {
    let server = push_registry(|n| (n == 0).then(|| status(502)), |_| None, |_| None);
    client(server.addr()).push_image("v1", &test_image()).await.unwrap();
    assert_eq!(count(&server, "POST", "/v2/repo/blobs/uploads/"), 3, "one retried POST, then one per blob");
    assert_eq!(count(&server, "PUT", "/v2/repo/blobs/uploads/"), 2);
}

/// A non-retryable error of an upload ends the push at once.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_upload_is_not_retried() {
    let digest_invalid =
        || TestResponse::json(400, &json!({"errors": [{"code": "DIGEST_INVALID", "message": "digest did not match"}]}));
    let server = push_registry(|_| None, move |_| Some(digest_invalid()), |_| None);
    let e = expect_err(client(server.addr()).push_image("v1", &test_image()).await, "DIGEST_INVALID");
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.has_code("DIGEST_INVALID"));
    assert_eq!(max_puts_per_blob(&server), 1, "a blob the registry rejected is not sent again");
    assert_eq!(count(&server, "PUT", "/v2/repo/manifests/"), 0);
}

/// A retried request still gets its answer parsed and verified: a 503 followed by a lying answer is an error.
#[tokio::test(flavor = "multi_thread")]
async fn answer_after_retry_is_still_verified() {
    fn lying() -> TestResponse {
        manifest_ok().header("X-Note", "lying").body(b"{\"schemaVersion\":2}".to_vec())
    }
    let server = flaky(vec![status(503)], lying);
    let e = expect_err(client(server.addr()).get_image("v1", ImageOptions::default()).await, "lying after retry");
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert_eq!(server.requests().len(), 2);
}
