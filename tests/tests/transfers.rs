//! Transfers that survive failures, against the in-process server (with its fault hooks) and the real
//! docker-registry 2.8.2 (behind a small fault-injecting proxy written here): chunked uploads that resume after a
//! dropped connection, 503 and 429 with `Retry-After`, a 416, a stale upload location (docker-registry's real
//! behaviour), cross-repository mounts (201, and the 202 fallback), digests never committed unverified, and downloads
//! that resume with `Range`. In every case the blob ends up complete and verified, or the call fails with an error
//! naming the blob and nothing is committed or tagged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use registry_tests::reopen::{ReopenableSource, PIECE};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mocks::server::RegistryServer;
use registry_client::{Client, ErrorKind as ClientErrorKind, RemoteClient};
use registry_core::api::{BlobPushed, MountOutcome, RegistryApi, TransferConfig};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository, Result};
use registry_tests::conformance::small_image;
use registry_tests::logs::Logs;
use registry_tests::{AuthMode, DockerRegistry};

#[path = "transfers/fault_proxy.rs"]
mod fault_proxy;
#[path = "transfers/stalled.rs"]
mod stalled;

use fault_proxy::{Act, FaultProxy};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// The chunk size of the chunked tests (also their monolithic threshold).
const CHUNK: u64 = 256 * 1024;
/// A blob of four chunks and a bit.
const BLOB: usize = 4 * CHUNK as usize + 1234;

/// `len` deterministic bytes, different per `seed`.
fn data(len: usize, seed: u64) -> Bytes {
    mocks::seeded_bytes(seed, len)
}

/// `data` as a stream of pieces.
fn stream_of(data: &Bytes) -> ByteStream {
    registry_client::slices_from(data, 0, PIECE)
}

/// Chunks of [`CHUNK`] bytes above [`CHUNK`], quick recoveries.
fn chunked() -> TransferConfig {
    TransferConfig::default().monolithic_threshold(CHUNK).chunk_size(CHUNK).recovery_backoff(Duration::from_millis(10))
}

use registry_tests::reopen::{repo, upload_api as api};

/// The blob as the registry serves it, verified.
async fn read_back(api: &RegistryApi, repo: &Repository, digest: &Digest, size: usize) -> Bytes {
    api.get_blob_bytes(repo, digest, Some(size as u64), 64 << 20).await.unwrap()
}

fn expect_err<T: std::fmt::Debug>(result: Result<T>, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

const ASKED_STATUS: &str = "asking the registry how far it got";
const RESUMED: &str = "blob upload resumes";
const STARTED_OVER: &str = "blob upload starts over";
const DOWNLOAD_RESUMED: &str = "blob download broke; resuming";

// ---------------------------------------------------------------------------------------------------------------
// In-process server: uploads
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn chunked_upload_resumes_mid_chunk_after_a_dropped_connection() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "resume/mid-chunk");
    let blob = data(BLOB, 1);
    let digest = Digest::sha256(&blob);
    let (logs, _guard) = Logs::capture();
    // The first chunk is cut after 100 000 bytes; the server keeps them.
    server.faults().drop_request_after(100_000, "PATCH", "/blobs/uploads/");
    // A one-shot stream: only resuming (never starting over) can finish this upload.
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    let text = logs.text();
    assert_eq!(logs.count(ASKED_STATUS), 1, "{text}");
    let resumed: Vec<&str> = text.lines().filter(|l| l.contains(RESUMED)).collect();
    assert_eq!(resumed.len(), 1, "{text}");
    assert!(resumed[0].contains("offset=100000"), "resumed where the registry was: {text}");
    assert_eq!(logs.count(STARTED_OVER), 0, "{text}");
}

#[tokio::test]
async fn chunked_upload_reads_a_reopenable_source_again_from_the_registry_offset() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "resume/reopen");
    let blob = data(BLOB, 11);
    let digest = Digest::sha256(&blob);
    let (logs, _guard) = Logs::capture();
    // The first chunk is cut after 100 000 bytes; the server keeps them.
    server.faults().drop_request_after(100_000, "PATCH", "/blobs/uploads/");
    let source = ReopenableSource::new(&blob);
    let pushed = api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    assert_eq!(source.opens(), 1, "never started over: {}", logs.text());
    assert_eq!(source.resumes(), vec![100_000], "read again from where the registry was, nothing held");
    assert_eq!(logs.count(RESUMED), 1, "{}", logs.text());

    // Every failed chunk of a push is read again at the offset the registry reports.
    let repo = self::repo(&server.host(), "resume/reopen-statuses");
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 503, None);
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 416, None);
    let source = ReopenableSource::new(&blob);
    api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    assert_eq!(logs.count(STARTED_OVER), 0, "{}", logs.text());
    let offsets = source.offsets();
    assert!(offsets.len() >= 2 && offsets.iter().all(|o| o % CHUNK == 0), "chunk boundaries: {offsets:?}");
}

