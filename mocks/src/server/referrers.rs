//! `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI index of the manifests whose `subject` is the
//! digest. Never 404 (as the spec requires): an unknown digest or repository has no referrers.

use hyper::StatusCode;
use registry_core::manifest::media_type::OCI_INDEX;
use serde_json::json;

use super::blobs::parse_digest;
use super::reply::{HandlerResult, Reply};
use super::routes::Query;
use super::service::Shared;

/// The referrers of `digest` in `name`.
pub(crate) fn list(shared: &Shared, name: &str, digest: &str, query: &Query) -> HandlerResult {
    let digest = parse_digest(digest)?;
    let artifact_type = query.non_empty("artifactType");
    let manifests = shared.read().referrers(name, digest.as_str(), artifact_type);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let mut reply = Reply::new(StatusCode::OK);
    if artifact_type.is_some() {
        reply = reply.header("oci-filters-applied", "artifactType");
    }
    let body = serde_json::to_vec(&index).unwrap_or_default();
    Ok(reply.body(OCI_INDEX, body.into()))
}
