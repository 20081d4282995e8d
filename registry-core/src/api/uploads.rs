//! `/v2/<name>/blobs/uploads/`: upload sessions, blob uploads that survive failures (one streamed PUT for small
//! blobs, resumable chunks for large ones, see [`TransferConfig`](super::TransferConfig)), cross-repository mounts,
//! and the streamed upload of a body of unknown size.

use std::future::Future;

use reqwest::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use tracing::Instrument;
use url::Url;

use super::headers::DOCKER_CONTENT_DIGEST;
use super::transfer::{BlobPushed, MountOutcome, UploadSession};
use super::upload_job::{offset_after, Job, NoReopen};
use super::upload_stream::StreamUpload;
use super::RegistryApi;
use crate::auth::Scope;
use crate::digest::{ByteStream, Digest};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::{Body, Request};

pub(crate) const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// The smallest chunk a registry accepts (OCI distribution spec), sent with the session.
const OCI_CHUNK_MIN_LENGTH: &str = "oci-chunk-min-length";

impl RegistryApi {
    /// Start an upload session; returns its location.
    pub async fn start_upload(&self, repo: &Repository) -> Result<Url> {
        Ok(self.open_session(repo).await?.location)
    }

    /// Start an upload session.
    pub(crate) async fn open_session(&self, repo: &Repository) -> Result<UploadSession> {
        let url = self.transport.url(&format!("/v2/{}/blobs/uploads/", repo.path()))?;
        // Starting a session twice is harmless, so the POST may be retried.
        let req = Request::new(Method::POST, url.clone(), Scope::push(repo.path())).idempotent(true);
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("start upload to {repo}")))?;
        self.session(repo, &url, &resp)
    }

    fn session(&self, repo: &Repository, current: &Url, resp: &reqwest::Response) -> Result<UploadSession> {
        let location = self.location(current, resp, "upload location")?;
        let min_chunk = resp
            .headers()
            .get(OCI_CHUNK_MIN_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0);
        Ok(UploadSession { repository: repo.clone(), location, min_chunk })
    }

    fn location(&self, current: &Url, resp: &reqwest::Response, what: &str) -> Result<Url> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::protocol(format!("registry answered {} without a Location", resp.status())))?;
        self.transport.resolve_same_origin(current, loc, what)
    }

    /// Where an upload continues after `resp`: its `Location`, or `current` when it sent none.
    pub(crate) fn next_location(&self, current: &Url, resp: &reqwest::Response) -> Result<Url> {
        match resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            Some(loc) => self.transport.resolve_same_origin(current, loc, "upload location"),
            None => Ok(current.clone()),
        }
    }

    /// Ask how far the upload at `location` got: the offset the registry has (`Range: 0-<end>`; `confirmed` is what
    /// the client knew it had, to read the ambiguous `0-0`) and where to continue.
    pub(crate) async fn upload_progress(
        &self,
        repo: &Repository,
        location: &Url,
        confirmed: u64,
    ) -> Result<(u64, Url)> {
        let req = Request::new(Method::GET, location.clone(), Scope::push(repo.path()));
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("upload status in {repo}")))?;
        let offset = match upload_end(&resp) {
            Some(end) => offset_after(end, confirmed),
            None => return Err(Error::protocol(format!("upload status in {repo}: the registry sent no Range"))),
        };
        Ok((offset, self.next_location(location, &resp)?))
    }

    /// Send bytes `start..end` of a blob to the upload at `location` (`PATCH` with `Content-Range`).
    pub(crate) async fn patch_chunk(
        &self,
        repo: &Repository,
        location: &Url,
        start: u64,
        end: u64,
        body: Body,
    ) -> Result<reqwest::Response> {
        let range = HeaderValue::from_str(&format!("{start}-{}", end - 1))
            .map_err(|_| Error::invalid_input("bad Content-Range"))?;
        let body = match body {
            Body::Stream { stream, .. } => Body::Stream { stream, length: Some(end - start) },
            other => other,
        };
        let req = Request::new(Method::PATCH, location.clone(), Scope::push(repo.path()))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_RANGE, range)
            .body(body)
            .idempotent(false);
        self.transport.send(req).await
    }

    /// Close the upload at `location` as blob `digest` (`PUT ?digest=`), sending `body` with it (the whole blob in a
    /// one-request upload, nothing after chunks).
    pub(crate) async fn close_upload(
        &self,
        repo: &Repository,
        location: &Url,
        digest: &Digest,
        body: Body,
    ) -> Result<reqwest::Response> {
        let mut url = location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req =
            Request::new(Method::PUT, url, Scope::push(repo.path())).header(CONTENT_TYPE, OCTET_STREAM).body(body);
        self.transport.send(req).await
    }

    /// Cancel the session at `location`, ignoring failures (the registry expires sessions anyway).
    pub(crate) async fn cancel_location(&self, repo: &Repository, location: &Url) {
        let req = Request::new(Method::DELETE, location.clone(), Scope::push(repo.path()));
        if let Err(e) = self.transport.send(req).await {
            tracing::debug!(error = %e, "cancelling an upload session failed");
        }
    }

    /// Cancel an upload session (`DELETE` on its location). A session the registry no longer knows is fine.
    pub async fn cancel_upload(&self, session: UploadSession) -> Result<()> {
        let req = Request::new(Method::DELETE, session.location.clone(), Scope::push(session.repository.path()));
        match self.transport.send(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.context(format!("cancel upload to {}", session.repository))),
        }
    }

    /// Upload a blob of known `size` and `digest` from `body`, the way the [transfer
    /// settings](RegistryApi::transfer_config) say: in one streamed PUT up to the threshold, in chunks above it.
    /// A chunked upload (in chunks of [`held_chunk_size`](super::TransferConfig::held_chunk_size)) resumes after a
    /// failed chunk from the chunk it holds in memory; as `body` cannot be read twice, a failure that needs a fresh
    /// start is final (see [`RegistryApi::upload_blob_from`]). The digest is checked over the bytes sent before the
    /// blob is committed: a mismatch is [`ErrorKind::DigestMismatch`] and nothing is committed.
    pub async fn upload_blob(&self, repo: &Repository, digest: &Digest, size: u64, body: ByteStream) -> Result<()> {
        self.upload(repo, digest, size, Some(body), None::<&NoReopen>, None).await.map(|_| ())
    }

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
        let job = Job { api: self, repo, digest, size, reopen, config: self.transfer.clone(), recoveries: 0 };
        let span = tracing::debug_span!("blob_upload", %digest, size, repo = %repo);
        job.run(body, session).instrument(span).await
    }

    /// Ask the registry to mount blob `digest` from repository `from` into `target` (same registry), with one token
    /// for both ([`Scope::mount`]). [`MountOutcome::Mounted`] when it did (201); [`MountOutcome::Upload`] with the
    /// session it opened instead (202).
    pub async fn mount_blob(&self, target: &Repository, digest: &Digest, from: &Repository) -> Result<MountOutcome> {
        if from.registry() != target.registry() {
            return Err(Error::invalid_input(format!(
                "cannot mount {digest} from {from} into {target}: they are on different registries"
            )));
        }
        let mut url = self.transport.url(&format!("/v2/{}/blobs/uploads/", target.path()))?;
        url.query_pairs_mut().append_pair("mount", digest.as_str()).append_pair("from", from.path());
        let req = Request::new(Method::POST, url.clone(), Scope::mount(from.path(), target.path())).idempotent(true);
        let what = format!("mount blob {digest} from {from} into {target}");
        let resp = self.transport.send(req).await.map_err(|e| e.context(&what))?;
        match resp.status() {
            StatusCode::CREATED => {
                check_committed(&resp, digest).map_err(|e| e.context(&what))?;
                tracing::debug!(%digest, %from, %target, "blob mounted");
                Ok(MountOutcome::Mounted)
            }
            StatusCode::ACCEPTED => {
                tracing::debug!(%digest, %from, %target, "registry opened an upload instead of mounting");
                Ok(MountOutcome::Upload(self.session(target, &url, &resp).map_err(|e| e.context(&what))?))
            }
            other => Err(Error::protocol(format!("{what}: unexpected answer {other}")).with_status(other.as_u16())),
        }
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

    /// Upload a blob of unknown size from `body`, computing its digest on the way; returns the digest and size.
    /// The stream is sent in chunks of [`held_chunk_size`](super::TransferConfig::held_chunk_size) bytes, each held
    /// until the registry has it, so a failed chunk resumes from the registry's offset; as the stream cannot be read
    /// twice, a registry that lost the session ends the upload with an error (see [`RegistryApi::upload_blob_from`]
    /// for a source that can be read again).
    pub async fn upload_blob_stream(&self, repo: &Repository, body: ByteStream) -> Result<(Digest, u64)> {
        let span = tracing::debug_span!("blob_stream_upload", repo = %repo);
        StreamUpload::new(self, repo).run(body).instrument(span).await
    }
}