#[tokio::test]
async fn chunked_upload_survives_503_429_and_416() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "resume/statuses");
    let blob = data(BLOB, 2);
    let digest = Digest::sha256(&blob);
    let (logs, _guard) = Logs::capture();
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 503, None);
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 429, Some(1));
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 416, None);
    let start = Instant::now();
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    let took = start.elapsed();
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    let text = logs.text();
    assert_eq!(logs.count(ASKED_STATUS), 3, "each failed chunk asks where to resume: {text}");
    assert!(text.contains("HTTP 503") && text.contains("HTTP 429") && text.contains("HTTP 416"), "{text}");
    assert!(took >= Duration::from_secs(1), "Retry-After: 1 was honoured ({took:?})");
    assert_eq!(logs.count(STARTED_OVER), 0, "{text}");
}

#[tokio::test]
async fn stream_of_unknown_size_resumes_failed_chunks() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "resume/stream");
    let blob = data(BLOB, 13);
    let (logs, _guard) = Logs::capture();
    server.faults().drop_request_after(100_000, "PATCH", "/blobs/uploads/");
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 503, None);
    server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 429, None);
    let (digest, size) = api.upload_blob_stream(&repo, stream_of(&blob)).await.unwrap();
    assert_eq!((digest.clone(), size), (Digest::sha256(&blob), BLOB as u64));
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    let text = logs.text();
    assert_eq!(logs.count(ASKED_STATUS), 3, "{text}");
    assert!(text.contains("offset=100000"), "resumed where the registry was: {text}");

    // A stream ending on a chunk boundary, and an empty one.
    for len in [2 * CHUNK as usize, 0] {
        let exact = data(len, 14);
        let (digest, size) = api.upload_blob_stream(&repo, stream_of(&exact)).await.unwrap();
        assert_eq!((digest.clone(), size), (Digest::sha256(&exact), len as u64));
        assert_eq!(read_back(&api, &repo, &digest, len).await, exact);
    }

    // A registry that lost the session cannot be given the stream again: a clear error, nothing committed.
    let other = data(BLOB, 15);
    server.faults().drop_request_after(50_000, "PATCH", "/blobs/uploads/");
    server.faults().forget_upload_next(1, "GET", "/blobs/uploads/");
    let e = expect_err(api.upload_blob_stream(&repo, stream_of(&other)).await, "lost session");
    assert!(e.to_string().contains("cannot be read again"), "{e}");
    assert_eq!(api.blob_exists(&repo, &Digest::sha256(&other)).await.unwrap(), None);
}

#[tokio::test]
async fn monolithic_put_failure_starts_over_only_with_a_reopenable_source() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "mono/put");
    let blob = data(100_000, 3);
    let digest = Digest::sha256(&blob);

    // A one-shot stream cannot be sent twice: a clear error naming the blob, nothing committed.
    server.faults().fail_next_method(1, "PUT", "/blobs/uploads/", 503, None);
    let e = expect_err(api.upload_blob(&repo, &digest, blob.len() as u64, stream_of(&blob)).await, "one-shot");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(e.to_string().contains(digest.as_str()) && e.to_string().contains("cannot be read again"), "{e}");
    assert_eq!(api.blob_exists(&repo, &digest).await.unwrap(), None);

    // Re-openable: starts over after a 503 and after a connection dropped mid-body.
    let (logs, _guard) = Logs::capture();
    server.faults().fail_next_method(1, "PUT", "/blobs/uploads/", 503, None);
    server.faults().drop_request_after(30_000, "PUT", "/blobs/uploads/");
    let source = ReopenableSource::new(&blob);
    let pushed = api.upload_blob_from(&repo, &digest, blob.len() as u64, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(source.opens(), 3);
    assert_eq!(logs.count(STARTED_OVER), 2, "{}", logs.text());
    assert_eq!(read_back(&api, &repo, &digest, blob.len()).await, blob);
}

