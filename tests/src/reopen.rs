//! A blob source for upload tests that can be opened again at any offset, recording each offset it was opened at
//! (a fresh start is offset 0, a resume the registry's offset).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use registry_core::{ByteStream, Result};

/// The size of the pieces a [`ReopenableSource`] hands out (bytes).
pub const PIECE: usize = 48 * 1024;

/// `data`, opened at any offset by [`ReopenableSource::opener`], in pieces of [`PIECE`] bytes.
#[derive(Debug, Clone)]
pub struct ReopenableSource {
    data: Bytes,
    offsets: Arc<Mutex<Vec<u64>>>,
}

impl ReopenableSource {
    /// A source of `data`, never opened yet.
    pub fn new(data: &Bytes) -> ReopenableSource {
        ReopenableSource { data: data.clone(), offsets: Arc::new(Mutex::new(Vec::new())) }
    }

    /// The `open(offset)` function an upload takes (`RegistryApi::upload_blob_from` and friends).
    pub fn opener(&self) -> impl Fn(u64) -> futures::future::Ready<Result<ByteStream>> + Send + Sync + '_ {
        move |offset| {
            self.offsets.lock().unwrap_or_else(PoisonError::into_inner).push(offset);
            futures::future::ready(Ok(registry_client::slices_from(&self.data, offset, PIECE)))
        }
    }

    /// Every offset it was opened at, in order.
    pub fn offsets(&self) -> Vec<u64> {
        self.offsets.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How often it was opened from the first byte (a fresh start).
    pub fn opens(&self) -> usize {
        self.offsets().iter().filter(|o| **o == 0).count()
    }

    /// The offsets it was opened again at to resume (not from the first byte).
    pub fn resumes(&self) -> Vec<u64> {
        self.offsets().into_iter().filter(|o| *o > 0).collect()
    }
}

/// A plain-HTTP [`RegistryApi`](registry_core::api::RegistryApi) on `host` (no proxy) with `transfer`, retrying
/// quickly (10 ms first backoff, 2 s at most): what the upload tests drive.
#[allow(clippy::unwrap_used)]
pub fn upload_api(host: &str, transfer: registry_core::api::TransferConfig) -> registry_core::api::RegistryApi {
    use registry_core::transport::{ProxyConfig, RetryConfig, TransportConfig};
    let mut config = TransportConfig::default();
    config.insecure = true;
    config.proxy = ProxyConfig::Disabled;
    config.retry = RetryConfig::default()
        .initial_backoff(std::time::Duration::from_millis(10))
        .max_backoff(std::time::Duration::from_secs(2));
    registry_core::api::RegistryApi::new(registry_core::Registry::parse(host).unwrap(), config)
        .unwrap()
        .with_transfer_config(transfer)
        .unwrap()
}

/// The repository `host/path`.
#[allow(clippy::unwrap_used)]
pub fn repo(host: &str, path: &str) -> registry_core::Repository {
    registry_core::Repository::parse(&format!("{host}/{path}")).unwrap()
}
