//! `/v2/<name>/blobs/<digest>`: HEAD and GET (streamed and verified).

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderValue, CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};

use super::headers::{header_length, parse_length};
use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::digest::{skip_bytes, ByteStream, Digest, VerifyingStream};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Repository;
use crate::transport::request::Request;
use crate::transport::response::{from_reqwest, head_refused, redact_url};
use crate::transport::retry::{worth_retrying, Again};

/// A blob download that resumes where its connection broke.
struct Download {
    api: RegistryApi,
    repo: Repository,
    digest: Digest,
    /// The blob's URL on the registry (resumes ask it again, not a redirect target that may have expired).
    url: url::Url,
    size: Option<u64>,
    body: ByteStream,
    /// Bytes handed to the consumer so far.
    delivered: u64,
    resumes: u32,
    max_resumes: u32,
    done: bool,
}

/// The body of `resp` as a stream of this crate's errors.
fn body_stream(resp: reqwest::Response) -> ByteStream {
    let what = format!("GET {}", redact_url(resp.url()));
    Box::pin(resp.bytes_stream().map_err(move |e| from_reqwest(e, &what)))
}

impl Download {
    /// The next piece of the blob, resuming as needed; `None` at the end.
    async fn next_piece(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        loop {
            let broken = match self.body.next().await {
                Some(Ok(piece)) => {
                    if piece.is_empty() {
                        continue;
                    }
                    if let Some(size) = self.size {
                        if self.delivered + piece.len() as u64 > size {
                            return self.fail(Error::new(
                                ErrorKind::DigestMismatch,
                                format!(
                                    "blob {} from {} is longer than its size {size}: the registry sends more",
                                    self.digest, self.repo
                                ),
                            ));
                        }
                    }
                    self.delivered += piece.len() as u64;
                    return Some(Ok(piece));
                }
                Some(Err(e)) if worth_retrying(&e, Again::Rest) => e,
                Some(Err(e)) => return self.fail(e),
                None => match self.size {
                    Some(size) if self.delivered < size => {
                        Error::new(ErrorKind::Io, format!("the body ended after {} of {size} bytes", self.delivered))
                    }
                    _ => {
                        self.done = true;
                        return None;
                    }
                },
            };
            if let Err(e) = self.resume(broken).await {
                return self.fail(e);
            }
        }
    }

    /// The download as a stream of pieces.
    fn into_stream(self) -> ByteStream {
        Box::pin(futures::stream::unfold(self, |mut d| async move {
            let item = d.next_piece().await?;
            Some((item, d))
        }))
    }

    fn fail(&mut self, e: Error) -> Option<Result<Bytes>> {
        self.done = true;
        Some(Err(e))
    }

    /// Ask for the rest of the blob after the body broke with `cause`.
    async fn resume(&mut self, cause: Error) -> Result<()> {
        let mut cause = cause;
        loop {
            if self.resumes >= self.max_resumes {
                return Err(cause.context(format!(
                    "download blob {} from {}: broken at byte {} after {} resumes",
                    self.digest, self.repo, self.delivered, self.resumes
                )));
            }
            self.resumes += 1;
            tracing::warn!(
                digest = %self.digest, offset = self.delivered, resume = self.resumes, error = %cause,
                "blob download broke; resuming"
            );
            match self.request_rest().await {
                Ok(()) => return Ok(()),
                Err(e) if worth_retrying(&e, Again::Rest) => cause = e,
                Err(e) => return Err(e),
            }
        }
    }

