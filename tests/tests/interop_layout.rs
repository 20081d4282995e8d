//! `LayoutClient` and skopeo's `oci:` transport, with the real `docker-registry`: what we write as a layout skopeo
//! reads and copies with the same manifest and index digests, and what skopeo writes as a layout we read with the
//! same digests, two-platform indexes included; and pushes between a layout and a registry move each blob once.
//!
//! Layers are small hand-written uncompressed tar archives; skopeo runs with TLS verification off (plain HTTP on
//! loopback), `--insecure-policy` and `--preserve-digests` (without it, skopeo gzips uncompressed layers on their
//! way to a registry and so rewrites the manifests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use registry_client::{
    index_of, Client, Digest, Image, ImageBuilder, ImageOptions, LayoutClient, ListOptions, Platform, ProgressEvent,
    RemoteClient, TransferOptions,
};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};

/// `skopeo inspect --raw SRC`.
async fn raw(src: &str) -> Vec<u8> {
    skopeo(&["inspect", "--raw", "--tls-verify=false", src]).await
}

/// `skopeo copy --preserve-digests [EXTRA] SRC DEST`, TLS verification off, no policy.
async fn copy(extra: &[&str], src: &str, dest: &str) {
    let mut args = vec!["--insecure-policy", "copy", "--quiet", "--preserve-digests"];
    args.extend_from_slice(&["--src-tls-verify=false", "--dest-tls-verify=false"]);
    args.extend_from_slice(extra);
    args.extend_from_slice(&[src, dest]);
    skopeo(&args).await;
}

