//! The copy hooks of one image of a run: the ledger (upload once per target registry, mount after), the journal's
//! blob records, byte counting into events, and the overwrite re-check before the tag is written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use registry_core::{Digest, Error, ErrorKind, Repository, Result};

use crate::client::Client;
use crate::copy::hooks::{BlobTicket, Claim, CopyHooks};
use crate::sync::journal::Journal;
use crate::sync::ledger::{Claimed, Ledger};
use crate::sync::report::{SyncEvent, SyncEventFn};

/// The hooks of plan item `item`.
pub(crate) struct ImageHooks {
    pub(crate) item: usize,
    pub(crate) ledger: Arc<Ledger>,
    /// The target registry's host and repository (`None`: a layout, no ledger).
    pub(crate) target: Option<(String, Repository)>,
    pub(crate) journal: Option<Arc<Journal>>,
    pub(crate) events: Option<SyncEventFn>,
    /// Whether the target tag may be moved (`overwrite`).
    pub(crate) overwrite: bool,
    /// Set when the re-check found the tag moved to another digest meanwhile.
    pub(crate) conflict: AtomicBool,
    /// Bytes read from the source for uploads.
    pub(crate) bytes: AtomicU64,
}

impl std::fmt::Debug for ImageHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageHooks").field("item", &self.item).field("target", &self.target).finish()
    }
}

#[async_trait::async_trait]
impl CopyHooks for ImageHooks {
    async fn claim_blob(&self, digest: &Digest) -> Claim {
        let Some((host, _)) = &self.target else { return Claim::Owner(BlobTicket::new(())) };
        match self.ledger.claim(host, digest).await {
            Claimed::Owner(ticket) => Claim::Owner(BlobTicket::new(ticket)),
            Claimed::Present(repository) => Claim::MountFrom(repository),
        }
    }

    fn blob_done(&self, digest: &Digest, ok: bool) {
        let Some((host, repository)) = &self.target else { return };
        self.ledger.done(host, digest, ok.then(|| repository.clone()));
        if let (true, Some(journal)) = (ok, &self.journal) {
            if let Err(e) = journal.blob_present(host, repository, digest) {
                tracing::warn!("{e}");
            }
        }
    }

    fn known_in_target(&self, digest: &Digest) -> bool {
        self.target.as_ref().is_some_and(|(_, repository)| self.ledger.confirmed(repository, digest))
    }

    fn blob_in_target(&self, digest: &Digest) {
        if let Some((_, repository)) = &self.target {
            self.ledger.confirm(repository, digest);
        }
    }

    fn count_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(events) = &self.events {
            events(&SyncEvent::Bytes { item: self.item, bytes });
        }
    }

    async fn before_tag(&self, target: &dyn Client, tag: &str, digest: &Digest) -> Result<()> {
        if self.overwrite {
            return Ok(());
        }
        match target.get_digest(tag).await {
            Ok(now) if &now != digest => {
                self.conflict.store(true, Ordering::Relaxed);
                Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{}:{tag} now points at {now} (changed since planning) and overwrite is false: left alone",
                        target.get_registry()
                    ),
                ))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.context(format!("re-check of {}:{tag} before writing it", target.get_registry()))),
        }
    }
}
