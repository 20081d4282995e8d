//! docker-archive and oci-archive without a server: round trips through the writers and the read-only archive
//! clients (images built in memory, a two-platform index), and hostile archives built by hand, each refused with
//! an error naming the archive and the member.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use mocks::FakeClient;
use registry_client::core::manifest::media_type;
use registry_client::{
    index_of, Client, Digest, DockerArchive, DockerArchiveWriter, ErrorKind, Image, ImageBuilder, ImageOptions,
    ListOptions, OciArchive, OciArchiveWriter, Platform,
};
use registry_tests::layers::{gzip, gzip_at, one_file_tar as layer_tar};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------------------------
// content

/// An image with an uncompressed layer `base` and a gzip layer holding `top`.
fn image_with(base: &[u8], top: &[u8], platform: Platform, docker: bool) -> Image {
    let top_tar = layer_tar("top.txt", top);
    let mut b = ImageBuilder::new()
        .layer(layer_tar("base.txt", base))
        .compressed_layer(gzip(&top_tar), media_type::OCI_LAYER_GZIP, Digest::sha256(&top_tar))
        .platform(platform)
        .created("2024-01-01T00:00:00Z");
    if docker {
        b = b.docker_media_types();
    }
    b.build().unwrap()
}

fn diff_ids(image: &Image) -> Vec<String> {
    image.config().rootfs().diff_ids().clone()
}

async fn read_blob(client: &dyn Client, digest: &str, size: u64) -> Bytes {
    let d = Digest::parse(digest).unwrap();
    let pieces: Vec<Bytes> = client.get_blob(&d, size).await.unwrap().try_collect().await.unwrap();
    Bytes::from(pieces.concat())
}

