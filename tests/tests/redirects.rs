//! Nothing leaks through redirects: the real docker-registry with its storage `redirect` middleware sends blob
//! reads to a "storage" server on another loopback host (127.0.0.2) that serves the blob files from the registry's
//! storage directory and records every request. Pulls must succeed and verify, and the storage host must never see
//! the registry credentials (basic or bearer). An HTTPS registry redirecting to plain HTTP must be refused before
//! any request reaches the storage host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use registry_client::core::transport::RetryConfig;
use registry_client::{Client, ErrorKind, Image, ImageBuilder, ImageOptions, RemoteClient, RemoteClientBuilder};
use registry_tests::tls::TestPki;
use registry_tests::{Access, AuthMode, DockerRegistry, TestRequest, TestResponse, TestServer, TokenIssuer};

/// Where distribution 2.8.2 keeps blob files under the storage root (and so the path its redirects name).
const BLOBS_PREFIX: &str = "/docker/registry/v2/blobs/";

/// A storage host on 127.0.0.2 serving the blob files under `storage`: `GET`/`HEAD` of a blob path answer the
/// file, anything else 404.
fn storage_server(storage: &Path) -> TestServer {
    let root = storage.to_path_buf();
    TestServer::start_on("127.0.0.2:0".parse().unwrap(), move |req| match blob_file(&root, req) {
        Some(file) => match std::fs::read(&file) {
            Ok(bytes) => TestResponse::new(200).header("Content-Type", "application/octet-stream").body(bytes),
            Err(_) => TestResponse::text(404, "no such blob"),
        },
        None => TestResponse::text(404, "not a blob path"),
    })
}

/// The file a storage request names, when it is a plain blob path under the root.
fn blob_file(root: &Path, req: &TestRequest) -> Option<PathBuf> {
    if !matches!(req.method.as_str(), "GET" | "HEAD") || !req.path().starts_with(BLOBS_PREFIX) {
        return None;
    }
    let relative = Path::new(req.path().trim_start_matches('/'));
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| root.join(relative))
}

/// The storage path of the blob `digest` (`sha256:<hex>`).
fn blob_path(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap();
    format!("{BLOBS_PREFIX}{algorithm}/{}/{hex}/data", &hex[..2])
}

/// An image with a 1 MiB layer and a small one.
fn test_image(seed: &str) -> Image {
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i.wrapping_mul(7) ^ (i >> 9)) as u8).collect();
    ImageBuilder::new()
        .label("seed", seed)
        .layer(big)
        .layer(format!("small layer of {seed}").into_bytes())
        .build()
        .unwrap()
}

fn plain(registry: &DockerRegistry) -> RemoteClientBuilder {
    RemoteClient::builder(registry.host()).insecure(true).retry(RetryConfig::none())
}

