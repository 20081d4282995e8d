//! TLS options against the real docker-registry serving HTTPS with a test CA: custom roots, skip-verify, no
//! plain-HTTP fallback either way, mutual TLS, and invalid PEM refused by `build()` without echoing key material.
//!
//! Error messages are printed (`--nocapture` shows them) so their wording can be reviewed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use registry_client::core::transport::RetryConfig;
use registry_client::{Client, Error, ErrorKind, ImageOptions, RemoteClient, RemoteClientBuilder};
use registry_tests::conformance::{self, root, small_image};
use registry_tests::tls::{SelfSigned, TestPki};
use registry_tests::{AuthMode, DockerRegistry};

/// A client of `registry` over HTTPS (the default), without retries so each failure is one attempt.
fn https(registry: &DockerRegistry) -> RemoteClientBuilder {
    RemoteClient::builder(registry.host()).retry(RetryConfig::none())
}

fn tls_registry(pki: &TestPki) -> DockerRegistry {
    let registry = DockerRegistry::builder().tls(pki).start();
    assert!(registry.url().starts_with("https://127.0.0.1:"), "{}", registry.url());
    registry
}

fn mtls_registry(pki: &TestPki) -> DockerRegistry {
    DockerRegistry::builder().tls(pki).client_ca(pki.client_ca_pem()).start()
}

/// The error of a call that must fail, printed for review.
fn failure<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => {
            eprintln!("{what}: {e}");
            e
        }
    }
}

