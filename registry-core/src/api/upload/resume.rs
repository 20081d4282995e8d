//! The journal side of a chunked upload: recording its session in the handle's
//! [`UploadJournal`](crate::api::UploadJournal) (when it opens, after each chunk the registry confirmed), forgetting
//! it once committed or cancelled, and, before a new session is opened, resuming one recorded there, by this or
//! another process.

use std::future::Future;

use url::Url;

use super::sized::Job;
use crate::digest::ByteStream;
use crate::error::{ErrorKind, Result};

impl<F, Fut> Job<'_, F>
where
    F: Fn(u64) -> Fut + Send + Sync,
    Fut: Future<Output = Result<ByteStream>> + Send,
{
    /// Whether this upload goes in chunks when the registry sets no minimum chunk length.
    fn chunked_upload(&self) -> bool {
        self.size > self.config.monolithic_threshold && self.config.chunk_for(None, self.reopen.is_none()).is_some()
    }

    /// The session the journal recorded for this blob, if the registry still knows it: its location and the
    /// offset to continue from. A session it does not know (404, `BLOB_UPLOAD_INVALID`, any other failure or an
    /// answer past the blob's size) is cancelled (unless gone) and forgotten. Only for a chunked upload whose
    /// source can be opened at an offset.
    pub(super) async fn resume(&mut self) -> Option<(Url, u64)> {
        let journal = self.api.journal.clone()?;
        if self.reopen.is_none() || !self.chunked_upload() {
            return None;
        }
        let recorded = journal.recorded(self.repo, self.digest)?;
        // A journal is a file anyone may edit: never send the registry's credentials elsewhere.
        let base = match self.api.transport.url("/") {
            Ok(base) => base,
            Err(_) => return None,
        };
        let location = match self.api.transport.resolve_same_origin(&base, recorded.as_str(), "recorded upload") {
            Ok(location) => location,
            Err(e) => {
                tracing::warn!(digest = %self.digest, error = %e, "upload journal: ignoring a recorded session");
                journal.forget(self.repo, self.digest);
                return None;
            }
        };
        match self.api.upload_progress(self.repo, &location, 0).await {
            Ok((offset, fresh)) if offset <= self.size => {
                tracing::info!(digest = %self.digest, offset, size = self.size, "resuming a recorded blob upload");
                self.journaled = true;
                self.confirmed = offset;
                Some((fresh, offset))
            }
            Ok((offset, _)) => {
                tracing::info!(
                    digest = %self.digest, offset, size = self.size,
                    "a recorded upload holds more than the blob: starting over"
                );
                self.api.cancel_location(self.repo, &location).await;
                journal.forget(self.repo, self.digest);
                None
            }
            Err(e) => {
                tracing::info!(
                    digest = %self.digest, error = %e,
                    "the registry no longer knows a recorded upload: starting over"
                );
                if e.kind() != ErrorKind::NotFound {
                    self.api.cancel_location(self.repo, &location).await;
                }
                journal.forget(self.repo, self.digest);
                None
            }
        }
    }

    /// Record the current session at `location` with `offset` bytes confirmed, when there is a journal.
    pub(super) fn record(&mut self, location: &Url, offset: u64) {
        self.confirmed = offset;
        if let Some(journal) = &self.api.journal {
            journal.record(self.repo, self.digest, location, offset);
            self.journaled = true;
        }
    }

    /// Take the current session out of the journal (it was committed or cancelled).
    pub(super) fn forget(&mut self) {
        if self.journaled {
            if let Some(journal) = &self.api.journal {
                journal.forget(self.repo, self.digest);
            }
            self.journaled = false;
        }
    }
}