/// The member names of the tar at `path`, in order.
fn members(path: &Path) -> Vec<String> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// round trips

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_round_trip_keeps_config_and_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.tar");
    let a = image_with(b"shared base", b"top of a", Platform::new("linux", "amd64"), true);
    let b = image_with(b"shared base", b"top of b", Platform::new("linux", "arm64"), false);
    let mut w = DockerArchiveWriter::create(&path).await.unwrap();
    w.add_image(&a, &["localhost:5000/org/app:v1", "app:latest"]).await.unwrap();
    w.add_image(&b, &["app:v2"]).await.unwrap();
    w.add_image(&b, &["app:latest"]).await.unwrap(); // the tag moves to b
    assert!(!path.exists(), "nothing at the path before finish");
    w.finish().await.unwrap();

    let names = members(&path);
    let layer_files: Vec<&String> = names.iter().filter(|n| n.len() == 68 && n.ends_with(".tar")).collect();
    assert_eq!(layer_files.len(), 3, "the shared base is written once: {names:?}");
    assert_eq!(&names[names.len() - 2..], ["manifest.json", "repositories"], "index files last");

    let archive = DockerArchive::open(&path).await.unwrap();
    assert_eq!(archive.list_repositories(ListOptions::default()).await.unwrap(), ["app", "localhost:5000/org/app"]);
    assert_eq!(
        archive.with_segment("localhost:5000").list_repositories(ListOptions::default()).await.unwrap(),
        ["org/app"]
    );
    let app = archive.with_segment("app");
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), ["latest", "v2"]);
    assert_eq!(app.get_registry(), format!("docker-archive:{}:app", path.display()));

    for (client, tag, source) in [
        (archive.with_segment("localhost:5000/org/app"), "v1", &a),
        (archive.with_segment("localhost:5000").with_segment("org").with_segment("app"), "v1", &a),
        (app.clone(), "v2", &b),
        (app.clone(), "latest", &b),
    ] {
        let image = client.get_image(tag, ImageOptions::default()).await.unwrap();
        assert_eq!(image.media_type(), media_type::DOCKER_MANIFEST);
        assert_eq!(image.config_descriptor().digest(), source.config_descriptor().digest(), "{tag}");
        assert_eq!(image.config_bytes(), source.config_bytes());
        assert_eq!(diff_ids(&image), diff_ids(source));
        for (layer, diff_id) in image.layers().iter().zip(diff_ids(source)) {
            assert_eq!(layer.digest().to_string(), diff_id, "a layer's digest is its diff_id");
            assert_eq!(layer.media_type().to_string(), media_type::DOCKER_LAYER_TAR);
            let data = image.blob_bytes(layer).await.unwrap();
            assert_eq!(Digest::sha256(&data).to_string(), diff_id, "the layer is stored uncompressed");
        }
        assert_ne!(image.digest(), source.digest(), "a docker-archive has no manifest: its digest cannot survive");
    }
    assert_eq!(archive.images().len(), 2);
    let untagged = &archive.images()[0];
    let by_digest = archive.get_manifest(&format!("@{}", untagged.manifest_digest)).await.unwrap();
    assert_eq!(by_digest.as_image().unwrap().config().digest().to_string(), untagged.config_digest.to_string());
    assert_eq!(untagged.repo_tags, ["localhost:5000/org/app:v1"], "latest moved to the second image");

    let repositories: Value = {
        let index = members(&path);
        assert!(index.contains(&"repositories".to_string()));
        let mut a = tar::Archive::new(std::fs::File::open(&path).unwrap());
        let mut entry =
            a.entries().unwrap().map(|e| e.unwrap()).find(|e| e.path().unwrap().ends_with("repositories")).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut entry, &mut s).unwrap();
        serde_json::from_str(&s).unwrap()
    };
    let top = repositories["app"]["v2"].as_str().unwrap();
    assert!(names.contains(&format!("{top}/layer.tar")), "repositories names a layer directory: {names:?}");
    assert_eq!(repositories["app"]["latest"], repositories["app"]["v2"]);

    for e in [
        app.push_image("x", &a).await.unwrap_err(),
        app.delete_tag("v2").await.unwrap_err(),
        app.tag_image("v2", "v3").await.unwrap_err(),
        app.push_index("x", &index_of(&[&a]).unwrap(), std::slice::from_ref(&a)).await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("read-only") && e.to_string().contains("docker-archive:"), "{e}");
    }
    let e = app.get_image("nope", ImageOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        archive.with_segment("Bad Name").list_tags(ListOptions::default()).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_archive_round_trip_keeps_every_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oci.tar");
    let amd = image_with(b"amd base", b"amd top", Platform::new("linux", "amd64"), false);
    let arm = image_with(b"arm base", b"arm top", Platform::new("linux", "arm64").with_variant("v8"), false);
    let index = index_of(&[&amd, &arm]).unwrap();
    let single = image_with(b"amd base", b"other", Platform::new("linux", "amd64"), true);
    let mut w = OciArchiveWriter::create(&path).await.unwrap();
    w.add_index("v1", &index, &[arm.clone(), amd.clone()]).await.unwrap();
    w.add_image("single", &single).await.unwrap();
    w.add_image("example.com/app:v2", &single).await.unwrap();
    w.add_image("moved", &amd).await.unwrap();
    w.add_image("moved", &arm).await.unwrap();
    let e = w.add_image("not a tag!", &amd).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    w.finish().await.unwrap();
    let names = members(&path);
    assert_eq!(&names[names.len() - 2..], ["oci-layout", "index.json"]);
    let blobs = names.iter().filter(|n| n.starts_with("blobs/sha256/")).count();
    // amd: 2 layers + config + manifest; arm: 4; index; single: new top layer, config, manifest (base shared).
    assert_eq!(blobs, 4 + 4 + 1 + 3, "each blob once: {names:?}");

    let archive = OciArchive::open(&path).await.unwrap();
    let top = archive.get_manifest("v1").await.unwrap();
    assert_eq!(top.digest(), index.digest());
    assert_eq!(top.bytes(), &index.bytes()[..], "the index keeps its exact bytes");
    assert_eq!(archive.list_tags(ListOptions::default()).await.unwrap(), ["moved", "single", "v1"]);
    assert_eq!(archive.get_digest("moved").await.unwrap(), *arm.digest(), "a tag given again moves");
    assert_eq!(archive.list_repositories(ListOptions::default()).await.unwrap(), ["example.com/app"]);
    assert_eq!(archive.with_segment("example.com/app").get_digest("v2").await.unwrap(), *single.digest());
    let picked =
        archive.get_image("v1", ImageOptions::default().platform(Platform::new("linux", "arm64"))).await.unwrap();
    assert_eq!(picked.digest(), arm.digest());
    for layer in picked.layers() {
        assert_eq!(picked.blob_bytes(layer).await.unwrap(), arm.blob_bytes(layer).await.unwrap());
    }
    let one = archive.get_image("single", ImageOptions::default()).await.unwrap();
    assert_eq!(one.digest(), single.digest());
    assert_eq!(one.media_type(), media_type::DOCKER_MANIFEST);
    let child = archive.get_manifest(&format!("@{}", amd.digest())).await.unwrap();
    assert_eq!(child.bytes(), &amd.raw_manifest().bytes()[..]);
    assert_eq!(archive.index_json().as_index().unwrap().manifests().len(), 4);
    let gz = &amd.layers()[1];
    assert_eq!(read_blob(&archive, gz.digest().as_ref(), gz.size()).await, amd.blob_bytes(gz).await.unwrap());
    let e = archive.get_blob(&Digest::parse(gz.digest().as_ref()).unwrap(), gz.size() + 1).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "a wrong size is refused: {e}");

    // From the archive to a registry (the fake): the same digests there.
    let fake = FakeClient::new("registry.example.com");
    let target = fake.with_segment("copied");
    target
        .push_index(
            "v1",
            &index,
            &[archive.get_image(&format!("@{}", amd.digest()), ImageOptions::default()).await.unwrap(), picked],
        )
        .await
        .unwrap();
    assert_eq!(target.get_digest("v1").await.unwrap(), *index.digest());
    let back = target.get_image("v1", ImageOptions::default().platform(Platform::new("linux", "amd64"))).await.unwrap();
    assert_eq!(back.blob_bytes(&back.layers()[0]).await.unwrap(), amd.blob_bytes(&amd.layers()[0]).await.unwrap());
}

