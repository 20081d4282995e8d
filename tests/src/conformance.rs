//! The conformance suite: plain checks over `Arc<dyn Client>`, run against every implementation.
//!
//! Each check takes a client scoped to a fresh root segment (so checks can share a registry) and panics with a
//! message saying what differed. Content is made with [`ImageBuilder`], small and unique per check.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use registry_client::core::manifest::descriptor;
use registry_client::{
    index_of, paged_stream, Artifact, BlobPushed, BlobSource, ByteStream, Client, Descriptor, Digest, ErrorKind, Image,
    ImageBuilder, ImageOptions, ListOptions, Platform,
};

/// `client` scoped to the root segment `name`, as the checks take it (one root per run, so runs can share a
/// registry).
pub fn root(client: impl Client + 'static, name: &str) -> Arc<dyn Client> {
    let client: Arc<dyn Client> = Arc::new(client);
    client.with_segment(name)
}

/// A small image with `layers` layers whose bytes are derived from `seed`.
pub fn small_image(seed: &str, layers: usize) -> Image {
    let mut b = ImageBuilder::new().label("test.seed", seed).platform(Platform::new("linux", "amd64"));
    for i in 0..layers {
        b = b.layer(Bytes::from(format!("layer {i} of {seed}: {}", "x".repeat(100 + i)).into_bytes()));
    }
    match b.build() {
        Ok(i) => i,
        Err(e) => panic!("building test image {seed}: {e}"),
    }
}

async fn layer_bytes(image: &Image, i: usize) -> Vec<u8> {
    let stream = match image.open_blob(&image.layers()[i]).await {
        Ok(s) => s,
        Err(e) => panic!("open layer {i}: {e}"),
    };
    let chunks: Vec<Bytes> = match stream.try_collect().await {
        Ok(c) => c,
        Err(e) => panic!("read layer {i}: {e}"),
    };
    chunks.concat()
}

fn ok<T>(r: registry_client::Result<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e} ({e:?})"),
    }
}

fn expect_kind<T: std::fmt::Debug>(
    r: registry_client::Result<T>,
    kind: ErrorKind,
    what: &str,
) -> registry_client::Error {
    match r {
        Ok(v) => panic!("{what}: expected a {kind} error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{what}: wrong kind for error {e}");
            e
        }
    }
}

/// Push an image, then read it back every way: digest, manifest, config, existence, image and layer bytes, by
/// tag, by digest, by tag@digest. Pushing again is a no-op that succeeds.
pub async fn check_push_and_read_back(root: Arc<dyn Client>) {
    let repo = root.with_segment("readback");
    let image = small_image("readback", 2);
    ok(repo.push_image("v1", &image).await, "push v1");
    ok(repo.push_image("v1", &image).await, "push v1 again");
    assert_eq!(&ok(repo.get_digest("v1").await, "get_digest v1"), image.digest());
    let by_digest = format!("@{}", image.digest());
    let both = format!("v1@{}", image.digest());
    for reference in ["v1", by_digest.as_str(), both.as_str()] {
        let m = ok(repo.get_manifest(reference).await, "get_manifest");
        assert!(!m.is_index(), "{reference}: an image manifest is not an index");
        assert_eq!(m.digest(), image.digest(), "{reference}: manifest digest");
        assert_eq!(m.bytes(), &image.raw_manifest().bytes()[..], "{reference}: manifest bytes");
        ok(repo.check_image_exists(reference).await, "check_image_exists");
        let got = ok(repo.get_image(reference, ImageOptions::default()).await, "get_image");
        assert_eq!(got.digest(), image.digest());
        assert_eq!(got.layers().len(), 2);
        for i in 0..2 {
            assert_eq!(layer_bytes(&got, i).await, layer_bytes(&image, i).await, "{reference}: layer {i} bytes");
        }
        assert_eq!(got.config_bytes(), image.config_bytes());
    }
    let config = ok(repo.get_image_config("v1").await, "get_image_config");
    let labels = config.config().as_ref().and_then(|c| c.labels().clone()).unwrap_or_default();
    assert_eq!(labels.get("test.seed").map(String::as_str), Some("readback"));
    // A second tag on the same image.
    ok(repo.push_image("v2", &image).await, "push v2");
    assert_eq!(ok(repo.list_tags(ListOptions::default()).await, "list_tags"), vec!["v1", "v2"]);
}

/// Copy an image (a 3 MiB layer and a small one) from `src/app:v1` of `source` to `mirror/app:v1` of `target`
/// through `get_image` + `push_image`, as a mirror job does: the target then holds the same digest and content.
/// Returns the image.
pub async fn check_copy(source: &Arc<dyn Client>, target: &Arc<dyn Client>) -> Image {
    let big = vec![7u8; 3 * 1024 * 1024 + 17];
    let image = ok(ImageBuilder::new().layer(big.clone()).layer(&b"small"[..]).build(), "build the image");
    let (src, dst) = (source.with_segment("src/app"), target.with_segment("mirror/app"));
    ok(src.push_image("v1", &image).await, "push to the source");
    let pulled = ok(src.get_image("v1", ImageOptions::default()).await, "get_image from the source");
    ok(dst.push_image("v1", &pulled).await, "push the pulled image to the target");
    assert_eq!(&ok(dst.get_digest("v1").await, "get_digest of the copy"), image.digest());
    let back = ok(dst.get_image("v1", ImageOptions::default()).await, "get_image of the copy");
    assert_eq!(layer_bytes(&back, 0).await, big, "the copied big layer");
    image
}

