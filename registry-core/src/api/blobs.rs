//! `/v2/<name>/blobs/<digest>`: HEAD and GET (streamed and verified).

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;

use super::RegistryApi;
use crate::auth::Scope;
use crate::digest::{ByteStream, Digest, VerifyingStream};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::{redact_url, response::from_reqwest, Request};

impl RegistryApi {
    fn blob_url(&self, repo: &Repository, digest: &Digest) -> Result<url::Url> {
        self.transport.url(&format!("/v2/{}/blobs/{digest}", repo.path()))
    }

    /// HEAD a blob: `Ok(Some(size))` when it exists, `Ok(None)` when the registry answers 404.
    pub async fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<Option<u64>> {
        let req = Request::new(Method::HEAD, self.blob_url(repo, digest)?, Scope::pull(repo.path()));
        match self.transport.send(req).await {
            Ok(resp) => Ok(Some(super::header_length(&resp).unwrap_or(0))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.context(format!("check blob {digest} in {repo}"))),
        }
    }

    /// GET a blob as a stream that is verified against `digest` (and `size` when known): the consumer gets an
    /// error instead of the last chunk when the content does not match. Never buffered whole.
    pub async fn get_blob(&self, repo: &Repository, digest: &Digest, size: Option<u64>) -> Result<ByteStream> {
        let req = Request::new(Method::GET, self.blob_url(repo, digest)?, Scope::pull(repo.path()));
        let resp = self.transport.send(req).await.map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                e.context(format!("blob {digest} not found in {repo}"))
            } else {
                e.context(format!("get blob {digest} from {repo}"))
            }
        })?;
        if let (Some(expected), Some(len)) = (size, resp.content_length()) {
            if expected != len {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("blob {digest} in {repo}: registry sends {len} bytes, expected {expected}"),
                ));
            }
        }
        let size = size.or(resp.content_length());
        let url = redact_url(resp.url());
        let what = format!("GET {url}");
        let stream = Box::pin(resp.bytes_stream().map_err(move |e| from_reqwest(e, &what)));
        Ok(Box::pin(VerifyingStream::new(stream, digest.clone(), size)))
    }

    /// GET a small blob (a config) into memory, verified, failing if it is larger than `max` bytes.
    pub async fn get_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: Option<u64>,
        max: usize,
    ) -> Result<Bytes> {
        if let Some(s) = size {
            if s > max as u64 {
                return Err(Error::unsupported(format!("blob {digest} is {s} bytes, over the {max} byte limit")));
            }
        }
        let mut stream = self.get_blob(repo, digest, size).await?;
        let mut out = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > max {
                return Err(Error::unsupported(format!("blob {digest} exceeds the {max} byte limit")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}
