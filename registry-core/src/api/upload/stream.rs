//! The upload of a blob of unknown size from a one-time stream ([`RegistryApi::upload_blob_stream`]).
//!
//! The stream is cut into chunks of [`TransferConfig::held_chunk_size`](crate::api::TransferConfig::held_chunk_size)
//! bytes, each hashed as it is read and held until the registry has it, so a failed `PATCH` (connection dropped,
//! 5xx, 429, 401, 416) is resumed from the registry's offset, as in a sized upload. What cannot be done is starting
//! over: the bytes of earlier chunks are gone. A registry that lost the session (404) therefore ends the upload
//! with an error saying so. When the registry demands chunks larger than this client holds, the stream goes in
//! one unresumable `PATCH`.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use url::Url;

use tracing::Instrument;

use super::progress::Progress;
use super::recovery::exhausted;
use super::session::{check_committed, offset_after, upload_end, upload_range, OCTET_STREAM};
use crate::api::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::digest::{Algorithm, ByteStream, Digest, DigestHasher};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::request::{Body, Request};
use crate::transport::retry::{worth_retrying, Again};

/// One upload of a stream of unknown size to `repo`.
struct StreamUpload<'a> {
    api: &'a RegistryApi,
    repo: &'a Repository,
    /// Recoveries so far.
    recoveries: u32,
    /// Whether the registry's confirmed offset grows.
    progress: Progress,
}

/// The source, read a chunk at a time and hashed on the way.
struct Chunks {
    body: ByteStream,
    /// Bytes taken from the body past the end of the last chunk.
    pending: Option<Bytes>,
    hasher: DigestHasher,
    ended: bool,
}

impl Chunks {
    /// The next up to `max` bytes; empty at the end.
    async fn next(&mut self, max: usize) -> Result<Bytes> {
        let mut out = BytesMut::new();
        while out.len() < max {
            let mut piece = match self.pending.take() {
                Some(p) => p,
                None if self.ended => break,
                None => match self.body.next().await {
                    Some(piece) => piece?,
                    None => {
                        self.ended = true;
                        break;
                    }
                },
            };
            let room = max - out.len();
            if piece.len() > room {
                self.pending = Some(piece.split_off(room));
            }
            self.hasher.update(&piece);
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }
}

impl<'a> StreamUpload<'a> {
    fn new(api: &'a RegistryApi, repo: &'a Repository) -> StreamUpload<'a> {
        StreamUpload { api, repo, recoveries: 0, progress: Progress::default() }
    }

    fn what(&self) -> String {
        format!("upload a blob stream to {}", self.repo)
    }

    async fn run(mut self, body: ByteStream) -> Result<(Digest, u64)> {
        let session = self.api.open_session(self.repo).await.map_err(|e| e.context(self.what()))?;
        let Some(chunk) = self.api.transfer.chunk_for(session.min_chunk, true) else {
            return self.once(session.location, body).await;
        };
        // `chunk` is at most MAX_REGISTRY_CHUNK or MAX_CHUNK_SIZE, both far below usize::MAX.
        let chunk = usize::try_from(chunk).unwrap_or(usize::MAX);
        let mut chunks = Chunks { body, pending: None, hasher: DigestHasher::new(Algorithm::Sha256), ended: false };
        let mut location = session.location;
        let mut offset = 0u64;
        loop {
            let data = match chunks.next(chunk).await {
                Ok(d) => d,
                Err(e) => {
                    self.api.cancel_location(self.repo, &location).await;
                    return Err(e.context(format!("{}: reading the stream at byte {offset}", self.what())));
                }
            };
            if data.is_empty() {
                break;
            }
            let end = offset + data.len() as u64;
            location = match self.send(location.clone(), offset, data).await {
                Ok(next) => next,
                Err(e) => {
                    if e.kind() != ErrorKind::NotFound {
                        self.api.cancel_location(self.repo, &location).await;
                    }
                    return Err(e);
                }
            };
            offset = end;
        }
        let digest = chunks.hasher.finish();
        self.commit(location, &digest).await?;
        Ok((digest, offset))
    }

