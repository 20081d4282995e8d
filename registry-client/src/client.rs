//! The [`Client`] trait: the contract every implementation (remote, in-memory fake) fulfils: a small required
//! core of registry primitives, and conveniences derived from it once, here.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use oci_spec::image::{Descriptor, ImageConfiguration};
use registry_core::api::BlobPushed;
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Reference, Repository, Result};

use crate::conveniences::scoped_name;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image, MAX_CONFIG_SIZE};
use crate::listing::{paged_stream, LIST_PAGE};
use crate::manifest_result::ManifestResult;
use crate::options::{ImageOptions, ListOptions};
use crate::resolve::{check_platform, pick_image_manifest};

/// A registry client scoped to a host and a path (`host/segment/segment`).
///
/// `reference` arguments are relative to the scope: a tag (`"v1"`), a digest (`"@sha256:..."`) or both
/// (`"v1@sha256:..."`, resolved by the digest). `digest` arguments are a digest, with or without the `@`
/// (`"sha256:..."`, `"@sha256:..."`), read by [`digest_reference`].
///
/// An implementation writes the required core: scoping, [`get_manifest`](Client::get_manifest),
/// [`put_manifest`](Client::put_manifest), [`blobs`](Client::blobs), [`push_blob`](Client::push_blob),
/// [`push_image`](Client::push_image), the two list calls, the deletes, the referrers and
/// [`push_artifact`](Client::push_artifact). The conveniences ([`get_image`](Client::get_image) with its platform
/// pick, [`get_digest`](Client::get_digest), [`check_image_exists`](Client::check_image_exists),
/// [`get_image_config`](Client::get_image_config), [`get_blob`](Client::get_blob),
/// [`push_index`](Client::push_index), [`tag_image`](Client::tag_image) and the stream listings) are provided,
/// derived from the core, so every implementation answers them the same way; an implementation overrides one only
/// for a faster path (`RemoteClient` asks `get_digest` and `check_image_exists` with a HEAD). A wrapper around
/// another client (a logging or metrics decorator) should forward those two as well, or it trades the wrapped
/// client's HEAD for a GET of the whole manifest.
///
/// Write operations behave the same on every registry, whatever it supports: `delete_tag` works on registries that
/// refuse to delete by tag (docker-registry), and referrers work on registries without the referrers API, through
/// the referrers tag schema (`sha256-<hex>`), which `put_manifest` (and so `push_artifact`) keeps up to date there.
///
/// ```no_run
/// use std::sync::Arc;
/// use futures::TryStreamExt;
/// use registry_client::{Client, ImageOptions, ListOptions, Platform, RemoteClient};
///
/// # async fn demo() -> registry_client::Result<()> {
/// let client: Arc<dyn Client> = Arc::new(RemoteClient::builder("registry.example.com").build()?);
/// let app = client.with_segment("org").with_segment("app");
/// assert_eq!(app.get_registry(), "registry.example.com/org/app");
/// let tags = app.list_tags(ListOptions::default()).await?;            // every tag, lexical order
/// let page = app.list_tags(ListOptions::default().limit(10).last("v1")).await?; // one page after "v1"
/// let mut stream = app.list_tags_stream();                           // every tag, fetched page by page
/// while let Some(tag) = stream.try_next().await? {
///     println!("{tag}");
/// }
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

    // ---- the required core ---------------------------------------------------------------------------------

    /// The manifest (image manifest or index) `reference` points to, with its exact bytes, verified against the
    /// digest asked for. `NotFound` when there is none; `InvalidInput` for a malformed reference.
    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult>;

    /// Put `manifest` (its exact bytes, under its media type) at `reference`: a tag (created or moved), or
    /// `"@<digest>"` (stored untagged; the digest must be the manifest's own, else `InvalidInput`). Both at once
    /// (`"v1@sha256:..."`) is `InvalidInput`: a put names one place (see [`push_reference`]). Everything the manifest references must be in the repository already
    /// (its blobs, an index's children), else `InvalidInput` (registry code `MANIFEST_BLOB_UNKNOWN`). Returns the
    /// digest the registry stored it under (the sha256 of the bytes).
    ///
    /// A manifest with a `subject` is then listed by [`Client::list_referrers`] of that subject on every
    /// implementation: on a registry without the referrers API, `RemoteClient` updates the subject's referrers tag
    /// (`sha256-<hex>`: read, the manifest added, existing entries kept and deduplicated, written back).
    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<Digest>;

    /// The blobs of the scoped repository as a [`BlobSource`]: `open` streams a blob verified against its digest
    /// and size, `open_unverified` from an offset, `repository()` names the repository (to mount from). Local: no
    /// request is made until a blob is opened. `InvalidInput` when the scope is invalid or has no repository.
    fn blobs(&self) -> Result<Arc<dyn BlobSource>>;

    /// Push the blob `descriptor` (digest and size) into the scoped repository, read from `source`, unless it is
    /// there already ([`BlobPushed::AlreadyPresent`]). When `mount_from` is another repository of the same registry,
    /// the registry is asked to link it from there first ([`BlobPushed::Mounted`]); else, or when it refuses, the
    /// blob is uploaded ([`BlobPushed::Uploaded`]), streamed from `source` and read again from it (at the
    /// registry's offset) when an upload must resume. The bytes are checked against the digest and size before the
    /// blob is committed: `DigestMismatch` when they differ, and nothing is stored.
    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed>;

    /// Push `image` under `tag`: blobs the registry lacks, then the config, then the manifest. `tag` may also be
    /// `"@<the image's digest>"`, which pushes it untagged (another digest, or a tag and a digest at once, is
    /// `InvalidInput`; see [`push_reference`]). `DigestMismatch`
    /// when the registry stores the manifest under another digest than the image's.
    async fn push_image(&self, tag: &str, image: &Image) -> Result<()>;

    /// Tags of the scoped repository, in lexical order, windowed by `opts`. `NotFound` for a repository that does
    /// not exist (or never had a tag).
    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>>;

    /// Repositories under the scope, relative to it, in lexical order, windowed by `opts`. Empty when there are
    /// none.
    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>>;

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
    /// possible, with progress events; then its manifest, untagged, through the same path as
    /// [`Client::put_manifest`], so its subject's referrers tag is kept up to date where needed) and return its
    /// digest.
    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest>;

    // ---- provided: derived from the core, once ---------------------------------------------------------------

    /// Open the blob `digest` of `size` bytes of the scoped repository as a stream verified against both (the last
    /// item is an error instead of data when they differ): `self.blobs()?.open(digest, size)`. `NotFound` when the
    /// repository has no such blob.
    async fn get_blob(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        self.blobs()?.open(digest, size).await
    }

    /// The digest of the manifest `reference` points to (from [`Client::get_manifest`]; `RemoteClient` asks with a
    /// HEAD).
    async fn get_digest(&self, reference: &str) -> Result<Digest> {
        Ok(self.get_manifest(reference).await?.digest().clone())
    }

    /// `Ok(())` when `reference` exists; an error of kind `NotFound` when it does not, any other kind when the
    /// question could not be answered (from [`Client::get_manifest`]; `RemoteClient` asks with a HEAD).
    async fn check_image_exists(&self, reference: &str) -> Result<()> {
        self.get_manifest(reference).await.map(|_| ())
    }

    /// The config of the image `reference` points to (the host's platform when it is an index): see
    /// [`Client::get_image`].
    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration> {
        Ok(self.get_image(reference, ImageOptions::default()).await?.config().clone())
    }

    /// The image `reference` points to; from an index, the entry for the platform in `opts`, else the host's
    /// platform, read by its digest. The config is read whole (verified) through [`Client::blobs`], which is also
    /// the source of the image's layers (streamed when read).
    ///
    /// A platform given in `opts` is never ignored: a single-platform image (no index) whose config names another
    /// platform is `NotFound`, naming the image's platform. An image whose config has no platform information (no
    /// `os` or `architecture`) is returned whatever the platform asked, as is one without a variant when the
    /// platform asked names one.
    ///
    /// Errors: `NotFound` when `reference` does not exist, when the index has no entry for the platform (the
    /// message lists the platforms it has), or when the single-platform image is for another platform than the one
    /// asked; `Unsupported` when that entry is itself an index, or the config is over
    /// [`MAX_CONFIG_SIZE`] bytes, or the manifest is an artifact's ("`<name>`: `<digest>` is an artifact (config
    /// type X), not an image": see [`Image::from_parts`]; [`Client::get_config_bytes`] reads its config);
    /// `DigestMismatch` when the config does not match its descriptor; `Protocol` when an image config is not a
    /// valid image configuration.
    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image> {
        let (manifest, config, blobs, name) = image_parts(self, reference, &opts).await?;
        Image::from_parts(manifest, config, blobs).map_err(|e| match e.kind() {
            ErrorKind::Unsupported => e.context(&name),
            _ => e,
        })
    }

    /// The config blob's exact bytes of the image or artifact `reference` points to (from an index, the entry for
    /// the platform in `opts`, else the host's, picked as [`Client::get_image`] picks it), read whole through
    /// [`Client::blobs`] and verified against the config descriptor (digest and size), never parsed: an artifact's
    /// config (`{}`, or any media type) is returned as stored. What `crane config` prints.
    ///
    /// Errors: those of [`Client::get_image`] before the config is parsed: `NotFound` (no such reference, no entry
    /// for the platform, a single-platform image whose config names another platform), `Unsupported` (a nested
    /// index, a config over [`MAX_CONFIG_SIZE`] bytes), `DigestMismatch` (the blob does not match its descriptor),
    /// `Protocol` (the manifest picked is no image manifest).
    async fn get_config_bytes(&self, reference: &str, opts: ImageOptions) -> Result<Bytes> {
        Ok(image_parts(self, reference, &opts).await?.1)
    }

    /// Push an index under `tag`: each image of `children` (blobs, config, manifest) by its digest
    /// ([`Client::push_image`] with `"@<digest>"`), then the index ([`Client::put_manifest`]). Every entry of the
    /// index must be one of `children`, so nothing it points to is missing on the registry: that, a manifest that
    /// is no index and a malformed tag are `InvalidInput` before anything is pushed. `DigestMismatch` when the
    /// index's digest does not come out unchanged.
    async fn push_index(&self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()> {
        Reference::check_tag(tag).map_err(Error::from)?;
        let entries = index
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{} is not an index", index.digest())))?
            .manifests();
        let mut ordered = Vec::with_capacity(entries.len());
        for entry in entries {
            let digest = descriptor_digest(entry)?;
            let child = children.iter().find(|c| c.digest() == &digest).ok_or_else(|| {
                Error::invalid_input(format!("index entry {digest} is not among the images given to push_index"))
            })?;
            ordered.push(child);
        }
        for child in ordered {
            self.push_image(&format!("@{}", child.digest()), child).await?;
        }
        let pushed = self.put_manifest(tag, index).await?;
        if &pushed != index.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "pushed index {} as {pushed}, expected {}",
                    scoped_name(&self.get_registry(), tag),
                    index.digest()
                ),
            ));
        }
        Ok(())
    }

    /// Point `new_tag` at the manifest `reference` points to (a tag or `@digest`), in the same repository, without
    /// moving any blob: the manifest's exact bytes are put again under the new tag ([`Client::get_manifest`], then
    /// [`Client::put_manifest`]), so its digest stays the same. An existing `new_tag` is moved. `NotFound` when
    /// `reference` does not exist; `InvalidInput` when `new_tag` is not a tag.
    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()> {
        Reference::check_tag(new_tag).map_err(Error::from)?;
        let manifest = self.get_manifest(reference).await?.into_manifest();
        let pushed = self
            .put_manifest(new_tag, &manifest)
            .await
            .map_err(|e| e.context(format!("tag {} as {new_tag}", scoped_name(&self.get_registry(), reference))))?;
        if &pushed != manifest.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("tagged {reference} as {new_tag}, but it became {pushed} instead of {}", manifest.digest()),
            ));
        }
        Ok(())
    }

    /// Every tag of the scoped repository, in lexical order, as a stream fetched lazily in pages of [`LIST_PAGE`]
    /// items ([`Client::list_tags`] with `limit` and `last`; see [`paged_stream`]): the same items as
    /// `list_tags(ListOptions::default())`, without holding them all. An error (a failed page, or a page that does
    /// not advance: `Protocol`) is the stream's last item.
    fn list_tags_stream(&self) -> BoxStream<'_, Result<String>> {
        paged_stream(LIST_PAGE, move |opts| self.list_tags(opts))
    }

    /// Every repository under the scope, relative to it, in lexical order, as a stream fetched lazily in pages of
    /// [`LIST_PAGE`] items ([`Client::list_repositories`] with `limit` and `last`; see [`paged_stream`]).
    fn list_repositories_stream(&self) -> BoxStream<'_, Result<String>> {
        paged_stream(LIST_PAGE, move |opts| self.list_repositories(opts))
    }
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