/// The end of the `Range: 0-<end>` an upload answer reports (distribution also accepts `bytes=0-<end>`).
pub(crate) fn upload_end(resp: &reqwest::Response) -> Option<u64> {
    parse_upload_range(resp.headers().get(RANGE)?.to_str().ok()?)
}

fn parse_upload_range(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v.strip_prefix("bytes=").unwrap_or(v);
    let (start, end) = v.split_once('-')?;
    if start.trim() != "0" {
        return None;
    }
    end.trim().parse().ok()
}

pub(crate) fn check_committed(resp: &reqwest::Response, digest: &Digest) -> Result<()> {
    if let Some(h) = resp.headers().get(DOCKER_CONTENT_DIGEST).and_then(|v| v.to_str().ok()) {
        if let Ok(stored) = Digest::parse(h.trim()) {
            if stored.algorithm() == digest.algorithm() && &stored != digest {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("registry committed the blob as {stored}, expected {digest}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ranges() {
        assert_eq!(parse_upload_range("0-0"), Some(0));
        assert_eq!(parse_upload_range("0-1023"), Some(1023));
        assert_eq!(parse_upload_range("bytes=0-9"), Some(9));
        for bad in ["", "5-9", "0-", "0-x", "10"] {
            assert_eq!(parse_upload_range(bad), None, "{bad:?}");
        }
    }
}
