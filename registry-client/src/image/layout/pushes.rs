//! Pushes into a [`LayoutClient`]: blobs (skipped when present, linked from another layout of the same root, else
//! streamed from their source into a verified temp file), several at once within the client's transfer limits and
//! with the same progress events as a registry push; then images and artifacts (their blobs, then their manifest).

use std::path::Path;

use futures::stream::FuturesUnordered;
use futures::TryStreamExt;
use oci_spec::image::Descriptor;
use registry_core::api::BlobPushed;
use registry_core::manifest::descriptor_digest;
use registry_core::{Digest, Repository, Result};

use super::blobs::{blob_path, has_blob, write_blob, LayoutBlobs};
use super::client::LayoutClient;
use super::refs::{push_target, Target};
use super::store::Layout;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image};
use crate::progress::ProgressEvent;

impl LayoutClient {
    /// Get the blob `desc` into `layout` unless it is there: linked (a hard link, else a verified copy) from the
    /// layout `mount_from` names when that is another layout of this root holding it, else streamed from `source`
    /// and verified. Within the client's job limit; reports the blob's progress events.
    pub(super) async fn push_one_blob(
        &self,
        layout: &Layout,
        desc: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        let digest = descriptor_digest(desc)?;
        let size = desc.size();
        let t = self.transfers();
        let _slot = t.job().await?;
        let progress = t.blob(&digest, size);
        if has_blob(layout.dir(), &digest, size).await {
            progress.emit(|digest, size| ProgressEvent::BlobSkipped { digest, size });
            return Ok(BlobPushed::AlreadyPresent);
        }
        layout.create().await?;
        let from = mount_from.and_then(|r| Some((r, self.sibling(r)?))).filter(|(_, dir)| dir != layout.dir());
        if let Some((repo, dir)) = from {
            if has_blob(&dir, &digest, size).await {
                link_or_copy(&dir, layout.dir(), &digest, size, repo).await?;
                let from = format!("oci:{}", dir.display());
                progress.emit(|digest, size| ProgressEvent::BlobMounted { digest, size, from });
                return Ok(BlobPushed::Mounted);
            }
        }
        // The write hashes what it receives and checks it before the rename: the source need not hash it too.
        let stream = progress.track(source.open_unverified(&digest, size, 0).await?, 0);
        write_blob(layout.dir(), &digest, size, stream).await.map_err(|e| e.context(layout.name()))?;
        progress.emit(|digest, size| ProgressEvent::BlobDone { digest, size });
        Ok(BlobPushed::Uploaded)
    }

    /// Push the `blobs` of `source` that `layout` lacks, several at once, reporting `PushStarted` first for
    /// `shown`. The first failure cancels the writes still running (their temp files are removed).
    async fn push_blobs(
        &self,
        layout: &Layout,
        shown: &str,
        source: &dyn BlobSource,
        blobs: Vec<&Descriptor>,
    ) -> Result<()> {
        let mount_from = source.repository();
        self.transfers().emit(|| ProgressEvent::PushStarted {
            reference: shown.to_string(),
            blobs: blobs.len(),
            bytes: blobs.iter().fold(0u64, |total, d| total.saturating_add(d.size())),
        });
        let writes: FuturesUnordered<_> =
            blobs.into_iter().map(|d| self.push_one_blob(layout, d, source, mount_from)).collect();
        writes.try_collect::<Vec<BlobPushed>>().await.map_err(|e| e.context(format!("push {shown}")))?;
        Ok(())
    }

    /// See [`Client::push_image`](crate::Client::push_image): `tag` is a tag or `@<the image's digest>`.
    pub(super) async fn push_image_at(&self, tag: &str, image: &Image) -> Result<()> {
        let layout = self.layout()?;
        let target = push_target(layout.name(), tag, image.digest())?;
        let shown = layout.shown(tag);
        let blobs: Vec<&Descriptor> = image.layers().iter().chain(std::iter::once(image.config_descriptor())).collect();
        self.push_blobs(&layout, &shown, image, blobs).await?;
        self.put_manifest_to(&layout, &target, image.raw_manifest()).await?;
        self.manifest_pushed(&shown, image.digest());
        Ok(())
    }

    /// See [`Client::push_artifact`](crate::Client::push_artifact): its blobs, then its manifest by digest.
    pub(super) async fn push_artifact_at(&self, artifact: &Artifact) -> Result<Digest> {
        let layout = self.layout()?;
        let shown = layout.shown(&format!("@{}", artifact.digest()));
        self.push_blobs(&layout, &shown, artifact.source().as_ref(), artifact.blobs()).await?;
        self.put_manifest_to(&layout, &Target::Digest, artifact.raw_manifest()).await?;
        self.manifest_pushed(&shown, artifact.digest());
        Ok(artifact.digest().clone())
    }

    /// Report [`ProgressEvent::ManifestPushed`].
    fn manifest_pushed(&self, shown: &str, digest: &Digest) {
        self.transfers()
            .emit(|| ProgressEvent::ManifestPushed { reference: shown.to_string(), digest: digest.clone() });
    }
}

/// Put blob `digest` of the layout at `from` into the layout at `to`: a hard link when the file system allows it
/// (blob files are never changed in place, only replaced by a rename), else a copy through the verified write.
async fn link_or_copy(from: &Path, to: &Path, digest: &Digest, size: u64, repo: &Repository) -> Result<()> {
    let (src, dst) = (blob_path(from, digest), blob_path(to, digest));
    if let Some(parent) = dst.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| super::errors::io_at("create", parent, e))?;
    }
    match tokio::fs::hard_link(&src, &dst).await {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => tracing::debug!(%digest, error = %e, "hard link refused: copying the blob"),
    }
    let source = LayoutBlobs::new(from.to_path_buf(), repo.clone(), None);
    write_blob(to, digest, size, source.open_unverified(digest, size, 0).await?).await
}