/// Missing things are `NotFound`; other failures are not.
pub async fn check_not_found(root: Arc<dyn Client>) {
    let repo = root.with_segment("notfound");
    let image = small_image("notfound", 1);
    ok(repo.push_image("present", &image).await, "push");
    expect_kind(repo.check_image_exists("absent").await, ErrorKind::NotFound, "check_image_exists(absent)");
    expect_kind(repo.get_digest("absent").await, ErrorKind::NotFound, "get_digest(absent)");
    expect_kind(repo.get_manifest("absent").await, ErrorKind::NotFound, "get_manifest(absent)");
    expect_kind(repo.get_image("absent", ImageOptions::default()).await, ErrorKind::NotFound, "get_image(absent)");
    expect_kind(repo.get_image_config("absent").await, ErrorKind::NotFound, "get_image_config(absent)");
    let missing_digest = format!("@sha256:{}", "0".repeat(64));
    expect_kind(repo.check_image_exists(&missing_digest).await, ErrorKind::NotFound, "check_image_exists(digest)");
    expect_kind(repo.get_manifest(&missing_digest).await, ErrorKind::NotFound, "get_manifest(digest)");
    let nowhere = root.with_segment("no-such-repository");
    expect_kind(nowhere.check_image_exists("v1").await, ErrorKind::NotFound, "check_image_exists in missing repo");
    expect_kind(nowhere.list_tags(ListOptions::default()).await, ErrorKind::NotFound, "list_tags of missing repo");
    // Bad input is InvalidInput, not NotFound.
    expect_kind(repo.get_digest("Not:Valid").await, ErrorKind::InvalidInput, "malformed reference");
    expect_kind(root.with_segment("Bad").get_digest("v1").await, ErrorKind::InvalidInput, "invalid segment");
}

/// What a repository nobody pushed to answers, as docker-registry 2.8.2 answers it: a manifest there is
/// `MANIFEST_UNKNOWN` (not `NAME_UNKNOWN`), a blob there `BLOB_UNKNOWN`, its tag list `NAME_UNKNOWN`; and a
/// repository that received only a blob is in the catalog.
pub async fn check_unknown_repository(root: Arc<dyn Client>) {
    let nowhere = root.with_segment("never-pushed");
    let e = expect_kind(nowhere.get_manifest("v1").await, ErrorKind::NotFound, "get_manifest in an unknown repository");
    assert!(e.has_code("MANIFEST_UNKNOWN") && !e.has_code("NAME_UNKNOWN"), "manifest in an unknown repository: {e}");
    let missing = Digest::sha256(b"in no repository");
    let e = expect_kind(nowhere.get_blob(&missing, 17).await.map(|_| ()), ErrorKind::NotFound, "get_blob there");
    assert!(e.has_code("BLOB_UNKNOWN") && !e.has_code("NAME_UNKNOWN"), "blob in an unknown repository: {e}");
    let e = expect_kind(nowhere.list_tags(ListOptions::default()).await, ErrorKind::NotFound, "list_tags there");
    assert!(e.has_code("NAME_UNKNOWN"), "tag list of an unknown repository: {e}");

    let scope = root.with_segment("blob-only");
    let image = small_image("blob-only", 1);
    let layer = &image.layers()[0];
    let pushed = ok(scope.with_segment("repo").push_blob(layer, &image, None).await, "push_blob");
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(
        ok(scope.list_repositories(ListOptions::default()).await, "list_repositories"),
        vec!["repo"],
        "a repository holding only a blob is in the catalog"
    );
}

/// The tag names used by [`check_tag_pagination`], in push order (not lexical).
pub fn pagination_tags() -> Vec<String> {
    let mut tags: Vec<String> = (0..30).rev().map(|i| format!("t{i:02}")).collect();
    tags.extend(["latest", "v1.0", "v1.10", "v1.9", "V2", "a_b", "0"].iter().map(|s| s.to_string()));
    tags
}

/// `list_tags` windows: identical on a registry that paginates and one that ignores `n`/`last`.
pub async fn check_tag_pagination(root: Arc<dyn Client>) {
    let repo = root.with_segment("paged");
    let image = small_image("paged", 1);
    let tags = pagination_tags();
    for t in &tags {
        ok(repo.push_image(t, &image).await, "push tag");
    }
    let mut all = tags.clone();
    all.sort();
    let list = |o: ListOptions| {
        let repo = repo.clone();
        async move { ok(repo.list_tags(o.clone()).await, &format!("list_tags({o:?})")) }
    };
    assert_eq!(list(ListOptions::default()).await, all, "every tag, lexical order");
    assert_eq!(list(ListOptions::default().limit(5)).await, all[..5], "first page");
    assert_eq!(list(ListOptions::default().limit(5).last(all[4].clone())).await, all[5..10], "second page");
    assert_eq!(list(ListOptions::default().limit(7).last(all[30].clone())).await, all[31..], "short last page");
    assert_eq!(
        list(ListOptions::default().limit(5).last(all[all.len() - 1].clone())).await,
        Vec::<String>::new(),
        "after the end"
    );
    assert_eq!(
        list(ListOptions::default().last("t05x")).await,
        all[all.iter().position(|t| t == "t06").unwrap_or(0)..],
        "last not present"
    );
    assert_eq!(
        list(ListOptions::default().limit(3).last("t05x")).await,
        vec!["t06", "t07", "t08"],
        "page after a missing last"
    );
    assert_eq!(list(ListOptions::default().limit(0)).await, Vec::<String>::new(), "limit(0) is an empty page");
    assert_eq!(list(ListOptions::default().limit(1000)).await, all, "limit above the count");
    assert_eq!(list(ListOptions::default().last("")).await, all, "empty last is no last");
    // Walking page by page visits every tag once.
    let mut walked: Vec<String> = Vec::new();
    loop {
        let mut o = ListOptions::default().limit(4);
        if let Some(l) = walked.last() {
            o = o.last(l.clone());
        }
        let page = list(o).await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        walked.extend(page);
    }
    assert_eq!(walked, all, "page-by-page walk");
}

