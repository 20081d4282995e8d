//! Pushes of a [`RemoteClient`]: blobs within the client's transfer limits and with progress events, then images
//! and artifacts (their blobs concurrently, then their manifest).

use futures::stream::FuturesUnordered;
use futures::TryStreamExt;
use oci_spec::image::Descriptor;
use registry_core::api::BlobPushed;
use registry_core::manifest::descriptor_digest;
use registry_core::{Digest, Error, ErrorKind, Reference, Repository, Result};

use super::RemoteClient;
use crate::client::push_reference;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image};
use crate::progress::ProgressEvent;

impl RemoteClient {
    /// Get the blob `desc` of `source` into `repo` unless it is there, within the client's transfer limits (a job
    /// slot for the check and the transfer, `min(size, budget)` bytes of the budget for the transfer): mounted
    /// when `mount_from` is another repository of the same registry, else uploaded, read again from the source
    /// when the upload must go back. Reports the blob's progress events.
    pub(super) async fn push_one_blob(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        let digest = descriptor_digest(desc)?;
        let size = desc.size();
        let t = &self.transfers;
        let mut slot = t.job().await?;
        let progress = t.blob(&digest, size);
        if self.api.blob_exists(repo, &digest).await?.is_some() {
            tracing::debug!(%digest, "blob already present, skipped");
            progress.emit(|digest, size| ProgressEvent::BlobSkipped { digest, size });
            return Ok(BlobPushed::AlreadyPresent);
        }
        t.reserve(&mut slot, size).await?;
        let (progress_ref, digest_ref) = (&progress, &digest);
        // The upload hashes what it sends and checks it before committing: the source need not hash it too.
        let open = move |offset| async move {
            Ok(progress_ref.track(source.open_unverified(digest_ref, size, offset).await?, offset))
        };
        let mount_from = mount_from.filter(|r| r.registry() == repo.registry() && *r != repo);
        let outcome = match mount_from {
            Some(source_repo) => self.api.mount_or_upload(repo, &digest, size, source_repo, open).await?,
            _ => self.api.upload_blob_from(repo, &digest, size, open).await?,
        };
        match (outcome, mount_from) {
            (BlobPushed::Mounted, Some(source_repo)) => {
                progress.emit(|digest, size| ProgressEvent::BlobMounted { digest, size, from: source_repo.to_string() })
            }
            _ => progress.emit(|digest, size| ProgressEvent::BlobDone { digest, size }),
        }
        Ok(outcome)
    }

    /// Push the `blobs` of `source` the registry lacks for `target`, several at once within the client's
    /// transfer options, reporting [`ProgressEvent::PushStarted`] first. The first failure cancels the uploads
    /// still running.
    async fn push_blobs(&self, target: &Reference, source: &dyn BlobSource, blobs: Vec<&Descriptor>) -> Result<()> {
        let repo = target.repository().clone();
        let mount_from = source.repository();
        self.transfers.emit(|| ProgressEvent::PushStarted {
            reference: target.to_string(),
            blobs: blobs.len(),
            // Sizes come from the manifest (possibly a registry's): their total saturates instead of overflowing.
            bytes: blobs.iter().fold(0u64, |total, d| total.saturating_add(d.size())),
        });
        // Every blob is started at once: the job and byte semaphores admit them in order.
        let uploads: FuturesUnordered<_> =
            blobs.into_iter().map(|d| self.push_one_blob(&repo, d, source, mount_from)).collect();
        uploads.try_collect::<Vec<BlobPushed>>().await.map_err(|e| e.context(format!("push {target}")))?;
        Ok(())
    }

    /// Report [`ProgressEvent::ManifestPushed`].
    fn manifest_pushed(&self, target: &Reference, digest: &Digest) {
        self.transfers.emit(|| ProgressEvent::ManifestPushed { reference: target.to_string(), digest: digest.clone() });
    }

    /// See [`Client::push_image`](crate::Client::push_image): `tag` is a tag or `@<the image's digest>`.
    pub(super) async fn push_image_at(&self, tag: &str, image: &Image) -> Result<()> {
        let target = push_reference(&self.repository()?, tag, image.digest())?;
        let blobs: Vec<&Descriptor> = image.layers().iter().chain(std::iter::once(image.config_descriptor())).collect();
        self.push_blobs(&target, image, blobs).await?;
        let pushed = self.put_manifest_to(&target, image.raw_manifest()).await?;
        if &pushed != image.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("pushed {target} as {pushed}, but the image's digest is {}", image.digest()),
            ));
        }
        self.manifest_pushed(&target, &pushed);
        Ok(())
    }

    /// See [`Client::push_artifact`](crate::Client::push_artifact).
    pub(super) async fn push_artifact_at(&self, artifact: &Artifact) -> Result<Digest> {
        let target = Reference::with_digest(self.repository()?, artifact.digest().clone());
        self.push_blobs(&target, artifact.source().as_ref(), artifact.blobs()).await?;
        let pushed = self.put_manifest_to(&target, artifact.raw_manifest()).await?;
        if &pushed != artifact.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("pushed {target} as {pushed}, but the artifact's digest is {}", artifact.digest()),
            ));
        }
        self.manifest_pushed(&target, &pushed);
        Ok(pushed)
    }
}
