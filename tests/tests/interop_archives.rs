//! docker-archive and oci-archive against skopeo (containers/image) and the real `docker-registry`: what our
//! writers produce skopeo reads and copies to a registry with the same config digest and diff_ids (docker-archive)
//! or the same manifest and index digests (oci-archive); what skopeo writes we read the same way; a push from an
//! archive to a registry moves each blob once.
//!
//! skopeo runs with TLS verification off (the registry serves plain HTTP on loopback) and `--insecure-policy`.
//! These tests fail, never skip, when skopeo or docker-registry is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use registry_client::core::manifest::media_type;
use registry_client::{
    index_of, Client, Digest, DockerArchive, DockerArchiveWriter, Image, ImageBuilder, ImageOptions, ListOptions,
    OciArchive, OciArchiveWriter, Platform, ProgressEvent, RemoteClient, TransferOptions,
};
use registry_tests::layers::{gzip, one_file_tar as layer_tar};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::Value;

/// `skopeo --insecure-policy ARGS` (see [`registry_tests::skopeo::skopeo`]).
async fn skopeo(args: &[&str]) -> Vec<u8> {
    let mut full = vec!["--insecure-policy"];
    full.extend_from_slice(args);
    registry_tests::skopeo::skopeo(&full).await
}

async fn skopeo_copy(extra: &[&str], src: &str, dest: &str) {
    let mut args = vec!["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[src, dest]);
    skopeo(&args).await;
}

async fn skopeo_json(args: &[&str]) -> Value {
    let out = skopeo(args).await;
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("skopeo {args:?}: not JSON ({e})"))
}

/// Blob events by digest, as `TransferOptions` reports them.
type Events = Arc<Mutex<Vec<ProgressEvent>>>;

fn client(registry: &DockerRegistry, repo: &str, events: Option<Events>) -> Arc<dyn Client> {
    let mut b = RemoteClient::builder(format!("{}/{repo}", registry.host())).insecure(true);
    if let Some(events) = events {
        b = b.transfer(TransferOptions::new().progress(move |e| events.lock().unwrap().push(e.clone())));
    }
    Arc::new(b.build().unwrap())
}

/// A docker image: an uncompressed base layer and a gzip top layer (as a registry serves them).
fn image(arch: &str, text: &[u8]) -> Image {
    let top = layer_tar("etc/top", text);
    ImageBuilder::new()
        .layer(layer_tar("etc/base", b"base layer\n"))
        .compressed_layer(gzip(&top), media_type::DOCKER_LAYER_GZIP, Digest::sha256(&top))
        .platform(Platform::new("linux", arch))
        .label("interop", "archives")
        .created("2024-05-06T07:08:09Z")
        .docker_media_types()
        .build()
        .unwrap()
}

