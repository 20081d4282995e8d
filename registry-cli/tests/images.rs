//! `regcli export` and `regcli extract` run as the built binary against the real docker-registry, with skopeo as
//! the independent reader: the exported tar equals the layers skopeo downloads applied by hand, a failed export
//! leaves no file, extraction writes the expected tree with its modes and nothing outside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod images_support;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use images_support::tar_bytes::Tar;
use images_support::{apply, image_of, node, shown_tar_run, skopeo_layers, tree, two_layers};
use registry_client::{Client, ImageBuilder, LayoutClient};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::Value;
use support::{client, regcli_async, shown, stdout};

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
    // DIR is made; its parent must exist (a typo in a path creates nothing).
    let root = tmp.path().join("rootfs");
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
        assert!(err.contains("nothing written"), "{tag}: {}", shown(&out));
        assert!(!root.exists(), "{tag}: no directory is left at DIR");
        assert!(listing(tmp.path()).iter().all(|n| !n.contains("partial")), "{tag}: no partial directory left");
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
async fn platform_picks_one_image_of_an_index_for_export_and_extract() {
    use registry_client::{index_of, Platform};
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry.host()).with_segment("org/multi");
    let build = |platform: Platform, file: &[u8]| {
        let layer = Tar::new().file(b"arch", file).finish();
        ImageBuilder::new().layer(layer).platform(platform).build().unwrap()
    };
    let images = [build(Platform::new("linux", "amd64"), b"amd64"), build(Platform::new("linux", "arm64"), b"arm64")];
    let index = index_of(&images.iter().collect::<Vec<_>>()).unwrap();
    repo.push_index("v1", &index, &images).await.unwrap();
    let reference = format!("{}/org/multi:v1", registry.host());
    let tmp = tempfile::tempdir().unwrap();

    let file = tmp.path().join("arm.tar");
    let out = regcli_async(&[
        "--insecure",
        "export",
        "--platform",
        "linux/arm64",
        &reference,
        file.to_str().unwrap(),
        "--format",
        "json",
    ])
    .await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["digest"], images[1].digest().to_string(), "{json}");
    assert_eq!(json["platform"], "linux/arm64", "{json}");
    assert_eq!(node(&tree(&fs::read(&file).unwrap()), "arch").data, b"arm64");

    let root = tmp.path().join("amd");
    let out =
        regcli_async(&["--insecure", "extract", "--platform", "linux/amd64", &reference, root.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains(&images[0].digest().to_string()), "{}", shown(&out));
    assert_eq!(fs::read(root.join("arch")).unwrap(), b"amd64");

    // A platform the index lacks: exit 1 naming the reference; a malformed one: exit 2.
    let out = regcli_async(&["--insecure", "export", "--platform", "linux/s390x", &reference, "-"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown_tar_run(&String::from_utf8_lossy(&out.stderr)));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&reference));
    let out = regcli_async(&["--insecure", "export", "--platform", "s390x", &reference, "-"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown_tar_run(&String::from_utf8_lossy(&out.stderr)));
}