/// `list_repositories` returns the repositories under the scope, relative to it, windowed.
pub async fn check_repository_listing(root: Arc<dyn Client>) {
    let image = small_image("catalog", 1);
    let scope = root.with_segment("cat");
    for path in ["a", "b/c", "b/d", "e", "e/f"] {
        ok(scope.with_segment(path).push_image("v1", &image).await, "push into scope");
    }
    // Siblings that sort around the scope's range must not leak in.
    for sibling in ["cat-x", "cat.y", "cat_z", "cau", "ca"] {
        ok(root.with_segment(sibling).push_image("v1", &image).await, "push sibling");
    }
    let list = |c: Arc<dyn Client>, o: ListOptions| async move {
        ok(c.list_repositories(o.clone()).await, &format!("list_repositories({o:?}) of {}", c.get_registry()))
    };
    let all = vec!["a", "b/c", "b/d", "e", "e/f"];
    assert_eq!(list(scope.clone(), ListOptions::default()).await, all, "every repository under the scope");
    assert_eq!(list(scope.clone(), ListOptions::default().limit(2)).await, vec!["a", "b/c"]);
    assert_eq!(list(scope.clone(), ListOptions::default().limit(2).last("b/c")).await, vec!["b/d", "e"]);
    assert_eq!(list(scope.clone(), ListOptions::default().last("e")).await, vec!["e/f"]);
    assert_eq!(list(scope.clone(), ListOptions::default().last("e/f")).await, Vec::<String>::new());
    assert_eq!(list(scope.clone(), ListOptions::default().last("b")).await, vec!["b/c", "b/d", "e", "e/f"]);
    assert_eq!(list(scope.clone(), ListOptions::default().limit(0)).await, Vec::<String>::new());
    assert_eq!(list(scope.with_segment("b"), ListOptions::default()).await, vec!["c", "d"], "nested scope");
    assert_eq!(
        list(root.with_segment("nothing-here"), ListOptions::default()).await,
        Vec::<String>::new(),
        "empty scope"
    );
}

/// `with_segment` and `get_registry`.
pub async fn check_segments(root: Arc<dyn Client>) {
    let base = root.get_registry();
    let app = root.with_segment("org").with_segment("app");
    assert_eq!(app.get_registry(), format!("{base}/org/app"));
    assert_eq!(root.with_segment("org/app").get_registry(), format!("{base}/org/app"));
    let image = small_image("segments", 1);
    ok(app.push_image("v1", &image).await, "push through chained segments");
    assert_eq!(&ok(root.with_segment("org/app").get_digest("v1").await, "read through joined segment"), image.digest());
    for bad in ["Bad", "a//b", "", "-x", "x-", "a b", "a:b"] {
        let e = expect_kind(
            root.with_segment(bad).get_digest("v1").await,
            ErrorKind::InvalidInput,
            &format!("segment {bad:?}"),
        );
        assert!(e.to_string().contains(&format!("{bad:?}")), "error for segment {bad:?} names it: {e}");
        // An invalid segment poisons its children too.
        expect_kind(
            root.with_segment(bad).with_segment("ok").list_tags(ListOptions::default()).await,
            ErrorKind::InvalidInput,
            "child of bad segment",
        );
    }
}

/// Two images, `linux/amd64` and `linux/arm64/v8`, for index checks.
pub fn two_platform_images() -> (Image, Image) {
    let amd = ImageBuilder::new().layer(&b"amd64 layer"[..]).platform(Platform::new("linux", "amd64")).build();
    let arm = ImageBuilder::new()
        .layer(&b"arm64 layer"[..])
        .platform(Platform::new("linux", "arm64").with_variant("v8"))
        .build();
    match (amd, arm) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => panic!("building platform images: {e}"),
    }
}

/// Reading an index of [`two_platform_images`] that the caller pushed under `tag` in `repo`: the manifest is an
/// index with that digest; `get_image` picks the platform asked for, else the host's; no match is `NotFound`
/// listing the index's platforms; the index's digest works as a reference too.
pub async fn check_index_platforms(repo: Arc<dyn Client>, tag: &str, amd: &Image, arm: &Image, index: &Digest) {
    let m = ok(repo.get_manifest(tag).await, "get_manifest of the index");
    assert!(m.is_index(), "{tag} is an index");
    assert_eq!(m.digest(), index);
    assert_eq!(&ok(repo.get_digest(tag).await, "get_digest of the index"), index);
    ok(repo.check_image_exists(tag).await, "check_image_exists of the index");
    let pick = |p: Platform| ImageOptions::default().platform(p);
    let got = ok(repo.get_image(tag, pick(Platform::new("linux", "arm64"))).await, "get_image arm64");
    assert_eq!(got.digest(), arm.digest());
    assert_eq!(got.platform().to_string(), "linux/arm64/v8");
    let got = ok(repo.get_image(tag, pick(Platform::new("linux", "amd64"))).await, "get_image amd64");
    assert_eq!(got.digest(), amd.digest());
    let e = expect_kind(repo.get_image(tag, pick(Platform::new("linux", "s390x"))).await, ErrorKind::NotFound, "s390x");
    assert!(e.to_string().contains("linux/amd64") && e.to_string().contains("linux/arm64/v8"), "lists platforms: {e}");
    // Default: the host's platform, never a silent linux/amd64.
    let host = Platform::host();
    let default = repo.get_image(tag, ImageOptions::default()).await;
    match (host.os(), host.architecture()) {
        ("linux", "amd64") => assert_eq!(ok(default, "default platform").digest(), amd.digest()),
        ("linux", "arm64") => assert_eq!(ok(default, "default platform").digest(), arm.digest()),
        _ => {
            expect_kind(default, ErrorKind::NotFound, "host platform absent from the index");
        }
    }
    if host.to_string() == "linux/amd64" {
        let cfg = ok(repo.get_image_config(tag).await, "get_image_config of the index");
        assert_eq!(cfg.architecture().to_string(), "amd64");
    }
    let by_digest = ok(
        repo.get_image(&format!("@{index}"), pick(Platform::new("linux", "arm64"))).await,
        "get_image by the index digest",
    );
    assert_eq!(by_digest.digest(), arm.digest());
}