fn diff_ids(image: &Image) -> Vec<String> {
    image.config().rootfs().diff_ids().clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The manifest skopeo makes for a docker-archive image, with its layer media type corrected: containers/image
/// labels the archive's uncompressed layers `...rootfs.diff.tar.gzip` (its `DockerV2Schema2LayerMediaType`),
/// though it serves them uncompressed; ours says `...rootfs.diff.tar`. Everything else is byte for byte the same.
fn skopeo_manifest(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace(media_type::DOCKER_LAYER_GZIP, media_type::DOCKER_LAYER_TAR)
}

fn arg(path: &Path, transport: &str, name: &str) -> String {
    format!("{transport}:{}:{name}", path.display())
}

/// Each blob of the push uploaded exactly once (one start, one done), none skipped.
fn assert_each_blob_once(events: &Events, blobs: &[Digest]) {
    let events = events.lock().unwrap();
    let mut started: HashMap<Digest, usize> = HashMap::new();
    let mut done: HashMap<Digest, usize> = HashMap::new();
    for e in events.iter() {
        match e {
            ProgressEvent::BlobStarted { digest, .. } => *started.entry(digest.clone()).or_default() += 1,
            ProgressEvent::BlobDone { digest, .. } => *done.entry(digest.clone()).or_default() += 1,
            _ => {}
        }
    }
    for blob in blobs {
        assert_eq!(started.get(blob), Some(&1), "{blob} started once: {events:?}");
        assert_eq!(done.get(blob), Some(&1), "{blob} done once: {events:?}");
    }
    assert_eq!(started.len(), blobs.len(), "no other blob moved: {events:?}");
}

// ---------------------------------------------------------------------------------------------------------------

/// Our docker-archive: skopeo reads the same manifest bytes we make for it, our config and diff_ids, and copies it
/// to a registry where the config digest and diff_ids are the source's.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_and_copies_our_docker_archive() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.tar");
    let source = image("amd64", b"ours\n");
    let mut w = DockerArchiveWriter::create(&path).await.unwrap();
    w.add_image(&source, &["arc/app:v1"]).await.unwrap();
    w.finish().await.unwrap();

    let ours = DockerArchive::open(&path).await.unwrap();
    let manifest = ours.with_segment("arc/app").get_manifest("v1").await.unwrap();
    let raw = skopeo(&["inspect", "--raw", &format!("docker-archive:{}", path.display())]).await;
    assert_eq!(skopeo_manifest(&raw), String::from_utf8_lossy(manifest.bytes()), "skopeo makes the same manifest");
    // ... but for the layers' media type, so the manifest digests differ (as DockerArchive's doc says).
    assert_ne!(&Digest::sha256(&raw), manifest.digest(), "skopeo labels the layers .tar.gzip");
    assert!(String::from_utf8_lossy(&raw).contains(media_type::DOCKER_LAYER_GZIP));
    assert!(!String::from_utf8_lossy(manifest.bytes()).contains(media_type::DOCKER_LAYER_GZIP));
    let config = skopeo(&["inspect", "--config", "--raw", &arg(&path, "docker-archive", "arc/app:v1")]).await;
    assert_eq!(Digest::sha256(&config), Digest::sha256(source.config_bytes()), "skopeo reads our config");
    let info = skopeo_json(&["inspect", &format!("docker-archive:{}", path.display())]).await;
    assert_eq!(strings(&info["Layers"]), diff_ids(&source), "{info:#}");

    let dest = format!("docker://{}/arc/from-archive:v1", registry.host());
    skopeo_copy(&[], &arg(&path, "docker-archive", "arc/app:v1"), &dest).await;
    let copied = client(&registry, "arc/from-archive", None).get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(copied.config_descriptor().digest(), source.config_descriptor().digest());
    assert_eq!(diff_ids(&copied), diff_ids(&source));
}

/// skopeo's docker-archive of a registry image: we read its config digest and diff_ids, the manifest skopeo makes
/// for it, and push it to a registry moving each blob once.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_skopeos_docker_archive_and_push_it() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let source = image("amd64", b"from the registry\n");
    client(&registry, "arc/src", None).push_image("v1", &source).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skopeo.tar");
    let from = format!("docker://{}/arc/src:v1", registry.host());
    skopeo_copy(&[], &from, &arg(&path, "docker-archive", "arc/src:v1")).await;

    let archive = DockerArchive::open(&path).await.unwrap();
    let repos = archive.list_repositories(ListOptions::default()).await.unwrap();
    let repo = repos.iter().find(|r| r.ends_with("arc/src")).unwrap_or_else(|| panic!("{repos:?}"));
    let read = archive.with_segment(repo).get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(read.config_descriptor().digest(), source.config_descriptor().digest());
    assert_eq!(read.config_bytes(), source.config_bytes());
    assert_eq!(diff_ids(&read), diff_ids(&source));
    for (layer, diff_id) in read.layers().iter().zip(diff_ids(&source)) {
        assert_eq!(Digest::sha256(&read.blob_bytes(layer).await.unwrap()).to_string(), diff_id);
    }
    let raw = skopeo(&["inspect", "--raw", &format!("docker-archive:{}", path.display())]).await;
    let ours = String::from_utf8_lossy(read.raw_manifest().bytes());
    assert_eq!(skopeo_manifest(&raw), ours, "the manifest skopeo makes for its own archive");

    let events: Events = Arc::default();
    let back = client(&registry, "arc/back", Some(events.clone()));
    back.push_image("v1", &read).await.unwrap();
    let mut blobs: Vec<Digest> = read.layers().iter().map(|l| Digest::parse(l.digest().as_ref()).unwrap()).collect();
    blobs.push(Digest::parse(read.config_descriptor().digest().as_ref()).unwrap());
    assert_each_blob_once(&events, &blobs);
    let pushed = back.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(pushed.digest(), read.digest());
    assert_eq!(diff_ids(&pushed), diff_ids(&source));
}