/// A ustar archive holding one regular file `name` with `data`.
fn tar_of(name: &str, data: &[u8]) -> Bytes {
    let mut header = [0u8; 512];
    let mut field = |offset: usize, value: &[u8]| header[offset..offset + value.len()].copy_from_slice(value);
    field(0, name.as_bytes());
    field(100, b"0000644\0");
    field(108, b"0000000\0");
    field(116, b"0000000\0");
    field(124, format!("{:011o}\0", data.len()).as_bytes());
    field(136, b"00000000000\0");
    field(148, b"        ");
    field(156, b"0");
    field(257, b"ustar\0");
    field(263, b"00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512) + 1024, 0);
    Bytes::from(out)
}

fn image(platform: Platform, files: &[(&str, &[u8])]) -> Image {
    let mut b = ImageBuilder::new().platform(platform).label("test", "interop-layout");
    for (name, data) in files {
        b = b.layer(tar_of(name, data));
    }
    b.build().unwrap()
}

fn two_platforms() -> (Image, Image) {
    let shared: (&str, &[u8]) = ("shared.txt", b"a layer both platforms have\n");
    let amd = image(Platform::new("linux", "amd64"), &[shared, ("arch", b"amd64\n")]);
    let arm = image(Platform::new("linux", "arm64"), &[shared, ("arch", b"arm64\n"), ("extra", b"arm only\n")]);
    (amd, arm)
}

fn remote(registry: &DockerRegistry, options: TransferOptions) -> Arc<dyn Client> {
    Arc::new(RemoteClient::builder(registry.host()).insecure(true).transfer(options).build().unwrap())
}

async fn layers(image: &Image) -> Vec<Bytes> {
    let mut out = Vec::new();
    for l in image.layers() {
        out.push(image.blob_bytes(l).await.unwrap());
    }
    out
}

fn oci(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

/// An image and a two-platform index written by `LayoutClient`: skopeo reads the same bytes from the layout, and
/// copies both to docker-registry with their digests unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_and_copies_what_we_write() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let root = LayoutClient::open(dir.path()).await.unwrap();
    let app = root.with_segment("org/app");
    let single = image(Platform::new("linux", "arm64"), &[("hello.txt", b"hello from a layout\n")]);
    app.push_image("v1", &single).await.unwrap();
    let (amd, arm) = two_platforms();
    let index = index_of(&[&amd, &arm]).unwrap();
    app.push_index("multi", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    let layout = dir.path().join("org/app");

    assert_eq!(raw(&oci(&layout, "v1")).await, single.raw_manifest().bytes().to_vec(), "skopeo reads our image");
    let config = skopeo(&["inspect", "--config", "--raw", &oci(&layout, "v1")]).await;
    assert_eq!(config, single.config_bytes().to_vec());
    assert_eq!(raw(&oci(&layout, "multi")).await, index.bytes().to_vec(), "skopeo reads our index");

    let dest = remote(&registry, TransferOptions::new()).with_segment("from-layout");
    copy(&[], &oci(&layout, "v1"), &format!("docker://{}/from-layout:v1", registry.host())).await;
    assert_eq!(&dest.get_digest("v1").await.unwrap(), single.digest());
    copy(&["--all"], &oci(&layout, "multi"), &format!("docker://{}/from-layout:multi", registry.host())).await;
    assert_eq!(&dest.get_digest("multi").await.unwrap(), index.digest());
    for want in [&amd, &arm] {
        let got = dest.get_image("multi", ImageOptions::default().platform(want.platform())).await.unwrap();
        assert_eq!(got.digest(), want.digest());
        assert_eq!(layers(&got).await, layers(want).await);
    }
    // A platform of the index, as skopeo resolves it from the layout.
    let arm_only = format!("docker://{}/from-layout:arm-only", registry.host());
    let mut args = vec!["--override-arch", "arm64", "--override-os", "linux", "--insecure-policy", "copy", "--quiet"];
    args.extend_from_slice(&["--preserve-digests", "--dest-tls-verify=false"]);
    let src = oci(&layout, "multi");
    args.extend_from_slice(&[&src, &arm_only]);
    skopeo(&args).await;
    assert_eq!(&dest.get_digest("arm-only").await.unwrap(), arm.digest());
}

/// What skopeo writes as a layout (an image and, with `--all`, a whole index, into one layout), `LayoutClient`
/// reads with the same digests, bytes and platforms; and it keeps skopeo's entries when it writes there itself.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_what_skopeo_writes() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let source = remote(&registry, TransferOptions::new()).with_segment("src");
    let single = image(Platform::new("linux", "amd64"), &[("one.txt", b"one\n"), ("two.txt", b"two\n")]);
    source.push_image("v1", &single).await.unwrap();
    let (amd, arm) = two_platforms();
    let index = index_of(&[&amd, &arm]).unwrap();
    source.push_index("multi", &index, &[amd.clone(), arm.clone()]).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("mirror/src");
    std::fs::create_dir_all(&layout).unwrap();
    copy(&[], &format!("docker://{}/src:v1", registry.host()), &oci(&layout, "v1")).await;
    copy(&["--all"], &format!("docker://{}/src:multi", registry.host()), &oci(&layout, "multi")).await;

    let root = LayoutClient::open(dir.path()).await.unwrap();
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), vec!["mirror/src"]);
    let app = root.with_segment("mirror/src");
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["multi", "v1"]);
    assert_eq!(&app.get_digest("v1").await.unwrap(), single.digest());
    let got = app.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.config_bytes(), single.config_bytes());
    assert_eq!(layers(&got).await, layers(&single).await);
    let m = app.get_manifest("multi").await.unwrap();
    assert!(m.is_index());
    assert_eq!(m.digest(), index.digest());
    for want in [&amd, &arm] {
        let got = app.get_image("multi", ImageOptions::default().platform(want.platform())).await.unwrap();
        assert_eq!(got.digest(), want.digest());
        assert_eq!(layers(&got).await, layers(want).await);
        // A child skopeo stored only as a blob (no index.json entry) is readable by its digest.
        app.check_image_exists(&format!("@{}", want.digest())).await.unwrap();
    }
    // Our write keeps skopeo's entries, and skopeo reads the layout after it.
    app.tag_image("v1", "stable").await.unwrap();
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["multi", "stable", "v1"]);
    assert_eq!(raw(&oci(&layout, "stable")).await, single.raw_manifest().bytes().to_vec());
    assert_eq!(raw(&oci(&layout, "multi")).await, index.bytes().to_vec());
}

/// Counts of progress events per blob, by kind.
#[derive(Default, Debug)]
struct Counts {
    uploads: HashMap<Digest, usize>,
    skipped: HashMap<Digest, usize>,
    downloads: HashMap<Digest, usize>,
}

fn counting() -> (Arc<Mutex<Counts>>, TransferOptions) {
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let sink = counts.clone();
    let options = TransferOptions::new().progress(move |e| {
        let mut c = sink.lock().unwrap();
        match e {
            ProgressEvent::BlobStarted { digest, .. } => *c.uploads.entry(digest.clone()).or_default() += 1,
            ProgressEvent::BlobSkipped { digest, .. } => *c.skipped.entry(digest.clone()).or_default() += 1,
            ProgressEvent::DownloadStarted { digest, .. } => *c.downloads.entry(digest.clone()).or_default() += 1,
            _ => {}
        }
    });
    (counts, options)
}

/// Every distinct blob (layers and configs) of `images`.
fn blobs_of(images: &[&Image]) -> Vec<Digest> {
    let mut all: Vec<Digest> = images
        .iter()
        .flat_map(|i| i.layers().iter().chain([i.config_descriptor()]))
        .map(|d| Digest::parse(d.digest().as_ref()).unwrap())
        .collect();
    all.sort();
    all.dedup();
    all
}

fn layer_blobs(images: &[&Image]) -> Vec<Digest> {
    let mut all: Vec<Digest> =
        images.iter().flat_map(|i| i.layers()).map(|d| Digest::parse(d.digest().as_ref()).unwrap()).collect();
    all.sort();
    all.dedup();
    all
}

