//! Malformed input given by the caller: bad references, segments and builder settings, rejected before any
//! request.

use std::time::Duration;

use registry_client::{ImageBuilder, ImageOptions, ListOptions, RemoteClient};
use registry_core::ErrorKind;
use registry_tests::TestServer;

use crate::support::{assert_error, expect_err, registry_error, repo_client, root_client};

#[tokio::test(flavor = "multi_thread")]
async fn malformed_references_are_rejected_without_a_request() {
    let server = TestServer::start(|req| panic!("no request expected, got {} {}", req.method, req.path_and_query));
    let client = repo_client(server.addr());
    let long_tag = "t".repeat(129);
    let cases: [(&str, &[&str]); 5] = [
        ("@sha256:abc", &["invalid digest", "sha256:abc"]),
        ("a:b", &["invalid tag", "\"a:b\""]),
        ("", &["empty"]),
        (&long_tag, &["129 characters", "maximum is 128"]),
        ("v1@sha256:zz", &["invalid digest", "sha256:zz"]),
    ];
    for (reference, needles) in cases {
        let e = expect_err(client.get_digest(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.get_manifest(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.check_image_exists(reference).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
        let e = expect_err(client.get_image(reference, ImageOptions::default()).await, reference);
        assert_error(&e, ErrorKind::InvalidInput, needles);
    }
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    let e = expect_err(client.push_image(&long_tag, &image).await, "push to a 129-character tag");
    assert_error(&e, ErrorKind::InvalidInput, &["129 characters"]);
    let e = expect_err(client.push_image("a:b", &image).await, "push to tag a:b");
    assert_error(&e, ErrorKind::InvalidInput, &["invalid tag"]);
    assert!(server.requests().is_empty(), "requests were sent: {:?}", server.requests());
}

/// Tags may contain uppercase letters (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` in the distribution spec and in
/// Docker's reference grammar), so `UPPER` is a valid tag and must reach the registry as is; only repository paths
/// must be lowercase.
#[tokio::test(flavor = "multi_thread")]
async fn uppercase_tag_is_valid_but_uppercase_segment_is_not() {
    let server = TestServer::start(|_| registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    let client = repo_client(server.addr());
    let e = expect_err(client.get_digest("UPPER").await, "get_digest(UPPER)");
    assert_error(&e, ErrorKind::NotFound, &["UPPER"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path(), "/v2/repo/manifests/UPPER");

    server.clear_requests();
    let e = expect_err(root_client(server.addr()).with_segment("UPPER").get_digest("v1").await, "segment UPPER");
    assert_error(&e, ErrorKind::InvalidInput, &["\"UPPER\"", "lowercase"]);
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_segments_fail_every_call_without_a_request() {
    let server = TestServer::start(|req| panic!("no request expected, got {} {}", req.method, req.path_and_query));
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    for segment in ["Bad", "a//b", "", "-x", "a/", "/a", "a b"] {
        let named = format!("invalid segment {segment:?}");
        let needles = [named.as_str()];
        // Directly, below a valid segment, and with a valid segment added after the bad one.
        let clients = [
            root_client(server.addr()).with_segment(segment),
            root_client(server.addr()).with_segment("org").with_segment(segment),
            root_client(server.addr()).with_segment(segment).with_segment("ok"),
        ];
        for client in clients {
            let what = format!("segment {segment:?} via {}", client.get_registry());
            assert_error(&expect_err(client.get_digest("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.get_manifest("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.get_image_config("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(&expect_err(client.check_image_exists("v1").await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(
                &expect_err(client.get_image("v1", ImageOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
            assert_error(&expect_err(client.push_image("v1", &image).await, &what), ErrorKind::InvalidInput, &needles);
            assert_error(
                &expect_err(client.list_tags(ListOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
            assert_error(
                &expect_err(client.list_repositories(ListOptions::default()).await, &what),
                ErrorKind::InvalidInput,
                &needles,
            );
        }
    }
    assert!(server.requests().is_empty(), "requests were sent: {:?}", server.requests());
}

#[test]
fn builder_rejects_bad_settings() {
    let build_err = |b: registry_client::RemoteClientBuilder, what: &str| expect_err(b.build(), what);

    let e = build_err(RemoteClient::builder("not a host!"), "host with spaces");
    assert_error(&e, ErrorKind::InvalidInput, &["not a host!", "invalid registry domain"]);

    let e = build_err(RemoteClient::builder("host:99999"), "port out of range");
    assert_error(&e, ErrorKind::InvalidInput, &["99999", "port"]);

    let e = build_err(RemoteClient::builder("host:0"), "port zero");
    assert_error(&e, ErrorKind::InvalidInput, &["port"]);

    let e = build_err(RemoteClient::builder(""), "empty target");
    assert_error(&e, ErrorKind::InvalidInput, &["empty"]);

    let e = build_err(RemoteClient::builder("127.0.0.1:5000/Org/App"), "uppercase path");
    assert_error(&e, ErrorKind::InvalidInput, &["lowercase"]);

    let password = "hunter2-very-secret";
    let e = build_err(
        RemoteClient::builder("127.0.0.1:5000").basic_auth("alice", password).bearer_token("tok-secret-123"),
        "basic and bearer",
    );
    assert_error(&e, ErrorKind::InvalidInput, &["credentials"]);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(password) && !shown.contains("tok-secret-123"), "secret leaked: {shown}");

    let e = build_err(RemoteClient::builder("127.0.0.1:5000").timeout(Duration::ZERO), "zero timeout");
    assert_error(&e, ErrorKind::InvalidInput, &["timeout"]);

    let e = build_err(RemoteClient::builder("127.0.0.1:5000").user_agent("bad\nagent"), "user agent with newline");
    assert_error(&e, ErrorKind::InvalidInput, &["user agent"]);

    // The sane settings build.
    assert!(RemoteClient::builder("127.0.0.1:5000").timeout(Duration::from_secs(1)).build().is_ok());
}