    /// Send `data`, bytes `offset..` of the blob, resuming from the registry's offset after a failure. Returns
    /// where the upload continues.
    async fn send(&mut self, mut location: Url, offset: u64, data: Bytes) -> Result<Url> {
        let end = offset + data.len() as u64;
        let mut from = offset;
        loop {
            // `from - offset` is at most `data.len()`, a usize.
            let part = data.slice((from - offset) as usize..);
            let failure = match self.api.patch_chunk(self.repo, &location, from, end, Body::Bytes(part)).await {
                Ok(resp) => {
                    location = self.api.next_location(&location, &resp)?;
                    // Any success (202, or 201 as ECR answers a chunk) is a chunk taken as far as its `Range` says.
                    let got = upload_end(&resp).map_or(end, |e| offset_after(e, end));
                    self.progress.record(got, upload_range(&resp)).map_err(|e| e.context(self.what()))?;
                    if got == end {
                        return Ok(location);
                    }
                    Error::protocol(format!("the registry took bytes up to {got} of a chunk ending at {end}"))
                }
                Err(e) => e,
            };
            let failure = failure.context(format!("{}: chunk {from}-{}", self.what(), end - 1));
            if failure.kind() == ErrorKind::NotFound {
                return Err(failure.context("the registry lost the upload, and a stream cannot be read again"));
            }
            // An answer that breaks the protocol (a short take among them) is resumed like a failed chunk: the
            // registry is asked how far it got.
            if failure.kind() != ErrorKind::Protocol && !worth_retrying(&failure, Again::Upload) {
                return Err(failure);
            }
            self.spend(&failure).await?;
            tracing::warn!(
                offset = from, recovery = self.recoveries, error = %failure,
                "chunk upload failed; asking the registry how far it got"
            );
            let (got, fresh) = self.api.upload_progress(self.repo, &location, from).await.map_err(|e| {
                e.context(format!("{}: the upload cannot continue, and a stream cannot be read again", self.what()))
            })?;
            if got < offset || got > end {
                return Err(Error::protocol(format!(
                    "{}: the registry holds {got} bytes; the stream is held only from byte {offset} to {end}, and \
                     cannot be read again",
                    self.what()
                )));
            }
            location = fresh;
            from = got;
            tracing::info!(offset = from, "blob upload resumes");
        }
    }

    /// Count one recovery and wait before it; an error when none is left.
    async fn spend(&mut self, cause: &Error) -> Result<()> {
        self.recoveries += 1;
        let config = &self.api.transfer;
        if self.recoveries > config.upload_retries {
            return Err(
                exhausted(cause, self.recoveries).context(format!("giving up after {} attempts", self.recoveries))
            );
        }
        tokio::time::sleep(config.wait_before(self.recoveries, cause)).await;
        Ok(())
    }

    /// The closing PUT naming `digest`, tried again after a failure unless the blob turns out to be there.
    async fn commit(&mut self, location: Url, digest: &Digest) -> Result<()> {
        loop {
            let failure = match self.api.close_upload(self.repo, &location, digest, Body::Bytes(Bytes::new())).await {
                Ok(resp) => return check_committed(&resp, digest),
                Err(e) => e.context(format!("complete upload of {digest} to {}", self.repo)),
            };
            // Perhaps committed by an attempt whose answer was lost.
            if matches!(self.api.blob_exists(self.repo, digest).await, Ok(Some(_))) {
                return Ok(());
            }
            if !worth_retrying(&failure, Again::Upload) {
                self.api.cancel_location(self.repo, &location).await;
                return Err(failure);
            }
            self.spend(&failure).await?;
        }
    }

    /// The whole stream in one `PATCH` (chunked transfer encoding), hashed on the way, then the closing PUT. Not
    /// resumable: nothing of the stream is held.
    async fn once(mut self, location: Url, body: ByteStream) -> Result<(Digest, u64)> {
        let state = Arc::new(Mutex::new((DigestHasher::new(Algorithm::Sha256), 0u64)));
        let tap = state.clone();
        let hashed: ByteStream = Box::pin(body.map(move |chunk| {
            if let Ok(c) = &chunk {
                let mut s = tap.lock().unwrap_or_else(PoisonError::into_inner);
                s.0.update(c);
                s.1 += c.len() as u64;
            }
            chunk
        }));
        let req = Request::new(Method::PATCH, location.clone(), Scope::push(self.repo.path()))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream { stream: Some(hashed), length: None });
        let resp = self.api.transport.send(req).await.map_err(|e| e.context(self.what()))?;
        let next = self.api.next_location(&location, &resp)?;
        let (digest, size) = {
            let guard = state.lock().unwrap_or_else(PoisonError::into_inner);
            (guard.0.clone().finish(), guard.1)
        };
        self.commit(next, &digest).await?;
        Ok((digest, size))
    }
}

impl RegistryApi {
    /// Upload a blob of unknown size from `body`, computing its digest on the way; returns the digest and size.
    /// The stream is sent in chunks of [`held_chunk_size`](crate::api::TransferConfig::held_chunk_size) bytes, each held
    /// until the registry has it, so a failed chunk resumes from the registry's offset; as the stream cannot be read
    /// twice, a registry that lost the session ends the upload with an error (see [`RegistryApi::upload_blob_from`]
    /// for a source that can be read again).
    pub async fn upload_blob_stream(&self, repo: &Repository, body: ByteStream) -> Result<(Digest, u64)> {
        let span = tracing::debug_span!("blob_stream_upload", repo = %repo);
        StreamUpload::new(self, repo).run(body).instrument(span).await
    }
}
