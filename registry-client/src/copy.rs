//! `copy_image`: an image or a whole index, with its blobs and optionally its referrers, from one [`Client`] to
//! another (crane `cp`, skopeo `copy --all`), manifests copied with their exact bytes so digests stay unchanged.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;
use registry_core::api::BlobPushed;
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, ErrorKind, Reference, Repository, Result};

use crate::client::Client;
use crate::image::model::BlobSource;
use crate::image::platform::Platform;

/// How deep indexes may nest (an index whose entries are indexes): deeper is `Unsupported`.
const MAX_DEPTH: usize = 3;
/// At most this many referrers are copied in one call (referrers of referrers included), so a cycle or a flood of
/// referrers cannot make the copy unbounded.
const MAX_REFERRERS: usize = 10_000;
/// Blobs of one manifest pushed at once (each push also obeys the target's own transfer limits).
const BLOB_CONCURRENCY: usize = 4;

/// What [`copy_image`] copies: by default the whole manifest `reference` points to (every child of an index),
/// without referrers.
///
/// ```
/// use registry_client::{CopyOptions, Platform};
/// let opts = CopyOptions::default().platforms([Platform::new("linux", "arm64")]).referrers(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CopyOptions {
    platforms: Vec<Platform>,
    referrers: bool,
}

impl CopyOptions {
    /// Copy only these platforms of an index: one platform copies that platform's image manifest alone (its own
    /// digest); several copy a new index holding only their entries (new bytes, so a new digest). Empty (the
    /// default) copies everything. A platform the index lacks makes [`copy_image`] fail with `NotFound`.
    pub fn platforms(mut self, platforms: impl IntoIterator<Item = Platform>) -> CopyOptions {
        self.platforms = platforms.into_iter().collect();
        self
    }

    /// Also copy the referrers (signatures, SBOMs, attestations: manifests whose `subject` is a copied manifest,
    /// as [`Client::list_referrers`] lists them), and theirs, so the target lists them too.
    pub fn referrers(mut self, on: bool) -> CopyOptions {
        self.referrers = on;
        self
    }
}

/// What [`copy_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The digest of the manifest `reference` pointed to on the source (`sha256:<hex>`).
    pub source_digest: Digest,
    /// The digest of the manifest written under the target tag (`sha256:<hex>`): the source's unless a platform
    /// filter chose a child or built a filtered index.
    pub target_digest: Digest,
    /// Why `target_digest` differs from `source_digest` (which platform filter); `None` when they are equal.
    pub digest_changed: Option<String>,
    /// Manifests put on the target (images, indexes and referrers, the tagged one included).
    pub manifests_copied: usize,
    /// Blobs uploaded to the target (bytes moved: [`CopyReport::bytes_uploaded`]).
    pub blobs_uploaded: usize,
    /// Blobs the target had already (no bytes moved).
    pub blobs_skipped: usize,
    /// Blobs the target registry linked from the source's repository (cross-repository mount, no bytes moved).
    pub blobs_mounted: usize,
    /// Bytes of the uploaded blobs (sum of their descriptor sizes).
    pub bytes_uploaded: u64,
    /// Referrer manifests copied (each also counted in `manifests_copied`).
    pub referrers_copied: usize,
}