/// Where a push of a manifest whose digest is `digest` goes in `repository` when asked for `reference`
/// ([`Client::push_image`]'s `tag`, [`Client::put_manifest`]'s `reference`): a tag, or `"@<digest>"`, which must
/// be the manifest's own. `InvalidInput` naming the repository and what was wrong for a malformed tag or digest,
/// another digest, or both a tag and a digest (`"v1@sha256:..."`: a push names one place). For implementations of
/// those two methods.
///
/// ```
/// use registry_client::{push_reference, Digest, Repository};
/// let repo = Repository::parse("registry.example.com/app")?;
/// let digest = Digest::sha256(b"{}");
/// assert_eq!(push_reference(&repo, "v1", &digest)?.tag(), Some("v1"));
/// assert_eq!(push_reference(&repo, &format!("@{digest}"), &digest)?.digest(), Some(&digest));
/// assert!(push_reference(&repo, &format!("@{}", Digest::sha256(b"other")), &digest).is_err());
/// assert!(push_reference(&repo, &format!("v1@{digest}"), &digest).is_err());
/// assert!(push_reference(&repo, "-v1", &digest).is_err());
/// # Ok::<(), registry_client::Error>(())
/// ```
pub fn push_reference(repository: &Repository, reference: &str, digest: &Digest) -> Result<Reference> {
    if let Some((tag, _)) = reference.split_once('@').filter(|(tag, _)| !tag.is_empty()) {
        return Err(Error::invalid_input(format!(
            "push to {repository}:{reference}: name a tag ({tag:?}) or a digest (\"@{digest}\"), not both"
        )));
    }
    if !reference.starts_with('@') {
        return Reference::with_tag(repository.clone(), reference).map_err(Error::from);
    }
    let target = digest_reference(repository, reference)?;
    if target.digest() != Some(digest) {
        return Err(Error::invalid_input(format!(
            "push to {repository}{reference}: a push by digest must name the manifest's own digest {digest}"
        )));
    }
    Ok(target)
}

