//! `LayoutClient` (an OCI image layout tree on disk) against the conformance suite every `Client` passes, plus what
//! only a layout has: its files (`oci-layout`, `index.json`, `blobs/`), atomic index writes, hostile content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use registry_client::{Client, ErrorKind, ImageOptions, LayoutClient, ListOptions};
use registry_tests::conformance;
use serde_json::Value;

async fn open(dir: &Path) -> Arc<dyn Client> {
    Arc::new(LayoutClient::open(dir).await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_layout() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(open(dir.path()).await).await;
}

/// The suite again with a root that is itself a layout tree below a scope, and with a copy from a layout tree to
/// another through `get_image` + `push_image`.
#[tokio::test(flavor = "multi_thread")]
async fn conformance_layout_nested_and_copies() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(&dir.path().join("not/yet/there")).await;
    conformance::run_all(root.with_segment("team")).await;
    let other = tempfile::tempdir().unwrap();
    let target = open(other.path()).await;
    conformance::check_copy(&root, &target).await;
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The sha256 of the file at `path`, as `sha256:<hex>`.
fn file_digest(path: &Path) -> String {
    registry_client::Digest::sha256(&std::fs::read(path).unwrap()).to_string()
}

/// What a push leaves on disk is an OCI image layout: `oci-layout`, `index.json` with one entry per tag carrying
/// `org.opencontainers.image.ref.name`, every blob (manifest included) at `blobs/sha256/<hex>` with that digest.
#[tokio::test]
async fn a_push_writes_an_oci_image_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(dir.path()).await;
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(root.get_registry(), format!("oci:{}", canonical.display()));
    let app = root.with_segment("org/app");
    assert_eq!(app.get_registry(), format!("oci:{}/org/app", canonical.display()));
    assert!(!dir.path().join("org").exists(), "nothing is created before the first write");
    let image = conformance::small_image("layout-files", 2);
    app.push_image("v1", &image).await.unwrap();
    app.push_image("v2", &image).await.unwrap();
    app.push_image("v1", &image).await.unwrap();

    let layout = dir.path().join("org/app");
    assert_eq!(read_json(&layout.join("oci-layout")), serde_json::json!({"imageLayoutVersion": "1.0.0"}));
    let index = read_json(&layout.join("index.json"));
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let entries = index["manifests"].as_array().unwrap();
    let names: Vec<&str> =
        entries.iter().map(|e| e["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "one entry per tag: {index}");
    assert!(names.contains(&"v1") && names.contains(&"v2"), "{index}");
    for e in entries {
        assert_eq!(e["digest"], image.digest().to_string());
        assert_eq!(e["size"], image.raw_manifest().size());
        assert_eq!(e["mediaType"], image.media_type());
    }
    let blob = |d: &str| layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    let mut wanted: Vec<String> = image.layers().iter().map(|l| l.digest().to_string()).collect();
    wanted.push(image.config_descriptor().digest().to_string());
    wanted.push(image.digest().to_string());
    for d in &wanted {
        assert_eq!(&file_digest(&blob(d)), d, "blob file {d}");
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    wanted.sort();
    assert_eq!(on_disk, wanted, "exactly the image's blobs, no temp file left");
    let leftovers: Vec<String> = std::fs::read_dir(&layout)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(leftovers, vec![".lock"], "the advisory lock file only, no temp file");
    // The manifest blob holds the exact bytes.
    assert_eq!(std::fs::read(blob(image.digest().as_str())).unwrap(), image.raw_manifest().bytes().to_vec());
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), vec!["org/app"]);
}

/// A second client opened on the same directory (a later process) sees the same tags and content.
#[tokio::test]
async fn reopening_sees_the_same_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let image = conformance::small_image("reopen", 2);
    {
        let first = open(dir.path()).await;
        first.with_segment("a").push_image("v1", &image).await.unwrap();
        first.with_segment("a").tag_image("v1", "stable").await.unwrap();
        first.with_segment("b/c").push_image("v9", &image).await.unwrap();
    }
    let again = open(dir.path()).await;
    assert_eq!(again.list_repositories(ListOptions::default()).await.unwrap(), vec!["a", "b/c"]);
    let a = again.with_segment("a");
    assert_eq!(a.list_tags(ListOptions::default()).await.unwrap(), vec!["stable", "v1"]);
    let got = a.get_image("stable", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    assert_eq!(got.blob_bytes(&got.layers()[1]).await.unwrap(), image.blob_bytes(&image.layers()[1]).await.unwrap());
}

/// A crash while writing leaves temp files behind (`.index.json.tmp-*` in the layout, `.tmp-*` in `blobs/`):
/// they are ignored by reads, listings and later writes.
#[tokio::test]
async fn leftovers_of_a_crash_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(dir.path()).await;
    let app = root.with_segment("app");
    let image = conformance::small_image("crash", 1);
    app.push_image("v1", &image).await.unwrap();
    let layout = dir.path().join("app");
    std::fs::write(layout.join(".index.json.tmp-crashed"), b"{\"schemaVersion\":2,\"manif").unwrap();
    std::fs::write(layout.join("blobs/.tmp-crashed"), b"half a layer").unwrap();
    std::fs::create_dir_all(layout.join(".tmp-dir/oci-layout")).unwrap();
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
    assert_eq!(&app.get_digest("v1").await.unwrap(), image.digest());
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), vec!["app"]);
    app.push_image("v2", &image).await.unwrap();
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v1", "v2"]);
    app.get_image("v2", ImageOptions::default()).await.unwrap();
}