#[tokio::test]
async fn forgotten_upload_session_starts_over_from_the_source() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "stale/session");
    let blob = data(BLOB, 4);
    let digest = Digest::sha256(&blob);
    let (logs, _guard) = Logs::capture();
    // As docker-registry 2.8.2: a chunk cut part-way makes the location stale (404 BLOB_UPLOAD_INVALID).
    server.faults().drop_request_after(50_000, "PATCH", "/blobs/uploads/");
    server.faults().forget_upload_next(1, "GET", "/blobs/uploads/");
    let source = ReopenableSource::new(&blob);
    let pushed = api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(source.opens(), 2, "read again from the first byte");
    assert_eq!(logs.count(STARTED_OVER), 1, "{}", logs.text());
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);

    // Without a way to read the source again the same failure is final, and says why.
    server.faults().drop_request_after(50_000, "PATCH", "/blobs/uploads/");
    server.faults().forget_upload_next(1, "GET", "/blobs/uploads/");
    let other = data(BLOB, 44);
    let other_digest = Digest::sha256(&other);
    let e = expect_err(api.upload_blob(&repo, &other_digest, BLOB as u64, stream_of(&other)).await, "one-shot");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(other_digest.as_str()), "{e}");
    assert!(e.has_code("BLOB_UPLOAD_INVALID"), "{e}");
    assert_eq!(api.blob_exists(&repo, &other_digest).await.unwrap(), None);
}

#[tokio::test]
async fn lost_chunk_answer_resumes_on_a_spec_registry() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "lost/answer");
    let blob = data(BLOB, 12);
    let digest = Digest::sha256(&blob);
    let (logs, _guard) = Logs::capture();
    // The server takes the whole first chunk, then the connection drops before its answer.
    server.faults().drop_request_after(CHUNK as usize, "PATCH", "/blobs/uploads/");
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    let text = logs.text();
    let resumed: Vec<&str> = text.lines().filter(|l| l.contains(RESUMED)).collect();
    assert_eq!(resumed.len(), 1, "{text}");
    assert!(resumed[0].contains(&format!("offset={CHUNK}")), "nothing sent twice: {text}");
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
}

#[tokio::test]
async fn recoveries_are_bounded() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked().upload_retries(2));
    let repo = repo(&server.host(), "bounded/app");
    let blob = data(BLOB, 5);
    let digest = Digest::sha256(&blob);
    server.faults().fail_next_method(100, "PATCH", "/blobs/uploads/", 503, None);
    let source = ReopenableSource::new(&blob);
    let e = expect_err(api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await, "always 503");
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    let text = e.to_string();
    assert!(text.contains(digest.as_str()) && text.contains("giving up after 3 attempts"), "{text}");
    assert_eq!(api.blob_exists(&repo, &digest).await.unwrap(), None);
}

#[tokio::test]
async fn registry_minimum_chunk_length_is_respected() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "min/chunk");
    let blob = data(BLOB, 6);
    let digest = Digest::sha256(&blob);
    // Chunks under 300 000 bytes (other than the last) are refused with 416 by the server.
    server.faults().chunk_min_length(Some(300_000));
    let (logs, _guard) = Logs::capture();
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    assert_eq!(logs.count(ASKED_STATUS), 0, "no chunk refused: {}", logs.text());
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    assert_eq!(api.capabilities().snapshot().chunk_min_length, Some(300_000), "recorded in the profile");
}

/// `OCI-Chunk-Min-Length` is the registry's number: one past any blob (here `u64::MAX` on 64-bit) makes the upload
/// go in one piece, for a held stream and a source that can be opened again alike.
#[tokio::test]
async fn a_minimum_chunk_length_past_any_blob_uploads_in_one_piece() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "min/huge");
    let blob = data(BLOB, 16);
    let digest = Digest::sha256(&blob);
    server.faults().chunk_min_length(Some(usize::MAX));
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);
    let other = data(BLOB, 17);
    let other_digest = Digest::sha256(&other);
    let source = ReopenableSource::new(&other);
    api.upload_blob_from(&repo, &other_digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(read_back(&api, &repo, &other_digest, BLOB).await, other);
}

