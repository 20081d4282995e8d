//! `/v2/<name>/manifests/<reference>`: HEAD, GET, PUT, DELETE.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;

use super::headers::{header_length, DOCKER_CONTENT_DIGEST};
use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{essence, media_type, Manifest, MAX_MANIFEST_SIZE};
use crate::reference::Reference;
use crate::transport::request::{Body, Request};
use crate::transport::response::{head_refused, read_capped};

/// What a manifest HEAD tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// The manifest's digest (`Docker-Content-Digest`, or the reference's digest).
    pub digest: Digest,
    /// Its media type (`Content-Type`).
    pub media_type: String,
    /// Its size (`Content-Length`), when given.
    pub size: Option<u64>,
}

/// A manifest as fetched, verified, before it is parsed.
struct FetchedManifest {
    bytes: Bytes,
    /// The `Content-Type` header, as sent.
    content_type: Option<String>,
    /// Its digest: the one it was checked against, else its sha256.
    digest: Digest,
}

/// What a manifest PUT tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPut {
    /// The manifest's digest (computed over the bytes pushed, and checked against `Docker-Content-Digest`).
    pub digest: Digest,
    /// The `OCI-Subject` header: the registry saw the manifest's `subject` and lists it in its referrers API. A
    /// registry without that API sends none, and the pusher keeps the referrers tag (`sha256-<hex>`) up to date.
    pub subject: Option<Digest>,
}

/// The header a registry with the referrers API answers a manifest PUT with when the manifest has a `subject`.
const OCI_SUBJECT: &str = "oci-subject";

fn header_digest(headers: &HeaderMap) -> Result<Option<Digest>> {
    match headers.get(DOCKER_CONTENT_DIGEST).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(s)) => Digest::parse(s.trim())
            .map(Some)
            .map_err(|e| e.with_kind(ErrorKind::Protocol).context("Docker-Content-Digest")),
        Some(Err(_)) => Err(Error::protocol("Docker-Content-Digest header is not ASCII")),
    }
}

impl RegistryApi {
    fn manifest_url(&self, reference: &Reference) -> Result<url::Url> {
        self.transport.url(&format!("/v2/{}/manifests/{}", reference.repository().path(), reference.identifier()))
    }