/// A broken or hostile `index.json` is an error naming the file and what is wrong, never a panic, and a write
/// does not replace it with something that loses what it held.
#[tokio::test]
async fn a_broken_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(dir.path()).await;
    let app = root.with_segment("app");
    let image = conformance::small_image("broken", 1);
    app.push_image("v1", &image).await.unwrap();
    let index_path = dir.path().join("app/index.json");
    let good = std::fs::read(&index_path).unwrap();
    let hex = "0".repeat(64);
    for (content, kind, says) in [
        (b"{\"schemaVersion\":2,\"manif".to_vec(), ErrorKind::Protocol, "not JSON"),
        (b"[1,2,3]".to_vec(), ErrorKind::Protocol, "not a JSON object"),
        (
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:../../../etc/passwd","size":1}]}"#
                .to_vec(),
            ErrorKind::Protocol,
            "manifests[0]",
        ),
        (
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","digest":"sha256:{hex}","size":"big"}}]}}"#
            )
            .into_bytes(),
            ErrorKind::Protocol,
            "size",
        ),
        (vec![b' '; 4 * 1024 * 1024 + 1], ErrorKind::Unsupported, "limit"),
    ] {
        std::fs::write(&index_path, &content).unwrap();
        for e in [
            app.get_manifest("v1").await.map(|_| ()).unwrap_err(),
            app.list_tags(ListOptions::default()).await.map(|_| ()).unwrap_err(),
            app.push_image("v2", &image).await.unwrap_err(),
            app.delete_tag("v1").await.unwrap_err(),
        ] {
            assert_eq!(e.kind(), kind, "{e}");
            let shown = e.to_string();
            assert!(shown.contains(&index_path.display().to_string()) && shown.contains(says), "{shown}");
        }
        assert_eq!(std::fs::read(&index_path).unwrap().len(), content.len(), "the broken index is left as it was");
    }
    std::fs::write(&index_path, &good).unwrap();
    assert_eq!(&app.get_digest("v1").await.unwrap(), image.digest());
}

/// Entries another tool wrote with a ref name that is no tag (`..`, `/`, a full reference) are kept in the file but
/// not listed, and never used as a path; their other fields survive our rewrites.
#[tokio::test]
async fn foreign_entries_are_kept_but_odd_names_are_no_tags() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(dir.path()).await;
    let app = root.with_segment("app");
    let image = conformance::small_image("foreign", 1);
    app.push_image("v1", &image).await.unwrap();
    let index_path = dir.path().join("app/index.json");
    let mut index = read_json(&index_path);
    let mut odd = Vec::new();
    for name in ["../../escape", "example.com/app:v1", "a/b"] {
        let mut e = index["manifests"][0].clone();
        e["annotations"]["org.opencontainers.image.ref.name"] = Value::from(name);
        e["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
        odd.push(e);
    }
    index["manifests"].as_array_mut().unwrap().extend(odd);
    index["annotations"] = serde_json::json!({"written.by": "another tool"});
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
    assert_eq!(app.get_manifest("../../escape").await.unwrap_err().kind(), ErrorKind::InvalidInput);
    app.tag_image("v1", "v2").await.unwrap();
    let after = read_json(&index_path);
    assert_eq!(after["annotations"]["written.by"], "another tool");
    assert_eq!(after["manifests"].as_array().unwrap().len(), 5, "{after}");
    assert_eq!(after["manifests"][1]["platform"]["os"], "linux", "{after}");
    assert!(!dir.path().join("escape").exists());
}

