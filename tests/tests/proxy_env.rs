//! The proxy environment: `HTTPS_PROXY` / `HTTP_PROXY` are honoured by default, `NO_PROXY` excludes hosts (for
//! the environment proxy and for an explicit one), and `no_proxy()` ignores the environment.
//!
//! The environment is process-wide and may be read once per process (reqwest versions differ), so this binary
//! holds one plain `#[test]`: it sets the variables before any thread of its own runs and before any client is
//! built, then runs every case in order on a runtime it makes itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use registry_client::{Client, ImageOptions, RemoteClient};
use registry_tests::conformance::small_image;
use registry_tests::proxy::TestProxy;
use registry_tests::tls::TestPki;
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer};

/// The address `NO_PROXY` names; registries there must be reached directly.
const EXCLUDED_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

async fn push_and_pull(client: RemoteClient, seed: &str) {
    let client: Arc<dyn Client> = Arc::new(client);
    let repo = client.with_segment(seed).with_segment("app");
    let image = small_image(seed, 1);
    repo.push_image("v1", &image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    assert_eq!(got.blob_bytes(&got.layers()[0]).await.unwrap(), image.blob_bytes(&image.layers()[0]).await.unwrap());
}

#[test]
fn proxy_environment_is_honoured() {
    // Bound before the environment changes, so its URL can go into it; its thread never reads the environment.
    let env_proxy = TestProxy::start();
    for name in ["https_proxy", "http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "REQUEST_METHOD"] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTPS_PROXY", env_proxy.url());
    std::env::set_var("HTTP_PROXY", env_proxy.url());
    std::env::set_var("NO_PROXY", EXCLUDED_IP.to_string());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(cases(&env_proxy));
}

async fn cases(env_proxy: &TestProxy) {
    // HTTPS_PROXY: an HTTPS registry is reached through a CONNECT tunnel.
    let pki = TestPki::new();
    let tls = DockerRegistry::builder().tls(&pki).start();
    push_and_pull(RemoteClient::builder(tls.host()).root_certificate_pem(pki.ca_pem()).build().unwrap(), "env-tls")
        .await;
    let requests = env_proxy.requests();
    assert!(!requests.is_empty(), "HTTPS_PROXY was not used");
    assert!(requests.iter().all(|r| r.is_connect() && r.target == tls.host()), "{requests:?}");

    // HTTP_PROXY: a plain-HTTP registry with token auth; registry and token requests are forwarded.
    env_proxy.clear_requests();
    let tokens = TokenIssuer::new("env-registry", "env-issuer").user("alice", "env-pw", Access::All).start();
    let http = DockerRegistry::start(AuthMode::token(&tokens));
    let client = RemoteClient::builder(http.host()).insecure(true).basic_auth("alice", "env-pw").build().unwrap();
    push_and_pull(client, "env-http").await;
    let requests = env_proxy.requests();
    let registry_prefix = format!("{}/v2/", http.url());
    assert!(requests.iter().any(|r| r.target.starts_with(&registry_prefix)), "HTTP_PROXY was not used: {requests:?}");
    assert!(requests.iter().any(|r| r.target.starts_with(&tokens.url())), "token requests bypassed it: {requests:?}");
    assert!(requests.iter().all(|r| !r.is_connect()), "{requests:?}");

    // no_proxy(): the environment is ignored.
    env_proxy.clear_requests();
    let client = RemoteClient::builder(http.host()).insecure(true).basic_auth("alice", "env-pw").no_proxy();
    push_and_pull(client.build().unwrap(), "env-none").await;
    assert_eq!(env_proxy.requests(), vec![], "no_proxy() still used the environment's proxy");
    let client = RemoteClient::builder(tls.host()).root_certificate_pem(pki.ca_pem()).no_proxy();
    push_and_pull(client.build().unwrap(), "env-none-tls").await;
    assert_eq!(env_proxy.requests(), vec![], "no_proxy() still used the environment's proxy");

    // NO_PROXY: a registry on the excluded address is reached directly, over HTTP and HTTPS.
    let excluded = DockerRegistry::builder().listen_ip(IpAddr::V4(EXCLUDED_IP)).start();
    push_and_pull(RemoteClient::builder(excluded.host()).insecure(true).build().unwrap(), "env-excluded").await;
    let (cert, key) = pki.server_certificate_for(&[EXCLUDED_IP.to_string().as_str()]);
    let excluded_tls = DockerRegistry::builder().tls_pem(cert, key).listen_ip(IpAddr::V4(EXCLUDED_IP)).start();
    let client = RemoteClient::builder(excluded_tls.host()).root_certificate_pem(pki.ca_pem()).build().unwrap();
    push_and_pull(client, "env-excluded-tls").await;
    assert_eq!(env_proxy.requests(), vec![], "NO_PROXY was not honoured");

    // NO_PROXY applies to an explicit proxy too; other hosts go through the explicit proxy, not the environment's.
    let explicit = TestProxy::start();
    let client = RemoteClient::builder(excluded.host()).insecure(true).proxy(explicit.url()).build().unwrap();
    push_and_pull(client, "explicit-excluded").await;
    assert_eq!(explicit.requests(), vec![], "NO_PROXY was not honoured for the explicit proxy");
    let client = RemoteClient::builder(tls.host()).root_certificate_pem(pki.ca_pem()).proxy(explicit.url());
    push_and_pull(client.build().unwrap(), "explicit-included").await;
    assert_eq!(explicit.authorities(), vec![tls.host()]);
    assert_eq!(env_proxy.requests(), vec![], "the explicit proxy did not replace the environment's");
}
