//! Interoperability with `skopeo` (containers/image) against the real `docker-registry`: what `RemoteClient`
//! pushes, skopeo reads and copies byte for byte; what skopeo pushes from an OCI layout, `RemoteClient` reads.
//!
//! Layers are small, hand-written, uncompressed tar archives. Skopeo is always run with TLS verification off
//! (the registry serves plain HTTP on loopback) and `--insecure-policy` (there may be no policy.json).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use registry_client::core::manifest::{media_type, Manifest};
use registry_client::core::Reference;
use registry_client::{index_of, Client, Digest, Image, ImageBuilder, ImageOptions, Platform, RemoteClient};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::{json, Value};

/// `skopeo inspect --raw docker://REF`: the manifest bytes as the registry serves them.
async fn skopeo_raw(image: &str) -> Vec<u8> {
    skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")]).await
}

/// `skopeo [GLOBAL] inspect docker://REF`, parsed.
async fn skopeo_inspect(global: &[&str], image: &str) -> Value {
    let reference = format!("docker://{image}");
    let mut args = global.to_vec();
    args.extend_from_slice(&["inspect", "--tls-verify=false", &reference]);
    let out = skopeo(&args).await;
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("skopeo inspect {image}: not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

/// `skopeo [GLOBAL] copy [EXTRA] SRC DEST` with TLS verification off on both sides and no signature policy.
async fn skopeo_copy(global: &[&str], extra: &[&str], src: &str, dest: &str) {
    let mut args = global.to_vec();
    args.extend_from_slice(&[
        "--insecure-policy",
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]);
    args.extend_from_slice(extra);
    args.extend_from_slice(&[src, dest]);
    skopeo(&args).await;
}

// ---------------------------------------------------------------------------------------------------------------
// content

/// A POSIX ustar archive holding one regular file `name` with `data`: a 512-byte header, the data padded to a
/// multiple of 512, and two zero blocks.
fn tar_of(name: &str, data: &[u8]) -> Bytes {
    assert!(name.len() < 100, "tar name too long: {name}");
    let mut header = [0u8; 512];
    fn field(header: &mut [u8; 512], offset: usize, value: &[u8]) {
        header[offset..offset + value.len()].copy_from_slice(value);
    }
    field(&mut header, 0, name.as_bytes()); // name
    field(&mut header, 100, b"0000644\0"); // mode
    field(&mut header, 108, b"0000000\0"); // uid
    field(&mut header, 116, b"0000000\0"); // gid
    field(&mut header, 124, format!("{:011o}\0", data.len()).as_bytes()); // size
    field(&mut header, 136, b"00000000000\0"); // mtime
    field(&mut header, 148, b"        "); // checksum: spaces while summing
    header[156] = b'0'; // typeflag: regular file
    field(&mut header, 257, b"ustar\0"); // magic
    field(&mut header, 263, b"00"); // version
    field(&mut header, 265, b"root"); // uname
    field(&mut header, 297, b"root"); // gname
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    field(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());

    let mut out = Vec::with_capacity(512 + data.len() + 512 + 1024);
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
    out.resize(out.len() + 1024, 0);
    Bytes::from(out)
}

/// Clients of `repo` (slash-separated) on `registry`: the concrete type, scoped by its builder (for `api()` and
/// `repository()`), and the trait object, scoped segment by segment with `with_segment`.
fn clients(registry: &DockerRegistry, repo: &str) -> (RemoteClient, Arc<dyn Client>) {
    let concrete = RemoteClient::builder(format!("{}/{repo}", registry.host())).insecure(true).build().unwrap();
    let root: Arc<dyn Client> = Arc::new(RemoteClient::builder(registry.host()).insecure(true).build().unwrap());
    let scoped = repo.split('/').fold(root, |c, s| c.with_segment(s));
    assert_eq!(scoped.get_registry(), concrete.get_registry());
    (concrete, scoped)
}

/// The bytes of every layer of `image`, in order.
async fn layer_bytes(image: &Image) -> Vec<Bytes> {
    let mut out = Vec::new();
    for layer in image.layers() {
        out.push(image.blob_bytes(layer).await.unwrap());
    }
    out
}

fn layer_digests(image: &Image) -> Vec<String> {
    image.layers().iter().map(|l| l.digest().to_string()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("expected a string, got {s}")).to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// tests

/// An OCI image pushed by `RemoteClient` is what skopeo reads, and a registry-to-registry `skopeo copy` gives
/// back the same image.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_and_copies_our_oci_image() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (_, client) = clients(&registry, "interop/img");
    let image = ImageBuilder::new()
        .layer(tar_of("hello.txt", b"hello from registry-client\n"))
        .layer(tar_of("etc/motd", b"second layer\n"))
        .label("org.opencontainers.image.title", "interop")
        .platform(Platform::new("linux", "arm64"))
        .created("2024-01-02T03:04:05Z")
        .build()
        .unwrap();
    client.push_image("v1", &image).await.unwrap();
    let source = format!("{}/interop/img:v1", registry.host());

    let raw = skopeo_raw(&source).await;
    assert_eq!(
        raw,
        image.raw_manifest().bytes().to_vec(),
        "skopeo read other manifest bytes than we pushed:\n{}",
        String::from_utf8_lossy(&raw)
    );
    let config = skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &format!("docker://{source}")]).await;
    assert_eq!(config, image.config_bytes().to_vec(), "skopeo read another config");

    let info = skopeo_inspect(&[], &source).await;
    assert_eq!(info["Digest"], image.digest().to_string(), "{info:#}");
    assert_eq!(info["Architecture"], "arm64", "{info:#}");
    assert_eq!(info["Os"], "linux", "{info:#}");
    assert_eq!(info["Labels"], json!({"org.opencontainers.image.title": "interop"}), "{info:#}");
    assert_eq!(strings(&info["Layers"]), layer_digests(&image), "{info:#}");
    assert_eq!(strings(&info["RepoTags"]), ["v1"], "{info:#}");
    assert_eq!(info["Created"], "2024-01-02T03:04:05Z", "{info:#}");

    // Same registry, another repository. `--preserve-digests`: without it skopeo gzips the uncompressed layers
    // on the way to a registry (containers/image compresses for docker:// destinations), which rewrites the
    // manifest and changes its digest.
    let dest = format!("{}/interop/copy:v1", registry.host());
    skopeo_copy(&[], &["--preserve-digests"], &format!("docker://{source}"), &format!("docker://{dest}")).await;

    let (_, copy_client) = clients(&registry, "interop/copy");
    assert_eq!(&copy_client.get_digest("v1").await.unwrap(), image.digest());
    let manifest = copy_client.get_manifest("v1").await.unwrap();
    assert_eq!(manifest.bytes(), &image.raw_manifest().bytes()[..]);
    assert_eq!(manifest.media_type(), media_type::OCI_MANIFEST);
    let copied = copy_client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(copied.digest(), image.digest());
    assert_eq!(copied.config_bytes(), image.config_bytes());
    assert_eq!(copied.platform(), Platform::new("linux", "arm64"));
    assert_eq!(layer_bytes(&copied).await, layer_bytes(&image).await);
}