/// Blobs are written once: a second push of the same image (or of another image sharing a layer) writes nothing
/// the layout has, and says so with `BlobSkipped`; a layout blob is linked, not copied, into another layout of the
/// same root.
#[tokio::test]
async fn blobs_are_written_once() {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;

    use registry_client::{ProgressEvent, TransferOptions};

    let dir = tempfile::tempdir().unwrap();
    let events: Arc<Mutex<Vec<ProgressEvent>>> = Arc::default();
    let sink = events.clone();
    let options = TransferOptions::new().progress(move |e| sink.lock().unwrap().push(e.clone()));
    let root: Arc<dyn Client> = Arc::new(LayoutClient::open_with(dir.path(), options).await.unwrap());
    let app = root.with_segment("app");
    let image = conformance::small_image("once", 3);
    app.push_image("v1", &image).await.unwrap();
    let count = |events: &[ProgressEvent], what: fn(&ProgressEvent) -> bool| events.iter().filter(|e| what(e)).count();
    let first = std::mem::take(&mut *events.lock().unwrap());
    assert_eq!(count(&first, |e| matches!(e, ProgressEvent::BlobStarted { .. })), 4, "{first:?}");
    assert_eq!(count(&first, |e| matches!(e, ProgressEvent::BlobDone { .. })), 4, "{first:?}");
    assert_eq!(count(&first, |e| matches!(e, ProgressEvent::ManifestPushed { .. })), 1, "{first:?}");
    let layer = dir.path().join("app/blobs/sha256").join(image.layers()[0].digest().digest());
    let before = std::fs::metadata(&layer).unwrap();

    app.push_image("v2", &image).await.unwrap();
    let second = std::mem::take(&mut *events.lock().unwrap());
    assert_eq!(count(&second, |e| matches!(e, ProgressEvent::BlobSkipped { .. })), 4, "{second:?}");
    assert_eq!(count(&second, |e| matches!(e, ProgressEvent::BlobStarted { .. })), 0, "{second:?}");
    let after = std::fs::metadata(&layer).unwrap();
    assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()), "the file was not rewritten");

    // Into another layout of the root: linked from the first (the same file), reported as mounted.
    let pulled = app.get_image("v1", ImageOptions::default()).await.unwrap();
    events.lock().unwrap().clear();
    root.with_segment("mirror").push_image("v1", &pulled).await.unwrap();
    let third = std::mem::take(&mut *events.lock().unwrap());
    assert_eq!(count(&third, |e| matches!(e, ProgressEvent::BlobMounted { .. })), 4, "{third:?}");
    let from = format!("oci:{}", dir.path().canonicalize().unwrap().join("app").display());
    assert!(third.iter().all(|e| !matches!(e, ProgressEvent::BlobMounted { from: f, .. } if f != &from)), "{third:?}");
    assert_eq!(count(&third, |e| matches!(e, ProgressEvent::BlobStarted { .. })), 0, "{third:?}");
    let linked = dir.path().join("mirror/blobs/sha256").join(image.layers()[0].digest().digest());
    assert_eq!(std::fs::metadata(&linked).unwrap().ino(), after.ino(), "a hard link");
}

/// `delete_tag` keeps the manifest (an untagged entry); `delete_by_digest` removes its entries and its blob, keeps
/// its layers, and a later read by digest is `NotFound` as on docker-registry.
#[tokio::test]
async fn deletes_leave_the_layout_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await.with_segment("app");
    let image = conformance::small_image("deletes", 1);
    app.push_image("v1", &image).await.unwrap();
    app.delete_tag("v1").await.unwrap();
    let index = read_json(&dir.path().join("app/index.json"));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["digest"], image.digest().to_string());
    assert!(entries[0].get("annotations").is_none(), "{index}");
    let by_digest = format!("@{}", image.digest());
    app.check_image_exists(&by_digest).await.unwrap();

    app.delete_by_digest(image.digest().as_str()).await.unwrap();
    let index = read_json(&dir.path().join("app/index.json"));
    assert!(index["manifests"].as_array().unwrap().is_empty(), "{index}");
    let blobs = dir.path().join("app/blobs/sha256");
    assert!(!blobs.join(image.digest().hex()).exists(), "the manifest blob is gone");
    assert!(blobs.join(image.layers()[0].digest().digest()).exists(), "layers stay");
    let e = app.get_manifest(&by_digest).await.unwrap_err();
    assert!(e.has_code("MANIFEST_UNKNOWN"), "{e}");
    // A layer is no manifest.
    let layer = format!("@{}", image.layers()[0].digest());
    assert_eq!(app.get_manifest(&layer).await.unwrap_err().kind(), ErrorKind::NotFound);
}