    /// GET the blob from `delivered` on, and check the answer starts there.
    async fn request_rest(&mut self) -> Result<()> {
        let offset = self.delivered;
        let what = if self.resumes == 0 {
            format!("get blob {} from {} at byte {offset}", self.digest, self.repo)
        } else {
            format!("resume blob {} from {} at byte {offset}", self.digest, self.repo)
        };
        let mut req = Request::new(Method::GET, self.url.clone(), Scope::pull(self.repo.path()));
        if offset > 0 {
            let range = HeaderValue::from_str(&format!("bytes={offset}-"))
                .map_err(|_| Error::invalid_input("bad Range header"))?;
            req = req.header(RANGE, range);
        }
        let resp = self.api.transport.send(req).await.map_err(|e| e.context(&what))?;
        // Bytes at the start of the body that were delivered already (a registry that ignored the `Range`).
        let skip = match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let header = resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                let (start, total) = parse_content_range(header).ok_or_else(|| {
                    Error::protocol(format!("{what}: the registry answered 206 with Content-Range {header:?}"))
                })?;
                if start != offset {
                    return Err(Error::protocol(format!(
                        "{what}: the registry answered bytes from {start}, not {offset}"
                    )));
                }
                if self.size.is_none() {
                    self.size = total;
                }
                if let (Some(size), Some(total)) = (self.size, total) {
                    if size != total {
                        return Err(Error::new(
                            ErrorKind::DigestMismatch,
                            format!("{what}: the registry says the blob is {total} bytes, expected {size}"),
                        ));
                    }
                }
                0
            }
            StatusCode::OK => {
                if offset > 0 {
                    tracing::info!(digest = %self.digest, offset, "registry ignored the Range; skipping what was delivered");
                }
                if let (Some(size), Some(len)) = (self.size, resp.content_length()) {
                    if size != len {
                        return Err(Error::new(
                            ErrorKind::DigestMismatch,
                            format!("{what}: the registry sends {len} bytes, expected {size}"),
                        ));
                    }
                }
                if self.size.is_none() {
                    self.size = resp.content_length();
                }
                offset
            }
            other => {
                return Err(Error::protocol(format!("{what}: unexpected answer {other}")).with_status(other.as_u16()))
            }
        };
        self.body = skip_bytes(body_stream(resp), skip);
        Ok(())
    }
}

/// The start and total of `Content-Range: bytes <start>-<end>/<total or *>`.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start = parse_length(start)?;
    let end = parse_length(end)?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(parse_length(t)?),
    };
    // The last byte lies inside the blob.
    if total.is_some_and(|t| end >= t) {
        return None;
    }
    Some((start, total))
}

impl RegistryApi {
    fn blob_url(&self, repo: &Repository, digest: &Digest) -> Result<url::Url> {
        self.transport.url(&format!("/v2/{}/blobs/{digest}", repo.path()))
    }

    /// HEAD a blob: `Ok(Some(size))` when it exists, `Ok(None)` when the registry answers 404.
    ///
    /// On a registry whose HEAD does not work (answered 405 or 501, remembered in the capabilities as
    /// `head_unusable`) the blob is asked with a GET of its first byte (`Range: bytes=0-0`) whose body is not
    /// read: the size comes from `Content-Range` (or `Content-Length` when the range is ignored).
    pub async fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<Option<u64>> {
        let caps = self.transport.capabilities();
        let result = if caps.snapshot().head_unusable {
            self.blob_exists_by_get(repo, digest).await
        } else {
            let req = Request::new(Method::HEAD, self.blob_url(repo, digest)?, Scope::pull(repo.path()));
            match self.transport.send(req).await {
                Ok(resp) => Ok(Some(header_length(&resp).unwrap_or(0))),
                Err(e) if head_refused(&e) => {
                    caps.learn(&format!("HEAD of blob {digest} answered {}", e.status().unwrap_or_default()), |c| {
                        c.head_unusable = true
                    });
                    self.blob_exists_by_get(repo, digest).await
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(size) => Ok(size),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.context(format!("check blob {digest} in {repo}"))),
        }
    }

    /// [`RegistryApi::blob_exists`] with a GET of the first byte, its body left unread.
    async fn blob_exists_by_get(&self, repo: &Repository, digest: &Digest) -> Result<Option<u64>> {
        let req = Request::new(Method::GET, self.blob_url(repo, digest)?, Scope::pull(repo.path()))
            .header(RANGE, HeaderValue::from_static("bytes=0-0"));
        match self.transport.send(req).await {
            Ok(resp) if resp.status() == StatusCode::PARTIAL_CONTENT => {
                let total = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range)
                    .and_then(|(_, total)| total);
                Ok(Some(total.unwrap_or(0)))
            }
            Ok(resp) => Ok(Some(header_length(&resp).unwrap_or(0))),
            // Only an empty blob has no first byte.
            Err(e) if e.status() == Some(416) => Ok(Some(0)),
            Err(e) => Err(e),
        }
    }

