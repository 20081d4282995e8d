//! Helpers of the image command tests (`images.rs`, `images_mutate.rs`): tars read into path maps, layers applied
//! by hand as the OCI image spec says, the layers the tests build, and skopeo's download of an image's layers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/tests/extract_support/tar_bytes.rs"]
pub(crate) mod tar_bytes;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use registry_client::{Image, ImageBuilder};
use registry_tests::skopeo::skopeo;
use serde_json::Value;
use tar_bytes::{Head, Tar, REGULAR};

/// One path of a flattened filesystem: its tar type byte, permission bits, contents and link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) kind: u8,
    pub(crate) mode: u32,
    pub(crate) data: Vec<u8>,
    pub(crate) link: String,
}

/// `name` as a path key: no `./` in front, no `/` behind.
pub(crate) fn key(name: &str) -> String {
    name.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// Every entry of the tar `bytes`, in order.
pub(crate) fn entries(bytes: &[u8]) -> Vec<(String, Node)> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = key(&String::from_utf8_lossy(&entry.path_bytes()));
        let header = entry.header();
        let kind = header.entry_type().as_byte();
        let mode = header.mode().unwrap() & 0o7777;
        let link = entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((name, Node { kind, mode, data, link }));
    }
    out
}

/// A flattened tar as a map (each path once, as `regcli export` promises).
pub(crate) fn tree(bytes: &[u8]) -> BTreeMap<String, Node> {
    let list = entries(bytes);
    let map: BTreeMap<String, Node> = list.iter().cloned().collect();
    assert_eq!(map.len(), list.len(), "a path appears twice in the export");
    map
}

/// The layers applied base first by hand, as the OCI image spec's "Representing Changes" says: `.wh.NAME`
/// removes NAME (and what is under it) from the layers below, `.wh..wh..opq` empties its directory below, a later
/// entry replaces an earlier one.
pub(crate) fn apply(layers: &[Vec<u8>]) -> BTreeMap<String, Node> {
    let mut fs: BTreeMap<String, Node> = BTreeMap::new();
    for layer in layers {
        let list = entries(layer);
        for (name, _) in &list {
            let (dir, base) = match name.rsplit_once('/') {
                Some((dir, base)) => (format!("{dir}/"), base),
                None => (String::new(), name.as_str()),
            };
            if base == ".wh..wh..opq" {
                fs.retain(|path, _| !(path.starts_with(&dir) && path.len() > dir.len()));
            } else if let Some(gone) = base.strip_prefix(".wh.") {
                let gone = format!("{dir}{gone}");
                fs.retain(|path, _| path != &gone && !path.starts_with(&format!("{gone}/")));
            }
        }
        for (name, node) in list {
            let base = name.rsplit('/').next().unwrap_or(&name);
            if !base.starts_with(".wh.") {
                fs.insert(name, node);
            }
        }
    }
    fs
}

/// A base layer and an upper one that changes a file, deletes one (whiteout) and empties a directory (opaque).
pub(crate) fn two_layers() -> Vec<Vec<u8>> {
    let tool = Head { mode: 0o755, ..Head::new(b"bin/tool", REGULAR) };
    let base = Tar::new()
        .dir(b"bin")
        .entry(tool, b"#!/bin/sh\necho tool\n")
        .dir(b"etc")
        .file(b"etc/a", b"one")
        .file(b"etc/gone", b"deleted above")
        .dir(b"opt")
        .file(b"opt/old", b"emptied above")
        .symlink(b"link", b"etc/a")
        .finish();
    let top = Tar::new()
        .file(b"etc/a", b"two")
        .file(b"etc/.wh.gone", b"")
        .dir(b"opt")
        .file(b"opt/.wh..wh..opq", b"")
        .file(b"opt/new", b"new")
        .finish();
    vec![base, top]
}

pub(crate) fn image_of(layers: &[Vec<u8>]) -> Image {
    layers.iter().fold(ImageBuilder::new(), |b, l| b.layer(l.clone())).label("base", "yes").build().unwrap()
}

/// The layers of `reference` as skopeo downloads them (`skopeo copy docker://.. dir:D`), in manifest order.
pub(crate) async fn skopeo_layers(reference: &str, into: &Path) -> Vec<Vec<u8>> {
    let dir = format!("dir:{}", into.display());
    skopeo(&["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", &format!("docker://{reference}"), &dir])
        .await;
    let manifest: Value = serde_json::from_slice(&fs::read(into.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    layers
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap();
            fs::read(into.join(digest.trim_start_matches("sha256:"))).unwrap()
        })
        .collect()
}

pub(crate) fn node<'a>(tree: &'a BTreeMap<String, Node>, path: &str) -> &'a Node {
    tree.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", tree.keys().collect::<Vec<_>>()))
}

/// stderr (or a pty's text) for an assertion message, cut to a few KiB (a run whose stdout is a tar).
pub(crate) fn shown_tar_run(stderr: &str) -> String {
    stderr.chars().take(4000).collect()
}