/// A blob missing from the layout, or changed on disk, is an error naming the file.
#[tokio::test]
async fn missing_or_damaged_blobs_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await.with_segment("app");
    let image = conformance::small_image("damaged", 2);
    app.push_image("v1", &image).await.unwrap();
    let blobs = dir.path().join("app/blobs/sha256");
    let layer0 = blobs.join(image.layers()[0].digest().digest());
    std::fs::remove_file(&layer0).unwrap();
    let got = app.get_image("v1", ImageOptions::default()).await.unwrap();
    let e = got.blob_bytes(&got.layers()[0]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&layer0.display().to_string()), "{e}");
    let layer1 = blobs.join(image.layers()[1].digest().digest());
    let mut data = std::fs::read(&layer1).unwrap();
    data[0] ^= 1;
    std::fs::write(&layer1, data).unwrap();
    let e = got.blob_bytes(&got.layers()[1]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    // The manifest blob changed on disk: the tag read says which file.
    let manifest = blobs.join(image.digest().hex());
    std::fs::write(&manifest, b"{}").unwrap();
    let e = app.get_manifest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.to_string().contains(&manifest.display().to_string()), "{e}");
    // Pushing the image again repairs what it can: the missing layer and the damaged manifest are written again.
    app.push_image("v1", &image).await.unwrap();
    let again = app.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(
        again.blob_bytes(&again.layers()[0]).await.unwrap(),
        image.blob_bytes(&image.layers()[0]).await.unwrap()
    );
}

/// Clones writing one layout at once (tags, referrers) lose nothing: index updates are serialised by the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_tag() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(dir.path()).await;
    let images: Vec<_> = (0..12).map(|i| conformance::small_image(&format!("concurrent-{i}"), 1)).collect();
    let mut tasks = Vec::new();
    for (i, image) in images.iter().enumerate() {
        // A fresh client per task (another open of the same root) shares the lock too.
        let client = if i % 2 == 0 { root.clone() } else { open(dir.path()).await };
        let image = image.clone();
        tasks.push(tokio::spawn(
            async move { client.with_segment("app").push_image(&format!("t{i:02}"), &image).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let tags = root.with_segment("app").list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags.len(), 12, "{tags:?}");
    for (i, image) in images.iter().enumerate() {
        assert_eq!(&root.with_segment("app").get_digest(&format!("t{i:02}")).await.unwrap(), image.digest());
    }
}

/// A hostile layout cannot hang a read (a FIFO where a blob or the index should be) nor have blobs written through
/// a symbolic link out of the layout.
#[tokio::test]
async fn fifos_and_symlinked_blob_dirs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await.with_segment("app");
    let image = conformance::small_image("fifo", 1);
    app.push_image("v1", &image).await.unwrap();
    let blobs = dir.path().join("app/blobs/sha256");
    let layer = blobs.join(image.layers()[0].digest().digest());
    std::fs::remove_file(&layer).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&layer).status().unwrap();
    assert!(made.success());
    let got = app.get_image("v1", ImageOptions::default()).await.unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), got.blob_bytes(&got.layers()[0])).await;
    let e = read.expect("a FIFO blob hung the read").unwrap_err();
    assert!(
        e.to_string().contains("not a regular file") && e.to_string().contains(&layer.display().to_string()),
        "{e}"
    );
    let index = dir.path().join("app/index.json");
    std::fs::remove_file(&index).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&index).status().unwrap().success());
    let listed = tokio::time::timeout(std::time::Duration::from_secs(10), app.list_tags(ListOptions::default())).await;
    let e = listed.expect("a FIFO index.json hung the read").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");

    // blobs/ pointing elsewhere: nothing is written there.
    let outside = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::os::unix::fs::symlink(outside.path(), other.join("blobs")).unwrap();
    let e = open(dir.path()).await.with_segment("other").push_image("v1", &image).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing written outside the layout");
}