#[tokio::test]
async fn a_wrong_digest_is_never_committed() {
    let server = RegistryServer::start().await.unwrap();
    let repo = repo(&server.host(), "mismatch/app");
    let blob = data(BLOB, 7);
    let claimed = Digest::sha256(b"not this content");
    let actual = Digest::sha256(&blob);
    for (name, config) in [("chunked", chunked()), ("monolithic", chunked().monolithic_threshold(u64::MAX))] {
        let api = api(&server.host(), config);
        let source = ReopenableSource::new(&blob);
        let e = expect_err(api.upload_blob_from(&repo, &claimed, BLOB as u64, source.opener()).await, name);
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{name}: {e}");
        assert!(e.to_string().contains(claimed.as_str()) && e.to_string().contains("nothing committed"), "{e}");
        assert_eq!(source.opens(), 1, "{name}: a mismatch is not retried");
        assert_eq!(api.blob_exists(&repo, &claimed).await.unwrap(), None, "{name}");
        assert_eq!(api.blob_exists(&repo, &actual).await.unwrap(), None, "{name}");
        // A source shorter or longer than declared is refused too.
        for size in [BLOB as u64 + 1, BLOB as u64 - 1] {
            let e = expect_err(api.upload_blob(&repo, &actual, size, stream_of(&blob)).await, name);
            assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{name}, size {size}: {e}");
            assert_eq!(api.blob_exists(&repo, &actual).await.unwrap(), None, "{name}");
        }
    }
}