/// Tags as they are listed, or a panic saying what failed.
async fn tags_of(repo: &Arc<dyn Client>, what: &str) -> Vec<String> {
    ok(repo.list_tags(ListOptions::default()).await, &format!("list_tags {what}"))
}

/// `tag_image` points a new tag at an existing reference (a tag or a digest) without changing the digest, moves an
/// existing tag, and refuses what does not exist or is malformed.
pub async fn check_tag_image(root: Arc<dyn Client>) {
    let repo = root.with_segment("tagging");
    let image = small_image("tag-image", 2);
    let other = small_image("tag-image-other", 1);
    ok(repo.push_image("v1", &image).await, "push v1");
    ok(repo.push_image("other", &other).await, "push other");
    ok(repo.tag_image("v1", "stable").await, "tag v1 as stable");
    assert_eq!(&ok(repo.get_digest("stable").await, "get_digest stable"), image.digest(), "same digest");
    let m = ok(repo.get_manifest("stable").await, "get_manifest stable");
    assert_eq!(m.bytes(), &image.raw_manifest().bytes()[..], "same bytes");
    ok(repo.tag_image(&format!("@{}", image.digest()), "pinned").await, "tag by digest");
    assert_eq!(&ok(repo.get_digest("pinned").await, "get_digest pinned"), image.digest());
    let got = ok(repo.get_image("pinned", ImageOptions::default()).await, "get_image pinned");
    assert_eq!(layer_bytes(&got, 1).await, layer_bytes(&image, 1).await, "layers readable through the new tag");
    // Moving an existing tag.
    ok(repo.tag_image("other", "stable").await, "move stable to other");
    assert_eq!(&ok(repo.get_digest("stable").await, "get_digest moved"), other.digest());
    assert_eq!(&ok(repo.get_digest("v1").await, "v1 stays"), image.digest());
    assert_eq!(tags_of(&repo, "after tagging").await, vec!["other", "pinned", "stable", "v1"]);
    expect_kind(repo.tag_image("absent", "x").await, ErrorKind::NotFound, "tag_image of a missing tag");
    let missing = format!("@sha256:{}", "1".repeat(64));
    expect_kind(repo.tag_image(&missing, "x").await, ErrorKind::NotFound, "tag_image of a missing digest");
    expect_kind(repo.tag_image("v1", "bad:tag").await, ErrorKind::InvalidInput, "malformed new tag");
    expect_kind(repo.check_image_exists("x").await, ErrorKind::NotFound, "failed tag_image created nothing");
}

/// `delete_tag` removes one tag: the image, its other tags, other images and the blobs stay; a missing tag is
/// `NotFound`; deleting an image's last tag leaves it reachable by digest.
pub async fn check_delete_tag(root: Arc<dyn Client>) {
    let repo = root.with_segment("deltag");
    let image = small_image("delete-tag", 2);
    let other = small_image("delete-tag-other", 1);
    for t in ["v1", "v2", "v3"] {
        ok(repo.push_image(t, &image).await, "push");
    }
    ok(repo.push_image("w", &other).await, "push w");
    ok(repo.delete_tag("v1").await, "delete_tag v1");
    assert_eq!(tags_of(&repo, "after delete_tag").await, vec!["v2", "v3", "w"]);
    expect_kind(repo.get_digest("v1").await, ErrorKind::NotFound, "deleted tag");
    expect_kind(repo.check_image_exists("v1").await, ErrorKind::NotFound, "deleted tag exists?");
    for reference in ["v2".to_string(), "v3".to_string(), format!("@{}", image.digest())] {
        assert_eq!(&ok(repo.get_digest(&reference).await, "the image stays"), image.digest(), "{reference}");
        let got = ok(repo.get_image(&reference, ImageOptions::default()).await, "get_image after delete_tag");
        for i in 0..2 {
            assert_eq!(layer_bytes(&got, i).await, layer_bytes(&image, i).await, "{reference}: blobs stay");
        }
    }
    assert_eq!(&ok(repo.get_digest("w").await, "the other image stays"), other.digest());
    expect_kind(repo.delete_tag("v1").await, ErrorKind::NotFound, "delete_tag twice");
    expect_kind(repo.delete_tag("never").await, ErrorKind::NotFound, "delete_tag of a missing tag");
    expect_kind(repo.delete_tag("bad:tag").await, ErrorKind::InvalidInput, "delete_tag of a malformed tag");
    // The image's last tag: the image stays, by digest.
    ok(repo.delete_tag("w").await, "delete_tag w");
    ok(repo.check_image_exists(&format!("@{}", other.digest())).await, "untagged image by digest");
    assert_eq!(tags_of(&repo, "after the last tag of w").await, vec!["v2", "v3"]);
    // A tag given back after deletion works again.
    ok(repo.tag_image("v2", "v1").await, "tag v1 again");
    assert_eq!(&ok(repo.get_digest("v1").await, "v1 again"), image.digest());
}

