//! Registries that send blobs that do not match their descriptor (wrong content, too short, too long, endless), and
//! a config claiming a huge size.

use std::time::{Duration, Instant};

use registry_client::ImageOptions;
use registry_core::manifest::media_type;
use registry_core::{Digest, ErrorKind};

use crate::support::{
    assert_error, blob_response, config_json, drain, expect_err, manifest_json, manifest_response, pattern,
    repo_client, Fixture, RawServer, Routes, MIB,
};

#[tokio::test(flavor = "multi_thread")]
async fn layer_with_wrong_content_fails_while_reading() {
    let fx = Fixture::new(pattern(3 * MIB + 17));
    let mut bad = fx.layer.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let server = fx.routes().with(&fx.layer_path(), blob_response(&bad)).serve();
    let client = repo_client(server.addr());

    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(image.digest(), &fx.manifest_digest);
    let layer = image.layers()[0].clone();
    let (ok, err) = drain(&image, &layer).await;
    let e = err.expect("a corrupt layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str()]);
    assert!(ok < fx.layer.len(), "all {ok} bytes of the corrupt layer were handed out as good");

    let e = expect_err(image.blob_bytes(&layer).await, "blob_bytes of a corrupt layer");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn layer_shorter_than_its_descriptor_fails() {
    let fx = Fixture::new(pattern(100_000));
    let server = fx.routes().with(&fx.layer_path(), blob_response(&fx.layer[..99_999])).serve();
    let client = repo_client(server.addr());
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("a short layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &["99999", "100000"]);
    assert!(ok < 99_999);
}

#[tokio::test(flavor = "multi_thread")]
async fn layer_longer_than_its_descriptor_fails() {
    let fx = Fixture::new(pattern(100_000));
    let mut long = fx.layer.clone();
    long.extend_from_slice(b"trailing junk");
    let server = fx.routes().with(&fx.layer_path(), blob_response(&long)).serve();
    let client = repo_client(server.addr());
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("a long layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str(), "100013", "100000"]);
    assert_eq!(ok, 0);
}

/// The same, without `Content-Length` and endless: the stream fails as soon as it passes the declared size and the
/// rest is not read.
#[tokio::test(flavor = "multi_thread")]
async fn endless_layer_without_content_length_fails_at_its_size() {
    let fx = Fixture::new(pattern(100_000));
    let (config_path, layer_path, m_fx) = (fx.config_path(), fx.layer_path(), fx.clone());
    let server = RawServer::start(move |_, path, conn| {
        if path == "/v2/repo/manifests/v1" {
            conn.full(200, media_type::OCI_MANIFEST, &m_fx.manifest)
        } else if path == config_path {
            conn.full(200, "application/octet-stream", &m_fx.config)
        } else if path == layer_path {
            conn.chunked(200, "application/octet-stream", &m_fx.layer, 256 * MIB)
        } else {
            conn.full(404, "application/json", b"{}")
        }
    });
    let client = repo_client(server.addr);
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    let started = Instant::now();
    let (ok, err) = drain(&image, &image.layers()[0]).await;
    let e = err.expect("an endless layer must end in an error");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.layer_digest.as_str(), "longer than", "100000"]);
    assert!(ok <= fx.layer.len());
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.written() < 64 * MIB, "the server wrote {} bytes", server.written());
}

#[tokio::test(flavor = "multi_thread")]
async fn config_with_wrong_content_fails_get_image() {
    let fx = Fixture::new(b"layer".to_vec());
    // Same length, other bytes: passes the size check, fails the digest.
    let mut bad = fx.config.clone();
    bad.make_ascii_uppercase();
    assert_eq!(bad.len(), fx.config.len());
    let server = fx.routes().with(&fx.config_path(), blob_response(&bad)).serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "corrupt config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);
    let e = expect_err(client.get_image_config("v1").await, "corrupt config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);

    // Other length: caught by the size.
    let server = fx.routes().with(&fx.config_path(), blob_response(&config_json()[1..])).serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "short config");
    assert_error(&e, ErrorKind::DigestMismatch, &[fx.config_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_claiming_a_huge_size_is_not_fetched() {
    let config = config_json();
    let config_digest = Digest::sha256(&config);
    let layer = b"layer".to_vec();
    let manifest = manifest_json((&config_digest, 10 << 30), &[(&Digest::sha256(&layer), layer.len())]);
    let config_path = format!("/v2/repo/blobs/{config_digest}");
    let server = Routes::default()
        .with("/v2/repo/manifests/v1", manifest_response(&manifest))
        .with(&config_path, blob_response(&config))
        .serve();
    let client = repo_client(server.addr());
    let e = expect_err(client.get_image("v1", ImageOptions::default()).await, "10 GiB config");
    assert_error(&e, ErrorKind::Unsupported, &[config_digest.as_str(), "limit"]);
    assert!(server.requests().iter().all(|r| r.path() != config_path), "the config was fetched");
}
