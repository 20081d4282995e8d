//! Mutation without a server: an image built in memory, mutated, its blobs read back.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use futures::TryStreamExt;
use registry_core::{Digest, ErrorKind};

use super::*;
use crate::image::builder::ImageBuilder;

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

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

async fn blob(image: &Image, i: usize) -> Vec<u8> {
    let parts: Vec<Bytes> = image.open_blob(&image.layers()[i]).await.unwrap().try_collect().await.unwrap();
    parts.concat()
}

#[tokio::test]
async fn appends_layers_and_edits_the_config() {
    let base = ImageBuilder::new().layer(tar_of(&[("base.txt", b"base")])).label("from", "base").build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/run"), b"#!/bin/sh\n").unwrap();
    let plain = tar_of(&[("bytes.txt", b"in memory")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_of(&[("file.txt", b"from a file")])).unwrap();
    let gz = gz.finish().unwrap();
    let tar_path = dir.path().join("layer.tar.gz");
    std::fs::write(&tar_path, &gz).unwrap();

    let image = base
        .mutate()
        .append_directory(dir.path().join("app"))
        .append_layer_file(&tar_path)
        .append_layer_bytes(plain.clone())
        .env("MODE", "prod")
        .entrypoint(["/app/run"])
        .user("1000")
        .working_dir("/app")
        .expose("8080")
        .annotation("org.example", "yes")
        .platform(Platform::new("linux", "arm64").with_variant("v8"))
        .created(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .build()
        .await
        .unwrap();

    assert_eq!(image.layers().len(), 4);
    assert_eq!(image.layers()[0], base.layers()[0], "the base layer stays as it was");
    let diff_ids = image.config().rootfs().diff_ids().clone();
    assert_eq!(diff_ids.len(), 4);
    assert_eq!(diff_ids[0], base.config().rootfs().diff_ids()[0]);
    // The gzip file is kept byte for byte; its diff_id is the digest of the tar inside.
    assert_eq!(blob(&image, 2).await, gz);
    assert_eq!(diff_ids[2], Digest::sha256(&gunzip(&gz)).to_string());
    // The plain bytes are gzip-compressed; the diff_id is theirs.
    assert_eq!(gunzip(&blob(&image, 3).await), plain);
    assert_eq!(diff_ids[3], Digest::sha256(&plain).to_string());
    let dir_tar = gunzip(&blob(&image, 1).await);
    assert_eq!(diff_ids[1], Digest::sha256(&dir_tar).to_string());
    let names: Vec<String> = tar::Archive::new(&dir_tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["run"]);
    for l in image.layers() {
        let data = image.blob_bytes(l).await.unwrap();
        assert_eq!(data.len() as u64, l.size());
    }

    let config: Value = serde_json::from_slice(image.config_bytes()).unwrap();
    let c = &config["config"];
    assert_eq!(c["Env"], json!(["MODE=prod"]));
    assert_eq!(c["Labels"], json!({"from": "base"}));
    assert_eq!((c["User"].as_str(), c["WorkingDir"].as_str()), (Some("1000"), Some("/app")));
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(image.platform().to_string(), "linux/arm64/v8");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let history = config["history"].as_array().unwrap();
    let layered = history.iter().filter(|h| h.get("empty_layer") != Some(&json!(true))).count();
    assert_eq!(layered, 4, "one non-empty history entry per layer: {history:?}");
    assert!(history.iter().any(|h| h["created_by"].as_str().unwrap().contains("ENV MODE")), "{history:?}");
    assert_eq!(image.manifest().annotations().as_ref().unwrap()["org.example"], "yes");
    assert_eq!(image.media_type(), media_type::OCI_MANIFEST);
    assert_eq!(image.layers()[1].media_type().to_string(), media_type::OCI_LAYER_GZIP);
}

#[tokio::test]
async fn reproducible_builds_repeat_and_others_differ_only_in_time() {
    let base = ImageBuilder::new().docker_media_types().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"a").unwrap();
    let build = |reproducible: bool| {
        base.mutate().append_directory(dir.path()).label("k", "v").reproducible(reproducible).build()
    };
    let one = build(true).await.unwrap();
    let two = build(true).await.unwrap();
    assert_eq!(one.digest(), two.digest());
    assert_eq!(one.media_type(), media_type::DOCKER_MANIFEST);
    assert_eq!(one.layers()[0].media_type().to_string(), media_type::DOCKER_LAYER_GZIP);
    let config: Value = serde_json::from_slice(one.config_bytes()).unwrap();
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    let tar = gunzip(&blob(&one, 0).await);
    let mut archive = tar::Archive::new(&tar[..]);
    for e in archive.entries().unwrap() {
        let h = e.unwrap().header().clone();
        assert_eq!((h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()), (0, 0, 0));
    }
    let later = base
        .mutate()
        .append_directory(dir.path())
        .label("k", "v")
        .created(UNIX_EPOCH + Duration::from_secs(86_400))
        .build()
        .await
        .unwrap();
    let now = build(false).await.unwrap();
    assert_eq!(later.layers(), now.layers(), "the layer does not depend on the build time");
    assert_ne!(later.digest(), now.digest());
    let strip = |i: &Image| {
        let mut v: Value = serde_json::from_slice(i.config_bytes()).unwrap();
        v["created"] = json!(null);
        for h in v["history"].as_array_mut().unwrap() {
            h["created"] = json!(null);
        }
        v
    };
    assert_eq!(strip(&later), strip(&now), "only the times differ");
}

#[tokio::test]
async fn bad_inputs_name_what_was_wrong() {
    let base = ImageBuilder::new().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tar");
    let e = base.mutate().append_layer_file(&missing).build().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("missing.tar"), "{e}");
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, vec![b'x'; 2048]).unwrap();
    let e = base.mutate().append_layer_file(&junk).build().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("junk.tar"), "{e}");
    let e = base.mutate().append_layer_bytes(&b"\x1f\x8bnot gzip at all"[..]).build().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = base.mutate().expose("99999").build().await.unwrap_err();
    assert!(e.to_string().contains("99999"), "{e}");
    let e = base.mutate().created(UNIX_EPOCH - Duration::from_secs(5)).build().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let docker = ImageBuilder::new().docker_media_types().build().unwrap();
    let e = docker.mutate().annotation("a", "b").build().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // Temp files go where asked, and go away with the image.
    let temp = tempfile::tempdir().unwrap();
    let image = base.mutate().temp_dir(temp.path()).append_layer_bytes(tar_of(&[("x", b"x")])).build().await.unwrap();
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 1);
    drop(image);
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn zstd_is_kept_on_oci_and_recompressed_on_docker() {
    let tar = tar_of(&[("z", b"zstd content")]);
    let zst = ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
    let oci = ImageBuilder::new().build().unwrap().mutate().append_layer_bytes(zst.clone()).build().await.unwrap();
    assert_eq!(oci.layers()[0].media_type().to_string(), media_type::OCI_LAYER_ZSTD);
    assert_eq!(blob(&oci, 0).await, zst);
    assert_eq!(oci.config().rootfs().diff_ids()[0], Digest::sha256(&tar).to_string());
    let docker = ImageBuilder::new().docker_media_types().build().unwrap();
    let d = docker.mutate().append_layer_bytes(zst).build().await.unwrap();
    assert_eq!(d.layers()[0].media_type().to_string(), media_type::DOCKER_LAYER_GZIP);
    assert_eq!(gunzip(&blob(&d, 0).await), tar);
    assert_eq!(d.config().rootfs().diff_ids()[0], Digest::sha256(&tar).to_string());
}

