//! Hostile and malformed input: bad references, segments and builder settings; registries that send oversized,
//! corrupt, mislabelled or lying content; error bodies that are huge; links and locations that point elsewhere;
//! authentication failures. Every test asserts the error kind and that the message names the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::StreamExt;
use registry_client::{Client, Descriptor, Image, ImageBuilder, ImageOptions, ListOptions, RemoteClient};
use registry_core::manifest::media_type;
use registry_core::transport::RetryConfig;
use registry_core::{Digest, Error, ErrorKind};
use registry_tests::{TestRequest, TestResponse, TestServer};
use serde_json::json;

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn fast_retry() -> RetryConfig {
    RetryConfig::default().initial_backoff(Duration::from_millis(10)).max_backoff(Duration::from_millis(200))
}

/// A client of `127.0.0.1:<port>` (no segment), plain HTTP, short backoffs.
fn root_client(addr: SocketAddr) -> Arc<dyn Client> {
    Arc::new(
        RemoteClient::builder(format!("127.0.0.1:{}", addr.port())).insecure(true).retry(fast_retry()).build().unwrap(),
    )
}

/// A client scoped to `127.0.0.1:<port>/repo`.
fn repo_client(addr: SocketAddr) -> Arc<dyn Client> {
    root_client(addr).with_segment("repo")
}

/// Unwrap the error of a call that must fail.
fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Assert the kind and that the Display names every one of `needles`.
#[track_caller]
fn assert_error(e: &Error, kind: ErrorKind, needles: &[&str]) {
    let shown = e.to_string();
    assert_eq!(e.kind(), kind, "wrong kind for: {shown}");
    for n in needles {
        assert!(shown.contains(n), "error {shown:?} does not mention {n:?}");
    }
}

fn config_json() -> Vec<u8> {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    })
    .to_string()
    .into_bytes()
}

fn manifest_json(config: (&Digest, usize), layers: &[(&Digest, usize)]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(d, s)| json!({"mediaType": media_type::OCI_LAYER_TAR, "digest": d.to_string(), "size": s}))
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": config.0.to_string(), "size": config.1},
        "layers": layers,
    })
    .to_string()
    .into_bytes()
}

/// A one-layer image as a registry stores it.
#[derive(Clone)]
struct Fixture {
    config: Vec<u8>,
    config_digest: Digest,
    layer: Vec<u8>,
    layer_digest: Digest,
    manifest: Vec<u8>,
    manifest_digest: Digest,
}

impl Fixture {
    fn new(layer: Vec<u8>) -> Fixture {
        let config = config_json();
        let config_digest = Digest::sha256(&config);
        let layer_digest = Digest::sha256(&layer);
        let manifest = manifest_json((&config_digest, config.len()), &[(&layer_digest, layer.len())]);
        let manifest_digest = Digest::sha256(&manifest);
        Fixture { config, config_digest, layer, layer_digest, manifest, manifest_digest }
    }

    fn config_path(&self) -> String {
        format!("/v2/repo/blobs/{}", self.config_digest)
    }

    fn layer_path(&self) -> String {
        format!("/v2/repo/blobs/{}", self.layer_digest)
    }

    /// Routes of a well-behaved registry holding this image as `repo:v1`.
    fn routes(&self) -> Routes {
        Routes::default()
            .with("/v2/repo/manifests/v1", manifest_response(&self.manifest))
            .with(&format!("/v2/repo/manifests/{}", self.manifest_digest), manifest_response(&self.manifest))
            .with(&self.config_path(), blob_response(&self.config))
            .with(&self.layer_path(), blob_response(&self.layer))
    }
}

/// A deterministic, non-repeating-looking byte pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8).collect()
}

/// A 200 answer to a manifest GET: `body` as `content_type`, claiming `digest` in `Docker-Content-Digest`.
fn manifest_answer(content_type: &str, digest: &str, body: &[u8]) -> TestResponse {
    TestResponse::new(200)
        .header("Content-Type", content_type)
        .header("Docker-Content-Digest", digest)
        .body(body.to_vec())
}

fn manifest_response(bytes: &[u8]) -> TestResponse {
    manifest_answer(media_type::OCI_MANIFEST, Digest::sha256(bytes).as_str(), bytes)
}

fn blob_response(bytes: &[u8]) -> TestResponse {
    TestResponse::new(200).header("Content-Type", "application/octet-stream").body(bytes.to_vec())
}

fn registry_error(status: u16, code: &str, message: &str) -> TestResponse {
    TestResponse::json(status, &json!({"errors": [{"code": code, "message": message}]}))
}

/// Fixed answers by path (any method; the server drops the body of HEAD answers). Anything else is a 404.
#[derive(Clone, Default)]
struct Routes(Vec<(String, TestResponse)>);

impl Routes {
    fn with(mut self, path: &str, response: TestResponse) -> Routes {
        self.0.retain(|(p, _)| p != path);
        self.0.push((path.to_string(), response));
        self
    }

    fn answer(&self, req: &TestRequest) -> TestResponse {
        match self.0.iter().find(|(p, _)| p == req.path()) {
            Some((_, r)) => r.clone(),
            None => registry_error(404, "NAME_UNKNOWN", "no such path in this test"),
        }
    }

    fn serve(self) -> TestServer {
        TestServer::start(move |req| self.answer(req))
    }
}