/// Copy the manifest `reference` (a tag or `"@sha256:<hex>"` in `source`'s scope) to `target` under `tag`, with
/// everything it references, and return what was done.
///
/// An index is copied whole by default: each child (its blobs through [`Client::push_blob`] on the target, so
/// present blobs are skipped and, when both clients are in the same registry, blobs are mounted from the source's
/// repository; then its manifest by digest with [`Client::put_manifest`], exact bytes), then the index itself with
/// its exact bytes: its digest is unchanged. Nested indexes are copied the same way up to 3 levels. An image
/// manifest is copied with its exact bytes too; its non-distributable (foreign) layers are not pushed, as registries
/// fetch them from their URLs. [`CopyOptions::platforms`] narrows an index, and
/// [`CopyOptions::referrers`] adds referrers (put by digest, so the target lists them by their subject).
///
/// `tag` is a tag, or `"@<digest>"` to copy untagged (the digest must be the one the copy produces). The tag is
/// written last, after every child, blob and referrer, so a failed copy never leaves a tag pointing at a partial
/// image.
///
/// Errors: `InvalidInput` for a malformed `tag` (before any request) or a digest-only `tag` that is not the copied
/// manifest's; the source's error (`NotFound`) when `reference` does not exist; `NotFound` naming the platforms the
/// index has when a requested platform is missing, or naming a platform asked of a single-platform image that is
/// of another; `Unsupported` for indexes nested deeper than 3 levels; `DigestMismatch` when the target stores a
/// manifest under another digest; any error of the clients' reads and pushes, with the manifest named.
///
/// ```no_run
/// use registry_client::{copy_image, Client, CopyOptions, Platform, RemoteClient};
/// # async fn demo() -> registry_client::Result<()> {
/// let source = RemoteClient::builder("registry.example.com/org/app").build()?;
/// let target = RemoteClient::builder("127.0.0.1:5000/mirror/app").insecure(true).build()?;
/// let all = copy_image(&source, "v1", &target, "v1", CopyOptions::default().referrers(true)).await?;
/// assert_eq!(all.source_digest, all.target_digest); // the whole index, byte for byte
/// let arm = CopyOptions::default().platforms([Platform::new("linux", "arm64")]);
/// let one = copy_image(&source, "v1", &target, "v1-arm64", arm).await?;
/// println!("{} bytes uploaded, {:?}", one.bytes_uploaded, one.digest_changed);
/// # Ok(()) }
/// ```
pub async fn copy_image(
    source: &dyn Client,
    reference: &str,
    target: &dyn Client,
    tag: &str,
    opts: CopyOptions,
) -> Result<CopyReport> {
    let target_digest_ref = match tag.strip_prefix('@') {
        Some(d) => Some(Digest::parse(d).map_err(|e| Error::invalid_input(format!("copy to @{d}: {e}")))?),
        None => {
            Reference::check_tag(tag)
                .map_err(|e| Error::invalid_input(format!("copy to {}:{tag}: {e}", target.get_registry())))?;
            None
        }
    };
    let name = format!("{}{}{reference}", source.get_registry(), if reference.starts_with('@') { "" } else { ":" });
    let top = source.get_manifest(reference).await?.into_manifest();
    let source_digest = top.digest().clone();
    let (root, digest_changed) = select_platforms(source, top, &opts.platforms, &name).await?;
    if let Some(want) = &target_digest_ref {
        if want != root.digest() {
            return Err(Error::invalid_input(format!(
                "copy of {name} to @{want}: the copy's digest is {}; a copy by digest must name it",
                root.digest()
            )));
        }
    }
    let mut copier = Copier::new(source, target)?;
    copier.copy_children(&root, 0).await?;
    let root_ref = format!("@{}", root.digest());
    if opts.referrers || target_digest_ref.is_some() {
        // The subject goes in by digest before its referrers point at it; the tag still comes last.
        copier.put(&root_ref, &root).await?;
    }
    if opts.referrers {
        copier.copy_referrers().await?;
    }
    if target_digest_ref.is_none() {
        copier.put(tag, &root).await?;
    }
    let mut report = copier.report;
    report.source_digest = source_digest;
    report.target_digest = root.digest().clone();
    report.digest_changed = digest_changed;
    Ok(report)
}

