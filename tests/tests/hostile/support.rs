//! What the hostile tests share: clients with short backoffs, error assertions, a one-layer image fixture, a
//! server of fixed answers by path, and a raw HTTP/1.1 server for bodies [`TestServer`] cannot send.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::StreamExt;
use registry_client::{Client, Descriptor, Image, RemoteClient};
use registry_core::manifest::media_type;
use registry_core::transport::RetryConfig;
use registry_core::{Digest, Error, ErrorKind};
use registry_tests::{TestRequest, TestResponse, TestServer};
use serde_json::json;

pub(crate) const MIB: usize = 1024 * 1024;

pub(crate) fn fast_retry() -> RetryConfig {
    RetryConfig::default().initial_backoff(Duration::from_millis(10)).max_backoff(Duration::from_millis(200))
}

/// A client of `127.0.0.1:<port>` (no segment), plain HTTP, short backoffs.
pub(crate) fn root_client(addr: SocketAddr) -> Arc<dyn Client> {
    Arc::new(
        RemoteClient::builder(format!("127.0.0.1:{}", addr.port())).insecure(true).retry(fast_retry()).build().unwrap(),
    )
}

/// A client scoped to `127.0.0.1:<port>/repo`.
pub(crate) fn repo_client(addr: SocketAddr) -> Arc<dyn Client> {
    root_client(addr).with_segment("repo")
}

/// Unwrap the error of a call that must fail.
pub(crate) fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Assert the kind and that the Display names every one of `needles`.
#[track_caller]
pub(crate) fn assert_error(e: &Error, kind: ErrorKind, needles: &[&str]) {
    let shown = e.to_string();
    assert_eq!(e.kind(), kind, "wrong kind for: {shown}");
    for n in needles {
        assert!(shown.contains(n), "error {shown:?} does not mention {n:?}");
    }
}

pub(crate) fn config_json() -> Vec<u8> {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    })
    .to_string()
    .into_bytes()
}

pub(crate) fn manifest_json(config: (&Digest, usize), layers: &[(&Digest, usize)]) -> Vec<u8> {
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
pub(crate) struct Fixture {
    pub(crate) config: Vec<u8>,
    pub(crate) config_digest: Digest,
    pub(crate) layer: Vec<u8>,
    pub(crate) layer_digest: Digest,
    pub(crate) manifest: Vec<u8>,
    pub(crate) manifest_digest: Digest,
}

impl Fixture {
    pub(crate) fn new(layer: Vec<u8>) -> Fixture {
        let config = config_json();
        let config_digest = Digest::sha256(&config);
        let layer_digest = Digest::sha256(&layer);
        let manifest = manifest_json((&config_digest, config.len()), &[(&layer_digest, layer.len())]);
        let manifest_digest = Digest::sha256(&manifest);
        Fixture { config, config_digest, layer, layer_digest, manifest, manifest_digest }
    }

    pub(crate) fn config_path(&self) -> String {
        format!("/v2/repo/blobs/{}", self.config_digest)
    }

    pub(crate) fn layer_path(&self) -> String {
        format!("/v2/repo/blobs/{}", self.layer_digest)
    }

    /// Routes of a well-behaved registry holding this image as `repo:v1`.
    pub(crate) fn routes(&self) -> Routes {
        Routes::default()
            .with("/v2/repo/manifests/v1", manifest_response(&self.manifest))
            .with(&format!("/v2/repo/manifests/{}", self.manifest_digest), manifest_response(&self.manifest))
            .with(&self.config_path(), blob_response(&self.config))
            .with(&self.layer_path(), blob_response(&self.layer))
    }
}

/// A deterministic, non-repeating-looking byte pattern.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8).collect()
}

/// A 200 answer to a manifest GET: `body` as `content_type`, claiming `digest` in `Docker-Content-Digest`.
pub(crate) fn manifest_answer(content_type: &str, digest: &str, body: &[u8]) -> TestResponse {
    TestResponse::new(200)
        .header("Content-Type", content_type)
        .header("Docker-Content-Digest", digest)
        .body(body.to_vec())
}

pub(crate) fn manifest_response(bytes: &[u8]) -> TestResponse {
    manifest_answer(media_type::OCI_MANIFEST, Digest::sha256(bytes).as_str(), bytes)
}

pub(crate) fn blob_response(bytes: &[u8]) -> TestResponse {
    TestResponse::new(200).header("Content-Type", "application/octet-stream").body(bytes.to_vec())
}

pub(crate) fn registry_error(status: u16, code: &str, message: &str) -> TestResponse {
    TestResponse::json(status, &json!({"errors": [{"code": code, "message": message}]}))
}

/// Fixed answers by path (any method; the server drops the body of HEAD answers). Anything else is a 404.
#[derive(Clone, Default)]
pub(crate) struct Routes(Vec<(String, TestResponse)>);

impl Routes {
    pub(crate) fn with(mut self, path: &str, response: TestResponse) -> Routes {
        self.0.retain(|(p, _)| p != path);
        self.0.push((path.to_string(), response));
        self
    }

    pub(crate) fn answer(&self, req: &TestRequest) -> TestResponse {
        match self.0.iter().find(|(p, _)| p == req.path()) {
            Some((_, r)) => r.clone(),
            None => registry_error(404, "NAME_UNKNOWN", "no such path in this test"),
        }
    }

    pub(crate) fn serve(self) -> TestServer {
        TestServer::start(move |req| self.answer(req))
    }
}

/// Drain the blob of `desc`: the bytes handed out as `Ok`, and the error that ended the stream (if any). Also
/// checks that a stream that yielded an error ends right after it.
pub(crate) async fn drain(image: &Image, desc: &Descriptor) -> (usize, Option<Error>) {
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

/// A login page, served where a registry answer belongs.
pub(crate) const HTML_PAGE: &str =
    "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Login portal</body></html>";

/// A bare-bones HTTP/1.1 server writing its answers by hand, for what [`TestServer`] cannot send: bodies without
/// `Content-Length`, endless bodies. Counts the bytes it managed to write (into the socket buffers).
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    written: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One connection of a [`RawServer`]; every answer closes it.
pub(crate) struct Conn {
    stream: TcpStream,
    written: Arc<AtomicUsize>,
}

impl Conn {
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data)?;
        self.written.fetch_add(data.len(), Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn head(&mut self, status: u16, headers: &[(&str, String)]) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        self.write(out.as_bytes())
    }

    /// A whole answer with `Content-Length`.
    pub(crate) fn full(&mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.head(status, &[("Content-Type", content_type.to_string()), ("Content-Length", body.len().to_string())])?;
        self.write(body)
    }

    /// A chunked answer whose body is `prefix` followed by `total - prefix.len()` filler bytes.
    pub(crate) fn chunked(&mut self, status: u16, content_type: &str, prefix: &[u8], total: usize) -> io::Result<()> {
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

pub(crate) type RawHandler = dyn Fn(&str, &str, &mut Conn) -> io::Result<()> + Send + Sync;

impl RawServer {
    /// `handler(method, path, conn)` writes the whole answer.
    pub(crate) fn start(
        handler: impl Fn(&str, &str, &mut Conn) -> io::Result<()> + Send + Sync + 'static,
    ) -> RawServer {
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

    pub(crate) fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<String> {
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
