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
    // The whole blob (resumed with `Range`), or a network error: never a clean end with the first 1000 bytes.
    match read {
        Ok(chunks) => assert!(chunks.concat() == layer, "a resumed read is the whole blob"),
        Err(e) => assert_eq!(e.kind(), registry_client::ErrorKind::Io, "{e}"),
    }
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
    let image = conformance::check_copy(&src, &dst).await;

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

/// The referrers tag (`sha256-<hex>`) of `image` is among the tags of `repo`.
async fn has_referrers_tag(repo: &Arc<dyn Client>, subject: &registry_client::Digest) -> bool {
    let tag = registry_client::core::api::referrers_tag(subject);
    repo.list_tags(ListOptions::default()).await.unwrap().contains(&tag)
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_like_docker_registry() {
    // No DELETE by tag, no referrers API: the placeholder and referrers-tag fallbacks, against our own server.
    let server = RegistryServer::start().await.unwrap();
    server.like_docker_registry();
    let root = root(client(&server).build().unwrap(), "compat");
    conformance::run_all(root.clone()).await;
    let referrers = root.with_segment("rf/referrers");
    let subject = small_image("referrers", 1);
    assert!(has_referrers_tag(&referrers, subject.digest()).await, "the fallback index was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_registry_paths_need_no_fallback() {
    let server = RegistryServer::start().await.unwrap();
    let root = root(client(&server).build().unwrap(), "spec");
    conformance::check_referrers(root.with_segment("rf")).await;
    let subject = small_image("referrers", 1);
    let repo = root.with_segment("rf/referrers");
    assert!(!has_referrers_tag(&repo, subject.digest()).await, "the referrers API made the tag schema unneeded");
    // DELETE by tag in one request.
    repo.tag_image("v1", "doomed").await.unwrap();
    let before = server.request_count();
    repo.delete_tag("doomed").await.unwrap();
    assert_eq!(server.request_count() - before, 1, "one DELETE, no placeholder");
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["v1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_in_pages_and_unfiltered() {
    let server = RegistryServer::start().await.unwrap();
    server.set_referrers_page_size(Some(1));
    server.set_referrers_filtering(false);
    let remote = client(&server).build().unwrap();
    conformance::check_referrers(root(remote.clone(), "paged").with_segment("rf")).await;
    // The one referrer left (the sbom) plus two more: three pages of one, the filter applied by the client.
    let repo = root(remote.clone(), "paged").with_segment("rf/referrers");
    let subject = small_image("referrers", 1);
    let descriptor = subject.raw_manifest().descriptor().unwrap();
    for kind in ["application/x-one", "application/x-two"] {
        let a = registry_client::Artifact::builder(kind).subject(descriptor.clone()).build().unwrap();
        repo.push_artifact(&a).await.unwrap();
    }
    let path = Repository::parse(&format!("{}/paged/rf/referrers", server.host())).unwrap();
    let first = remote.api().referrers_page(&path, subject.digest(), Some("application/x-two")).await.unwrap().unwrap();
    assert_eq!(first.page.items.len(), 1);
    assert!(first.page.next.is_some(), "a Link to the next page");
    assert!(!first.filtered, "the server did not filter");
    let all = repo.list_referrers(subject.digest().as_str(), None).await.unwrap();
    assert_eq!(all.len(), 3, "every page followed: {all:?}");
    let two = repo.list_referrers(subject.digest().as_str(), Some("application/x-two")).await.unwrap();
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].artifact_type().as_ref().map(|t| t.to_string()).as_deref(), Some("application/x-two"));
    assert!(!has_referrers_tag(&repo, subject.digest()).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_tag_with_deletes_disabled_leaves_the_tag() {
    let server = RegistryServer::start().await.unwrap();
    server.like_docker_registry();
    let repo = root(client(&server).build().unwrap(), "nodelete").with_segment("app");
    let image = small_image("nodelete", 1);
    repo.push_image("v1", &image).await.unwrap();
    repo.push_image("v2", &image).await.unwrap();
    // DELETE by digest refused too (as docker-registry with `storage.delete.enabled: false` refuses it).
    server.faults().fail_next(1, "/manifests/sha256:", 405, None);
    let e = repo.delete_tag("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("tag left as it was"), "{e}");
    assert_eq!(&repo.get_digest("v1").await.unwrap(), image.digest(), "the tag was not touched");
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["v1", "v2"]);
    // The raw API says why: the server refuses DELETE by tag.
    let reference = Reference::with_tag(Repository::parse(&format!("{}/nodelete/app", server.host())).unwrap(), "v1");
    let e = client(&server).build().unwrap().api().delete_manifest(&reference.unwrap()).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Unsupported, Some(405)), "{e}");
    // Once deletes work, the placeholder path deletes v1 only.
    repo.delete_tag("v1").await.unwrap();
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["v2"]);
    assert_eq!(&repo.get_digest("v2").await.unwrap(), image.digest());
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_tag_keeps_entries_it_did_not_write() {
    // Another tool's entry in the fallback index survives our update, and a duplicate of ours is dropped.
    let server = RegistryServer::start().await.unwrap();
    server.like_docker_registry();
    let remote = client(&server).build().unwrap();
    let repo = root(remote.clone(), "keep").with_segment("app");
    let image = small_image("keep", 1);
    repo.push_image("v1", &image).await.unwrap();
    let subject = image.raw_manifest().descriptor().unwrap();
    let foreign = registry_client::Artifact::builder("application/x-foreign").subject(subject.clone()).build().unwrap();
    repo.push_artifact(&foreign).await.unwrap();
    let mine = registry_client::Artifact::builder("application/x-mine").subject(subject).build().unwrap();
    // Rewrite the index by hand: the foreign entry twice, with a field this client does not know.
    let foreign_entry = serde_json::json!({
        "mediaType": foreign.raw_manifest().media_type(), "digest": foreign.digest().as_str(),
        "size": foreign.raw_manifest().size(), "artifactType": "application/x-foreign", "x-unknown": 1
    });
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [foreign_entry.clone(), foreign_entry]});
    let path = Repository::parse(&format!("{}/keep/app", server.host())).unwrap();
    let tag = Reference::with_tag(path.clone(), &registry_client::core::api::referrers_tag(image.digest())).unwrap();
    let bytes = bytes::Bytes::from(serde_json::to_vec(&index).unwrap());
    remote.api().put_manifest(&tag, "application/vnd.oci.image.index.v1+json", bytes).await.unwrap();
    repo.push_artifact(&mine).await.unwrap();
    let listed = repo.list_referrers(image.digest().as_str(), None).await.unwrap();
    let mut digests: Vec<String> = listed.iter().map(|d| d.digest().to_string()).collect();
    digests.sort();
    let mut expected = vec![foreign.digest().to_string(), mine.digest().to_string()];
    expected.sort();
    assert_eq!(digests, expected);
    let raw = remote.api().referrers_index(&path, image.digest()).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(raw.bytes()).contains("x-unknown"), "the unknown field was kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_tag_puts_the_tag_back_when_the_placeholder_cannot_be_deleted() {
    // A scripted registry: DELETE by tag refused (400, as docker-registry), DELETE by digest answers 404 to the
    // probe and 500 afterwards, so the placeholder cannot be deleted once the tag points at it.
    use registry_tests::{TestResponse, TestServer};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let image = small_image("restore", 1);
    let original = image.raw_manifest().bytes().to_vec();
    let digest = image.digest().to_string();
    let digest_deletes = Arc::new(AtomicUsize::new(0));
    let deletes = digest_deletes.clone();
    let server = TestServer::start(move |req| {
        let error = |status: u16, code: &str| {
            TestResponse::json(status, &serde_json::json!({"errors": [{"code": code, "message": code}]}))
        };
        match (req.method.as_str(), req.path()) {
            ("DELETE", "/v2/app/manifests/v1") => error(400, "DIGEST_INVALID"),
            ("GET" | "HEAD", "/v2/app/manifests/v1") => TestResponse::new(200)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .header("Docker-Content-Digest", digest.as_str())
                .body(original.clone()),
            ("DELETE", p) if p.starts_with("/v2/app/manifests/sha256:") => {
                if deletes.fetch_add(1, Ordering::SeqCst) == 0 {
                    error(404, "MANIFEST_UNKNOWN")
                } else {
                    error(500, "UNKNOWN")
                }
            }
            ("HEAD", p) if p.starts_with("/v2/app/blobs/sha256:") => TestResponse::new(200)
                .header("Content-Length", "2")
                .header("Docker-Content-Digest", p.rsplit('/').next().unwrap_or("")),
            ("PUT", "/v2/app/manifests/v1") => TestResponse::new(201)
                .header("Docker-Content-Digest", registry_client::Digest::sha256(&req.body).to_string()),
            _ => error(404, "NAME_UNKNOWN"),
        }
    });
    let remote =
        RemoteClient::builder(server.addr().to_string()).insecure(true).retry(RetryConfig::none()).build().unwrap();
    let e = remote.with_segment("app").delete_tag("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(e.to_string().contains(&format!("the tag was put back on {}", image.digest())), "{e}");
    let puts: Vec<Vec<u8>> = server.requests().into_iter().filter(|r| r.method == "PUT").map(|r| r.body).collect();
    assert_eq!(puts.len(), 2, "the placeholder, then the original");
    assert!(String::from_utf8_lossy(&puts[0]).contains("deleted-tag"), "a placeholder first");
    assert_eq!(puts[1], image.raw_manifest().bytes().to_vec(), "the original manifest, byte for byte");
    assert_eq!(digest_deletes.load(Ordering::SeqCst), 2, "the probe and the failed delete");
}

