//! [`RemoteClient`]: the [`Client`] trait over the distribution API (`registry-core`).
//!
//! This file holds the type and the `impl Client` that dispatches each call; the work is split by concern into
//! children that add methods to [`RemoteClient`] (they import this module, it imports none of them):
//! - `builder`: `RemoteClientBuilder`, the settings checked by `build()`;
//! - `reads`: manifests (GET, and HEAD for digests and existence) and the blob source;
//! - `pushes`: blobs within the transfer limits and with progress events, images and artifacts;
//! - `lists`: tags and repositories (following `Link` pages), referrers;
//! - `writes`: manifest puts with the referrers tag upkeep, deletes (with the placeholder fallback).

pub(crate) mod builder;
mod lists;
mod pushes;
mod reads;
mod writes;

use std::sync::Arc;

use oci_spec::image::Descriptor;
use registry_core::api::{BlobPushed, RegistryApi};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Repository, Result};

use crate::client::Client;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image};
use crate::manifest_result::ManifestResult;
use crate::options::ListOptions;
use crate::scope::ClientScope;
use crate::transfer::Transfers;

/// A [`Client`] talking to a registry over HTTP(S).
///
/// Clones and [`Client::with_segment`] children share one connection pool, one token cache and one set of
/// transfer limits. Built with [`RemoteClient::builder`].
///
/// Blobs move within the client's transfer limits and report progress events: `push_image` and `push_artifact`
/// report `PushStarted`, each blob's events, then `ManifestPushed`; `push_blob` reports the events of its one blob
/// only (`BlobSkipped`, `BlobMounted`, or `BlobStarted` .. `BlobDone`); `put_manifest` reports nothing. Reads of
/// layers from [`Client::blobs`] (and so of the images `get_image` returns) report `Download*` events; the config
/// read by `get_image` does not.
#[derive(Debug, Clone)]
pub struct RemoteClient {
    api: RegistryApi,
    scope: ClientScope,
    transfers: Arc<Transfers>,
}

impl RemoteClient {
    /// The underlying distribution API handle (for operations the trait does not have).
    pub fn api(&self) -> &RegistryApi {
        &self.api
    }

    /// The scoped repository; `InvalidInput` when a segment was invalid or there is none.
    pub fn repository(&self) -> Result<Repository> {
        self.scope.repository()
    }

    /// Whether the registry accepts this client's credentials, as `docker login` checks them before storing them:
    /// `GET /v2/` with them (Basic, or a token without repository scope from the Bearer challenge's realm); see
    /// [`RegistryApi::ping`]. `Ok(())` when the registry answers 2xx (also when it asks for no credentials).
    ///
    /// # Errors
    /// [`ErrorKind::Unauthorized`](registry_core::ErrorKind::Unauthorized) when the registry or its token server
    /// rejects the credentials, with the registry's words; otherwise the errors of any request (`Io`, `Tls`,
    /// `Timeout`, `NotFound` for a host without `/v2/`...). The credentials never appear in an error.
    pub async fn check_credentials(&self) -> Result<()> {
        self.api.ping().await
    }

    /// What this client has learned of its registry so far (features it lacks, limits it imposes), shared by its
    /// clones and `with_segment` children: see [`CapabilitySnapshot`](registry_core::CapabilitySnapshot).
    pub fn capabilities(&self) -> registry_core::CapabilitySnapshot {
        self.api.capabilities().snapshot()
    }
}

#[async_trait::async_trait]
impl Client for RemoteClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(RemoteClient {
            api: self.api.clone(),
            scope: self.scope.join(segment),
            transfers: self.transfers.clone(),
        })
    }

    fn get_registry(&self) -> String {
        self.scope.name()
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        self.manifest_at(reference).await
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        self.put_manifest_at(reference, manifest).await
    }

    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        self.blob_source()
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        self.push_one_blob(&self.repository()?, descriptor, source, mount_from).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        self.push_image_at(tag, image).await
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.tags(opts).await
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.repositories(opts).await
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        self.remove_tag(tag).await
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        self.remove_manifest(digest).await
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.referrers(digest, artifact_type).await
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        self.push_artifact_at(artifact).await
    }

    /// A HEAD request; a GET when the registry answers HEAD without a digest.
    async fn get_digest(&self, reference: &str) -> Result<Digest> {
        self.digest_by_head(reference).await
    }

    /// A HEAD request.
    async fn check_image_exists(&self, reference: &str) -> Result<()> {
        self.exists_by_head(reference).await
    }
}