#[tokio::test]
async fn mount_201_and_202_fallback() {
    let server = RegistryServer::start().await.unwrap();
    let host = server.host();
    let api = api(&host, chunked());
    let (src, dst) = (repo(&host, "mount/src"), repo(&host, "mount/dst"));
    let blob = data(BLOB, 8);
    let digest = Digest::sha256(&blob);
    api.upload_blob(&src, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();

    assert!(matches!(api.mount_blob(&dst, &digest, &src).await.unwrap(), MountOutcome::Mounted));
    assert_eq!(read_back(&api, &dst, &digest, BLOB).await, blob);

    // 202: the registry opened a session instead; upload into it.
    server.faults().refuse_mounts(true);
    let dst2 = repo(&host, "mount/dst2");
    let MountOutcome::Upload(session) = api.mount_blob(&dst2, &digest, &src).await.unwrap() else {
        panic!("expected an upload session")
    };
    assert_eq!(session.repository(), &dst2);
    let source = ReopenableSource::new(&blob);
    assert_eq!(api.upload_blob_in(session, &digest, BLOB as u64, source.opener()).await.unwrap(), BlobPushed::Uploaded);
    assert_eq!(read_back(&api, &dst2, &digest, BLOB).await, blob);

    // mount_or_upload: falls back by itself, and mounts when it can.
    let dst3 = repo(&host, "mount/dst3");
    let pushed = api.mount_or_upload(&dst3, &digest, BLOB as u64, &src, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    server.faults().refuse_mounts(false);
    let dst4 = repo(&host, "mount/dst4");
    let opens = source.opens();
    let pushed = api.mount_or_upload(&dst4, &digest, BLOB as u64, &src, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Mounted);
    assert_eq!(source.opens(), opens, "nothing read for a mount");
    // A 202 session can be cancelled instead.
    server.faults().refuse_mounts(true);
    let MountOutcome::Upload(session) = api.mount_blob(&repo(&host, "mount/dst5"), &digest, &src).await.unwrap() else {
        panic!("expected an upload session")
    };
    let location = session.location().clone();
    api.cancel_upload(session).await.unwrap();
    let resp = reqwest::get(location.as_str()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 404, "cancelled");
    // Mounting across registries is refused up front.
    let elsewhere = repo("other.example.com", "x");
    assert_eq!(api.mount_blob(&dst, &digest, &elsewhere).await.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn failed_push_leaves_no_tag() {
    let server = RegistryServer::start().await.unwrap();
    let client: Arc<dyn Client> =
        Arc::new(RemoteClient::builder(server.host()).insecure(true).build().unwrap()).with_segment("half/app");
    let image = small_image("half-written", 2);
    // Every blob upload is refused: the push fails, and the tag never appears.
    server.faults().fail_next_method(1000, "PUT", "/blobs/uploads/", 403, None);
    server.faults().fail_next_method(1000, "PATCH", "/blobs/uploads/", 403, None);
    let e = client.push_image("v1", &image).await.unwrap_err();
    assert_eq!(e.kind(), ClientErrorKind::Denied, "{e}");
    let missing = client.check_image_exists("v1").await.unwrap_err();
    assert_eq!(missing.kind(), ClientErrorKind::NotFound, "{missing}");
    server.faults().clear();
    client.push_image("v1", &image).await.unwrap();
    client.check_image_exists("v1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_resumes_a_cut_chunk_by_reading_the_source_registry_from_the_offset() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let layer = data(BLOB, 16);
    let image = registry_client::ImageBuilder::new().layer(layer.clone()).build().unwrap();
    let plain = |host: &str| RemoteClient::builder(host).insecure(true).build().unwrap();
    plain(&source.host()).with_segment("copy/src").push_image("v1", &image).await.unwrap();

    // The source client reports where each read of a layer starts.
    let starts = Arc::new(Mutex::new(Vec::new()));
    let sink = starts.clone();
    let reading = RemoteClient::builder(source.host())
        .insecure(true)
        .progress(move |e| {
            if let registry_client::ProgressEvent::DownloadStarted { offset, .. } = e {
                sink.lock().unwrap().push(*offset);
            }
        })
        .build()
        .unwrap();
    let pulled = reading.with_segment("copy/src").get_image("v1", Default::default()).await.unwrap();
    let options = registry_client::TransferOptions::new().blob_config(chunked());
    let writing = RemoteClient::builder(target.host()).insecure(true).transfer(options).build().unwrap();
    let (logs, _guard) = Logs::capture();
    // The target cuts the first chunk after 100 000 bytes and keeps them.
    target.faults().drop_request_after(100_000, "PATCH", "/blobs/uploads/");
    writing.with_segment("copy/dst").push_image("v1", &pulled).await.unwrap();

    assert_eq!(logs.count(STARTED_OVER), 0, "{}", logs.text());
    assert_eq!(*starts.lock().unwrap(), vec![0, 100_000], "the layer was read again from the registry's offset");
    let back = plain(&target.host()).with_segment("copy/dst").get_image("v1", Default::default()).await.unwrap();
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.blob_bytes(&back.layers()[0]).await.unwrap(), layer);
}

// ---------------------------------------------------------------------------------------------------------------
// In-process server: downloads
// ---------------------------------------------------------------------------------------------------------------

async fn collect(stream: ByteStream) -> Result<Bytes> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece?);
    }
    Ok(Bytes::from(out))
}

#[tokio::test]
async fn download_resumes_with_range_after_dropped_connections() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "dl/resume");
    let blob = data(BLOB, 9);
    let digest = Digest::sha256(&blob);
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    let (logs, _guard) = Logs::capture();
    // The first answer breaks after 300 000 bytes, the resumed one 200 000 bytes later.
    server.faults().drop_after(300_000, "/blobs/sha256:");
    server.faults().drop_after(200_000, "/blobs/sha256:");
    let got = collect(api.get_blob(&repo, &digest, Some(BLOB as u64)).await.unwrap()).await.unwrap();
    assert_eq!(got, blob);
    let text = logs.text();
    assert_eq!(logs.count(DOWNLOAD_RESUMED), 2, "{text}");
    assert!(text.contains("offset=300000") && text.contains("offset=500000"), "{text}");

    // A registry that ignores the Range sends the blob again from the start: what was delivered is skipped.
    server.faults().drop_after(300_000, "/blobs/sha256:");
    server.faults().ignore_range_next(1, "/blobs/sha256:");
    let got = collect(api.get_blob(&repo, &digest, Some(BLOB as u64)).await.unwrap()).await.unwrap();
    assert_eq!(got, blob, "a 200 restarts from zero without duplicating bytes");
}

#[tokio::test]
async fn download_refuses_a_misaligned_206_and_bounds_resumes() {
    let server = RegistryServer::start().await.unwrap();
    let repo = repo(&server.host(), "dl/refuse");
    let blob = data(BLOB, 10);
    let digest = Digest::sha256(&blob);
    let api = api(&server.host(), chunked().download_resumes(1));
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();

    server.faults().drop_after(300_000, "/blobs/sha256:");
    server.faults().shift_range_next(1, "/blobs/sha256:");
    let e = collect(api.get_blob(&repo, &digest, Some(BLOB as u64)).await.unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("from 300001, not 300000"), "{e}");

    // Two breaks, one resume allowed: an error naming the blob and where it broke.
    server.faults().drop_after(300_000, "/blobs/sha256:");
    server.faults().drop_after(100_000, "/blobs/sha256:");
    let e = collect(api.get_blob(&repo, &digest, Some(BLOB as u64)).await.unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains(digest.as_str()) && e.to_string().contains("broken at byte 400000"), "{e}");
}

