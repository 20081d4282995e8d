//! `/v2/<name>/blobs/uploads/`: start (plain, monolithic `?digest=`, or `?mount=&from=`), PATCH chunks (with
//! `Content-Range` checked, or streamed), GET status, PUT to finish (digest verified), DELETE to cancel. The
//! [`Faults`](super::Faults) for uploads apply here: failures of one method, request bodies cut part-way (what
//! arrived is kept), forgotten sessions, a minimum chunk length, refused mounts, chunks answered with another
//! success status or a `Range` that does not advance.

use bytes::BytesMut;
use hyper::body::Incoming;
use hyper::header::{CONTENT_RANGE, LOCATION, RANGE, RETRY_AFTER};
use hyper::{HeaderMap, Request, StatusCode};
use registry_core::{Digest, Repository};
use serde_json::json;

use super::body::{drain, read_into, read_up_to};
use super::faults::{HandlerFault, InjectedFailure};
use super::ids::random_hex;
use super::reply::{ApiError, HandlerResult, Reply, DOCKER_CONTENT_DIGEST};
use super::routes::{parse_digest, Query};
use super::state::Shared;
use crate::store::Code;

/// The most of a rejected request's body read and dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The minimum chunk length header (OCI distribution spec).
const OCI_CHUNK_MIN_LENGTH: &str = "oci-chunk-min-length";

/// The session headers: where to continue, and the bytes received so far (`0-0` when none, as distribution).
fn session(reply: Reply, repo: &Repository, id: &str, size: usize) -> Reply {
    reply
        .header(LOCATION, &session_path(repo, id))
        .header(RANGE, &format!("0-{}", size.saturating_sub(1)))
        .header("docker-upload-uuid", id)
}

/// The path of upload session `id` of `repo`.
fn session_path(repo: &Repository, id: &str) -> String {
    format!("/v2/{}/blobs/uploads/{id}", repo.path())
}

/// The answer to an injected failure.
pub(crate) fn injected(f: InjectedFailure) -> ApiError {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut e = ApiError::new(status, Code::for_status(f.status), "injected failure")
        .detail(json!({"fault": "fail_next_method", "status": f.status}));
    if let Some(secs) = f.retry_after {
        e = e.header(RETRY_AFTER, &secs.to_string());
    }
    e
}

/// What docker-registry 2.8.2 answers for a stale upload location (after cancelling the session).
fn stale(id: &str) -> ApiError {
    ApiError::not_found(Code::BlobUploadInvalid, "blob upload invalid").detail(json!({"id": id, "fault": "forget"}))
}

/// Apply the injected fault for `req` to session `id` (when it has one): the answer that replaces the normal one,
/// or the request, to be handled normally.
async fn apply_fault(
    shared: &Shared,
    repo: &Repository,
    id: Option<&str>,
    req: Request<Incoming>,
) -> Result<Request<Incoming>, ApiError> {
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
    let Some(fault) = shared.faults.take_handler_fault(req.method().as_str(), &target) else {
        return Ok(req);
    };
    match fault {
        HandlerFault::Fail(f) => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            Err(injected(f))
        }
        HandlerFault::DropRequest(n) => {
            let mut body = req.into_body();
            let mut buf = BytesMut::new();
            read_up_to(&mut body, &mut buf, n).await;
            if let Some(id) = id {
                if let Ok(upload) = shared.write().upload_mut(repo, id) {
                    upload.append(&buf);
                }
            }
            shared.faults.abort_response(&target);
            Err(invalid("connection dropped by the drop_request_after fault"))
        }
        HandlerFault::Forget => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            if let Some(id) = id {
                // Forgotten: whether it was still open does not matter.
                let _ = shared.write().cancel_upload(repo, id);
            }
            Err(stale(id.unwrap_or("")))
        }
    }
}

