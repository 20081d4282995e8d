//! Manifests of a [`LayoutClient`]: read by tag (an `index.json` entry) or by digest (a blob, whether or not an
//! entry names it), put under a tag or by digest after checking that everything they reference is in the layout,
//! and deleted by tag or by digest; a manifest with a `subject` kept in its subject's referrers tag. A manifest put
//! by digest gets an untagged top-level entry only when no index of the layout lists it, and the untagged entries
//! of an index's children go when the index is put, so a layout holding one copied index has one top-level entry
//! (what `skopeo inspect oci:DIR` without a tag needs).

use bytes::Bytes;
use registry_core::manifest::{descriptor_digest, Manifest, ManifestBody};
use registry_core::{Digest, Result};

use super::blobs::{blob_exists, blob_path, has_blob, write_blob};
use super::client::LayoutClient;
use super::errors::{io_at, manifest_blob_unknown, manifest_unknown};
use super::index::Entry;
use super::reach::{children, referenced};
use super::referrers::{add_referrer, remove_referrer, remove_stale};
use super::refs::{push_target, Target};
use super::store::Layout;
use crate::image::artifact::as_referrer;
use crate::image::ref_names::{parse_digest_arg, parse_reference};

impl LayoutClient {
    /// See [`Client::get_manifest`](crate::Client::get_manifest): by the digest when `reference` has one, else by
    /// the entry tagged so.
    pub(super) async fn manifest_at(&self, reference: &str) -> Result<Manifest> {
        let parsed = parse_reference(reference)?;
        let (layout, index) = self.read_view().await?;
        let shown = layout.shown(reference);
        let Some(index) = index else { return Err(manifest_unknown(&shown)) };
        match (&parsed.digest, &parsed.tag) {
            (Some(digest), _) => {
                let entry = index.find_digest(digest);
                layout.read_manifest(digest, entry.map(Entry::media_type), entry.map(Entry::size)).await
            }
            (None, Some(tag)) => {
                let entry = index.find_tag(tag).ok_or_else(|| manifest_unknown(&shown))?;
                let m = layout.read_manifest(entry.digest(), Some(entry.media_type()), Some(entry.size())).await;
                m.map_err(|e| e.context(format!("{shown} (index.json entry)")))
            }
            (None, None) => Err(manifest_unknown(&shown)),
        }
    }

    /// See [`Client::put_manifest`](crate::Client::put_manifest).
    pub(super) async fn put_manifest_at(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        let layout = self.layout()?;
        let target = push_target(layout.name(), reference, manifest.digest())?;
        self.put_manifest_to(&layout, &target, manifest).await?;
        Ok(manifest.digest().clone())
    }

    /// Store `manifest` at `target` of `layout`: check what it references is there, write its bytes as a blob,
    /// then record it in `index.json` (and, for a referrer, in its subject's referrers tag) under the lock.
    pub(super) async fn put_manifest_to(&self, layout: &Layout, target: &Target, manifest: &Manifest) -> Result<()> {
        let shown = match target {
            Target::Tag(t) => layout.shown(t),
            Target::Digest => layout.shown(&format!("@{}", manifest.digest())),
        };
        check_references(layout, manifest, &shown).await?;
        let digest = manifest.digest();
        let size = manifest.size();
        // Creates the layout when it is not there.
        let _guard = layout.lock(true).await?;
        // Under the lock, so a concurrent delete of the same manifest cannot remove the blob in between.
        if !has_blob(layout.dir(), digest, size).await {
            let bytes: Bytes = manifest.bytes().clone();
            write_blob(layout.dir(), digest, size, Box::pin(futures::stream::once(async move { Ok(bytes) }))).await?;
        }
        let mut index = layout.index().await?.unwrap_or_default();
        let entry = Entry::new(manifest.media_type(), digest, size, None);
        let mut changed = match target {
            Target::Tag(tag) => {
                let same = index.find_tag(tag).is_some_and(|e| e.digest() == digest);
                if !same {
                    index.set_tag(tag, entry.clone());
                }
                !same
            }
            Target::Digest => false,
        };
        let mut stale = None;
        if let Some((subject, descriptor)) = as_referrer(manifest)? {
            let (added, replaced) = add_referrer(layout, &mut index, &subject, &descriptor)
                .await
                .map_err(|e| e.context(format!("put {shown}, but updating the referrers tag failed")))?;
            changed |= added;
            stale = replaced;
        }
        // An index's children leave the top level: skopeo reads a layout without a tag only when it has one entry.
        changed |= index.remove_untagged(&children(manifest));
        // By digest: a top-level entry only when no index of the layout holds it already (a referrer is held by
        // its subject's referrers tag); else the blob alone keeps it readable by digest.
        if *target == Target::Digest && index.find_digest(digest).is_none() && !referenced(layout, &index, digest).await
        {
            changed |= index.add_untagged(entry);
        }
        if changed {
            layout.write_index(&index).await?;
            remove_stale(layout, &index, stale).await;
        }
        Ok(())
    }

