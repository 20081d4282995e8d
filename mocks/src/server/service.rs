//! The request pipeline: count, latency, injected failures, authentication, routing to a handler, panic capture,
//! and turning the [`Reply`] into a response (body stripped for `HEAD`, cut short for `drop_after`).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, CONTENT_LENGTH, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use registry_core::Repository;

use super::body::{self, ResponseBody};
use super::reply::{ApiError, HandlerResult, Reply};
use super::routes::{Query, Route};
use super::state::Shared;
use super::{blobs, lists, manifests, referrers, uploads};
use crate::store::Code;

/// The most of a request body read and dropped before an early answer.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Answer one request.
pub(crate) async fn serve(shared: &Shared, req: Request<Incoming>) -> Response<ResponseBody> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
    shared.request_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(format!("{method} {target}"));
    let reply = match AssertUnwindSafe(handle(shared, req)).catch_unwind().await {
        Ok(reply) => reply,
        Err(payload) => {
            shared.record_panic(&format!("handler of {method} {target} panicked"), payload.as_ref());
            Reply::from(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Code::Unknown, "handler panicked"))
        }
    };
    respond(shared, &method, &target, reply)
}

fn respond(shared: &Shared, method: &Method, target: &str, reply: Reply) -> Response<ResponseBody> {
    let Reply { status, mut headers, body } = reply;
    headers
        .insert(HeaderName::from_static("docker-distribution-api-version"), HeaderValue::from_static("registry/2.0"));
    let len = body.len();
    let body = if *method == Method::HEAD {
        headers.entry(CONTENT_LENGTH).or_insert_with(|| HeaderValue::from(len));
        body::full(Bytes::new())
    } else if let Some(keep) = shared.faults.take_drop(target, len) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        body::cut(body.slice(..keep))
    } else {
        body::full(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Reply {
    let latency = shared.faults.current_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let target = req.uri().path_and_query().map_or("", |pq| pq.as_str());
    if let Some(f) = shared.faults.take_failure(target) {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = ApiError::new(status, Code::for_status(f.status), "injected failure")
            .detail(json!({"fault": "fail_next", "status": f.status}));
        if let Some(secs) = f.retry_after {
            e = e.header(RETRY_AFTER, &secs.to_string());
        }
        body::drain(req.into_body(), DRAIN_LIMIT).await;
        return e.into();
    }
    if req.method() == Method::HEAD {
        if let Some(status) = shared.faults.head_refused(target) {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::METHOD_NOT_ALLOWED);
            return Reply::new(status);
        }
    }
    let route = Route::parse(req.uri().path());
    #[cfg(test)]
    if req.uri().path() == "/__panic" {
        panic!("panic requested by a test");
    }
    if route == Route::Token {
        return shared.auth.issue_token(req.headers(), req.method()).unwrap_or_else(Reply::from);
    }
    if let Err(e) = shared.auth.check(req.headers(), req.method(), &route) {
        body::drain(req.into_body(), DRAIN_LIMIT).await;
        return e.into();
    }
    let repo = match route.name().map(|name| shared.repository(name)).transpose() {
        Ok(repo) => repo,
        Err(e) => {
            body::drain(req.into_body(), DRAIN_LIMIT).await;
            return e.into();
        }
    };
    dispatch(shared, route, repo, req).await.unwrap_or_else(Reply::from)
}

/// 405 naming the allowed methods.
fn not_allowed(allowed: &str) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Code::Unsupported, "method not allowed for this endpoint")
        .header(ALLOW, allowed)
}

/// Route a request whose repository name (for routes inside one) is `repo`, checked.
async fn dispatch(shared: &Shared, route: Route, repo: Option<Repository>, req: Request<Incoming>) -> HandlerResult {
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    match (route, repo.as_ref()) {
        (Route::Base, _) => match method {
            Method::GET | Method::HEAD => Ok(Reply::new(StatusCode::OK).json(&json!({}))),
            _ => Err(not_allowed("GET, HEAD")),
        },
        (Route::Catalog, _) => match method {
            Method::GET | Method::HEAD => lists::catalog(shared, &query),
            _ => Err(not_allowed("GET, HEAD")),
        },
        (Route::Tags { .. }, Some(repo)) => match method {
            Method::GET | Method::HEAD => lists::tags(shared, repo, &query),
            _ => Err(not_allowed("GET, HEAD")),
        },
        (Route::Manifest { reference, .. }, Some(repo)) => match method {
            Method::GET | Method::HEAD => manifests::get(shared, repo, &reference),
            Method::PUT => manifests::put(shared, repo, &reference, req).await,
            Method::DELETE => manifests::delete(shared, repo, &reference),
            _ => Err(not_allowed("GET, HEAD, PUT, DELETE")),
        },
        (Route::Blob { digest, .. }, Some(repo)) => match method {
            Method::GET | Method::HEAD => blobs::get(shared, repo, &digest, req.headers()),
            Method::DELETE => blobs::delete(shared, repo, &digest),
            _ => Err(not_allowed("GET, HEAD, DELETE")),
        },
        (Route::StartUpload { .. }, Some(repo)) => match method {
            Method::POST => uploads::start(shared, repo, &query, req).await,
            _ => Err(not_allowed("POST")),
        },
        (Route::Upload { id, .. }, Some(repo)) => match method {
            Method::GET => uploads::status(shared, repo, &id),
            Method::PATCH => uploads::patch(shared, repo, &id, req).await,
            Method::PUT => uploads::finish(shared, repo, &id, &query, req).await,
            Method::DELETE => uploads::cancel(shared, repo, &id),
            _ => Err(not_allowed("GET, PATCH, PUT, DELETE")),
        },
        // Without the API the path is unknown, answered as Go's router does.
        (Route::Referrers { .. }, Some(_)) if !shared.behaviour.referrers_api() => {
            Ok(Reply::new(StatusCode::NOT_FOUND)
                .body("text/plain; charset=utf-8", Bytes::from_static(b"404 page not found\n")))
        }
        (Route::Referrers { digest, .. }, Some(repo)) => match method {
            Method::GET => referrers::list(shared, repo, &digest, &query),
            _ => Err(not_allowed("GET")),
        },
        // Token and Unknown; a route inside a repository always comes with its checked name.
        _ => Err(ApiError::not_found(Code::Unsupported, "no such endpoint").detail(json!({"path": req.uri().path()}))),
    }
}
