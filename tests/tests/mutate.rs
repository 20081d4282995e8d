//! Mutation against the real `docker-registry`: an image pulled from it, layers appended (a directory and a tar
//! file) and config fields, annotations and platform set, pushed back to another repository and to its own,
//! with the base layers mounted or skipped and never downloaded; skopeo reads the new config; the appended
//! directory reads back from the pushed image with the `tar` crate; reproducible builds repeat their digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use registry_client::core::manifest::media_type;
use registry_client::{validate, Client, Image, ImageBuilder, ImageOptions, Platform, ProgressEvent, RemoteClient};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::{json, Value};

fn skopeo_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("skopeo")).find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| panic!("skopeo not found: install it with `apt-get install -y skopeo`"))
}

/// `skopeo inspect [--config] docker://IMAGE`, parsed.
async fn skopeo_inspect(image: &str, config: bool) -> Value {
    let mut args = vec!["--command-timeout", "120s", "inspect", "--tls-verify=false"];
    if config {
        args.push("--config");
    }
    let reference = format!("docker://{image}");
    args.push(&reference);
    let out = tokio::process::Command::new(skopeo_binary()).args(&args).output().await.unwrap();
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Events of a client, as short strings: `download <digest>`, `mounted <digest>`, `skipped <digest>`,
/// `uploaded <digest>`.
type Events = Arc<Mutex<Vec<String>>>;

fn client(registry: &DockerRegistry, repo: &str, events: &Events) -> Arc<dyn Client> {
    let events = events.clone();
    let client = RemoteClient::builder(format!("{}/{repo}", registry.host()))
        .insecure(true)
        .progress(move |e| {
            let line = match e {
                ProgressEvent::DownloadStarted { digest, .. } => format!("download {digest}"),
                ProgressEvent::BlobMounted { digest, .. } => format!("mounted {digest}"),
                ProgressEvent::BlobSkipped { digest, .. } => format!("skipped {digest}"),
                ProgressEvent::BlobDone { digest, .. } => format!("uploaded {digest}"),
                _ => return,
            };
            events.lock().unwrap().push(line);
        })
        .build()
        .unwrap();
    Arc::new(client)
}

fn take(events: &Events) -> Vec<String> {
    std::mem::take(&mut *events.lock().unwrap())
}

async fn blob(image: &Image, i: usize) -> Vec<u8> {
    let parts: Vec<Bytes> = image.open_blob(&image.layers()[i]).await.unwrap().try_collect().await.unwrap();
    parts.concat()
}

/// Seed `app/base:v1` with a two-layer OCI image and pull it back as the base.
async fn pulled_base(registry: &DockerRegistry, events: &Events) -> (Arc<dyn Client>, Image) {
    let base = ImageBuilder::new()
        .layer(tar_of(&[("etc/os-release", b"ID=test\n")]))
        .layer(tar_of(&[("bin/tool", b"#!/bin/sh\necho tool\n")]))
        .label("org.opencontainers.image.title", "base")
        .created("2024-01-02T03:04:05Z")
        .build()
        .unwrap();
    let base_client = client(registry, "app/base", events);
    base_client.push_image("v1", &base).await.unwrap();
    take(events);
    let pulled = base_client.get_image("v1", ImageOptions::default().platform(Platform::new("linux", "amd64"))).await;
    (base_client, pulled.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pulled_image_mutated_and_pushed_never_downloads_its_base() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let events: Events = Arc::default();
    let (base_client, base) = pulled_base(&registry, &events).await;

    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("site");
    std::fs::create_dir_all(tree.join("static/css")).unwrap();
    std::fs::write(tree.join("static/css/main.css"), b"body {}\n").unwrap();
    std::fs::write(tree.join("server"), b"#!/bin/sh\nexec busybox httpd -f\n").unwrap();
    std::fs::set_permissions(tree.join("server"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(tree.join("static"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("static/css/main.css", tree.join("style.css")).unwrap();
    let tar_file = work.path().join("extra.tar");
    std::fs::write(&tar_file, tar_of(&[("etc/extra.conf", b"extra=1\n")])).unwrap();

    let image = base
        .mutate()
        .append_directory(&tree)
        .append_layer_file(&tar_file)
        .label("org.opencontainers.image.version", "2.0")
        .env("MODE", "production")
        .entrypoint(["/server"])
        .cmd(["--port", "8080"])
        .user("1000:1000")
        .working_dir("/srv")
        .expose("8080/tcp")
        .expose("9090/udp")
        .annotation("org.example.built-by", "mutate test")
        .platform(Platform::new("linux", "arm64").with_variant("v8"))
        .build()
        .await
        .unwrap();
    assert!(take(&events).iter().all(|e| !e.starts_with("download")), "building read no base layer");
    assert_eq!(&image.layers()[..2], base.layers(), "the base layers are kept as they are");

    // Another repository of the same registry: base layers mounted, new ones uploaded, nothing downloaded.
    let derived = client(&registry, "app/derived", &events);
    derived.push_image("v2", &image).await.unwrap();
    let seen = take(&events);
    let downloads: Vec<&String> = seen.iter().filter(|e| e.starts_with("download")).collect();
    assert!(downloads.is_empty(), "the push downloaded: {downloads:?}");
    for l in base.layers() {
        assert!(seen.contains(&format!("mounted {}", l.digest())), "base layer not mounted: {seen:?}");
    }
    for l in &image.layers()[2..] {
        assert!(seen.contains(&format!("uploaded {}", l.digest())), "new layer not uploaded: {seen:?}");
    }
    // The base's own repository: base layers are there already.
    base_client.push_image("v2", &image).await.unwrap();
    let seen = take(&events);
    assert!(seen.iter().all(|e| !e.starts_with("download")), "the push downloaded: {seen:?}");
    for l in base.layers() {
        assert!(seen.contains(&format!("skipped {}", l.digest())), "base layer not skipped: {seen:?}");
    }

    // skopeo sees the new config and all four layers.
    let name = format!("{}/app/derived:v2", registry.host());
    let info = skopeo_inspect(&name, false).await;
    assert_eq!(info["Digest"], image.digest().to_string(), "{info:#}");
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(4), "{info:#}");
    assert_eq!((info["Os"].as_str(), info["Architecture"].as_str()), (Some("linux"), Some("arm64")), "{info:#}");
    let config = skopeo_inspect(&name, true).await;
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], json!(["/server"]), "{config:#}");
    assert_eq!(c["Cmd"], json!(["--port", "8080"]), "{config:#}");
    assert_eq!(c["User"], "1000:1000", "{config:#}");
    assert_eq!(c["WorkingDir"], "/srv", "{config:#}");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "9090/udp": {}}), "{config:#}");
    assert!(c["Env"].as_array().unwrap().contains(&json!("MODE=production")), "{config:#}");
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "base", "{config:#}");
    assert_eq!(c["Labels"]["org.opencontainers.image.version"], "2.0", "{config:#}");
    assert_eq!(config["variant"], "v8", "{config:#}");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().map(Vec::len), Some(4), "{config:#}");
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.iter().filter(|h| h["empty_layer"] != json!(true)).count(), 4, "{config:#}");

    // The pushed image reads back: the directory layer is the tree, with modes and the symlink.
    let pulled = derived.get_image("v2", ImageOptions::default().platform(Platform::new("linux", "arm64"))).await;
    let pulled = pulled.unwrap();
    assert_eq!(pulled.digest(), image.digest());
    assert_eq!(
        pulled.manifest().annotations().as_ref().unwrap()["org.example.built-by"],
        "mutate test",
        "the annotation is in the manifest"
    );
    assert_eq!(pulled.layers()[2].media_type().to_string(), media_type::OCI_LAYER_GZIP);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob(&pulled, 2).await[..]).read_to_end(&mut tar).unwrap();
    let mut entries = Vec::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let e = e.unwrap();
        let link = e.link_name().unwrap().map(|l| l.display().to_string());
        let kind = e.header().entry_type();
        assert_eq!((e.header().uid().unwrap(), e.header().gid().unwrap()), (0, 0), "owned by root, as COPY makes it");
        entries.push((e.path().unwrap().display().to_string(), e.header().mode().unwrap(), kind, link));
    }
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["server", "static", "static/css", "static/css/main.css", "style.css"]);
    assert_eq!(entries[0].1, 0o755, "{entries:?}");
    assert_eq!((entries[1].1, entries[1].2), (0o750, tar::EntryType::Directory), "{entries:?}");
    assert_eq!(entries[4].2, tar::EntryType::Symlink, "{entries:?}");
    assert_eq!(entries[4].3.as_deref(), Some("static/css/main.css"), "{entries:?}");

    // And the whole result passes validation (every blob and diff_id read back from the registry).
    let report = validate(derived.as_ref(), "v2").await.unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.blobs_checked(), 5, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reproducible_mutations_repeat_and_others_differ_only_by_time() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let events: Events = Arc::default();
    let (base_client, base) = pulled_base(&registry, &events).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("app.txt"), b"app\n").unwrap();
    let build = |reproducible: bool, secs: Option<u64>| {
        let mut m = base.mutate().append_directory(work.path()).env("A", "1").reproducible(reproducible);
        if let Some(s) = secs {
            m = m.created(UNIX_EPOCH + Duration::from_secs(s));
        }
        m.build()
    };
    let one = build(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let two = build(true, None).await.unwrap();
    assert_eq!(one.digest(), two.digest(), "same inputs, same digest");
    let at = build(true, Some(1_700_000_000)).await.unwrap();
    assert_ne!(at.digest(), one.digest(), "another fixed time, another digest");
    base_client.push_image("repro", &one).await.unwrap();
    assert_eq!(&base_client.get_digest("repro").await.unwrap(), one.digest());

    let first = build(false, Some(1_700_000_000)).await.unwrap();
    let second = build(false, Some(1_700_000_100)).await.unwrap();
    assert_ne!(first.digest(), second.digest());
    assert_eq!(first.layers(), second.layers(), "the layers do not depend on the build time");
    let without_times = |i: &Image| {
        let mut v: Value = serde_json::from_slice(i.config_bytes()).unwrap();
        v["created"] = Value::Null;
        for h in v["history"].as_array_mut().unwrap() {
            if h.get("created").is_some() {
                h["created"] = Value::Null;
            }
        }
        v
    };
    assert_eq!(without_times(&first), without_times(&second), "only the times differ");
    let c: Value = serde_json::from_slice(first.config_bytes()).unwrap();
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
}