/// The image manifest `reference` names in `client` for the platform of `opts` (see [`Client::get_image`]), its
/// config blob's bytes (verified, at most [`MAX_CONFIG_SIZE`]), the client's blob source, and the reference's
/// scoped name for messages. A single-platform image asked for another platform than its config names is
/// `NotFound`; a config naming no platform (an artifact's) passes.
async fn image_parts<C: Client + ?Sized>(
    client: &C,
    reference: &str,
    opts: &ImageOptions,
) -> Result<(Manifest, Bytes, Arc<dyn BlobSource>, String)> {
    let name = scoped_name(&client.get_registry(), reference);
    let top = client.get_manifest(reference).await?.into_manifest();
    let single_platform = !top.is_index();
    let manifest = pick_image_manifest(top, opts.get_platform(), &name, |digest: Digest| async move {
        Ok(client.get_manifest(&format!("@{digest}")).await?.into_manifest())
    })
    .await?;
    let image = manifest.as_image().ok_or_else(|| Error::protocol(format!("{name}: expected an image manifest")))?;
    let cfg = image.config();
    let cfg_digest = descriptor_digest(cfg)?;
    let blobs = client.blobs()?;
    let config = blobs
        .read_to_bytes(&cfg_digest, cfg.size(), MAX_CONFIG_SIZE)
        .await
        .map_err(|e| e.context(format!("config of {name}")))?;
    if let (true, Some(want)) = (single_platform, opts.get_platform()) {
        check_platform(&config, want, &name)?;
    }
    Ok((manifest, config, blobs, name))
}
