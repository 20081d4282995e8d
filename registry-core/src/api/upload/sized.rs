//! One blob upload that survives failures.
//!
//! A pass uploads the blob into one session: in one streamed PUT (small blobs), or in chunks. After a failed chunk
//! (connection dropped, 5xx, 429, 401, 416) the job asks the registry how far the upload got (`GET <location>`,
//! `Range: 0-<end>`) and continues from there: reading the source again from that offset when it can be opened
//! again, else with the bytes it still holds. When the session is gone (404: the registry forgot it, or
//! docker-registry 2.8.2 refusing a location made stale by a partial write), or a single PUT failed, the job
//! cancels the session and starts over from the first byte, which needs a source it can open again. Every recovery
//! counts against [`TransferConfig::upload_retries`]. The digest of the bytes sent is checked before the closing
//! PUT: a mismatch cancels the session and nothing is committed.
//!
//! With an [`UploadJournal`](crate::api::UploadJournal) on the handle, a chunked upload records its session's
//! location when it opens and after each chunk the registry confirmed, and forgets it once the blob is committed or
//! the session cancelled. Before opening a session it asks the journal: a recorded session is asked how far it got
//! and continued from there, the source opened at that offset; one the registry no longer knows is forgotten and a
//! fresh upload starts. The bytes before that offset were never read by this process, so the digest is then checked
//! by the registry alone, when it closes the upload. With a journal, a source failing part way is opened again at
//! the registry's offset (a temporary failure, counted as a recovery); when that does not help, the session is left
//! open and recorded (unless the source gave content of the wrong digest), for a later push to resume. One-request
//! uploads record nothing.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use url::Url;

use tracing::Instrument;

use super::progress::Progress;
use super::reader::{lend, lend_closing, Reader};
use super::recovery::exhausted;
use super::session::{check_committed, offset_after, upload_end, upload_range};
use crate::api::registry_api::RegistryApi;
use crate::api::transfer::{BlobPushed, MountOutcome, TransferConfig, UploadSession};
use crate::digest::{ByteStream, Digest, VerifyingStream};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::request::Body;
use crate::transport::retry::{worth_retrying, Again};

/// A re-opener for sources that cannot be opened again.
type NoReopen = fn(u64) -> std::future::Ready<Result<ByteStream>>;

/// Why a pass ended without the blob.
enum Failure {
    /// Start over in a new session (after cancelling `location`).
    Restart {
        error: Error,
        location: Url,
        /// Whether the blob may have been committed (a final PUT whose answer was lost).
        maybe_committed: bool,
    },
    /// Give up.
    Fatal(Error),
}

/// One upload of `digest` (`size` bytes) to `repo`.
pub(super) struct Job<'a, F> {
    pub(super) api: &'a RegistryApi,
    pub(super) repo: &'a Repository,
    pub(super) digest: &'a Digest,
    pub(super) size: u64,
    /// Opens the source again at an offset (a fresh start, or a resume); `None` when it cannot be.
    pub(super) reopen: Option<&'a F>,
    pub(super) config: TransferConfig,
    /// Recoveries so far.
    pub(super) recoveries: u32,
    /// Whether the journal holds the current session (recorded by this job, or found there to resume).
    pub(super) journaled: bool,
    /// The offset the registry confirmed in the current session.
    pub(super) confirmed: u64,
}

