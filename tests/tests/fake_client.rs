//! The in-memory `mocks::FakeClient` against the conformance suite the real registry passes, plus copies between
//! its hosts and failure scripting seen the way consumers see it, through `Arc<dyn Client>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::TryStreamExt;
use mocks::{random_image, FakeClient, ImageSpec, Method};
use registry_client::{index_of, Client, ErrorKind, Image, ImageOptions, ListOptions, Platform};
use registry_tests::conformance;

#[tokio::test]
async fn conformance_fake() {
    conformance::run_all(Arc::new(FakeClient::new("registry.example.com"))).await;
}

#[tokio::test]
async fn conformance_fake_second_host() {
    let fake = FakeClient::new("registry.example.com");
    let seed = fake.scoped("seed");
    seed.push_image("v1", &random_image(1, 64)).await.unwrap();
    let (blobs, manifests) = (fake.blob_count(), fake.manifest_count());
    let other = fake.host("mirror.example.com:5000");
    conformance::run_all(Arc::new(other.clone())).await;
    assert!(other.blob_count() > 0);
    assert_eq!((fake.blob_count(), fake.manifest_count()), (blobs, manifests), "the first host is untouched");
    assert_eq!(
        fake.list_repositories(ListOptions::default()).await.unwrap(),
        vec!["seed"],
        "nothing of the second host leaks into the first"
    );
}

#[tokio::test]
async fn conformance_fake_scoped_root() {
    let root: Arc<dyn Client> = Arc::new(FakeClient::new("localhost:5000/team"));
    assert_eq!(root.get_registry(), "localhost:5000/team");
    conformance::run_all(root).await;
}

async fn all_bytes(image: &Image, i: usize) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = image.open_blob(&image.layers()[i]).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

#[tokio::test]
async fn copy_between_hosts_reads_back_identical() {
    let source = FakeClient::new("source.example.com");
    let target = source.host("target.example.com");
    let src: Arc<dyn Client> = Arc::new(source.clone());
    let dst: Arc<dyn Client> = Arc::new(target.clone());
    let image = ImageSpec::new()
        .random_layer(3 * 1024 * 1024 + 17)
        .layer(&b"small"[..])
        .label("stage", "copy")
        .platform(Platform::new("linux", "arm64"))
        .build()
        .unwrap();
    src.with_segment("src/app").push_image("v1", &image).await.unwrap();
    let pulled = src.with_segment("src/app").get_image("v1", ImageOptions::default()).await.unwrap();
    dst.with_segment("mirror/app").push_image("v1", &pulled).await.unwrap();

    let back = dst.with_segment("mirror/app").get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.raw_manifest().bytes(), image.raw_manifest().bytes());
    assert_eq!(back.media_type(), image.media_type());
    assert_eq!(back.config_bytes(), image.config_bytes());
    assert_eq!(back.platform().to_string(), "linux/arm64");
    for i in 0..image.layers().len() {
        assert_eq!(all_bytes(&back, i).await, all_bytes(&image, i).await, "layer {i}");
    }
    assert_eq!(target.blob_count(), 3);
    assert_eq!(target.manifest_count(), 1);
    assert_eq!(target.tags("mirror/app"), vec!["v1"]);
    assert!(target.tags("src/app").is_empty());
    assert!(source.tags("mirror/app").is_empty());
    let e = dst.with_segment("src/app").check_image_exists("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// What a consumer's retry loop looks like: retry temporary errors a few times.
async fn digest_with_retries(client: Arc<dyn Client>, reference: &str) -> registry_client::Result<(String, u32)> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match client.get_digest(reference).await {
            Ok(d) => return Ok((d.to_string(), attempts)),
            Err(e) if e.is_temporary() && attempts < 5 => continue,
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test]
async fn scripted_failures_through_dyn_client() {
    let fake = FakeClient::new("registry.example.com");
    let image = random_image(1, 32);
    fake.scoped("org/app").push_image("v1", &image).await.unwrap();
    fake.clear_calls();
    let client: Arc<dyn Client> = Arc::new(fake.clone());
    let app = client.with_segment("org").with_segment("app");

    // Fail twice with TooManyRequests, then succeed.
    fake.fail_next(Method::GetDigest, 2, ErrorKind::TooManyRequests);
    let (digest, attempts) = digest_with_retries(Arc::clone(&app), "v1").await.unwrap();
    assert_eq!((digest.as_str(), attempts), (image.digest().as_str(), 3));
    assert_eq!(fake.call_count(Method::GetDigest), 3);
    assert!(fake.calls().iter().all(|c| c.registry == "registry.example.com/org/app"));

    // A permanent failure is not retried away.
    fake.fail_always(Method::GetDigest, ErrorKind::Unauthorized);
    let e = digest_with_retries(Arc::clone(&app), "v1").await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Unauthorized, Some(401)));
    assert_eq!(fake.call_count(Method::GetDigest), 4);
    // Always-failing temporary errors give up after five attempts.
    fake.fail_always(Method::GetDigest, ErrorKind::Server);
    assert_eq!(digest_with_retries(Arc::clone(&app), "v1").await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(fake.call_count(Method::GetDigest), 9);
    fake.clear_failures();
    assert_eq!(digest_with_retries(app, "v1").await.unwrap().1, 1);
}