/// `delete_by_digest` removes the manifest and every tag on it; other images stay, blobs they share included; the
/// digest may come with or without `@`; a missing digest is `NotFound`, a tag is `InvalidInput`.
pub async fn check_delete_by_digest(root: Arc<dyn Client>) {
    let repo = root.with_segment("deldigest");
    let shared_layer = Bytes::from_static(b"a layer both images have");
    let build = |seed: &str| {
        ImageBuilder::new().layer(shared_layer.clone()).layer(Bytes::from(seed.as_bytes().to_vec())).label("s", seed)
    };
    let (a, b) = match (build("delete-a").build(), build("delete-b").build()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => panic!("building images: {e}"),
    };
    ok(repo.push_image("a1", &a).await, "push a1");
    ok(repo.push_image("a2", &a).await, "push a2");
    ok(repo.push_image("b1", &b).await, "push b1");
    ok(repo.delete_by_digest(a.digest().as_str()).await, "delete_by_digest a");
    for reference in ["a1".to_string(), "a2".to_string(), format!("@{}", a.digest())] {
        expect_kind(repo.check_image_exists(&reference).await, ErrorKind::NotFound, &format!("{reference} deleted"));
    }
    assert_eq!(tags_of(&repo, "after delete_by_digest").await, vec!["b1"]);
    let got = ok(repo.get_image("b1", ImageOptions::default()).await, "the other image stays");
    assert_eq!(layer_bytes(&got, 0).await, shared_layer.to_vec(), "a shared blob stays");
    assert_eq!(layer_bytes(&got, 1).await, b"delete-b".to_vec());
    expect_kind(repo.delete_by_digest(a.digest().as_str()).await, ErrorKind::NotFound, "delete twice");
    let missing = format!("sha256:{}", "2".repeat(64));
    expect_kind(repo.delete_by_digest(&missing).await, ErrorKind::NotFound, "delete a missing digest");
    expect_kind(repo.delete_by_digest("b1").await, ErrorKind::InvalidInput, "a tag is no digest");
    expect_kind(repo.delete_by_digest("sha256:xyz").await, ErrorKind::InvalidInput, "a malformed digest");
    ok(repo.delete_by_digest(&format!("@{}", b.digest())).await, "delete_by_digest @b");
    assert_eq!(tags_of(&repo, "with every tag gone").await, Vec::<String>::new());
}

/// `push_index` through the trait: the children by digest, then the index; reads back like any index. An index
/// with an entry missing from the children, or a manifest that is no index, is refused before anything is
/// tagged.
pub async fn check_push_index(root: Arc<dyn Client>) {
    let repo = root.with_segment("pushindex");
    let (amd, arm) = two_platform_images();
    let index = ok(index_of(&[&amd, &arm]), "index_of");
    let e = expect_kind(
        repo.push_index("v1", &index, std::slice::from_ref(&amd)).await,
        ErrorKind::InvalidInput,
        "index with a child missing",
    );
    assert!(e.to_string().contains(arm.digest().as_str()), "names the missing child: {e}");
    expect_kind(
        repo.push_index("v1", amd.raw_manifest(), std::slice::from_ref(&amd)).await,
        ErrorKind::InvalidInput,
        "an image manifest as index",
    );
    expect_kind(repo.check_image_exists("v1").await, ErrorKind::NotFound, "nothing tagged by a refused push_index");
    ok(repo.push_index("v1", &index, &[arm.clone(), amd.clone()]).await, "push_index");
    ok(repo.push_index("v1", &index, &[amd.clone(), arm.clone()]).await, "push_index again");
    check_index_platforms(repo.clone(), "v1", &amd, &arm, index.digest()).await;
    assert_eq!(tags_of(&repo, "after push_index").await, vec!["v1"], "children are pushed untagged");
    ok(repo.check_image_exists(&format!("@{}", amd.digest())).await, "child by digest");
}

fn artifact_types(found: &[Descriptor]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> =
        found.iter().map(|d| (d.digest().to_string(), d.artifact_type().as_ref().map(|t| t.to_string()))).collect();
    v.sort();
    v
}

