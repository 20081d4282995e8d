//! `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI index of the manifests whose `subject` is the
//! digest. Never 404 (as the spec requires): an unknown digest or repository has no referrers. Optionally in pages
//! (`Link` to the next, `last` = the last digest served) and without applying `artifactType`, as the spec allows.

use hyper::header::LINK;
use hyper::StatusCode;
use registry_core::manifest::media_type::OCI_INDEX;
use registry_core::Repository;
use serde_json::json;

use super::reply::{ApiError, HandlerResult, Reply};
use super::routes::{encode, parse_digest, Query};
use super::state::Shared;
use crate::store::Code;

/// The referrers of `digest` in `repo`.
pub(crate) fn list(shared: &Shared, repo: &Repository, digest: &str, query: &Query) -> HandlerResult {
    let digest = parse_digest(digest)?;
    let asked = query.non_empty("artifactType");
    let filtering = shared.behaviour.referrers_filtering();
    let artifact_type = asked.filter(|_| filtering);
    let all = shared.read().referrers(repo, &digest, artifact_type).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Code::Unknown, "referrers could not be listed")
            .detail(json!({"reason": e.to_string()}))
    })?;
    // Ordered by digest: `last` (exclusive) continues after the previous page.
    let mut rest: Vec<_> = match query.non_empty("last") {
        Some(last) => all.into_iter().filter(|d| d.digest().to_string().as_str() > last).collect(),
        None => all,
    };
    let mut reply = Reply::new(StatusCode::OK);
    if let Some(n) = shared.behaviour.referrers_page() {
        if rest.len() > n {
            rest.truncate(n);
            if let Some(last) = rest.last().map(|d| d.digest().to_string()) {
                let mut next = format!("/v2/{}/referrers/{digest}?last={}", repo.path(), encode(&last));
                if let Some(t) = asked {
                    next.push_str(&format!("&artifactType={}", encode(t)));
                }
                reply = reply.header(LINK, &format!("<{next}>; rel=\"next\""));
            }
        }
    }
    if artifact_type.is_some() {
        reply = reply.header("oci-filters-applied", "artifactType");
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": rest});
    let body = serde_json::to_vec(&index).unwrap_or_default();
    Ok(reply.body(OCI_INDEX, body.into()))
}
