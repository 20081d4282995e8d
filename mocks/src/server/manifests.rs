//! `/v2/<name>/manifests/<reference>`: GET/HEAD, PUT (parsed, size-capped, then stored by the store's rules),
//! DELETE.

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, StatusCode};
use registry_core::manifest::{descriptor_digest, Manifest, ManifestBody, MAX_MANIFEST_SIZE};
use registry_core::Repository;
use serde_json::json;

use super::body::{read_capped, ReadError};
use super::reply::{ApiError, HandlerResult, Reply, DOCKER_CONTENT_DIGEST};
use super::routes::parse_reference;
use super::state::Shared;
use crate::store::Code;

/// GET or HEAD a manifest (the service strips the body for HEAD).
pub(crate) fn get(shared: &Shared, repo: &Repository, reference: &str) -> HandlerResult {
    let r = parse_reference(repo, reference)?;
    let m = shared.read().manifest(&r)?;
    Ok(Reply::new(StatusCode::OK)
        .header(DOCKER_CONTENT_DIGEST, m.digest().as_str())
        .header(ETAG, &format!("\"{}\"", m.digest()))
        .body(m.media_type(), m.bytes().clone()))
}

/// The digest of the `subject` of `manifest`, if it has one.
fn subject(manifest: &Manifest) -> Option<String> {
    let subject = match manifest.body() {
        ManifestBody::Image(image) => image.subject().as_ref(),
        ManifestBody::Index(index) => index.subject().as_ref(),
        _ => None,
    }?;
    descriptor_digest(subject).ok().map(|d| d.to_string())
}

/// PUT a manifest by tag or digest.
pub(crate) async fn put(shared: &Shared, repo: &Repository, reference: &str, req: Request<Incoming>) -> HandlerResult {
    let r = parse_reference(repo, reference)?;
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
    let digest = manifest.digest().clone();
    let subject = subject(&manifest);
    shared.write().put_manifest(&r, manifest)?;
    let mut reply = Reply::new(StatusCode::CREATED)
        .header(LOCATION, &format!("/v2/{}/manifests/{digest}", repo.path()))
        .header(DOCKER_CONTENT_DIGEST, digest.as_str());
    if let (Some(s), true) = (subject, shared.behaviour.referrers_api()) {
        reply = reply.header("oci-subject", &s);
    }
    Ok(reply)
}

/// DELETE by digest (the manifest and its tags) or by tag (the tag only, unless tag deletes are switched off:
/// then 405 UNSUPPORTED).
pub(crate) fn delete(shared: &Shared, repo: &Repository, reference: &str) -> HandlerResult {
    let r = parse_reference(repo, reference)?;
    match r.digest() {
        Some(d) => shared.write().delete_manifest(repo, d)?,
        None if !shared.behaviour.tag_deletes() => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unsupported,
                "deleting by tag is not supported",
            )
            .detail(json!({"name": repo.path(), "tag": reference})))
        }
        None => shared.write().delete_tag(&r)?,
    }
    Ok(Reply::new(StatusCode::ACCEPTED))
}
