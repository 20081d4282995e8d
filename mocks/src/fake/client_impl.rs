//! `impl Client for FakeClient`: every call, of a required or a provided method, is logged as the method called,
//! delayed and possibly failed as scripted, then answered by the fake's [`Unlogged`] view, so the internal calls
//! of a provided method (`get_image` reads a manifest, then blobs) are neither logged nor failed on their own.

use std::sync::Arc;

use futures::stream::{self, BoxStream};
use futures::TryStreamExt;
use registry_client::{
    paged_stream, Artifact, BlobPushed, BlobSource, ByteStream, Client, Descriptor, Image, ImageConfiguration,
    ImageOptions, ListOptions, ManifestResult, LIST_PAGE,
};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Repository, Result};

use super::client::FakeClient;
use super::script::Method;
use super::unlogged::Unlogged;

/// A stream listing of the fake: logged (and delayed, and failed as scripted) as `method` when first polled, then
/// the items of `list` on the unlogged view, through the same pager as the trait's provided streams.
fn logged_stream<'a, F, Fut>(client: &'a FakeClient, method: Method, list: F) -> BoxStream<'a, Result<String>>
where
    F: Fn(Unlogged, ListOptions) -> Fut + Send + Sync + Clone + 'a,
    Fut: std::future::Future<Output = Result<Vec<String>>> + Send + 'a,
{
    let unlogged = client.unlogged();
    let items = stream::once(client.enter(method, None)).map_ok(move |()| {
        let (unlogged, list) = (unlogged.clone(), list.clone());
        paged_stream(LIST_PAGE, move |opts| list(unlogged.clone(), opts))
    });
    Box::pin(items.try_flatten())
}

#[async_trait::async_trait]
impl Client for FakeClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(self.scoped(segment))
    }

    fn get_registry(&self) -> String {
        self.scope().name()
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        self.enter(Method::GetManifest, Some(reference)).await?;
        self.unlogged().get_manifest(reference).await
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        self.enter(Method::PutManifest, Some(reference)).await?;
        self.unlogged().put_manifest(reference, manifest).await
    }

    /// Logged and failed as scripted, without latency (the call is not async); reads are not logged.
    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        self.enter_now(Method::Blobs, None)?;
        self.unlogged().blobs()
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        self.enter(Method::PushBlob, Some(descriptor.digest().as_ref())).await?;
        self.unlogged().push_blob(descriptor, source, mount_from).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        self.enter(Method::PushImage, Some(tag)).await?;
        self.unlogged().push_image(tag, image).await
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.enter(Method::ListTags, None).await?;
        self.unlogged().list_tags(opts).await
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.enter(Method::ListRepositories, None).await?;
        self.unlogged().list_repositories(opts).await
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        self.enter(Method::DeleteTag, Some(tag)).await?;
        self.unlogged().delete_tag(tag).await
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        self.enter(Method::DeleteByDigest, Some(digest)).await?;
        self.unlogged().delete_by_digest(digest).await
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.enter(Method::ListReferrers, Some(digest)).await?;
        self.unlogged().list_referrers(digest, artifact_type).await
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        self.enter(Method::PushArtifact, Some(artifact.digest().as_str())).await?;
        self.unlogged().push_artifact(artifact).await
    }

    // The provided methods: logged as themselves, then the trait's own code on the unlogged view.

    async fn get_blob(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        self.enter(Method::GetBlob, Some(digest.as_str())).await?;
        self.unlogged().get_blob(digest, size).await
    }

    async fn get_digest(&self, reference: &str) -> Result<Digest> {
        self.enter(Method::GetDigest, Some(reference)).await?;
        self.unlogged().get_digest(reference).await
    }

    async fn check_image_exists(&self, reference: &str) -> Result<()> {
        self.enter(Method::CheckImageExists, Some(reference)).await?;
        self.unlogged().check_image_exists(reference).await
    }

    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration> {
        self.enter(Method::GetImageConfig, Some(reference)).await?;
        self.unlogged().get_image_config(reference).await
    }

    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image> {
        self.enter(Method::GetImage, Some(reference)).await?;
        self.unlogged().get_image(reference, opts).await
    }

    async fn push_index(&self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()> {
        self.enter(Method::PushIndex, Some(tag)).await?;
        self.unlogged().push_index(tag, index, children).await
    }

    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()> {
        self.enter(Method::TagImage, Some(reference)).await?;
        self.unlogged().tag_image(reference, new_tag).await
    }

    fn list_tags_stream(&self) -> BoxStream<'_, Result<String>> {
        logged_stream(self, Method::ListTagsStream, |c: Unlogged, o| async move { c.list_tags(o).await })
    }

    fn list_repositories_stream(&self) -> BoxStream<'_, Result<String>> {
        logged_stream(
            self,
            Method::ListRepositoriesStream,
            |c: Unlogged, o| async move { c.list_repositories(o).await },
        )
    }
}
