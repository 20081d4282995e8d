//! No secret in the logs: every `tracing` event (and every `log` record of the HTTP stack) of authenticated pushes
//! and pulls, captured at TRACE level, is searched for the passwords, their Basic encodings, identity tokens and
//! every token the issuer handed out.
//!
//! One test in its own binary: it installs the process-wide subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use registry_client::core::auth::Credentials;
use registry_client::core::transport::RetryConfig;
use registry_client::{Client, ErrorKind, ImageOptions, RemoteClient};
use registry_tests::conformance::{root, small_image};
use registry_tests::logs::Logs;
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer};

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

async fn push_and_pull(repo: &Arc<dyn Client>, seed: &str) {
    let image = small_image(seed, 2);
    repo.push_image("v1", &image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    for layer in got.layers() {
        got.blob_bytes(layer).await.unwrap();
    }
    repo.list_tags(Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_logs() {
    let capture = Logs::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .unwrap();

    let mut secrets: Vec<String> = Vec::new();
    let mut debug_views: Vec<String> = Vec::new();

    // Token auth: password grant, identity token, static bearer token, and a wrong password.
    let tokens = TokenIssuer::new("log-registry", "log-issuer")
        .user("alice", "alice-secret-pw-1", Access::All)
        .identity_token("alice", "identity-secret-2")
        .start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let builder = || RemoteClient::builder(registry.host()).insecure(true).retry(RetryConfig::none());

    let password_client = builder().basic_auth("alice", "alice-secret-pw-1").build().unwrap();
    debug_views.push(format!("{password_client:?}"));
    push_and_pull(&root(password_client, "logs").with_segment("password"), "log-password").await;

    let idt = builder().credentials(Credentials::identity_token("<token>", "identity-secret-2")).build().unwrap();
    debug_views.push(format!("{idt:?}"));
    push_and_pull(&root(idt, "logs").with_segment("identity"), "log-identity").await;

    let minted = tokens.issuer().token_for(Some("alice"), &["repository:logs/bearer:pull,push"]);
    let bearer = builder().bearer_token(minted.clone()).build().unwrap();
    debug_views.push(format!("{bearer:?}"));
    push_and_pull(&root(bearer, "logs").with_segment("bearer"), "log-bearer").await;

    let wrong = builder().basic_auth("alice", "wrong-secret-pw-3").build().unwrap();
    let e = root(wrong, "logs").with_segment("password").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    debug_views.push(format!("{e} {e:?}"));

    secrets.extend(["alice-secret-pw-1", "identity-secret-2", "wrong-secret-pw-3"].map(String::from));
    secrets.push(basic("alice", "alice-secret-pw-1"));
    secrets.push(basic("alice", "wrong-secret-pw-3"));
    secrets.push(basic("<token>", "identity-secret-2"));
    secrets.push(minted);
    let issued = tokens.issuer().issued_tokens();
    assert!(issued.len() >= 3, "the issuer handed out tokens: {}", issued.len());
    secrets.extend(issued);

    // Basic auth against the registry itself.
    let htpasswd = DockerRegistry::start(AuthMode::htpasswd(&[("bob", "bob-secret-pw-4")]));
    let bob =
        RemoteClient::builder(htpasswd.host()).insecure(true).basic_auth("bob", "bob-secret-pw-4").build().unwrap();
    debug_views.push(format!("{bob:?}"));
    push_and_pull(&root(bob, "logs").with_segment("basic"), "log-basic").await;
    secrets.push("bob-secret-pw-4".into());
    secrets.push(basic("bob", "bob-secret-pw-4"));

    let logs = capture.text();
    // The capture works: requests, token fetches and the HTTP stack's own records are there.
    let expected =
        ["registry_request", "token_request", "token acquired", "reqwest::connect", "/v2/logs/password/manifests/v1"];
    for expected in expected {
        assert!(logs.contains(expected), "{expected:?} missing from the captured logs ({} bytes)", logs.len());
    }
    for secret in &secrets {
        // JWTs: their signature part alone would do harm too.
        let parts: Vec<&str> =
            if secret.matches('.').count() == 2 { secret.split('.').collect() } else { vec![secret] };
        let needle = parts.last().copied().unwrap_or(secret);
        assert!(!logs.contains(needle), "a secret reached the logs: {}…", &needle[..needle.len().min(8)]);
        for view in &debug_views {
            assert!(!view.contains(needle), "a secret is in a Debug/Display view: {view}");
        }
    }
    eprintln!("searched {} bytes of TRACE logs for {} secrets", logs.len(), secrets.len());
}