#[tokio::test(flavor = "multi_thread")]
async fn write_operations_survive_faults() {
    let server = RegistryServer::start().await.unwrap();
    server.like_docker_registry();
    let repo = root(client(&server).build().unwrap(), "faults").with_segment("app");
    let image = small_image("write-faults", 1);
    repo.push_image("v1", &image).await.unwrap();
    repo.push_image("v2", &image).await.unwrap();

    // 503 and 429 with Retry-After on every manifest request of a placeholder delete: retried, then done.
    server.faults().fail_next(2, "/manifests/", 503, Some(0));
    server.faults().fail_next(1, "/manifests/", 429, Some(0));
    repo.delete_tag("v1").await.unwrap();
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["v2"]);

    // The same while the referrers tag is read and written.
    let subject = image.raw_manifest().descriptor().unwrap();
    let sig = registry_client::Artifact::builder("application/x-sig").subject(subject).build().unwrap();
    server.faults().fail_next(3, "/manifests/sha256-", 503, Some(0));
    server.faults().fail_next(1, "/manifests/sha256-", 429, Some(0));
    repo.push_artifact(&sig).await.unwrap();
    let listed = repo.list_referrers(image.digest().as_str(), None).await.unwrap();
    assert_eq!(listed.len(), 1);

    // A connection dropped mid-manifest while tagging: the call completes verified, or fails and tags nothing.
    server.faults().drop_after(10, "/manifests/v2");
    match repo.tag_image("v2", "copy").await {
        Ok(()) => assert_eq!(&repo.get_digest("copy").await.unwrap(), image.digest()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Io, "{e}");
            assert_eq!(repo.get_digest("copy").await.unwrap_err().kind(), ErrorKind::NotFound, "nothing tagged");
            repo.tag_image("v2", "copy").await.unwrap();
        }
    }
    assert_eq!(&repo.get_digest("copy").await.unwrap(), image.digest());

    // More failures than retries: a clear error, and the tag is where it was.
    let few = RetryConfig::default().max_retries(1).initial_backoff(Duration::from_millis(1));
    let impatient = root(client(&server).retry(few).build().unwrap(), "faults").with_segment("app");
    server.faults().fail_next(10, "/manifests/copy", 503, Some(0));
    let e = impatient.delete_tag("copy").await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(503)), "{e}");
    server.faults().clear();
    assert_eq!(&repo.get_digest("copy").await.unwrap(), image.digest(), "untouched");
}

