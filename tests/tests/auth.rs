//! Token authentication end to end: the GET token flow for passwords, the OAuth2 refresh-token grant for identity
//! tokens and its GET fallback, token
//! lifetime and refresh, single-flight refresh after a wave of 401s, multi-repository scopes, and hostile realms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures::StreamExt;
use registry_client::core::api::MountOutcome;
use registry_client::core::auth::Credentials;
use registry_client::core::digest::ByteStream;
use registry_client::core::transport::RetryConfig;
use registry_client::core::{Digest, Repository};
use registry_client::{BlobSource, Client, ErrorKind, Image, ImageOptions, RemoteClient};
use registry_tests::conformance::{root, small_image};
use registry_tests::http::{TestResponse, TestServer};
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer, TokenServer};

fn client(registry: &DockerRegistry) -> registry_client::RemoteClientBuilder {
    RemoteClient::builder(registry.host()).insecure(true).retry(RetryConfig::none())
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new("test-registry", "test-issuer").user("alice", "alice-pw-7f3a", Access::All).user(
        "reader",
        "reader-pw-19cc",
        Access::Pull,
    )
}

/// The form fields of a recorded POST.
fn form(req: &registry_tests::http::TestRequest) -> Vec<(String, String)> {
    registry_tests::http::parse_form(&req.body_text())
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

async fn push_and_pull(repo: &Arc<dyn Client>, seed: &str) {
    let image = small_image(seed, 2);
    repo.push_image("v1", &image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    for (i, layer) in got.layers().iter().enumerate() {
        assert_eq!(got.blob_bytes(layer).await.unwrap(), image.blob_bytes(&image.layers()[i]).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_uses_the_get_flow_with_basic_credentials() {
    let tokens = issuer().start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let remote = client(&registry).basic_auth("alice", "alice-pw-7f3a").build().unwrap();
    let repo = root(remote.clone(), "basicget").with_segment("app");
    push_and_pull(&repo, "get-password").await;

    let requests = tokens.requests();
    assert!(!requests.is_empty());
    let basic = format!("Basic {}", STANDARD.encode("alice:alice-pw-7f3a"));
    for req in &requests {
        assert_eq!(req.method, "GET", "a username and password use the distribution GET flow, never an OAuth2 POST");
        assert_eq!(req.header("authorization"), Some(basic.as_str()), "Basic credentials on the GET");
        assert_eq!(req.query_param("service").as_deref(), Some("test-registry"));
        let scopes: Vec<String> = req.query_pairs().into_iter().filter(|(k, _)| k == "scope").map(|(_, v)| v).collect();
        assert!(scopes.iter().any(|s| s.starts_with("repository:basicget/app:")), "{scopes:?}");
    }
    assert!(!remote.capabilities().token_post_refused, "no POST was tried, so none was refused");

    // A wrong password is Unauthorized, and names no secret.
    let wrong =
        root(client(&registry).basic_auth("alice", "wrong-pw-0000").build().unwrap(), "basicget").with_segment("app");
    let e = wrong.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("alice"), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw-0000"));
    // The token URL in the message keeps what was asked for (service, scope), which carries no secret.
    assert!(e.to_string().contains("service=test-registry") && e.to_string().contains("scope=repository"), "{e}");
}

/// A token server that implements only the distribution GET flow: it has no POST endpoint, and the web server in
/// front of it answers a POST with `501` and an HTML page.
#[tokio::test(flavor = "multi_thread")]
async fn a_get_only_token_server_without_a_post_endpoint_works() {
    let tokens = issuer().identity_token("alice", "idt-get-only-4d1e").refuse_post_html(501).start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));

    // Username and password: GET from the start.
    let remote = client(&registry).basic_auth("alice", "alice-pw-7f3a").build().unwrap();
    push_and_pull(&root(remote.clone(), "getonly").with_segment("pw"), "get-only-password").await;
    assert!(tokens.requests().iter().all(|r| r.method == "GET"), "no POST for a username and password");

    // Identity token: the OAuth2 POST once, then GET with the identity token as password, remembered.
    tokens.clear_requests();
    let creds = Credentials::identity_token("<token>", "idt-get-only-4d1e");
    let remote = client(&registry).credentials(creds).build().unwrap();
    push_and_pull(&root(remote.clone(), "getonly").with_segment("idt"), "get-only-identity-token").await;
    assert!(remote.capabilities().token_post_refused, "the refused POST is in the registry's profile");
    let requests = tokens.requests();
    assert_eq!(requests.iter().filter(|r| r.method == "POST").count(), 1, "one POST, then straight to GET");
    let gets: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    assert!(gets.len() >= 2, "{} GETs", gets.len());
    let basic = format!("Basic {}", STANDARD.encode("<token>:idt-get-only-4d1e"));
    assert!(gets.iter().all(|r| r.header("authorization") == Some(basic.as_str())));
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_token_post_without_a_token_falls_back_to_get_and_is_remembered() {
    for status in [400, 404, 405, 500, 503] {
        let tokens = issuer().identity_token("alice", "idt-fallback-77aa").refuse_post(status).start();
        let registry = DockerRegistry::start(AuthMode::token(&tokens));
        let creds = Credentials::identity_token("<token>", "idt-fallback-77aa");
        let remote = client(&registry).credentials(creds).build().unwrap();
        assert!(!remote.capabilities().token_post_refused, "nothing learned before the first answer");
        let repo = root(remote.clone(), "fallback").with_segment("a");
        push_and_pull(&repo, &format!("fallback-{status}")).await;
        assert!(remote.capabilities().token_post_refused, "learned once, in the registry's profile, by every clone");
        let requests = tokens.requests();
        let posts = requests.iter().filter(|r| r.method == "POST").count();
        let gets = requests.iter().filter(|r| r.method == "GET").count();
        assert_eq!(posts, 1, "after one refused POST ({status}) the client goes straight to GET");
        assert!(gets >= 2, "{gets} GETs");
        assert!(requests.iter().filter(|r| r.method == "GET").all(|r| r.header("authorization").is_some()));

        // A wrong identity token is still Unauthorized through the fallback, and names no secret.
        let bad = Credentials::identity_token("<token>", "idt-wrong-0000");
        let wrong = root(client(&registry).credentials(bad).build().unwrap(), "fallback").with_segment("a");
        let e = wrong.get_digest("v1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{status}: {e}");
        assert!(!format!("{e} {e:?}").contains("idt-wrong-0000"));
    }
}

/// A token server answering the OAuth2 POST `answer` and the GET with a token; the registry challenges with it and
/// accepts that token.
fn oauth2_realm(answer: TestResponse) -> (TestServer, TestServer) {
    realm_answering(answer, TestResponse::json(200, &serde_json::json!({"token": "from-get", "expires_in": 300})))
}

/// [`oauth2_realm`] with the GET answered `get` (which should hold the token `from-get`).
fn realm_answering(post: TestResponse, get: TestResponse) -> (TestServer, TestServer) {
    let token_server = TestServer::start(move |req| match req.method.as_str() {
        "POST" => post.clone(),
        _ => get.clone(),
    });
    let realm = format!("{}/token", token_server.url());
    let manifest = small_image("oauth2-realm", 1).raw_manifest().clone();
    let registry = TestServer::start(move |req| {
        if req.header("authorization") != Some("Bearer from-get") {
            return TestResponse::json(401, &serde_json::json!({"errors": [{"code": "UNAUTHORIZED"}]}))
                .header("WWW-Authenticate", format!("Bearer realm=\"{realm}\",service=\"oauth2\""));
        }
        TestResponse::new(200)
            .header("Content-Type", manifest.media_type())
            .header("Docker-Content-Digest", manifest.digest().to_string())
            .body(manifest.bytes().to_vec())
    });
    (token_server, registry)
}

fn identity_client(registry: &TestServer, token: &str) -> (RemoteClient, Arc<dyn Client>) {
    let c = RemoteClient::builder(format!("127.0.0.1:{}", registry.addr().port()))
        .insecure(true)
        .retry(RetryConfig::none())
        .credentials(Credentials::identity_token("<token>", token))
        .build()
        .unwrap();
    (c.clone(), root(c, "app"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_token_post_rejecting_the_credentials_is_final() {
    let rejections = [
        TestResponse::json(400, &serde_json::json!({"error": "invalid_grant", "error_description": "revoked"})),
        TestResponse::json(401, &serde_json::json!({"error": "invalid_client"})),
        TestResponse::json(403, &serde_json::json!({"errors": [{"code": "DENIED"}]})),
    ];
    for answer in rejections {
        let (tokens, registry) = oauth2_realm(answer);
        let (remote, repo) = identity_client(&registry, "idt-rejected-31f0");
        let e = repo.get_digest("v1").await.unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Denied), "{e}");
        assert!(e.to_string().contains("identity token"), "{e}");
        assert!(!format!("{e} {e:?}").contains("idt-rejected-31f0"));
        assert!(tokens.requests().iter().all(|r| r.method == "POST"), "a rejection is not worked around with GET");
        assert!(!remote.capabilities().token_post_refused);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_token_post_answered_with_no_token_falls_back_to_get() {
    let no_tokens = [
        TestResponse::new(200).header("Content-Type", "text/html").body("<html><body>login page</body></html>"),
        TestResponse::json(200, &serde_json::json!({"status": "ok"})),
        TestResponse::new(501).header("Content-Type", "text/html").body("<html>501 Not Implemented</html>"),
        TestResponse::json(400, &serde_json::json!({"error": "unsupported_grant_type"})),
        TestResponse::new(502).body("bad gateway"),
    ];
    for answer in no_tokens {
        let (tokens, registry) = oauth2_realm(answer);
        let (remote, repo) = identity_client(&registry, "idt-fallback-8c2b");
        repo.get_digest("v1").await.unwrap();
        repo.get_digest("v1").await.unwrap();
        assert!(remote.capabilities().token_post_refused);
        let methods: Vec<String> = tokens.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(methods, ["POST", "GET"], "one POST, then GET (the token is cached)");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_token_uses_the_refresh_token_grant() {
    let tokens = issuer().identity_token("alice", "idt-5be0c1d2").start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let creds = Credentials::identity_token("<token>", "idt-5be0c1d2");
    let repo = root(client(&registry).credentials(creds).build().unwrap(), "idt").with_segment("app");
    push_and_pull(&repo, "identity-token").await;
    let requests = tokens.requests();
    assert!(!requests.is_empty());
    for req in &requests {
        assert_eq!(req.method, "POST");
        let fields = form(req);
        assert_eq!(field(&fields, "grant_type").as_deref(), Some("refresh_token"));
        assert_eq!(field(&fields, "refresh_token").as_deref(), Some("idt-5be0c1d2"));
    }

    let bad = Credentials::identity_token("<token>", "idt-revoked-9999");
    let repo = root(client(&registry).credentials(bad).build().unwrap(), "idt").with_segment("app");
    let e = repo.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("identity token"), "{e}");
    assert!(!format!("{e} {e:?} {repo:?}").contains("idt-revoked-9999"));
}

/// Layers that take a while to read, to make a push outlive its tokens.
#[derive(Debug)]
struct SlowBlobs {
    inner: Arc<dyn BlobSource>,
    pause: Duration,
}

#[registry_client::async_trait]
impl BlobSource for SlowBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> registry_client::core::Result<ByteStream> {
        let stream = self.inner.open(digest, size).await?;
        let pause = self.pause;
        Ok(Box::pin(stream.then(move |chunk| async move {
            tokio::time::sleep(pause).await;
            chunk
        })))
    }
}

/// Push a 10-layer image whose layers take 0.7 s each to read, through a registry using `tokens`; returns how
/// many tokens were fetched and how long the push took.
async fn slow_push(tokens: &TokenServer) -> (usize, Duration) {
    let registry = DockerRegistry::start(AuthMode::token(tokens));
    let repo = root(client(&registry).basic_auth("alice", "alice-pw-7f3a").build().unwrap(), "long").with_segment("p");
    let image = small_image("long-push", 10);
    let slow = Arc::new(SlowBlobs { inner: Arc::clone(image.source()), pause: Duration::from_millis(700) });
    let slow_image = Image::from_parts(image.raw_manifest().clone(), image.config_bytes().clone(), slow).unwrap();
    let start = Instant::now();
    repo.push_image("v1", &slow_image).await.unwrap();
    let took = start.elapsed();
    let fetched = tokens.request_count();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    (fetched, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_refreshed_during_a_long_push() {
    let short = issuer().expires_in(Duration::from_secs(2)).start();
    let long = issuer().start();
    let ((short_fetched, took), (long_fetched, _)) = futures::join!(slow_push(&short), slow_push(&long));
    eprintln!("2 s tokens: {short_fetched} fetched in {took:?}; 300 s tokens: {long_fetched}");
    assert!(took > Duration::from_secs(2), "the push should outlive a token ({took:?})");
    assert_eq!(long_fetched, 2, "one token per scope (pull, push), however many blobs start at once");
    assert!(
        short_fetched > long_fetched,
        "2 s tokens are refreshed before they expire during the push: {short_fetched} fetched vs {long_fetched}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mount_scope_gets_pull_and_push_in_one_token() {
    let tokens = issuer().start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let alice = client(&registry).basic_auth("alice", "alice-pw-7f3a").build().unwrap();
    let source = root(alice.clone(), "mnt").with_segment("source");
    let image = small_image("mount-scope", 1);
    source.push_image("v1", &image).await.unwrap();
    tokens.clear_requests();

    let layer = image.layers()[0].digest().to_string();
    let api = alice.api();
    let repo = Repository::parse(&format!("{}/mnt/target", registry.host())).unwrap();
    let from = Repository::parse(&format!("{}/mnt/source", registry.host())).unwrap();
    let digest: Digest = layer.parse().unwrap();
    let outcome = api.mount_blob(&repo, &digest, &from).await.unwrap();
    assert!(matches!(outcome, MountOutcome::Mounted), "the blob was mounted, not an upload started");

    let requests = tokens.requests();
    assert_eq!(requests.len(), 1, "one token for both repositories");
    assert_eq!(requests[0].method, "GET");
    let scopes: HashSet<String> =
        requests[0].query_pairs().into_iter().filter(|(k, _)| k == "scope").map(|(_, v)| v).collect();
    assert!(scopes.contains("repository:mnt/source:pull"), "{scopes:?}");
    assert!(scopes.contains("repository:mnt/target:pull,push"), "{scopes:?}");
    assert!(api.blob_exists(&repo, &digest).await.unwrap().is_some(), "the target repository has the blob");
}

/// A registry that accepts only tokens its token endpoint issued since the last revocation.
struct RevokingRegistry {
    registry: TestServer,
    token_server: TestServer,
    valid: Arc<Mutex<HashSet<String>>>,
}

impl RevokingRegistry {
    fn start() -> RevokingRegistry {
        let valid: Arc<Mutex<HashSet<String>>> = Arc::default();
        let issued = Arc::new(AtomicUsize::new(0));
        let token_valid = Arc::clone(&valid);
        let token_server = TestServer::start(move |_| {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let token = format!("opaque-token-{n}");
            token_valid.lock().unwrap().insert(token.clone());
            TestResponse::json(200, &serde_json::json!({"token": token, "expires_in": 3600}))
        });
        let realm = format!("{}/token", token_server.url());
        let manifest = small_image("revoke", 1).raw_manifest().clone();
        let registry_valid = Arc::clone(&valid);
        let registry = TestServer::start(move |req| {
            let token = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::to_string);
            if !token.is_some_and(|t| registry_valid.lock().unwrap().contains(&t)) {
                return TestResponse::json(401, &serde_json::json!({"errors": [{"code": "UNAUTHORIZED"}]})).header(
                    "WWW-Authenticate",
                    format!("Bearer realm=\"{realm}\",service=\"revoking\",scope=\"repository:app:pull\""),
                );
            }
            TestResponse::new(200)
                .header("Content-Type", manifest.media_type())
                .header("Docker-Content-Digest", manifest.digest().to_string())
                .body(manifest.bytes().to_vec())
        });
        RevokingRegistry { registry, token_server, valid }
    }

    fn client(&self) -> Arc<dyn Client> {
        let c = RemoteClient::builder(format!("127.0.0.1:{}", self.registry.addr().port()))
            .insecure(true)
            .retry(RetryConfig::none())
            .build()
            .unwrap();
        root(c, "app")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wave_of_401s_fetches_one_new_token() {
    let server = RevokingRegistry::start();
    let repo = server.client();
    repo.get_digest("v1").await.unwrap();
    assert_eq!(server.token_server.request_count(), 1);

    // The registry revokes every token (as when one expires early): 16 requests in flight all get a 401.
    server.valid.lock().unwrap().clear();
    let results = futures::future::join_all((0..16).map(|_| repo.get_digest("v1"))).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(server.token_server.request_count(), 2, "one new token for the whole wave, no refresh storm");

    // A token that is refused again right after refreshing is an error, not a loop.
    let revoke = Arc::clone(&server.valid);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = Arc::clone(&stop);
    let revoker = tokio::spawn(async move {
        while !stopper.load(Ordering::SeqCst) {
            revoke.lock().unwrap().clear();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let before = server.token_server.request_count();
    let _ = repo.get_digest("v1").await;
    stop.store(true, Ordering::SeqCst);
    revoker.await.unwrap();
    assert!(server.token_server.request_count() - before <= 1, "at most one refresh per request");
}

/// A registry whose bearer challenge names `realm`; records requests.
fn challenging_registry(realm: String) -> TestServer {
    TestServer::start(move |_| {
        TestResponse::json(401, &serde_json::json!({"errors": [{"code": "UNAUTHORIZED"}]}))
            .header("WWW-Authenticate", format!("Bearer realm=\"{realm}\",service=\"evil\""))
    })
}

fn basic_client(server: &TestServer) -> Arc<dyn Client> {
    let c = RemoteClient::builder(format!("127.0.0.1:{}", server.addr().port()))
        .insecure(true)
        .retry(RetryConfig::none())
        .basic_auth("alice", "hostile-realm-pw")
        .build()
        .unwrap();
    root(c, "app")
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_realms_are_refused_before_any_credential_is_sent() {
    for (realm, why) in [
        ("http://169.254.169.254/latest/meta-data/token", "link-local"),
        ("http://[fd00:ec2::254]/token", "metadata"),
        ("http://0.0.0.0:1/token", "unspecified"),
        ("http://metadata.google.internal/token", "metadata"),
        ("file:///etc/passwd", "not http"),
        ("gopher://127.0.0.1:1/token", "not http"),
    ] {
        let registry = challenging_registry(realm.to_string());
        let e = basic_client(&registry).get_digest("v1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{realm}: {e}");
        assert!(e.to_string().contains(why), "{realm}: {e}");
        assert!(!format!("{e} {e:?}").contains("hostile-realm-pw"));
        assert_eq!(registry.request_count(), 1, "{realm}: no retry with credentials");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_realm_redirect_is_validated_again() {
    // The realm bounces the token request to the metadata address.
    let realm = TestServer::start(|_| {
        TestResponse::new(302).header("Location", "http://169.254.169.254/latest/meta-data/iam/credentials")
    });
    let registry = challenging_registry(format!("{}/token", realm.url()));
    let e = basic_client(&registry).get_digest("v1").await.unwrap_err();
    assert!(e.to_string().contains("169.254.169.254"), "{e}");
    assert!(e.to_string().contains("link-local"), "{e}");
    assert_eq!(realm.request_count(), 1);

    // A 307 keeps the method, the body and the request's credentials: it may not go to another host, even a valid one.
    let other = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| {
        TestResponse::json(200, &serde_json::json!({"token": "stolen"}))
    });
    let location = format!("{}/token", other.url());
    let realm = TestServer::start(move |_| TestResponse::new(307).header("Location", location.clone()));
    let registry = challenging_registry(format!("{}/token", realm.url()));
    let e = basic_client(&registry).get_digest("v1").await.unwrap_err();
    assert!(e.to_string().contains("another host"), "{e}");
    assert_eq!(other.request_count(), 0, "the password body never reached the other host");
}

/// The numbers of a token answer are the server's choice: none of them may panic or refuse the token.
#[tokio::test(flavor = "multi_thread")]
async fn token_lifetimes_past_any_clock_are_clamped() {
    for answer in [
        r#"{"token":"from-get","expires_in":18446744073709551615}"#,
        r#"{"token":"from-get","expires_in":1e300,"issued_at":"9999-12-31T23:59:59Z"}"#,
        r#"{"token":"from-get","expires_in":-1,"issued_at":12}"#,
        r#"{"token":"from-get","expires_in":"99999999999999999999999","issued_at":"0000-01-01T00:00:00+\u00e9\u00e90"}"#,
    ] {
        let get = TestResponse::new(200).header("Content-Type", "application/json").body(answer);
        let (tokens, registry) = realm_answering(TestResponse::new(405), get);
        let c = RemoteClient::builder(format!("127.0.0.1:{}", registry.addr().port()))
            .insecure(true)
            .retry(RetryConfig::none())
            .basic_auth("alice", "pw")
            .build()
            .unwrap();
        let repo = root(c, "app");
        repo.get_digest("v1").await.unwrap_or_else(|e| panic!("{answer}: {e}"));
        repo.get_digest("v1").await.unwrap();
        assert_eq!(tokens.request_count(), 1, "{answer}: the token is cached");
    }
}