/// A source that does not verify: every blob is that many `x` bytes.
#[derive(Debug)]
struct Forged;

#[registry_client::async_trait]
impl registry_client::BlobSource for Forged {
    async fn open(&self, _digest: &Digest, size: u64) -> registry_client::Result<registry_client::ByteStream> {
        let bytes = Bytes::from(vec![b'x'; usize::try_from(size).unwrap()]);
        Ok(Box::pin(futures::stream::once(async move { Ok(bytes) })))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oci_archive_writer_checks_each_blob_it_copies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.tar");
    let good = image_with(b"a", b"b", Platform::new("linux", "amd64"), false);
    let forged = Image::from_parts(good.raw_manifest().clone(), good.config_bytes().clone(), Arc::new(Forged)).unwrap();
    let mut w = OciArchiveWriter::create(&path).await.unwrap();
    let e = w.add_image("v1", &forged).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("oci-archive:") && shown.contains(good.layers()[0].digest().as_ref()), "{shown}");
    assert!(!path.exists(), "nothing at the destination");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_leaves_the_destination_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.tar");
    std::fs::write(&path, b"the old archive").unwrap();
    let inner = layer_tar("f", b"data");
    let liar = ImageBuilder::new()
        .compressed_layer(gzip(&inner), media_type::OCI_LAYER_GZIP, Digest::sha256(b"not the tar"))
        .build()
        .unwrap();
    let mut w = DockerArchiveWriter::create(&path).await.unwrap();
    let e = w.add_image(&liar, &["app:v1"]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.to_string().contains("diff_id"), "{e}");
    let again = w.add_image(&image_with(b"a", b"b", Platform::new("linux", "amd64"), false), &[]).await.unwrap_err();
    assert!(again.to_string().contains("earlier failure"), "{again}");
    assert!(w.finish().await.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"the old archive");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    let mut w = DockerArchiveWriter::create(&path).await.unwrap();
    for bad in ["app", "app:", "Bad/App:v1", "app@sha256:abc"] {
        let e = w.add_image(&liar, &[bad]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// hostile archives

/// A tar of `members` written byte by byte: names as given (`..` and absolute ones included), regular files.
fn raw_tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    raw_tar_with_links(members, &[])
}

/// [`raw_tar`], then the symbolic links `links` (name, target).
fn raw_tar_with_links(members: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_link_name(target).unwrap();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
    }
    for (name, data) in members {
        let mut h = tar::Header::new_ustar();
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn config_with(diff_ids: &[Digest]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ids}}))
        .unwrap()
}