/// `list_repositories` lists the directories holding `oci-layout` below the scope, and nothing else: not what a
/// layout's `blobs/` holds, not directories no segment could name (hidden, upper case), not through symbolic links.
#[tokio::test]
async fn repositories_are_the_layouts_below_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let root = LayoutClient::open(dir.path()).await.unwrap();
    let image = conformance::small_image("listing", 1);
    for path in ["a", "a/b", "c/d/e"] {
        root.scoped(path).push_image("v1", &image).await.unwrap();
    }
    assert_eq!(root.scoped("c/d").layout_dir().unwrap(), dir.path().canonicalize().unwrap().join("c/d"));
    for odd in ["a/blobs/x", ".hidden/y", "Upper/z", "c/.tmp-1"] {
        std::fs::create_dir_all(dir.path().join(odd)).unwrap();
        std::fs::write(dir.path().join(odd).join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    }
    std::os::unix::fs::symlink(dir.path(), dir.path().join("c/loop")).unwrap();
    let listed = root.list_repositories(ListOptions::default()).await.unwrap();
    assert_eq!(listed, vec!["a", "a/b", "c/d/e"]);
    assert_eq!(root.scoped("c").list_repositories(ListOptions::default()).await.unwrap(), vec!["d/e"]);
    assert_eq!(root.list_repositories(ListOptions::default().limit(1).last("a")).await.unwrap(), vec!["a/b"]);
    // The root itself is a layout too (skopeo's oci:DIR:TAG with DIR the root), never listed as its own child.
    root.push_image("top", &image).await.unwrap();
    assert!(dir.path().join("oci-layout").is_file());
    assert_eq!(root.list_tags(ListOptions::default()).await.unwrap(), vec!["top"]);
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), listed);
}

/// Copies between the in-memory fake registry and a layout, both ways, through the conformance suite's copy.
#[tokio::test]
async fn copies_between_a_registry_and_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let layout = open(dir.path()).await;
    let fake: Arc<dyn Client> = Arc::new(mocks::FakeClient::new("registry.example.com"));
    let image = conformance::check_copy(&fake, &layout).await;
    let back = Arc::new(mocks::FakeClient::new("mirror.example.com")) as Arc<dyn Client>;
    conformance::check_copy(&layout.with_segment("again"), &back).await;
    assert_eq!(&layout.with_segment("mirror/app").get_digest("v1").await.unwrap(), image.digest());
}

/// Another process holding the layout's advisory lock (`flock` on `.lock`, util-linux's `flock(1)` here) makes an
/// index write wait for it: two processes writing one layout take turns.
#[tokio::test]
async fn another_process_holding_the_lock_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await.with_segment("app");
    let image = conformance::small_image("flock", 1);
    app.push_image("v1", &image).await.unwrap();
    let layout = dir.path().join("app");
    let held = layout.join("held");
    let mut holder = tokio::process::Command::new("flock")
        .arg("-x")
        .arg(layout.join(".lock"))
        .arg("-c")
        .arg(format!("touch {} && sleep 2", held.display()))
        .kill_on_drop(true)
        .spawn()
        .expect("flock(1) from util-linux");
    let start = std::time::Instant::now();
    while !held.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "flock never took the lock");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let locked_at = std::time::Instant::now();
    app.tag_image("v1", "v2").await.unwrap();
    let waited = locked_at.elapsed();
    assert!(holder.wait().await.unwrap().success());
    assert!(waited >= std::time::Duration::from_millis(1500), "the write did not wait for the lock: {waited:?}");
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec!["v1", "v2"]);
}

/// Referrers live in the `sha256-<hex>` tag's index; each update replaces that index's blob, and the replaced one
/// is removed, so the layout holds exactly the blobs its entries need.
#[tokio::test]
async fn referrers_tag_updates_leave_no_stale_index() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await.with_segment("app");
    let image = conformance::small_image("referred", 1);
    app.push_image("v1", &image).await.unwrap();
    let subject = image.raw_manifest().descriptor().unwrap();
    let mut artifacts = Vec::new();
    for kind in ["application/vnd.test.a", "application/vnd.test.b", "application/vnd.test.c"] {
        let a = registry_client::Artifact::builder(kind).subject(subject.clone()).build().unwrap();
        app.push_artifact(&a).await.unwrap();
        artifacts.push(a);
    }
    app.delete_by_digest(artifacts[1].digest().as_str()).await.unwrap();
    let listed = app.list_referrers(image.digest().as_str(), None).await.unwrap();
    assert_eq!(listed.len(), 2);
    let tag = format!("sha256-{}", image.digest().hex());
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap(), vec![tag.clone(), "v1".to_string()]);
    let referrers_index = app.get_digest(&tag).await.unwrap();
    let blobs = dir.path().join("app/blobs/sha256");
    let mut on_disk: Vec<String> =
        std::fs::read_dir(&blobs).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    on_disk.sort();
    let mut wanted: Vec<String> = vec![image.digest().hex().to_string(), referrers_index.hex().to_string()];
    wanted.extend(image.layers().iter().chain([image.config_descriptor()]).map(|d| d.digest().digest().to_string()));
    for a in [&artifacts[0], &artifacts[2]] {
        wanted.push(a.digest().hex().to_string());
        wanted.extend(a.blobs().iter().map(|d| d.digest().digest().to_string()));
    }
    // The deleted artifact's blobs stay, as a registry keeps them until garbage collection; its manifest goes.
    wanted.extend(artifacts[1].blobs().iter().map(|d| d.digest().digest().to_string()));
    wanted.sort();
    wanted.dedup();
    assert_eq!(on_disk, wanted);
}

