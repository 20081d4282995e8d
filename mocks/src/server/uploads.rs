//! `/v2/<name>/blobs/uploads/`: start (plain, monolithic `?digest=`, or `?mount=&from=`), PATCH chunks (with
//! `Content-Range` checked, or streamed), GET status, PUT to finish (digest verified), DELETE to cancel.

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{CONTENT_RANGE, LOCATION, RANGE};
use hyper::{HeaderMap, Request, StatusCode};
use registry_core::Digest;
use serde_json::json;

use super::blobs::parse_digest;
use super::body::{drain, read_into};
use super::ids::random_hex;
use super::reply::{ApiError, Code, HandlerResult, Reply};
use super::routes::{validate_name, Query};
use super::service::Shared;
use super::DOCKER_CONTENT_DIGEST;

/// The most of a rejected request's body read and dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The session headers: where to continue, and the bytes received so far (`0-0` when none, as distribution).
fn session(reply: Reply, name: &str, id: &str, size: usize) -> Reply {
    reply
        .header(LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
        .header(RANGE, &format!("0-{}", size.saturating_sub(1)))
        .header("docker-upload-uuid", id)
}

fn created(name: &str, digest: &Digest) -> Reply {
    Reply::new(StatusCode::CREATED)
        .header(LOCATION, &format!("/v2/{name}/blobs/{digest}"))
        .header(DOCKER_CONTENT_DIGEST, digest.as_str())
}

fn upload_unknown(id: &str) -> ApiError {
    ApiError::not_found(Code::BlobUploadUnknown, "blob upload unknown to registry").detail(json!({"id": id}))
}

fn out_of_order(name: &str, id: &str, size: usize, start: usize) -> ApiError {
    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, Code::BlobUploadInvalid, "chunk out of order")
        .detail(json!({"offset": size, "start": start}))
        .header(LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
        .header(RANGE, &format!("0-{}", size.saturating_sub(1)))
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request(Code::BlobUploadInvalid, message)
}

/// Verify `data` against `digest` and store it in `name`.
fn commit(shared: &Shared, name: &str, digest: &Digest, data: Bytes) -> HandlerResult {
    let actual = Digest::compute(digest.algorithm(), &data);
    if actual != *digest {
        return Err(ApiError::bad_request(Code::DigestInvalid, "provided digest did not match uploaded content")
            .detail(json!({"expected": digest.as_str(), "actual": actual.as_str(), "size": data.len()})));
    }
    shared.write().put_blob(name, digest.as_str(), data);
    Ok(created(name, digest))
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
pub(crate) async fn start(shared: &Shared, name: &str, query: &Query, req: Request<Incoming>) -> HandlerResult {
    let mut body = req.into_body();
    if let (Some(mount), Some(from)) = (query.non_empty("mount"), query.non_empty("from")) {
        let digest = match parse_digest(mount) {
            Ok(d) => d,
            Err(e) => {
                drain(body, DRAIN_LIMIT).await;
                return Err(e);
            }
        };
        if validate_name(&shared.host, from).is_ok() && shared.write().mount_blob(name, digest.as_str(), from) {
            drain(body, DRAIN_LIMIT).await;
            return Ok(created(name, &digest));
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
        return commit(shared, name, &digest, buf.freeze());
    }
    drain(body, DRAIN_LIMIT).await;
    let id = random_hex();
    shared.write().start_upload(name, id.clone());
    Ok(session(Reply::new(StatusCode::ACCEPTED), name, &id, 0))
}

/// Check a request's `Content-Range` against the upload's size; the checked range and the size.
fn check_chunk(
    shared: &Shared,
    name: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Option<(usize, usize)>, usize), ApiError> {
    let range = content_range(headers)?;
    let size = shared.read().upload_size(name, id).ok_or_else(|| upload_unknown(id))?;
    match range {
        Some((start, _)) if start != size => Err(out_of_order(name, id, size, start)),
        _ => Ok((range, size)),
    }
}

/// Read a chunk and append it to the upload. A chunk with a `Content-Range` is all or nothing; a streamed one
/// keeps what arrived before a failure, so the client can ask where to resume.
async fn append(shared: &Shared, name: &str, id: &str, req: Request<Incoming>) -> Result<usize, ApiError> {
    let (range, size) = match check_chunk(shared, name, id, req.headers()) {
        Ok(checked) => checked,
        Err(e) => {
            drain(req.into_body(), DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    let read = read_into(&mut body, &mut buf).await;
    if let Some((start, end)) = range {
        if read.is_err() || buf.len() != end - start + 1 {
            return Err(invalid("chunk length does not match its Content-Range")
                .detail(json!({"content_range": [start, end], "received": buf.len()})));
        }
    }
    let mut store = shared.write();
    let upload = store.upload_mut(name, id).ok_or_else(|| upload_unknown(id))?;
    if range.is_some() && upload.data.len() != size {
        let (now, start) = (upload.data.len(), size);
        drop(store);
        return Err(out_of_order(name, id, now, start));
    }
    upload.data.extend_from_slice(&buf);
    let size = upload.data.len();
    drop(store);
    read.map_err(|_| invalid("upload body interrupted"))?;
    Ok(size)
}

/// `PATCH <location>`: append a chunk.
pub(crate) async fn patch(shared: &Shared, name: &str, id: &str, req: Request<Incoming>) -> HandlerResult {
    let size = append(shared, name, id, req).await?;
    Ok(session(Reply::new(StatusCode::ACCEPTED), name, id, size))
}

/// `GET <location>`: the upload's progress.
pub(crate) fn status(shared: &Shared, name: &str, id: &str) -> HandlerResult {
    let size = shared.read().upload_size(name, id).ok_or_else(|| upload_unknown(id))?;
    Ok(session(Reply::new(StatusCode::NO_CONTENT), name, id, size))
}

/// `PUT <location>?digest=`: append the last chunk (if any), verify the whole upload, store the blob. The session
/// ends either way.
pub(crate) async fn finish(
    shared: &Shared,
    name: &str,
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
    append(shared, name, id, req).await?;
    let upload = shared.write().take_upload(name, id).ok_or_else(|| upload_unknown(id))?;
    commit(shared, name, &digest, upload.data.freeze())
}

/// `DELETE <location>`: cancel the upload.
pub(crate) fn cancel(shared: &Shared, name: &str, id: &str) -> HandlerResult {
    shared.write().take_upload(name, id).ok_or_else(|| upload_unknown(id))?;
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