/// The manifest to copy once `platforms` are applied to `top`, and why its digest differs when it does.
async fn select_platforms(
    source: &dyn Client,
    top: Manifest,
    platforms: &[Platform],
    name: &str,
) -> Result<(Manifest, Option<String>)> {
    if platforms.is_empty() {
        return Ok((top, None));
    }
    let Some(index) = top.as_index() else {
        return check_single_platform(source, top, platforms, name).await;
    };
    let mut chosen: Vec<Descriptor> = Vec::new();
    for platform in platforms {
        let entry = platform.select(index).map_err(|e| e.context(name))?;
        if !chosen.iter().any(|c| c.digest() == entry.digest()) {
            chosen.push(entry.clone());
        }
    }
    let asked: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    if let [only] = chosen.as_slice() {
        let digest = descriptor_digest(only)?;
        let child = source
            .get_manifest(&format!("@{digest}"))
            .await
            .map_err(|e| e.context(format!("{name}: entry {digest}")))?
            .into_manifest();
        let why = format!("platform {}: its image manifest alone, not the index", asked.join(", "));
        return Ok((child, Some(why)));
    }
    if chosen.len() == index.manifests().len() && chosen.iter().zip(index.manifests()).all(|(a, b)| a == b) {
        return Ok((top, None));
    }
    let mut filtered = index.clone();
    filtered.set_manifests(chosen);
    let manifest = Manifest::from_index(&filtered, top.media_type())?;
    let why = format!("platforms {}: a new index holding only their entries", asked.join(", "));
    Ok((manifest, Some(why)))
}

/// A single-platform image passes a platform filter when its config's platform matches one asked (or it has none).
async fn check_single_platform(
    source: &dyn Client,
    top: Manifest,
    platforms: &[Platform],
    name: &str,
) -> Result<(Manifest, Option<String>)> {
    let reference = format!("@{}", top.digest());
    let mut last = None;
    for platform in platforms {
        let opts = crate::options::ImageOptions::default().platform(platform.clone());
        match source.get_image(&reference, opts).await {
            Ok(_) => return Ok((top, None)),
            Err(e) if e.kind() == ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(e.context(name)),
        }
    }
    Err(last.map_or_else(|| Error::not_found(format!("{name}: no platform matched")), |e| e.context(name)))
}

/// The state of one copy: the clients, what is done, the counts.
struct Copier<'a> {
    source: &'a dyn Client,
    target: &'a dyn Client,
    blobs: Arc<dyn BlobSource>,
    mount_from: Option<Repository>,
    /// Manifests put on the target by digest, in order (the subjects whose referrers are copied).
    copied: Vec<Digest>,
    seen: HashSet<Digest>,
    report: CopyReport,
}