/// Referrers: two artifacts of different types pushed with a subject are listed (with their type, size and
/// annotations), filtered by type, deduplicated when pushed again, readable as manifests, and gone from the list
/// once deleted; a digest without referrers, or a repository that does not exist, has none.
pub async fn check_referrers(root: Arc<dyn Client>) {
    let repo = root.with_segment("referrers");
    let image = small_image("referrers", 1);
    ok(repo.push_image("v1", &image).await, "push the subject");
    let subject = ok(image.raw_manifest().descriptor(), "subject descriptor");
    const SIG: &str = "application/vnd.example.signature.v1+json";
    const SBOM: &str = "application/spdx+json";
    let sig = ok(
        Artifact::builder(SIG)
            .subject(subject.clone())
            .layer(&b"{\"signature\":\"c2ln\"}"[..], "application/vnd.example.signature.v1+json")
            .annotation("test.kind", "signature")
            .build(),
        "build the signature",
    );
    let sbom = ok(Artifact::builder(SBOM).subject(subject).build(), "build the sbom");
    let d = image.digest().as_str();
    assert!(ok(repo.list_referrers(d, None).await, "referrers before any").is_empty(), "none yet");
    assert_eq!(&ok(repo.push_artifact(&sig).await, "push the signature"), sig.digest());
    assert_eq!(&ok(repo.push_artifact(&sbom).await, "push the sbom"), sbom.digest());
    ok(repo.push_artifact(&sig).await, "push the signature again");

    let all = ok(repo.list_referrers(d, None).await, "list_referrers");
    let expected = |list: &[&Artifact]| {
        let mut v: Vec<(String, Option<String>)> =
            list.iter().map(|a| (a.digest().to_string(), Some(a.artifact_type().to_string()))).collect();
        v.sort();
        v
    };
    assert_eq!(artifact_types(&all), expected(&[&sig, &sbom]), "both, once each");
    let listed_sig = all.iter().find(|x| x.digest().as_ref() == sig.digest().as_str());
    let listed_sig = listed_sig.unwrap_or_else(|| panic!("signature not listed: {all:?}"));
    assert_eq!(listed_sig.size(), sig.raw_manifest().size(), "size of the listed manifest");
    assert_eq!(listed_sig.media_type().to_string(), sig.raw_manifest().media_type());
    let annotation = listed_sig.annotations().as_ref().and_then(|a| a.get("test.kind")).cloned();
    assert_eq!(annotation.as_deref(), Some("signature"), "annotations listed");
    let with_at = ok(repo.list_referrers(&format!("@{d}"), None).await, "list_referrers with @");
    assert_eq!(artifact_types(&with_at), artifact_types(&all));

    let only_sbom = ok(repo.list_referrers(d, Some(SBOM)).await, "list_referrers of the sbom type");
    assert_eq!(artifact_types(&only_sbom), expected(&[&sbom]), "filtered by artifactType");
    let none = ok(repo.list_referrers(d, Some("application/x-nothing")).await, "list_referrers of another type");
    assert!(none.is_empty(), "{none:?}");
    assert!(ok(repo.list_referrers(sig.digest().as_str(), None).await, "referrers of the signature").is_empty());
    let nowhere = root.with_segment("no-such-referrers-repository");
    assert!(ok(nowhere.list_referrers(d, None).await, "referrers in a missing repository").is_empty());
    expect_kind(repo.list_referrers("v1", None).await, ErrorKind::InvalidInput, "a tag is no digest");

    // The artifact is a manifest like any other.
    let m = ok(repo.get_manifest(&format!("@{}", sig.digest())).await, "get_manifest of the signature");
    assert_eq!(m.bytes(), &sig.raw_manifest().bytes()[..]);
    // Deleting a referrer removes it from the list.
    ok(repo.delete_by_digest(sig.digest().as_str()).await, "delete the signature");
    let left = ok(repo.list_referrers(d, None).await, "list_referrers after the delete");
    assert_eq!(artifact_types(&left), expected(&[&sbom]), "the deleted referrer is gone");
    assert_eq!(&ok(repo.get_digest("v1").await, "the subject stays"), image.digest());
}

/// Every item of a stream, or a panic saying what failed.
async fn collect_stream(
    stream: futures::stream::BoxStream<'_, registry_client::Result<String>>,
    what: &str,
) -> Vec<String> {
    ok(stream.try_collect().await, what)
}

/// The stream listings give the same items in the same order as the list calls without a window: in one page
/// ([`LIST_PAGE`](registry_client::LIST_PAGE) items) through `list_tags_stream` / `list_repositories_stream`, and
/// in many through [`paged_stream`] over `list_tags` / `list_repositories` with small pages (the pager the stream
/// listings use). A stream of a repository that does not exist ends with `NotFound`; of an invalid scope, with
/// `InvalidInput`.
pub async fn check_list_streams(root: Arc<dyn Client>) {
    let repo = root.with_segment("streamed");
    let image = small_image("streamed", 1);
    let tags = pagination_tags();
    ok(repo.push_image(&tags[0], &image).await, "push the first tag");
    for t in &tags[1..] {
        ok(repo.tag_image(&tags[0], t).await, "tag_image for the stream listing");
    }
    let mut all = tags.clone();
    all.sort();
    let listed = ok(repo.list_tags(ListOptions::default()).await, "list_tags");
    assert_eq!(listed, all, "list_tags in lexical order");
    assert_eq!(collect_stream(repo.list_tags_stream(), "list_tags_stream").await, listed, "list_tags_stream");
    for page in [1, 4, all.len(), all.len() + 1] {
        let paged = collect_stream(paged_stream(page, |o| repo.list_tags(o)), "tags in pages").await;
        assert_eq!(paged, listed, "tags in pages of {page}");
    }
    let first: Vec<String> =
        ok(paged_stream(4, |o| repo.list_tags(o)).take(6).try_collect().await, "the first six tags in pages of 4");
    assert_eq!(first, all[..6], "a stream read in part");

    let scope = root.with_segment("streamcat");
    for path in ["a", "b/c", "b/d", "e", "e/f"] {
        ok(scope.with_segment(path).push_image("v1", &image).await, "push into the scope");
    }
    let repos = ok(scope.list_repositories(ListOptions::default()).await, "list_repositories");
    assert_eq!(repos, vec!["a", "b/c", "b/d", "e", "e/f"]);
    let streamed = collect_stream(scope.list_repositories_stream(), "list_repositories_stream").await;
    assert_eq!(streamed, repos, "list_repositories_stream");
    for page in [1, 2, 5] {
        let paged = collect_stream(paged_stream(page, |o| scope.list_repositories(o)), "repositories in pages").await;
        assert_eq!(paged, repos, "repositories in pages of {page}");
    }
    let empty = root.with_segment("streamcat-nothing");
    assert!(collect_stream(empty.list_repositories_stream(), "an empty scope").await.is_empty());

    let nowhere = root.with_segment("no-such-streamed-repository");
    let missing: Vec<registry_client::Result<String>> = nowhere.list_tags_stream().collect().await;
    assert_eq!(missing.len(), 1, "one error, then the end: {missing:?}");
    let missing = nowhere.list_tags_stream().try_collect::<Vec<String>>().await;
    expect_kind(missing, ErrorKind::NotFound, "stream of a missing repository");
    let bad = root.with_segment("Bad").list_tags_stream().try_collect::<Vec<String>>().await;
    expect_kind(bad, ErrorKind::InvalidInput, "stream of an invalid scope");
}