async fn docker_open_err(dir: &Path, name: &str, tar: &[u8]) -> registry_client::Error {
    let path = dir.join(name);
    std::fs::write(&path, tar).unwrap();
    DockerArchive::open(&path).await.err().unwrap_or_else(|| panic!("{name} opened"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_docker_archives_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let layer = layer_tar("f", b"layer");
    let diff = Digest::sha256(&layer);
    let config = config_with(std::slice::from_ref(&diff));
    let manifest = |cfg: &str, layers: &[&str]| {
        serde_json::to_vec(&json!([{"Config": cfg, "RepoTags": ["app:v1"], "Layers": layers}])).unwrap()
    };
    let good = manifest("c.json", &["l.tar"]);
    let cases: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
        ("not-a-tar", b"this is not a tar archive at all".repeat(40), ErrorKind::InvalidInput, ""),
        ("no-manifest", raw_tar(&[("c.json", &config)]), ErrorKind::InvalidInput, "manifest.json"),
        ("not-json", raw_tar(&[("manifest.json", b"{nope")]), ErrorKind::InvalidInput, "manifest.json"),
        ("huge-manifest", raw_tar(&[("manifest.json", &vec![b' '; 9 << 20])]), ErrorKind::InvalidInput, "byte limit"),
        (
            "escape",
            raw_tar(&[("manifest.json", &manifest("../c.json", &["l.tar"])), ("c.json", &config)]),
            ErrorKind::InvalidInput,
            "climbs out",
        ),
        (
            "absolute",
            raw_tar(&[("manifest.json", &manifest("c.json", &["/etc/l.tar"])), ("c.json", &config)]),
            ErrorKind::InvalidInput,
            "/etc/l.tar",
        ),
        (
            "missing-layer",
            raw_tar(&[("manifest.json", &good), ("c.json", &config)]),
            ErrorKind::InvalidInput,
            "\"l.tar\"",
        ),
        (
            "duplicate",
            raw_tar(&[("manifest.json", &good), ("./manifest.json", &good), ("c.json", &config), ("l.tar", &layer)]),
            ErrorKind::InvalidInput,
            "appears 2 times",
        ),
        (
            "count",
            raw_tar(&[
                ("manifest.json", &manifest("c.json", &["l.tar", "l.tar"])),
                ("c.json", &config),
                ("l.tar", &layer),
            ]),
            ErrorKind::InvalidInput,
            "2 layers",
        ),
        (
            "bad-config",
            raw_tar(&[("manifest.json", &good), ("c.json", b"[]"), ("l.tar", &layer)]),
            ErrorKind::InvalidInput,
            "diff_ids",
        ),
        (
            "bad-tag",
            raw_tar(&[
                (
                    "manifest.json",
                    &serde_json::to_vec(&json!([{"Config": "c.json", "RepoTags": ["app"], "Layers": ["l.tar"]}]))
                        .unwrap(),
                ),
                ("c.json", &config),
                ("l.tar", &layer),
            ]),
            ErrorKind::InvalidInput,
            "\"app\"",
        ),
        (
            "layer-not-a-tar",
            raw_tar(&[("manifest.json", &good), ("c.json", &config), ("l.tar", &b"plain text, no tar".repeat(40))]),
            ErrorKind::InvalidInput,
            "layer \"l.tar\" is no tar archive",
        ),
        (
            "lying-gzip",
            raw_tar(&[("manifest.json", &good), ("c.json", &config), ("l.tar", &gzip(b"other"))]),
            ErrorKind::DigestMismatch,
            "diff_id",
        ),
    ];
    for (name, tar, kind, says) in cases {
        let e = docker_open_err(dir.path(), name, &tar).await;
        assert_eq!(e.kind(), kind, "{name}: {e}");
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("docker-archive:{}", dir.path().join(name).display())),
            "{name} names the archive: {shown}"
        );
        assert!(shown.contains(says), "{name} says {says:?}: {shown}");
    }
    // A PAX header whose size runs past the end of the file (the tar crate takes the PAX size, as GNU tar does).
    let mut pax = Vec::new();
    let record = "18 size=999999999\n";
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeader").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(record.len() as u64);
    h.set_cksum();
    pax.extend_from_slice(h.as_bytes());
    pax.extend_from_slice(record.as_bytes());
    pax.resize(512 * 2, 0);
    pax.extend_from_slice(&raw_tar(&[("manifest.json", &good)]));
    let e = docker_open_err(dir.path(), "pax-size", &pax).await;
    assert!(e.to_string().contains("truncated") && e.to_string().contains("manifest.json"), "{e}");
    // A gzip-compressed archive (docker save | gzip) is named as such.
    let e = docker_open_err(dir.path(), "gzipped", &gzip(&raw_tar(&[("manifest.json", &good)]))).await;
    assert!(e.to_string().contains("compressed"), "{e}");
    // Truncated inside the layer's data.
    let whole = raw_tar(&[("manifest.json", &good), ("c.json", &config), ("l.tar", &layer)]);
    let e = docker_open_err(dir.path(), "truncated", &whole[..whole.len() - 1024 - 600]).await;
    assert!(e.to_string().contains("truncated") && e.to_string().contains("l.tar"), "{e}");
    assert_eq!(
        DockerArchive::open(dir.path().join("absent.tar")).await.err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );

    // A layer that lies about its diff_id opens (layers are not read at open) and fails when read.
    let liar = raw_tar(&[("manifest.json", &good), ("c.json", &config), ("l.tar", &layer_tar("f", b"other"))]);
    let path = dir.path().join("liar.tar");
    std::fs::write(&path, liar).unwrap();
    let archive = DockerArchive::open(&path).await.unwrap();
    let image = archive.with_segment("app").get_image("v1", ImageOptions::default()).await.unwrap();
    let e = image.blob_bytes(&image.layers()[0]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.to_string().contains("l.tar"), "names the member: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_oci_archives_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with(b"x", b"y", Platform::new("linux", "amd64"), false);
    let m = image.raw_manifest();
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let entry = |size: u64| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{"mediaType": m.media_type(), "digest": m.digest().to_string(), "size": size, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]})).unwrap()
    };
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let (mblob, good) = (blob(m.digest()), entry(m.size()));
    let cases: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
        ("no-layout", raw_tar(&[("index.json", &good), (&mblob, m.bytes())]), ErrorKind::InvalidInput, "oci-layout"),
        (
            "not-json",
            raw_tar(&[("oci-layout", layout), ("index.json", b"<html>")]),
            ErrorKind::InvalidInput,
            "index.json",
        ),
        (
            "missing-blob",
            raw_tar(&[("oci-layout", layout), ("index.json", &good)]),
            ErrorKind::InvalidInput,
            "not in the archive",
        ),
        (
            "size",
            raw_tar(&[("oci-layout", layout), ("index.json", &entry(m.size() + 7)), (&mblob, m.bytes())]),
            ErrorKind::DigestMismatch,
            &mblob,
        ),
        (
            "version",
            raw_tar(&[("oci-layout", br#"{"imageLayoutVersion":"9.0"}"#), ("index.json", &good)]),
            ErrorKind::Unsupported,
            "9.0",
        ),
    ];
    for (name, tar, kind, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, tar).unwrap();
        let e = OciArchive::open(&path).await.err().unwrap_or_else(|| panic!("{name} opened"));
        assert_eq!(e.kind(), kind, "{name}: {e}");
        assert!(e.to_string().contains("oci-archive:") && e.to_string().contains(says), "{name}: {e}");
    }
    // A manifest blob whose bytes are not its digest: opens, and get_manifest says so.
    let mut forged = m.bytes().to_vec();
    let n = forged.len();
    forged[n - 2] = b' ';
    let path = dir.path().join("forged");
    std::fs::write(&path, raw_tar(&[("oci-layout", layout), ("index.json", &good), (&mblob, &forged)])).unwrap();
    let archive = OciArchive::open(&path).await.unwrap();
    let e = archive.get_manifest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.to_string().contains(&mblob), "{e}");
    let _ = Arc::new(archive);
}