/// Pushes `image` as `redirect/app:v1`, pulls it back through the redirects and compares every blob.
async fn push_then_pull_through_redirects(client: RemoteClient, image: &Image) {
    let client: Arc<dyn Client> = Arc::new(client);
    let repo = client.with_segment("redirect/app");
    repo.push_image("v1", image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    assert_eq!(got.config_bytes(), image.config_bytes());
    assert_eq!(got.layers().len(), image.layers().len());
    for (theirs, ours) in got.layers().iter().zip(image.layers()) {
        assert_eq!(got.blob_bytes(theirs).await.unwrap(), image.blob_bytes(ours).await.unwrap());
    }
}

/// The storage host served every blob of `image` with GET, so the registry really redirected.
#[track_caller]
fn assert_blobs_fetched_from_storage(storage: &TestServer, image: &Image) {
    let requests = storage.requests();
    let gets: Vec<&str> = requests.iter().filter(|r| r.method == "GET").map(|r| r.path()).collect();
    let mut digests: Vec<String> = image.layers().iter().map(|l| l.digest().to_string()).collect();
    digests.push(image.manifest().config().digest().to_string());
    for digest in digests {
        assert!(gets.contains(&blob_path(&digest).as_str()), "blob {digest} was not read from storage: {gets:?}");
    }
}

/// No request the storage host saw carries `Authorization` or any of `secrets`, anywhere.
#[track_caller]
fn assert_nothing_leaked(storage: &TestServer, secrets: &[String]) {
    let requests = storage.requests();
    assert!(!requests.is_empty(), "the storage host was used");
    for req in &requests {
        assert!(req.header("authorization").is_none(), "{} {} carried Authorization: {req:?}", req.method, req.path());
        let everything = format!("{} {} {:?} {}", req.method, req.path_and_query, req.headers, req.body_text());
        for secret in secrets {
            assert!(
                !everything.contains(secret.as_str()),
                "{} {} carried a secret: {everything}",
                req.method,
                req.path()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_is_not_sent_to_the_storage_host() {
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = storage_server(storage_dir.path());
    let registry = DockerRegistry::builder()
        .auth(AuthMode::htpasswd(&[("alice", "redirect-pw")]))
        .storage_dir(storage_dir.path())
        .redirect_to(format!("{}/", storage.url()))
        .start();
    let image = test_image("basic");
    push_then_pull_through_redirects(plain(&registry).basic_auth("alice", "redirect-pw").build().unwrap(), &image)
        .await;
    assert_blobs_fetched_from_storage(&storage, &image);
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:redirect-pw");
    assert_nothing_leaked(&storage, &["redirect-pw".to_owned(), basic]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_is_not_sent_to_the_storage_host() {
    let tokens =
        TokenIssuer::new("redirect-registry", "redirect-issuer").user("alice", "token-pw", Access::All).start();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = storage_server(storage_dir.path());
    let registry = DockerRegistry::builder()
        .auth(AuthMode::token(&tokens))
        .storage_dir(storage_dir.path())
        .redirect_to(format!("{}/", storage.url()))
        .start();
    let image = test_image("token");
    push_then_pull_through_redirects(plain(&registry).basic_auth("alice", "token-pw").build().unwrap(), &image).await;
    assert_blobs_fetched_from_storage(&storage, &image);
    let issued = tokens.issuer().issued_tokens();
    assert!(!issued.is_empty(), "the registry asked for tokens");
    let mut secrets = issued;
    secrets.push("token-pw".to_owned());
    secrets.push(base64::engine::general_purpose::STANDARD.encode("alice:token-pw"));
    assert_nothing_leaked(&storage, &secrets);

    // A static bearer token is not forwarded either.
    storage.clear_requests();
    let token = tokens.issuer().token_for(Some("alice"), &["repository:redirect/app:pull"]);
    let reader: Arc<dyn Client> = Arc::new(plain(&registry).bearer_token(token.clone()).build().unwrap());
    let got = reader.with_segment("redirect/app").get_image("v1", ImageOptions::default()).await.unwrap();
    let layer = got.blob_bytes(&got.layers()[0]).await.unwrap();
    assert_eq!(layer, image.blob_bytes(&image.layers()[0]).await.unwrap());
    assert_nothing_leaked(&storage, &[token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_registry_redirecting_to_plain_http_is_refused() {
    let pki = TestPki::new();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = storage_server(storage_dir.path());
    let users = AuthMode::htpasswd(&[("alice", "tls-redirect-pw")]);
    // Content goes in through a twin registry on the same storage without the middleware.
    let writer = DockerRegistry::builder().tls(&pki).auth(users.clone()).storage_dir(storage_dir.path()).start();
    let registry = DockerRegistry::builder()
        .tls(&pki)
        .auth(users)
        .storage_dir(storage_dir.path())
        .redirect_to(format!("{}/", storage.url()))
        .start();
    let client = |r: &DockerRegistry| -> Arc<dyn Client> {
        let builder = RemoteClient::builder(r.host()).root_certificate_pem(pki.ca_pem()).retry(RetryConfig::none());
        Arc::new(builder.basic_auth("alice", "tls-redirect-pw").build().unwrap())
    };
    let image = test_image("downgrade");
    client(&writer).with_segment("redirect/app").push_image("v1", &image).await.unwrap();

    let repo = client(&registry).with_segment("redirect/app");
    // The manifest is served by the registry itself.
    assert_eq!(&repo.get_digest("v1").await.unwrap(), image.digest());
    let e = repo.get_image("v1", ImageOptions::default()).await.unwrap_err();
    eprintln!("HTTPS -> HTTP blob redirect: {e}");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("HTTPS down to plain HTTP"), "says it is a downgrade: {e}");
    assert!(shown.contains(&storage.url()), "names where it was sent: {e}");
    assert!(!shown.contains("tls-redirect-pw"), "{e}");
    assert_eq!(storage.request_count(), 0, "the plain-HTTP host got requests: {:?}", storage.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_loop_ends_at_the_first_revisit_with_an_error_naming_it() {
    // The manifest redirects to /hop/a, which redirects to /hop/b, which redirects back to /hop/a.
    let server = TestServer::start(|req| match req.path() {
        "/v2/" => TestResponse::new(200),
        "/hop/a" => TestResponse::new(302).header("Location", "/hop/b?sig=secret"),
        "/hop/b" => TestResponse::new(307).header("Location", "/hop/a"),
        p if p.contains("/manifests/") => TestResponse::new(302).header("Location", "/hop/a"),
        _ => TestResponse::text(404, "no"),
    });
    let client =
        RemoteClient::builder(server.addr().to_string()).insecure(true).build().unwrap().with_segment("loop/app");
    let e = client.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("redirect loop") && shown.contains("/hop/a"), "names the URL visited again: {e}");
    assert!(!shown.contains("secret"), "{e}");
    // The manifest, /hop/a and /hop/b once each: not round the loop until the hop limit, and not retried.
    assert_eq!(server.request_count(), 3, "{:?}", server.requests());

    // A URL that redirects to itself is refused at the first hop.
    let server = TestServer::start(|req| match req.path() {
        "/v2/" => TestResponse::new(200),
        p => TestResponse::new(301).header("Location", p.to_string()),
    });
    let client =
        RemoteClient::builder(server.addr().to_string()).insecure(true).build().unwrap().with_segment("loop/app");
    let e = client.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("redirect loop"), "{e}");
    assert_eq!(server.request_count(), 1, "{:?}", server.requests());
}