/// A blob source that serves `data` for any digest asked: a source whose content is not what the descriptor says.
#[derive(Debug)]
struct Lying(Bytes);

#[registry_client::async_trait]
impl BlobSource for Lying {
    async fn open(&self, _digest: &Digest, _size: u64) -> registry_client::Result<ByteStream> {
        Ok(registry_client::slices_from(&self.0, 0, 7))
    }

    async fn open_unverified(&self, _digest: &Digest, _size: u64, offset: u64) -> registry_client::Result<ByteStream> {
        Ok(registry_client::slices_from(&self.0, offset, 7))
    }
}

/// Bytes of a whole stream, or a panic saying what failed.
async fn stream_bytes(stream: registry_client::Result<ByteStream>, what: &str) -> Vec<u8> {
    let chunks: Vec<Bytes> = ok(ok(stream, what).try_collect().await, what);
    chunks.concat()
}

/// The primitives copies are made of: `push_blob` (uploaded, then already present, mounted from another repository
/// of the same registry, refused when the content does not match the descriptor), `get_blob` and `blobs()` (verified
/// reads, from an offset), `put_manifest` (by tag, by its own digest, not by another digest, not before its blobs)
/// and `push_image` by digest; a referrer copied with these is listed by `list_referrers` of its subject.
pub async fn check_blob_and_manifest_primitives(root: Arc<dyn Client>) {
    let repo = root.with_segment("prim/src");
    let image = small_image("primitives", 2);
    let blobs: Vec<&Descriptor> = image.layers().iter().chain([image.config_descriptor()]).collect();
    for d in &blobs {
        assert_eq!(ok(repo.push_blob(d, &image, None).await, "push_blob"), BlobPushed::Uploaded, "a new blob");
        assert_eq!(ok(repo.push_blob(d, &image, None).await, "push_blob again"), BlobPushed::AlreadyPresent);
    }
    let layer = image.layers()[1].clone();
    let digest = ok(Digest::parse(layer.digest().as_ref()), "layer digest");
    let want = layer_bytes(&image, 1).await;
    assert_eq!(stream_bytes(repo.get_blob(&digest, layer.size()).await, "get_blob").await, want);
    let source = ok(repo.blobs(), "blobs()");
    assert_eq!(stream_bytes(source.open(&digest, layer.size()).await, "blobs().open").await, want);
    let tail = stream_bytes(source.open_unverified(&digest, layer.size(), 5).await, "open_unverified(5)").await;
    assert_eq!(tail, want[5..], "from an offset");
    let missing = Digest::sha256(b"not pushed anywhere");
    expect_kind(repo.get_blob(&missing, 19).await.map(|_| ()), ErrorKind::NotFound, "get_blob of a missing blob");
    expect_kind(root.with_segment("Bad").blobs().map(|_| ()), ErrorKind::InvalidInput, "blobs() of a bad scope");

    // Mounted from another repository of the same registry, named by its blob source.
    let other = root.with_segment("prim/dst");
    let from = source.repository().cloned();
    assert!(from.is_some(), "the blob source of a registry repository names it");
    let mounted = ok(other.push_blob(&layer, source.as_ref(), from.as_ref()).await, "push_blob with a mount");
    assert_eq!(mounted, BlobPushed::Mounted, "linked from the source repository");
    assert_eq!(stream_bytes(other.get_blob(&digest, layer.size()).await, "get_blob of the mounted blob").await, want);

    // Content that does not match its descriptor is refused, and nothing is stored.
    let claimed = Bytes::from_static(b"the bytes the descriptor describes");
    let claimed_digest = Digest::sha256(&claimed);
    let lie = ok(descriptor("application/octet-stream", &claimed_digest, claimed.len() as u64), "descriptor");
    let lying = Lying(Bytes::from(vec![b'x'; claimed.len()]));
    expect_kind(repo.push_blob(&lie, &lying, None).await, ErrorKind::DigestMismatch, "push_blob of wrong content");
    let stored = repo.get_blob(&claimed_digest, claimed.len() as u64).await.map(|_| ());
    expect_kind(stored, ErrorKind::NotFound, "a refused blob is not stored");

    // Manifests: by tag, by their own digest, not by another, not before their blobs.
    let manifest = image.raw_manifest();
    assert_eq!(&ok(repo.put_manifest("v1", manifest).await, "put_manifest v1"), image.digest());
    let got = ok(repo.get_manifest("v1").await, "get_manifest v1");
    assert_eq!((got.bytes(), got.media_type()), (&manifest.bytes()[..], manifest.media_type()));
    let by_digest = format!("@{}", image.digest());
    assert_eq!(&ok(repo.put_manifest(&by_digest, manifest).await, "put_manifest by digest"), image.digest());
    let wrong = format!("@{}", Digest::sha256(b"another manifest"));
    expect_kind(repo.put_manifest(&wrong, manifest).await, ErrorKind::InvalidInput, "put_manifest by another digest");
    // A put names one place: a tag and a digest at once is refused (it would have tagged nothing), for both.
    let both = format!("v9@{}", image.digest());
    let e = expect_kind(repo.put_manifest(&both, manifest).await, ErrorKind::InvalidInput, "put_manifest tag@digest");
    assert!(e.to_string().contains("not both"), "{e}");
    expect_kind(repo.push_image(&both, &image).await, ErrorKind::InvalidInput, "push_image tag@digest");
    let unpushed = small_image("primitives-unpushed", 1);
    let e = expect_kind(
        repo.put_manifest("v2", unpushed.raw_manifest()).await,
        ErrorKind::InvalidInput,
        "put_manifest before its blobs",
    );
    assert!(e.has_code("MANIFEST_BLOB_UNKNOWN"), "{e}");
    assert_eq!(tags_of(&repo, "after put_manifest").await, vec!["v1"], "by digest tags nothing");
    let untagged = small_image("primitives-by-digest", 1);
    ok(repo.push_image(&format!("@{}", untagged.digest()), &untagged).await, "push_image by digest");
    ok(repo.check_image_exists(&format!("@{}", untagged.digest())).await, "an image pushed by digest");
    expect_kind(repo.push_image(&by_digest, &untagged).await, ErrorKind::InvalidInput, "push_image by another digest");
    assert_eq!(tags_of(&repo, "after push_image by digest").await, vec!["v1"]);

    // A referrer copied blob by blob and put by digest is listed, wherever the registry keeps referrers.
    let subject = ok(manifest.descriptor(), "subject descriptor");
    let sig = ok(
        Artifact::builder("application/vnd.example.copied-signature")
            .subject(subject)
            .layer(&b"copied signature"[..], "application/octet-stream")
            .build(),
        "build the referrer",
    );
    for d in sig.blobs() {
        ok(repo.push_blob(d, sig.source().as_ref(), None).await, "push_blob of the referrer's blobs");
    }
    let put = ok(repo.put_manifest(&format!("@{}", sig.digest()), sig.raw_manifest()).await, "put the referrer");
    assert_eq!(&put, sig.digest());
    let listed = ok(repo.list_referrers(image.digest().as_str(), None).await, "list_referrers after put_manifest");
    assert_eq!(artifact_types(&listed), vec![(sig.digest().to_string(), Some(sig.artifact_type().to_string()))]);
}

