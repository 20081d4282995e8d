//! The [`Client`] trait: the contract every implementation (remote, in-memory fake) fulfils.

use std::sync::Arc;

use oci_spec::image::ImageConfiguration;
use registry_core::{Digest, Result};

use crate::image::Image;
use crate::manifest_result::ManifestResult;
use crate::options::{ImageOptions, ListOptions};

/// A registry client scoped to a host and a path (`host/segment/segment`).
///
/// `reference` arguments are relative to the scope: a tag (`"v1"`), a digest (`"@sha256:..."`) or both
/// (`"v1@sha256:..."`, resolved by the digest).
///
/// ```no_run
/// use std::sync::Arc;
/// use registry_client::{Client, ImageOptions, ListOptions, Platform, RemoteClient};
///
/// # async fn demo() -> registry_client::Result<()> {
/// let client: Arc<dyn Client> = Arc::new(RemoteClient::builder("registry.example.com").build()?);
/// let app = client.with_segment("org").with_segment("app");
/// assert_eq!(app.get_registry(), "registry.example.com/org/app");
/// let tags = app.list_tags(ListOptions::default()).await?;            // every tag, lexical order
/// let page = app.list_tags(ListOptions::default().limit(10).last("v1")).await?; // one page after "v1"
/// let image = app.get_image("v2", ImageOptions::default().platform(Platform::new("linux", "arm64"))).await?;
/// app.with_segment("mirror").push_image("v2", &image).await?;
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

    /// The digest of the manifest `reference` points to.
    async fn get_digest(&self, reference: &str) -> Result<Digest>;

    /// The manifest (image manifest or index) `reference` points to.
    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult>;

    /// The config of the image `reference` points to (the host's platform when it is an index).
    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration>;

    /// `Ok(())` when `reference` exists; an error of kind `NotFound` when it does not, any other kind when the
    /// question could not be answered.
    async fn check_image_exists(&self, reference: &str) -> Result<()>;

    /// The image `reference` points to; from an index, the platform in `opts`, else the host's platform.
    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image>;

    /// Push `image` under `tag`: blobs the registry lacks, then the config, then the manifest.
    async fn push_image(&self, tag: &str, image: &Image) -> Result<()>;

    /// Tags of the scoped repository, in lexical order, windowed by `opts`.
    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>>;

    /// Repositories under the scope, relative to it, in lexical order, windowed by `opts`.
    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>>;
}
