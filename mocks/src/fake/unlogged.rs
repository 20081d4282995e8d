//! [`Unlogged`]: the fake's [`Client`] implementation proper, answering from memory the way `RemoteClient`
//! answers from docker-registry (same kinds, similar messages), without the call log, scripted failures or latency.
//!
//! It implements only the trait's required core; the provided methods (`get_image`, `push_index`, `tag_image`,
//! the stream listings, ...) run the trait's own code on it. [`FakeClient`]'s `impl Client` logs each call as the
//! method called, then hands it to an `Unlogged` view, so a provided method is logged once, as itself.

use std::sync::Arc;

use registry_client::{
    digest_reference, push_reference, Artifact, BlobPushed, BlobSource, Client, Descriptor, Image, ListOptions,
    ManifestResult,
};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Error, Reference, Repository, Result};

use super::blobs::{store_blob, FakeBlobs};
use super::client::FakeClient;

/// A [`FakeClient`] seen without its log, script and latency.
#[derive(Debug, Clone)]
pub(super) struct Unlogged(FakeClient);

impl FakeClient {
    /// This client without its log, script and latency.
    pub(super) fn unlogged(&self) -> Unlogged {
        Unlogged(self.clone())
    }

    /// Store `image` at `target` (a tag, or its digest): layers and config the repository lacks (streamed from the
    /// image's source and verified, or linked from its repository on this host), then the manifest.
    pub(super) async fn store_image(&self, target: &Reference, image: &Image) -> Result<()> {
        let repo = target.repository();
        let mount_from = image.source().repository();
        for layer in image.layers() {
            store_blob(&self.host, repo, layer, image, mount_from)
                .await
                .map_err(|e| e.context(format!("push {target}")))?;
        }
        store_blob(&self.host, repo, image.config_descriptor(), image, mount_from)
            .await
            .map_err(|e| e.context(format!("push {target} config")))?;
        // The image's digest is the sha256 of these exact bytes, as the registry computes it.
        self.host.write().put_manifest(target, image.raw_manifest().clone())?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Client for Unlogged {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(Unlogged(self.0.scoped(segment)))
    }

    fn get_registry(&self) -> String {
        self.0.scope().name()
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        let r = self.0.scope().reference(reference)?;
        let manifest = self.0.host.read().manifest(&r)?;
        Ok(ManifestResult::new(manifest))
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        let target = push_reference(&self.0.scope().repository()?, reference, manifest.digest())?;
        self.0.host.write().put_manifest(&target, manifest.clone())?;
        Ok(manifest.digest().clone())
    }

    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        let repo = self.0.scope().repository()?;
        Ok(Arc::new(FakeBlobs::new(Arc::clone(&self.0.host), repo)))
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        let repo = self.0.scope().repository()?;
        store_blob(&self.0.host, &repo, descriptor, source, mount_from).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        let target = push_reference(&self.0.scope().repository()?, tag, image.digest())?;
        self.0.store_image(&target, image).await
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        let repo = self.0.scope().repository()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let tags = self.0.host.read().tags(&repo)?;
        Ok(opts.apply(tags))
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.0.scope().check()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let scope = self.0.scope().path();
        let prefix = if scope.is_empty() { String::new() } else { format!("{scope}/") };
        let catalog = self.0.host.read().catalog();
        let under: Vec<String> =
            catalog.iter().filter_map(|path| path.strip_prefix(&prefix)).map(str::to_string).collect();
        Ok(opts.apply(under))
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        let target = Reference::with_tag(self.0.scope().repository()?, tag).map_err(Error::from)?;
        self.0.host.write().delete_tag(&target).map_err(|e| Error::from(e).context("delete"))
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        let repo = self.0.scope().repository()?;
        let target = digest_reference(&repo, digest)?;
        let d = target.digest().ok_or_else(|| Error::invalid_input(format!("{digest:?} is not a digest")))?;
        self.0.host.write().delete_manifest(&repo, d).map_err(|e| Error::from(e).context("delete"))
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let repo = self.0.scope().repository()?;
        let target = digest_reference(&repo, digest)?;
        let d = target.digest().ok_or_else(|| Error::invalid_input(format!("{digest:?} is not a digest")))?;
        self.0.host.read().referrers(&repo, d, artifact_type)
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        let repo = self.0.scope().repository()?;
        let target = Reference::with_digest(repo.clone(), artifact.digest().clone());
        let source = artifact.source().as_ref();
        for blob in artifact.blobs() {
            store_blob(&self.0.host, &repo, blob, source, source.repository())
                .await
                .map_err(|e| e.context(format!("push {target}")))?;
        }
        self.0.host.write().put_manifest(&target, artifact.raw_manifest().clone())?;
        Ok(artifact.digest().clone())
    }
}