impl<F, Fut> Job<'_, F>
where
    F: Fn(u64) -> Fut + Send + Sync,
    Fut: Future<Output = Result<ByteStream>> + Send,
{
    /// Upload from `first` (or a freshly opened source), into `session` if given (else a new one).
    async fn run(mut self, first: Option<ByteStream>, mut session: Option<UploadSession>) -> Result<BlobPushed> {
        let resumed = match first {
            None => self.resume().await,
            Some(_) => None,
        };
        let (mut source, mut session, mut start) = match resumed {
            Some((location, offset)) => {
                // A session the registry opened instead of mounting holds nothing yet: the recorded one wins.
                if let Some(unused) = session.take() {
                    self.api.cancel_location(self.repo, &unused.location).await;
                }
                let min_chunk = self.api.capabilities().snapshot().chunk_min_length;
                let session = UploadSession { repository: self.repo.clone(), location, min_chunk };
                (self.open_source(offset).await?, Some(session), offset)
            }
            None => match first {
                Some(s) => (s, session, 0),
                None => (self.open_source(0).await?, session, 0),
            },
        };
        loop {
            let current = match session.take() {
                Some(s) => s,
                None => self.api.open_session(self.repo).await.map_err(|e| e.context(self.what()))?,
            };
            let (error, location, maybe_committed) = match self.pass(source, current, start).await {
                Ok(done) => return Ok(done),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Restart { error, location, maybe_committed }) => (error, location, maybe_committed),
            };
            start = 0;
            if error.kind() != ErrorKind::NotFound {
                self.api.cancel_location(self.repo, &location).await;
            }
            self.forget();
            if maybe_committed && matches!(self.api.blob_exists(self.repo, self.digest).await, Ok(Some(_))) {
                tracing::info!(digest = %self.digest, "the blob was committed although its upload reported a failure");
                return Ok(BlobPushed::AlreadyPresent);
            }
            self.spend(&error)?;
            if self.reopen.is_none() {
                return Err(self.named(error, "the upload must start over and its source cannot be read again"));
            }
            tokio::time::sleep(self.config.wait_before(self.recoveries, &error)).await;
            tracing::warn!(digest = %self.digest, recovery = self.recoveries, error = %error, "blob upload starts over");
            source = self.open_source(0).await?;
        }
    }

    async fn open_source(&self, offset: u64) -> Result<ByteStream> {
        match self.reopen {
            Some(open) => open(offset)
                .await
                .map_err(|e| e.context(format!("open blob {} at byte {offset} for upload", self.digest))),
            None => Err(Error::invalid_input(format!("blob {}: no source to upload from", self.digest))),
        }
    }

    /// Count one recovery; an error naming the blob when none is left.
    fn spend(&mut self, cause: &Error) -> Result<()> {
        self.recoveries += 1;
        if self.recoveries > self.config.upload_retries {
            return Err(
                self.named(exhausted(cause, self.recoveries), &format!("giving up after {} attempts", self.recoveries))
            );
        }
        Ok(())
    }

    /// One pass into `session`, whose registry already has the first `start` bytes (a resumed session: then
    /// `source` begins at `start`, and the upload goes in chunks).
    async fn pass(&mut self, source: ByteStream, session: UploadSession, start: u64) -> Result<BlobPushed, Failure> {
        self.confirmed = start;
        let chunk = if self.size > self.config.monolithic_threshold || start > 0 {
            self.config.chunk_for(session.min_chunk, self.reopen.is_none())
        } else {
            None
        };
        match chunk {
            None => self.monolithic(source, session.location).await,
            Some(chunk) => self.chunked(source, session.location, chunk, start).await,
        }
    }

    /// `e` with `note` in front, and the blob named unless its message already does.
    fn named(&self, e: Error, note: &str) -> Error {
        let e = if e.message().contains(self.digest.as_str()) { e } else { e.context(self.what()) };
        e.context(note)
    }

    fn what(&self) -> String {
        format!("upload blob {} to {}", self.digest, self.repo)
    }

    /// Cancel `location` (and forget it) and fail with `error`.
    async fn fatal(&mut self, location: &Url, error: Error) -> Failure {
        self.api.cancel_location(self.repo, location).await;
        self.forget();
        Failure::Fatal(error)
    }

    /// Whether a failure of the source leaves the session open for a later push: when the journal holds it, the
    /// registry has bytes of it, and the source did not give content of the wrong digest.
    fn keeps_session(&self, error: &Error) -> bool {
        self.journaled && self.confirmed > 0 && error.kind() != ErrorKind::DigestMismatch
    }

    /// Give up on the source's `error`, the session left open and recorded.
    fn kept(&self, error: Error) -> Failure {
        Failure::Fatal(error.context(format!(
            "the upload session stays open and recorded in the upload journal at byte {} of {}",
            self.confirmed, self.size
        )))
    }

    /// A failure of the source itself: worth a fresh start when temporary, else final. With a journal holding a
    /// session that has bytes confirmed, the session stays open and recorded instead (unless the source gave
    /// content of the wrong digest), for a later push to resume.
    async fn source_failed(&mut self, location: Url, error: Error) -> Failure {
        let error = error.context(format!("{}: reading the blob", self.what()));
        if self.keeps_session(&error) {
            return self.kept(error);
        }
        if worth_retrying(&error, Again::Rest) {
            Failure::Restart { error, location, maybe_committed: false }
        } else {
            self.fatal(&location, error).await
        }
    }

    /// The whole blob in one streamed PUT. The body is verified on the way and its last piece is held back until
    /// the digest matches, so a wrong content never completes the request.
    async fn monolithic(&mut self, source: ByteStream, location: Url) -> Result<BlobPushed, Failure> {
        let failure = Arc::new(Mutex::new(None::<Error>));
        let seen = failure.clone();
        let verified = VerifyingStream::new(source, self.digest.clone(), Some(self.size));
        let body: ByteStream = Box::pin(verified.map(move |item| {
            item.map_err(|e| {
                let copy = Error::new(e.kind(), e.message().to_string());
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                copy
            })
        }));
        let body = Body::Stream { stream: Some(body), length: Some(self.size) };
        let sent = self.api.close_upload(self.repo, &location, self.digest, body).await;
        let source_error = failure.lock().unwrap_or_else(PoisonError::into_inner).take();
        match (sent, source_error) {
            (Ok(resp), _) => match check_committed(&resp, self.digest) {
                Ok(()) => Ok(BlobPushed::Uploaded),
                Err(e) => Err(Failure::Fatal(e.context(self.what()))),
            },
            (Err(_), Some(e)) if e.kind() == ErrorKind::DigestMismatch => {
                let e = e.context(format!("{}: upload cancelled, nothing committed", self.what()));
                Err(self.fatal(&location, e).await)
            }
            (Err(_), Some(e)) => Err(self.source_failed(location, e).await),
            (Err(e), None) => {
                let e = e.context(self.what());
                if worth_retrying(&e, Again::Upload) {
                    Err(Failure::Restart { error: e, location, maybe_committed: true })
                } else {
                    // Including a registry refusing the digest of content verified on the way: sending the same
                    // bytes again would not change its mind.
                    Err(self.fatal(&location, e).await)
                }
            }
        }
    }

    /// The blob in chunks of `chunk` bytes, resuming after failed chunks, then the closing PUT.
    async fn chunked(
        &mut self,
        source: ByteStream,
        mut location: Url,
        chunk: u64,
        start: u64,
    ) -> Result<BlobPushed, Failure> {
        let mut reader = Reader::resumed(source, self.digest, self.size, self.reopen.is_none(), start);
        let mut offset = start.min(self.size);
        self.record(&location, offset);
        let mut progress = Progress::default();
        // Whether the source failed and must be opened again before the next chunk.
        let mut reread = false;
        while offset < self.size {
            let end = offset.saturating_add(chunk).min(self.size);
            if (reader.position() != offset && !reader.holds_from(offset)) || reread {
                // The registry has less than was read (or the source broke), and the source can be read again from
                // there.
                match self.open_source(offset).await {
                    Ok(again) => reader.reopen(again, offset),
                    Err(e) => return Err(self.source_failed(location, e).await),
                }
                reread = false;
            }
            // With `close_with_last_chunk`, the last chunk streamed from the source goes in the closing PUT, its last piece held back until the
            // digest matched: one request fewer than a `PATCH` and an empty `PUT` (a blob of one chunk goes exactly
            // like a one-request upload), and the same chunk boundaries to resume from.
            let closing = self.config.close_with_last_chunk && end == self.size && reader.position() == offset;
            let (sent, source_error) = if closing {
                let (lent, body) = lend_closing(reader);
                let body = Body::Stream { stream: Some(body), length: Some(end - offset) };
                let sent = self.api.close_upload(self.repo, &location, self.digest, body).await;
                let (back, failure) = lent.take_back();
                reader = match back {
                    Some(r) => r,
                    None => return Err(Failure::Fatal(Error::protocol(format!("{}: reader lost", self.what())))),
                };
                (sent, failure)
            } else if reader.position() == offset {
                // Stream the chunk straight from the source.
                let (lent, body) = lend(reader, end);
                let sent = self.patch(&location, offset, end, Body::Stream { stream: Some(body), length: None }).await;
                let (back, failure) = lent.take_back();
                reader = match back {
                    Some(r) => r,
                    None => return Err(Failure::Fatal(Error::protocol(format!("{}: reader lost", self.what())))),
                };
                (sent, failure)
            } else {
                // Sending again what the registry did not confirm (plus the rest of the chunk).
                if let Err(e) = reader.fill_to(end).await {
                    return Err(self.source_failed(location, e).await);
                }
                (self.patch(&location, offset, end, Body::Bytes(reader.held_bytes())).await, None)
            };
            // With a journal, a temporary failure of a source that can be opened again is recovered like a failed
            // chunk: from the registry's offset, the source opened there.
            let from_source = match source_error {
                Some(e) if closing && e.kind() == ErrorKind::DigestMismatch => {
                    let e = e.context(format!("{}: upload cancelled, nothing committed", self.what()));
                    return Err(self.fatal(&location, e).await);
                }
                Some(e) if self.keeps_session(&e) && self.reopen.is_some() && worth_retrying(&e, Again::Rest) => {
                    Some(e)
                }
                Some(e) => return Err(self.source_failed(location, e).await),
                None => None,
            };
            let error = match (from_source, sent) {
                (Some(e), _) => {
                    reread = true;
                    e.context(format!("{}: reading the blob for chunk {offset}-{}", self.what(), end - 1))
                }
                (None, Ok(resp)) if closing => {
                    self.forget();
                    check_committed(&resp, self.digest).map_err(|e| Failure::Fatal(e.context(self.what())))?;
                    return Ok(BlobPushed::Uploaded);
                }
                (None, Ok(resp)) => {
                    location = self.api.next_location(&location, &resp).map_err(Failure::Fatal)?;
                    // Any success (202, or 201 as ECR answers a chunk) is a chunk taken as far as its `Range` says;
                    // only the closing PUT finishes the upload.
                    let got = upload_end(&resp).map_or(end, |e| offset_after(e, end));
                    if let Err(e) = progress.record(got, upload_range(&resp)) {
                        return Err(self.fatal(&location, e.context(self.what())).await);
                    }
                    offset = self.accept_offset(&reader, got, &location)?;
                    reader.confirm(offset);
                    self.record(&location, offset);
                    continue;
                }
                (None, Err(e)) => e.context(format!("{}: chunk {offset}-{}", self.what(), end - 1)),
            };
            // A closing PUT whose answer was lost may have committed the blob: a session gone after it is checked.
            let maybe_committed = closing && !reread;
            if error.kind() == ErrorKind::NotFound {
                return Err(Failure::Restart { error, location, maybe_committed });
            }
            if !worth_retrying(&error, Again::Upload) {
                return Err(self.fatal(&location, error).await);
            }
            if let Err(e) = self.spend(&error) {
                if reread {
                    return Err(self.kept(e));
                }
                return Err(self.fatal(&location, e).await);
            }
            tokio::time::sleep(self.config.wait_before(self.recoveries, &error)).await;
            tracing::warn!(
                digest = %self.digest, offset, recovery = self.recoveries, error = %error,
                "chunk upload failed; asking the registry how far it got"
            );
            match self.api.upload_progress(self.repo, &location, offset).await {
                Ok((got, fresh)) => {
                    location = fresh;
                    offset = self.accept_offset(&reader, got, &location)?;
                    reader.confirm(offset);
                    self.record(&location, offset);
                    tracing::info!(digest = %self.digest, offset, "blob upload resumes");
                }
                Err(e) if e.kind() == ErrorKind::NotFound || worth_retrying(&e, Again::Rest) => {
                    return Err(Failure::Restart { error: e, location, maybe_committed });
                }
                Err(e) => return Err(self.fatal(&location, e).await),
            }
        }
        let actual = match reader.finish().await {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::DigestMismatch => {
                let e = e.context(format!("{}: upload cancelled, nothing committed", self.what()));
                return Err(self.fatal(&location, e).await);
            }
            Err(e) => return Err(self.source_failed(location, e).await),
        };
        if !reader.hashes_whole() {
            // Resumed from a journal: this process read only the rest; the registry checks the digest on closing.
            tracing::debug!(digest = %self.digest, "resumed upload: the registry checks the digest");
        } else if &actual != self.digest {
            let e = Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: the {} bytes read hash to {actual}; upload cancelled, nothing committed",
                    self.what(),
                    self.size
                ),
            );
            return Err(self.fatal(&location, e).await);
        }
        self.commit(location).await
    }

    /// The registry's offset `got`, checked against what the reader can still send.
    fn accept_offset(&self, reader: &Reader, got: u64, location: &Url) -> Result<u64, Failure> {
        let can_send = got == reader.position() || reader.holds_from(got) || self.reopen.is_some();
        if got > reader.read() || !can_send {
            let error = Error::protocol(format!(
                "{}: the registry holds {got} bytes, but the client sent {} and cannot send from byte {got} again",
                self.what(),
                reader.read(),
            ));
            return Err(Failure::Restart { error, location: location.clone(), maybe_committed: false });
        }
        Ok(got)
    }

    async fn patch(&self, location: &Url, start: u64, end: u64, body: Body) -> Result<reqwest::Response> {
        self.api.patch_chunk(self.repo, location, start, end, body).await
    }

    /// The closing PUT, after the digest was checked.
    async fn commit(&mut self, location: Url) -> Result<BlobPushed, Failure> {
        match self.api.close_upload(self.repo, &location, self.digest, Body::Bytes(bytes::Bytes::new())).await {
            Ok(resp) => {
                self.forget();
                check_committed(&resp, self.digest).map_err(|e| Failure::Fatal(e.context(self.what())))?;
                Ok(BlobPushed::Uploaded)
            }
            Err(e) => {
                let e = e.context(format!("{}: complete upload", self.what()));
                // Gone (perhaps committed by an attempt whose answer was lost) or failing: start over, checking for the
                // blob first. A registry refusing the digest of verified bytes is final.
                if e.kind() == ErrorKind::NotFound || worth_retrying(&e, Again::Upload) {
                    Err(Failure::Restart { error: e, location, maybe_committed: true })
                } else {
                    Err(self.fatal(&location, e).await)
                }
            }
        }
    }
}