/// The fault for a request without a body to session `id` (status, cancel), applied.
fn apply_bodyless_fault(shared: &Shared, method: &str, repo: &Repository, id: &str) -> Result<(), ApiError> {
    let path = session_path(repo, id);
    match shared.faults.take_handler_fault(method, &path) {
        None => Ok(()),
        Some(HandlerFault::Fail(f)) => Err(injected(f)),
        Some(HandlerFault::DropRequest(_)) => {
            shared.faults.abort_response(&path);
            Err(invalid("connection dropped by the drop_request_after fault"))
        }
        Some(HandlerFault::Forget) => {
            // Forgotten: whether it was still open does not matter.
            let _ = shared.write().cancel_upload(repo, id);
            Err(stale(id))
        }
    }
}

/// A new session's answer (202), with the minimum chunk length when one is set.
fn new_session(shared: &Shared, repo: &Repository) -> Reply {
    let id = random_hex();
    shared.write().start_upload(repo, id.clone());
    let mut reply = session(Reply::new(StatusCode::ACCEPTED), repo, &id, 0);
    if let Some(min) = shared.faults.current_chunk_min_length() {
        reply = reply.header(OCI_CHUNK_MIN_LENGTH, &min.to_string());
    }
    reply
}

fn created(repo: &Repository, digest: &Digest) -> Reply {
    Reply::new(StatusCode::CREATED)
        .header(LOCATION, &format!("/v2/{}/blobs/{digest}", repo.path()))
        .header(DOCKER_CONTENT_DIGEST, digest.as_str())
}

fn out_of_order(repo: &Repository, id: &str, size: usize, start: usize) -> ApiError {
    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, Code::BlobUploadInvalid, "chunk out of order")
        .detail(json!({"offset": size, "start": start}))
        .header(LOCATION, &session_path(repo, id))
        .header(RANGE, &format!("0-{}", size.saturating_sub(1)))
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request(Code::BlobUploadInvalid, message)
}

/// The inclusive range of a `Content-Range` header: `a-b`, also written `bytes a-b/total`.
pub(crate) fn parse_content_range(value: &str) -> Option<(usize, usize)> {
    let v = value.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v).trim();
    let v = v.split_once('/').map_or(v, |(range, _)| range);
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?);
    (a <= b).then_some((a, b))
}

fn content_range(headers: &HeaderMap) -> Result<Option<(usize, usize)>, ApiError> {
    match headers.get(CONTENT_RANGE) {
        None => Ok(None),
        Some(v) => v.to_str().ok().and_then(parse_content_range).map(Some).ok_or_else(|| invalid("bad Content-Range")),
    }
}

/// `POST /v2/<name>/blobs/uploads/`.
pub(crate) async fn start(shared: &Shared, repo: &Repository, query: &Query, req: Request<Incoming>) -> HandlerResult {
    let req = apply_fault(shared, repo, None, req).await?;
    let mut body = req.into_body();
    if let (Some(mount), Some(from)) = (query.non_empty("mount"), query.non_empty("from")) {
        let digest = match parse_digest(mount) {
            Ok(d) => d,
            Err(e) => {
                drain(body, DRAIN_LIMIT).await;
                return Err(e);
            }
        };
        let from = shared.repository(from).ok().filter(|_| !shared.faults.mounts_refused());
        if from.is_some_and(|from| shared.write().mount_blob(repo, &digest, &from)) {
            drain(body, DRAIN_LIMIT).await;
            return Ok(created(repo, &digest));
        }
    } else if let Some(d) = query.get("digest") {
        let digest = match parse_digest(d) {
            Ok(d) => d,
            Err(e) => {
                drain(body, DRAIN_LIMIT).await;
                return Err(e);
            }
        };
        let mut buf = BytesMut::new();
        read_into(&mut body, &mut buf).await.map_err(|_| invalid("upload body interrupted"))?;
        shared.write().put_verified_blob(repo, &digest, buf.freeze())?;
        return Ok(created(repo, &digest));
    }
    drain(body, DRAIN_LIMIT).await;
    Ok(new_session(shared, repo))
}

/// Check a request's `Content-Range` against the upload's size; the checked range and the size.
fn check_chunk(
    shared: &Shared,
    repo: &Repository,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Option<(usize, usize)>, usize), ApiError> {
    let range = content_range(headers)?;
    let size = shared.read().upload_size(repo, id)?;
    match range {
        Some((start, _)) if start != size => Err(out_of_order(repo, id, size, start)),
        _ => Ok((range, size)),
    }
}