/// The names in `dir` and `dir/blobs` that are temp files of ours (`.<name>.tmp-XXXXXX`, `blobs/.tmp-XXXXXX`).
fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for d in [dir.to_path_buf(), dir.join("blobs")] {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(".tmp-") {
                found.push(format!("{}/{name}", d.display()));
            }
        }
    }
    found
}

/// Every path below `dir`, relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A copy into a new layout that fails (the source index misses a child's layer) while other blobs are being
/// written:
/// the moment it returns, the new directory is empty (as `LayoutClient::open` made it) or a valid layout
/// (`oci-layout` and `index.json`), never holding only a `.lock` or a temp file of a write its failure abandoned (the process may exit right then, as regcli does). Many
/// times, since which child fails first is a race. And temp files of `oci-layout` or `index.json` left there by a
/// killed process go with the next write, whatever their age.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_copy_into_a_new_layout_leaves_it_valid_or_absent_and_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let source = LayoutClient::open(tmp.path().join("source")).await.unwrap();
    let arches = ["amd64", "arm64", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"];
    let children: Vec<registry_client::Image> = arches
        .iter()
        .map(|arch| {
            registry_client::ImageBuilder::new()
                .layer(format!("a layer for {arch}: {}", "x".repeat(4096)).into_bytes())
                .platform(registry_client::Platform::new("linux", *arch))
                .build()
                .unwrap()
        })
        .collect();
    let refs: Vec<&registry_client::Image> = children.iter().collect();
    let index = registry_client::index_of(&refs).unwrap();
    source.push_index("v1", &index, &children).await.unwrap();
    // A layer of the first child is missing: its config is being written (the layout created) when it fails.
    let layer = children[0].manifest().layers()[0].digest().to_string();
    let hex = layer.trim_start_matches("sha256:");
    std::fs::remove_file(tmp.path().join("source/blobs/sha256").join(hex)).unwrap();

    for round in 0..32 {
        let dir = tmp.path().join(format!("new{round}"));
        let target = LayoutClient::open(&dir).await.unwrap();
        let copied =
            registry_client::copy_image(&source, "v1", &target, "v1", registry_client::CopyOptions::default()).await;
        assert!(copied.is_err(), "round {round}: the copy of an index missing a child succeeded");
        let temps = temp_files(&dir);
        assert!(temps.is_empty(), "round {round}: temp files left: {temps:?}");
        // `LayoutClient::open` made the directory: empty, it holds no layout; anything in it, a valid one.
        let listing: Vec<String> = walk(&dir);
        if !listing.is_empty() {
            assert!(
                dir.join("oci-layout").is_file(),
                "round {round}: {} has no oci-layout: {listing:?}",
                dir.display()
            );
            assert!(dir.join("index.json").is_file(), "round {round}: {} has no index.json", dir.display());
        }
    }

    // What a killed process left in a layout: gone with this process's first write there.
    let again = tmp.path().join("crashed-again");
    std::fs::create_dir_all(&again).unwrap();
    std::fs::write(again.join(".oci-layout.tmp-Ab12Cd"), b"{\"imageLayoutVer").unwrap();
    std::fs::write(again.join(".index.json.tmp-Ef34Gh"), b"{\"schemaVersion\":2,\"manif").unwrap();
    let fresh = LayoutClient::open(&again).await.unwrap();
    fresh.push_image("v1", &conformance::small_image("after", 1)).await.unwrap();
    assert!(temp_files(&again).is_empty(), "{:?}", temp_files(&again));
    assert!(again.join("oci-layout").is_file());
    assert_eq!(fresh.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
}
