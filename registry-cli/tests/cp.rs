//! `regcli cp` against the real docker-registry (and skopeo to read what it wrote): registry to registry with the
//! digest unchanged, platform filters, OCI layouts both ways, JSON output, global flags after the command, and
//! usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use registry_client::{Digest, ImageOptions, Platform};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};
use support::{client, regcli_async, seed_index, shown, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_copies_a_whole_index_between_registries_and_skopeo_reads_the_same_digest() {
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let target = DockerRegistry::start(AuthMode::Anonymous);
    let (_, digest) = seed_index(&*client(&source.host()).with_segment("org/app"), "v1", 10).await;

    let src = format!("{}/org/app:v1", source.host());
    let dst = format!("{}/mirror/app:v1", target.host());
    let out = regcli_async(&["--insecure", "cp", &src, &dst]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("copied {src} -> {dst} {digest}")), "{}", shown(&out));
    assert!(text.contains("blobs uploaded"), "{}", shown(&out));

    let on_target = client(&target.host()).with_segment("mirror/app").get_digest("v1").await.unwrap();
    assert_eq!(on_target, digest);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{dst}")]).await;
    assert_eq!(Digest::sha256(&raw), digest, "skopeo reads the index with the source's digest");

    // Again: every blob is there; global flags after the command; JSON has every key.
    let out = regcli_async(&["cp", &src, &dst, "--insecure", "--format", "json", "--progress", "never"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    for key in [
        "source",
        "target",
        "source_digest",
        "target_digest",
        "digest_changed",
        "manifests_copied",
        "blobs_uploaded",
        "blobs_mounted",
        "blobs_skipped",
        "bytes_uploaded",
        "referrers_copied",
        "seconds",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(json["target_digest"], digest.to_string());
    assert_eq!(json["blobs_uploaded"], 0, "{json}");
    assert_eq!(json["bytes_uploaded"], 0, "{json}");
    assert!(json["blobs_skipped"].as_u64().unwrap() > 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_platform_narrows_an_index() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let root = client(&registry.host());
    let (images, digest) = seed_index(&*root.with_segment("org/app"), "v1", 20).await;
    let src = format!("{}/org/app:v1", registry.host());

    // One platform: its image manifest alone (the arm64 child's digest), and the report says why.
    let dst = format!("{}/arm/app:v1", registry.host());
    let out =
        regcli_async(&["cp", "--insecure", "--platform", "linux/arm64/v8", &src, &dst, "--format", "json", "-vv"])
            .await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEBUG"), "-vv logs at debug on stderr: {}", shown(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["target_digest"], images[1].digest().to_string(), "{json}");
    assert_eq!(json["source_digest"], digest.to_string(), "{json}");
    assert!(json["digest_changed"].as_str().unwrap().contains("arm64"), "{json}");
    assert_eq!(&root.with_segment("arm/app").get_digest("v1").await.unwrap(), images[1].digest());

    // Two platforms as a comma list: a filtered index holding exactly them.
    let dst = format!("{}/two/app:v1", registry.host());
    let out = regcli_async(&["--insecure", "cp", &src, &dst, "--platform", "linux/amd64,linux/s390x"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains("digest changed"), "{}", shown(&out));
    let two = root.with_segment("two/app").get_manifest("v1").await.unwrap();
    let index = two.as_index().expect("an index");
    let got: Vec<String> = index.manifests().iter().map(|d| d.digest().to_string()).collect();
    assert_eq!(got, vec![images[0].digest().to_string(), images[2].digest().to_string()]);

    // A platform the index lacks fails with exit 1 and names what it has.
    let dst = format!("{}/none/app:v1", registry.host());
    let out = regcli_async(&["--insecure", "cp", &src, &dst, "--platform", "windows/amd64"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("regcli: ") && err.contains("windows"), "{}", shown(&out));
    assert!(out.stdout.is_empty(), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_to_an_oci_layout_and_back() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let root = client(&registry.host());
    let (images, digest) = seed_index(&*root.with_segment("org/app"), "v1", 30).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let src = format!("{}/org/app:v1", registry.host());

    // To a layout with a tag, and without one (keeps the source's tag).
    let to_disk = format!("oci:{}:saved", layout.display());
    let out = regcli_async(&["--insecure", "cp", &src, &to_disk]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let out = regcli_async(&["--insecure", "cp", &src, &format!("oci:{}", layout.display())]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains(&format!("oci:{}:v1", layout.display())), "{}", shown(&out));
    // skopeo reads the layout by the tag we wrote.
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:saved", layout.display())]).await;
    assert_eq!(Digest::sha256(&raw), digest);

    // Back to the registry from the layout, by its tag.
    let back = format!("{}/back/app:v1", registry.host());
    let out = regcli_async(&["cp", &to_disk, &back, "--insecure"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let back_client = root.with_segment("back/app");
    assert_eq!(back_client.get_digest("v1").await.unwrap(), digest);
    let arm = back_client
        .get_image("v1", ImageOptions::default().platform(Platform::new("linux", "arm64").with_variant("v8")))
        .await
        .unwrap();
    assert_eq!(arm.digest(), images[1].digest());

    // A layout of two tags, given without one: a usage error naming it.
    let out = regcli_async(&["cp", &format!("oci:{}", layout.display()), &back, "--insecure"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name one"), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_usage_errors_exit_2_and_name_the_input() {
    for args in [
        vec!["cp", "app", "oci:/tmp/x"],
        vec!["cp", "127.0.0.1:1/a:v1", "docker-archive:"],
        vec!["cp", "127.0.0.1:1/a:v1", "127.0.0.1:1/b:v1", "--platform", "not-a-platform"],
        vec!["cp", "127.0.0.1:1/a:v1"],
        vec!["cp", "--format", "yaml", "127.0.0.1:1/a:v1", "127.0.0.1:1/b:v1"],
    ] {
        let out = regcli_async(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("regcli: "), "{args:?}: {}", shown(&out));
        assert_eq!(err.matches("regcli: ").count(), 1, "printed once: {}", shown(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", shown(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_from_archives_to_a_registry() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let root = client(&registry.host());
    let (images, digest) = seed_index(&*root.with_segment("org/app"), "v1", 40).await;
    let dir = tempfile::tempdir().unwrap();

    // An oci-archive of the index, read back by its only tag.
    let oci = dir.path().join("app-oci.tar");
    let mut writer = registry_client::OciArchiveWriter::create(&oci).await.unwrap();
    let index = root.with_segment("org/app").get_manifest("v1").await.unwrap().into_manifest();
    writer.add_index("v1", &index, &images).await.unwrap();
    writer.finish().await.unwrap();
    let dst = format!("{}/from-oci/app:v1", registry.host());
    let out = regcli_async(&["cp", &format!("oci-archive:{}", oci.display()), &dst, "--insecure"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(root.with_segment("from-oci/app").get_digest("v1").await.unwrap(), digest);

    // A docker-archive of one image (its layer a real tar, as docker-archives need), by its name and without one.
    let tarred = registry_client::ImageBuilder::new()
        .layer(registry_tests::layers::one_file_tar("hello.txt", b"hello from a docker-archive"))
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap();
    let docker = dir.path().join("app.tar");
    let mut writer = registry_client::DockerArchiveWriter::create(&docker).await.unwrap();
    writer.add_image(&tarred, &["org/app:v1"]).await.unwrap();
    writer.finish().await.unwrap();
    for (src, tag) in [
        (format!("docker-archive:{}:org/app:v1", docker.display()), "named"),
        (format!("docker-archive:{}", docker.display()), "only"),
    ] {
        let dst = format!("{}/from-docker/app:{tag}", registry.host());
        let out = regcli_async(&["cp", &src, &dst, "--insecure", "--format", "json"]).await;
        assert!(out.status.success(), "{}", shown(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let image = root.with_segment("from-docker/app").get_image(tag, ImageOptions::default()).await.unwrap();
        assert_eq!(json["target_digest"], image.digest().to_string());
        assert_eq!(image.config_descriptor().digest(), tarred.config_descriptor().digest(), "{tag}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_into_archives_and_back() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let root = client(&registry.host());
    let (_, digest) = seed_index(&*root.with_segment("org/app"), "v1", 50).await;
    let dir = tempfile::tempdir().unwrap();
    let src = format!("{}/org/app:v1", registry.host());

    // The index whole into an oci-archive (the tag defaults to the source's); skopeo reads the same digest.
    let oci = dir.path().join("app-oci.tar");
    let out = regcli_async(&["cp", &src, &format!("oci-archive:{}", oci.display()), "--insecure"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains(&digest.to_string()), "{}", shown(&out));
    let raw = skopeo(&["inspect", "--raw", &format!("oci-archive:{}:v1", oci.display())]).await;
    assert_eq!(Digest::sha256(&raw), digest);
    let back = format!("{}/back/app:v1", registry.host());
    let out = regcli_async(&["cp", &format!("oci-archive:{}:v1", oci.display()), &back, "--insecure"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(root.with_segment("back/app").get_digest("v1").await.unwrap(), digest);

    // One platform of an image with a real tar layer into a docker-archive named after the source; skopeo reads
    // its config.
    let tarred = registry_client::ImageBuilder::new()
        .layer(registry_tests::layers::one_file_tar("hello.txt", b"hello from regcli"))
        .platform(Platform::new("linux", "arm64").with_variant("v8"))
        .build()
        .unwrap();
    root.with_segment("org/tarred").push_image("v2", &tarred).await.unwrap();
    let docker = dir.path().join("app.tar");
    let src = format!("{}/org/tarred:v2", registry.host());
    let args = ["cp", &src, &format!("docker-archive:{}", docker.display()), "--insecure", "--format", "json"];
    let out = regcli_async(&args).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["target_digest"], tarred.digest().to_string(), "{json}");
    assert_eq!(json["platform"], "linux/arm64/v8", "{json}");
    // The image is named as docker names an image pulled from there: with its registry host.
    let named = format!("docker-archive:{}:{}/org/tarred:v2", docker.display(), registry.host());
    let config = skopeo(&["inspect", "--config", "--raw", &named]).await;
    assert_eq!(Digest::sha256(&config).to_string(), tarred.config_descriptor().digest().to_string());
}