/// A two-platform index pushed by `RemoteClient`: skopeo reads its bytes, copies it whole with `--all`, and
/// resolves the arm64 entry.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_and_copies_our_index() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (remote, client) = clients(&registry, "interop/multi");
    let amd64 = ImageBuilder::new()
        .layer(tar_of("arch", b"amd64\n"))
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap();
    let arm64 = ImageBuilder::new()
        .layer(tar_of("arch", b"arm64\n"))
        .layer(tar_of("extra", b"only on arm64\n"))
        .platform(Platform::new("linux", "arm64"))
        .build()
        .unwrap();
    client.push_image("amd64", &amd64).await.unwrap();
    client.push_image("arm64", &arm64).await.unwrap();
    let index = index_of(&[&amd64, &arm64]).unwrap();
    let target = Reference::with_tag(remote.repository().unwrap(), "multi").unwrap();
    let pushed = remote.api().put_manifest(&target, index.media_type(), index.bytes().clone()).await.unwrap();
    assert_eq!(&pushed, index.digest());
    assert_eq!(&client.get_digest("multi").await.unwrap(), index.digest());
    let source = format!("{}/interop/multi:multi", registry.host());

    let raw = skopeo_raw(&source).await;
    assert_eq!(raw, index.bytes().to_vec(), "skopeo read another index:\n{}", String::from_utf8_lossy(&raw));

    // Every image of the index, under another repository, with the index's digest kept.
    let dest = format!("{}/interop/multi-copy:multi", registry.host());
    skopeo_copy(&[], &["--all", "--preserve-digests"], &format!("docker://{source}"), &format!("docker://{dest}"))
        .await;
    let (_, copy_client) = clients(&registry, "interop/multi-copy");
    assert_eq!(&copy_client.get_digest("multi").await.unwrap(), index.digest());
    let copied_index = copy_client.get_manifest("multi").await.unwrap();
    assert!(copied_index.is_index());
    assert_eq!(copied_index.bytes(), &index.bytes()[..]);
    for (want, platform) in [(&amd64, Platform::new("linux", "amd64")), (&arm64, Platform::new("linux", "arm64"))] {
        let got = copy_client.get_image("multi", ImageOptions::default().platform(platform.clone())).await.unwrap();
        assert_eq!(got.digest(), want.digest(), "{platform}");
        assert_eq!(got.config_bytes(), want.config_bytes(), "{platform}");
        assert_eq!(layer_bytes(&got).await, layer_bytes(want).await, "{platform}");
    }

    // skopeo picks the arm64 entry when told to. Its "Digest" stays the digest of the manifest the reference
    // names (the index: skopeo 1.9.3 reports the top-level digest even when it resolves a platform), while the
    // architecture, layers and config are the arm64 image's.
    let arm = ["--override-arch", "arm64", "--override-os", "linux"];
    let info = skopeo_inspect(&arm, &source).await;
    assert_eq!(info["Digest"], index.digest().to_string(), "{info:#}");
    assert_eq!(info["Architecture"], "arm64", "{info:#}");
    assert_eq!(info["Os"], "linux", "{info:#}");
    assert_eq!(strings(&info["Layers"]), layer_digests(&arm64), "{info:#}");
    let src_ref = format!("docker://{source}");
    let mut args = arm.to_vec();
    args.extend_from_slice(&["inspect", "--config", "--raw", "--tls-verify=false", &src_ref]);
    assert_eq!(skopeo(&args).await, arm64.config_bytes().to_vec());
    let amd = ["--override-arch", "amd64", "--override-os", "linux"];
    let info = skopeo_inspect(&amd, &source).await;
    assert_eq!(strings(&info["Layers"]), layer_digests(&amd64), "{info:#}");

    // The arm64 child's digest as skopeo resolves it: copying without `--all` copies only the selected image.
    let single = format!("{}/interop/multi-copy:arm64-only", registry.host());
    skopeo_copy(&arm, &["--preserve-digests"], &src_ref, &format!("docker://{single}")).await;
    assert_eq!(&copy_client.get_digest("arm64-only").await.unwrap(), arm64.digest());
    assert!(!copy_client.get_manifest("arm64-only").await.unwrap().is_index());
}