#[tokio::test]
async fn unverified_download_starts_at_an_offset_checks_the_size_and_resumes() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "dl/unverified");
    let blob = data(BLOB, 12);
    let digest = Digest::sha256(&blob);
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    let size = BLOB as u64;
    for offset in [0u64, 1, 300_000, size - 1, size] {
        let got = collect(api.get_blob_unverified(&repo, &digest, size, offset).await.unwrap()).await.unwrap();
        assert_eq!(got, blob.slice(offset as usize..), "from byte {offset}");
    }
    // A break mid-way resumes with Range, from the offset asked for.
    let (logs, _guard) = Logs::capture();
    server.faults().drop_after(200_000, "/blobs/sha256:");
    let got = collect(api.get_blob_unverified(&repo, &digest, size, 100_000).await.unwrap()).await.unwrap();
    assert_eq!(got, blob.slice(100_000..));
    assert!(logs.text().contains("offset=300000"), "{}", logs.text());
    // The size is still checked: a registry sending more or less than announced is refused.
    for wrong in [size - 1, size + 1] {
        let e = match api.get_blob_unverified(&repo, &digest, wrong, 0).await {
            Ok(stream) => collect(stream).await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "size {wrong}: {e}");
    }
    let e = api.get_blob_unverified(&repo, &digest, size, size + 1).await.err().map(|e| e.kind());
    assert_eq!(e, Some(ErrorKind::InvalidInput));
}

