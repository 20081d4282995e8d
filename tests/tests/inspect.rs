//! `registry_client::inspect` against the in-memory `mocks::FakeClient`: an index and its entries, a platform's
//! image picked from it, a single image, an artifact, and the errors (missing reference, platform absent, scripted
//! registry failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mocks::{multi_platform, FakeClient, ImageSpec, Method};
use registry_client::{inspect, Artifact, Client, ErrorKind, Platform};

fn platforms() -> Vec<Platform> {
    vec![Platform::new("linux", "amd64"), Platform::new("linux", "arm64").with_variant("v8")]
}

#[tokio::test]
async fn an_index_its_entries_and_a_platforms_image() {
    let fake = FakeClient::new("registry.example.com").scoped("org/app");
    let images = multi_platform(&platforms());
    let refs: Vec<_> = images.iter().collect();
    let index = fake.seed_index("v1", &refs).await.unwrap();

    let seen = inspect(&fake, "v1", None).await.unwrap();
    assert_eq!(seen.reference, "registry.example.com/org/app:v1");
    assert_eq!(seen.digest, index);
    assert!(seen.is_index() && seen.image.is_none());
    let entries = seen.manifests.as_ref().unwrap();
    assert_eq!(
        entries.iter().map(|e| e.digest.clone()).collect::<Vec<_>>(),
        [images[0].digest().clone(), images[1].digest().clone()]
    );
    assert_eq!(entries[1].platform.as_deref(), Some("linux/arm64/v8"));

    let arm = inspect(&fake, "v1", Some(&Platform::new("linux", "arm64"))).await.unwrap();
    assert_eq!(&arm.digest, images[1].digest());
    assert_eq!(arm.index_digest.as_ref(), Some(&index));
    let details = arm.image.as_ref().unwrap();
    assert_eq!((details.os.as_str(), details.architecture.as_str()), ("linux", "arm64"));
    assert_eq!(details.layers.len(), images[1].layers().len());

    // By digest: the same answer, named by digest.
    let by_digest = inspect(&fake, &format!("@{index}"), None).await.unwrap();
    assert_eq!(by_digest.digest, index);
    assert_eq!(by_digest.reference, format!("registry.example.com/org/app@{index}"));

    // A platform the index lacks: NotFound listing what it has, naming the reference.
    let e = inspect(&fake, "v1", Some(&Platform::new("linux", "ppc64le"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("linux/amd64") && e.to_string().contains("org/app:v1"), "{e}");
}

#[tokio::test]
async fn a_single_image_with_its_labels_and_layers() {
    let fake = FakeClient::new("registry.example.com").scoped("app");
    let image = ImageSpec::new()
        .random_layer(1000)
        .random_layer(24)
        .label("org.opencontainers.image.version", "1.2.3")
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap();
    fake.seed_image("v1", &image).await.unwrap();

    let seen = inspect(&fake, "v1", None).await.unwrap();
    assert!(!seen.is_index());
    assert_eq!(&seen.digest, image.digest());
    let details = seen.image.as_ref().unwrap();
    assert_eq!(details.labels.get("org.opencontainers.image.version").map(String::as_str), Some("1.2.3"));
    assert_eq!(details.layers_size, image.layers().iter().map(|l| l.size()).sum::<u64>());
    assert_eq!(details.layers.len(), 2);

    // The platform asked for is checked against a single image's config.
    let e = inspect(&fake, "v1", Some(&Platform::new("linux", "arm64"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(inspect(&fake, "v1", Some(&Platform::new("linux", "amd64"))).await.is_ok());

    // Missing, and a registry failure: the error as the client gives it.
    assert_eq!(inspect(&fake, "v9", None).await.unwrap_err().kind(), ErrorKind::NotFound);
    fake.fail_next(Method::GetManifest, 1, ErrorKind::Server);
    assert_eq!(inspect(&fake, "v1", None).await.unwrap_err().kind(), ErrorKind::Server);
    assert!(inspect(&fake, "v1", None).await.is_ok(), "one failure scripted");
}

#[tokio::test]
async fn an_artifact_is_described_without_a_platform() {
    let fake = FakeClient::new("registry.example.com").scoped("app");
    let image = ImageSpec::new().random_layer(64).build().unwrap();
    fake.seed_image("v1", &image).await.unwrap();
    let sbom = Artifact::builder("application/spdx+json")
        .subject(image.raw_manifest().descriptor().unwrap())
        .layer(&b"{\"spdxVersion\":\"SPDX-2.3\"}"[..], "application/spdx+json")
        .build()
        .unwrap();
    let digest = fake.push_artifact(&sbom).await.unwrap();

    let seen = inspect(&fake, &format!("@{digest}"), None).await.unwrap();
    assert_eq!(seen.artifact_type.as_deref(), Some("application/spdx+json"));
    assert!(seen.image.is_none() && seen.manifests.is_none());
    assert_eq!(seen.artifact.as_ref().unwrap().layers.len(), 1);
    let e = inspect(&fake, &format!("@{digest}"), Some(&Platform::new("linux", "amd64"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}
