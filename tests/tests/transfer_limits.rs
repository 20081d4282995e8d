//! `RemoteClient` transfer limits and progress: how many blob uploads run at once, how many bytes they hold, and
//! the progress events a push reports.
//!
//! The limits are observed by the server: a recording test registry (`TestServer`) whose blob PUT handler holds
//! each upload for a while and records which uploads overlap. Progress is checked end to end against the
//! in-process registry (`mocks::server`) and the real `docker-registry`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mocks::server::RegistryServer;
use registry_client::core::ByteStream;
use registry_client::{
    async_trait, Artifact, BlobSource, Client, Descriptor, Digest, ErrorKind, Image, ImageBuilder, ImageOptions,
    ProgressEvent, RemoteClient, TransferOptions,
};
use registry_tests::{AuthMode, DockerRegistry, TestRequest, TestResponse, TestServer};

/// How long the test registry holds each blob upload before answering.
const HOLD: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------------------------------
// a registry that records overlapping uploads

/// What the recording registry saw of blob uploads.
#[derive(Debug, Default)]
struct Uploads {
    /// Uploads being held right now: (digest, size).
    running: Vec<(String, u64)>,
    /// The most uploads held at once.
    max_running: usize,
    /// The most bytes held at once, each upload counting `min(size, cap)`.
    max_bytes: u64,
    /// Every upload with the other uploads running when it arrived.
    overlaps: Vec<(String, Vec<String>)>,
    /// Digests of every committed blob.
    committed: Vec<String>,
}

/// A registry that has no blobs, accepts every upload after holding it for [`HOLD`], and records overlaps;
/// manifests are accepted as sent. `cap` is the byte budget the client was given (a blob counts at most that).
fn recording_registry(cap: u64) -> (TestServer, Arc<Mutex<Uploads>>) {
    let state = Arc::new(Mutex::new(Uploads::default()));
    let seen = state.clone();
    let server = TestServer::start(move |req: &TestRequest| {
        let path = req.path();
        match req.method.as_str() {
            "HEAD" if path.contains("/blobs/") => TestResponse::new(404),
            "POST" if path.ends_with("/blobs/uploads/") => {
                let id = format!("{}{}", path, seen.lock().unwrap().committed.len());
                TestResponse::new(202).header("Location", id).header("Content-Length", "0")
            }
            "PUT" if path.contains("/blobs/uploads/") => {
                let digest = req.query_param("digest").expect("PUT without digest");
                let body = &req.body;
                assert_eq!(Digest::parse(&digest).unwrap(), Digest::sha256(body), "uploaded content mismatch");
                let size = body.len() as u64;
                {
                    let mut s = seen.lock().unwrap();
                    let others = s.running.iter().map(|(d, _)| d.clone()).collect();
                    s.overlaps.push((digest.clone(), others));
                    s.running.push((digest.clone(), size));
                    s.max_running = s.max_running.max(s.running.len());
                    let held: u64 = s.running.iter().map(|(_, n)| (*n).min(cap)).sum();
                    s.max_bytes = s.max_bytes.max(held);
                }
                std::thread::sleep(HOLD);
                let mut s = seen.lock().unwrap();
                s.running.retain(|(d, _)| d != &digest);
                s.committed.push(digest.clone());
                TestResponse::new(201)
                    .header("Docker-Content-Digest", digest.clone())
                    .header("Location", format!("/v2/x/blobs/{digest}"))
                    .header("Content-Length", "0")
            }
            "PUT" if path.contains("/manifests/") => {
                let digest = Digest::sha256(&req.body);
                TestResponse::new(201).header("Docker-Content-Digest", digest.to_string()).header("Content-Length", "0")
            }
            _ => TestResponse::text(404, format!("unexpected {} {}", req.method, req.path_and_query)),
        }
    });
    (server, state)
}

/// Incompressible-looking deterministic bytes, distinct per `seed`.
fn blob(seed: u64, len: usize) -> Bytes {
    mocks::seeded_bytes(seed, len)
}

fn image_of(seed: u64, sizes: &[usize]) -> Image {
    let mut b = ImageBuilder::new().label("seed", seed.to_string());
    for (i, size) in sizes.iter().enumerate() {
        b = b.layer(blob(seed * 1000 + i as u64, *size));
    }
    b.build().unwrap()
}

fn client_of(host: &str, options: TransferOptions) -> Arc<dyn Client> {
    let root: Arc<dyn Client> = Arc::new(RemoteClient::builder(host).insecure(true).transfer(options).build().unwrap());
    root.with_segment("bench").with_segment("app")
}

