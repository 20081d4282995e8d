//! `/v2/<name>/tags/list` and `/v2/_catalog`: lexical order, `n` and `last` (exclusive) honoured, and a relative
//! `Link: <...>; rel="next"` while more items remain.

use hyper::header::LINK;
use hyper::StatusCode;
use registry_core::Repository;
use serde_json::json;

use super::reply::{ApiError, HandlerResult, Reply};
use super::routes::{encode, Query};
use super::state::Shared;
use crate::store::Code;

/// The catalog page size when `n` is not given (distribution's default).
pub(crate) const CATALOG_DEFAULT: usize = 100;
/// The largest catalog page (distribution's default maximum).
pub(crate) const CATALOG_MAX: usize = 1000;

/// One window of `items` (sorted): at most `n` after `last`, and whether more remain after it.
pub(crate) fn window(items: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let mut rest: Vec<String> = match last {
        Some(last) => items.into_iter().filter(|i| i.as_str() > last).collect(),
        None => items,
    };
    match n {
        Some(n) if rest.len() > n => {
            rest.truncate(n);
            (rest, true)
        }
        _ => (rest, false),
    }
}

fn parse_n(shared: &Shared, query: &Query) -> Result<Option<usize>, ApiError> {
    let n = match query.non_empty("n") {
        None => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(Code::PaginationNumberInvalid, "invalid number of results requested")
                .detail(json!({"n": n}))
        })?),
    };
    match (n, shared.faults.current_max_page_size()) {
        (Some(n), Some(max)) if n > max => {
            Err(ApiError::bad_request(Code::PaginationNumberInvalid, "invalid number of results requested")
                .detail(json!({"n": n, "max": max})))
        }
        _ => Ok(n),
    }
}

/// `GET /v2/<name>/tags/list`: `NAME_UNKNOWN` until the repository was given a tag.
pub(crate) fn tags(shared: &Shared, repo: &Repository, query: &Query) -> HandlerResult {
    let n = parse_n(shared, query)?;
    let all = shared.read().tags(repo)?;
    let name = repo.path();
    let (page, more) = window(all, n, query.non_empty("last"));
    let mut reply = Reply::new(StatusCode::OK);
    if let (true, Some(n), Some(last)) = (more, n, page.last()) {
        let link = format!("</v2/{name}/tags/list?n={n}&last={}>; rel=\"next\"", encode(last));
        reply = reply.header(LINK, &link);
    }
    Ok(reply.json(&json!({"name": name, "tags": page})))
}

/// `GET /v2/_catalog`: repositories with at least one manifest.
pub(crate) fn catalog(shared: &Shared, query: &Query) -> HandlerResult {
    let n = parse_n(shared, query)?.unwrap_or(CATALOG_DEFAULT);
    if n > CATALOG_MAX {
        return Err(ApiError::bad_request(Code::PaginationNumberInvalid, "invalid number of results requested")
            .detail(json!({"n": n, "max": CATALOG_MAX})));
    }
    let all = shared.read().catalog();
    let (page, more) = window(all, Some(n), query.non_empty("last"));
    let mut reply = Reply::new(StatusCode::OK);
    if let (true, Some(last)) = (more, page.last()) {
        reply = reply.header(LINK, &format!("</v2/_catalog?last={}&n={n}>; rel=\"next\"", encode(last)));
    }
    Ok(reply.json(&json!({"repositories": page})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn windows() {
        let all = items(&["a", "b", "c", "d"]);
        assert_eq!(window(all.clone(), None, None), (all.clone(), false));
        assert_eq!(window(all.clone(), Some(2), None), (items(&["a", "b"]), true));
        assert_eq!(window(all.clone(), Some(2), Some("b")), (items(&["c", "d"]), false));
        assert_eq!(window(all.clone(), Some(2), Some("bb")), (items(&["c", "d"]), false));
        assert_eq!(window(all.clone(), None, Some("d")), (vec![], false));
        assert_eq!(window(all.clone(), Some(0), None), (vec![], true));
        assert_eq!(window(all, Some(9), Some("0")), (items(&["a", "b", "c", "d"]), false));
    }
}
