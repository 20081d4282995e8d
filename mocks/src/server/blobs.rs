//! `/v2/<name>/blobs/<digest>`: GET (whole or one byte range), HEAD, DELETE. The range faults of
//! [`Faults`](super::Faults) apply to ranged GETs: the range ignored (200), or answered from the wrong offset.

use hyper::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, RANGE};
use hyper::{HeaderMap, StatusCode};
use registry_core::Repository;

use super::faults::RangeFault;
use super::reply::{ApiError, HandlerResult, Reply, DOCKER_CONTENT_DIGEST};
use super::routes::parse_digest;
use super::state::Shared;
use crate::store::{Code, Store, StoreError};

const OCTET_STREAM: &str = "application/octet-stream";

/// `NAME_UNKNOWN` when `repo` does not exist. This server answers it to blob requests in an unknown repository,
/// where docker-registry (and `FakeClient`) answer `BLOB_UNKNOWN`; both are spec answers, and the server's tests
/// pin this one.
fn check_repository(store: &Store, repo: &Repository) -> Result<(), ApiError> {
    if store.has_repository(repo) {
        Ok(())
    } else {
        Err(StoreError::RepositoryUnknown(repo.clone()).into())
    }
}

/// The inclusive byte range `Range: <value>` asks of a `len` byte blob; `None` when it cannot be satisfied (or
/// is not one `bytes` range: multiple ranges are not supported).
pub(crate) fn parse_range(value: &str, len: usize) -> Option<(usize, usize)> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let number = |s: &str| s.trim().parse::<usize>().ok();
    match (start.trim().is_empty(), end.trim().is_empty()) {
        (true, false) => {
            let suffix = number(end)?;
            (suffix > 0).then(|| (len.saturating_sub(suffix), len - 1))
        }
        (false, true) => {
            let start = number(start)?;
            (start < len).then_some((start, len - 1))
        }
        (false, false) => {
            let (start, end) = (number(start)?, number(end)?);
            (start <= end && start < len).then_some((start, end.min(len - 1)))
        }
        (true, true) => None,
    }
}

/// GET or HEAD a blob.
pub(crate) fn get(shared: &Shared, repo: &Repository, digest: &str, headers: &HeaderMap) -> HandlerResult {
    let digest = parse_digest(digest)?;
    let store = shared.read();
    check_repository(&store, repo)?;
    let data = store.blob(repo, &digest)?;
    drop(store);
    let reply = |status| {
        Reply::new(status)
            .header(DOCKER_CONTENT_DIGEST, digest.as_str())
            .header(ETAG, &format!("\"{digest}\""))
            .header(ACCEPT_RANGES, "bytes")
    };
    let Some(range) = headers.get(RANGE) else {
        return Ok(reply(StatusCode::OK).body(OCTET_STREAM, data));
    };
    let len = data.len();
    let Some((mut start, end)) = range.to_str().ok().and_then(|r| parse_range(r, len)) else {
        return Err(ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, Code::RangeInvalid, "range not satisfiable")
            .header(CONTENT_RANGE, &format!("bytes */{len}")));
    };
    match shared.faults.take_range_fault(&format!("/v2/{}/blobs/{digest}", repo.path())) {
        Some(RangeFault::Ignore) => return Ok(reply(StatusCode::OK).body(OCTET_STREAM, data)),
        Some(RangeFault::Shift) => start = (start + 1).min(end),
        None => {}
    }
    Ok(reply(StatusCode::PARTIAL_CONTENT)
        .header(CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"))
        .body(OCTET_STREAM, data.slice(start..=end)))
}

/// DELETE a blob from a repository.
pub(crate) fn delete(shared: &Shared, repo: &Repository, digest: &str) -> HandlerResult {
    let digest = parse_digest(digest)?;
    let mut store = shared.write();
    check_repository(&store, repo)?;
    store.delete_blob(repo, &digest)?;
    drop(store);
    Ok(Reply::new(StatusCode::ACCEPTED).header(DOCKER_CONTENT_DIGEST, digest.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(parse_range("bytes=4-", 10), Some((4, 9)));
        assert_eq!(parse_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=-30", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=9-9", 10), Some((9, 9)));
        for bad in
            ["bytes=10-", "bytes=10-12", "bytes=5-4", "bytes=-0", "bytes=-", "bytes=a-b", "items=0-1", "bytes=0-1,3-4"]
        {
            assert_eq!(parse_range(bad, 10), None, "{bad}");
        }
        assert_eq!(parse_range("bytes=0-", 0), None);
    }
}