impl RegistryApi {
    /// Upload a blob of known `size` and `digest`, reading it from `open(offset)`, which gives the blob's bytes from
    /// byte `offset` on. It is called with 0 to start, and again whenever the upload must go back: from 0 when it
    /// starts over (the single PUT of a small blob failed, or the registry lost the session of a chunked one, as
    /// docker-registry 2.8.2 does after a chunk was cut short), from the registry's offset when a chunk failed part
    /// way. So nothing is held in memory to send again. The source need not verify what it reads: the digest is
    /// checked over the bytes sent before the blob is committed. Otherwise like [`RegistryApi::upload_blob`].
    ///
    /// ```no_run
    /// # async fn demo(api: registry_core::api::RegistryApi, repo: registry_core::Repository,
    /// #     digest: registry_core::Digest, data: bytes::Bytes) -> registry_core::Result<()> {
    /// let open = |offset: u64| {
    ///     let rest = data.slice(offset as usize..);
    ///     async move { Ok(Box::pin(futures::stream::iter([Ok(rest)])) as registry_core::ByteStream) }
    /// };
    /// api.upload_blob_from(&repo, &digest, 4, open).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_blob_from<F, Fut>(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        open: F,
    ) -> Result<BlobPushed>
    where
        F: Fn(u64) -> Fut + Send + Sync,
        Fut: Future<Output = Result<ByteStream>> + Send,
    {
        self.upload(repo, digest, size, None, Some(&open), None).await
    }

    /// Upload a blob of known `size` and `digest` from `body`, the way the [transfer
    /// settings](RegistryApi::transfer_config) say: in one streamed PUT up to the threshold, in chunks above it.
    /// A chunked upload (in chunks of [`held_chunk_size`](crate::api::TransferConfig::held_chunk_size)) resumes after a
    /// failed chunk from the chunk it holds in memory; as `body` cannot be read twice, a failure that needs a fresh
    /// start is final (see [`RegistryApi::upload_blob_from`]). The digest is checked over the bytes sent before the
    /// blob is committed: a mismatch is [`ErrorKind::DigestMismatch`] and nothing is committed.
    pub async fn upload_blob(&self, repo: &Repository, digest: &Digest, size: u64, body: ByteStream) -> Result<()> {
        self.upload(repo, digest, size, Some(body), None::<&NoReopen>, None).await.map(|_| ())
    }

    /// Upload a blob into an open `session` (from a [`MountOutcome::Upload`]), reading it from `open` like
    /// [`RegistryApi::upload_blob_from`].
    pub async fn upload_blob_in<F, Fut>(
        &self,
        session: UploadSession,
        digest: &Digest,
        size: u64,
        open: F,
    ) -> Result<BlobPushed>
    where
        F: Fn(u64) -> Fut + Send + Sync,
        Fut: Future<Output = Result<ByteStream>> + Send,
    {
        let repo = session.repository.clone();
        self.upload(&repo, digest, size, None, Some(&open), Some(session)).await
    }

    async fn upload<F, Fut>(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        body: Option<ByteStream>,
        reopen: Option<&F>,
        session: Option<UploadSession>,
    ) -> Result<BlobPushed>
    where
        F: Fn(u64) -> Fut + Send + Sync,
        Fut: Future<Output = Result<ByteStream>> + Send,
    {
        let job = Job {
            api: self,
            repo,
            digest,
            size,
            reopen,
            config: self.transfer.clone(),
            recoveries: 0,
            journaled: false,
            confirmed: 0,
        };
        let span = tracing::debug_span!("blob_upload", %digest, size, repo = %repo);
        job.run(body, session).instrument(span).await
    }

    /// Get blob `digest` into `target`: mounted from `from` when the registry agrees, else uploaded from `open` (into
    /// the session the registry opened, or a new one when the mount itself was refused for lack of rights).
    pub async fn mount_or_upload<F, Fut>(
        &self,
        target: &Repository,
        digest: &Digest,
        size: u64,
        from: &Repository,
        open: F,
    ) -> Result<BlobPushed>
    where
        F: Fn(u64) -> Fut + Send + Sync,
        Fut: Future<Output = Result<ByteStream>> + Send,
    {
        let session = match self.mount_blob(target, digest, from).await {
            Ok(MountOutcome::Mounted) => return Ok(BlobPushed::Mounted),
            Ok(MountOutcome::Upload(session)) => Some(session),
            Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Denied) => {
                tracing::debug!(%digest, error = %e, "mount refused; uploading");
                None
            }
            Err(e) => return Err(e),
        };
        self.upload(target, digest, size, None, Some(&open), session).await
    }
}