    /// GET a blob as a stream that is verified against `digest` (and `size` when known): the consumer gets an
    /// error instead of the last chunk when the content does not match. Never buffered whole.
    ///
    /// A download whose connection breaks resumes with `Range: bytes=<offset>-` (up to
    /// [`TransferConfig::download_resumes`](super::TransferConfig::download_resumes) times), accepting a 206 only when
    /// its `Content-Range` starts at that offset; a registry that answers 200 instead sends the blob from the start,
    /// and the bytes already delivered are skipped. The digest covers exactly the bytes delivered, across resumes.
    pub async fn get_blob(&self, repo: &Repository, digest: &Digest, size: Option<u64>) -> Result<ByteStream> {
        let download = self.download(repo, digest, size, 0).await?;
        let size = download.size;
        Ok(Box::pin(VerifyingStream::new(download.into_stream(), digest.clone(), size)))
    }

    /// GET blob `digest` of `size` bytes from byte `offset` on, **not hashed**: for a consumer that computes the
    /// digest itself before trusting the content, such as an upload, which checks it before committing (so a copy
    /// between registries hashes each byte once, not twice). Everything else is as in [`RegistryApi::get_blob`]:
    /// the size is checked (a body that ends early or runs past `size` is an error) and a broken connection
    /// resumes with `Range`.
    pub async fn get_blob_unverified(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        offset: u64,
    ) -> Result<ByteStream> {
        if offset > size {
            return Err(Error::invalid_input(format!(
                "blob {digest} in {repo}: offset {offset} is past its size {size}"
            )));
        }
        if offset == size {
            return Ok(Box::pin(futures::stream::empty()));
        }
        Ok(self.download(repo, digest, Some(size), offset).await?.into_stream())
    }

    /// Start a download of `digest` at byte `offset`.
    async fn download(&self, repo: &Repository, digest: &Digest, size: Option<u64>, offset: u64) -> Result<Download> {
        let url = self.blob_url(repo, digest)?;
        let mut download = Download {
            api: self.clone(),
            repo: repo.clone(),
            digest: digest.clone(),
            url,
            size,
            body: Box::pin(futures::stream::empty()),
            delivered: offset,
            resumes: 0,
            max_resumes: self.transfer.download_resumes,
            done: false,
        };
        download.request_rest().await.map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                e.context(format!("blob {digest} not found in {repo}"))
            } else {
                e
            }
        })?;
        Ok(download)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 10-19/20"), Some((10, Some(20))));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        for bad in ["", "10-19/20", "bytes 19-10/20", "bytes x-1/2", "bytes 1-2", "bytes 1-2/x"] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
        // Numbers the server chose: a range past the total, or past u64, is no range.
        for bad in ["bytes 0-20/20", "bytes 0-18446744073709551616/*", "bytes -1-5/9", "bytes +1-5/9"] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
        assert_eq!(parse_content_range("bytes 0-18446744073709551614/18446744073709551615"), Some((0, Some(u64::MAX))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_content_range_parses_without_panic(text in "(bytes )?[0-9*/ +-]{0,50}|\\PC*") {
            if let Some((start, total)) = parse_content_range(&text) {
                proptest::prop_assert!(total.is_none_or(|t| start < t));
            }
        }

        #[test]
        fn content_range_round_trips(a: u64, b: u64, c: u64, star: bool) {
            let mut v = [a, b, c];
            v.sort_unstable();
            let [start, end, total] = v;
            let text = if star { format!("bytes {start}-{end}/*") } else { format!("bytes {start}-{end}/{total}") };
            let want = if star { Some((start, None)) } else if end < total { Some((start, Some(total))) } else { None };
            proptest::prop_assert_eq!(parse_content_range(&text), want);
        }
    }
}
