//! Referrers of a [`LayoutClient`], through the referrers tag schema of the OCI distribution spec: the referrers
//! of a manifest are the entries of an index tagged `<alg>-<hex of the subject>` in the same layout, kept up to date
//! when a manifest with a `subject` is put or deleted, and listed from there (filtered by `artifactType`).

use bytes::Bytes;
use oci_spec::image::Descriptor;
use registry_core::api::{add_to_referrers_index, filter_artifact_type, referrers_tag, remove_from_referrers_index};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Result};

use super::blobs::{blob_path, has_blob, write_blob};
use super::client::LayoutClient;
use super::index::{Entry, LayoutIndex};
use super::store::Layout;
use crate::image::ref_names::parse_digest_arg;

/// The referrers index of `subject` in `index`, read from its blob; `None` when there is no referrers tag.
async fn referrers_index(layout: &Layout, index: &LayoutIndex, subject: &Digest) -> Result<Option<Manifest>> {
    let Some(entry) = index.find_tag(&referrers_tag(subject)) else { return Ok(None) };
    layout.read_manifest(entry.digest(), Some(entry.media_type()), Some(entry.size())).await.map(Some)
}

/// Store `updated`, the new referrers index of `subject`, and point its tag at it in `index`. Returns the digest
/// of the referrers index it replaced, if any: its blob is garbage once `index` is written (see
/// [`remove_stale`]).
async fn store_referrers_index(
    layout: &Layout,
    index: &mut LayoutIndex,
    subject: &Digest,
    current: Option<Manifest>,
    updated: Manifest,
) -> Result<Option<Digest>> {
    let (digest, size) = (updated.digest().clone(), updated.size());
    if !has_blob(layout.dir(), &digest, size).await {
        let bytes: Bytes = updated.bytes().clone();
        write_blob(layout.dir(), &digest, size, Box::pin(futures::stream::once(async move { Ok(bytes) }))).await?;
    }
    index.set_tag(&referrers_tag(subject), Entry::new(updated.media_type(), &digest, size, None));
    Ok(current.map(|m| m.digest().clone()).filter(|old| old != &digest))
}

/// Add `descriptor` (a referrer) to the referrers tag of `subject` in `index` (the caller holds the lock and
/// writes `index`). Returns whether `index` changed, and the referrers index it replaced (see [`remove_stale`]).
pub(super) async fn add_referrer(
    layout: &Layout,
    index: &mut LayoutIndex,
    subject: &Digest,
    descriptor: &Descriptor,
) -> Result<(bool, Option<Digest>)> {
    let current = referrers_index(layout, index, subject).await?;
    let Some(updated) = add_to_referrers_index(current.as_ref(), descriptor)? else { return Ok((false, None)) };
    Ok((true, store_referrers_index(layout, index, subject, current, updated).await?))
}

/// Remove the referrer `digest` from the referrers tag of `subject` in `index` (the caller holds the lock and
/// writes `index`). Returns the referrers index it replaced, if any (see [`remove_stale`]).
pub(super) async fn remove_referrer(
    layout: &Layout,
    index: &mut LayoutIndex,
    subject: &Digest,
    digest: &Digest,
) -> Result<Option<Digest>> {
    let current = referrers_index(layout, index, subject).await?;
    let Some(updated) = remove_from_referrers_index(current.as_ref(), digest)? else { return Ok(None) };
    store_referrers_index(layout, index, subject, current, updated).await
}

/// After `index` was written: remove the blob of `stale`, a referrers index just replaced, unless an entry of
/// `index` still names it. Best effort: a blob left behind is garbage, not damage.
pub(super) async fn remove_stale(layout: &Layout, index: &LayoutIndex, stale: Option<Digest>) {
    let Some(old) = stale.filter(|d| index.find_digest(d).is_none()) else { return };
    if let Err(e) = tokio::fs::remove_file(blob_path(layout.dir(), &old)).await {
        tracing::debug!(digest = %old, error = %e, "stale referrers index left behind");
    }
}

impl LayoutClient {
    /// See [`Client::list_referrers`](crate::Client::list_referrers): the entries of the referrers tag's index, of
    /// `artifact_type` when given; empty without a referrers tag or a layout.
    pub(super) async fn referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let subject = parse_digest_arg(digest)?;
        let (layout, index) = self.read_view().await?;
        let Some(index) = index else { return Ok(Vec::new()) };
        let Some(found) = referrers_index(&layout, &index, &subject).await? else { return Ok(Vec::new()) };
        let listed = found.as_index().map(|i| i.manifests().clone()).unwrap_or_default();
        Ok(filter_artifact_type(listed, artifact_type))
    }
}