/// A docker-typed image keeps docker media types: a zstd tar appended to it is stored as gzip (docker has no zstd
/// layer type), and skopeo and the validator read the result.
#[tokio::test(flavor = "multi_thread")]
async fn a_docker_image_stays_docker() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let events: Events = Arc::default();
    let repo = client(&registry, "docker/app", &events);
    let base = ImageBuilder::new().docker_media_types().layer(tar_of(&[("a", b"a")])).build().unwrap();
    repo.push_image("v1", &base).await.unwrap();
    let pulled = repo.get_image("v1", ImageOptions::default().platform(Platform::new("linux", "amd64"))).await;
    let tar = tar_of(&[("z/zstd.txt", b"zstd in, gzip out\n")]);
    let zst = ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
    let image = pulled.unwrap().mutate().append_layer_bytes(zst).user("nobody").build().await.unwrap();
    assert_eq!(image.media_type(), media_type::DOCKER_MANIFEST);
    assert_eq!(image.config_descriptor().media_type().to_string(), media_type::DOCKER_CONFIG);
    assert_eq!(image.layers()[1].media_type().to_string(), media_type::DOCKER_LAYER_GZIP);
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&blob(&image, 1).await[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, tar, "the zstd tar, recompressed");
    repo.push_image("v2", &image).await.unwrap();
    let info = skopeo_inspect(&format!("{}/docker/app:v2", registry.host()), false).await;
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(2), "{info:#}");
    let report = validate(repo.as_ref(), "v2").await.unwrap();
    assert!(report.is_valid(), "{report}");
}
