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
    assert!(matches!(e.kind(), ErrorKind::Io | ErrorKind::Protocol), "{e}");
    assert!(
        server.requests().iter().all(|r| r.method != "HEAD" && r.method != "GET"),
        "no plain-HTTP request reached the server"
    );
}
