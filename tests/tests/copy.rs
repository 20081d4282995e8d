//! `copy_image` between every pair the project cares about: the fake to the fake (another host), the fake to an
//! OCI layout, docker-registry to docker-registry, and within one docker-registry (mounts); whole indexes with the
//! digest unchanged, platform filters, referrers, skip on a second copy, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mocks::FakeClient;
use registry_client::{
    copy_image, index_of, Artifact, Client, CopyOptions, CopyReport, Digest, ErrorKind, Image, ImageBuilder,
    ImageOptions, LayoutClient, Platform, RemoteClient,
};
use registry_tests::conformance::two_platform_images;
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};

/// Three platform images (amd64, arm64/v8, s390x) and their index, pushed to `repo` under `v1`.
async fn seed_index(repo: &dyn Client) -> (Vec<Image>, registry_client::Manifest) {
    let (amd, arm) = two_platform_images();
    let s390 =
        ImageBuilder::new().layer(&b"s390x layer"[..]).platform(Platform::new("linux", "s390x")).build().unwrap();
    let index = index_of(&[&amd, &arm, &s390]).unwrap();
    let images = vec![amd, arm, s390];
    repo.push_index("v1", &index, &images).await.unwrap();
    (images, index)
}

fn blobs_moved(r: &CopyReport) -> usize {
    r.blobs_uploaded + r.blobs_mounted + r.blobs_skipped
}

/// The whole index copied: digest unchanged, every child readable on the target; a second copy skips every blob.
async fn check_whole_index(source: &dyn Client, target: &dyn Client, images: &[Image], index: &Digest) -> CopyReport {
    let report = copy_image(source, "v1", target, "copied", CopyOptions::default()).await.unwrap();
    assert_eq!(&report.source_digest, index, "{report:?}");
    assert_eq!(&report.target_digest, index, "{report:?}");
    assert_eq!(report.digest_changed, None);
    assert_eq!(report.manifests_copied, 4, "three children and the index: {report:?}");
    assert_eq!(blobs_moved(&report), 6, "three configs and three layers: {report:?}");
    assert_eq!(&target.get_digest("copied").await.unwrap(), index);
    let got = target.get_manifest("copied").await.unwrap();
    assert!(got.is_index());
    assert_eq!(got.bytes(), source.get_manifest("v1").await.unwrap().bytes(), "exact bytes");
    for image in images {
        let child = target.get_image(&format!("@{}", image.digest()), ImageOptions::default()).await.unwrap();
        assert_eq!(child.digest(), image.digest());
        let picked = target.get_image("copied", ImageOptions::default().platform(image.platform())).await.unwrap();
        assert_eq!(picked.digest(), image.digest(), "{}", image.platform());
    }
    let again = copy_image(source, "v1", target, "copied", CopyOptions::default()).await.unwrap();
    assert_eq!(again.blobs_skipped, 6, "second copy skips every blob: {again:?}");
    assert_eq!((again.blobs_uploaded, again.blobs_mounted, again.bytes_uploaded), (0, 0, 0), "{again:?}");
    assert_eq!(&again.target_digest, index);
    report
}

