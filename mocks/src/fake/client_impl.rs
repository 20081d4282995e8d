//! `impl Client for FakeClient`: every call is logged, delayed and possibly failed as scripted, then answered from
//! memory the way `RemoteClient` answers from docker-registry: same kinds, similar messages.

use std::sync::Arc;

use registry_client::{
    digest_reference, resolve_image_manifest, Artifact, Client, Descriptor, Image, ImageConfiguration, ImageOptions,
    ListOptions, ManifestResult, Platform, MAX_CONFIG_SIZE,
};
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, Reference, Repository, Result};

use super::blobs::{read_verified, FakeBlobs};
use super::client::FakeClient;
use super::script::Method;

impl FakeClient {
    /// Resolve `reference` to an image, picking `platform` (or the host's) from an index.
    async fn image(&self, reference: &Reference, platform: Option<&Platform>) -> Result<Image> {
        let manifest =
            resolve_image_manifest(reference, platform, |r| async move { Ok(self.host.read().manifest(&r)?) }).await?;
        let repo = reference.repository().clone();
        let image = manifest.as_image().ok_or_else(|| Error::protocol("expected an image manifest"))?;
        let cfg = image.config();
        let cfg_digest = descriptor_digest(cfg)?;
        if cfg.size() > MAX_CONFIG_SIZE as u64 {
            return Err(Error::unsupported(format!(
                "config of {reference}: blob {cfg_digest} is {} bytes, over the {MAX_CONFIG_SIZE} byte limit",
                cfg.size()
            )));
        }
        let config = self
            .host
            .read()
            .blob(&repo, &cfg_digest)
            .map_err(|e| Error::from(e).context(format!("config of {reference}")))?;
        Image::from_parts(manifest, config, Arc::new(FakeBlobs::new(Arc::clone(&self.host), repo)))
    }

    /// Store one blob of `image` in `repo` unless it has it, streamed from the image's source and verified.
    async fn push_blob(&self, repo: &Repository, image: &Image, desc: &Descriptor) -> Result<()> {
        let digest = descriptor_digest(desc)?;
        if self.host.read().has_blob(repo, &digest) {
            return Ok(());
        }
        let stream = image.open_blob(desc).await?;
        let data = read_verified(stream, &digest, desc.size()).await?;
        self.host.write().put_blob(repo, digest, data);
        Ok(())
    }

    /// Store a blob of `artifact` in `repo` unless it has it, streamed from the artifact's source and verified.
    async fn push_artifact_blob(&self, repo: &Repository, artifact: &Artifact, desc: &Descriptor) -> Result<()> {
        let digest = descriptor_digest(desc)?;
        if self.host.read().has_blob(repo, &digest) {
            return Ok(());
        }
        let stream = artifact.open_blob(desc).await?;
        let data = read_verified(stream, &digest, desc.size()).await?;
        self.host.write().put_blob(repo, digest, data);
        Ok(())
    }

    /// Store `image` in `repo`: layers, config, then the manifest, tagged `tag` if given.
    pub(super) async fn store_image(&self, repo: &Repository, image: &Image, tag: Option<&str>) -> Result<()> {
        let target = match tag {
            Some(t) => Reference::with_tag(repo.clone(), t).map_err(Error::from)?,
            None => Reference::with_digest(repo.clone(), image.digest().clone()),
        };
        for layer in image.layers() {
            self.push_blob(repo, image, layer).await.map_err(|e| e.context(format!("push {target}")))?;
        }
        self.push_blob(repo, image, image.config_descriptor())
            .await
            .map_err(|e| e.context(format!("push {target} config")))?;
        // The image's digest is the sha256 of these exact bytes, as the registry computes it.
        self.host.write().put_manifest(&target, image.raw_manifest().clone())?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Client for FakeClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(self.scoped(segment))
    }

    fn get_registry(&self) -> String {
        self.scope().name()
    }

    async fn get_digest(&self, reference: &str) -> Result<Digest> {
        self.enter(Method::GetDigest, Some(reference)).await?;
        let r = self.scope().reference(reference)?;
        let manifest = self.host.read().manifest(&r)?;
        Ok(manifest.digest().clone())
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        self.enter(Method::GetManifest, Some(reference)).await?;
        let r = self.scope().reference(reference)?;
        let manifest = self.host.read().manifest(&r)?;
        Ok(ManifestResult::new(manifest))
    }

    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration> {
        self.enter(Method::GetImageConfig, Some(reference)).await?;
        let r = self.scope().reference(reference)?;
        Ok(self.image(&r, None).await?.config().clone())
    }