impl<'a> Copier<'a> {
    fn new(source: &'a dyn Client, target: &'a dyn Client) -> Result<Copier<'a>> {
        let blobs = source.blobs()?;
        let mount_from = blobs.repository().cloned();
        let zero = Digest::sha256(b"");
        let report = CopyReport {
            source_digest: zero.clone(),
            target_digest: zero,
            digest_changed: None,
            manifests_copied: 0,
            blobs_uploaded: 0,
            blobs_skipped: 0,
            blobs_mounted: 0,
            bytes_uploaded: 0,
            referrers_copied: 0,
        };
        Ok(Copier { source, target, blobs, mount_from, copied: Vec::new(), seen: HashSet::new(), report })
    }

    /// Put `manifest` at `reference` on the target, checking the digest it is stored under.
    async fn put(&mut self, reference: &str, manifest: &Manifest) -> Result<()> {
        let stored = self
            .target
            .put_manifest(reference, manifest)
            .await
            .map_err(|e| e.context(format!("put {} as {reference}", manifest.digest())))?;
        if &stored != manifest.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{} stored {reference} as {stored}, expected {}",
                    self.target.get_registry(),
                    manifest.digest()
                ),
            ));
        }
        self.report.manifests_copied = self.report.manifests_copied.saturating_add(1);
        if reference.starts_with('@') || !self.copied.contains(manifest.digest()) {
            self.copied.push(manifest.digest().clone());
        }
        Ok(())
    }

    /// Everything `manifest` references, on the target: an image's blobs, an index's children (each put by
    /// digest). `manifest` itself is not put.
    fn copy_children<'s>(
        &'s mut self,
        manifest: &'s Manifest,
        depth: usize,
    ) -> futures::future::BoxFuture<'s, Result<()>> {
        Box::pin(async move {
            if let Some(image) = manifest.as_image() {
                let mut blobs = vec![image.config().clone()];
                blobs.extend(image.layers().iter().filter(|d| is_distributable(d)).cloned());
                return self.push_blobs(blobs).await.map_err(|e| e.context(format!("blobs of {}", manifest.digest())));
            }
            let Some(index) = manifest.as_index() else {
                return Err(Error::unsupported(format!("{}: neither an image nor an index", manifest.digest())));
            };
            if depth >= MAX_DEPTH {
                return Err(Error::unsupported(format!(
                    "index {} nested more than {MAX_DEPTH} levels deep",
                    manifest.digest()
                )));
            }
            for entry in index.manifests() {
                let digest = descriptor_digest(entry)?;
                let reference = format!("@{digest}");
                let child = self
                    .source
                    .get_manifest(&reference)
                    .await
                    .map_err(|e| e.context(format!("entry {digest} of index {}", manifest.digest())))?
                    .into_manifest();
                self.copy_children(&child, depth.saturating_add(1)).await?;
                self.put(&reference, &child).await?;
            }
            Ok(())
        })
    }

    /// Push `blobs` to the target through its own push path, counting what each push did.
    async fn push_blobs(&mut self, blobs: Vec<Descriptor>) -> Result<()> {
        let mut fresh = Vec::with_capacity(blobs.len());
        for d in blobs {
            if self.seen.insert(descriptor_digest(&d)?) {
                fresh.push(d);
            }
        }
        let target = self.target;
        let source = &*self.blobs;
        let mount_from = self.mount_from.as_ref();
        let results: Vec<(u64, BlobPushed)> = stream::iter(fresh)
            .map(|d| async move {
                let pushed = target.push_blob(&d, source, mount_from).await?;
                Ok::<_, Error>((d.size(), pushed))
            })
            .buffer_unordered(BLOB_CONCURRENCY)
            .try_collect()
            .await?;
        for (size, pushed) in results {
            let r = &mut self.report;
            match pushed {
                BlobPushed::Uploaded => {
                    r.blobs_uploaded = r.blobs_uploaded.saturating_add(1);
                    r.bytes_uploaded = r.bytes_uploaded.saturating_add(size);
                }
                BlobPushed::Mounted => r.blobs_mounted = r.blobs_mounted.saturating_add(1),
                // A kind added later counts as present: no bytes known to have moved.
                _ => r.blobs_skipped = r.blobs_skipped.saturating_add(1),
            }
        }
        Ok(())
    }

    /// The referrers of every manifest copied so far, and theirs, put by digest.
    async fn copy_referrers(&mut self) -> Result<()> {
        let mut next = 0;
        let mut done: HashSet<Digest> = HashSet::new();
        while let Some(subject) = self.copied.get(next).cloned() {
            next = next.saturating_add(1);
            if !done.insert(subject.clone()) {
                continue;
            }
            let referrers = self
                .source
                .list_referrers(subject.as_str(), None)
                .await
                .map_err(|e| e.context(format!("referrers of {subject}")))?;
            for referrer in referrers {
                let digest = descriptor_digest(&referrer)?;
                if done.contains(&digest) || self.copied.contains(&digest) {
                    continue;
                }
                if self.report.referrers_copied >= MAX_REFERRERS {
                    return Err(Error::unsupported(format!("more than {MAX_REFERRERS} referrers to copy")));
                }
                let reference = format!("@{digest}");
                let manifest = self
                    .source
                    .get_manifest(&reference)
                    .await
                    .map_err(|e| e.context(format!("referrer {digest} of {subject}")))?
                    .into_manifest();
                self.copy_children(&manifest, 0).await?;
                self.put(&reference, &manifest).await?;
                self.report.referrers_copied = self.report.referrers_copied.saturating_add(1);
            }
        }
        Ok(())
    }
}

/// Whether a layer may be pushed: foreign / non-distributable layers (Windows base layers) stay where their URLs
/// say.
fn is_distributable(d: &Descriptor) -> bool {
    let mt = d.media_type().to_string();
    !(mt.contains("foreign") || mt.contains("nondistributable"))
}