/// Our oci-archive (a two-platform index and an image): skopeo reads the exact index bytes and copies both to a
/// registry with their digests unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_and_copies_our_oci_archive() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (amd, arm) = (image("amd64", b"amd\n"), image("arm64", b"arm\n"));
    let index = index_of(&[&amd, &arm]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours-oci.tar");
    let mut w = OciArchiveWriter::create(&path).await.unwrap();
    w.add_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    // skopeo 1.9 finds only OCI-typed manifests by name in index.json ("no descriptor found" for a Docker v2
    // one), so the image named on its own is an OCI one.
    let single = ImageBuilder::new().layer(layer_tar("etc/single", b"one\n")).build().unwrap();
    w.add_image("single", &single).await.unwrap();
    w.finish().await.unwrap();

    let raw = skopeo(&["inspect", "--raw", &arg(&path, "oci-archive", "v1")]).await;
    assert_eq!(String::from_utf8_lossy(&raw), String::from_utf8_lossy(index.bytes()), "skopeo reads our index");
    let raw = skopeo(&["inspect", "--raw", &arg(&path, "oci-archive", "single")]).await;
    assert_eq!(String::from_utf8_lossy(&raw), String::from_utf8_lossy(single.raw_manifest().bytes()));

    let dest = format!("docker://{}/arc/oci:v1", registry.host());
    skopeo_copy(&["--all", "--preserve-digests"], &arg(&path, "oci-archive", "v1"), &dest).await;
    let copied = client(&registry, "arc/oci", None);
    assert_eq!(&copied.get_digest("v1").await.unwrap(), index.digest());
    for want in [&amd, &arm] {
        let got = copied.get_image("v1", ImageOptions::default().platform(want.platform())).await.unwrap();
        assert_eq!(got.digest(), want.digest());
    }
}

/// skopeo's oci-archive of a registry index (`copy --all`): we read the index and its images with their digests
/// unchanged, and push the index back to a registry moving each blob once.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_skopeos_oci_archive_and_push_it() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (amd, arm) = (image("amd64", b"amd two\n"), image("arm64", b"arm two\n"));
    let index = index_of(&[&amd, &arm]).unwrap();
    client(&registry, "arc/multi", None).push_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skopeo-oci.tar");
    let from = format!("docker://{}/arc/multi:v1", registry.host());
    skopeo_copy(&["--all", "--preserve-digests"], &from, &arg(&path, "oci-archive", "v1")).await;

    let archive = OciArchive::open(&path).await.unwrap();
    assert_eq!(archive.list_tags(ListOptions::default()).await.unwrap(), ["v1"]);
    let top = archive.get_manifest("v1").await.unwrap();
    assert_eq!(top.digest(), index.digest());
    assert_eq!(top.bytes(), &index.bytes()[..]);
    let mut children = Vec::new();
    for want in [&amd, &arm] {
        let got = archive.get_image("v1", ImageOptions::default().platform(want.platform())).await.unwrap();
        assert_eq!(got.digest(), want.digest());
        assert_eq!(got.blob_bytes(&got.layers()[1]).await.unwrap(), want.blob_bytes(&want.layers()[1]).await.unwrap());
        children.push(got);
    }

    let events: Events = Arc::default();
    let back = client(&registry, "arc/multi-back", Some(events.clone()));
    back.push_index("v1", &index, &children).await.unwrap();
    assert_eq!(&back.get_digest("v1").await.unwrap(), index.digest());
    let mut blobs: Vec<Digest> = Vec::new();
    for child in &children {
        for d in child.layers().iter().chain(std::iter::once(child.config_descriptor())) {
            let d = Digest::parse(d.digest().as_ref()).unwrap();
            if !blobs.contains(&d) {
                blobs.push(d);
            }
        }
    }
    assert_each_blob_once(&events, &blobs);
}