/// `push_index` from a layout to docker-registry and back into another layout moves each blob once: the
/// registry client reports one upload per blob (a layer the two platforms share included), none on a second push,
/// and one download per layer on the way back; the layout reports one write per blob.
#[tokio::test(flavor = "multi_thread")]
async fn layout_to_registry_and_back_moves_each_blob_once() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (registry_counts, registry_options) = counting();
    let remote_app = remote(&registry, registry_options).with_segment("moved/app");
    let dir = tempfile::tempdir().unwrap();
    let source = LayoutClient::open(dir.path().join("source")).await.unwrap();
    let (amd, arm) = two_platforms();
    let index = index_of(&[&amd, &arm]).unwrap();
    source.push_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();

    // Layout -> registry: the children as the layout gives them.
    let mut children = Vec::new();
    for p in [amd.platform(), arm.platform()] {
        children.push(source.get_image("v1", ImageOptions::default().platform(p)).await.unwrap());
    }
    remote_app.push_index("v1", &index, &children).await.unwrap();
    let all = blobs_of(&[&amd, &arm]);
    {
        let c = registry_counts.lock().unwrap();
        assert_eq!(c.uploads.keys().cloned().collect::<std::collections::BTreeSet<_>>().len(), all.len(), "{c:?}");
        for d in &all {
            let skipped = c.skipped.get(d).copied().unwrap_or(0);
            assert_eq!(c.uploads.get(d).copied().unwrap_or(0), 1, "{d} uploaded once ({skipped} skips): {c:?}");
        }
    }
    *registry_counts.lock().unwrap() = Counts::default();
    remote_app.push_index("v1", &index, &children).await.unwrap();
    assert!(registry_counts.lock().unwrap().uploads.is_empty(), "a second push uploads nothing");
    assert_eq!(&remote_app.get_digest("v1").await.unwrap(), index.digest());

    // Registry -> another layout.
    *registry_counts.lock().unwrap() = Counts::default();
    let (layout_counts, layout_options) = counting();
    let back = LayoutClient::open_with(dir.path().join("back"), layout_options).await.unwrap();
    let mut pulled = Vec::new();
    for p in [amd.platform(), arm.platform()] {
        pulled.push(remote_app.get_image("v1", ImageOptions::default().platform(p)).await.unwrap());
    }
    back.push_index("v1", &index, &pulled).await.unwrap();
    let pulled_layers = layer_blobs(&[&amd, &arm]);
    {
        let c = registry_counts.lock().unwrap();
        assert_eq!(c.downloads.len(), pulled_layers.len(), "{c:?}");
        for d in &pulled_layers {
            assert_eq!(c.downloads.get(d).copied().unwrap_or(0), 1, "{d} downloaded once: {c:?}");
        }
        let l = layout_counts.lock().unwrap();
        for d in &all {
            assert_eq!(l.uploads.get(d).copied().unwrap_or(0), 1, "{d} written once into the layout: {l:?}");
        }
    }
    assert_eq!(&back.get_digest("v1").await.unwrap(), index.digest());
    for want in [&amd, &arm] {
        let got = back.get_image("v1", ImageOptions::default().platform(want.platform())).await.unwrap();
        assert_eq!(got.digest(), want.digest());
        assert_eq!(layers(&got).await, layers(want).await);
    }
    assert_eq!(raw(&oci(&dir.path().join("back"), "v1")).await, index.bytes().to_vec(), "skopeo reads the copy");
}