/// The reverse direction: an OCI image layout written here, pushed by `skopeo copy oci:...`, read by
/// `RemoteClient` with the same digest, config and layers.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_what_skopeo_pushes_from_an_oci_layout() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let image = ImageBuilder::new()
        .layer(tar_of("from-layout.txt", b"written by the test, pushed by skopeo\n"))
        .label("source", "oci-layout")
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &image, "v1").await;

    // What skopeo needs to keep the digest: `--preserve-digests`, nothing about the content. Without it,
    // containers/image gzips every uncompressed layer on its way to a docker:// destination (rewriting the
    // manifest: `tar+gzip` layers, new digests), whether or not the layer is a valid tar; and whether it does so
    // also depends on its persistent blob-info cache (/var/lib/containers/cache as root), which lets it mount an
    // uncompressed blob it saw earlier in another repository instead. The layers here are real tar archives
    // anyway, so the image is a valid one.
    let source = format!("oci:{}:v1", dir.path().display());
    let dest = format!("{}/fromskopeo:v1", registry.host());
    skopeo_copy(&[], &["--preserve-digests"], &source, &format!("docker://{dest}")).await;

    let (_, client) = clients(&registry, "fromskopeo");
    assert_eq!(&client.get_digest("v1").await.unwrap(), image.digest());
    let got = client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    assert_eq!(got.raw_manifest().bytes(), image.raw_manifest().bytes());
    assert_eq!(got.config_bytes(), image.config_bytes());
    assert_eq!(got.config(), image.config());
    assert_eq!(layer_bytes(&got).await, layer_bytes(&image).await);
    assert_eq!(skopeo_raw(&dest).await, image.raw_manifest().bytes().to_vec());
}