#[tokio::test]
async fn a_directory_goes_where_asked_with_its_parents() {
    let base = ImageBuilder::new().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(dist.join("lib")).unwrap();
    std::fs::write(dist.join("server"), b"#!/bin/sh\n").unwrap();
    std::fs::write(dist.join("lib/x.so"), b"x").unwrap();
    let at = |dest: &str| base.mutate().append_directory_at(&dist, dest).reproducible(true).build();

    let image = at("/opt/app").await.unwrap();
    let tar = gunzip(&blob(&image, 0).await);
    let entries: Vec<(String, u32, u64, u64, u64)> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let name = e.path().unwrap().display().to_string();
            (name, h.mode().unwrap(), h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap())
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["opt", "opt/app", "opt/app/lib", "opt/app/lib/x.so", "opt/app/server"]);
    assert_eq!(&entries[..2], &[("opt".into(), 0o755, 0, 0, 0), ("opt/app".into(), 0o755, 0, 0, 0)]);
    let history: Value = serde_json::from_slice(image.config_bytes()).unwrap();
    assert!(history["history"][0]["created_by"].as_str().unwrap().ends_with("append directory dist at /opt/app"));

    // Relative, trailing slash, `.` parts: the same place, the same layer.
    for same in ["opt/app", "/opt/app/", "./opt//app"] {
        assert_eq!(at(same).await.unwrap().layers(), image.layers(), "{same}");
    }
    // `/` is the image root, as append_directory.
    let root = at("/").await.unwrap();
    let plain = base.mutate().append_directory(&dist).reproducible(true).build().await.unwrap();
    assert_eq!(root.layers(), plain.layers());
    let tar = gunzip(&blob(&plain, 0).await);
    let first = tar::Archive::new(&tar[..]).entries().unwrap().next().unwrap().unwrap().path().unwrap().into_owned();
    assert_eq!(first, std::path::Path::new("lib"), "append_directory puts the contents at the root");

    // Extracted, the file is where the entrypoint of the doc example points.
    let out = tempfile::tempdir().unwrap();
    image.extract_to(out.path().join("rootfs")).await.unwrap();
    assert_eq!(std::fs::read(out.path().join("rootfs/opt/app/server")).unwrap(), b"#!/bin/sh\n");

    for bad in ["../etc", "/opt/../../x", "app/.."] {
        let e = at(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(bad), "{e}");
    }
}

#[tokio::test]
async fn keep_created_records_the_bases_time_so_the_same_change_gives_the_same_digest() {
    let plain = ImageBuilder::new().layer(&b"base"[..]).build().unwrap();
    let base = plain.mutate().created(UNIX_EPOCH + Duration::from_secs(1_700_000_000)).build().await.unwrap();
    let once = base.mutate().label("k", "v").keep_created(true).build().await.unwrap();
    let again = base.mutate().label("k", "v").keep_created(true).build().await.unwrap();
    assert_eq!(once.digest(), again.digest());
    let config: Value = serde_json::from_slice(once.config_bytes()).unwrap();
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let given = base
        .mutate()
        .label("k", "v")
        .keep_created(true)
        .created(UNIX_EPOCH + Duration::from_secs(86_400))
        .build()
        .await
        .unwrap();
    let config: Value = serde_json::from_slice(given.config_bytes()).unwrap();
    assert_eq!(config["created"], "1970-01-02T00:00:00Z", "a time given wins");
}
