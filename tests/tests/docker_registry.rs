//! Every `Client` method against the real docker-registry (distribution 2.8.2), in each auth mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use registry_client::core::reference::{Reference, Repository};
use registry_client::{index_of, Artifact, Client, ErrorKind, ImageOptions, ListOptions, RemoteClient};
use registry_tests::conformance::{self, root, small_image};
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer};

fn client(registry: &DockerRegistry) -> registry_client::RemoteClientBuilder {
    RemoteClient::builder(registry.host()).insecure(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_anonymous() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    conformance::run_all(root(client(&registry).build().unwrap(), "anon")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_htpasswd() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("alice", "s3cret-pw")]));
    conformance::run_all(root(client(&registry).basic_auth("alice", "s3cret-pw").build().unwrap(), "basic")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_token() {
    let tokens = TokenIssuer::new("test-registry", "test-issuer").user("alice", "tok-pw", Access::All).start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    conformance::run_all(root(client(&registry).basic_auth("alice", "tok-pw").build().unwrap(), "token")).await;
    assert!(tokens.request_count() > 0, "the token server was used");
}

#[tokio::test(flavor = "multi_thread")]
async fn htpasswd_rejects_wrong_and_missing_credentials() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("alice", "s3cret-pw")]));
    let wrong = root(client(&registry).basic_auth("alice", "wrong-pw").build().unwrap(), "x").with_segment("app");
    let e = wrong.list_tags(ListOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("alice"), "names the user: {e}");
    assert!(!e.to_string().contains("wrong-pw") && !format!("{e:?}").contains("wrong-pw"), "no password: {e:?}");
    let e = wrong.push_image("v1", &small_image("x", 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    let none = root(client(&registry).build().unwrap(), "x").with_segment("app");
    let e = none.check_image_exists("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_auth_kinds_and_cache() {
    let tokens = TokenIssuer::new("test-registry", "test-issuer")
        .user("alice", "tok-pw", Access::All)
        .user("reader", "read-pw", Access::Pull)
        .start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let alice = root(client(&registry).basic_auth("alice", "tok-pw").build().unwrap(), "t").with_segment("app");
    let image = small_image("token", 2);
    alice.push_image("v1", &image).await.unwrap();

    // Tokens are cached per scope: repeated reads fetch no new token.
    alice.get_digest("v1").await.unwrap();
    let before = tokens.request_count();
    for _ in 0..5 {
        alice.get_digest("v1").await.unwrap();
        alice.list_tags(ListOptions::default()).await.unwrap();
    }
    assert_eq!(tokens.request_count(), before, "cached token reused");

    // A pull-only account reads, but a push is Denied with a clear message.
    let reader = root(client(&registry).basic_auth("reader", "read-pw").build().unwrap(), "t").with_segment("app");
    assert_eq!(&reader.get_digest("v1").await.unwrap(), image.digest());
    let got = reader.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(got.digest(), image.digest());
    let e = reader.push_image("v2", &small_image("token-2", 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert!(e.to_string().contains("lack access"), "{e}");
    assert_eq!(reader.check_image_exists("v2").await.unwrap_err().kind(), ErrorKind::NotFound);

    // Wrong password: the token server refuses, Unauthorized, no password in the message.
    let wrong = root(client(&registry).basic_auth("alice", "nope-pw").build().unwrap(), "t").with_segment("app");
    let e = wrong.get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e} {e:?}").contains("nope-pw"));

    // Anonymous: the issuer grants nothing, so Unauthorized.
    let anon = root(client(&registry).build().unwrap(), "t").with_segment("app");
    assert_eq!(anon.get_digest("v1").await.unwrap_err().kind(), ErrorKind::Unauthorized);

    // A static bearer token minted for pull works as is.
    let token = tokens.issuer().token_for(Some("alice"), &["repository:t/app:pull"]);
    let bearer = root(client(&registry).bearer_token(token).build().unwrap(), "t").with_segment("app");
    assert_eq!(&bearer.get_digest("v1").await.unwrap(), image.digest());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_platform_index() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let remote = client(&registry).build().unwrap();
    let (amd, arm) = conformance::two_platform_images();
    let index = index_of(&[&amd, &arm]).unwrap();
    let repo = RemoteClient::builder(format!("{}/multi/app", registry.host())).insecure(true).build().unwrap();
    repo.push_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    let multi = root(remote, "multi").with_segment("app");
    conformance::check_index_platforms(multi, "v1", &amd, &arm, index.digest()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_between_registries_streams_blobs() {
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let target = DockerRegistry::start(AuthMode::htpasswd(&[("bob", "bob-pw")]));
    let src: Arc<dyn Client> = Arc::new(client(&source).build().unwrap());
    let dst: Arc<dyn Client> = Arc::new(client(&target).basic_auth("bob", "bob-pw").build().unwrap());
    conformance::check_copy(&src, &dst).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_registry_ignores_tag_pagination() {
    // The fact the client works around: 2.8.2 returns every tag, whatever n and last say.
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let remote = client(&registry).build().unwrap();
    let c: Arc<dyn Client> = Arc::new(remote.clone());
    let repo = c.with_segment("fact");
    let image = small_image("fact", 1);
    for t in ["c", "a", "b"] {
        repo.push_image(t, &image).await.unwrap();
    }
    let page = remote
        .api()
        .tags_page(&Repository::parse(&format!("{}/fact", registry.host())).unwrap(), Some(1), Some("a"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3, "server ignored n=1: {:?}", page.items);
    assert!(page.next.is_none());
    assert_eq!(repo.list_tags(ListOptions::default().limit(1).last("a")).await.unwrap(), vec!["b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_upload_of_unknown_size() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("u", "p")]));
    let remote = client(&registry).basic_auth("u", "p").build().unwrap();
    let repo = Repository::parse(&format!("{}/stream/app", registry.host())).unwrap();
    // 40 chunks of 64 KiB, produced lazily: the size is not known up front.
    let chunks = (0..40u8).map(|i| Ok::<_, registry_client::Error>(bytes::Bytes::from(vec![i; 64 * 1024])));
    let (digest, size) = remote.api().upload_blob_stream(&repo, Box::pin(futures::stream::iter(chunks))).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..40u8 {
        expected.extend(std::iter::repeat_n(i, 64 * 1024));
    }
    assert_eq!(size, expected.len() as u64);
    assert_eq!(digest, registry_client::Digest::sha256(&expected));
    assert_eq!(remote.api().blob_exists(&repo, &digest).await.unwrap(), Some(size));
    let back = remote.api().get_blob_bytes(&repo, &digest, Some(size), 1 << 24).await.unwrap();
    assert_eq!(back.len(), expected.len());
    assert!(back[..] == expected[..]);

    // A known-size monolithic upload whose stream lies about its content is refused and not committed.
    let wrong = registry_client::Digest::sha256(b"something else");
    let body = futures::stream::iter(vec![Ok::<_, registry_client::Error>(bytes::Bytes::from_static(b"actual bytes"))]);
    let e = remote.api().upload_blob(&repo, &wrong, 12, Box::pin(body)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert_eq!(remote.api().blob_exists(&repo, &wrong).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_is_io_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c: Arc<dyn Client> = Arc::new(
        RemoteClient::builder(format!("127.0.0.1:{port}"))
            .insecure(true)
            .retry(
                registry_client::core::transport::RetryConfig::default()
                    .max_retries(1)
                    .initial_backoff(std::time::Duration::from_millis(5)),
            )
            .build()
            .unwrap(),
    );
    let e = c.with_segment("app").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains("connect"), "{e}");
    assert_eq!(e.attempts(), 2);
}

/// The manifest revisions docker-registry 2.8.2 keeps for `repo` (one directory per manifest it still links).
fn manifest_revisions(registry: &DockerRegistry, repo: &str) -> Vec<String> {
    let dir = registry.data_dir().join(format!("docker/registry/v2/repositories/{repo}/_manifests/revisions/sha256"));
    let mut revisions: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                // A deleted revision loses its `link` file (the directory may stay).
                .filter(|e| e.path().join("link").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    revisions.sort();
    revisions
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_tag_goes_through_a_placeholder() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let remote = client(&registry).build().unwrap();
    let repo = root(remote.clone(), "placeholder").with_segment("app");
    let image = small_image("placeholder", 2);
    for t in ["v1", "v2", "keep"] {
        repo.push_image(t, &image).await.unwrap();
    }
    // The fact the client works around: 2.8.2 refuses DELETE by tag with a 400.
    let path = Repository::parse(&format!("{}/placeholder/app", registry.host())).unwrap();
    let by_tag = Reference::with_tag(path.clone(), "v1").unwrap();
    let e = remote.api().delete_manifest(&by_tag).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Unsupported, Some(400)), "{e}");
    // What the revision check sees: a second manifest, then its deletion by digest.
    let other = small_image("placeholder-other", 1);
    repo.push_image("other", &other).await.unwrap();
    assert_eq!(manifest_revisions(&registry, "placeholder/app").len(), 2);
    repo.delete_by_digest(other.digest().as_str()).await.unwrap();
    assert_eq!(manifest_revisions(&registry, "placeholder/app"), vec![image.digest().hex().to_string()]);

    repo.delete_tag("v1").await.unwrap();
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec!["keep", "v2"]);
    assert_eq!(repo.get_digest("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
    for reference in ["v2".to_string(), "keep".to_string(), format!("@{}", image.digest())] {
        let got = repo.get_image(&reference, ImageOptions::default()).await.unwrap();
        assert_eq!(got.digest(), image.digest(), "{reference}");
        assert_eq!(
            got.blob_bytes(&got.layers()[1]).await.unwrap(),
            image.blob_bytes(&image.layers()[1]).await.unwrap()
        );
    }
    // The placeholder the tag pointed at on the way was deleted too: only the image's revision is linked.
    assert_eq!(manifest_revisions(&registry, "placeholder/app"), vec![image.digest().hex().to_string()]);
    // The same for the image's last tags, and for a missing tag.
    repo.delete_tag("v2").await.unwrap();
    repo.delete_tag("keep").await.unwrap();
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), Vec::<String>::new());
    repo.check_image_exists(&format!("@{}", image.digest())).await.unwrap();
    assert_eq!(repo.delete_tag("v1").await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(manifest_revisions(&registry, "placeholder/app"), vec![image.digest().hex().to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_by_digest_and_token_scopes() {
    // DELETE needs the `delete` action in the token; a pull/push account is Denied and nothing changes.
    let tokens = TokenIssuer::new("test-registry", "test-issuer")
        .user("alice", "tok-pw", Access::All)
        .user("pusher", "push-pw", Access::PullPush)
        .start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let alice = root(client(&registry).basic_auth("alice", "tok-pw").build().unwrap(), "del").with_segment("app");
    let pusher = root(client(&registry).basic_auth("pusher", "push-pw").build().unwrap(), "del").with_segment("app");
    let image = small_image("token-delete", 1);
    pusher.push_image("v1", &image).await.unwrap();
    pusher.push_image("v2", &image).await.unwrap();
    let e = pusher.delete_by_digest(image.digest().as_str()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    let e = pusher.delete_tag("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert_eq!(pusher.list_tags(ListOptions::default()).await.unwrap(), vec!["v1", "v2"], "nothing changed");
    alice.delete_tag("v1").await.unwrap();
    assert_eq!(alice.list_tags(ListOptions::default()).await.unwrap(), vec!["v2"]);
    alice.delete_by_digest(&format!("@{}", image.digest())).await.unwrap();
    assert_eq!(alice.list_tags(ListOptions::default()).await.unwrap(), Vec::<String>::new());
    assert_eq!(
        alice.check_image_exists(&format!("@{}", image.digest())).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_through_the_tag_schema() {
    // 2.8.2 has no referrers API: the endpoint is a 404, and the client keeps `sha256-<hex>` up to date.
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let remote = client(&registry).build().unwrap();
    let repo = root(remote.clone(), "refs").with_segment("app");
    let image = small_image("refs", 1);
    repo.push_image("v1", &image).await.unwrap();
    let path = Repository::parse(&format!("{}/refs/app", registry.host())).unwrap();
    assert!(remote.api().referrers_page(&path, image.digest(), None).await.unwrap().is_none(), "no referrers API");
    let subject = image.raw_manifest().descriptor().unwrap();
    let sig = Artifact::builder("application/x-sig").subject(subject.clone()).layer(&b"sig"[..], "text/plain");
    let sig = sig.build().unwrap();
    repo.push_artifact(&sig).await.unwrap();
    let tag = registry_client::core::api::referrers_tag(image.digest());
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), vec![tag.clone(), "v1".to_string()]);
    let index = repo.get_manifest(&tag).await.unwrap();
    assert!(index.is_index());
    assert_eq!(index.as_index().unwrap().manifests()[0].digest().to_string(), sig.digest().to_string());
    let listed = repo.list_referrers(image.digest().as_str(), Some("application/x-sig")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest().to_string(), sig.digest().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_capped_by_maxentries_is_listed_in_pages_it_accepts() {
    let registry = DockerRegistry::builder().catalog_max_entries(100).start();
    let remote = client(&registry).build().unwrap();
    let image = small_image("capped", 1);
    remote.with_segment("a").push_image("v1", &image).await.unwrap();
    remote.with_segment("b").push_image("v1", &image).await.unwrap();
    assert_eq!(remote.capabilities().max_page_size, None, "nothing learned yet");
    let all = remote.list_repositories(ListOptions::default()).await.unwrap();
    assert_eq!(all, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(remote.capabilities().max_page_size, Some(100), "n=1000 refused, n=100 accepted");
    // Later lists (and children) ask for 100 directly; a window larger than the cap is still whole.
    let child = remote.with_segment("a");
    assert_eq!(child.list_repositories(ListOptions::default()).await.unwrap(), Vec::<String>::new());
    assert_eq!(remote.list_repositories(ListOptions::default().limit(500)).await.unwrap(), all);
}

/// The requests `proxy` forwarded from index `from` on, as `METHOD path?query`.
fn forwarded(proxy: &registry_tests::proxy::TestProxy, from: usize) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .skip(from)
        .map(|r| {
            let path = r.target.split_once("://").map_or(r.target.as_str(), |(_, rest)| rest);
            let path = path.find('/').map_or("/", |i| &path[i..]);
            format!("{} {path}", r.method)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_docker_registry_lacks_is_learned_once() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let proxy = registry_tests::proxy::TestProxy::start();
    let remote = client(&registry).proxy(proxy.url()).build().unwrap();
    let app = remote.with_segment("learn");
    let image = small_image("learn", 1);
    app.push_image("v1", &image).await.unwrap();
    app.push_image("v2", &image).await.unwrap();
    let d = image.digest().to_string();
    assert_eq!(remote.capabilities().referrers_api, None);
    assert_eq!(remote.capabilities().delete_by_tag, None);

    // Referrers: the API answers 404 page not found, so the tag schema is used, and remembered.
    assert!(app.list_referrers(&d, None).await.unwrap().is_empty());
    assert_eq!(remote.capabilities().referrers_api, Some(false));
    let before = proxy.request_count();
    assert!(app.list_referrers(&d, None).await.unwrap().is_empty());
    let sent = forwarded(&proxy, before);
    assert!(sent.iter().all(|r| !r.contains("/referrers/")), "the API is not asked again: {sent:?}");
    assert!(sent.iter().any(|r| r.contains("/manifests/sha256-")), "the referrers tag is: {sent:?}");

    // Delete by tag: refused (400), deleted through a placeholder, and remembered.
    app.delete_tag("v1").await.unwrap();
    assert_eq!(remote.capabilities().delete_by_tag, Some(false));
    let before = proxy.request_count();
    app.delete_tag("v2").await.unwrap();
    let sent = forwarded(&proxy, before);
    assert!(!sent.contains(&"DELETE /v2/learn/manifests/v2".to_string()), "no doomed DELETE by tag: {sent:?}");
    assert!(sent.iter().any(|r| r.starts_with("DELETE /v2/learn/manifests/sha256:")), "{sent:?}");
    let e = app.get_digest("v2").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}