// ---------------------------------------------------------------------------------------------------------------
// limits

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_run_concurrently_up_to_the_job_limit() {
    let (server, state) = recording_registry(u64::MAX);
    let host = server.addr().to_string();
    let client = client_of(&host, TransferOptions::new().max_concurrent_blobs(3));
    let image = image_of(1, &[10_000; 9]);
    let started = std::time::Instant::now();
    client.push_image("v1", &image).await.unwrap();
    let elapsed = started.elapsed();

    let s = state.lock().unwrap();
    assert_eq!(s.committed.len(), 10, "9 layers and the config");
    assert_eq!(s.max_running, 3, "uploads held at once (limit 3): {:?}", s.overlaps);
    // 10 uploads, 3 at a time, each held HOLD: at least 4 rounds, and far fewer than one after another.
    assert!(elapsed >= HOLD * 4, "took {elapsed:?}");
    assert!(elapsed < HOLD * 9, "not concurrent: took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_job_uploads_one_blob_at_a_time() {
    let (server, state) = recording_registry(u64::MAX);
    let client = client_of(&server.addr().to_string(), TransferOptions::new().max_concurrent_blobs(1));
    client.push_image("v1", &image_of(2, &[1000, 2000, 3000])).await.unwrap();
    let s = state.lock().unwrap();
    assert_eq!(s.committed.len(), 4);
    assert_eq!(s.max_running, 1, "{:?}", s.overlaps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bytes_in_flight_stay_within_the_budget_and_a_big_blob_runs_alone() {
    const BUDGET: u64 = 100 * 1024;
    let (server, state) = recording_registry(BUDGET);
    let options = TransferOptions::new().max_concurrent_blobs(8).max_bytes_in_flight(BUDGET);
    let client = client_of(&server.addr().to_string(), options);
    // Six 40 KiB layers fit two at a time; the 300 KiB one is over the budget and takes all of it.
    let mut sizes = vec![40 * 1024; 6];
    sizes.insert(2, 300 * 1024);
    let image = image_of(3, &sizes);
    client.push_image("v1", &image).await.unwrap();

    let s = state.lock().unwrap();
    assert_eq!(s.committed.len(), 8);
    assert!(s.max_bytes <= BUDGET, "{} bytes in flight, budget {BUDGET}: {:?}", s.max_bytes, s.overlaps);
    // The config (a few hundred bytes) may run beside two 40 KiB layers, never a third.
    let layer_overlap = |d: &str, others: &[String]| {
        others.iter().filter(|o| image.layers().iter().any(|l| l.digest().to_string() == **o)).count()
            + usize::from(image.layers().iter().any(|l| l.digest().to_string() == d))
    };
    let most_layers = s.overlaps.iter().map(|(d, o)| layer_overlap(d, o)).max().unwrap();
    assert_eq!(most_layers, 2, "40 KiB layers at once under a 100 KiB budget: {:?}", s.overlaps);
    let big = image.layers()[2].digest().to_string();
    for (digest, others) in &s.overlaps {
        if digest == &big {
            assert!(others.is_empty(), "the big blob started beside {others:?}");
        } else {
            assert!(!others.contains(&big), "{digest} started beside the big blob");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clones_share_the_limits() {
    let (server, state) = recording_registry(u64::MAX);
    let root = RemoteClient::builder(server.addr().to_string())
        .insecure(true)
        .transfer(TransferOptions::new().max_concurrent_blobs(2));
    let root: Arc<dyn Client> = Arc::new(root.build().unwrap());
    let a = root.with_segment("a");
    let b = root.with_segment("b");
    let (ia, ib) = (image_of(4, &[5000; 4]), image_of(5, &[5000; 4]));
    let (ra, rb) = tokio::join!(a.push_image("v1", &ia), b.push_image("v1", &ib));
    ra.unwrap();
    rb.unwrap();
    let s = state.lock().unwrap();
    assert_eq!(s.committed.len(), 10);
    assert_eq!(s.max_running, 2, "two pushes through one client share its 2 jobs: {:?}", s.overlaps);
}

#[test]
fn zero_limits_are_a_build_error() {
    for options in [TransferOptions::new().max_concurrent_blobs(0), TransferOptions::new().max_bytes_in_flight(0)] {
        let e = RemoteClient::builder("127.0.0.1:5000").insecure(true).transfer(options).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// progress

type Events = Arc<Mutex<Vec<ProgressEvent>>>;

fn recording(options: TransferOptions) -> (Events, TransferOptions) {
    let events: Events = Arc::default();
    let sink = events.clone();
    (events, options.progress(move |e| sink.lock().unwrap().push(e.clone())))
}

fn digest_of(e: &ProgressEvent) -> Option<&Digest> {
    match e {
        ProgressEvent::BlobStarted { digest, .. }
        | ProgressEvent::BlobProgress { digest, .. }
        | ProgressEvent::BlobDone { digest, .. }
        | ProgressEvent::BlobSkipped { digest, .. }
        | ProgressEvent::BlobMounted { digest, .. } => Some(digest),
        _ => None,
    }
}

/// Check the events of one push of `image` to `reference`: it starts with `PushStarted` (right counts) and ends
/// with `ManifestPushed`; each blob is either skipped, or started, reported with a growing count ending at its
/// size, and done. Returns how many blobs were uploaded and how many skipped.
fn check_push_events(events: &[ProgressEvent], image: &Image, reference: &str) -> (usize, usize) {
    let blobs: Vec<_> = image.layers().iter().chain([image.config_descriptor()]).collect();
    check_events_of(events, &blobs, image.digest(), reference)
}

/// [`check_push_events`] for any push of `blobs` and a manifest of `digest`.
fn check_events_of(
    events: &[ProgressEvent],
    blobs: &[&Descriptor],
    digest: &Digest,
    reference: &str,
) -> (usize, usize) {
    let total: u64 = blobs.iter().map(|d| d.size()).sum();
    assert_eq!(
        events.first(),
        Some(&ProgressEvent::PushStarted { reference: reference.to_string(), blobs: blobs.len(), bytes: total }),
        "{events:#?}"
    );
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::ManifestPushed { reference: reference.to_string(), digest: digest.clone() }),
    );
    let middle = &events[1..events.len() - 1];
    let mut per_blob: HashMap<Digest, Vec<&ProgressEvent>> = HashMap::new();
    for e in middle {
        let d = digest_of(e).unwrap_or_else(|| panic!("unexpected event in the middle of a push: {e:?}"));
        per_blob.entry(d.clone()).or_default().push(e);
    }
    assert_eq!(per_blob.len(), blobs.len(), "events for every blob and nothing else");
    let (mut uploaded, mut skipped) = (0, 0);
    for desc in blobs {
        let digest = Digest::parse(desc.digest().as_ref()).unwrap();
        let size = desc.size();
        let seq = &per_blob[&digest];
        match seq.as_slice() {
            [ProgressEvent::BlobSkipped { size: s, .. }] => {
                assert_eq!(*s, size);
                skipped += 1;
            }
            [ProgressEvent::BlobStarted { size: s0, .. }, progress @ .., ProgressEvent::BlobDone { size: s1, .. }] => {
                assert_eq!((*s0, *s1), (size, size));
                let counts: Vec<u64> = progress
                    .iter()
                    .map(|e| match e {
                        ProgressEvent::BlobProgress { transferred, size: s, .. } => {
                            assert_eq!(*s, size);
                            *transferred
                        }
                        other => panic!("between started and done of {digest}: {other:?}"),
                    })
                    .collect();
                assert!(!counts.is_empty(), "no progress for {digest}");
                assert!(counts.windows(2).all(|w| w[0] < w[1]), "counts of {digest} do not grow: {counts:?}");
                assert_eq!(counts.last(), Some(&size), "last count of {digest} is not its size");
                uploaded += 1;
            }
            other => panic!("events of {digest} out of order: {other:#?}"),
        }
    }
    (uploaded, skipped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_events_are_complete_and_ordered_per_blob() {
    let server = RegistryServer::start().await.unwrap();
    server.faults().latency(Duration::from_millis(5));
    let options = TransferOptions::new().max_concurrent_blobs(2).progress_every(256 * 1024, Duration::from_secs(60));
    let (events, options) = recording(options);
    let client = client_of(&server.host(), options);
    // In-memory blobs stream in 1 MiB slices: the 2.5 MiB layers report 3 times, the small ones once.
    let image = image_of(6, &[5 << 19, 10, 5 << 19, 5 << 19, 3000]);
    client.push_image("v1", &image).await.unwrap();
    let first = std::mem::take(&mut *events.lock().unwrap());
    let reference = format!("{}/bench/app:v1", server.host());
    assert_eq!(check_push_events(&first, &image, &reference), (6, 0));
    let progress = first.iter().filter(|e| matches!(e, ProgressEvent::BlobProgress { .. })).count();
    assert_eq!(progress, 3 * 3 + 1 + 1 + 1, "{first:#?}");

    // Everything is there now: a second push skips every blob.
    client.push_image("v2", &image).await.unwrap();
    let second = std::mem::take(&mut *events.lock().unwrap());
    assert_eq!(check_push_events(&second, &image, &format!("{}/bench/app:v2", server.host())), (0, 6));

    let back = client.get_image("v2", ImageOptions::default()).await.unwrap();
    assert_eq!(back.digest(), image.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifacts_are_pushed_within_the_limits_and_report_progress() {
    let (server, uploads) = recording_registry(u64::MAX);
    let options = TransferOptions::new().max_concurrent_blobs(2);
    let (events, options) = recording(options);
    let client = client_of(&server.addr().to_string(), options);
    let artifact = Artifact::builder("application/vnd.test.sbom")
        .config(blob(71, 100), "application/vnd.test.config")
        .layer(blob(72, 3000), "application/octet-stream")
        .layer(blob(73, 5000), "application/octet-stream")
        .build()
        .unwrap();
    let pushed = client.push_artifact(&artifact).await.unwrap();
    assert_eq!(&pushed, artifact.digest());
    let seen = uploads.lock().unwrap();
    assert_eq!(seen.committed.len(), 3, "{seen:?}");
    assert_eq!(seen.max_running, 2, "blobs side by side, two at most as the client was told: {seen:?}");
    drop(seen);
    let reference = format!("{}/bench/app@{}", server.addr(), artifact.digest());
    let events = events.lock().unwrap();
    assert_eq!(check_events_of(&events, &artifact.blobs(), artifact.digest(), &reference), (3, 0));
}

/// Check the download events of blobs read once each: `DownloadStarted` at 0, growing `DownloadProgress` counts
/// ending at the size, then `DownloadDone`. Returns the sizes of the blobs read, largest first.
fn check_download_events(events: &[ProgressEvent]) -> Vec<u64> {
    let mut per_blob: HashMap<Digest, Vec<&ProgressEvent>> = HashMap::new();
    for e in events {
        let d = match e {
            ProgressEvent::DownloadStarted { digest, .. }
            | ProgressEvent::DownloadProgress { digest, .. }
            | ProgressEvent::DownloadDone { digest, .. } => digest,
            other => panic!("not a download event: {other:?}"),
        };
        per_blob.entry(d.clone()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (digest, seq) in per_blob {
        use ProgressEvent::{DownloadDone, DownloadStarted};
        let [DownloadStarted { size, offset: 0, .. }, progress @ .., DownloadDone { size: done, .. }] = seq.as_slice()
        else {
            panic!("download events of {digest} out of order: {seq:#?}")
        };
        assert_eq!(size, done);
        let counts: Vec<u64> = progress
            .iter()
            .map(|e| match e {
                ProgressEvent::DownloadProgress { transferred, .. } => *transferred,
                other => panic!("between start and done of {digest}: {other:?}"),
            })
            .collect();
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "counts of {digest} do not grow: {counts:?}");
        assert_eq!(counts.last(), Some(size), "last count of {digest} is not its size");
        out.push(*size);
    }
    out.sort_by(|a, b| b.cmp(a));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_between_docker_registries_reports_progress() {
    let src = DockerRegistry::start(AuthMode::Anonymous);
    let dst = DockerRegistry::start(AuthMode::Anonymous);
    let image = image_of(7, &[3 << 20, 1 << 20, 100]);
    client_of(&src.host(), TransferOptions::new()).push_image("v1", &image).await.unwrap();
    // Half the target's layers are there already.
    client_of(&dst.host(), TransferOptions::new()).push_image("partial", &image_of(7, &[3 << 20])).await.unwrap();

    let (events, options) = recording(TransferOptions::new());
    let (downloads, source_options) = recording(TransferOptions::new());
    let source = client_of(&src.host(), source_options).get_image("v1", ImageOptions::default()).await.unwrap();
    client_of(&dst.host(), options).push_image("v1", &source).await.unwrap();
    let events = events.lock().unwrap().clone();
    // The source client reports the reads of the two layers the target lacked (the config is in memory).
    let read = std::mem::take(&mut *downloads.lock().unwrap());
    assert_eq!(check_download_events(&read), vec![source.layers()[1].size(), source.layers()[2].size()]);
    // A consumer reading a layer itself sees the same.
    let layer = source.blob_bytes(&source.layers()[0]).await.unwrap();
    assert_eq!(layer.len() as u64, source.layers()[0].size());
    let read = std::mem::take(&mut *downloads.lock().unwrap());
    assert_eq!(check_download_events(&read), vec![3 << 20]);
    let (uploaded, skipped) = check_push_events(&events, &source, &format!("{}/bench/app:v1", dst.host()));
    // The 3 MiB layer was there; the other two layers and the config (another label, so another config) moved.
    assert_eq!((uploaded, skipped), (3, 1), "{events:#?}");
    let moved: u64 = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::BlobDone { size, .. } => Some(*size),
            _ => None,
        })
        .sum();
    assert_eq!(moved, (1 << 20) + 100 + source.config_descriptor().size());
}

/// A blob source counting how often blobs are opened.
#[derive(Debug)]
struct CountingSource {
    inner: Arc<dyn BlobSource>,
    opens: AtomicUsize,
}

#[async_trait]
impl BlobSource for CountingSource {
    async fn open(&self, digest: &Digest, size: u64) -> registry_client::Result<ByteStream> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open(digest, size).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_that_starts_over_reports_one_start_and_growing_counts() {
    let server = RegistryServer::start().await.unwrap();
    let options = TransferOptions::new().max_concurrent_blobs(1).progress_every(1, Duration::from_secs(60));
    let (events, options) = recording(options);
    let client = client_of(&server.host(), options);
    let built = image_of(8, &[3 << 20]);
    let source = Arc::new(CountingSource { inner: built.source().clone(), opens: AtomicUsize::new(0) });
    let image = Image::from_parts(built.raw_manifest().clone(), built.config_bytes().clone(), source.clone()).unwrap();
    // The layer's PUT (the only request naming a digest in its query) fails after its body was sent: the upload
    // reads the layer again from the first byte.
    server.faults().fail_next(1, "digest=sha256", 503, None);
    client.push_image("v1", &image).await.unwrap();
    assert_eq!(source.opens.load(Ordering::SeqCst), 2, "the layer was read twice");
    let events = events.lock().unwrap().clone();
    assert_eq!(check_push_events(&events, &image, &format!("{}/bench/app:v1", server.host())), (2, 0));
    let starts = events.iter().filter(|e| matches!(e, ProgressEvent::BlobStarted { .. })).count();
    assert_eq!(starts, 2, "one start per blob (layer and config): {events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_within_one_registry_mounts_blobs() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let image = image_of(9, &[2 << 20, 1000]);
    let source: Arc<dyn Client> =
        Arc::new(RemoteClient::builder(format!("{}/team/source", registry.host())).insecure(true).build().unwrap());
    source.push_image("v1", &image).await.unwrap();

    let (events, options) = recording(TransferOptions::new());
    let target: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(format!("{}/team/target", registry.host()))
            .insecure(true)
            .transfer(options)
            .build()
            .unwrap(),
    );
    let from_source = source.get_image("v1", ImageOptions::default()).await.unwrap();
    target.push_image("v1", &from_source).await.unwrap();
    let events = events.lock().unwrap().clone();
    let middle = &events[1..events.len() - 1];
    assert_eq!(middle.len(), 3, "{events:#?}");
    for e in middle {
        match e {
            ProgressEvent::BlobMounted { from, .. } => assert_eq!(from, &format!("{}/team/source", registry.host())),
            other => panic!("expected only mounts, got {other:?}"),
        }
    }
    assert!(matches!(events.last(), Some(ProgressEvent::ManifestPushed { .. })));
    let back = target.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.blob_bytes(&back.layers()[0]).await.unwrap(), blob(9000, 2 << 20));
}

/// A manifest's sizes are numbers someone else chose: layers of `u64::MAX` bytes (as a copy from a hostile registry
/// would carry) make the push fail with an error, not overflow the total the progress reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huge_descriptor_sizes_do_not_overflow_the_push_total() {
    let server = RegistryServer::start().await.unwrap();
    let (events, options) = recording(TransferOptions::new());
    let client = client_of(&server.host(), options);
    let built = image_of(9, &[10]);
    let layer = built.layers()[0].clone();
    let mut manifest: serde_json::Value = serde_json::from_slice(built.raw_manifest().bytes()).unwrap();
    let huge = serde_json::json!({"mediaType": layer.media_type().to_string(), "digest": layer.digest().to_string(), "size": u64::MAX});
    manifest["layers"] = serde_json::json!([huge.clone(), huge]);
    let manifest = registry_client::Manifest::parse(serde_json::to_vec(&manifest).unwrap(), None).unwrap();
    let image = Image::from_parts(manifest, built.config_bytes().clone(), built.source().clone()).unwrap();
    let e = client.push_image("v1", &image).await.unwrap_err();
    assert!(!e.to_string().is_empty());
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(events.first(), Some(ProgressEvent::PushStarted { bytes: u64::MAX, .. })),
        "the total saturates: {events:#?}"
    );
}
