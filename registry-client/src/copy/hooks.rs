//! What a caller of the copy pipeline (the sync engine) may hook into: where each blob comes from on the target
//! (upload it, or mount it from a repository where another copy put it), the bytes read from the source as they
//! are uploaded, and a last check before the tag is written.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use registry_core::{ByteStream, Digest, Repository, Result};

use crate::client::Client;
use crate::image::model::BlobSource;

/// How a copy gets one blob onto the target.
pub(crate) enum Claim {
    /// This copy pushes it (upload, or mount from the source when it is in the same registry); when the push is
    /// done it calls [`CopyHooks::blob_done`], then drops the ticket (dropping it without that means "failed").
    Owner(BlobTicket),
    /// It is in this repository of the target registry: push with it as `mount_from` (no bytes).
    MountFrom(Repository),
}

/// Held by the copy that pushes a blob others wait for; dropping it wakes them.
pub(crate) struct BlobTicket {
    _held: Box<dyn Send + Sync>,
}

impl BlobTicket {
    /// A ticket holding `held` until it is dropped.
    pub(crate) fn new(held: impl Send + Sync + 'static) -> BlobTicket {
        BlobTicket { _held: Box::new(held) }
    }
}

/// The hooks of one copy (see the module doc). Every method is called from the copy's tasks: keep them quick,
/// except [`claim_blob`](CopyHooks::claim_blob), which may wait while another copy uploads the blob.
#[async_trait::async_trait]
pub(crate) trait CopyHooks: Send + Sync + fmt::Debug {
    /// How to get `digest` onto the target; may wait while another copy pushes it.
    async fn claim_blob(&self, digest: &Digest) -> Claim;
    /// The blob this copy owned is on the target now (`ok`), or its push failed.
    fn blob_done(&self, digest: &Digest, ok: bool);
    /// Whether `digest` is known to be in the target repository already, put or confirmed there earlier in this
    /// run: the copy then skips it without asking the registry.
    fn known_in_target(&self, digest: &Digest) -> bool;
    /// `digest` is in the target repository now (pushed, mounted or found there).
    fn blob_in_target(&self, digest: &Digest);
    /// `bytes` more bytes were read from the source for an upload.
    fn count_bytes(&self, bytes: u64);
    /// Called just before the manifest `digest` is put under `tag` on `target`: an error stops the copy (the tag
    /// is not written).
    async fn before_tag(&self, target: &dyn Client, tag: &str, digest: &Digest) -> Result<()>;
}

/// A [`BlobSource`] that counts the bytes read from it (what uploads actually send: after a resumed upload only
/// the rest), into `read` and the hooks when there are some.
pub(crate) struct CountingSource {
    inner: Arc<dyn BlobSource>,
    hooks: Option<Arc<dyn CopyHooks>>,
    read: Arc<AtomicU64>,
}

impl fmt::Debug for CountingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSource").field("inner", &self.inner).finish()
    }
}

impl CountingSource {
    /// `inner`, counted into `read` and `hooks`.
    pub(crate) fn new(
        inner: Arc<dyn BlobSource>,
        hooks: Option<Arc<dyn CopyHooks>>,
        read: Arc<AtomicU64>,
    ) -> CountingSource {
        CountingSource { inner, hooks, read }
    }

    fn count(&self, stream: ByteStream) -> ByteStream {
        let (hooks, read) = (self.hooks.clone(), self.read.clone());
        Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                let n = bytes.len() as u64;
                read.fetch_add(n, Ordering::Relaxed);
                if let Some(h) = &hooks {
                    h.count_bytes(n);
                }
            }
        }))
    }
}

#[async_trait::async_trait]
impl BlobSource for CountingSource {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        Ok(self.count(self.inner.open(digest, size).await?))
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        Ok(self.count(self.inner.open_unverified(digest, size, offset).await?))
    }

    fn repository(&self) -> Option<&Repository> {
        self.inner.repository()
    }

    async fn read_to_bytes(&self, digest: &Digest, size: u64, max: usize) -> Result<bytes::Bytes> {
        self.inner.read_to_bytes(digest, size, max).await
    }
}
