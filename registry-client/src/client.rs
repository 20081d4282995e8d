//! The [`Client`] trait: the contract every implementation (remote, in-memory fake) fulfils.

use std::sync::Arc;

use oci_spec::image::{Descriptor, ImageConfiguration};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Error, Reference, Repository, Result};

use crate::artifact::Artifact;
use crate::image::Image;
use crate::manifest_result::ManifestResult;
use crate::options::{ImageOptions, ListOptions};

/// A registry client scoped to a host and a path (`host/segment/segment`).
///
/// `reference` arguments are relative to the scope: a tag (`"v1"`), a digest (`"@sha256:..."`) or both
/// (`"v1@sha256:..."`, resolved by the digest). `digest` arguments are a digest, with or without the `@`
/// (`"sha256:..."`, `"@sha256:..."`), read by [`digest_reference`].
///
/// Write operations behave the same on every registry, whatever it supports: `delete_tag` works on registries that
/// refuse to delete by tag (docker-registry), and referrers work on registries without the referrers API, through
/// the referrers tag schema (`sha256-<hex>`), which `push_artifact` keeps up to date there.
///
/// ```no_run
/// use std::sync::Arc;
/// use registry_client::{Client, ImageOptions, ListOptions, Platform, RemoteClient};
///
/// # async fn demo() -> registry_client::Result<()> {
/// let client: Arc<dyn Client> = Arc::new(RemoteClient::builder("registry.example.com").build()?);
/// let app = client.with_segment("org").with_segment("app");
/// assert_eq!(app.get_registry(), "registry.example.com/org/app");
/// let tags = app.list_tags(ListOptions::default()).await?;            // every tag, lexical order
/// let page = app.list_tags(ListOptions::default().limit(10).last("v1")).await?; // one page after "v1"
/// let image = app.get_image("v2", ImageOptions::default().platform(Platform::new("linux", "arm64"))).await?;
/// app.with_segment("mirror").push_image("v2", &image).await?;
/// app.tag_image("v2", "stable").await?;                              // same digest, no blob moved
/// app.delete_tag("v1").await?;                                       // other tags and the image stay
/// # let _ = (tags, page);
/// # Ok(()) }
/// ```
#[async_trait::async_trait]
pub trait Client: Send + Sync + std::fmt::Debug {
    /// A client scoped one path segment deeper: `client.with_segment("org").with_segment("app")`. An invalid
    /// segment makes every call of the returned client fail with `InvalidInput` naming it.
    fn with_segment(&self, segment: &str) -> Arc<dyn Client>;

    /// `host[:port]` plus the segments so far, e.g. `"registry.example.com/org/app"`.
    fn get_registry(&self) -> String;

    /// The digest of the manifest `reference` points to.
    async fn get_digest(&self, reference: &str) -> Result<Digest>;

    /// The manifest (image manifest or index) `reference` points to.
    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult>;

    /// The config of the image `reference` points to (the host's platform when it is an index).
    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration>;

    /// `Ok(())` when `reference` exists; an error of kind `NotFound` when it does not, any other kind when the
    /// question could not be answered.
    async fn check_image_exists(&self, reference: &str) -> Result<()>;

    /// The image `reference` points to; from an index, the platform in `opts`, else the host's platform.
    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image>;

    /// Push `image` under `tag`: blobs the registry lacks, then the config, then the manifest.
    async fn push_image(&self, tag: &str, image: &Image) -> Result<()>;

    /// Tags of the scoped repository, in lexical order, windowed by `opts`.
    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>>;

    /// Repositories under the scope, relative to it, in lexical order, windowed by `opts`.
    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>>;

    /// Push an index under `tag`: each image of `children` (blobs, config, manifest) by its digest, then the index.
    /// Every entry of the index must be one of `children` (else `InvalidInput`), so nothing it points to is
    /// missing on the registry; the index's digest must come out unchanged (else `DigestMismatch`).
    async fn push_index(&self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()>;

    /// Point `new_tag` at the manifest `reference` points to (a tag or `@digest`), in the same repository, without
    /// moving any blob: the manifest's exact bytes are pushed again under the new tag, so its digest stays the
    /// same. An existing `new_tag` is moved. `NotFound` when `reference` does not exist.
    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()>;

    /// Remove `tag`; the manifest it pointed to, its other tags and its blobs stay. `NotFound` when there is no such
    /// tag. On registries that refuse to delete by tag (docker-registry answers 400), the tag is first pointed at a
    /// unique placeholder manifest (empty config, an annotation naming the tag), which is then deleted by digest;
    /// when the registry has deletes disabled altogether, `Unsupported` and the tag is left untouched; when the
    /// placeholder cannot be deleted, the tag is put back where it was and the error says so.
    async fn delete_tag(&self, tag: &str) -> Result<()>;

    /// Delete the manifest `digest` (`"sha256:..."` or `"@sha256:..."`) and with it every tag pointing at it; blobs
    /// stay (a registry's garbage collection removes unreferenced ones). When it had a `subject`, it is also removed
    /// from the referrers tag of registries without the referrers API. `NotFound` when it does not exist,
    /// `Unsupported` when the registry has deletes disabled.
    async fn delete_by_digest(&self, digest: &str) -> Result<()>;

    /// The manifests whose `subject` is `digest` (`"sha256:..."` or `"@sha256:..."`), as descriptors carrying their
    /// `artifactType` and annotations; only those of `artifact_type` when given. Uses the referrers API, following
    /// its pages, and the referrers tag schema (`sha256-<hex>`) on registries without it. Empty when there are none.
    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>>;

    /// Push `artifact` (its blobs, like an image's: concurrently within the transfer limits, mounted or skipped when
    /// possible, with progress events; then its manifest, untagged) and return its digest. When it has a `subject` and
    /// the registry has no referrers API, the referrers tag of the subject is updated (read, the artifact added,
    /// existing entries kept and deduplicated, written back) so [`Client::list_referrers`] finds it there too.
    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest>;
}

/// The reference a `digest` argument names in `repository`: `"sha256:..."` or `"@sha256:..."` (the form
/// `reference` arguments take). Anything else, a tag included, is `InvalidInput`.
///
/// ```
/// use registry_client::{core::Repository, digest_reference};
/// let repo = Repository::parse("registry.example.com/app")?;
/// let hex = "a".repeat(64);
/// let r = digest_reference(&repo, &format!("sha256:{hex}"))?;
/// assert_eq!(r, digest_reference(&repo, &format!("@sha256:{hex}"))?);
/// assert_eq!(r.tag(), None);
/// assert!(digest_reference(&repo, "v1").is_err());
/// # Ok::<(), registry_client::Error>(())
/// ```
pub fn digest_reference(repository: &Repository, digest: &str) -> Result<Reference> {
    let reference = if digest.starts_with('@') { digest.to_string() } else { format!("@{digest}") };
    let parsed = Reference::parse_relative(repository, &reference)
        .map_err(|e| Error::invalid_input(format!("{digest:?} is not a digest (sha256:<hex>): {e}")))?;
    match parsed.digest() {
        Some(d) if parsed.tag().is_none() => Ok(Reference::with_digest(repository.clone(), d.clone())),
        _ => Err(Error::invalid_input(format!("{digest:?} is not a digest (sha256:<hex>)"))),
    }
}
