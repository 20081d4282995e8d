//! `Image::extract_to` end to end: images built in memory from layers written byte by byte, flattened (whiteouts,
//! opaque directories, later layers replacing earlier ones) and unpacked safely into a directory. Beside the
//! extraction directory sits `outside/` with a canary; everything outside the extraction directory must be as it
//! was after each test. The flattener's own behaviour is tested beside it; these tests check the joint: what
//! reaches the disk, and that a hostile layer is refused there too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "extract_support/snapshot.rs"]
mod snapshot;
#[path = "extract_support/tar_bytes.rs"]
mod tar_bytes;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use registry_client::core::manifest::media_type;
use registry_client::{Digest, ErrorKind, ExtractOptions, Image, ImageBuilder};
use snapshot::{snapshot, Node};
use tar_bytes::{Head, Tar, DIRECTORY, REGULAR};

struct Scene {
    tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    before: BTreeMap<PathBuf, Node>,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("canary"), b"canary").unwrap();
        let before = snapshot(tmp.path(), &root);
        Scene { tmp, root, outside, before }
    }

    fn at(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn outside_str(&self) -> String {
        self.outside.to_str().unwrap().to_string()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(self.before, snapshot(self.tmp.path(), &self.root), "something outside changed");
        }
    }
}

fn image(layers: &[Vec<u8>]) -> Image {
    layers.iter().fold(ImageBuilder::new(), |b, layer| b.layer(layer.clone())).build().unwrap()
}

/// Every path under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = snapshot(dir, Path::new(""))
        .into_keys()
        .map(|p| p.strip_prefix(dir).unwrap().to_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_are_applied_in_order_on_disk() {
    let scene = Scene::new();
    let tool = Head { mode: 0o755, ..Head::new(b"usr/bin/tool", REGULAR) };
    let ro = Head { mode: 0o555, ..Head::new(b"ro", DIRECTORY) };
    let base = Tar::new()
        .dir(b"etc")
        .file(b"etc/a", b"one")
        .file(b"etc/b", b"bee")
        .dir(b"opt")
        .file(b"opt/x", b"x")
        .dir(b"usr")
        .dir(b"usr/bin")
        .dir(b"usr/lib")
        .file(b"usr/lib/libc.so", b"libc")
        .symlink(b"lib", b"usr/lib")
        .entry(tool, b"#!/bin/sh\n")
        .hard_link(b"usr/bin/tool2", b"usr/bin/tool")
        .entry(ro, b"")
        .file(b"ro/f", b"read-only dir's file")
        .finish();
    let top = Tar::new()
        .file(b"etc/a", b"two")
        .file(b"etc/.wh.b", b"")
        .dir(b"opt")
        .file(b"opt/.wh..wh..opq", b"")
        .file(b"opt/y", b"y")
        .file(b"new", b"new")
        .finish();
    image(&[base, top]).extract_to(&scene.root).await.unwrap();
    assert_eq!(
        listing(&scene.root),
        [
            "etc",
            "etc/a",
            "lib",
            "new",
            "opt",
            "opt/y",
            "ro",
            "ro/f",
            "usr",
            "usr/bin",
            "usr/bin/tool",
            "usr/bin/tool2",
            "usr/lib",
            "usr/lib/libc.so"
        ]
    );
    assert_eq!(fs::read(scene.at("etc/a")).unwrap(), b"two");
    assert_eq!(fs::read_link(scene.at("lib")).unwrap(), Path::new("usr/lib"));
    let tool = fs::metadata(scene.at("usr/bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o755);
    assert_eq!(fs::metadata(scene.at("usr/bin/tool2")).unwrap().ino(), tool.ino());
    assert_eq!(fs::metadata(scene.at("ro")).unwrap().mode() & 0o7777, 0o555);
    assert_eq!(fs::read(scene.at("ro/f")).unwrap(), b"read-only dir's file");
    fs::set_permissions(scene.at("ro"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_that_escapes_by_name_is_refused() {
    let scene = Scene::new();
    let layer = Tar::new().file(b"ok", b"fine").file(b"../outside/canary", b"pwned").finish();
    let e = image(&[layer]).extract_to(&scene.root).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("../outside/canary"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_a_lower_layers_symlink_is_refused() {
    let scene = Scene::new();
    let outside = scene.outside_str();
    let base = Tar::new().symlink(b"link", outside.as_bytes()).finish();
    let top = Tar::new().file(b"link/canary", b"pwned").file(b"link/new", b"pwned").finish();
    let e = image(&[base, top]).extract_to(&scene.root).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("link"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whiteout_through_a_symlink_removes_nothing_outside() {
    let scene = Scene::new();
    let outside = scene.outside_str();
    let base = Tar::new().symlink(b"d", outside.as_bytes()).finish();
    let top = Tar::new().file(b"d/.wh.canary", b"").finish();
    // Refused or a no-op, the canary stays (checked when the scene drops).
    let _ = image(&[base, top]).extract_to(&scene.root).await;
    assert!(!scene.at("d/.wh.canary").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_lying_about_its_diff_id_is_a_digest_mismatch() {
    let scene = Scene::new();
    let layer = Tar::new().file(b"f", b"real contents").finish();
    let lie = Digest::sha256(b"some other layer");
    let image = ImageBuilder::new().compressed_layer(layer, media_type::OCI_LAYER_TAR, lie).build().unwrap();
    let e = image.extract_to(&scene.root).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    let other = scene.tmp.path().join("unchecked");
    image.extract_to_with(&other, ExtractOptions::new().verify_diff_ids(false)).await.unwrap();
    assert_eq!(fs::read(other.join("f")).unwrap(), b"real contents");
    fs::remove_dir_all(other).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_nodes_are_skipped_by_default() {
    let scene = Scene::new();
    let null = Head { device: (1, 3), mode: 0o666, ..Head::new(b"dev/null", tar_bytes::CHAR_DEVICE) };
    let layer = Tar::new().dir(b"dev").entry(null, b"").file(b"dev/keep", b"k").finish();
    image(&[layer]).extract_to(&scene.root).await.unwrap();
    assert!(fs::symlink_metadata(scene.at("dev/null")).is_err());
    assert_eq!(fs::read(scene.at("dev/keep")).unwrap(), b"k");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_what_reached_the_disk_by_kind() {
    let scene = Scene::new();
    let null = Head { device: (1, 3), mode: 0o666, ..Head::new(b"dev/null", tar_bytes::CHAR_DEVICE) };
    let base = Tar::new()
        .dir(b"etc")
        .file(b"etc/a", b"one")
        .file(b"etc/gone", b"removed above")
        .symlink(b"link", b"etc/a")
        .dir(b"dev")
        .entry(null, b"")
        .finish();
    let top = Tar::new().file(b"etc/.wh.gone", b"").file(b"etc/b", b"three").hard_link(b"etc/c", b"etc/b").finish();
    let summary = image(&[base, top]).extract_to_with_summary(&scene.root, ExtractOptions::new()).await.unwrap();
    assert_eq!(summary.files, 2, "{summary:?}");
    assert_eq!(summary.directories, 2, "{summary:?}");
    assert_eq!(summary.symlinks, 1, "{summary:?}");
    assert_eq!(summary.hard_links, 1, "{summary:?}");
    assert_eq!(summary.nodes, 0, "{summary:?}");
    assert_eq!(summary.skipped, 1, "the device node is skipped: {summary:?}");
    assert_eq!(summary.bytes, 8, "one + three: {summary:?}");
    assert_eq!(summary.entries(), 6, "{summary:?}");
    assert!(!scene.at("etc/gone").exists());
}