    async fn check_image_exists(&self, reference: &str) -> Result<()> {
        self.enter(Method::CheckImageExists, Some(reference)).await?;
        let r = self.scope().reference(reference)?;
        self.host.read().manifest(&r)?;
        Ok(())
    }

    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image> {
        self.enter(Method::GetImage, Some(reference)).await?;
        let r = self.scope().reference(reference)?;
        self.image(&r, opts.get_platform()).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        self.enter(Method::PushImage, Some(tag)).await?;
        let repo = self.scope().repository()?;
        self.store_image(&repo, image, Some(tag)).await
    }

    async fn push_index(&self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()> {
        self.enter(Method::PushIndex, Some(tag)).await?;
        let repo = self.scope().repository()?;
        let target = Reference::with_tag(repo.clone(), tag).map_err(Error::from)?;
        let entries = index
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{} is not an index", index.digest())))?
            .manifests();
        // Check every entry before storing anything, as RemoteClient fails before pushing a child it lacks.
        let mut ordered = Vec::with_capacity(entries.len());
        for entry in entries {
            let digest = descriptor_digest(entry)?;
            let child = children.iter().find(|c| c.digest() == &digest).ok_or_else(|| {
                Error::invalid_input(format!("index entry {digest} is not among the images given to push_index"))
            })?;
            ordered.push(child);
        }
        for child in ordered {
            self.store_image(&repo, child, None).await?;
        }
        self.host.write().put_manifest(&target, index.clone())?;
        Ok(())
    }

    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()> {
        self.enter(Method::TagImage, Some(reference)).await?;
        let source = self.scope().reference(reference)?;
        let target = Reference::with_tag(source.repository().clone(), new_tag).map_err(Error::from)?;
        let manifest = self.host.read().manifest(&source)?;
        self.host.write().put_manifest(&target, manifest)?;
        Ok(())
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        self.enter(Method::DeleteTag, Some(tag)).await?;
        let target = Reference::with_tag(self.scope().repository()?, tag).map_err(Error::from)?;
        self.host.write().delete_tag(&target).map_err(|e| Error::from(e).context("delete"))
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        self.enter(Method::DeleteByDigest, Some(digest)).await?;
        let repo = self.scope().repository()?;
        let target = digest_reference(&repo, digest)?;
        let d = target.digest().ok_or_else(|| Error::invalid_input(format!("{digest:?} is not a digest")))?;
        self.host.write().delete_manifest(&repo, d).map_err(|e| Error::from(e).context("delete"))
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.enter(Method::ListReferrers, Some(digest)).await?;
        let repo = self.scope().repository()?;
        let target = digest_reference(&repo, digest)?;
        let d = target.digest().ok_or_else(|| Error::invalid_input(format!("{digest:?} is not a digest")))?;
        self.host.read().referrers(&repo, d, artifact_type)
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        self.enter(Method::PushArtifact, Some(artifact.digest().as_str())).await?;
        let repo = self.scope().repository()?;
        let target = Reference::with_digest(repo.clone(), artifact.digest().clone());
        for blob in artifact.blobs() {
            self.push_artifact_blob(&repo, artifact, blob).await.map_err(|e| e.context(format!("push {target}")))?;
        }
        self.host.write().put_manifest(&target, artifact.raw_manifest().clone())?;
        Ok(artifact.digest().clone())
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.enter(Method::ListTags, None).await?;
        let repo = self.scope().repository()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let tags = self.host.read().tags(&repo)?;
        Ok(opts.apply(tags))
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.enter(Method::ListRepositories, None).await?;
        self.scope().check()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let scope = self.scope().path();
        let prefix = if scope.is_empty() { String::new() } else { format!("{scope}/") };
        let catalog = self.host.read().catalog();
        let under: Vec<String> =
            catalog.iter().filter_map(|path| path.strip_prefix(&prefix)).map(str::to_string).collect();
        Ok(opts.apply(under))
    }
}
