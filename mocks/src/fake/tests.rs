//! Behaviour of [`FakeClient`] as a whole: sharing, hosts, scripting, latency, the log, seeding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use registry_client::{Client, ErrorKind, ImageOptions, ListOptions, Platform};
use registry_core::manifest::media_type;
use tokio::time::Instant;

use super::*;

fn dyn_client(fake: &FakeClient) -> Arc<dyn Client> {
    Arc::new(fake.clone())
}

#[tokio::test]
async fn clones_and_children_share_state() {
    let fake = FakeClient::new("registry.example.com");
    let root = dyn_client(&fake);
    let app = root.with_segment("org").with_segment("app");
    let image = random_image(2, 100);
    app.push_image("v1", &image).await.unwrap();
    // Seen through another clone, another chain of children, and the inherent API.
    let other = dyn_client(&fake.clone()).with_segment("org/app");
    assert_eq!(&other.get_digest("v1").await.unwrap(), image.digest());
    assert_eq!(fake.tags("org/app"), vec!["v1"]);
    assert_eq!(fake.scoped("org").tags("app"), vec!["v1"]);
    assert_eq!(fake.scoped("org/app").tags(""), vec!["v1"]);
    assert_eq!(fake.blob_count(), 3, "two layers and a config");
    assert_eq!(fake.manifest_count(), 1);
    assert_eq!(root.list_repositories(ListOptions::default()).await.unwrap(), vec!["org/app"]);
    assert_eq!(app.get_registry(), "registry.example.com/org/app");
    // A new world shares nothing.
    let elsewhere = dyn_client(&FakeClient::new("registry.example.com")).with_segment("org/app");
    assert_eq!(elsewhere.get_digest("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn hosts_are_separate_registries() {
    let a = FakeClient::new("a.example.com");
    let b = a.host("b.example.com:5000");
    let image = random_image(1, 10);
    a.scoped("app").push_image("v1", &image).await.unwrap();
    assert_eq!(b.scoped("app").check_image_exists("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(b.blob_count(), 0);
    assert_eq!(b.get_registry(), "b.example.com:5000");
    // The same host from the same world is the same registry.
    let a_again = b.host("a.example.com");
    assert_eq!(&a_again.scoped("app").get_digest("v1").await.unwrap(), image.digest());
    // Failures, latency and logs are per host too.
    a.fail_always(Method::GetDigest, ErrorKind::Server);
    assert!(b.scoped("app").get_digest("v1").await.is_err_and(|e| e.kind() == ErrorKind::NotFound));
    assert_eq!(a_again.scoped("app").get_digest("v1").await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(b.call_count(Method::GetDigest), 1);
    assert_eq!(a.call_count(Method::GetDigest), 2);
    // A target with a path is scoped; Docker Hub's aliases are one host.
    let scoped = a.host("a.example.com/app");
    assert_eq!(scoped.get_registry(), "a.example.com/app");
    assert_eq!(scoped.tags(""), vec!["v1"]);
    let hub = a.host("index.docker.io");
    hub.scoped("library/alpine").push_image("3", &image).await.unwrap();
    assert_eq!(a.host("docker.io").tags("library/alpine"), vec!["3"]);
}

#[tokio::test]
async fn invalid_hosts_and_segments_fail_every_call() {
    let bad = FakeClient::new("bad host");
    let e = bad.scoped("app").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("\"bad host\""), "{e}");
    assert!(FakeClient::try_new("bad host").is_err());
    assert!(FakeClient::try_new("registry.example.com/org/app").is_ok());
    assert_eq!(bad.list_repositories(ListOptions::default()).await.unwrap_err().kind(), ErrorKind::InvalidInput);

    let fake = FakeClient::new("registry.example.com");
    let e = fake.scoped("Org").scoped("app").list_tags(ListOptions::default().limit(0)).await.unwrap_err();
    assert!(e.to_string().contains("invalid segment \"Org\""), "{e}");
    let e = fake.list_tags(ListOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "the registry root has no tags: {e}");
    assert!(fake.scoped("app").push_image("bad:tag", &random_image(0, 0)).await.is_err());
    assert_eq!(fake.tags("Bad"), Vec::<String>::new());
}

#[tokio::test]
async fn fail_next_then_succeed_and_fail_always() {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("app");
    let image = random_image(1, 10);
    app.push_image("v1", &image).await.unwrap();
    let client = dyn_client(&fake).with_segment("app");
    fake.fail_next(Method::GetImage, 2, ErrorKind::TooManyRequests);
    for _ in 0..2 {
        let e = client.get_image("v1", ImageOptions::default()).await.unwrap_err();
        assert_eq!((e.kind(), e.status()), (ErrorKind::TooManyRequests, Some(429)));
    }
    assert_eq!(client.get_image("v1", ImageOptions::default()).await.unwrap().digest(), image.digest());
    // Other methods were never affected.
    client.get_digest("v1").await.unwrap();

    fake.fail_always(Method::PushImage, ErrorKind::Denied);
    for _ in 0..3 {
        assert_eq!(client.push_image("v2", &image).await.unwrap_err().kind(), ErrorKind::Denied);
    }
    assert_eq!(fake.tags("app"), vec!["v1"], "a failed push stores nothing");
    fake.clear_failures();
    client.push_image("v2", &image).await.unwrap();
    assert_eq!(fake.tags("app"), vec!["v1", "v2"]);
}

#[tokio::test]
async fn call_log_records_every_call() {
    let fake = FakeClient::new("registry.example.com");
    let image = random_image(1, 10);
    // Seeding is not logged.
    fake.scoped("app").seed_index("multi", &[&image]).await.unwrap();
    fake.clear_calls();
    let root = dyn_client(&fake);
    let app = root.with_segment("app");
    app.push_image("v1", &image).await.unwrap();
    app.get_digest("missing").await.unwrap_err();
    root.list_repositories(ListOptions::default()).await.unwrap();
    fake.fail_next(Method::ListTags, 1, ErrorKind::Server);
    app.list_tags(ListOptions::default()).await.unwrap_err();
    let calls = fake.calls();
    let expected = vec![
        Call { method: Method::PushImage, registry: "registry.example.com/app".into(), reference: Some("v1".into()) },
        Call {
            method: Method::GetDigest,
            registry: "registry.example.com/app".into(),
            reference: Some("missing".into()),
        },
        Call { method: Method::ListRepositories, registry: "registry.example.com".into(), reference: None },
        Call { method: Method::ListTags, registry: "registry.example.com/app".into(), reference: None },
    ];
    assert_eq!(calls, expected);
    assert_eq!(fake.call_count(Method::ListTags), 1);
    assert_eq!(fake.call_count(Method::GetImage), 0);
    fake.clear_calls();
    assert!(fake.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_to_every_call() {
    let fake = FakeClient::new("registry.example.com");
    let app = dyn_client(&fake).with_segment("app");
    fake.set_latency(Duration::from_millis(60));
    let start = Instant::now();
    app.check_image_exists("v1").await.unwrap_err();
    app.list_tags(ListOptions::default()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(120));
    // Children and clones made before or after share it: it belongs to the host.
    let start = Instant::now();
    fake.clone().scoped("other").get_digest("v1").await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(60));
    fake.set_latency(Duration::ZERO);
    let start = Instant::now();
    app.check_image_exists("v1").await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    // Seeding is never delayed.
    fake.set_latency(Duration::from_secs(3600));
    fake.scoped("app").seed_index("fast", &[&random_image(1, 5)]).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn indexes_pick_platforms_like_remote_client() {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("multi/app");
    let images = multi_platform(&[Platform::new("linux", "amd64"), Platform::new("linux", "arm64").with_variant("v8")]);
    let refs: Vec<&registry_client::Image> = images.iter().collect();
    let digest = app.seed_index("v1", &refs).await.unwrap();
    assert_eq!(fake.manifest_count(), 3);
    assert_eq!(app.tags(""), vec!["v1"], "children are stored untagged");
    let m = app.get_manifest("v1").await.unwrap();
    assert!(m.is_index());
    assert_eq!(m.digest(), &digest);
    let arm = ImageOptions::default().platform(Platform::new("linux", "arm64"));
    assert_eq!(app.get_image("v1", arm.clone()).await.unwrap().digest(), images[1].digest());
    assert_eq!(app.get_image(&format!("@{digest}"), arm).await.unwrap().digest(), images[1].digest());
    let e = app.get_image("v1", ImageOptions::default().platform(Platform::new("linux", "s390x"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("linux/amd64") && e.to_string().contains("linux/arm64/v8"), "{e}");
    let host = Platform::host();
    let default = app.get_image("v1", ImageOptions::default()).await;
    match (host.os(), host.architecture()) {
        ("linux", "amd64") => assert_eq!(default.unwrap().digest(), images[0].digest()),
        ("linux", "arm64") => assert_eq!(default.unwrap().digest(), images[1].digest()),
        _ => assert_eq!(default.unwrap_err().kind(), ErrorKind::NotFound),
    }
    // Read back the picked image's layer from the fake's store.
    let got = app.get_image(&format!("@{}", images[0].digest()), ImageOptions::default()).await.unwrap();
    assert_eq!(
        got.blob_bytes(&got.layers()[0]).await.unwrap(),
        images[0].blob_bytes(&images[0].layers()[0]).await.unwrap()
    );
    assert!(format!("{:?}", got.source()).contains("FakeBlobs"));
}

#[tokio::test]
async fn put_manifest_bytes_acts_like_a_manifest_put() {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("app");
    let image = ImageSpec::new().layer("abc").docker_media_types().build().unwrap();
    let bytes = image.raw_manifest().bytes().clone();
    let e = app.put_manifest_bytes("v1", media_type::DOCKER_MANIFEST, bytes.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "blobs missing: {e}");
    assert!(e.has_code("MANIFEST_BLOB_UNKNOWN"));
    app.put_blob("abc").unwrap();
    app.put_blob(image.config_bytes().clone()).unwrap();
    let e = app.put_manifest_bytes("v1", media_type::OCI_MANIFEST, bytes.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "media type contradicts the body: {e}");
    let e = app
        .put_manifest_bytes(
            "@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            media_type::DOCKER_MANIFEST,
            bytes.clone(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch);
    assert_eq!(app.put_manifest_bytes("v1", "", b"{".to_vec()).unwrap_err().kind(), ErrorKind::InvalidInput);
    let digest =
        app.put_manifest_bytes(&format!("v0@{}", image.digest()), media_type::DOCKER_MANIFEST, bytes.clone()).unwrap();
    assert_eq!(&digest, image.digest());
    assert!(app.tags("").is_empty(), "a push by digest tags nothing");
    assert_eq!(app.list_tags(ListOptions::default()).await.unwrap_err().kind(), ErrorKind::NotFound);
    app.put_manifest_bytes("v1", media_type::DOCKER_MANIFEST, bytes.clone()).unwrap();
    let m = app.get_manifest("v1").await.unwrap();
    assert_eq!((m.bytes(), m.media_type()), (&bytes[..], media_type::DOCKER_MANIFEST));
    let got = app.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(&got.blob_bytes(&got.layers()[0]).await.unwrap()[..], b"abc");
}

#[tokio::test]
async fn write_operations_are_logged_scripted_and_keep_blobs() {
    let fake = FakeClient::new("registry.example.com");
    let app = dyn_client(&fake).with_segment("app");
    let image = random_image(2, 64);
    app.push_image("v1", &image).await.unwrap();
    fake.clear_calls();
    let blobs = fake.blob_count();

    // A scripted failure changes nothing.
    fake.fail_next(Method::DeleteTag, 1, ErrorKind::Denied);
    assert_eq!(app.delete_tag("v1").await.unwrap_err().kind(), ErrorKind::Denied);
    assert_eq!(fake.tags("app"), vec!["v1"]);
    fake.fail_next(Method::TagImage, 1, ErrorKind::Server);
    assert_eq!(app.tag_image("v1", "v2").await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(fake.tags("app"), vec!["v1"]);

    app.tag_image("v1", "v2").await.unwrap();
    app.delete_tag("v1").await.unwrap();
    assert_eq!(fake.tags("app"), vec!["v2"]);
    app.delete_by_digest(image.digest().as_str()).await.unwrap();
    assert!(fake.tags("app").is_empty());
    assert_eq!(fake.manifest_count(), 0);
    assert_eq!(fake.blob_count(), blobs, "deleting manifests leaves the blobs");

    let methods: Vec<Method> = fake.calls().iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        vec![Method::DeleteTag, Method::TagImage, Method::TagImage, Method::DeleteTag, Method::DeleteByDigest]
    );
    assert_eq!(fake.calls()[4].reference.as_deref(), Some(image.digest().as_str()));
}

#[tokio::test]
async fn referrers_are_live_and_scoped_to_the_repository() {
    let fake = FakeClient::new("registry.example.com");
    let root = dyn_client(&fake);
    let app = root.with_segment("app");
    let image = random_image(1, 16);
    app.push_image("v1", &image).await.unwrap();
    root.with_segment("other").push_image("v1", &image).await.unwrap();
    let subject = image.raw_manifest().descriptor().unwrap();
    let sig = registry_client::Artifact::builder("application/x-sig").subject(subject).build().unwrap();
    assert_eq!(&app.push_artifact(&sig).await.unwrap(), sig.digest());
    let d = image.digest().as_str();
    assert_eq!(app.list_referrers(d, None).await.unwrap(), vec![sig.descriptor().unwrap()]);
    assert!(root.with_segment("other").list_referrers(d, None).await.unwrap().is_empty(), "per repository");
    assert_eq!(fake.tags("app"), vec!["v1"], "a spec registry needs no referrers tag");
    fake.fail_next(Method::ListReferrers, 1, ErrorKind::TooManyRequests);
    assert_eq!(app.list_referrers(d, None).await.unwrap_err().kind(), ErrorKind::TooManyRequests);
    fake.fail_next(Method::PushArtifact, 1, ErrorKind::Server);
    let other = registry_client::Artifact::builder("application/x-other").build().unwrap();
    assert_eq!(app.push_artifact(&other).await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(fake.manifest_count(), 2, "the image and the signature, nothing of the failed push");
    app.delete_by_digest(&format!("@{}", sig.digest())).await.unwrap();
    assert!(app.list_referrers(d, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn seeding_helpers_are_not_logged_but_trait_calls_are() {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("app");
    let image = random_image(1, 10);
    // Seeding with the helper: no log, no scripted failure, no latency.
    fake.fail_always(Method::PushImage, ErrorKind::Denied);
    app.seed_image("v1", &image).await.unwrap();
    app.seed_image(&format!("@{}", random_image(0, 0).digest()), &random_image(0, 0)).await.unwrap_err();
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(fake.tags("app"), vec!["v1"]);
    // Seeding through the trait's push_image is a call like any other: logged, and it meets the script.
    assert_eq!(app.push_image("v2", &image).await.unwrap_err().kind(), ErrorKind::Denied);
    fake.clear_failures();
    app.push_image("v2", &image).await.unwrap();
    assert_eq!(fake.call_count(Method::PushImage), 2);
    assert_eq!(fake.tags("app"), vec!["v1", "v2"]);
    // So a test that seeds with push_image before scripting counts from clear_calls().
    fake.clear_calls();
    fake.fail_next(Method::GetDigest, 1, ErrorKind::Server);
    assert!(app.get_digest("v2").await.is_err());
    assert_eq!(&app.get_digest("v2").await.unwrap(), image.digest());
    let methods: Vec<Method> = fake.calls().iter().map(|c| c.method).collect();
    assert_eq!(methods, vec![Method::GetDigest, Method::GetDigest]);
}

#[tokio::test]
async fn failures_can_be_scripted_for_one_reference() {
    let fake = FakeClient::new("registry.example.com");
    let image = random_image(1, 10);
    fake.scoped("app").seed_image("v1", &image).await.unwrap();
    fake.scoped("app").seed_image("v2", &image).await.unwrap();
    let app = dyn_client(&fake).with_segment("app");
    fake.fail_next_for(Method::GetImage, "v1", 2, ErrorKind::TooManyRequests);
    for _ in 0..2 {
        // Other references of the same method are not affected in between.
        app.get_image("v2", ImageOptions::default()).await.unwrap();
        let e = app.get_image("v1", ImageOptions::default()).await.unwrap_err();
        assert_eq!((e.kind(), e.status()), (ErrorKind::TooManyRequests, Some(429)));
        assert!(e.to_string().contains("registry.example.com/app:v1"), "{e}");
    }
    assert_eq!(app.get_image("v1", ImageOptions::default()).await.unwrap().digest(), image.digest());
    // Nor are other methods with the same reference.
    fake.fail_next_for(Method::TagImage, "v1", 1, ErrorKind::Denied);
    app.get_digest("v1").await.unwrap();
    app.tag_image("v2", "v3").await.unwrap();
    assert_eq!(app.tag_image("v1", "v4").await.unwrap_err().kind(), ErrorKind::Denied);
    // A digest reference as given, e.g. the tag of a push_image or the digest of delete_by_digest.
    let d = format!("@{}", image.digest());
    fake.fail_next_for(Method::GetManifest, &d, 1, ErrorKind::Server);
    assert_eq!(app.get_manifest(&d).await.unwrap_err().kind(), ErrorKind::Server);
    app.get_manifest(&d).await.unwrap();
    fake.fail_next_for(Method::DeleteTag, "v3", 5, ErrorKind::Server);
    fake.clear_failures();
    app.delete_tag("v3").await.unwrap();
    assert_eq!(fake.tags("app"), vec!["v1", "v2"]);
}

#[tokio::test]
async fn failures_for_one_reference_are_for_one_repository_and_either_digest_form() {
    let fake = FakeClient::new("registry.example.com");
    let image = random_image(1, 10);
    for repo in ["org/app", "org/other"] {
        fake.scoped(repo).seed_image("v1", &image).await.unwrap();
    }
    let client = dyn_client(&fake);
    let (app, other) = (client.with_segment("org/app"), client.with_segment("org/other"));
    // Scripted on a scoped client: that repository only.
    fake.scoped("org/app").fail_next_for(Method::GetImage, "v1", 1, ErrorKind::Server);
    other.get_image("v1", ImageOptions::default()).await.unwrap();
    let e = app.get_image("v1", ImageOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "the failure waited for org/app: {e}");
    app.get_image("v1", ImageOptions::default()).await.unwrap();
    // Scripted on the host: any repository.
    fake.fail_next_for(Method::GetImage, "v1", 1, ErrorKind::Server);
    assert_eq!(other.get_image("v1", ImageOptions::default()).await.unwrap_err().kind(), ErrorKind::Server);
    app.get_image("v1", ImageOptions::default()).await.unwrap();
    // A digest scripted without its '@' fails a call with it, and the reverse; the message names it once.
    let digest = image.digest().to_string();
    fake.fail_next_for(Method::GetManifest, &digest, 1, ErrorKind::Denied);
    let e = app.get_manifest(&format!("@{digest}")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied);
    assert!(e.to_string().contains(&format!("registry.example.com/org/app@{digest}")), "{e}");
    fake.fail_next_for(Method::DeleteByDigest, &format!("@{digest}"), 1, ErrorKind::Denied);
    let e = app.delete_by_digest(&digest).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied);
    assert!(e.to_string().contains(&format!("registry.example.com/org/app@{digest}")), "{e}");
    assert_eq!(fake.tags("org/app"), vec!["v1"], "the scripted delete deleted nothing");
}

#[tokio::test]
async fn provided_methods_are_logged_once_as_themselves() {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("app");
    let images = multi_platform(&[Platform::host(), Platform::new("linux", "s390x")]);
    let image = images[0].clone();
    app.seed_image("v1", &image).await.unwrap();
    let client = dyn_client(&fake).with_segment("app");
    // The manifest reads inside get_image meet no GetManifest script: only the method called is scripted.
    fake.fail_always(Method::GetManifest, ErrorKind::Server);
    fake.fail_always(Method::Blobs, ErrorKind::Server);
    let layer = image.layers()[0].clone();
    let layer_digest = registry_core::Digest::parse(layer.digest().as_ref()).unwrap();
    let calls: Vec<(Method, Option<String>)> = {
        client.get_image("v1", ImageOptions::default()).await.unwrap();
        client.get_image_config("v1").await.unwrap();
        client.get_digest("v1").await.unwrap();
        client.check_image_exists("v1").await.unwrap();
        client.tag_image("v1", "v2").await.unwrap();
        let index = registry_client::index_of(&[&images[0], &images[1]]).unwrap();
        client.push_index("multi", &index, &images).await.unwrap();
        let mut read = Vec::new();
        let mut s = client.get_blob(&layer_digest, layer.size()).await.unwrap();
        while let Some(chunk) = futures::StreamExt::next(&mut s).await {
            read.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(read, image.blob_bytes(&layer).await.unwrap());
        fake.calls().into_iter().map(|c| (c.method, c.reference)).collect()
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        calls,
        vec![
            (Method::GetImage, some("v1")),
            (Method::GetImageConfig, some("v1")),
            (Method::GetDigest, some("v1")),
            (Method::CheckImageExists, some("v1")),
            (Method::TagImage, some("v1")),
            (Method::PushIndex, some("multi")),
            (Method::GetBlob, some(layer_digest.as_str())),
        ]
    );
    assert_eq!(fake.tags("app"), vec!["multi", "v1", "v2"]);
    // The required ones are scripted as called.
    assert_eq!(client.get_manifest("v1").await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(client.blobs().err().map(|e| e.kind()), Some(ErrorKind::Server));
    assert_eq!(fake.call_count(Method::Blobs), 1);
}

#[tokio::test]
async fn new_primitives_are_logged_and_scripted() {
    let fake = FakeClient::new("registry.example.com");
    let app = dyn_client(&fake).with_segment("app");
    let image = random_image(1, 100);
    let layer = image.layers()[0].clone();
    fake.fail_next(Method::PushBlob, 1, ErrorKind::Server);
    assert_eq!(app.push_blob(&layer, &image, None).await.unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(fake.blob_count(), 0, "a failed push stores nothing");
    assert_eq!(app.push_blob(&layer, &image, None).await.unwrap(), registry_client::BlobPushed::Uploaded);
    let config = image.config_descriptor();
    assert_eq!(app.push_blob(config, &image, None).await.unwrap(), registry_client::BlobPushed::Uploaded);
    assert_eq!(app.push_blob(config, &image, None).await.unwrap(), registry_client::BlobPushed::AlreadyPresent);
    // Mounted within the host, from the repository a blob source names.
    let source = app.blobs().unwrap();
    let other = dyn_client(&fake).with_segment("other");
    let mounted = other.push_blob(&layer, source.as_ref(), source.repository()).await.unwrap();
    assert_eq!(mounted, registry_client::BlobPushed::Mounted);
    fake.fail_next_for(Method::PutManifest, "v1", 1, ErrorKind::Denied);
    assert_eq!(app.put_manifest("v1", image.raw_manifest()).await.unwrap_err().kind(), ErrorKind::Denied);
    assert_eq!(app.put_manifest("v1", image.raw_manifest()).await.unwrap(), *image.digest());
    let methods: Vec<Method> = fake.calls().iter().map(|c| c.method).collect();
    use Method::{Blobs, PushBlob, PutManifest};
    assert_eq!(methods, vec![PushBlob, PushBlob, PushBlob, PushBlob, Blobs, PushBlob, PutManifest, PutManifest]);
    assert_eq!(fake.calls()[0].reference.as_deref(), Some(layer.digest().as_ref()));
    assert_eq!(fake.tags("app"), vec!["v1"]);
}

#[tokio::test(start_paused = true)]
async fn stream_listings_page_through_more_than_a_page_and_log_once() {
    use futures::{StreamExt, TryStreamExt};
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("app");
    let image = random_image(1, 10);
    app.seed_image("t0000", &image).await.unwrap();
    let manifest = image.raw_manifest();
    let n = registry_client::LIST_PAGE * 2 + 5;
    for i in 1..n {
        app.put_manifest_bytes(&format!("t{i:04}"), manifest.media_type(), manifest.bytes().clone()).unwrap();
    }
    let client = dyn_client(&fake).with_segment("app");
    fake.set_latency(Duration::from_millis(10));
    let start = Instant::now();
    let stream = client.list_tags_stream();
    assert!(fake.calls().is_empty(), "nothing happens before the stream is polled");
    let tags: Vec<String> = stream.try_collect().await.unwrap();
    assert_eq!(tags, client.list_tags(ListOptions::default()).await.unwrap());
    assert_eq!(tags.len(), n);
    assert_eq!(start.elapsed(), Duration::from_millis(20), "one latency for the stream, one for list_tags");
    let methods: Vec<Method> = fake.calls().iter().map(|c| c.method).collect();
    assert_eq!(methods, vec![Method::ListTagsStream, Method::ListTags], "the stream's pages are not logged");
    fake.set_latency(Duration::ZERO);
    fake.fail_next(Method::ListTagsStream, 1, ErrorKind::TooManyRequests);
    let failed: Vec<registry_client::Result<String>> = client.list_tags_stream().collect().await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].as_ref().map_err(|e| e.kind()).unwrap_err(), ErrorKind::TooManyRequests);
    let root = dyn_client(&fake);
    let repos: Vec<String> = root.list_repositories_stream().try_collect().await.unwrap();
    assert_eq!(repos, vec!["app"]);
    assert_eq!(fake.call_count(Method::ListRepositoriesStream), 1);
    assert_eq!(fake.call_count(Method::ListRepositories), 0);
}
