//! Registries that send manifests that are oversized, endless, garbage, of schema 1, mislabelled, or whose content
//! contradicts the digest asked for or announced (also as an index's child).

use std::time::{Duration, Instant};

use registry_client::{ImageOptions, Platform};
use registry_core::manifest::media_type;
use registry_core::{Digest, Error, ErrorKind};
use registry_tests::TestResponse;
use serde_json::json;

use crate::support::{
    assert_error, expect_err, manifest_answer, manifest_response, repo_client, Fixture, RawServer, Routes, HTML_PAGE,
    MIB,
};

/// The start of a JSON manifest padded to `len` bytes.
fn padded_manifest(len: usize) -> Vec<u8> {
    let mut body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":""#.to_vec();
    body.resize(len - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

#[track_caller]
fn assert_over_manifest_limit(e: &Error) {
    let shown = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{shown}");
    assert!(shown.contains("manifest"), "{shown}");
    assert!(shown.contains("4 MiB") || shown.contains("4194304"), "does not name the 4 MiB limit: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifest_with_content_length_is_refused() {
    let body = padded_manifest(6 * MIB);
    let server = Routes::default()
        .with(
            "/v2/repo/manifests/v1",
            TestResponse::new(200).header("Content-Type", media_type::OCI_MANIFEST).body(body),
        )
        .serve();
    let client = repo_client(server.addr());
    let started = Instant::now();
    let e = expect_err(client.get_manifest("v1").await, "6 MiB manifest");
    assert_over_manifest_limit(&e);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "6 MiB manifest");
    assert_over_manifest_limit(&e);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Refusing is not a temporary failure: no retries.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifest_without_content_length_is_refused() {
    let server = RawServer::start(|_, _, conn| {
        conn.chunked(200, media_type::OCI_MANIFEST, &padded_manifest(1024)[..1000], 6 * MIB)
    });
    let client = repo_client(server.addr);
    let e = expect_err(client.get_manifest("v1").await, "6 MiB chunked manifest");
    assert_over_manifest_limit(&e);
    assert_eq!(server.requests(), vec!["GET /v2/repo/manifests/v1".to_string()]);
}

/// An endless manifest (256 MiB, chunked or announced): the client stops reading right after 4 MiB. What the
/// server managed to write is what the client read plus the socket buffers, far below the whole body.
#[tokio::test(flavor = "multi_thread")]
async fn endless_manifest_is_not_read_past_the_limit() {
    const TOTAL: usize = 256 * MIB;
    for chunked in [true, false] {
        let server = RawServer::start(move |_, _, conn| {
            let head = padded_manifest(1024);
            if chunked {
                conn.chunked(200, media_type::OCI_MANIFEST, &head[..1000], TOTAL)
            } else {
                conn.head(
                    200,
                    &[("Content-Type", media_type::OCI_MANIFEST.to_string()), ("Content-Length", TOTAL.to_string())],
                )?;
                conn.write(&head[..1000])?;
                let filler = vec![b'x'; 64 * 1024];
                let mut sent = 1000;
                while sent < TOTAL {
                    let n = filler.len().min(TOTAL - sent);
                    conn.write(&filler[..n])?;
                    sent += n;
                }
                Ok(())
            }
        });
        let client = repo_client(server.addr);
        let started = Instant::now();
        let e = expect_err(client.get_manifest("v1").await, "endless manifest");
        assert_over_manifest_limit(&e);
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        // Give the server a moment to notice the closed connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let written = server.written();
        assert!(written < 64 * MIB, "chunked={chunked}: the server wrote {written} bytes of a 256 MiB manifest");
    }
}

/// Every other manifest error says which manifest (`manifest 127.0.0.1:port/repo:v1: ...`); these two do not.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_or_mislabelled_manifest_error_names_the_reference() {
    let fx = Fixture::new(b"layer".to_vec());
    let oversized =
        TestResponse::new(200).header("Content-Type", media_type::OCI_MANIFEST).body(padded_manifest(5 * MIB));
    let bad_header = TestResponse::new(200)
        .header("Content-Type", media_type::OCI_MANIFEST)
        .header("Docker-Content-Digest", "sha256:nothex")
        .body(fx.manifest.clone());
    for response in [bad_header, oversized] {
        let server = Routes::default().with("/v2/repo/manifests/v1", response.clone()).serve();
        let e = expect_err(repo_client(server.addr()).get_manifest("v1").await, "context");
        assert!(e.to_string().contains("repo:v1"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_by_digest_with_other_content_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"another layer".to_vec());
    // The registry answers another (valid) manifest for the digest, once honestly and once claiming the digest.
    let path = format!("/v2/repo/manifests/{}", fx.manifest_digest);
    for claimed in [other.manifest_digest.to_string(), fx.manifest_digest.to_string()] {
        let server =
            fx.routes().with(&path, manifest_answer(media_type::OCI_MANIFEST, &claimed, &other.manifest)).serve();
        let client = repo_client(server.addr());
        let reference = format!("@{}", fx.manifest_digest);
        let e = expect_err(client.get_manifest(&reference).await, "manifest by digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str(), other.manifest_digest.as_str()]);
        let e = expect_err(client.get_image(&reference, ImageOptions::default()).await, "image by digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);
        let e = expect_err(client.get_manifest(&format!("v1{reference}")).await, "manifest by tag@digest");
        assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_whose_docker_content_digest_contradicts_the_body_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"another layer".to_vec());
    let server = fx
        .routes()
        .with(
            "/v2/repo/manifests/v1",
            manifest_answer(media_type::OCI_MANIFEST, other.manifest_digest.as_str(), &fx.manifest),
        )
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "lying Docker-Content-Digest");
    assert_error(&e, ErrorKind::DigestMismatch, &[other.manifest_digest.as_str(), fx.manifest_digest.as_str()]);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "lying Docker-Content-Digest");
    assert_error(&e, ErrorKind::DigestMismatch, &[other.manifest_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_docker_content_digest_is_a_protocol_error() {
    let fx = Fixture::new(b"layer".to_vec());
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", manifest_answer(media_type::OCI_MANIFEST, "sha256:not-hex", &fx.manifest))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "malformed Docker-Content-Digest");
    assert_error(&e, ErrorKind::Protocol, &["Docker-Content-Digest", "sha256:not-hex"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_instead_of_a_manifest_is_a_protocol_error() {
    let server = Routes::default()
        .with("/v2/repo/manifests/v1", TestResponse::new(200).header("Content-Type", "text/html").body(HTML_PAGE))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_manifest("v1").await, "HTML manifest");
    assert_error(&e, ErrorKind::Protocol, &["HTML"]);
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "HTML manifest");
    assert_error(&e, ErrorKind::Protocol, &["HTML"]);
    // Not retried.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_manifest_is_a_protocol_error() {
    let bodies: [(&str, &str, &str); 5] = [
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": 2, "config": "#, "not valid JSON"),
        ("application/json", "this is not json", "not valid JSON"),
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": 2, "config": 5, "layers": "no"}"#, "invalid"),
        (media_type::OCI_MANIFEST, r#"{"schemaVersion": "two"}"#, "schemaVersion"),
        (media_type::OCI_MANIFEST, "[1, 2, 3]", "not valid JSON"),
    ];
    for (content_type, body, needle) in bodies {
        let server = Routes::default()
            .with("/v2/repo/manifests/v1", TestResponse::new(200).header("Content-Type", content_type).body(body))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, body);
        assert_error(&e, ErrorKind::Protocol, &[needle]);
        assert_eq!(server.requests().len(), 1, "{body}: garbage must not be retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schema1_manifest_is_unsupported() {
    let schema1 = json!({
        "schemaVersion": 1,
        "name": "repo",
        "tag": "v1",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": Digest::sha256(b"x").to_string()}],
        "history": [{"v1Compatibility": "{}"}],
        "signatures": [{"header": {}, "signature": "abc", "protected": "def"}],
    })
    .to_string();
    for content_type in [media_type::DOCKER_SCHEMA1_SIGNED, media_type::DOCKER_SCHEMA1, "application/json"] {
        let server = Routes::default()
            .with(
                "/v2/repo/manifests/v1",
                TestResponse::new(200).header("Content-Type", content_type).body(schema1.clone()),
            )
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, content_type);
        assert_error(&e, ErrorKind::Unsupported, &["schema 1"]);
        let e = expect_err(client.get_image("v1", ImageOptions::default()).await, content_type);
        assert_error(&e, ErrorKind::Unsupported, &["schema 1"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn media_type_contradicting_content_type_is_a_protocol_error() {
    let fx = Fixture::new(b"layer".to_vec());
    // The body says OCI manifest; the header says Docker manifest, then OCI index.
    for content_type in [media_type::DOCKER_MANIFEST, media_type::OCI_INDEX] {
        let server = fx
            .routes()
            .with("/v2/repo/manifests/v1", manifest_answer(content_type, fx.manifest_digest.as_str(), &fx.manifest))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.get_manifest("v1").await, content_type);
        assert_error(&e, ErrorKind::Protocol, &["contradicts", media_type::OCI_MANIFEST, content_type]);
    }
}

fn index_json(children: &[(&Digest, usize)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(d, s)| {
            json!({
                "mediaType": media_type::OCI_MANIFEST,
                "digest": d.to_string(),
                "size": s,
                "platform": {"os": "linux", "architecture": "amd64"},
            })
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests}).to_string().into_bytes()
}

fn index_response(bytes: &[u8]) -> TestResponse {
    manifest_answer(media_type::OCI_INDEX, Digest::sha256(bytes).as_str(), bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn index_child_with_other_content_is_refused() {
    let fx = Fixture::new(b"layer".to_vec());
    let other = Fixture::new(b"other layer".to_vec());
    let index = index_json(&[(&fx.manifest_digest, fx.manifest.len())]);
    let amd64 = Platform::new("linux", "amd64");

    // Sanity: an honest registry works.
    let server = fx.routes().with("/v2/repo/manifests/v1", index_response(&index)).serve();
    let image =
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64.clone())).await.unwrap();
    assert_eq!(image.digest(), &fx.manifest_digest);

    // The child's digest serves another manifest.
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", index_response(&index))
        .with(&format!("/v2/repo/manifests/{}", fx.manifest_digest), manifest_response(&other.manifest))
        .serve();
    let e = expect_err(
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64.clone())).await,
        "index child mismatch",
    );
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.manifest_digest.as_str()]);

    // The child is itself an index (with the right digest).
    let inner = index_json(&[(&fx.manifest_digest, fx.manifest.len())]);
    let inner_digest = Digest::sha256(&inner);
    let outer = index_json(&[(&inner_digest, inner.len())]);
    let server = fx
        .routes()
        .with("/v2/repo/manifests/v1", index_response(&outer))
        .with(&format!("/v2/repo/manifests/{inner_digest}"), index_response(&inner))
        .serve();
    let e = expect_err(
        repo_client(server.addr()).get_image("v1", ImageOptions::default().platform(amd64)).await,
        "nested index",
    );
    assert_error(&e, ErrorKind::Unsupported, &["nested"]);
}
