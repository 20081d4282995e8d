//! `/v2/<name>/blobs/uploads/`: monolithic upload of a body of known size (POST, then PUT streaming the body), and
//! streamed upload of a body of unknown size (POST, PATCH streaming the body chunked, then PUT with the digest
//! computed on the way).

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::Method;
use url::Url;

use super::headers::DOCKER_CONTENT_DIGEST;
use super::RegistryApi;
use crate::auth::Scope;
use crate::digest::{Algorithm, ByteStream, Digest, DigestHasher};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::{Body, Request};

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl RegistryApi {
    /// Start an upload session; returns its location.
    pub async fn start_upload(&self, repo: &Repository) -> Result<Url> {
        let url = self.transport.url(&format!("/v2/{}/blobs/uploads/", repo.path()))?;
        // Starting a session twice is harmless, so the POST may be retried.
        let req = Request::new(Method::POST, url.clone(), Scope::push(repo.path())).idempotent(true);
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("start upload to {repo}")))?;
        self.location(&url, &resp, "upload location")
    }

    fn location(&self, current: &Url, resp: &reqwest::Response, what: &str) -> Result<Url> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::protocol(format!("registry answered {} without a Location", resp.status())))?;
        self.transport.resolve_same_origin(current, loc, what)
    }

    /// Upload a blob of known `size` and `digest` from `body`, in one streamed PUT. The registry verifies the
    /// digest; a mismatch is [`ErrorKind::DigestMismatch`] and nothing is committed.
    pub async fn upload_blob(&self, repo: &Repository, digest: &Digest, size: u64, body: ByteStream) -> Result<()> {
        let location = self.start_upload(repo).await?;
        let mut url = location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = Request::new(Method::PUT, url.clone(), Scope::push(repo.path()))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream { stream: Some(body), length: Some(size) });
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("upload blob {digest} to {repo}")))?;
        check_committed(&resp, digest)
    }

    /// Upload a blob of unknown size from `body`: one PATCH streams it (chunked), the digest is computed on the
    /// way, and the closing PUT names it. Returns the digest and size.
    pub async fn upload_blob_stream(&self, repo: &Repository, body: ByteStream) -> Result<(Digest, u64)> {
        let location = self.start_upload(repo).await?;
        let state = Arc::new(Mutex::new((DigestHasher::new(Algorithm::Sha256), 0u64)));
        let tap = state.clone();
        let hashed: ByteStream = Box::pin(body.map(move |chunk| {
            if let Ok(c) = &chunk {
                if let Ok(mut s) = tap.lock() {
                    s.0.update(c);
                    s.1 += c.len() as u64;
                }
            }
            chunk
        }));
        let req = Request::new(Method::PATCH, location.clone(), Scope::push(repo.path()))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream { stream: Some(hashed), length: None });
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("upload blob to {repo}")))?;
        let next = self.location(&location, &resp, "upload location")?;
        let (digest, size) = {
            let guard = state.lock().map_err(|_| Error::protocol("upload hasher poisoned"))?;
            (guard.0.clone().finish(), guard.1)
        };
        let mut url = next;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = Request::new(Method::PUT, url, Scope::push(repo.path()))
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Bytes(bytes::Bytes::new()))
            .idempotent(false);
        let resp =
            self.transport.send(req).await.map_err(|e| e.context(format!("complete upload of {digest} to {repo}")))?;
        check_committed(&resp, &digest)?;
        Ok((digest, size))
    }
}

fn check_committed(resp: &reqwest::Response, digest: &Digest) -> Result<()> {
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
