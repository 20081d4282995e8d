//! `/v2/<name>/manifests/<reference>`: GET/HEAD, PUT (validated), DELETE.

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, StatusCode};
use registry_client::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest, MAX_MANIFEST_SIZE};
use registry_core::Digest;
use serde_json::json;

use super::body::{read_capped, ReadError};
use super::reply::{ApiError, Code, HandlerResult, Reply};
use super::routes::is_valid_tag;
use super::service::Shared;
use super::store::{ManifestRef, StoredManifest};
use super::DOCKER_CONTENT_DIGEST;

/// Parse a manifest reference: a digest when it has a `:`, else a tag.
pub(crate) fn parse_reference(reference: &str) -> Result<ManifestRef, ApiError> {
    if reference.contains(':') {
        let d = Digest::parse(reference).map_err(|e| {
            ApiError::bad_request(Code::DigestInvalid, "invalid digest")
                .detail(json!({"digest": reference, "reason": e.to_string()}))
        })?;
        Ok(ManifestRef::Digest(d.to_string()))
    } else if is_valid_tag(reference) {
        Ok(ManifestRef::Tag(reference.to_string()))
    } else {
        Err(ApiError::bad_request(Code::TagInvalid, "invalid tag").detail(json!({"tag": reference})))
    }
}

fn manifest_unknown(name: &str, reference: &str) -> ApiError {
    ApiError::not_found(Code::ManifestUnknown, "manifest unknown").detail(json!({"name": name, "reference": reference}))
}

pub(crate) fn name_unknown(name: &str) -> ApiError {
    ApiError::not_found(Code::NameUnknown, "repository name not known to registry").detail(json!({"name": name}))
}

/// GET or HEAD a manifest (the service strips the body for HEAD).
pub(crate) fn get(shared: &Shared, name: &str, reference: &str) -> HandlerResult {
    let r = parse_reference(reference)?;
    let store = shared.read();
    if !store.has_repo(name) {
        return Err(name_unknown(name));
    }
    let m = store.manifest(name, &r).ok_or_else(|| manifest_unknown(name, reference))?;
    drop(store);
    Ok(Reply::new(StatusCode::OK)
        .header(DOCKER_CONTENT_DIGEST, &m.digest)
        .header(ETAG, &format!("\"{}\"", m.digest))
        .body(&m.media_type, m.bytes))
}

/// PUT a manifest by tag or digest.
pub(crate) async fn put(shared: &Shared, name: &str, reference: &str, req: Request<Incoming>) -> HandlerResult {
    let r = parse_reference(reference)?;
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = read_capped(req.into_body(), MAX_MANIFEST_SIZE).await.map_err(|e| match e {
        ReadError::TooLarge => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, Code::ManifestInvalid, "manifest too large")
                .detail(json!({"limit": MAX_MANIFEST_SIZE}))
        }
        ReadError::Io => ApiError::bad_request(Code::ManifestInvalid, "manifest body could not be read"),
    })?;
    let manifest = Manifest::parse(bytes, content_type.as_deref()).map_err(|e| {
        ApiError::bad_request(Code::ManifestInvalid, "manifest invalid").detail(json!({"reason": e.to_string()}))
    })?;
    let (digest, tag) = match &r {
        ManifestRef::Digest(d) => {
            let wanted = Digest::parse(d).map_err(|_| ApiError::bad_request(Code::DigestInvalid, "invalid digest"))?;
            let actual = Digest::compute(wanted.algorithm(), manifest.bytes());
            if actual != wanted {
                return Err(ApiError::bad_request(Code::DigestInvalid, "manifest digest does not match its content")
                    .detail(json!({"expected": d, "actual": actual.to_string()})));
            }
            (d.clone(), None)
        }
        ManifestRef::Tag(t) => (manifest.digest().to_string(), Some(t.as_str())),
    };
    check_references(shared, name, &manifest)?;
    let stored = StoredManifest::new(&manifest, digest.clone());
    let subject = stored.subject.clone();
    shared.write().put_manifest(name, tag, stored);
    let mut reply = Reply::new(StatusCode::CREATED)
        .header(LOCATION, &format!("/v2/{name}/manifests/{digest}"))
        .header(DOCKER_CONTENT_DIGEST, &digest);
    if let (Some(s), true) = (subject, shared.behaviour.referrers_api()) {
        reply = reply.header("oci-subject", &s);
    }
    Ok(reply)
}

/// Every blob an image references must be in the repository; every manifest an index references, too.
/// The digest of a descriptor in a pushed manifest; a malformed one makes the manifest invalid.
fn descriptor_of(d: &Descriptor) -> Result<Digest, ApiError> {
    descriptor_digest(d).map_err(|e| {
        ApiError::bad_request(Code::ManifestInvalid, "invalid descriptor").detail(json!({"reason": e.to_string()}))
    })
}

fn check_references(shared: &Shared, name: &str, manifest: &Manifest) -> Result<(), ApiError> {
    let store = shared.read();
    if let Some(image) = manifest.as_image() {
        let layers = image.layers().iter().filter(|l| l.urls().as_ref().is_none_or(|u| u.is_empty()));
        for d in std::iter::once(image.config()).chain(layers) {
            let digest = descriptor_of(d)?;
            if !store.has_blob(name, digest.as_str()) {
                return Err(ApiError::bad_request(Code::ManifestBlobUnknown, "blob unknown to registry")
                    .detail(json!({"digest": digest.as_str()})));
            }
        }
    }
    if let Some(index) = manifest.as_index() {
        for d in index.manifests() {
            let digest = descriptor_of(d)?;
            if !store.has_manifest(name, digest.as_str()) {
                return Err(ApiError::bad_request(Code::ManifestUnknown, "manifest unknown")
                    .detail(json!({"digest": digest.as_str()})));
            }
        }
    }
    Ok(())
}

/// DELETE by digest (the manifest and its tags) or by tag (the tag only, unless tag deletes are switched off:
/// then 405 UNSUPPORTED).
pub(crate) fn delete(shared: &Shared, name: &str, reference: &str) -> HandlerResult {
    let r = parse_reference(reference)?;
    if matches!(r, ManifestRef::Tag(_)) && !shared.behaviour.tag_deletes() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            "deleting by tag is not supported",
        )
        .detail(json!({"name": name, "tag": reference})));
    }
    let mut store = shared.write();
    if !store.has_repo(name) {
        return Err(name_unknown(name));
    }
    let deleted = match &r {
        ManifestRef::Digest(d) => store.delete_manifest(name, d),
        ManifestRef::Tag(t) => store.delete_tag(name, t),
    };
    drop(store);
    if deleted {
        Ok(Reply::new(StatusCode::ACCEPTED))
    } else {
        Err(manifest_unknown(name, reference))
    }
}