    /// See [`Client::delete_tag`](crate::Client::delete_tag): the entry goes; the manifest stays, untagged when
    /// no other tag names it.
    pub(super) async fn remove_tag(&self, tag: &str) -> Result<()> {
        registry_core::Reference::check_tag(tag).map_err(registry_core::Error::from)?;
        let layout = self.layout()?;
        let shown = layout.shown(tag);
        let _guard = layout.lock(false).await?;
        let mut index = layout.index().await?.ok_or_else(|| manifest_unknown(&shown).context("delete"))?;
        index.remove_tag(tag).ok_or_else(|| manifest_unknown(&shown).context("delete"))?;
        layout.write_index(&index).await
    }

    /// See [`Client::delete_by_digest`](crate::Client::delete_by_digest): every entry of the manifest goes, then
    /// its blob (its layers and config stay); a referrer also leaves its subject's referrers tag.
    pub(super) async fn remove_manifest(&self, digest: &str) -> Result<()> {
        let layout = self.layout()?;
        let digest = parse_digest_arg(digest)?;
        let shown = layout.shown(&format!("@{digest}"));
        let _guard = layout.lock(false).await?;
        let mut index = layout.index().await?.ok_or_else(|| manifest_unknown(&shown).context("delete"))?;
        let entry = index.find_digest(&digest).cloned();
        let read = layout.read_manifest(&digest, entry.as_ref().map(Entry::media_type), None).await;
        let subject = match (read, &entry) {
            (Ok(m), _) => m.as_image().and_then(|i| i.subject().as_ref()).map(descriptor_digest).transpose()?,
            // An entry whose blob is missing or unreadable is deleted all the same.
            (Err(_), Some(_)) => None,
            (Err(e), None) => return Err(e.context("delete")),
        };
        index.remove_digest(&digest);
        let mut stale = None;
        if let Some(subject) = subject {
            stale = remove_referrer(&layout, &mut index, &subject, &digest)
                .await
                .map_err(|e| e.context(format!("delete {shown}: updating the referrers tag failed")))?;
        }
        layout.write_index(&index).await?;
        remove_stale(&layout, &index, stale).await;
        let path = blob_path(layout.dir(), &digest);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_at("remove", &path, e).context(format!("deleted {shown} from index.json"))),
        }
    }
}

/// `InvalidInput` (`MANIFEST_BLOB_UNKNOWN`) naming the first thing `manifest` references that `layout` lacks: the
/// config or a layer of an image (layers with URLs excepted, as registries do), a child of an index.
async fn check_references(layout: &Layout, manifest: &Manifest, shown: &str) -> Result<()> {
    match manifest.body() {
        ManifestBody::Image(image) => {
            let wanted = std::iter::once(image.config())
                .chain(image.layers().iter().filter(|l| l.urls().as_ref().is_none_or(|u| u.is_empty())));
            for d in wanted {
                let digest = descriptor_digest(d)?;
                if !has_blob(layout.dir(), &digest, d.size()).await {
                    return Err(manifest_blob_unknown(shown, &digest));
                }
            }
        }
        ManifestBody::Index(index) => {
            for d in index.manifests() {
                let digest = descriptor_digest(d)?;
                if !blob_exists(layout.dir(), &digest).await {
                    return Err(manifest_blob_unknown(shown, &digest));
                }
            }
        }
        _ => {
            return Err(registry_core::Error::unsupported(format!(
                "manifest of type {} not supported",
                manifest.media_type()
            )))
        }
    }
    Ok(())
}
