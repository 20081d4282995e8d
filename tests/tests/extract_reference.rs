//! `Image::extract` against an independent reference, on the real `docker-registry`, with the image seeded by
//! skopeo.
//!
//! How the reference is built (`extract_reference/reference.py`, Python's standard library only): three layer tars
//! are written by Python's `tarfile` (PAX format) from member lists covering whiteouts, an opaque directory, a
//! whiteout of a directory that a higher layer recreates, files replaced across layers (content and mode), a
//! directory replaced by a symlink and a symlink by a directory, hard links within a layer and to a lower layer,
//! hard links whose target a higher layer replaces or whites out (they keep the content they had),
//! symlinks, a same-layer duplicate, long (> 100 and > 255 bytes) and deep names, `./`-prefixed names, owners,
//! modes (setuid), mtimes, an xattr, AUFS metadata names; the second layer stays uncompressed, the others are
//! gzipped. The script writes them as an OCI image layout, which `skopeo copy --preserve-digests oci:... docker://`
//! pushes to the registry; and it applies the same layers in order to an in-memory filesystem model with the OCI
//! whiteout rules (whiteouts of a layer first, against the lower layers; then its members in order, a member
//! replacing what is at its path, a directory over a directory keeping its content; a hard link a copy of its
//! target as it is then). Our side: `RemoteClient::get_image` + `extract()`, the stream read back by the same
//! script with `tarfile`, applied to the same model (no whiteout may be in it). The two trees must be equal:
//! per path, type, mode, owner, mtime, size and SHA-256 of the content, symlink target and xattrs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use registry_client::{Client, ImageOptions, RemoteClient};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::Value;

const SCRIPT: &str = include_str!("extract_reference/reference.py");
const PYTHON_MISSING: &str = "python3 not found: install it with `apt-get install -y python3`";
const SKOPEO_MISSING: &str = "skopeo not found: install it with \
     `apt-get update && apt-get install -y skopeo` (scripts/test.sh does this)";

fn run(program: &str, args: &[&str], missing: &str) {
    let out = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{missing} ({e})"));
    assert!(
        out.status.success(),
        "{program} {} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tree(path: &Path) -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Push the reference image with skopeo to `registry` as `repo:v1`; returns the reference tree's file.
fn seed(registry: &DockerRegistry, dir: &Path, repo: &str) -> PathBuf {
    let script = dir.join("reference.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let layout = dir.join("layout");
    let reference = dir.join("reference.json");
    run(
        "python3",
        &["-B", script.to_str().unwrap(), "build", layout.to_str().unwrap(), "v1", reference.to_str().unwrap()],
        PYTHON_MISSING,
    );
    let source = format!("oci:{}:v1", layout.display());
    let dest = format!("docker://{}/{repo}:v1", registry.host());
    run(
        "skopeo",
        &[
            "--command-timeout",
            "120s",
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--preserve-digests",
            &source,
            &dest,
        ],
        SKOPEO_MISSING,
    );
    reference
}

#[tokio::test(flavor = "multi_thread")]
async fn our_flattened_tree_equals_the_python_reference() {
    check_against_reference("extract/reference").await;
}

/// The same on a current-thread runtime: the flattening thread's network reads are driven by the one runtime
/// thread, which waits on the stream.
#[tokio::test]
async fn the_same_on_a_current_thread_runtime() {
    check_against_reference("extract/current-thread").await;
}

async fn check_against_reference(repo: &str) {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let reference = seed(&registry, dir.path(), repo);

    let client = RemoteClient::builder(format!("{}/{repo}", registry.host())).insecure(true).build().unwrap();
    let image = client.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(image.layers().len(), 3);
    let media_types: Vec<String> = image.layers().iter().map(|l| l.media_type().to_string()).collect();
    assert!(media_types[1].ends_with(".tar") && media_types[0].ends_with("+gzip"), "{media_types:?}");
    let ours_tar = dir.path().join("ours.tar");
    let mut file = tokio::fs::File::create(&ours_tar).await.unwrap();
    let written = tokio::io::copy(&mut image.extract(), &mut file).await.unwrap();
    drop(file);
    assert!(written > 200_000, "{written} bytes");
    let ours = dir.path().join("ours.json");
    run(
        "python3",
        &[
            "-B",
            dir.path().join("reference.py").to_str().unwrap(),
            "read",
            ours_tar.to_str().unwrap(),
            ours.to_str().unwrap(),
        ],
        PYTHON_MISSING,
    );

    let want = tree(&reference);
    let got = tree(&ours);
    // The reference is not vacuous: what the layers say happened did.
    assert!(want.len() > 50, "{} paths", want.len());
    for gone in ["etc/passwd", "var/lib/app/cache1", "var/lib/app/sub", "opt/old/a", "dirsym/in"] {
        assert!(!want.contains_key(gone), "{gone} should be gone from the reference");
    }
    assert_eq!(want["dirsym"]["type"], "s");
    assert_eq!(want["symdir"]["type"], "d");
    assert_eq!(want["usr/bin/tool3"]["sha256"], want["usr/bin/tool"]["sha256"]);
    assert_ne!(want["lib/libx-link"]["sha256"], want["lib/libx.so.1"]["sha256"], "the link keeps the old content");
    assert!(want.contains_key("share/doc-link") && !want.contains_key("share/doc"));

    let mut differences = Vec::new();
    for path in want.keys().chain(got.keys().filter(|k| !want.contains_key(*k))) {
        let (w, g) = (want.get(path), got.get(path));
        if w != g {
            differences.push(format!("{path}:\n  reference {w:?}\n  ours      {g:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} paths differ:\n{}",
        differences.len(),
        want.len(),
        differences.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}