/// The requests in `server`'s log from index `from` on that contain `needle`.
fn logged(server: &RegistryServer, from: usize, needle: &str) -> Vec<String> {
    server.request_log().into_iter().skip(from).filter(|r| r.contains(needle)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_page_size_is_lowered_and_remembered_for_tags_and_catalog() {
    let server = RegistryServer::start().await.unwrap();
    let remote = client(&server).build().unwrap();
    let app = remote.with_segment("paged").with_segment("app");
    let image = small_image("paged", 1);
    let tags: Vec<String> = (0..7).map(|i| format!("v{i}")).collect();
    for t in &tags {
        app.push_image(t, &image).await.unwrap();
    }
    server.faults().max_page_size(Some(3));
    // Without a limit no page size is asked (the registry's own applies); with one, n=500 is refused, then 100,
    // 50, 25, 12, 6; 3 is accepted, and the pages that follow (Link) keep it.
    let window = ListOptions::default().limit(500);
    assert_eq!(app.list_tags(window.clone()).await.unwrap(), tags);
    assert_eq!(remote.capabilities().max_page_size, Some(3));
    let before = server.request_log().len();
    assert_eq!(app.list_tags(window).await.unwrap(), tags);
    let sent = logged(&server, before, "/tags/list");
    assert!(sent.iter().all(|r| r.contains("n=3")), "only the size that worked is asked: {sent:?}");
    assert_eq!(sent.len(), 3, "7 tags in pages of 3: {sent:?}");
    let before = server.request_log().len();
    assert_eq!(remote.list_repositories(ListOptions::default()).await.unwrap(), vec!["paged/app".to_string()]);
    let sent = logged(&server, before, "/_catalog");
    assert_eq!(sent.len(), 1, "the catalog asks the learned size directly: {sent:?}");
    assert!(sent[0].contains("n=3"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_page_size_is_learned_from_the_first_refusal() {
    let server = RegistryServer::start().await.unwrap();
    let remote = client(&server).build().unwrap();
    remote.with_segment("one").push_image("v1", &small_image("one", 1)).await.unwrap();
    server.faults().max_page_size(Some(100));
    assert_eq!(remote.list_repositories(ListOptions::default()).await.unwrap(), vec!["one".to_string()]);
    assert_eq!(remote.capabilities().max_page_size, Some(100));
    let sent = logged(&server, 0, "/_catalog");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains("n=1000") && sent[1].contains("n=100"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_size_refused_down_to_one_is_an_error_keeping_the_query() {
    let server = RegistryServer::start().await.unwrap();
    let app = client(&server).build().unwrap().with_segment("app");
    app.push_image("v1", &small_image("q", 1)).await.unwrap();
    server.faults().max_page_size(Some(0));
    let e = app.list_tags(ListOptions::default().limit(1000)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("n=1"), "the message shows the page size asked: {e}");
    assert!(e.has_code("PAGINATION_NUMBER_INVALID"), "{e:?}");
    let sent = logged(&server, 0, "/tags/list");
    assert_eq!(sent.len(), 8, "1000, 100, 50, 25, 12, 6, 3, 1, then stop: {sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_messages_keep_the_list_window() {
    let server = RegistryServer::start().await.unwrap();
    let remote = client(&server).build().unwrap();
    server.faults().fail_next(1, "/_catalog", 403, None);
    let e = remote.list_repositories(ListOptions::default().last("a/b")).await.unwrap_err();
    assert!(e.to_string().contains("/v2/_catalog?n=1000&last=a%2Fb"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_refusing_head_is_asked_with_get_and_remembered() {
    for status in [405, 501] {
        let server = RegistryServer::start().await.unwrap();
        server.faults().refuse_head("", status);
        let remote = client(&server).build().unwrap();
        let app = remote.with_segment("app");
        let image = small_image("nohead", 2);
        // The push checks its blobs with HEAD: refused, it asks with a GET of one byte and goes on.
        app.push_image("v1", &image).await.unwrap();
        let pushed = image.digest();
        assert!(remote.capabilities().head_unusable, "{status}: learned from the blob HEAD");
        assert_eq!(&app.get_digest("v1").await.unwrap(), pushed, "{status}");
        app.check_image_exists("v1").await.unwrap();
        app.check_image_exists(&format!("@{pushed}")).await.unwrap();
        let e = app.check_image_exists("nope").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{status}: {e}");
        let e = app.get_digest("nope").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{status}: {e}");
        // Pushing again finds every blob there (a GET of one byte each), without any HEAD.
        let before = server.request_log().len();
        app.push_image("v2", &image).await.unwrap();
        let sent = logged(&server, before, "");
        assert!(sent.iter().all(|r| !r.starts_with("HEAD ")), "{status}: no HEAD once learned: {sent:?}");
        assert!(sent.iter().all(|r| !r.contains("/blobs/uploads/")), "{status}: nothing uploaded again: {sent:?}");
        let heads = logged(&server, 0, "HEAD ");
        // The first push checks its three blobs (config, two layers) at once: at most one HEAD each.
        assert!(!heads.is_empty() && heads.len() <= 3, "{status}: the first HEADs taught it: {heads:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_refusing_only_manifest_heads_is_asked_with_get() {
    let server = RegistryServer::start().await.unwrap();
    let remote = client(&server).build().unwrap();
    let app = remote.with_segment("app");
    let image = small_image("nomanifesthead", 1);
    app.push_image("v1", &image).await.unwrap();
    let pushed = image.digest();
    assert!(!remote.capabilities().head_unusable);
    server.faults().refuse_head("/manifests/", 405);
    assert_eq!(&app.get_digest("v1").await.unwrap(), pushed);
    assert!(remote.capabilities().head_unusable);
    let before = server.request_log().len();
    assert_eq!(&app.get_digest("v1").await.unwrap(), pushed);
    app.check_image_exists("v1").await.unwrap();
    let sent = logged(&server, before, "");
    assert_eq!(sent.len(), 2, "one GET each, no HEAD first: {sent:?}");
    assert!(sent.iter().all(|r| r.starts_with("GET ")), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_referrers_api_and_delete_by_tag_are_learned_both_ways() {
    // A registry with both: learned as present.
    let server = RegistryServer::start().await.unwrap();
    server.set_referrers_api(true);
    server.set_tag_deletes(true);
    let remote = client(&server).build().unwrap();
    let app = remote.with_segment("app");
    let image = small_image("both", 1);
    app.push_image("v1", &image).await.unwrap();
    assert!(app.list_referrers(image.digest().as_str(), None).await.unwrap().is_empty());
    assert_eq!(remote.capabilities().referrers_api, Some(true));
    app.delete_tag("v1").await.unwrap();
    assert_eq!(remote.capabilities().delete_by_tag, Some(true));

    // A registry like docker-registry: learned as absent, and not asked again.
    let server = RegistryServer::start().await.unwrap();
    server.like_docker_registry();
    let remote = client(&server).build().unwrap();
    let app = remote.with_segment("app");
    for tag in ["v1", "v2"] {
        app.push_image(tag, &image).await.unwrap();
    }
    let d = image.digest().to_string();
    assert!(app.list_referrers(&d, None).await.unwrap().is_empty());
    app.delete_tag("v1").await.unwrap();
    let known = remote.capabilities();
    assert_eq!((known.referrers_api, known.delete_by_tag), (Some(false), Some(false)));
    let before = server.request_log().len();
    assert!(app.list_referrers(&d, None).await.unwrap().is_empty());
    app.delete_tag("v2").await.unwrap();
    let sent = logged(&server, before, "");
    assert!(sent.iter().all(|r| !r.contains("/referrers/")), "{sent:?}");
    assert!(!sent.contains(&"DELETE /v2/app/manifests/v2".to_string()), "{sent:?}");
    assert_eq!(app.check_image_exists("v2").await.unwrap_err().kind(), ErrorKind::NotFound);
}