// ---------------------------------------------------------------------------------------------------------------
// other writers' layouts

/// `docker save` before docker 25: layers as `<id>/layer.tar`, one of them a symbolic link to a file elsewhere in
/// the archive (as docker writes repeated layers and skopeo writes every layer), config as `<hex>.json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_classic_docker_save_layout_with_linked_layers() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (layer_tar("one", b"1"), layer_tar("two", b"2"));
    let diffs = [Digest::sha256(&one), Digest::sha256(&two)];
    let config = config_with(&diffs);
    let cfg = format!("{}.json", Digest::sha256(&config).hex());
    let manifest = serde_json::to_vec(
        &json!([{"Config": cfg, "RepoTags": ["busybox:latest"], "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]),
    )
    .unwrap();
    let tar = raw_tar_with_links(
        &[("manifest.json", &manifest), (&cfg, &config), ("aaa/layer.tar", &one), ("b.tar", &two)],
        &[("bbb/layer.tar", "../b.tar")],
    );
    let path = dir.path().join("classic.tar");
    std::fs::write(&path, tar).unwrap();
    let archive = DockerArchive::open(&path).await.unwrap();
    let image = archive.with_segment("busybox").get_image("latest", ImageOptions::default()).await.unwrap();
    assert_eq!(image.config_descriptor().digest().to_string(), Digest::sha256(&config).to_string());
    assert_eq!(image.blob_bytes(&image.layers()[1]).await.unwrap(), two, "read through the link");
    assert_eq!(image.layers()[0].size(), one.len() as u64);
}

/// `docker save` of docker 25 and later: an OCI layout (`oci-layout`, `index.json`, `blobs/sha256/..`) with
/// `manifest.json` naming blob paths. Read as a docker-archive (from `manifest.json`) and as an oci-archive (from
/// `index.json`, where the manifest keeps its digest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_docker_25_save_layout_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let image = ImageBuilder::new().layer(layer_tar("f", b"docker 25")).build().unwrap();
    let blob = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    let layer = &image.layers()[0];
    let (lpath, cpath, mpath) = (
        blob(layer.digest().as_ref()),
        blob(image.config_descriptor().digest().as_ref()),
        blob(image.digest().as_ref()),
    );
    let layer_bytes = image.blob_bytes(layer).await.unwrap();
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": [{
        "mediaType": media_type::OCI_MANIFEST, "digest": image.digest().to_string(), "size": image.raw_manifest().size(),
        "annotations": {"io.containerd.image.name": "docker.io/library/app:v1", "org.opencontainers.image.ref.name": "v1"}
    }]}))
    .unwrap();
    let manifest = serde_json::to_vec(&json!([{"Config": cpath, "RepoTags": ["app:v1"], "Layers": [lpath]}])).unwrap();
    let tar = raw_tar(&[
        (&lpath, &layer_bytes),
        (&cpath, image.config_bytes()),
        (&mpath, image.raw_manifest().bytes()),
        ("index.json", &index),
        ("manifest.json", &manifest),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        ("repositories", br#"{"app":{"v1":"x"}}"#),
    ]);
    let path = dir.path().join("docker25.tar");
    std::fs::write(&path, tar).unwrap();
    let as_docker = DockerArchive::open(&path).await.unwrap();
    let read = as_docker.with_segment("app").get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(read.config_bytes(), image.config_bytes());
    assert_eq!(diff_ids(&read), diff_ids(&image));
    let as_oci = OciArchive::open(&path).await.unwrap();
    let read = as_oci.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(read.digest(), image.digest());
    assert_eq!(read.blob_bytes(&read.layers()[0]).await.unwrap(), layer_bytes);
}