/// Drain the blob of `desc`: the bytes handed out as `Ok`, and the error that ended the stream (if any). Also
/// checks that a stream that yielded an error ends right after it.
async fn drain(image: &Image, desc: &Descriptor) -> (usize, Option<Error>) {
    let mut stream = match image.open_blob(desc).await {
        Ok(s) => s,
        Err(e) => return (0, Some(e)),
    };
    let mut ok = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => ok += chunk.len(),
            Err(e) => {
                assert!(stream.next().await.is_none(), "the stream went on after its error {e}");
                return (ok, Some(e));
            }
        }
    }
    (ok, None)
}

/// A bare-bones HTTP/1.1 server writing its answers by hand, for what [`TestServer`] cannot send: bodies without
/// `Content-Length`, endless bodies. Counts the bytes it managed to write (into the socket buffers).
struct RawServer {
    addr: SocketAddr,
    written: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One connection of a [`RawServer`]; every answer closes it.
struct Conn {
    stream: TcpStream,
    written: Arc<AtomicUsize>,
}

impl Conn {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data)?;
        self.written.fetch_add(data.len(), Ordering::SeqCst);
        Ok(())
    }

    fn head(&mut self, status: u16, headers: &[(&str, String)]) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        self.write(out.as_bytes())
    }

    /// A whole answer with `Content-Length`.
    fn full(&mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.head(status, &[("Content-Type", content_type.to_string()), ("Content-Length", body.len().to_string())])?;
        self.write(body)
    }

    /// A chunked answer whose body is `prefix` followed by `total - prefix.len()` filler bytes.
    fn chunked(&mut self, status: u16, content_type: &str, prefix: &[u8], total: usize) -> io::Result<()> {
        self.head(status, &[("Content-Type", content_type.to_string()), ("Transfer-Encoding", "chunked".to_string())])?;
        let filler = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        for chunk in prefix.chunks(64 * 1024) {
            self.write(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            self.write(chunk)?;
            self.write(b"\r\n")?;
            sent += chunk.len();
        }
        while sent < total {
            let n = filler.len().min(total - sent);
            self.write(format!("{n:x}\r\n").as_bytes())?;
            self.write(&filler[..n])?;
            self.write(b"\r\n")?;
            sent += n;
        }
        self.write(b"0\r\n\r\n")
    }
}

type RawHandler = dyn Fn(&str, &str, &mut Conn) -> io::Result<()> + Send + Sync;