#[tokio::test]
async fn download_resumes_when_the_size_is_not_given() {
    let server = RegistryServer::start().await.unwrap();
    let repo = repo(&server.host(), "dl/unsized");
    let blob = data(BLOB, 11);
    let digest = Digest::sha256(&blob);
    let api = api(&server.host(), chunked());
    api.upload_blob(&repo, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    server.faults().drop_after(1, "/blobs/sha256:");
    let got = collect(api.get_blob(&repo, &digest, None).await.unwrap()).await.unwrap();
    assert_eq!(got, blob);
}

// ---------------------------------------------------------------------------------------------------------------
// docker-registry 2.8.2, behind the fault proxy
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn docker_registry_uploads_survive_failures() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let proxy = FaultProxy::start(registry.host()).await;
    let host = proxy.host();
    let api = api(&host, chunked());
    let (logs, _guard) = Logs::capture();

    // 503, then 429 with Retry-After, on chunks: the registry never saw them; status, then continue.
    let r = repo(&host, "dr/statuses");
    let blob = data(BLOB, 20);
    let digest = Digest::sha256(&blob);
    proxy.on("PATCH", "/blobs/uploads/", 1, Act::Answer(503, None));
    proxy.on("PATCH", "/blobs/uploads/", 1, Act::Answer(429, Some(1)));
    let start = Instant::now();
    api.upload_blob(&r, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(proxy.pending_rules(), 0);
    assert_eq!(logs.count(ASKED_STATUS), 2, "{}", logs.text());
    assert_eq!(logs.count(STARTED_OVER), 0, "{}", logs.text());
    assert_eq!(read_back(&api, &r, &digest, BLOB).await, blob);

    // A chunk cut part-way: docker-registry keeps what arrived, so the location is stale (404 BLOB_UPLOAD_INVALID)
    // and the upload starts over from the source.
    let r = repo(&host, "dr/stale");
    let blob = data(BLOB, 21);
    let digest = Digest::sha256(&blob);
    proxy.on("PATCH", "/blobs/uploads/", 1, Act::CutRequest(100_000));
    let source = ReopenableSource::new(&blob);
    let before = logs.count(STARTED_OVER);
    let pushed = api.upload_blob_from(&r, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(source.opens(), 2);
    assert_eq!(logs.count(STARTED_OVER), before + 1, "{}", logs.text());
    assert!(logs.text().contains("BLOB_UPLOAD_INVALID"), "the real stale-location answer: {}", logs.text());
    assert_eq!(read_back(&api, &r, &digest, BLOB).await, blob);

    // The same with a one-shot stream: a clear error, nothing committed.
    let r = repo(&host, "dr/stale-once");
    proxy.on("PATCH", "/blobs/uploads/", 1, Act::CutRequest(100_000));
    let e = expect_err(api.upload_blob(&r, &digest, BLOB as u64, stream_of(&blob)).await, "one-shot");
    assert!(e.to_string().contains(digest.as_str()) && e.to_string().contains("cannot be read again"), "{e}");
    assert_eq!(api.blob_exists(&r, &digest).await.unwrap(), None);

    // A monolithic PUT cut mid-body: nothing committed, started over.
    let r = repo(&host, "dr/mono");
    let small = data(100_000, 22);
    let small_digest = Digest::sha256(&small);
    proxy.on("PUT", "/blobs/uploads/", 0, Act::CutRequest(40_000));
    let source = ReopenableSource::new(&small);
    api.upload_blob_from(&r, &small_digest, small.len() as u64, source.opener()).await.unwrap();
    assert_eq!(source.opens(), 2);
    assert_eq!(read_back(&api, &r, &small_digest, small.len()).await, small);

    // A chunk the registry took whose answer was lost: docker-registry refuses the location it handed out before
    // that chunk (404 BLOB_UPLOAD_INVALID), so the upload starts over. (A spec registry tells where it is instead:
    // `lost_chunk_answer_resumes_on_a_spec_registry`.)
    let r = repo(&host, "dr/lost-answer");
    proxy.on("PATCH", "/blobs/uploads/", 1, Act::LoseAnswer);
    let source = ReopenableSource::new(&blob);
    let before = logs.count(STARTED_OVER);
    api.upload_blob_from(&r, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(source.opens(), 2);
    assert_eq!(logs.count(STARTED_OVER), before + 1, "{}", logs.text());
    assert_eq!(read_back(&api, &r, &digest, BLOB).await, blob);

    // Lying sources, chunked and in one PUT: the digest is checked before the blob can be committed, and the
    // session is cancelled.
    let r = repo(&host, "dr/mismatch");
    let claimed = Digest::sha256(b"claimed");
    for (what, content) in [("chunked", &blob), ("monolithic", &small)] {
        let deletes = proxy.seen("DELETE", "/blobs/uploads/");
        let e = expect_err(api.upload_blob(&r, &claimed, content.len() as u64, stream_of(content)).await, what);
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{what}: {e}");
        assert_eq!(proxy.seen("DELETE", "/blobs/uploads/"), deletes + 1, "{what}: the session was cancelled");
        assert_eq!(api.blob_exists(&r, &claimed).await.unwrap(), None, "{what}");
        let real = Digest::sha256(content);
        assert_eq!(api.blob_exists(&r, &real).await.unwrap(), None, "{what}");
    }
}

#[tokio::test]
async fn docker_registry_downloads_resume_and_mounts_fall_back() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let proxy = FaultProxy::start(registry.host()).await;
    let host = proxy.host();
    let api = api(&host, chunked());
    let src = repo(&host, "dr/src");
    let blob = data(BLOB, 30);
    let digest = Digest::sha256(&blob);
    api.upload_blob(&src, &digest, BLOB as u64, stream_of(&blob)).await.unwrap();

    // Download cut twice: resumed with Range, 206 from docker-registry, verified whole.
    let (logs, _guard) = Logs::capture();
    proxy.on("GET", "/blobs/sha256:", 0, Act::CutResponse(250_000));
    proxy.on("GET", "/blobs/sha256:", 0, Act::CutResponse(250_000));
    let got = collect(api.get_blob(&src, &digest, Some(BLOB as u64)).await.unwrap()).await.unwrap();
    assert_eq!(got, blob);
    assert_eq!(logs.count(DOWNLOAD_RESUMED), 2, "{}", logs.text());
    assert_eq!(proxy.seen("GET", "/blobs/sha256:"), 3);

    // Mount: 201 from a repository that has the blob.
    let dst = repo(&host, "dr/dst");
    assert!(matches!(api.mount_blob(&dst, &digest, &src).await.unwrap(), MountOutcome::Mounted));
    assert_eq!(read_back(&api, &dst, &digest, BLOB).await, blob);
    // 202 from one that lacks it: uploaded into the session docker-registry opened instead.
    let empty = repo(&host, "dr/empty");
    let dst2 = repo(&host, "dr/dst2");
    let source = ReopenableSource::new(&blob);
    let pushed = api.mount_or_upload(&dst2, &digest, BLOB as u64, &empty, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(proxy.seen("POST", "mount="), 2);
    assert_eq!(proxy.seen("POST", "/v2/dr/dst2/blobs/uploads/"), 1, "no second session: the 202 one was used");
    assert_eq!(read_back(&api, &dst2, &digest, BLOB).await, blob);
}