    /// HEAD a manifest. `Ok(None)` when the registry answers without a digest for a tag (then GET it).
    ///
    /// On a registry whose manifest HEAD does not work (answered 405 or 501 where GET works, remembered in the
    /// capabilities as `head_unusable`, so later calls go straight to GET) the manifest is fetched with GET
    /// instead (at most 4 MiB): its digest is that of the body (checked against a digest reference), its size the
    /// body's length. Errors: [`ErrorKind::NotFound`] for an unknown manifest, [`ErrorKind::DigestMismatch`] when
    /// the registry names or sends another digest than the reference's.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Option<ManifestHead>> {
        let caps = self.transport.capabilities();
        if caps.snapshot().head_unusable {
            return self.head_manifest_by_get(reference).await.map(Some);
        }
        match self.head_manifest_once(reference).await {
            Err(e) if head_refused(&e) => {
                let why = format!("HEAD of manifest {reference} answered {}", e.status().unwrap_or_default());
                caps.learn(&why, |c| c.head_unusable = true);
                self.head_manifest_by_get(reference).await.map(Some)
            }
            other => other,
        }
    }

    /// What a HEAD would tell of `reference`, from a GET ([`RegistryApi::fetch_manifest`], not parsed: a manifest of
    /// a type this client does not read still has a digest).
    async fn head_manifest_by_get(&self, reference: &Reference) -> Result<ManifestHead> {
        let fetched = self.fetch_manifest(reference).await?;
        let media_type = fetched.content_type.as_deref().map(|s| essence(s).to_string()).unwrap_or_default();
        Ok(ManifestHead { digest: fetched.digest, media_type, size: Some(fetched.bytes.len() as u64) })
    }

    /// One HEAD of a manifest.
    async fn head_manifest_once(&self, reference: &Reference) -> Result<Option<ManifestHead>> {
        let url = self.manifest_url(reference)?;
        let req = Request::new(Method::HEAD, url, Scope::pull(reference.repository().path()))
            .header(ACCEPT, HeaderValue::from_static(media_type::MANIFEST_ACCEPT));
        let resp = self.transport.send(req).await.map_err(|e| not_found_context(e, reference))?;
        let digest = match (header_digest(resp.headers())?, reference.digest()) {
            (Some(h), Some(r)) if h.algorithm() == r.algorithm() && &h != r => {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("registry answered digest {h} for {reference}"),
                ))
            }
            (_, Some(r)) => r.clone(),
            (Some(h), None) => h,
            (None, None) => return Ok(None),
        };
        let media_type = content_type(resp.headers());
        Ok(Some(ManifestHead { digest, media_type, size: header_length(&resp) }))
    }

    /// GET a manifest: size-capped, parsed, and verified against the reference's digest (or the registry's
    /// `Docker-Content-Digest` when fetched by tag).
    pub async fn get_manifest(&self, reference: &Reference) -> Result<Manifest> {
        let fetched = self.fetch_manifest(reference).await?;
        Manifest::parse(fetched.bytes, fetched.content_type.as_deref())
            .map_err(|e| e.context(format!("manifest {reference}")))
    }

    /// GET the bytes of a manifest, size-capped and verified against the reference's digest (or the registry's
    /// `Docker-Content-Digest` when fetched by tag; `DigestMismatch` when they differ), not parsed: the one fetch
    /// behind [`RegistryApi::get_manifest`] and the GET that stands in for a refused HEAD.
    async fn fetch_manifest(&self, reference: &Reference) -> Result<FetchedManifest> {
        let url = self.manifest_url(reference)?;
        let req = Request::new(Method::GET, url, Scope::pull(reference.repository().path()))
            .header(ACCEPT, HeaderValue::from_static(media_type::MANIFEST_ACCEPT));
        let resp = self.transport.send(req).await.map_err(|e| not_found_context(e, reference))?;
        let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let context = |e: Error| e.context(format!("manifest {reference}"));
        let claimed = header_digest(resp.headers()).map_err(context)?;
        let bytes = read_capped(resp, MAX_MANIFEST_SIZE, "manifest").await.map_err(context)?;
        let digest = match reference.digest().cloned().or(claimed) {
            Some(expected) if expected.matches(&bytes) => expected,
            Some(expected) => {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!(
                        "manifest {reference} has digest {}, expected {expected}",
                        Digest::compute(expected.algorithm(), &bytes)
                    ),
                ))
            }
            None => Digest::sha256(&bytes),
        };
        Ok(FetchedManifest { bytes, content_type, digest })
    }

    /// PUT a manifest's bytes under `reference` (a tag or its digest) with its media type. Returns its digest.
    /// A `tag@digest` reference is pushed by the digest only (untagged), as the digest wins everywhere: push
    /// with the tag to tag it.
    pub async fn put_manifest(&self, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<Digest> {
        Ok(self.put_manifest_with_subject(reference, media_type, bytes).await?.digest)
    }

    /// [`RegistryApi::put_manifest`], also telling whether the registry acknowledged the manifest's `subject`
    /// (`OCI-Subject`), which says it has the referrers API.
    pub async fn put_manifest_with_subject(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<ManifestPut> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(Error::invalid_input(format!(
                "manifest is {} bytes, over the 4 MiB limit ({MAX_MANIFEST_SIZE} bytes)",
                bytes.len()
            )));
        }
        let computed = Digest::sha256(&bytes);
        if let Some(d) = reference.digest() {
            if !d.matches(&bytes) {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("pushing manifest to {reference} but its content has digest {computed}"),
                ));
            }
        }
        let ct = HeaderValue::from_str(media_type)
            .map_err(|_| Error::invalid_input(format!("media type {media_type:?} is not a valid header value")))?;
        let url = self.manifest_url(reference)?;
        let req = Request::new(Method::PUT, url, Scope::push(reference.repository().path()))
            .header(CONTENT_TYPE, ct)
            .body(Body::Bytes(bytes));
        let resp = self.transport.send(req).await.map_err(|e| e.context(format!("push manifest {reference}")))?;
        if let Some(d) = header_digest(resp.headers())? {
            if d.algorithm() == computed.algorithm() && d != computed {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("registry stored manifest {reference} as {d}, but its content has digest {computed}"),
                ));
            }
        }
        // A malformed OCI-Subject only loses the hint: the pusher then maintains the referrers tag as well.
        let subject =
            resp.headers().get(OCI_SUBJECT).and_then(|v| v.to_str().ok()).and_then(|s| Digest::parse(s.trim()).ok());
        if subject.is_some() {
            self.transport
                .capabilities()
                .learn("a manifest PUT was answered with OCI-Subject", |c| c.referrers_api = Some(true));
        }
        Ok(ManifestPut { digest: computed, subject })
    }

    /// DELETE the manifest `reference` points to: by digest (a `tag@digest` reference deletes by the digest), which
    /// on most registries also removes every tag pointing at it, or by tag, which removes that tag only.
    ///
    /// Registries that refuse to delete by tag (docker-registry 2.8.2 answers 400 `DIGEST_INVALID`, others 400 or
    /// 405 `UNSUPPORTED`) give an error of kind [`ErrorKind::Unsupported`], as do registries with deletes disabled
    /// (405): the caller can fall back. Unknown manifests are [`ErrorKind::NotFound`].
    ///
    /// What a delete by tag teaches is kept in the capabilities (`delete_by_tag`: `Some(true)` once one worked,
    /// `Some(false)` once one was refused), for callers that choose how to delete a tag.
    pub async fn delete_manifest(&self, reference: &Reference) -> Result<()> {
        let url = self.manifest_url(reference)?;
        let req = Request::new(Method::DELETE, url, Scope::delete(reference.repository().path()));
        let by_tag = reference.digest().is_none();
        let caps = self.transport.capabilities();
        match self.transport.send(req).await {
            Ok(_) => {
                if by_tag {
                    caps.learn("a DELETE by tag worked", |c| c.delete_by_tag = Some(true));
                }
                Ok(())
            }
            Err(e) => {
                let e = delete_error(e, reference);
                if by_tag && e.kind() == ErrorKind::Unsupported {
                    let why = format!("DELETE by tag answered {}", e.status().unwrap_or_default());
                    caps.learn(&why, |c| c.delete_by_tag = Some(false));
                }
                Err(e)
            }
        }
    }
}