/// Pushes a one-layer image and reads it back, layer bytes compared.
async fn push_and_pull(client: RemoteClient, repo: &str) {
    let client: Arc<dyn Client> = Arc::new(client);
    let repo = client.with_segment(repo);
    let image = small_image(repo.get_registry().as_str(), 1);
    repo.push_image("v1", &image).await.unwrap();
    let got = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    let want = image.blob_bytes(&image.layers()[0]).await.unwrap();
    assert_eq!(got.blob_bytes(&got.layers()[0]).await.unwrap(), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_custom_root_passes_conformance() {
    let pki = TestPki::new();
    let registry = DockerRegistry::builder().tls(&pki).auth(AuthMode::htpasswd(&[("alice", "tls-pw")])).start();
    assert!(registry.is_tls());
    let client = https(&registry).root_certificate_pem(pki.ca_pem()).basic_auth("alice", "tls-pw").build().unwrap();
    conformance::run_all(root(client, "tls")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_custom_root_push_and_read_back() {
    let pki = TestPki::new();
    let registry = tls_registry(&pki);
    let client = https(&registry).root_certificate_pem(pki.ca_pem()).build().unwrap();
    conformance::check_push_and_read_back(root(client, "readback")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_certificate_fails_clearly() {
    let pki = TestPki::new();
    let registry = tls_registry(&pki);

    // No extra root: the system and webpki roots do not know the test CA.
    let plain = root(https(&registry).build().unwrap(), "x").with_segment("app");
    let e = failure(plain.get_digest("v1").await, "no custom root");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let shown = e.to_string().to_lowercase();
    assert!(shown.contains("certificate"), "the message names the certificate problem: {e}");
    assert!(shown.contains(&registry.host()), "the message names the registry: {e}");

    // Another CA is no better.
    let other = TestPki::new();
    let wrong = root(https(&registry).root_certificate_pem(other.ca_pem()).build().unwrap(), "x").with_segment("app");
    let e = failure(wrong.get_digest("v1").await, "another CA as root");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    // With the default retry policy: the same failure after one attempt (trying again cannot help).
    let retrying = root(RemoteClient::builder(registry.host()).build().unwrap(), "x").with_segment("app");
    let e = failure(retrying.get_digest("v1").await, "no custom root, default retries");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(e.attempts(), 1, "a certificate failure is not retried: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_for_another_name_fails() {
    let pki = TestPki::new();
    // Served on 127.0.0.2 with a certificate for 127.0.0.1 and localhost only.
    let registry = DockerRegistry::builder().tls(&pki).listen_ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).start();
    assert!(registry.host().starts_with("127.0.0.2:"));
    let c = root(https(&registry).root_certificate_pem(pki.ca_pem()).build().unwrap(), "x").with_segment("app");
    let e = failure(c.get_digest("v1").await, "certificate for another name");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("not valid for name \"127.0.0.2\""), "names the host it was not valid for: {e}");

    // A certificate for the right name from the same CA works.
    let (cert, key) = pki.server_certificate_for(&["127.0.0.2"]);
    let right = DockerRegistry::builder().tls_pem(cert, key).listen_ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).start();
    push_and_pull(https(&right).root_certificate_pem(pki.ca_pem()).build().unwrap(), "named").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_skip_verify_accepts_an_unknown_certificate() {
    let pki = TestPki::new();
    let registry = tls_registry(&pki);
    push_and_pull(https(&registry).tls_skip_verify(true).build().unwrap(), "skip").await;
    // Still TLS: the same client settings against a plain-HTTP registry fail.
    let plain = DockerRegistry::start(AuthMode::Anonymous);
    let c = root(https(&plain).tls_skip_verify(true).build().unwrap(), "x").with_segment("app");
    let e = failure(c.get_digest("v1").await, "skip-verify client against plain HTTP");
    assert!(matches!(e.kind(), ErrorKind::Io | ErrorKind::Protocol | ErrorKind::Tls), "{e}");
    assert!(e.to_string().contains(&format!("https://{}", plain.host())), "names the HTTPS URL: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_client_against_tls_registry_fails_without_switching_to_https() {
    let pki = TestPki::new();
    let registry = tls_registry(&pki);
    // The client trusts the CA, so a silent switch to HTTPS would succeed: failing proves it stays on plain HTTP.
    let c = RemoteClient::builder(registry.host()).insecure(true).root_certificate_pem(pki.ca_pem()).build().unwrap();
    let c: Arc<dyn Client> = Arc::new(c);
    let repo = c.with_segment("x/app");
    // A GET: Go answers plain HTTP on a TLS port with `400 Client sent an HTTP request to an HTTPS server`.
    let e = failure(repo.get_manifest("v1").await, "plain HTTP to a TLS registry (GET)");
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("HTTPS"), "says the registry speaks HTTPS: {e}");
    assert!(e.to_string().contains(&format!("http://{}", registry.host())), "names the plain-HTTP URL: {e}");
    // A HEAD gets the same status without the explanatory body.
    let e = failure(repo.get_digest("v1").await, "plain HTTP to a TLS registry (HEAD)");
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains(&format!("http://{}", registry.host())), "names the plain-HTTP URL: {e}");
    let e = failure(repo.push_image("v1", &small_image("insecure", 1)).await, "push over plain HTTP to TLS");
    assert_eq!(e.status(), Some(400), "{e}");
    // Nothing was stored, as the HTTPS client sees.
    let checker = root(https(&registry).root_certificate_pem(pki.ca_pem()).build().unwrap(), "x").with_segment("app");
    assert_eq!(checker.check_image_exists("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
}

/// Asserts that a request refused for its client certificate fails as it should.
///
/// Under TLS 1.3 the client finishes its side of the handshake before the server checks the client certificate,
/// so the refusal arrives while the request is under way: as the server's `bad_certificate` alert (`Tls`, with a
/// hint) when the client reads it in time, or as a closed connection (`Io`: "connection closed", "channel closed",
/// "connection was not ready") when the server's reset wins.
#[track_caller]
fn assert_client_certificate_refused(e: &Error) {
    match e.kind() {
        ErrorKind::Tls => assert!(e.to_string().contains("client_identity_pem"), "says what to configure: {e}"),
        ErrorKind::Io => assert!(e.to_string().contains("https://127.0.0.1:"), "names the URL: {e}"),
        other => panic!("a refused client certificate is a {other} error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_without_identity_fails() {
    let pki = TestPki::new();
    let registry = mtls_registry(&pki);
    for i in 0..3 {
        let c = root(https(&registry).root_certificate_pem(pki.ca_pem()).build().unwrap(), "x").with_segment("app");
        let e = failure(c.get_digest("v1").await, &format!("mTLS without a client certificate #{i}"));
        assert_client_certificate_refused(&e);
        let e = failure(c.list_tags(Default::default()).await, &format!("mTLS without a client certificate #{i}"));
        assert_client_certificate_refused(&e);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_with_the_right_identity_works() {
    let pki = TestPki::new();
    let registry = mtls_registry(&pki);
    let client =
        https(&registry).root_certificate_pem(pki.ca_pem()).client_identity_pem(pki.client_identity("alice")).build();
    conformance::check_push_and_read_back(root(client.unwrap(), "mtls")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_with_an_identity_from_another_ca_fails() {
    let pki = TestPki::new();
    let registry = mtls_registry(&pki);
    let other = TestPki::new();
    for i in 0..3 {
        let c =
            https(&registry).root_certificate_pem(pki.ca_pem()).client_identity_pem(other.client_identity("mallory"));
        let c = root(c.build().unwrap(), "x").with_segment("app");
        let e = failure(c.get_digest("v1").await, &format!("mTLS with a certificate from another CA #{i}"));
        assert_client_certificate_refused(&e);
        let e = failure(c.push_image("v1", &small_image("mallory", 1)).await, &format!("mTLS push, foreign cert #{i}"));
        assert_client_certificate_refused(&e);
    }
    // Nothing was pushed.
    let alice = https(&registry).root_certificate_pem(pki.ca_pem()).client_identity_pem(pki.client_identity("alice"));
    let alice = root(alice.build().unwrap(), "x").with_segment("app");
    assert_eq!(alice.check_image_exists("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
}

/// The base64 lines of every PEM block in `pem`.
fn pem_body_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).collect()
}

#[track_caller]
fn assert_no_material(e: &Error, pem: &str) {
    let shown = format!("{e} {e:?}");
    for line in pem_body_lines(pem) {
        assert!(!shown.contains(line) && !shown.contains(&line[..16]), "key material in the error: {shown}");
    }
    assert!(!shown.contains("-----BEGIN"), "PEM in the error: {shown}");
}

#[test]
fn invalid_root_certificate_is_a_build_error() {
    let e = failure(RemoteClient::builder("127.0.0.1:1").root_certificate_pem("not a certificate").build(), "text");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("root certificate"), "{e}");

    // A private key passed where a certificate belongs.
    let pki = TestPki::new();
    let key = pki.server_key_pem();
    let e = failure(RemoteClient::builder("127.0.0.1:1").root_certificate_pem(key).build(), "a key as root");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_no_material(&e, key);

    // A CERTIFICATE block whose content is not a certificate (here: the key's bytes).
    let fake = key.replace("PRIVATE KEY", "CERTIFICATE");
    let e = failure(RemoteClient::builder("127.0.0.1:1").root_certificate_pem(fake.clone()).build(), "garbage DER");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_no_material(&e, &fake);
}

#[test]
fn invalid_client_identity_is_a_build_error_without_key_material() {
    let pki = TestPki::new();
    let identity = pki.client_identity("alice");
    let key_start = identity.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let (cert, key) = identity.split_at(key_start);

    let cases: Vec<(&str, String)> = vec![
        ("certificate without key", cert.to_owned()),
        ("key without certificate", key.to_owned()),
        ("not PEM", "hello".to_owned()),
        // The key block with its content damaged.
        ("damaged key", format!("{cert}{}", key.replacen("M", "!", 3))),
        // An EC key under a label that says RSA: parses as PEM, fails when the TLS configuration is made.
        ("mislabelled key", format!("{cert}{}", key.replace("PRIVATE KEY", "RSA PRIVATE KEY"))),
    ];
    for (what, pem) in cases {
        let e = failure(RemoteClient::builder("127.0.0.1:1").client_identity_pem(pem.clone()).build(), what);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert_no_material(&e, key);
        assert_no_material(&e, &pem);
    }
    let e = RemoteClient::builder("127.0.0.1:1").client_identity_pem(key.to_owned()).build().unwrap_err();
    assert!(e.to_string().contains("client identity"), "names the setting: {e}");
    // The valid identity builds.
    RemoteClient::builder("127.0.0.1:1").client_identity_pem(identity).build().unwrap();
}

/// A registry on `ip` serving the self-signed certificate `served`.
fn self_signed_registry(served: &SelfSigned, ip: Ipv4Addr) -> DockerRegistry {
    DockerRegistry::builder().tls_pem(served.cert_pem.clone(), served.key_pem.clone()).listen_ip(IpAddr::V4(ip)).start()
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_ca_certificate_trusted_explicitly_is_the_servers_own() {
    // As `openssl req -x509 ... -addext subjectAltName=IP:127.0.0.1` makes it: CA:TRUE.
    let served = SelfSigned::new(&["127.0.0.1"]);
    let registry = self_signed_registry(&served, Ipv4Addr::LOCALHOST);
    push_and_pull(https(&registry).root_certificate_pem(served.cert_pem.clone()).build().unwrap(), "pinned").await;
    // Next to other roots in the same PEM bundle, and with the default retry policy, too.
    let other = TestPki::new();
    let bundle = format!("{}{}", other.ca_pem(), served.cert_pem);
    let c = RemoteClient::builder(registry.host()).root_certificate_pem(bundle).build().unwrap();
    push_and_pull(c, "bundle").await;

    // Not trusted: refused, and the message says what to do.
    let c = root(https(&registry).build().unwrap(), "x").with_segment("app");
    let e = failure(c.get_digest("v1").await, "self-signed CA certificate, not trusted");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("root_certificate_pem"), "names the fix: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_self_signed_certificate_is_still_refused() {
    let served = SelfSigned::new(&["127.0.0.1"]);
    let registry = self_signed_registry(&served, Ipv4Addr::LOCALHOST);
    // Same names, same shape, another key: not the certificate the user trusted.
    let other = SelfSigned::new(&["127.0.0.1"]);
    let c = https(&registry).root_certificate_pem(other.cert_pem.clone()).build().unwrap();
    let e = failure(root(c, "x").with_segment("app").get_digest("v1").await, "another self-signed certificate");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.to_string().contains("exactly one of the certificates given to root_certificate_pem, and it is not"),
        "{e}"
    );
    // A CA that signs certificates is not the server's certificate either.
    let pki = TestPki::new();
    let c = https(&registry).root_certificate_pem(pki.ca_pem()).build().unwrap();
    let e = failure(root(c, "x").with_segment("app").get_digest("v1").await, "a CA, not the served certificate");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_certificate_for_another_name_is_still_refused() {
    // Trusted, but for 127.0.0.1 while the registry is reached at 127.0.0.2.
    let served = SelfSigned::new(&["127.0.0.1"]);
    let registry = self_signed_registry(&served, Ipv4Addr::new(127, 0, 0, 2));
    let c = https(&registry).root_certificate_pem(served.cert_pem.clone()).build().unwrap();
    let e = failure(root(c, "x").with_segment("app").get_digest("v1").await, "self-signed for another name");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("not valid for name \"127.0.0.2\""), "names the host: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_self_signed_certificate_is_still_refused() {
    let served = SelfSigned::expired(&["127.0.0.1"]);
    let registry = self_signed_registry(&served, Ipv4Addr::LOCALHOST);
    let c = https(&registry).root_certificate_pem(served.cert_pem.clone()).build().unwrap();
    let e = failure(root(c, "x").with_segment("app").get_digest("v1").await, "expired self-signed certificate");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("expired"), "says it expired: {e}");
    assert!(e.to_string().contains("has expired or is not yet valid"), "with the hint: {e}");
}
