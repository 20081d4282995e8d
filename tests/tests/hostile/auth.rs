//! Authentication failures: challenges without or with rejected credentials, an endless token answer, and a
//! redirect to another host that must not carry the credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_client::{Client, ImageOptions, RemoteClient};
use registry_core::ErrorKind;
use registry_tests::{TestResponse, TestServer};

use crate::support::{
    assert_error, blob_response, expect_err, fast_retry, pattern, registry_error, repo_client, Fixture, RawServer, MIB,
};

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
async fn a_refresh_that_gives_back_the_refused_token_is_not_sent_again() {
    // Every registry request is refused; the token endpoint always hands out the same token.
    let server = TestServer::start(|req| {
        if req.path() == "/token" {
            return TestResponse::json(200, &serde_json::json!({"token": "t-same", "expires_in": 300}));
        }
        let host = req.header("host").unwrap_or_default();
        registry_error(401, "UNAUTHORIZED", "authentication required").header(
            "WWW-Authenticate",
            format!("Bearer realm=\"http://{host}/token\",service=\"registry\",scope=\"repository:repo:pull\""),
        )
    });
    let client = repo_client(server.addr());
    let count = |path: &str| server.requests().iter().filter(|r| r.path() == path).count();
    // The first call: anonymous, challenged, a token, refused with it.
    let e = expect_err(client.get_manifest("v1").await, "first call");
    assert_error(&e, ErrorKind::Unauthorized, &[]);
    assert_eq!((count("/v2/repo/manifests/v1"), count("/token")), (2, 1));
    // Every later call: the cached token refused, the refresh gives it back: not sent a second time.
    for call in 1..=3 {
        let e = expect_err(client.get_manifest("v1").await, "later call");
        assert_error(&e, ErrorKind::Unauthorized, &["same token", "not sending it again"]);
        assert_eq!((count("/v2/repo/manifests/v1"), count("/token")), (2 + call, 1 + call), "call {call}");
    }
}
