//! Upload sessions (`/v2/<name>/blobs/uploads/`): opening one, asking how far it got, sending a chunk, closing and
//! cancelling it, and cross-repository mounts; and reading the registry's answers (`Range`, `Location`,
//! `Docker-Content-Digest`).

use reqwest::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::api::headers::{parse_length, DOCKER_CONTENT_DIGEST};
use crate::api::registry_api::RegistryApi;
use crate::api::transfer::{MountOutcome, UploadSession};
use crate::auth::scope::Scope;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::request::{Body, Request};

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
            .and_then(parse_length)
            .filter(|n| *n > 0);
        if let Some(n) = min_chunk {
            self.transport
                .capabilities()
                .learn("an upload session announced OCI-Chunk-Min-Length", |c| c.chunk_min_length = Some(n));
        }
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

    /// Ask the registry to mount blob `digest` from repository `from` into `target` (same registry), with one token
    /// for both (a mount scope). [`MountOutcome::Mounted`] when it did (201); [`MountOutcome::Upload`] with the
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
}

/// The `Range` header of an upload answer as sent (for messages).
pub(crate) fn upload_range(resp: &reqwest::Response) -> Option<&str> {
    resp.headers().get(RANGE).and_then(|v| v.to_str().ok()).map(str::trim)
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
    parse_length(end)
}

/// The offset after a `Range: 0-<end>` answer to a request that sent up to `sent`. `0-0` means zero or one byte
/// (distribution writes it for both): one when the request sent any.
pub(crate) fn offset_after(end: u64, sent: u64) -> u64 {
    if end == 0 {
        sent.min(1)
    } else {
        end.saturating_add(1)
    }
}

/// Check the digest the registry says it committed (`Docker-Content-Digest`) against `digest`.
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

    #[test]
    fn zero_zero_is_ambiguous() {
        assert_eq!(offset_after(0, 0), 0);
        assert_eq!(offset_after(0, 10), 1);
        assert_eq!(offset_after(9, 10), 10);
        assert_eq!(
            offset_after(u64::MAX, 10),
            u64::MAX,
            "saturates; the uploader then refuses an offset past what it sent"
        );
        assert_eq!(parse_upload_range("0-18446744073709551616"), None);
        assert_eq!(parse_upload_range("0-+5"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_upload_range_parses_without_panic(text in "(bytes=)?[0-9 +-]{0,45}|\\PC*", sent: u64) {
            if let Some(end) = parse_upload_range(&text) {
                let _ = offset_after(end, sent);
            }
        }

        #[test]
        fn upload_range_round_trips(end: u64, prefix: bool) {
            let text = if prefix { format!("bytes=0-{end}") } else { format!("0-{end}") };
            proptest::prop_assert_eq!(parse_upload_range(&text), Some(end));
        }
    }
}