/// A layer that expands past the writer's cap of uncompressed bytes is refused, and written under the default
/// limits (the ratio cap starts 256 MiB into a layer); its size (not known until decompressed) is patched into its
/// tar header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_decompression_limits_apply() {
    let dir = tempfile::tempdir().unwrap();
    let inner = layer_tar("zeros", &vec![0u8; 24 << 20]);
    let image = ImageBuilder::new()
        .compressed_layer(
            gzip_at(&inner, flate2::Compression::best()),
            media_type::OCI_LAYER_GZIP,
            Digest::sha256(&inner),
        )
        .build()
        .unwrap();
    let path = dir.path().join("zeros.tar");
    // 24 MiB of zeros compress about 1000 times: a real layer may hold such a file, so the default ratio cap (from
    // 256 MiB of a layer on) lets it through; a total cap below its size stops it.
    let tight = registry_client::DecompressionLimits::new().max_bytes(8 << 20);
    let mut w = DockerArchiveWriter::create(&path).await.unwrap().decompression_limits(tight);
    let e = w.add_image(&image, &["z:v1"]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("cap of 8388608 bytes"), "{e}");
    assert!(!path.exists(), "nothing at the destination after a failed write");
    let mut w = DockerArchiveWriter::create(&path).await.unwrap();
    w.add_image(&image, &["z:v1"]).await.unwrap();
    w.finish().await.unwrap();
    let archive = DockerArchive::open(&path).await.unwrap();
    let read = archive.with_segment("z").get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(read.layers()[0].size(), inner.len() as u64);
    let mut hasher = registry_client::core::DigestHasher::new(registry_client::core::Algorithm::Sha256);
    let mut stream = read.open_blob(&read.layers()[0]).await.unwrap();
    while let Some(piece) = stream.try_next().await.unwrap() {
        hasher.update(&piece);
    }
    assert_eq!(hasher.finish(), Digest::sha256(&inner));
}