impl RawServer {
    /// `handler(method, path, conn)` writes the whole answer.
    fn start(handler: impl Fn(&str, &str, &mut Conn) -> io::Result<()> + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let written = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<RawHandler> = Arc::new(handler);
        let (w, r, s) = (written.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (w, r, handler) = (w.clone(), r.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(20)));
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                    let Ok(read_half) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(read_half);
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let target = parts.next().unwrap_or("").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    r.lock().unwrap().push(format!("{method} {target}"));
                    let path = target.split('?').next().unwrap_or("").to_string();
                    let mut conn = Conn { stream, written: w };
                    if handler(&method, &path, &mut conn).is_ok() {
                        let _ = conn.stream.flush();
                        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                        // Let the client read everything before the socket closes.
                        let mut rest = Vec::new();
                        let _ = io::Read::read_to_end(&mut reader, &mut rest);
                    }
                });
            }
        });
        RawServer { addr, written, requests, stop, thread: Some(thread) }
    }

    fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed input given by the caller: rejected before any request
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn malformed_references_are_rejected_without_a_request() {
    let server = TestServer::start(|req| panic!("no request expected, got {} {}", req.method, req.path_and_query));
    let client = repo_client(server.addr());
    let long_tag = "t".repeat(129);
    let cases: [(&str, &[&str]); 5] = [
        ("@sha256:abc", &["invalid digest", "sha256:abc"]),
        ("a:b", &["invalid tag", "\"a:b\""]),
        ("", &["empty"]),
        (&long_tag, &["129 characters", "maximum is 128"]),
        ("v1@sha256:zz", &["invalid digest", "sha256:zz"]),
    ];
    for (reference, needles) in cases {
        let e = expect_err(client.get_digest(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.get_manifest(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.check_image_exists(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.get_image(reference, ImageOptions::default()).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
    }
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    let e = expect_err(client.push_image(&long_tag, &image).await, "push to a 129-character tag");
    assert_error(&e, ErrorKind::InvalidInput, &["129 characters"]);
    let e = expect_err(client.push_image("a:b", &image).await, "push to tag a:b");
    assert_error(&e, ErrorKind::InvalidInput, &["invalid tag"]);
    assert!(server.requests().is_empty(), "requests were sent: {:?}", server.requests());
}

/// Tags may contain uppercase letters (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` in the distribution spec and in
/// Docker's reference grammar), so `UPPER` is a valid tag and must reach the registry as is; only repository paths
/// must be lowercase.
#[tokio::test(flavor = "multi_thread")]
async fn uppercase_tag_is_valid_but_uppercase_segment_is_not() {
    let server = TestServer::start(|_| registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    let client = repo_client(server.addr());
    let e = expect_err(client.get_digest("UPPER").await, "get_digest(UPPER)");
    assert_error(&e, ErrorKind::NotFound, &["UPPER"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path(), "/v2/repo/manifests/UPPER");

    server.clear_requests();
    let e = expect_err(root_client(server.addr()).with_segment("UPPER").get_digest("v1").await, "segment UPPER");
    assert_error(&e, ErrorKind::InvalidInput, &["\"UPPER\"", "lowercase"]);
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_segments_fail_every_call_without_a_request() {
    let server = TestServer::start(|req| panic!("no request expected, got {} {}", req.method, req.path_and_query));
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    for segment in ["Bad", "a//b", "", "-x", "a/", "/a", "a b"] {
        let named = format!("invalid segment {segment:?}");
        let needles = [named.as_str()];
        // Directly, below a valid segment, and with a valid segment added after the bad one.
        let clients = [
            root_client(server.addr()).with_segment(segment),
            root_client(server.addr()).with_segment("org").with_segment(segment),
            root_client(server.addr()).with_segment(segment).with_segment("ok"),
        ];
        for client in clients {
            let what = format!("segment {segment:?} via {}", client.get_registry());
            assert_error(&expect_err(client.get_digest("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.get_manifest("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.get_image_config("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.check_image_exists("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(
                &expect_err(client.get_image("v1", ImageOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
            assert_error(&expect_err(client.push_image("v1", &image).await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(
                &expect_err(client.list_tags(ListOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
            assert_error(
                &expect_err(client.list_repositories(ListOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
        }
    }
    assert!(server.requests().is_empty(), "requests were sent: {:?}", server.requests());
}

#[test]
fn builder_rejects_bad_settings() {
    let build_err = |b: registry_client::RemoteClientBuilder, what: &str| expect_err(b.build(), what);

    let e = build_err(RemoteClient::builder("not a host!"), "host with spaces");
    assert_error(&e, ErrorKind::InvalidInput, &["not a host!", "invalid registry domain"]);

    let e = build_err(RemoteClient::builder("host:99999"), "port out of range");
    assert_error(&e, ErrorKind::InvalidInput, &["99999", "port"]);

    let e = build_err(RemoteClient::builder("host:0"), "port zero");
    assert_error(&e, ErrorKind::InvalidInput, &["port"]);

    let e = build_err(RemoteClient::builder(""), "empty target");
    assert_error(&e, ErrorKind::InvalidInput, &["empty"]);

    let e = build_err(RemoteClient::builder("127.0.0.1:5000/Org/App"), "uppercase path");
    assert_error(&e, ErrorKind::InvalidInput, &["lowercase"]);

    let password = "hunter2-very-secret";
    let e = build_err(
        RemoteClient::builder("127.0.0.1:5000").basic_auth("alice", password).bearer_token("tok-secret-123"),
        "basic and bearer",
    );
    assert_error(&e, ErrorKind::InvalidInput, &["credentials"]);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(password) && !shown.contains("tok-secret-123"), "secret leaked: {shown}");

    let e = build_err(RemoteClient::builder("127.0.0.1:5000").timeout(Duration::ZERO), "zero timeout");
    assert_error(&e, ErrorKind::InvalidInput, &["timeout"]);

    let e = build_err(RemoteClient::builder("127.0.0.1:5000").user_agent("bad\nagent"), "user agent with newline");
    assert_error(&e, ErrorKind::InvalidInput, &["user agent"]);

    // The sane settings build.
    assert!(RemoteClient::builder("127.0.0.1:5000").timeout(Duration::from_secs(1)).build().is_ok());
}

// ---------------------------------------------------------------------------------------------------------------
// Oversized manifests
// ---------------------------------------------------------------------------------------------------------------

/// The start of a JSON manifest padded to `len` bytes.
fn padded_manifest(len: usize) -> Vec<u8> {
    let mut body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":""#.to_vec();
    body.resize(len - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

#[track_caller]
fn assert_over_manifest_limit(e: &Error) {
    let shown = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{shown}");
    assert!(shown.contains("manifest"), "{shown}");
    assert!(shown.contains("4 MiB") || shown.contains("4194304"), "does not name the 4 MiB limit: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifest_with_content_length_is_refused() {
    let body = padded_manifest(6 * MIB);
    let server = Routes::default()
        .with(
            "/v2/repo/manifests/v1",
            TestResponse::new(200).header("Content-Type", media_type::OCI_MANIFEST).body(body),
        )
        .serve();
    let client = repo_client(server.addr());
    let started = Instant::now();
    let e = expect_err(client.get_manifest("v1").await, "6 MiB manifest");
    assert_over_manifest_limit(&e);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "6 MiB manifest");
    assert_over_manifest_limit(&e);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Refusing is not a temporary failure: no retries.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifest_without_content_length_is_refused() {
    let server = RawServer::start(|_, _, conn| {
        conn.chunked(200, media_type::OCI_MANIFEST, &padded_manifest(1024)[..1000], 6 * MIB)
    });
    let client = repo_client(server.addr);
    let e = expect_err(client.get_manifest("v1").await, "6 MiB chunked manifest");
    assert_over_manifest_limit(&e);
    assert_eq!(server.requests(), vec!["GET /v2/repo/manifests/v1".to_string()]);
}

/// An endless manifest (256 MiB, chunked or announced): the client stops reading right after 4 MiB. What the
/// server managed to write is what the client read plus the socket buffers, far below the whole body.
#[tokio::test(flavor = "multi_thread")]
async fn endless_manifest_is_not_read_past_the_limit() {
    const TOTAL: usize = 256 * MIB;
    for chunked in [true, false] {
        let server = RawServer::start(move |_, _, conn| {
            let head = padded_manifest(1024);
            if chunked {
                conn.chunked(200, media_type::OCI_MANIFEST, &head[..1000], TOTAL)
            } else {
                conn.head(
                    200,
                    &[("Content-Type", media_type::OCI_MANIFEST.to_string()), ("Content-Length", TOTAL.to_string())],
                )?;
                conn.write(&head[..1000])?;
                let filler = vec![b'x'; 64 * 1024];
                let mut sent = 1000;
                while sent < TOTAL {
                    let n = filler.len().min(TOTAL - sent);
                    conn.write(&filler[..n])?;
                    sent += n;
                }
                Ok(())
            }
        });
        let client = repo_client(server.addr);
        let started = Instant::now();
        let e = expect_err(client.get_manifest("v1").await, "endless manifest");
        assert_over_manifest_limit(&e);
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        // Give the server a moment to notice the closed connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let written = server.written();
        assert!(written < 64 * MIB, "chunked={chunked}: the server wrote {written} bytes of a 256 MiB manifest");
    }
}

/// Every other manifest error says which manifest (`manifest 127.0.0.1:port/repo:v1: ...`); these two do not.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_or_mislabelled_manifest_error_names_the_reference() {
    let fx = Fixture::new(b"layer".to_vec());
    let oversized =
        TestResponse::new(200).header("Content-Type", media_type::OCI_MANIFEST).body(padded_manifest(5 * MIB));
    let bad_header = TestResponse::new(200)
        .header("Content-Type", media_type::OCI_MANIFEST)
        .header("Docker-Content-Digest", "sha256:nothex")
        .body(fx.manifest.clone());
    for response in [bad_header, oversized] {
        let server = Routes::default().with("/v2/repo/manifests/v1", response.clone()).serve();
        let e = expect_err(repo_client(server.addr()).get_manifest("v1").await, "context");
        assert!(e.to_string().contains("repo:v1"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Blobs that do not match their descriptor
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn layer_with_wrong_content_fails_while_reading() {
    let fx = Fixture::new(pattern(3 * MIB + 17));
    let mut bad = fx.layer.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let server = fx.routes().with(&fx.layer_path(), blob_response(&bad)).serve();
    let client = repo_client(server.addr());

    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(image.digest(), &fx.manifest_digest);
    let layer = image.layers()[0].clone();
    let (ok, err) = drain(&image, &layer).await;
    let e = err.expect("a corrupt layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str()]);
    assert!(ok < fx.layer.len(), "all {ok} bytes of the corrupt layer were handed out as good");

    let e = expect_err(image.blob_bytes(&layer).await, "blob_bytes of a corrupt layer");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn layer_shorter_than_its_descriptor_fails() {
    let fx = Fixture::new(pattern(100_000));
    let server = fx.routes().with(&fx.layer_path(), blob_response(&fx.layer[..99_999])).serve();
    let client = repo_client(server.addr());
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("a short layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &["99999", "100000"]);
    assert!(ok < 99_999);
}

#[tokio::test(flavor = "multi_thread")]
async fn layer_longer_than_its_descriptor_fails() {
    let fx = Fixture::new(pattern(100_000));
    let mut long = fx.layer.clone();
    long.extend_from_slice(b"trailing junk");
    let server = fx.routes().with(&fx.layer_path(), blob_response(&long)).serve();
    let client = repo_client(server.addr());
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("a long layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str(), "100013", "100000"]);
    assert_eq!(ok, 0);
}

/// The same, without `Content-Length` and endless: the stream fails as soon as it passes the declared size and the
/// rest is not read.
#[tokio::test(flavor = "multi_thread")]
async fn endless_layer_without_content_length_fails_at_its_size() {
    let fx = Fixture::new(pattern(100_000));
    let (config_path, layer_path, m_fx) = (fx.config_path(), fx.layer_path(), fx.clone());
    let server = RawServer::start(move |_, path, conn| {
        if path == "/v2/repo/manifests/v1" {
            conn.full(200, media_type::OCI_MANIFEST, &m_fx.manifest)
        } else if path == config_path {
            conn.full(200, "application/octet-stream", &m_fx.config)
        } else if path == layer_path {
            conn.chunked(200, "application/octet-stream", &m_fx.layer, 256 * MIB)
        } else {
            conn.full(404, "application/json", b"{}")
        }
    });
    let client = repo_client(server.addr);
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let started = Instant::now();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("an endless layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str(), "longer than", "100000"]);
    assert!(ok <= fx.layer.len());
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.written() < 64 * MIB, "the server wrote {} bytes", server.written());
}

#[tokio::test(flavor = "multi_thread")]
async fn config_with_wrong_content_fails_get_image() {
    let fx = Fixture::new(b"layer".to_vec());
    // Same length, other bytes: passes the size check, fails the digest.
    let mut bad = fx.config.clone();
    bad.make_ascii_uppercase();
    assert_eq!(bad.len(), fx.config.len());
    let server = fx.routes().with(&fx.config_path(), blob_response(&bad)).serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "corrupt config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);
    let e = expect_err(client.get_image_config("v1").await, "corrupt config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);

    // Other length: caught by the size.
    let server = fx.routes().with(&fx.config_path(), blob_response(&config_json()[1..])).serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "short config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);
}

// ---------------------------------------------------------------------------------------------------------------
// Manifests whose content contradicts what was asked for or announced
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn manifest_by_digest_with_other_content_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"another layer".to_vec());
    // The registry answers another (valid) manifest for the digest, once honestly and once claiming the digest.
    let path = format!("/v2/repo/manifests/{}", fx.manifest_digest);
    for claimed in [other.manifest_digest.to_string(), fx.manifest_digest.to_string()] {
        let server =
            fx.routes().with(&path, manifest_answer(media_type::OCI_MANIFEST, &claimed, &other.manifest)).serve();
        let client = repo_client(server.addr());
        let reference = format!("@{}", fx.manifest_digest);
        let e = expect_err(client.get_manifest(&reference).await, "manifest by digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str(), other.manifest_digest.as_str()]);
        let e = expect_err(client.get_image(&reference, ImageOptions::default()).await, "image by digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);
        let e = expect_err(client.get_manifest(&format!("v1{reference}")).await, "manifest by tag@digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_whose_docker_content_digest_contradicts_the_body_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"another layer".to_vec());
    let server = fx
        .routes()
        .with(
            "/v2/repo/manifests/v1",
            manifest_answer(media_type::OCI_MANIFEST, other.manifest_digest.as_str(), &fx.manifest),
        )
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "lying Docker-Content-Digest");
    assert_error(&e, ErrorKind::DigestMismatch, &[other.manifest_digest.as_str(), fx.manifest_digest.as_str()]);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "lying Docker-Content-Digest");
    assert_error(&e, ErrorKind::DigestMismatch, &[other.manifest_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_docker_content_digest_is_a_protocol_error() {
    let fx = Fixture::new(b"layer".to_vec());
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", manifest_answer(media_type::OCI_MANIFEST, "sha256:not-hex", &fx.manifest))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "malformed Docker-Content-Digest");
    assert_error(&e, ErrorKind::Protocol, &["Docker-Content-Digest", "sha256:not-hex"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Answers that are not registry answers
// ---------------------------------------------------------------------------------------------------------------

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Login portal</body></html>";

#[tokio::test(flavor = "multi_thread")]
async fn html_instead_of_a_manifest_is_a_protocol_error() {
    let server = Routes::default()
        .with("/v2/repo/manifests/v1", TestResponse::new(200).header("Content-Type", "text/html").body(HTML_PAGE))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "HTML manifest");
    assert_error(&e, ErrorKind::Protocol, &["HTML"]);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "HTML manifest");
    assert_error(&e, ErrorKind::Protocol, &["HTML"]);
    // Not retried.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_502_page_is_a_server_error_after_retries() {
    let server = TestServer::start(|_| TestResponse::new(502).header("Content-Type", "text/html").body(HTML_PAGE));
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "HTML 502");
    assert_error(&e, ErrorKind::Server, &["HTML", "502"]);
    assert_eq!(e.status(), Some(502));
    let max = RetryConfig::default().max_retries + 1;
    assert_eq!(e.attempts(), max);
    assert_eq!(server.requests().len(), max as usize);
    // The page itself is not copied into the message.
    assert!(!e.to_string().contains("Login portal"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_manifest_is_a_protocol_error() {
    let bodies: [(&str, &str, &str); 5] = [
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": 2, "config": "#, "not valid JSON"),
        ("application/json", "this is not json", "not valid JSON"),
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": 2, "config": 5, "layers": "no"}"#, "invalid"),
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": "two"}"#, "schemaVersion"),
        (media_type::OCI_MANIFEST, "[1, 2, 3]", "not valid JSON"),
    ];
    for (content_type, body, needle) in bodies {
        let server = Routes::default()
            .with("/v2/repo/manifests/v1", TestResponse::new(200).header("Content-Type", content_type).body(body))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, body);
        assert_error(&e, ErrorKind::Protocol, &[needle]);
        assert_eq!(server.requests().len(), 1, "{body}: garbage must not be retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_tag_list_is_a_protocol_error() {
    let bodies: [(&str, &str); 4] = [
        ("application/json", r#"{"name": "repo", "tags": ["a", "b""#),
        ("application/json", r#"{"name": "repo", "tags": 42}"#),
        ("text/html", HTML_PAGE),
        ("application/json", r#"{"tags": [1, 2]}"#),
    ];
    for (content_type, body) in bodies {
        let server = Routes::default()
            .with("/v2/repo/tags/list", TestResponse::new(200).header("Content-Type", content_type).body(body))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.list_tags(ListOptions::default()).await, body);
        assert_error(&e, ErrorKind::Protocol, &["list", "JSON"]);
        let e = expect_err(client.list_tags(ListOptions::default().limit(1)).await, body);
        assert_error(&e, ErrorKind::Protocol, &["JSON"]);
    }
    let server = Routes::default()
        .with(
            "/v2/_catalog",
            TestResponse::new(200).header("Content-Type", "application/json").body("{\"repositories\":"),
        )
        .serve();
    let e = expect_err(root_client(server.addr()).list_repositories(ListOptions::default()).await, "garbage catalog");
    assert_error(&e, ErrorKind::Protocol, &["JSON"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema1_manifest_is_unsupported() {
    let schema1 = json!({
        "schemaVersion": 1,
        "name": "repo",
        "tag": "v1",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": Digest::sha256(b"x").to_string()}],
        "history": [{"v1Compatibility": "{}"}],
        "signatures": [{"header": {}, "signature": "abc", "protected": "def"}],
    })
    .to_string();
    for content_type in [media_type::DOCKER_SCHEMA1_SIGNED, media_type::DOCKER_SCHEMA1, "application/json"] {
        let server = Routes::default()
            .with(
                "/v2/repo/manifests/v1",
                TestResponse::new(200).header("Content-Type", content_type).body(schema1.clone()),
            )
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, content_type);
        assert_error(&e, ErrorKind::Unsupported, &["schema 1"]);
        let e = expect_err(client.get_image("v1", ImageOptions::default()).await, content_type);
        assert_error(&e, ErrorKind::Unsupported, &["schema 1"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn media_type_contradicting_content_type_is_a_protocol_error() {
    let fx = Fixture::new(b"layer".to_vec());
    // The body says OCI manifest; the header says Docker manifest, then OCI index.
    for content_type in [media_type::DOCKER_MANIFEST, media_type::OCI_INDEX] {
        let server = fx
            .routes()
            .with("/v2/repo/manifests/v1", manifest_answer(content_type, fx.manifest_digest.as_str(), &fx.manifest))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, content_type);
        assert_error(&e, ErrorKind::Protocol, &["contradicts", media_type::OCI_MANIFEST, content_type]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Error answers
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn registry_error_codes_are_reported() {
    let server = TestServer::start(|_| registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "unknown manifest");
    assert_error(&e, ErrorKind::NotFound, &["MANIFEST_UNKNOWN", "manifest unknown", "404", "v1"]);
    assert!(e.is_not_found());
    assert!(e.has_code("MANIFEST_UNKNOWN"));
    assert!(!e.has_code("NAME_UNKNOWN"));
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.codes().len(), 1);
    assert_eq!(e.codes()[0].message, "manifest unknown");
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_image_exists_tells_absent_from_broken() {
    let fx = Fixture::new(b"layer".to_vec());
    let server = fx.routes().serve();
    let client = repo_client(server.addr());
    client.check_image_exists("v1").await.unwrap();
    client.check_image_exists(&format!("@{}", fx.manifest_digest)).await.unwrap();

    let e = expect_err(client.check_image_exists("v2").await, "absent tag");
    assert_error(&e, ErrorKind::NotFound, &["v2"]);
    assert_eq!(e.status(), Some(404));

    let server = TestServer::start(|_| TestResponse::new(500));
    let client = repo_client(server.addr());
    let e = expect_err(client.check_image_exists("v1").await, "broken registry");
    assert_error(&e, ErrorKind::Server, &["500"]);
    assert!(!e.is_not_found());
    assert_eq!(e.status(), Some(500));
    assert!(e.attempts() > 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_error_body_is_not_copied_into_the_message() {
    // 1 MiB of text, and a JSON error whose message alone is 200 KiB.
    let text = TestResponse::new(404).header("Content-Type", "text/plain").body(vec![b'z'; MIB]);
    let json_body = json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "m".repeat(200 * 1024)}]});
    let big_json = TestResponse::json(404, &json_body);
    for response in [text, big_json] {
        let server = TestServer::start(move |_| response.clone());
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, "huge error body");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.status(), Some(404));
        let shown = e.to_string();
        assert!(shown.len() < 2048, "Display is {} bytes: {}...", shown.len(), &shown[..200]);
        assert!(format!("{e:?}").len() < 4096);
    }
}

/// An endless error body: at most 64 KiB of it is read, so the call returns at once and the server cannot write
/// more than the socket buffers hold.
#[tokio::test(flavor = "multi_thread")]
async fn endless_error_body_is_not_read() {
    let server = RawServer::start(|_, _, conn| conn.chunked(404, "text/plain", b"not here ", 256 * MIB));
    let client = repo_client(server.addr);
    let started = Instant::now();
    let e = expect_err(client.get_manifest("v1").await, "endless error body");
    assert_error(&e, ErrorKind::NotFound, &["404"]);
    assert!(e.to_string().len() < 2048);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.written() < 64 * MIB, "the server wrote {} bytes", server.written());
}

/// A registry error body within the 64 KiB read cap can still carry a giant `code` string, or thousands of
/// codes: the message built from it should stay short.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_error_codes_do_not_blow_up_the_message() {
    let giant_code = json!({"errors": [{"code": "X".repeat(50_000), "message": "m"}]});
    let many: Vec<serde_json::Value> = (0..2000).map(|i| json!({"code": format!("C{i}"), "message": "msg"})).collect();
    let many_codes = json!({ "errors": many });
    for body in [giant_code, many_codes] {
        let server = TestServer::start(move |_| TestResponse::json(404, &body));
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, "hostile codes");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let shown = e.to_string();
        assert!(shown.len() < 8 * 1024, "Display is {} bytes", shown.len());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Connection failures
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_is_an_io_error_after_retries() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = repo_client(addr);
    let started = Instant::now();
    let e = expect_err(client.get_digest("v1").await, "refused connection");
    let elapsed = started.elapsed();
    assert_error(&e, ErrorKind::Io, &["connect", &addr.port().to_string()]);
    assert!(e.attempts() > 1, "a refused connection must be retried: {e}");
    assert_eq!(e.attempts(), RetryConfig::default().max_retries + 1);
    assert!(e.status().is_none());
    assert!(e.is_temporary());
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");

    let e = expect_err(client.list_tags(ListOptions::default()).await, "refused connection");
    assert_error(&e, ErrorKind::Io, &["connect"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Pagination links
// ---------------------------------------------------------------------------------------------------------------

fn tags_page(tags: &[&str], link: Option<String>) -> TestResponse {
    let r = TestResponse::json(200, &json!({"name": "repo", "tags": tags}));
    match link {
        Some(l) => r.header("Link", format!("<{l}>; rel=\"next\"")),
        None => r,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn link_to_another_host_is_refused() {
    let elsewhere = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| tags_page(&["stolen"], None));
    let same_ip_other_port = TestServer::start(|_| tags_page(&["stolen"], None));
    let targets = [
        "http://127.0.0.2:1/v2/repo/tags/list?n=1&last=a".to_string(),
        format!("{}/v2/repo/tags/list?n=1&last=a", elsewhere.url()),
        format!("{}/v2/repo/tags/list?n=1&last=a", same_ip_other_port.url()),
        "https://127.0.0.1/v2/repo/tags/list?n=1&last=a".to_string(),
        "//example.com/v2/repo/tags/list".to_string(),
    ];
    for target in targets {
        let link = target.clone();
        let server = TestServer::start(move |_| tags_page(&["a"], Some(link.clone())));
        let client = repo_client(server.addr());
        let e = expect_err(client.list_tags(ListOptions::default()).await, &target);
        assert_error(&e, ErrorKind::Protocol, &["another host"]);
        assert_eq!(server.requests().len(), 1, "{target}");
    }
    // The catalog follows the same rule.
    let link = format!("{}/v2/_catalog?n=1&last=a", elsewhere.url());
    let server = TestServer::start(move |_| {
        TestResponse::json(200, &json!({"repositories": ["a"]})).header("Link", format!("<{link}>; rel=\"next\""))
    });
    let e = expect_err(root_client(server.addr()).list_repositories(ListOptions::default()).await, "catalog link");
    assert_error(&e, ErrorKind::Protocol, &["another host"]);
    assert!(elsewhere.requests().is_empty(), "the other host was contacted: {:?}", elsewhere.requests());
    assert!(same_ip_other_port.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn link_repeating_itself_is_an_error_not_a_loop() {
    // Every page links to itself.
    let server = TestServer::start(|_| tags_page(&["a"], Some("/v2/repo/tags/list?n=1&last=a".to_string())));
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "self link");
    assert_error(&e, ErrorKind::Protocol, &["same next-page link"]);
    assert!(server.requests().len() <= 3, "{} requests", server.requests().len());

    // Two pages linking to each other.
    let server = TestServer::start(|req| match req.query_param("last").as_deref() {
        Some("a") => tags_page(&["b"], Some("/v2/repo/tags/list?last=b".to_string())),
        _ => tags_page(&["a"], Some("/v2/repo/tags/list?last=a".to_string())),
    });
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "link cycle");
    assert_error(&e, ErrorKind::Protocol, &["same next-page link"]);
    assert!(server.requests().len() <= 4, "{} requests", server.requests().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_and_absolute_same_host_links_are_followed() {
    // Page 1 links relatively, page 2 absolutely (built from the Host header), page 3 ends.
    let server = TestServer::start(|req| {
        assert_eq!(req.path(), "/v2/repo/tags/list");
        let host = req.header("host").expect("Host header").to_string();
        match req.query_param("last").as_deref() {
            None => tags_page(&["a", "b"], Some("/v2/repo/tags/list?n=2&last=b".to_string())),
            Some("b") => tags_page(&["c", "d"], Some(format!("http://{host}/v2/repo/tags/list?n=2&last=d"))),
            Some("d") => tags_page(&["e"], None),
            Some(other) => panic!("unexpected last={other}"),
        }
    });
    let client = repo_client(server.addr());
    let tags = client.list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
    let asked: Vec<String> = server.requests().iter().map(|r| r.path_and_query.clone()).collect();
    assert_eq!(
        asked,
        ["/v2/repo/tags/list", "/v2/repo/tags/list?n=2&last=b", "/v2/repo/tags/list?n=2&last=d"],
        "pages fetched"
    );

    // A path-relative link (no leading slash) resolves against the current page.
    let server = TestServer::start(|req| match req.query_param("last").as_deref() {
        None => tags_page(&["a"], Some("list?last=a".to_string())),
        Some("a") => {
            assert_eq!(req.path(), "/v2/repo/tags/list");
            tags_page(&["b"], None)
        }
        Some(other) => panic!("unexpected last={other}"),
    });
    let tags = repo_client(server.addr()).list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags, ["a", "b"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Push: upload locations
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn upload_location_on_another_host_is_refused() {
    let elsewhere = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| TestResponse::new(201));
    let location = format!("{}/v2/repo/blobs/uploads/stolen", elsewhere.url());
    let server = TestServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("HEAD", _) => TestResponse::new(404),
        ("POST", "/v2/repo/blobs/uploads/") => TestResponse::new(202).header("Location", location.clone()),
        (m, p) => panic!("unexpected {m} {p}"),
    });
    let client = repo_client(server.addr());
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    let e = expect_err(client.push_image("v1", &image).await, "upload location elsewhere");
    assert_error(&e, ErrorKind::Protocol, &["another host", "127.0.0.2"]);
    assert!(elsewhere.requests().is_empty(), "the other host was contacted: {:?}", elsewhere.requests());
    assert!(server.requests().iter().all(|r| r.method != "PUT" && r.method != "PATCH"));

    // Without any Location at all.
    let server = TestServer::start(|req| match req.method.as_str() {
        "HEAD" => TestResponse::new(404),
        "POST" => TestResponse::new(202),
        m => panic!("unexpected {m}"),
    });
    let e = expect_err(repo_client(server.addr()).push_image("v1", &image).await, "no Location");
    assert_error(&e, ErrorKind::Protocol, &["Location"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Authentication failures
// ---------------------------------------------------------------------------------------------------------------

fn basic_challenge() -> TestResponse {
    registry_error(401, "UNAUTHORIZED", "authentication required")
        .header("WWW-Authenticate", "Basic realm=\"registry\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_challenge_without_credentials_is_unauthorized() {
    let server = TestServer::start(|req| {
        assert!(req.header("authorization").is_none(), "no credentials were configured");
        basic_challenge()
    });
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "no credentials");
    assert_error(&e, ErrorKind::Unauthorized, &["no credentials"]);
    assert_eq!(e.status(), Some(401));
    assert!(e.is_unauthorized());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_basic_credentials_name_the_user_not_the_password() {
    let password = "Pa55-w0rd-do-not-print";
    let server = TestServer::start(|_| basic_challenge());
    let client: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(format!("127.0.0.1:{}", server.addr().port()))
            .insecure(true)
            .retry(fast_retry())
            .basic_auth("alice", password)
            .build()
            .unwrap(),
    );
    let client = client.with_segment("repo");
    let e = expect_err(client.get_manifest("v1").await, "wrong password");
    assert_error(&e, ErrorKind::Unauthorized, &["alice"]);
    assert_eq!(e.status(), Some(401));
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"))
    };
    for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}"), format!("{client:?}")] {
        assert!(!shown.contains(password), "password leaked: {shown}");
        assert!(!shown.contains(&encoded), "encoded credentials leaked: {shown}");
    }
    // The credentials were tried once after the challenge, then given up on.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].header("authorization").is_none());
    assert_eq!(requests[1].header("authorization"), Some(format!("Basic {encoded}").as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_token_answer_is_not_read_past_one_mib() {
    const TOTAL: usize = 256 * MIB;
    let token_server = RawServer::start(|_, _, conn| conn.chunked(200, "application/json", b"{\"token\": \"", TOTAL));
    let realm = format!("http://{}/token", token_server.addr);
    let server = TestServer::start(move |_| {
        registry_error(401, "UNAUTHORIZED", "authentication required")
            .header("WWW-Authenticate", format!("Bearer realm=\"{realm}\",service=\"endless\""))
    });
    let started = Instant::now();
    let e = expect_err(repo_client(server.addr()).get_manifest("v1").await, "endless token answer");
    assert_error(&e, ErrorKind::Unsupported, &["token response", "1 MiB"]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = token_server.written();
    assert!(written < 64 * MIB, "the token server wrote {written} bytes of a 256 MiB answer");
    assert_eq!(token_server.requests().len(), 1);
}

/// Registries commonly redirect blob downloads to a storage host: following is fine, but the credentials must not
/// travel along to the other host.
#[tokio::test(flavor = "multi_thread")]
async fn redirect_to_another_host_does_not_carry_credentials() {
    let fx = Fixture::new(pattern(10_000));
    let cdn_layer = fx.layer.clone();
    let cdn = TestServer::start_on("127.0.0.2:0".parse().unwrap(), move |req| {
        assert_eq!(req.path(), "/storage/layer");
        blob_response(&cdn_layer)
    });
    let redirect = format!("{}/storage/layer?signature=abc", cdn.url());
    let routes = fx.routes().with(&fx.layer_path(), TestResponse::new(307).header("Location", redirect));
    let server = TestServer::start(move |req| {
        if req.header("authorization").is_none() {
            return basic_challenge();
        }
        routes.answer(req)
    });
    let client: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(format!("127.0.0.1:{}", server.addr().port()))
            .insecure(true)
            .retry(fast_retry())
            .basic_auth("alice", "secret-password")
            .build()
            .unwrap(),
    );
    let image = client.with_segment("repo").get_image("v1", ImageOptions::default()).await.unwrap();
    let data = image.blob_bytes(&image.layers()[0]).await.unwrap();
    assert_eq!(data.as_ref(), fx.layer.as_slice());
    let cdn_requests = cdn.requests();
    assert_eq!(cdn_requests.len(), 1);
    assert!(
        cdn_requests[0].header("authorization").is_none(),
        "credentials were sent to the other host: {:?}",
        cdn_requests[0].header("authorization")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_claiming_a_huge_size_is_not_fetched() {
    let config = config_json();
    let config_digest = Digest::sha256(&config);
    let layer = b"layer".to_vec();
    let manifest = manifest_json((&config_digest, 10 << 30), &[(&Digest::sha256(&layer), layer.len())]);
    let config_path = format!("/v2/repo/blobs/{config_digest}");
    let server = Routes::default()
        .with("/v2/repo/manifests/v1", manifest_response(&manifest))
        .with(&config_path, blob_response(&config))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "10 GiB config");
    assert_error(&e, ErrorKind::Unsupported, &[config_digest.as_str(), "limit"]);
    assert!(server.requests().iter().all(|r| r.path() != config_path), "the config was fetched");
}

fn index_json(children: &[(&Digest, usize)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(d, s)| {
            json!({
                "mediaType": media_type::OCI_MANIFEST,
                "digest": d.to_string(),
                "size": s,
                "platform": {"os": "linux", "architecture": "amd64"},
            })
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests}).to_string().into_bytes()
}

fn index_response(bytes: &[u8]) -> TestResponse {
    manifest_answer(media_type::OCI_INDEX, Digest::sha256(bytes).as_str(), bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn index_child_with_other_content_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"other layer".to_vec());
    let index = index_json(&[(&fx.manifest_digest, fx.manifest.len())]);
    let amd64 = registry_client::Platform::new("linux", "amd64");

    // Sanity: an honest registry works.
    let server = fx.routes().with("/v2/repo/manifests/v1", index_response(&index)).serve();
    let image =
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64.clone())).await.unwrap();
    assert_eq!(image.digest(), &fx.manifest_digest);

    // The child's digest serves another manifest.
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", index_response(&index))
        .with(&format!("/v2/repo/manifests/{}", fx.manifest_digest), manifest_response(&other.manifest))
        .serve();
    let e = expect_err(
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64.clone())).await,
        "index child mismatch",
    );
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);

    // The child is itself an index (with the right digest).
    let inner = index_json(&[(&fx.manifest_digest, fx.manifest.len())]);
    let inner_digest = Digest::sha256(&inner);
    let outer = index_json(&[(&inner_digest, inner.len())]);
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", index_response(&outer))
        .with(&format!("/v2/repo/manifests/{inner_digest}"), index_response(&inner))
        .serve();
    let e = expect_err(
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64)).await,
        "nested index",
    );
    assert_error(&e, ErrorKind::Unsupported, &["nested"]);
}
