//! Reads of a [`RemoteClient`]: manifests by GET, digests and existence by HEAD, and the blob source of the scoped
//! repository.

use std::sync::Arc;

use registry_core::{Digest, Result};

use super::RemoteClient;
use crate::image::model::{BlobSource, RemoteBlobs};
use crate::manifest_result::ManifestResult;

impl RemoteClient {
    /// See [`Client::get_manifest`](crate::Client::get_manifest).
    pub(super) async fn manifest_at(&self, reference: &str) -> Result<ManifestResult> {
        let r = self.scope.reference(reference)?;
        Ok(ManifestResult::new(self.api.get_manifest(&r).await?))
    }

    /// The digest of `reference` from a HEAD, or from a GET when the registry sends no digest with the HEAD.
    pub(super) async fn digest_by_head(&self, reference: &str) -> Result<Digest> {
        let r = self.scope.reference(reference)?;
        match self.api.head_manifest(&r).await? {
            Some(head) => Ok(head.digest),
            None => Ok(self.api.get_manifest(&r).await?.digest().clone()),
        }
    }

    /// Whether `reference` exists, from a HEAD.
    pub(super) async fn exists_by_head(&self, reference: &str) -> Result<()> {
        let r = self.scope.reference(reference)?;
        self.api.head_manifest(&r).await.map(|_| ())
    }

    /// The scoped repository's blobs, reporting layer reads to the client's progress callback.
    pub(super) fn blob_source(&self) -> Result<Arc<dyn BlobSource>> {
        let blobs = RemoteBlobs::new(self.api.clone(), self.repository()?).reporting(self.transfers.clone());
        Ok(Arc::new(blobs))
    }
}