/// Names are compared as docker normalises them (`docker.io/` and `library/` implied), in both archive formats:
/// an image skopeo names `docker.io/trial/app:v1` is reached as `trial/app` too, `ubuntu:22.04` as
/// `docker.io/library/ubuntu`; listings show docker's short names; a miss lists what the archive has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_names_compare_as_docker_normalises_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = image_with(b"base", b"a", Platform::new("linux", "amd64"), true);
    let docker_path = dir.path().join("docker.tar");
    let mut w = DockerArchiveWriter::create(&docker_path).await.unwrap();
    w.add_image(&a, &["docker.io/trial/app:v1", "ubuntu:22.04"]).await.unwrap();
    w.finish().await.unwrap();
    let oci_path = dir.path().join("oci.tar");
    let mut w = OciArchiveWriter::create(&oci_path).await.unwrap();
    w.add_image("docker.io/trial/app:v1", &a).await.unwrap();
    w.add_image("ubuntu:22.04", &a).await.unwrap();
    w.finish().await.unwrap();

    let docker: Arc<dyn Client> = Arc::new(DockerArchive::open(&docker_path).await.unwrap());
    let oci: Arc<dyn Client> = Arc::new(OciArchive::open(&oci_path).await.unwrap());
    for archive in [docker, oci] {
        let label = archive.get_registry();
        assert_eq!(
            archive.list_repositories(ListOptions::default()).await.unwrap(),
            ["trial/app", "ubuntu"],
            "{label}"
        );
        for (repo, tag) in [
            ("trial/app", "v1"),
            ("docker.io/trial/app", "v1"),
            ("ubuntu", "22.04"),
            ("library/ubuntu", "22.04"),
            ("docker.io/library/ubuntu", "22.04"),
        ] {
            let scoped = archive.with_segment(repo);
            let image = scoped.get_image(tag, ImageOptions::default()).await.unwrap();
            assert_eq!(image.config_descriptor().digest(), a.config_descriptor().digest(), "{label} {repo}:{tag}");
            assert_eq!(scoped.list_tags(ListOptions::default()).await.unwrap(), [tag], "{label} {repo}");
        }
        assert_eq!(
            archive.with_segment("docker.io").list_repositories(ListOptions::default()).await.unwrap(),
            ["library/ubuntu", "trial/app"],
            "{label}"
        );
        let e = archive.with_segment("trial/app").get_manifest("v2").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("no tag \"v2\" for trial/app") && e.to_string().contains("its tags: v1"), "{e}");
        let e = archive.list_tags(ListOptions::default()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("its repositories: trial/app, ubuntu"), "{e}");
        let e = archive.with_segment("other/app").get_manifest("v1").await.unwrap_err();
        assert!(e.to_string().contains("names no image other/app (its repositories: trial/app, ubuntu)"), "{e}");
        // A repo:tag name given as a tag says how to reach it, naming the archive.
        let e = archive.get_manifest("trial/app:v1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(&label) && e.to_string().contains("with_segment(\"trial/app\")"), "{e}");
    }
}