/// The error of a failed manifest DELETE, with the refusals a caller can work around made `Unsupported`.
fn delete_error(e: Error, reference: &Reference) -> Error {
    let by_tag = reference.digest().is_none();
    match e.status() {
        Some(400) if by_tag => e
            .with_kind(ErrorKind::Unsupported)
            .context(format!("delete {reference}: the registry refuses to delete by tag")),
        Some(405) if by_tag => e
            .with_kind(ErrorKind::Unsupported)
            .context(format!("delete {reference}: the registry refuses to delete by tag (or has deletes disabled)")),
        Some(405) => e
            .with_kind(ErrorKind::Unsupported)
            .context(format!("delete {reference}: the registry has deletes disabled")),
        _ if e.has_code("UNSUPPORTED") => e.with_kind(ErrorKind::Unsupported).context(format!("delete {reference}")),
        _ if e.kind() == ErrorKind::NotFound => e.context(format!("delete {reference}: manifest not found")),
        _ => e.context(format!("delete {reference}")),
    }
}

/// The media type of an answer (`Content-Type` without parameters), empty when absent.
fn content_type(headers: &HeaderMap) -> String {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|s| essence(s).to_string()).unwrap_or_default()
}

fn not_found_context(e: Error, reference: &Reference) -> Error {
    if e.kind() == ErrorKind::NotFound {
        e.context(format!("manifest {reference} not found"))
    } else {
        e.context(format!("manifest {reference}"))
    }
}