/// Read a chunk and append it to the upload. A chunk with a `Content-Range` is all or nothing; a streamed one
/// keeps what arrived before a failure, so the client can ask where to resume.
async fn append(shared: &Shared, repo: &Repository, id: &str, req: Request<Incoming>) -> Result<usize, ApiError> {
    let req = apply_fault(shared, repo, Some(id), req).await?;
    let is_patch = req.method() == hyper::Method::PATCH;
    let (range, size) = match check_chunk(shared, repo, id, req.headers()) {
        Ok(checked) => checked,
        Err(e) => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    if is_patch && shared.faults.had_short_chunk(id) {
        let size = shared.read().upload_size(repo, id).unwrap_or(0);
        drain(req.into_body(), DRAIN_LIMIT).await;
        return Err(out_of_order(repo, id, size, size)
            .detail(json!({"reason": "a chunk shorter than the minimum length was not the last"})));
    }
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    let read = read_into(&mut body, &mut buf).await;
    if is_patch && read.is_ok() && shared.faults.current_chunk_min_length().is_some_and(|min| buf.len() < min) {
        shared.faults.mark_short_chunk(id);
    }
    if let Some((start, end)) = range {
        if read.is_err() || buf.len() != end - start + 1 {
            return Err(invalid("chunk length does not match its Content-Range")
                .detail(json!({"content_range": [start, end], "received": buf.len()})));
        }
    }
    let mut store = shared.write();
    let upload = store.upload_mut(repo, id)?;
    if range.is_some() && upload.len() != size {
        let (now, start) = (upload.len(), size);
        drop(store);
        return Err(out_of_order(repo, id, now, start));
    }
    upload.append(&buf);
    let size = upload.len();
    drop(store);
    read.map_err(|_| invalid("upload body interrupted"))?;
    Ok(size)
}

/// `PATCH <location>`: append a chunk (answered as the `answer_patches` fault says, when one is set).
pub(crate) async fn patch(shared: &Shared, repo: &Repository, id: &str, req: Request<Incoming>) -> HandlerResult {
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
    let Some(answer) = shared.faults.take_patch_answer(&target) else {
        let size = append(shared, repo, id, req).await?;
        return Ok(session(Reply::new(StatusCode::ACCEPTED), repo, id, size));
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    match answer.range_end {
        None => {
            let size = append(shared, repo, id, req).await?;
            Ok(session(Reply::new(status), repo, id, size))
        }
        Some(end) => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            shared.read().upload_size(repo, id)?;
            Ok(Reply::new(status)
                .header(LOCATION, &session_path(repo, id))
                .header(RANGE, &format!("0-{end}"))
                .header("docker-upload-uuid", id))
        }
    }
}

/// `GET <location>`: the upload's progress.
pub(crate) fn status(shared: &Shared, repo: &Repository, id: &str) -> HandlerResult {
    apply_bodyless_fault(shared, "GET", repo, id)?;
    let size = shared.read().upload_size(repo, id)?;
    Ok(session(Reply::new(StatusCode::NO_CONTENT), repo, id, size))
}

/// `PUT <location>?digest=`: append the last chunk (if any), verify the whole upload, store the blob. The session
/// ends either way.
pub(crate) async fn finish(
    shared: &Shared,
    repo: &Repository,
    id: &str,
    query: &Query,
    req: Request<Incoming>,
) -> HandlerResult {
    let digest = match query
        .get("digest")
        .ok_or_else(|| ApiError::bad_request(Code::DigestInvalid, "digest parameter missing"))
        .and_then(parse_digest)
    {
        Ok(d) => d,
        Err(e) => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    append(shared, repo, id, req).await?;
    shared.write().finish_upload(repo, id, &digest)?;
    Ok(created(repo, &digest))
}

/// `DELETE <location>`: cancel the upload.
pub(crate) fn cancel(shared: &Shared, repo: &Repository, id: &str) -> HandlerResult {
    apply_bodyless_fault(shared, "DELETE", repo, id)?;
    shared.write().cancel_upload(repo, id)?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range(" 5-5 "), Some((5, 5)));
        for bad in ["", "5", "9-0", "a-b", "-3", "3-"] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }
}