/// Without `--preserve-digests`, skopeo writes a manifest of its own when pushing an OCI layout (gzipped layers,
/// its own JSON): `RemoteClient` reads that image as it is.
#[tokio::test(flavor = "multi_thread")]
async fn we_read_the_manifest_skopeo_rewrites() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let image = ImageBuilder::new()
        .layer(tar_of("rewritten.txt", b"skopeo compresses this layer\n"))
        .label("source", "oci-layout, converted")
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &image, "v1").await;
    let dest = format!("{}/fromskopeo/converted:v1", registry.host());
    skopeo_copy(&[], &[], &format!("oci:{}:v1", dir.path().display()), &format!("docker://{dest}")).await;

    let raw = skopeo_raw(&dest).await;
    let theirs = Manifest::parse(raw.clone(), None).unwrap();
    let (_, client) = clients(&registry, "fromskopeo/converted");
    assert_eq!(&client.get_digest("v1").await.unwrap(), theirs.digest());
    let got = client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.raw_manifest().bytes().to_vec(), raw);
    assert_ne!(got.digest(), image.digest(), "skopeo kept the manifest: {}", String::from_utf8_lossy(&raw));
    assert_eq!(got.layers().len(), 1);
    assert_eq!(got.layers()[0].media_type().to_string(), media_type::OCI_LAYER_GZIP);
    let layer = got.blob_bytes(&got.layers()[0]).await.unwrap();
    assert_eq!(&layer[..2], &[0x1f, 0x8b], "a tar+gzip layer that is not gzip");
    // The config is kept byte for byte: its diff_ids are of the uncompressed layers, which did not change.
    assert_eq!(got.config_bytes(), image.config_bytes());
    assert_eq!(got.platform(), image.platform());
    assert_eq!(got.config().rootfs().diff_ids(), image.config().rootfs().diff_ids());
    assert_eq!(got.config().config(), image.config().config());
}