#[tokio::test]
async fn two_platform_index_like_docker_registry() {
    // The same steps as `docker_registry::two_platform_index`, against the fake.
    let fake = FakeClient::new("registry.example.com");
    let client: Arc<dyn Client> = Arc::new(fake.clone());
    let multi = client.with_segment("multi").with_segment("app");
    let (amd, arm) = conformance::two_platform_images();
    multi.push_image("amd64", &amd).await.unwrap();
    multi.push_image("arm64", &arm).await.unwrap();
    let index = index_of(&[&amd, &arm]).unwrap();
    let pushed = fake.scoped("multi/app").put_manifest_bytes("v1", index.media_type(), index.bytes().clone()).unwrap();
    assert_eq!(&pushed, index.digest());
    conformance::check_index_platforms(multi.clone(), "v1", &amd, &arm, index.digest()).await;
    assert_eq!(multi.list_tags(ListOptions::default()).await.unwrap(), vec!["amd64", "arm64", "v1"]);
}

#[tokio::test]
async fn failures_for_one_reference_and_seeding_seen_by_a_consumer() {
    let fake = FakeClient::new("registry.example.com");
    let (v1, v2) = (random_image(1, 32), random_image(1, 32));
    // Seeding with the helpers leaves the log empty, so the test counts only what the code under test does.
    fake.scoped("org/app").seed_image("v1", &v1).await.unwrap();
    fake.scoped("org/app").seed_image("v2", &v2).await.unwrap();
    assert!(fake.calls().is_empty());
    let client: Arc<dyn Client> = Arc::new(fake.clone());
    let app = client.with_segment("org/app");
    fake.fail_next_for(Method::GetDigest, "v1", 1, ErrorKind::TooManyRequests);
    // A consumer walking every tag: v1 fails once, v2 is untouched.
    let tags: Vec<String> = app.list_tags_stream().try_collect().await.unwrap();
    let mut failed = Vec::new();
    for tag in &tags {
        if let Err(e) = app.get_digest(tag).await {
            failed.push((tag.clone(), e.kind()));
        }
    }
    assert_eq!(failed, vec![("v1".to_string(), ErrorKind::TooManyRequests)]);
    assert_eq!(&app.get_digest("v1").await.unwrap(), v1.digest());
    let methods: Vec<Method> = fake.calls().iter().map(|c| c.method).collect();
    assert_eq!(methods, vec![Method::ListTagsStream, Method::GetDigest, Method::GetDigest, Method::GetDigest]);
}
