//! An explicit proxy (`RemoteClientBuilder::proxy`) carries every request: HTTPS registries through `CONNECT`
//! tunnels, plain-HTTP ones as absolute-form requests, with the proxy's credentials from its URL. A proxy that is
//! down or refuses is an error, never a silent direct connection.
//!
//! The environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) and `no_proxy()` are tested in
//! `proxy_env.rs`, a binary of its own, because they need the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use registry_client::core::transport::RetryConfig;
use registry_client::{Client, Error, ErrorKind, ImageOptions, RemoteClient};
use registry_tests::conformance::{self, root, small_image};
use registry_tests::proxy::TestProxy;
use registry_tests::tls::TestPki;
use registry_tests::{AuthMode, DockerRegistry, TestResponse, TestServer};

fn failure<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => {
            eprintln!("{what}: {e}");
            e
        }
    }
}

async fn push_and_pull(client: Arc<dyn Client>, seed: &str) {
    let repo = client.with_segment(seed).with_segment("app");
    let image = small_image(seed, 2);
    repo.push_image("v1", &image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    for (theirs, ours) in got.layers().iter().zip(image.layers()) {
        assert_eq!(got.blob_bytes(theirs).await.unwrap(), image.blob_bytes(ours).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_registry_through_connect_tunnels() {
    let pki = TestPki::new();
    let registry = DockerRegistry::builder().tls(&pki).start();
    let proxy = TestProxy::start();
    let client =
        RemoteClient::builder(registry.host()).root_certificate_pem(pki.ca_pem()).proxy(proxy.url()).build().unwrap();
    conformance::check_push_and_read_back(root(client, "tunnel")).await;
    let requests = proxy.requests();
    assert!(!requests.is_empty(), "the proxy was used");
    for r in &requests {
        assert!(r.is_connect(), "an HTTPS target is reached through CONNECT only: {r:?}");
        assert_eq!(r.target, registry.host(), "{r:?}");
        assert_eq!(r.proxy_authorization, None, "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_registry_through_forwarding() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("alice", "proxied-pw")]));
    let proxy = TestProxy::start();
    let client = RemoteClient::builder(registry.host())
        .insecure(true)
        .basic_auth("alice", "proxied-pw")
        .proxy(proxy.url())
        .build()
        .unwrap();
    push_and_pull(Arc::new(client), "forward").await;
    let requests = proxy.requests();
    let prefix = format!("{}/v2/", registry.url());
    for r in &requests {
        assert!(!r.is_connect(), "{r:?}");
        assert!(r.target.starts_with(&prefix), "absolute-form request for the registry: {r:?}");
    }
    let seen = |method: &str, part: &str| requests.iter().any(|r| r.method == method && r.target.contains(part));
    assert!(seen("PUT", "/manifests/v1"), "the manifest push went through the proxy");
    assert!(seen("POST", "/blobs/uploads/"), "the blob uploads went through the proxy");
    assert!(seen("GET", "/blobs/sha256:"), "the blob reads went through the proxy");
    assert_eq!(proxy.authorities(), vec![registry.host()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_credentials_from_the_url() {
    let pki = TestPki::new();
    let tls = DockerRegistry::builder().tls(&pki).start();
    let http = DockerRegistry::start(AuthMode::Anonymous);
    let proxy = TestProxy::start_with_basic_auth("proxy-user", "proxy-pw");
    let with_credentials = proxy.url_with_credentials("proxy-user", "proxy-pw");
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("proxy-user:proxy-pw"));

    let through_tunnel =
        RemoteClient::builder(tls.host()).root_certificate_pem(pki.ca_pem()).proxy(with_credentials.as_str());
    push_and_pull(Arc::new(through_tunnel.build().unwrap()), "tunnel-auth").await;
    let forwarded = RemoteClient::builder(http.host()).insecure(true).proxy(with_credentials.as_str());
    push_and_pull(Arc::new(forwarded.build().unwrap()), "forward-auth").await;

    let requests = proxy.requests();
    assert!(requests.iter().any(|r| r.is_connect()) && requests.iter().any(|r| !r.is_connect()));
    for r in &requests {
        assert_eq!(r.proxy_authorization.as_deref(), Some(expected.as_str()), "{r:?}");
    }

    // Without (or with wrong) credentials the proxy answers 407: an error that names neither password.
    for url in [proxy.url(), proxy.url_with_credentials("proxy-user", "wrong-proxy-pw")] {
        let c = RemoteClient::builder(tls.host()).root_certificate_pem(pki.ca_pem()).proxy(url.as_str());
        let c = root(c.retry(RetryConfig::none()).build().unwrap(), "x").with_segment("app");
        let e = failure(c.get_digest("v1").await, "HTTPS through a proxy refusing the credentials");
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        assert!(e.to_string().contains("proxy requires authentication"), "{e}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("proxy-pw"), "{shown}");
        let c = RemoteClient::builder(http.host()).insecure(true).proxy(url.as_str());
        let c = root(c.retry(RetryConfig::none()).build().unwrap(), "x").with_segment("app");
        let e = failure(c.get_digest("v1").await, "HTTP through a proxy refusing the credentials");
        assert_eq!(e.status(), Some(407), "{e}");
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        assert!(e.to_string().contains("proxy requires authentication"), "{e}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("proxy-pw"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_proxy_fails_and_never_goes_direct() {
    let registry = TestServer::start(|_| TestResponse::new(404));
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let proxy_url = format!("http://proxy-user:dead-proxy-pw@127.0.0.1:{dead_port}");
    let c = RemoteClient::builder(registry.addr().to_string())
        .insecure(true)
        .proxy(proxy_url.as_str())
        .retry(RetryConfig::default().max_retries(1).initial_backoff(std::time::Duration::from_millis(5)))
        .build()
        .unwrap();
    let c = root(c, "x").with_segment("app");
    let e = failure(c.get_digest("v1").await, "proxy down");
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("dead-proxy-pw"), "no proxy password in the error: {shown}");
    assert_eq!(registry.request_count(), 0, "the registry was reached directly");
}

#[test]
fn invalid_proxy_url_is_a_build_error() {
    for url in ["not a url", "http://user:hidden-pw@[::1"] {
        let e = failure(RemoteClient::builder("127.0.0.1:1").proxy(url).build(), url);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
        assert!(e.to_string().contains("proxy"), "{url}: {e}");
        assert!(!format!("{e} {e:?}").contains("hidden-pw"), "{url}: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_proxy_scheme_is_a_build_error() {
    // An `ftp://` proxy is not a proxy this client can use, and `socks5://` needs a feature it is built without:
    // `build()` must say so, never build a client that goes direct (ftp) or fails on every request (socks5).
    let registry = TestServer::start(|_| TestResponse::new(404));
    for url in ["ftp://user:hidden-pw@127.0.0.1:9", "socks5://127.0.0.1:9"] {
        let built = RemoteClient::builder(registry.addr().to_string())
            .insecure(true)
            .proxy(url)
            .retry(RetryConfig::none())
            .build();
        match built {
            Err(e) => {
                eprintln!("{url}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
                assert!(e.to_string().contains("proxy"), "{url}: {e}");
                assert!(!format!("{e} {e:?}").contains("hidden-pw"), "{url}: {e:?}");
            }
            Ok(client) => {
                let outcome = root(client, "x").with_segment("app").get_digest("v1").await;
                let direct = registry.request_count();
                panic!(
                    "proxy {url} was accepted by build(); a request then gave {outcome:?} and {direct} request(s) \
                     reached the registry directly"
                );
            }
        }
    }
}
