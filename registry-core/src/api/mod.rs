//! The distribution API endpoints, as methods of [`RegistryApi`], a cheap-to-clone handle on one registry.

mod blobs;
mod lists;
mod manifests;
mod referrers;
mod transfer;
mod upload_job;
mod upload_reader;
mod upload_stream;
mod uploads;

use std::sync::Arc;

pub use lists::{parse_next_link, Page};
pub use manifests::{ManifestHead, ManifestPut};
pub use referrers::{
    add_to_referrers_index, filter_artifact_type, has_artifact_type, referrers_tag, remove_from_referrers_index,
    ReferrersPage, MAX_REFERRERS_PAGES,
};
pub use transfer::{
    BlobPushed, MountOutcome, TransferConfig, UploadSession, MAX_CHUNK_SIZE, MAX_REGISTRY_CHUNK, MAX_RETRY_AFTER,
};

use crate::reference::Registry;
use crate::transport::{Transport, TransportConfig};
use crate::Result;

/// The distribution endpoints of one registry.
#[derive(Debug, Clone)]
pub struct RegistryApi {
    transport: Arc<Transport>,
    /// Upload strategy, chunk size and recovery limits.
    transfer: TransferConfig,
}

impl RegistryApi {
    /// A handle on `registry` with `config`.
    pub fn new(registry: Registry, config: TransportConfig) -> Result<RegistryApi> {
        Ok(RegistryApi::from_transport(Arc::new(Transport::new(registry, config)?)))
    }

    /// A handle over an existing transport.
    pub fn from_transport(transport: Arc<Transport>) -> RegistryApi {
        RegistryApi { transport, transfer: TransferConfig::default() }
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        self.transport.registry()
    }
}

/// The `Content-Length` header's value. (For HEAD answers `reqwest::Response::content_length` reports the empty
/// body's length, not the header.)
pub(crate) fn header_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers().get(reqwest::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Header names the distribution API uses.
pub(crate) mod headers {
    /// The digest of the content the registry served or stored.
    pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
}
