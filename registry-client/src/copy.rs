//! `copy_image`: an image or a whole index, with its blobs and optionally its referrers, from one [`Client`] to
//! another (crane `cp`, skopeo `copy --all`), manifests copied with their exact bytes so digests stay unchanged.

mod copier;
mod digest_tags;
pub(crate) mod hooks;
mod options;
pub(crate) mod platforms;
mod report;

use std::sync::Arc;

use registry_core::{Digest, Error, Reference, Result};

use crate::client::Client;
use copier::Copier;
use digest_tags::copy_digest_tags;
use hooks::CopyHooks;
pub use options::CopyOptions;
use platforms::{scoped, select_platforms, Selection};
pub use report::CopyReport;

/// Copy the manifest `reference` (a tag or `"@sha256:<hex>"` in `source`'s scope) to `target` under `tag`, with
/// everything it references, and return what was done.
///
/// An index is copied whole by default: each child (its blobs through [`Client::push_blob`] on the target, so
/// present blobs are skipped and, when both clients are in the same registry, blobs are mounted from the source's
/// repository; then its manifest by digest with [`Client::put_manifest`], exact bytes), then the index itself with
/// its exact bytes: its digest is unchanged. Nested indexes are copied the same way up to 3 levels. An image
/// manifest is copied with its exact bytes too; its non-distributable (foreign) layers are not pushed, as registries
/// fetch them from their URLs. [`CopyOptions::platforms`] narrows an index, and
/// [`CopyOptions::referrers`] adds referrers (put by digest, so the target lists them by their subject) and the
/// cosign-style digest tags (`sha256-<hex>.sig`, `.att`, `.sbom`) of every copied manifest and of the source's
/// own digest, found with one `list_tags` of the source repository (a source that cannot list tags: none).
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
    copy_image_with(source, reference, target, tag, &opts, None).await
}

/// [`copy_image`] with `hooks` (the sync engine's): they decide where each blob comes from, count the bytes read
/// for uploads, and check the target tag just before it is written.
pub(crate) async fn copy_image_with(
    source: &dyn Client,
    reference: &str,
    target: &dyn Client,
    tag: &str,
    opts: &CopyOptions,
    hooks: Option<Arc<dyn CopyHooks>>,
) -> Result<CopyReport> {
    let target_digest_ref = match tag.strip_prefix('@') {
        Some(d) => Some(Digest::parse(d).map_err(|e| Error::invalid_input(format!("copy to @{d}: {e}")))?),
        None => {
            Reference::check_tag(tag)
                .map_err(|e| Error::invalid_input(format!("copy to {}:{tag}: {e}", target.get_registry())))?;
            None
        }
    };
    let name = scoped(&source.get_registry(), reference);
    let top = source.get_manifest(reference).await?.into_manifest();
    let source_digest = top.digest().clone();
    let (root, digest_changed) =
        match select_platforms(source, top, opts.get_platforms(), &name, opts.get_platform_mode()).await? {
            Selection::Chosen(root, why) => (root, why),
            Selection::LeftOut(why) => return Err(Error::not_found(format!("{name}: {why}"))),
        };
    if let Some(want) = &target_digest_ref {
        if want != root.digest() {
            return Err(Error::invalid_input(format!(
                "copy of {name} to @{want}: the copy's digest is {}; a copy by digest must name it",
                root.digest()
            )));
        }
    }
    tracing::info!("copy {name} ({}) -> {}:{tag}", root.digest(), target.get_registry());
    let copier = Copier::new(source, target, hooks)?;
    copier.copy_children(&root, 0).await?;
    let root_ref = format!("@{}", root.digest());
    if opts.get_referrers() || target_digest_ref.is_some() {
        // The subject goes in by digest before its referrers point at it; the tag still comes last.
        copier.put(&root_ref, &root).await?;
    }
    let mut digest_tags = 0;
    if opts.get_referrers() {
        copier.copy_referrers().await?;
    }
    if opts.get_digest_tags() {
        let mut subjects = copier.copied();
        if !subjects.contains(&source_digest) {
            subjects.push(source_digest.clone());
        }
        digest_tags = copy_digest_tags(&copier, source, &subjects).await?;
    }
    if target_digest_ref.is_none() {
        copier.before_tag(tag, root.digest()).await?;
        copier.put(tag, &root).await?;
    }
    let mut report = copier.into_report();
    tracing::info!(
        "copied {name} -> {}:{tag}: {} manifests, blobs {} uploaded, {} mounted, {} present, {} bytes sent",
        target.get_registry(),
        report.manifests_copied,
        report.blobs_uploaded,
        report.blobs_mounted,
        report.blobs_skipped,
        report.bytes_uploaded
    );
    report.source_digest = source_digest;
    report.target_digest = root.digest().clone();
    report.digest_changed = digest_changed;
    report.digest_tags_copied = digest_tags;
    Ok(report)
}