/// A Docker v2 schema 2 image pushed by `RemoteClient` is read by skopeo with the same digest and media type.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_our_docker_v2_image() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let (_, client) = clients(&registry, "interop/docker");
    let image = ImageBuilder::new()
        .docker_media_types()
        .layer(tar_of("docker.txt", b"docker media types\n"))
        .label("kind", "docker-v2")
        .build()
        .unwrap();
    assert_eq!(image.media_type(), media_type::DOCKER_MANIFEST);
    client.push_image("v2", &image).await.unwrap();
    let source = format!("{}/interop/docker:v2", registry.host());

    let raw = skopeo_raw(&source).await;
    assert_eq!(raw, image.raw_manifest().bytes().to_vec(), "{}", String::from_utf8_lossy(&raw));
    let parsed = Manifest::parse(raw, None).unwrap();
    assert_eq!(parsed.media_type(), media_type::DOCKER_MANIFEST);
    let info = skopeo_inspect(&[], &source).await;
    assert_eq!(info["Digest"], image.digest().to_string(), "{info:#}");
    assert_eq!(info["Architecture"], "amd64", "{info:#}");
    assert_eq!(info["Os"], "linux", "{info:#}");
    assert_eq!(info["Labels"], json!({"kind": "docker-v2"}), "{info:#}");
    assert_eq!(strings(&info["Layers"]), layer_digests(&image), "{info:#}");
}

/// Write `image` as an OCI image layout in `dir`, tagged `tag` (the `org.opencontainers.image.ref.name`
/// annotation skopeo's `oci:DIR:TAG` looks up).
async fn write_oci_layout(dir: &Path, image: &Image, tag: &str) {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let write_blob = |digest: &Digest, data: &[u8]| {
        assert_eq!(&Digest::sha256(data), digest);
        std::fs::write(blobs.join(digest.hex()), data).unwrap();
    };
    for (layer, data) in image.layers().iter().zip(layer_bytes(image).await) {
        write_blob(&Digest::parse(layer.digest().as_ref()).unwrap(), &data);
    }
    write_blob(&Digest::parse(image.config_descriptor().digest().as_ref()).unwrap(), image.config_bytes());
    write_blob(image.digest(), image.raw_manifest().bytes());
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [{
            "mediaType": image.media_type(),
            "digest": image.digest().to_string(),
            "size": image.raw_manifest().size(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// skopeo copies a multi-platform index into the in-process server and out again; digests stay equal, and our
/// client reads the same index from both ends.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_round_trips_an_index_through_the_in_process_server() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let server = mocks::server::RegistryServer::start().await.unwrap();
    let (remote, _) = clients(&registry, "roundtrip/src");
    let amd64 = ImageBuilder::new()
        .layer(tar_of("arch", b"amd64\n"))
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap();
    let arm64 = ImageBuilder::new()
        .layer(tar_of("arch", b"arm64\n"))
        .platform(Platform::new("linux", "arm64"))
        .build()
        .unwrap();
    let index = index_of(&[&amd64, &arm64]).unwrap();
    remote.push_index("v1", &index, &[amd64.clone(), arm64.clone()]).await.unwrap();

    let src = format!("docker://{}/roundtrip/src:v1", registry.host());
    let mid = format!("docker://{}/roundtrip/mid:v1", server.host());
    let back = format!("docker://{}/roundtrip/back:v1", registry.host());
    skopeo_copy(&[], &["--all", "--preserve-digests"], &src, &mid).await;
    skopeo_copy(&[], &["--all", "--preserve-digests"], &mid, &back).await;

    let in_server: Arc<dyn Client> = Arc::new(RemoteClient::builder(server.host()).insecure(true).build().unwrap());
    let in_server = in_server.with_segment("roundtrip/mid");
    assert_eq!(&in_server.get_digest("v1").await.unwrap(), index.digest(), "index digest in the in-process server");
    let arm = in_server
        .get_image("v1", registry_client::ImageOptions::default().platform(Platform::new("linux", "arm64")))
        .await
        .unwrap();
    assert_eq!(arm.digest(), arm64.digest());
    assert_eq!(layer_bytes(&arm).await, layer_bytes(&arm64).await);
    let (_, back_client) = clients(&registry, "roundtrip/back");
    assert_eq!(&back_client.get_digest("v1").await.unwrap(), index.digest(), "index digest after the round trip");
    assert_eq!(skopeo_raw(&format!("{}/roundtrip/back:v1", registry.host())).await, index.bytes().to_vec());
}
