//! `TransferConfig::close_with_last_chunk`: a chunked upload whose last chunk goes in the closing `PUT ?digest=`
//! instead of a `PATCH` and an empty `PUT`. Against the in-process server (counting the requests, cutting the closing
//! `PUT` mid-body) and the real docker-registry 2.8.2: the blob arrives whole and verified, one request fewer, a cut
//! closing `PUT` resumes from the registry's offset (not from the first byte), and a wrong content is never committed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use registry_tests::reopen::ReopenableSource;
use std::time::Duration;

use bytes::Bytes;
use mocks::server::RegistryServer;
use registry_core::api::{BlobPushed, TransferConfig};
use registry_core::{Digest, ErrorKind};
use registry_tests::{AuthMode, DockerRegistry};

/// The chunk size (also the monolithic threshold).
const CHUNK: u64 = 256 * 1024;
/// Four chunks and a bit: five chunks, the last one short.
const BLOB: usize = 4 * CHUNK as usize + 1234;

fn closing() -> TransferConfig {
    TransferConfig::default()
        .monolithic_threshold(CHUNK)
        .chunk_size(CHUNK)
        .recovery_backoff(Duration::from_millis(10))
        .close_with_last_chunk(true)
}

use registry_tests::reopen::{repo, upload_api as api};

/// The requests of `method` to upload sessions logged by `server` from entry `from` on.
fn uploads(server: &RegistryServer, from: usize, method: &str) -> usize {
    let prefix = format!("{method} ");
    server.request_log().iter().skip(from).filter(|r| r.starts_with(&prefix) && r.contains("/blobs/uploads/")).count()
}

/// `blob` with its last byte changed.
fn corrupted(blob: &Bytes) -> Bytes {
    let mut bad = blob.to_vec();
    if let Some(last) = bad.last_mut() {
        *last ^= 0xff;
    }
    Bytes::from(bad)
}

#[tokio::test]
async fn the_last_chunk_rides_in_the_closing_put() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), closing());
    let repo = repo(&server.host(), "close/app");
    let blob = mocks::seeded_bytes(1, BLOB);
    let digest = Digest::sha256(&blob);
    let source = ReopenableSource::new(&blob);
    let before = server.request_log().len();
    assert_eq!(api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap(), BlobPushed::Uploaded);
    assert_eq!(uploads(&server, before, "PATCH"), 4, "one PATCH per chunk but the last");
    assert_eq!(uploads(&server, before, "PUT"), 1, "the last chunk in the closing PUT");
    assert_eq!(api.get_blob_bytes(&repo, &digest, Some(BLOB as u64), 64 << 20).await.unwrap(), blob);
    assert_eq!(source.offsets(), [0], "read once");

    // A blob of one chunk (above the threshold) goes in a single PUT, as a one-request upload does.
    let small = mocks::seeded_bytes(2, CHUNK as usize + 10);
    let digest = Digest::sha256(&small);
    let api = self::api(&server.host(), closing().chunk_size(2 * CHUNK));
    let source = ReopenableSource::new(&small);
    let before = server.request_log().len();
    api.upload_blob_from(&repo, &digest, small.len() as u64, source.opener()).await.unwrap();
    assert_eq!((uploads(&server, before, "PATCH"), uploads(&server, before, "PUT")), (0, 1));
    assert_eq!(api.get_blob_bytes(&repo, &digest, Some(small.len() as u64), 64 << 20).await.unwrap(), small);

    // Without the setting (the default): one PATCH per chunk and an empty PUT.
    let api = self::api(&server.host(), closing().close_with_last_chunk(false));
    let other = mocks::seeded_bytes(3, BLOB);
    let digest = Digest::sha256(&other);
    let source = ReopenableSource::new(&other);
    let before = server.request_log().len();
    api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!((uploads(&server, before, "PATCH"), uploads(&server, before, "PUT")), (5, 1));
    assert!(!TransferConfig::default().close_with_last_chunk);
}

#[tokio::test]
async fn a_cut_closing_put_resumes_from_the_registry_offset() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), closing());
    let repo = repo(&server.host(), "close/cut");
    let blob = mocks::seeded_bytes(4, BLOB);
    let digest = Digest::sha256(&blob);
    // The closing PUT is cut after 1000 bytes of its body; the server keeps them.
    server.faults().drop_request_after(1000, "PUT", "/blobs/uploads/");
    let source = ReopenableSource::new(&blob);
    assert_eq!(api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap(), BlobPushed::Uploaded);
    assert_eq!(source.offsets(), [0, 4 * CHUNK + 1000], "read again from where the registry was, not from the start");
    assert_eq!(api.get_blob_bytes(&repo, &digest, Some(BLOB as u64), 64 << 20).await.unwrap(), blob);
}

#[tokio::test]
async fn a_wrong_content_is_never_committed_by_the_closing_put() {
    let server = RegistryServer::start().await.unwrap();
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    for host in [server.host(), registry.host()] {
        for (what, size, config) in
            [("chunks", BLOB, closing()), ("one chunk", 1000, closing().monolithic_threshold(0))]
        {
            let api = api(&host, config);
            let repo = repo(&host, "close/bad");
            let blob = mocks::seeded_bytes(5, size);
            let digest = Digest::sha256(&blob);
            let bad = corrupted(&blob);
            let source = ReopenableSource::new(&bad);
            let e = api.upload_blob_from(&repo, &digest, size as u64, source.opener()).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{host} {what}: {e}");
            let msg = e.to_string();
            assert!(msg.contains("nothing committed") && msg.contains(digest.as_str()), "{host} {what}: {msg}");
            assert!(api.blob_exists(&repo, &digest).await.unwrap().is_none(), "{host} {what}: committed");
        }
    }
}

#[tokio::test]
async fn docker_registry_takes_the_last_chunk_in_the_closing_put() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let api = api(&registry.host(), closing());
    let repo = repo(&registry.host(), "close/real");
    for (seed, size) in [(6, BLOB), (7, CHUNK as usize + 1), (8, 2 * CHUNK as usize)] {
        let blob = mocks::seeded_bytes(seed, size);
        let digest = Digest::sha256(&blob);
        let source = ReopenableSource::new(&blob);
        let pushed = api.upload_blob_from(&repo, &digest, size as u64, source.opener()).await.unwrap();
        assert_eq!(pushed, BlobPushed::Uploaded, "{size}");
        assert_eq!(api.get_blob_bytes(&repo, &digest, Some(size as u64), 64 << 20).await.unwrap(), blob, "{size}");
        assert_eq!(source.offsets(), [0], "{size}: read once");
    }
}