/// An explicit platform is never ignored: a single-platform image for another platform is `NotFound` naming its
/// platform; one for the platform asked is returned; one whose config has no platform information is returned
/// whatever the platform asked.
pub async fn check_explicit_platform(repo: Arc<dyn Client>) {
    let amd64 = small_image("explicit-platform", 1);
    ok(repo.push_image("amd64", &amd64).await, "push a linux/amd64 image");
    let asked = |os: &str, arch: &str| ImageOptions::default().platform(Platform::new(os, arch));
    let got = ok(repo.get_image("amd64", asked("linux", "amd64")).await, "get_image for its own platform");
    assert_eq!(got.digest(), amd64.digest());
    let e = match repo.get_image("amd64", asked("linux", "arm64")).await {
        Ok(i) => panic!("a linux/amd64 image was returned for linux/arm64: {}", i.digest()),
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("linux/amd64"), "names the image's platform: {e}");
    let e = repo.get_image(&format!("@{}", amd64.digest()), asked("windows", "amd64")).await.err();
    assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::NotFound), "by digest too");
    let got = ok(repo.get_image("amd64", ImageOptions::default()).await, "get_image without a platform");
    assert_eq!(got.digest(), amd64.digest(), "no platform asked: the image as it is");

    let unknown = ok(
        ImageBuilder::new()
            .label("test.seed", "no-platform")
            .platform(Platform::new("", ""))
            .layer(Bytes::from_static(b"no platform"))
            .build(),
        "build an image without platform information",
    );
    ok(repo.push_image("unknown", &unknown).await, "push an image without platform information");
    let got = ok(repo.get_image("unknown", asked("linux", "arm64")).await, "get_image of an image without platform");
    assert_eq!(got.digest(), unknown.digest());
}

/// Every check of the suite, in order.
pub async fn run_all(root: Arc<dyn Client>) {
    check_segments(root.with_segment("segments")).await;
    check_push_and_read_back(root.with_segment("rb")).await;
    check_not_found(root.with_segment("nf")).await;
    check_unknown_repository(root.with_segment("ur")).await;
    check_tag_pagination(root.with_segment("pg")).await;
    check_repository_listing(root.with_segment("rl")).await;
    check_tag_image(root.with_segment("ti")).await;
    check_delete_tag(root.with_segment("dt")).await;
    check_delete_by_digest(root.with_segment("dd")).await;
    check_push_index(root.with_segment("pi")).await;
    check_referrers(root.with_segment("rf")).await;
    check_list_streams(root.with_segment("ls")).await;
    check_blob_and_manifest_primitives(root.with_segment("bp")).await;
    check_explicit_platform(root.with_segment("ep")).await;
}
