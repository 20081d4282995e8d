//! Error answers: registry error codes, huge, endless or hostile error bodies, an HTML 502 page, and a refused
//! connection.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use registry_client::ListOptions;
use registry_core::transport::RetryConfig;
use registry_core::ErrorKind;
use registry_tests::{TestResponse, TestServer};
use serde_json::json;

use crate::support::{assert_error, expect_err, registry_error, repo_client, Fixture, RawServer, HTML_PAGE, MIB};

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
