//! `RemoteClient` against the in-process registry server (`mocks::server`): the conformance suite in each auth
//! mode, credentials errors, and recovery from injected faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mocks::server::RegistryServer;
use registry_client::core::reference::{Reference, Repository};
use registry_client::core::transport::RetryConfig;
use registry_client::{index_of, Client, ErrorKind, ImageBuilder, ImageOptions, ListOptions, RemoteClient};
use registry_tests::conformance::{self, root, small_image};

fn client(server: &RegistryServer) -> registry_client::RemoteClientBuilder {
    RemoteClient::builder(server.host()).insecure(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_anonymous() {
    let server = RegistryServer::start().await.unwrap();
    conformance::run_all(root(client(&server).build().unwrap(), "anon")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_basic_auth() {
    let server = RegistryServer::builder().basic_auth("alice", "s3cret-pw").build_and_start().await.unwrap();
    conformance::run_all(root(client(&server).basic_auth("alice", "s3cret-pw").build().unwrap(), "basic")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_bearer_auth() {
    let server = RegistryServer::builder().bearer_auth("alice", "tok-pw").build_and_start().await.unwrap();
    conformance::run_all(root(client(&server).basic_auth("alice", "tok-pw").build().unwrap(), "bearer")).await;
}

#[tokio::test]
async fn serves_on_a_current_thread_runtime() {
    // The server runs on the caller's runtime: one thread serves and calls at once.
    let server = RegistryServer::start().await.unwrap();
    conformance::check_push_and_read_back(root(client(&server).build().unwrap(), "ct")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_or_missing_credentials_are_unauthorized() {
    let basic = RegistryServer::builder().basic_auth("alice", "s3cret-pw").build_and_start().await.unwrap();
    let bearer = RegistryServer::builder().bearer_auth("alice", "tok-pw").build_and_start().await.unwrap();
    for server in [&basic, &bearer] {
        let wrong = root(client(server).basic_auth("alice", "wrong-pw").build().unwrap(), "x").with_segment("app");
        let e = wrong.list_tags(ListOptions::default()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        assert!(e.to_string().contains("alice"), "names the user: {e}");
        assert!(!format!("{e} {e:?}").contains("wrong-pw"), "no password: {e:?}");
        let e = wrong.push_image("v1", &small_image("x", 1)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        let none = root(client(server).build().unwrap(), "x").with_segment("app");
        let e = none.check_image_exists("v1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_503s_are_retried() {
    let server = RegistryServer::start().await.unwrap();
    let repo = root(client(&server).build().unwrap(), "retry").with_segment("app");
    let image = small_image("retry", 2);
    server.faults().fail_next(2, "/manifests/", 503, Some(0));
    let before = server.request_count();
    repo.push_image("v1", &image).await.unwrap();
    // 2 layers + config: HEAD, POST, PUT each; the manifest PUT three times.
    assert_eq!(server.request_count() - before, 3 * 3 + 3);
    server.faults().fail_next(1, "/tags/list", 429, Some(0));
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
    assert_eq!(&repo.get_digest("v1").await.unwrap(), image.digest());

    // More failures than retries: the last status is reported.
    let few = RetryConfig::default().max_retries(2).initial_backoff(Duration::from_millis(1));
    let impatient = root(client(&server).retry(few).build().unwrap(), "retry").with_segment("app");
    server.faults().fail_next(5, "/manifests/", 503, Some(0));
    let e = impatient.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(503));
    server.faults().clear();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_blob_is_an_error_not_short_data() {
    let server = RegistryServer::start().await.unwrap();
    let repo = root(client(&server).build().unwrap(), "cut").with_segment("app");
    let layer = vec![5u8; 256 * 1024];
    let image = ImageBuilder::new().layer(layer.clone()).build().unwrap();
    repo.push_image("v1", &image).await.unwrap();
    let pulled = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    server.faults().drop_after(1000, image.layers()[0].digest().as_ref());
    let read: Result<Vec<bytes::Bytes>, _> = pulled.open_blob(&pulled.layers()[0]).await.unwrap().try_collect().await;
    // A network error (the connection dropped), never a clean end with the first 1000 bytes.
    let e = read.unwrap_err();
    assert_eq!(e.kind(), registry_client::ErrorKind::Io, "{e}");
    // The next read is whole.
    assert_eq!(pulled.blob_bytes(&pulled.layers()[0]).await.unwrap().len(), layer.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_platform_index() {
    let server = RegistryServer::start().await.unwrap();
    let remote = client(&server).build().unwrap();
    let (amd, arm) = conformance::two_platform_images();
    let multi = root(remote.clone(), "multi").with_segment("app");
    let index = index_of(&[&amd, &arm]).unwrap();
    let repo = Repository::parse(&format!("{}/multi/app", server.host())).unwrap();
    let reference = Reference::with_tag(repo, "v1").unwrap();
    // Children first: the server refuses an index whose manifests it lacks.
    let e = remote.api().put_manifest(&reference, index.media_type(), index.bytes().clone()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    multi.push_image("amd64", &amd).await.unwrap();
    multi.push_image("arm64", &arm).await.unwrap();
    let pushed = remote.api().put_manifest(&reference, index.media_type(), index.bytes().clone()).await.unwrap();
    assert_eq!(&pushed, index.digest());
    conformance::check_index_platforms(multi, "v1", &amd, &arm, index.digest()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_between_servers_and_tag_pages() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::builder().bearer_auth("bob", "bob-pw").build_and_start().await.unwrap();
    let src: Arc<dyn Client> = Arc::new(client(&source).build().unwrap());
    let dst: Arc<dyn Client> = Arc::new(client(&target).basic_auth("bob", "bob-pw").build().unwrap());
    let big = vec![7u8; 3 * 1024 * 1024 + 17];
    let image = ImageBuilder::new().layer(big.clone()).layer(&b"small"[..]).build().unwrap();
    src.with_segment("src/app").push_image("v1", &image).await.unwrap();
    let pulled = src.with_segment("src/app").get_image("v1", ImageOptions::default()).await.unwrap();
    dst.with_segment("mirror/app").push_image("v1", &pulled).await.unwrap();
    let back = dst.with_segment("mirror/app").get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(back.blob_bytes(&back.layers()[0]).await.unwrap().len(), big.len());

    // Unlike docker-registry 2.8.2, this server paginates tags itself; the results are the same.
    let remote = client(&source).build().unwrap();
    for t in ["c", "a", "b"] {
        src.with_segment("src/app").push_image(t, &image).await.unwrap();
    }
    let repo = Repository::parse(&format!("{}/src/app", source.host())).unwrap();
    let page = remote.api().tags_page(&repo, Some(1), Some("a")).await.unwrap();
    assert_eq!(page.items, vec!["b"]);
    assert!(page.next.is_some());
    assert_eq!(
        src.with_segment("src/app").list_tags(ListOptions::default().limit(1).last("a")).await.unwrap(),
        vec!["b"]
    );
}
