//! The image commands of `regcli` (`export`, `extract`, `mutate`, `validate`) run as the built binary against the
//! real docker-registry, with skopeo as the independent reader: the exported tar equals the layers applied by hand
//! to what skopeo downloads; extraction writes the expected tree and nothing outside it; a mutated image carries
//! what skopeo reports and moves only its new blobs; a corrupted blob is found by its digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
#[path = "../../tests/tests/extract_support/tar_bytes.rs"]
mod tar_bytes;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use registry_client::{Client, Image, ImageBuilder, LayoutClient};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::Value;
use support::{client, regcli_async, seed_index, shown, stdout};
use tar_bytes::{Head, Tar, REGULAR};

/// One path of a flattened filesystem: its tar type byte, permission bits, contents and link target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: u8,
    mode: u32,
    data: Vec<u8>,
    link: String,
}

/// `name` as a path key: no `./` in front, no `/` behind.
fn key(name: &str) -> String {
    name.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// Every entry of the tar `bytes`, in order.
fn entries(bytes: &[u8]) -> Vec<(String, Node)> {
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
fn tree(bytes: &[u8]) -> BTreeMap<String, Node> {
    let list = entries(bytes);
    let map: BTreeMap<String, Node> = list.iter().cloned().collect();
    assert_eq!(map.len(), list.len(), "a path appears twice in the export");
    map
}

/// The layers applied base first by hand, as the OCI image spec's "Representing Changes" says: `.wh.NAME`
/// removes NAME (and what is under it) from the layers below, `.wh..wh..opq` empties its directory below, a later
/// entry replaces an earlier one.
fn apply(layers: &[Vec<u8>]) -> BTreeMap<String, Node> {
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
fn two_layers() -> Vec<Vec<u8>> {
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

fn image_of(layers: &[Vec<u8>]) -> Image {
    layers.iter().fold(ImageBuilder::new(), |b, l| b.layer(l.clone())).label("base", "yes").build().unwrap()
}

/// The layers of `reference` as skopeo downloads them (`skopeo copy docker://.. dir:D`), in manifest order.
async fn skopeo_layers(reference: &str, into: &Path) -> Vec<Vec<u8>> {
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

fn node<'a>(tree: &'a BTreeMap<String, Node>, path: &str) -> &'a Node {
    tree.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", tree.keys().collect::<Vec<_>>()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_the_layers_applied_as_skopeo_downloads_them_to_a_file_and_to_stdout() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let image = image_of(&two_layers());
    client(&registry.host()).with_segment("org/app").push_image("v1", &image).await.unwrap();
    let reference = format!("{}/org/app:v1", registry.host());
    let tmp = tempfile::tempdir().unwrap();

    let file = tmp.path().join("out").join("app.tar");
    fs::create_dir(tmp.path().join("out")).unwrap();
    let out = regcli_async(&["--insecure", "export", &reference, file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).starts_with(&format!("exported {reference} ({}", image.digest())), "{}", shown(&out));
    let names: Vec<String> = fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["app.tar"], "no temporary file is left beside it");
    let got = tree(&fs::read(&file).unwrap());

    let want = apply(&skopeo_layers(&reference, &tmp.path().join("skopeo")).await);
    // What the layers say happened did (the comparison is not vacuous).
    assert_eq!(node(&want, "etc/a").data, b"two");
    assert!(!want.contains_key("etc/gone") && !want.contains_key("opt/old"), "{:?}", want.keys());
    assert_eq!(node(&want, "bin/tool").mode, 0o755);
    assert_eq!(node(&want, "link").link, "etc/a");
    assert_eq!(got, want, "the export equals the layers skopeo downloaded, applied by hand");

    let out = regcli_async(&["export", &reference, "-", "--insecure"]).await;
    assert!(out.status.success(), "{}", shown_tar_run(&String::from_utf8_lossy(&out.stderr)));
    assert_eq!(tree(&out.stdout), want, "stdout carries the same tar");

    // JSON names the file, the digest and the size.
    let again = tmp.path().join("out").join("again.tar");
    let out = regcli_async(&["--insecure", "--format", "json", "export", &reference, again.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["digest"], image.digest().to_string(), "{json}");
    assert_eq!(json["bytes"], fs::metadata(&again).unwrap().len(), "{json}");
    assert_eq!(json["platform"], "linux/amd64", "{json}");
}

/// stderr (or a pty's text) for an assertion message, cut to a few KiB (a run whose stdout is a tar).
fn shown_tar_run(stderr: &str) -> String {
    stderr.chars().take(4000).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_leaves_no_file_and_a_terminal_gets_no_tar() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    client(&registry.host()).with_segment("org/app").push_image("v1", &image_of(&two_layers())).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("never.tar");
    let missing = format!("{}/org/app:nope", registry.host());
    let out = regcli_async(&["--insecure", "export", &missing, file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("regcli: export ") && err.contains(&missing), "{}", shown(&out));
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written: {}", shown(&out));

    // An existing file is replaced only by a complete tar.
    fs::write(&file, b"keep me").unwrap();
    let out = regcli_async(&["--insecure", "export", &missing, file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(fs::read(&file).unwrap(), b"keep me");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);

    // A directory, or a file in a missing directory, as FILE: usage errors before any request.
    for bad in [tmp.path().to_path_buf(), tmp.path().join("missing").join("x.tar")] {
        let out = regcli_async(&["--insecure", "export", &missing, bad.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("export to "), "{}", shown(&out));
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);

    // stdout a terminal (script(1) gives the command a pty): refused before any request, exit 2 with a hint.
    let command = format!("{} export {}/org/app:v1", support::regcli_path(), registry.host());
    let out = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("script(1) from util-linux");
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stdout is a terminal") && text.contains("redirect"), "{}", shown_tar_run(&text));
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_writes_the_tree_with_modes_and_counts_and_refuses_a_non_empty_dir_without_force() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let image = image_of(&two_layers());
    client(&registry.host()).with_segment("org/app").push_image("v1", &image).await.unwrap();
    let reference = format!("{}/org/app:v1", registry.host());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("new").join("rootfs");
    let root_text = root.to_str().unwrap();

    let out = regcli_async(&["--insecure", "extract", &reference, root_text]).await;
    assert!(out.status.success(), "{}", shown(&out));
    // Files: bin/tool, etc/a, opt/new.
    let want = format!("extracted {reference} ({}) into {root_text}: 3 files", image.digest());
    assert!(stdout(&out).starts_with(&want), "{}", shown(&out));
    assert_eq!(fs::read(root.join("etc/a")).unwrap(), b"two");
    assert_eq!(fs::read(root.join("opt/new")).unwrap(), b"new");
    assert!(!root.join("etc/gone").exists() && !root.join("opt/old").exists());
    assert_eq!(mode(&root.join("bin/tool")), 0o755);
    assert_eq!(mode(&root.join("etc/a")), 0o644);
    assert_eq!(fs::read_link(root.join("link")).unwrap(), Path::new("etc/a"));

    // Not empty now: refused (exit 2), untouched; --force writes over it, keeping what the image does not name.
    fs::write(root.join("etc/a"), b"local edit").unwrap();
    fs::write(root.join("mine"), b"mine").unwrap();
    let out = regcli_async(&["--insecure", "extract", &reference, root_text]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"), "{}", shown(&out));
    assert_eq!(fs::read(root.join("etc/a")).unwrap(), b"local edit");
    let out = regcli_async(&["--insecure", "extract", "--force", &reference, root_text, "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["files"], 3, "{json}");
    assert_eq!(json["symlinks"], 1, "{json}");
    assert_eq!(json["directories"], 3, "bin, etc, opt, each once: {json}");
    assert_eq!(json["skipped"], 0, "{json}");
    assert_eq!(json["bytes"], (b"#!/bin/sh\necho tool\n".len() + 3 + 3) as u64, "{json}");
    assert_eq!(json["digest"], image.digest().to_string(), "{json}");
    assert_eq!(fs::read(root.join("etc/a")).unwrap(), b"two");
    assert_eq!(fs::read(root.join("mine")).unwrap(), b"mine");

    // A file where DIR should be: usage error.
    let out = regcli_async(&["--insecure", "extract", &reference, root.join("mine").to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
}

/// Every path under `dir` (relative), sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_of_a_hostile_layer_writes_nothing_outside_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("canary"), b"canary").unwrap();
    let layout = tmp.path().join("layout");
    let store = LayoutClient::open(&layout).await.unwrap();
    let escape = Tar::new().file(b"ok", b"fine").file(b"../outside/escaped", b"pwned").finish();
    store.push_image("escape", &ImageBuilder::new().layer(escape).build().unwrap()).await.unwrap();
    let abs = outside.to_str().unwrap().as_bytes().to_vec();
    let through = vec![
        Tar::new().symlink(b"abs", &abs).finish(),
        Tar::new().file(b"abs/canary", b"pwned").file(b"abs/new", b"pwned").finish(),
    ];
    store.push_image("through", &image_of(&through)).await.unwrap();
    let kept = Tar::new().symlink(b"etc-link", &abs).file(b"plain", b"p").finish();
    store.push_image("kept", &ImageBuilder::new().layer(kept).build().unwrap()).await.unwrap();
    let layout_text = layout.to_str().unwrap();

    for (tag, named) in [("escape", "../outside/escaped"), ("through", "abs")] {
        let root = tmp.path().join(format!("root-{tag}"));
        let out = regcli_async(&["extract", &format!("oci:{layout_text}:{tag}"), root.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(1), "{tag}: {}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{tag}: the error names the entry: {}", shown(&out));
        assert!(err.contains("removed"), "{tag}: {}", shown(&out));
        assert!(!root.exists(), "{tag}: the directory made for the run is removed again");
        assert_eq!(listing(&outside), ["canary"], "{tag}: nothing written outside");
        assert_eq!(fs::read(outside.join("canary")).unwrap(), b"canary");
    }

    // An absolute symlink target is stored as given, never followed.
    let root = tmp.path().join("root-kept");
    let out = regcli_async(&["extract", &format!("oci:{layout_text}:kept"), root.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(fs::read_link(root.join("etc-link")).unwrap(), outside);
    assert_eq!(listing(&outside), ["canary"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_sets_config_and_annotations_appends_a_directory_and_moves_only_new_blobs() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry.host()).with_segment("org/app");
    let base = image_of(&two_layers());
    repo.push_image("v1", &base).await.unwrap();
    let source = format!("{}/org/app:v1", registry.host());
    let target = format!("{}/org/app:v2", registry.host());
    let tmp = tempfile::tempdir().unwrap();
    let add = tmp.path().join("add");
    fs::create_dir_all(add.join("sub")).unwrap();
    fs::write(add.join("hello.txt"), b"hi").unwrap();
    fs::write(add.join("sub/run.sh"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(add.join("sub/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();

    let out = regcli_async(&[
        "--insecure",
        "mutate",
        &source,
        "-t",
        &target,
        "--label",
        "a=1",
        "--label",
        "b=x=y",
        "--env",
        "MODE=prod",
        "--entrypoint",
        "/bin/app",
        "--entrypoint=-v",
        "--cmd",
        "serve",
        "--user",
        "1000:1000",
        "--workdir",
        "/srv",
        "--annotation",
        "team=core",
        "--append",
        add.to_str().unwrap(),
        "--format",
        "json",
    ])
    .await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    for key in ["source", "target", "digest", "source_digest", "layers_added", "blobs_uploaded", "bytes_uploaded"] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(json["source_digest"], base.digest().to_string(), "{json}");
    assert_eq!(json["layers_added"], 1, "{json}");
    assert_eq!(json["layers_uploaded"], 1, "the new layer only: {json}");
    assert_eq!(json["blobs_uploaded"], 2, "the new layer and the new config only: {json}");
    assert_eq!(json["blobs_mounted"].as_u64().unwrap() + json["blobs_skipped"].as_u64().unwrap(), 2, "{json}");
    let digest = json["digest"].as_str().unwrap().to_string();
    assert_eq!(repo.get_digest("v2").await.unwrap().to_string(), digest);
    assert_eq!(&repo.get_digest("v1").await.unwrap(), base.digest(), "the source is unchanged");

    let config: Value = serde_json::from_slice(
        &skopeo(&["inspect", "--config", "--tls-verify=false", &format!("docker://{target}")]).await,
    )
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["Labels"]["a"], "1", "{c}");
    assert_eq!(c["Labels"]["b"], "x=y", "{c}");
    assert_eq!(c["Labels"]["base"], "yes", "the base's labels are kept: {c}");
    assert!(c["Env"].as_array().unwrap().contains(&Value::from("MODE=prod")), "{c}");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/app", "-v"]), "{c}");
    assert_eq!(c["Cmd"], serde_json::json!(["serve"]), "{c}");
    assert_eq!(c["User"], "1000:1000", "{c}");
    assert_eq!(c["WorkingDir"], "/srv", "{c}");
    let inspect: Value =
        serde_json::from_slice(&skopeo(&["inspect", "--tls-verify=false", &format!("docker://{target}")]).await)
            .unwrap();
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3, "{inspect}");
    let raw: Value = serde_json::from_slice(
        &skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{target}")]).await,
    )
    .unwrap();
    assert_eq!(raw["annotations"]["team"], "core", "{raw}");

    // The appended files are in the new image's filesystem, over the base's.
    let out = regcli_async(&["--insecure", "export", &target, "-"]).await;
    assert!(out.status.success(), "{}", shown_tar_run(&String::from_utf8_lossy(&out.stderr)));
    let got = tree(&out.stdout);
    assert_eq!(node(&got, "hello.txt").data, b"hi");
    assert_eq!(node(&got, "sub/run.sh").mode, 0o755);
    assert_eq!(node(&got, "etc/a").data, b"two");

    // Text output names the new digest; to an OCI layout, then validated there.
    let layout = tmp.path().join("layout");
    let dest = format!("oci:{}:labelled", layout.display());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &dest, "--label", "c=3"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("mutated {source} -> {dest} sha256:")), "{}", shown(&out));
    assert!(text.contains("(0 layers added; blobs: "), "{}", shown(&out));
    let out = regcli_async(&["validate", &dest]).await;
    assert!(out.status.success(), "{}", shown(&out));

    // To a docker-archive, which skopeo reads with the new label.
    let archive = tmp.path().join("app.tar");
    let dest = format!("docker-archive:{}:app:v9", archive.display());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &dest, "--label", "d=4"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let inspect: Value =
        serde_json::from_slice(&skopeo(&["inspect", &format!("docker-archive:{}", archive.display())]).await).unwrap();
    assert_eq!(inspect["Labels"]["d"], "4", "{inspect}");
    assert_eq!(inspect["Labels"]["base"], "yes", "{inspect}");

    // Malformed KEY=VALUE: exit 2 naming the flag and the value; nothing pushed.
    for (flag, value) in [("--label", "novalue"), ("--annotation", "=x"), ("--env", "")] {
        let out = regcli_async(&["--insecure", "mutate", &source, "-t", &target, flag, value]).await;
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(&format!("{value:?}")), "{}", shown(&out));
    }
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &target, "--append", "/no/such/dir"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"), "{}", shown(&out));
    let by_digest = format!("{}/org/app@{}", registry.host(), base.digest());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &by_digest, "--label", "x=1"]).await;
    assert_eq!(out.status.code(), Some(2), "a digest cannot name the changed image: {}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name a tag"), "{}", shown(&out));
    assert_eq!(repo.get_digest("v2").await.unwrap().to_string(), digest, "nothing pushed by a refused run");
}

/// The file docker-registry keeps `digest`'s blob in.
fn blob_file(registry: &DockerRegistry, digest: &registry_client::Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    registry.data_dir().join("docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_passes_a_good_index_and_names_a_corrupted_blob() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry.host()).with_segment("org/app");
    let (images, digest) = seed_index(&*repo, "v1", 40).await;
    let reference = format!("{}/org/app:v1", registry.host());

    let out = regcli_async(&["--insecure", "validate", &reference]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("valid: {reference} ({digest}")), "{}", shown(&out));
    assert!(text.contains("4 manifests"), "{}", shown(&out));
    let out = regcli_async(&["--insecure", "validate", &reference, "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["valid"], true, "{json}");
    assert_eq!(json["problems"], serde_json::json!([]), "{json}");
    assert_eq!(json["manifests_checked"], 4, "{json}");
    // Three configs, the shared base layer once, three layers of their own.
    assert_eq!(json["blobs_checked"], 7, "{json}");
    assert!(json["bytes_read"].as_u64().unwrap() > 64 * 1024, "{json}");

    // One byte of the amd64 image's own layer changed on disk (same size): its digest no longer matches.
    let victim = &images[0];
    let layer = registry_client::Digest::parse(victim.layers()[1].digest().as_ref()).unwrap();
    let path = blob_file(&registry, &layer);
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let out = regcli_async(&["--insecure", "validate", &reference]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with(&format!("blob_digest {layer}: "))), "{}", shown(&out));
    assert!(text.lines().last().unwrap().starts_with("invalid (1 problem)"), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 problem found"), "{}", shown(&out));

    let out = regcli_async(&["--insecure", "validate", &reference, "--format", "json", "--no-diff-ids"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["valid"], false, "{json}");
    let problems = json["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{json}");
    assert_eq!(problems[0]["kind"], "blob_digest", "{json}");
    assert_eq!(problems[0]["subject"], layer.to_string(), "{json}");
    assert_eq!(problems[0]["manifest"], victim.digest().to_string(), "{json}");
    assert!(problems[0]["message"].as_str().unwrap().contains("hashes to"), "{json}");

    // An unknown tag: exit 1 naming it.
    let out = regcli_async(&["--insecure", "validate", &format!("{}/org/app:nope", registry.host())]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("org/app:nope"), "{}", shown(&out));
}