/// skopeo's `oci:DIR:repo:tag` names (`example.com/app:v1`, `docker.io/trial/app:v2` in the layout's
/// `index.json`) are read as `OciArchive` reads them: tags of the child scope `repo` (when no layout directory is
/// there), repositories compared as docker normalises them, listed by `list_repositories`; the layout's own tags
/// stay the plain ones; a write to the scope makes its own layout directory.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_skopeos_repo_tag_names() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let source = remote(&registry, TransferOptions::new()).with_segment("src");
    let one = image(Platform::new("linux", "amd64"), &[("one.txt", b"named one\n")]);
    let two = image(Platform::new("linux", "amd64"), &[("two.txt", b"named two\n")]);
    source.push_image("v1", &one).await.unwrap();
    source.push_image("v2", &two).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("l");
    std::fs::create_dir_all(&layout).unwrap();
    copy(&[], &format!("docker://{}/src:v1", registry.host()), &oci(&layout, "example.com/app:v1")).await;
    copy(&[], &format!("docker://{}/src:v2", registry.host()), &oci(&layout, "docker.io/trial/app:v2")).await;
    copy(&[], &format!("docker://{}/src:v1", registry.host()), &oci(&layout, "plain")).await;
    let written = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(written.contains("\"example.com/app:v1\""), "{written}");

    let root = LayoutClient::open(&layout).await.unwrap();
    assert_eq!(root.list_tags(ListOptions::default()).await.unwrap(), vec!["plain"]);
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), vec!["example.com/app", "trial/app"]);
    let app = root.with_segment("example.com/app");
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
    assert_eq!(&app.get_digest("v1").await.unwrap(), one.digest());
    let got = app.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.config_bytes(), one.config_bytes());
    assert_eq!(layers(&got).await, layers(&one).await);
    for name in ["trial/app", "docker.io/trial/app"] {
        let trial = root.with_segment(name);
        assert_eq!(&trial.get_digest("v2").await.unwrap(), two.digest(), "{name}");
        let got = trial.get_image("v2", ImageOptions::default()).await.unwrap();
        assert_eq!(layers(&got).await, layers(&two).await, "{name}");
    }
    let e = app.get_digest("v2").await.unwrap_err();
    assert!(e.is_not_found() && e.to_string().contains(&format!("oci:{}:example.com/app:v2", layout.display())), "{e}");
    let e = root.with_segment("other/app").list_tags(ListOptions::default()).await.unwrap_err();
    assert!(e.is_not_found() && e.has_code("NAME_UNKNOWN"), "{e}");

    // A write goes to the scope's own directory, which then wins.
    app.push_image("v3", &two).await.unwrap();
    assert!(layout.join("example.com/app/oci-layout").is_file());
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v3"]);
    assert_eq!(raw(&oci(&layout.join("example.com/app"), "v3")).await, two.raw_manifest().bytes().to_vec());
}

/// The entries of `dir/index.json`: (digest, ref name) pairs, in file order.
fn index_entries(dir: &Path) -> Vec<(String, Option<String>)> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let name = |m: &serde_json::Value| m["annotations"]["org.opencontainers.image.ref.name"].as_str().map(String::from);
    manifests.iter().map(|m| (m["digest"].as_str().unwrap().to_string(), name(m))).collect()
}

/// A whole index copied by `copy_image` into a layout (its children put by digest first) leaves one top-level
/// entry, so `skopeo inspect oci:DIR` without a tag reads it; the children stay readable by digest; retagging
/// the layout's tag to another index leaves no orphan children at the top; an index copied by digest alone is
/// one untagged entry skopeo reads too.
#[tokio::test(flavor = "multi_thread")]
async fn a_copied_index_is_the_one_top_level_entry_skopeo_reads() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let source = remote(&registry, TransferOptions::new()).with_segment("src");
    let (amd, arm) = two_platforms();
    let index = index_of(&[&amd, &arm]).unwrap();
    source.push_index("multi", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = LayoutClient::open(dir.path()).await.unwrap();
    let opts = registry_client::CopyOptions::default;
    registry_client::copy_image(source.as_ref(), "multi", &layout, "multi", opts()).await.unwrap();

    let entries = index_entries(dir.path());
    assert_eq!(entries, vec![(index.digest().to_string(), Some("multi".to_string()))], "one top-level entry");
    let no_tag = format!("oci:{}", dir.path().display());
    assert_eq!(raw(&no_tag).await, index.bytes().to_vec(), "skopeo reads the layout without a tag");
    for child in [&amd, &arm] {
        let got = layout.get_manifest(&format!("@{}", child.digest())).await.unwrap();
        assert_eq!(got.digest(), child.digest(), "a child is read by digest from its blob");
    }

    // Retag to another index: its children go below it, the old index's tag entry goes.
    let amd2 = image(Platform::new("linux", "amd64"), &[("v2", b"amd64 v2\n")]);
    let arm2 = image(Platform::new("linux", "arm64"), &[("v2", b"arm64 v2\n")]);
    let index2 = index_of(&[&amd2, &arm2]).unwrap();
    source.push_index("multi2", &index2, &[amd2, arm2]).await.unwrap();
    registry_client::copy_image(source.as_ref(), "multi2", &layout, "multi", opts()).await.unwrap();
    let entries = index_entries(dir.path());
    assert_eq!(entries, vec![(index2.digest().to_string(), Some("multi".to_string()))], "no orphans: {entries:?}");
    assert_eq!(raw(&no_tag).await, index2.bytes().to_vec());

    // By digest only, into a fresh layout: one untagged entry.
    let dir2 = tempfile::tempdir().unwrap();
    let untagged = LayoutClient::open(dir2.path()).await.unwrap();
    let by_digest = format!("@{}", index.digest());
    registry_client::copy_image(source.as_ref(), &by_digest, &untagged, &by_digest, opts()).await.unwrap();
    assert_eq!(index_entries(dir2.path()), vec![(index.digest().to_string(), None)]);
    assert_eq!(raw(&format!("oci:{}", dir2.path().display())).await, index.bytes().to_vec());
}