/// Platform filters, errors, referrers; `target` is empty of these tags.
async fn check_filters_and_errors(source: &dyn Client, target: &dyn Client, images: &[Image], index: &Digest) {
    let arm = Platform::new("linux", "arm64").with_variant("v8");
    let one = copy_image(source, "v1", target, "arm", CopyOptions::default().platforms([arm.clone()])).await.unwrap();
    assert_eq!(&one.target_digest, images[1].digest(), "{one:?}");
    assert!(one.digest_changed.is_some(), "{one:?}");
    assert_eq!(one.manifests_copied, 1);
    let m = target.get_manifest("arm").await.unwrap();
    assert!(!m.is_index(), "one platform: its manifest alone");
    assert_eq!(m.digest(), images[1].digest());

    let two = copy_image(
        source,
        "v1",
        target,
        "two",
        CopyOptions::default().platforms([Platform::new("linux", "s390x"), Platform::new("linux", "amd64")]),
    )
    .await
    .unwrap();
    assert_ne!(&two.target_digest, index, "a filtered index has a new digest");
    assert!(two.digest_changed.as_deref().unwrap_or_default().contains("linux/s390x"), "{two:?}");
    let filtered = target.get_manifest("two").await.unwrap();
    assert_eq!(filtered.digest(), &two.target_digest);
    let entries: Vec<String> =
        filtered.as_index().unwrap().manifests().iter().map(|d| d.digest().to_string()).collect();
    assert_eq!(entries, vec![images[2].digest().to_string(), images[0].digest().to_string()]);
    for image in [&images[0], &images[2]] {
        let picked = target.get_image("two", ImageOptions::default().platform(image.platform())).await.unwrap();
        assert_eq!(picked.digest(), image.digest());
    }
    let e = target.get_image("two", ImageOptions::default().platform(arm)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let missing = CopyOptions::default().platforms([Platform::new("windows", "amd64")]);
    let e = copy_image(source, "v1", target, "win", missing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("linux/s390x"), "names what the index has: {e}");
    assert_eq!(target.check_image_exists("win").await.unwrap_err().kind(), ErrorKind::NotFound);

    let e = copy_image(source, "nope", target, "x", CopyOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = copy_image(source, "v1", target, "-bad", CopyOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = copy_image(source, "v1", target, &format!("@{}", images[0].digest()), CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "a digest-only target must be the copy's digest: {e}");
    let by_digest =
        copy_image(source, &format!("@{index}"), target, &format!("@{index}"), CopyOptions::default()).await.unwrap();
    assert_eq!(&by_digest.target_digest, index);
    assert!(target.check_image_exists(&format!("@{index}")).await.is_ok());
}

/// Referrers of the index and of a child travel with `referrers(true)` and are listed on the target.
async fn check_referrers(
    source: &dyn Client,
    target: &dyn Client,
    images: &[Image],
    index: &registry_client::Manifest,
) {
    let sig = Artifact::builder("application/vnd.example.signature.v1+json")
        .subject(index.descriptor().unwrap())
        .layer(&b"{\"signature\":\"c2ln\"}"[..], "application/vnd.example.signature.v1+json")
        .build()
        .unwrap();
    let sbom = Artifact::builder("application/spdx+json")
        .subject(images[0].raw_manifest().descriptor().unwrap())
        .layer(&b"{\"spdx\":1}"[..], "application/spdx+json")
        .build()
        .unwrap();
    source.push_artifact(&sig).await.unwrap();
    source.push_artifact(&sbom).await.unwrap();

    let plain = copy_image(source, "v1", target, "plain", CopyOptions::default()).await.unwrap();
    assert_eq!(plain.referrers_copied, 0);
    let report = copy_image(source, "v1", target, "signed", CopyOptions::default().referrers(true)).await.unwrap();
    assert_eq!(report.referrers_copied, 2, "{report:?}");
    let listed = target.list_referrers(index.digest().as_str(), None).await.unwrap();
    let digests: Vec<String> = listed.iter().map(|d| d.digest().to_string()).collect();
    assert_eq!(digests, vec![sig.digest().to_string()]);
    let listed = target.list_referrers(images[0].digest().as_str(), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest().to_string(), sbom.digest().to_string());
    assert!(target.check_image_exists(&format!("@{}", sbom.digest())).await.is_ok());
}

#[tokio::test]
async fn fake_to_fake_other_host() {
    let fake = FakeClient::new("registry.example.com");
    let source = fake.scoped("src").with_segment("app");
    let target = Arc::new(fake.host("mirror.example.com")).with_segment("mirror").with_segment("app");
    let (images, index) = seed_index(&*source).await;
    let first = check_whole_index(&*source, &*target, &images, index.digest()).await;
    assert_eq!(first.blobs_uploaded, 6, "another host: uploaded, never mounted: {first:?}");
    assert!(first.bytes_uploaded > 0);
    check_filters_and_errors(&*source, &*target.with_segment("f"), &images, index.digest()).await;
    check_referrers(&*source, &*target.with_segment("r"), &images, &index).await;
}

#[tokio::test]
async fn fake_same_host_mounts() {
    let fake: Arc<dyn Client> = Arc::new(FakeClient::new("registry.example.com"));
    let source = fake.with_segment("src");
    let (images, index) = seed_index(&*source).await;
    let report = check_whole_index(&*source, &*fake.with_segment("dst"), &images, index.digest()).await;
    assert_eq!(report.blobs_mounted, 6, "{report:?}");
    assert_eq!(report.bytes_uploaded, 0);
}

#[tokio::test]
async fn fake_to_layout() {
    let dir = tempfile::tempdir().unwrap();
    let layout: Arc<dyn Client> = Arc::new(LayoutClient::open(dir.path()).await.unwrap());
    let fake: Arc<dyn Client> = Arc::new(FakeClient::new("registry.example.com"));
    let source = fake.with_segment("src");
    let (images, index) = seed_index(&*source).await;
    check_whole_index(&*source, &*layout.with_segment("whole"), &images, index.digest()).await;
    check_filters_and_errors(&*source, &*layout.with_segment("filters"), &images, index.digest()).await;
    check_referrers(&*source, &*layout.with_segment("refs"), &images, &index).await;
    // And back out of the layout into another fake host, unchanged.
    let back = Arc::new(FakeClient::new("back.example.com")).with_segment("app");
    let r = copy_image(&*layout.with_segment("whole"), "copied", &*back, "v1", CopyOptions::default()).await.unwrap();
    assert_eq!(&r.target_digest, index.digest());
}

fn remote(registry: &DockerRegistry, path: &str) -> Arc<dyn Client> {
    let client: Arc<dyn Client> = Arc::new(RemoteClient::builder(registry.host()).insecure(true).build().unwrap());
    path.split('/').fold(client, |c, s| c.with_segment(s))
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_registry_to_docker_registry() {
    let a = DockerRegistry::start(AuthMode::Anonymous);
    let b = DockerRegistry::start(AuthMode::Anonymous);
    let source = remote(&a, "src/app");
    let (images, index) = seed_index(&*source).await;
    let target = remote(&b, "mirror/app");
    let first = check_whole_index(&*source, &*target, &images, index.digest()).await;
    assert_eq!(first.blobs_uploaded, 6, "{first:?}");
    let layer_bytes: u64 = images.iter().map(|i| i.layers()[0].size() + i.config_descriptor().size()).sum();
    assert_eq!(first.bytes_uploaded, layer_bytes);

    let raw =
        skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/mirror/app:copied", b.host())]).await;
    assert_eq!(&Digest::sha256(&raw), index.digest(), "skopeo reads the copied index with the source's digest");

    check_filters_and_errors(&*source, &*remote(&b, "mirror/filters"), &images, index.digest()).await;
    check_referrers(&*source, &*remote(&b, "mirror/refs"), &images, &index).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_registry_same_registry_mounts() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let source = remote(&registry, "src/app");
    let (images, index) = seed_index(&*source).await;
    let report = check_whole_index(&*source, &*remote(&registry, "other/app"), &images, index.digest()).await;
    assert_eq!(report.blobs_mounted, 6, "{report:?}");
    assert_eq!((report.blobs_uploaded, report.bytes_uploaded), (0, 0), "{report:?}");
}

#[tokio::test]
async fn tag_is_written_last_when_a_child_fails() {
    let fake = FakeClient::new("registry.example.com");
    let source = fake.scoped("src");
    let (images, index) = seed_index(&source).await;
    let target_fake = fake.host("mirror.example.com").scoped("dst");
    let target: Arc<dyn Client> = Arc::new(target_fake.clone());
    let last_child = format!("@{}", images[2].digest());
    target_fake.fail_next_for(mocks::Method::PutManifest, &last_child, 1, ErrorKind::Server);
    let e = copy_image(&source, "v1", &*target, "copied", CopyOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(e.to_string().contains(images[2].digest().as_str()), "names the manifest: {e}");
    let kind = target.check_image_exists("copied").await.unwrap_err().kind();
    assert_eq!(kind, ErrorKind::NotFound, "no tag on a partial copy");
    let report = copy_image(&source, "v1", &*target, "copied", CopyOptions::default()).await.unwrap();
    assert_eq!(&report.target_digest, index.digest());
    assert_eq!(report.blobs_skipped, 6, "the first attempt's blobs stay: {report:?}");
}

#[tokio::test]
async fn nested_index_of_docker_lists() {
    use registry_client::core::manifest::media_type::DOCKER_LIST;
    use registry_client::oci_spec::image::MediaType;
    let fake = FakeClient::new("registry.example.com");
    let source = fake.scoped("src");
    let amd = ImageBuilder::new().layer(&b"a"[..]).platform(Platform::new("linux", "amd64")).docker_media_types();
    let arm = ImageBuilder::new().layer(&b"b"[..]).platform(Platform::new("linux", "arm64")).docker_media_types();
    let (amd, arm) = (amd.build().unwrap(), arm.build().unwrap());
    let mut list = index_of(&[&amd, &arm]).unwrap().as_index().unwrap().clone();
    list.set_media_type(Some(MediaType::Other(DOCKER_LIST.to_string())));
    let list = registry_client::Manifest::from_index(&list, DOCKER_LIST).unwrap();
    source.push_index("inner", &list, &[amd.clone(), arm.clone()]).await.unwrap();
    let mut outer = index_of(&[&amd]).unwrap().as_index().unwrap().clone();
    outer.set_manifests(vec![list.descriptor().unwrap()]);
    let outer =
        registry_client::Manifest::from_index(&outer, registry_client::core::manifest::media_type::OCI_INDEX).unwrap();
    source.put_manifest("nested", &outer).await.unwrap();

    let target = Arc::new(fake.host("mirror.example.com")).with_segment("dst");
    let report = copy_image(&source, "nested", &*target, "nested", CopyOptions::default()).await.unwrap();
    assert_eq!(&report.target_digest, outer.digest());
    assert_eq!(report.manifests_copied, 4, "two images, the docker list, the outer index: {report:?}");
    let got = target.get_manifest(&format!("@{}", list.digest())).await.unwrap();
    assert_eq!(got.media_type(), DOCKER_LIST);
    assert_eq!(got.bytes(), list.bytes(), "the docker list's exact bytes");
    let picked = target
        .get_image(&format!("@{}", list.digest()), ImageOptions::default().platform(Platform::new("linux", "arm64")))
        .await
        .unwrap();
    assert_eq!(picked.digest(), arm.digest());
}

/// The cosign tag of `digest` with `suffix` (`.sig`, `.att`, `.sbom`).
fn cosign_tag(digest: &Digest, suffix: &str) -> String {
    format!("{}{suffix}", digest.to_string().replace(':', "-"))
}

#[tokio::test]
async fn referrers_bring_cosign_digest_tags_of_what_is_copied_and_only_those() {
    let source = FakeClient::new("src.example").scoped("org/app");
    let target = source.host("dst.example").scoped("org/app");
    let (images, index) = seed_index(&source).await;
    let sig = ImageBuilder::new().layer(&b"signature of the index"[..]).build().unwrap();
    let att = ImageBuilder::new().layer(&b"attestation of arm64"[..]).build().unwrap();
    let other = ImageBuilder::new().layer(&b"signature of something else"[..]).build().unwrap();
    let unrelated = Digest::sha256(b"not copied");
    source.push_image(&cosign_tag(index.digest(), ".sig"), &sig).await.unwrap();
    source.push_image(&cosign_tag(images[1].digest(), ".att"), &att).await.unwrap();
    source.push_image(&cosign_tag(&unrelated, ".sig"), &other).await.unwrap();

    let plain = copy_image(&source, "v1", &target, "v1", CopyOptions::default()).await.unwrap();
    assert_eq!(plain.digest_tags_copied, 0);
    assert!(target.get_digest(&cosign_tag(index.digest(), ".sig")).await.is_err(), "without referrers: none");

    let report = copy_image(&source, "v1", &target, "v1", CopyOptions::default().referrers(true)).await.unwrap();
    assert_eq!(report.digest_tags_copied, 2, "{report:?}");
    assert_eq!(target.get_digest(&cosign_tag(index.digest(), ".sig")).await.unwrap(), *sig.digest());
    assert_eq!(target.get_digest(&cosign_tag(images[1].digest(), ".att")).await.unwrap(), *att.digest());
    assert_eq!(target.get_digest(&cosign_tag(&unrelated, ".sig")).await.unwrap_err().kind(), ErrorKind::NotFound);

    // One platform: the child's own digest tags come, and the source index's (the digest the user named).
    let arm = CopyOptions::default().platforms([Platform::new("linux", "arm64")]).referrers(true);
    let other_target = source.host("other.example").scoped("org/app");
    let one = copy_image(&source, "v1", &other_target, "v1", arm).await.unwrap();
    assert_eq!(one.digest_tags_copied, 2, "{one:?}");
    assert_eq!(other_target.get_digest(&cosign_tag(images[1].digest(), ".att")).await.unwrap(), *att.digest());
}
