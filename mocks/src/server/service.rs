//! The request pipeline: count, latency, injected failures, authentication, routing to a handler, panic capture,
//! and turning the [`Reply`] into a response (body stripped for `HEAD`, cut short for `drop_after`).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, CONTENT_LENGTH, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::auth::Auth;
use super::body::{self, ResponseBody};
use super::faults::Faults;
use super::reply::{ApiError, Code, HandlerResult, Reply};
use super::routes::{validate_name, Query, Route};
use super::store::Store;
use super::{blobs, lists, manifests, referrers, uploads};

/// The most of a request body read and dropped before an early answer.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The state every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `host:port`, for name validation.
    pub(crate) host: String,
    store: RwLock<Store>,
    pub(crate) auth: Auth,
    pub(crate) faults: Faults,
    /// Choices the OCI spec leaves to a registry.
    pub(crate) behaviour: Behaviour,
    pub(crate) requests: AtomicUsize,
    /// Messages of handler panics, reported when the server is dropped.
    pub(crate) panics: Mutex<Vec<String>>,
}

impl Shared {
    /// State for a server at `host`.
    pub(crate) fn new(host: String, auth: Auth) -> Shared {
        Shared {
            host,
            store: RwLock::default(),
            auth,
            faults: Faults::default(),
            behaviour: Behaviour::default(),
            requests: AtomicUsize::new(0),
            panics: Mutex::new(Vec::new()),
        }
    }

    /// Read the store (a panic elsewhere is reported at drop; the data is still usable).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the store.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_panic(&self, what: &str, payload: &(dyn Any + Send)) {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        self.panics.lock().unwrap_or_else(PoisonError::into_inner).push(format!("{what}: {msg}"));
    }
}

/// Where the OCI distribution spec lets a registry choose, what this one does: by default everything a spec
/// registry may offer; [`RegistryServer::like_docker_registry`] turns it into what docker-registry 2.8.2 offers.
#[derive(Debug)]
pub(crate) struct Behaviour {
    tag_deletes: AtomicBool,
    referrers_api: AtomicBool,
    referrers_filtering: AtomicBool,
    /// At most this many referrers per page, with a `Link` to the next (0: one page).
    referrers_page: AtomicUsize,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            tag_deletes: AtomicBool::new(true),
            referrers_api: AtomicBool::new(true),
            referrers_filtering: AtomicBool::new(true),
            referrers_page: AtomicUsize::new(0),
        }
    }
}

impl Behaviour {
    /// Whether `DELETE /v2/<name>/manifests/<tag>` deletes the tag (else 405 UNSUPPORTED).
    pub(crate) fn tag_deletes(&self) -> bool {
        self.tag_deletes.load(Ordering::SeqCst)
    }

    /// Whether the referrers API is served (else 404, and no `OCI-Subject` on manifest PUT).
    pub(crate) fn referrers_api(&self) -> bool {
        self.referrers_api.load(Ordering::SeqCst)
    }

    /// Whether the referrers API applies `artifactType` (and says so with `OCI-Filters-Applied`).
    pub(crate) fn referrers_filtering(&self) -> bool {
        self.referrers_filtering.load(Ordering::SeqCst)
    }

    /// The referrers page size, if pages are limited.
    pub(crate) fn referrers_page(&self) -> Option<usize> {
        Some(self.referrers_page.load(Ordering::SeqCst)).filter(|n| *n > 0)
    }
}

/// Switches for the choices the OCI spec leaves to registries, so clients' fallbacks can be tested here too.
impl super::RegistryServer {
    /// Whether DELETE by tag deletes the tag (the default, as the OCI spec allows) or is refused with 405
    /// `UNSUPPORTED`, as registries refuse it that only delete by digest.
    pub fn set_tag_deletes(&self, allowed: bool) {
        self.shared.behaviour.tag_deletes.store(allowed, Ordering::SeqCst);
    }

    /// Whether the referrers API (`/v2/<name>/referrers/<digest>`) is served (the default) or answers
    /// `404 page not found` (text/plain) as docker-registry 2.8.2 does; without it, a manifest PUT with a `subject`
    /// gets no `OCI-Subject` header, which tells clients to maintain the referrers tag (`sha256-<hex>`) instead.
    pub fn set_referrers_api(&self, enabled: bool) {
        self.shared.behaviour.referrers_api.store(enabled, Ordering::SeqCst);
    }

    /// Whether the referrers API filters by `artifactType` and says so with `OCI-Filters-Applied` (the default), or
    /// ignores the filter, which the spec allows (clients then filter themselves).
    pub fn set_referrers_filtering(&self, enabled: bool) {
        self.shared.behaviour.referrers_filtering.store(enabled, Ordering::SeqCst);
    }

    /// Serve referrers in pages of at most `n`, each with a `Link` to the next (`None`: all in one page, the
    /// default).
    pub fn set_referrers_page_size(&self, n: Option<usize>) {
        self.shared.behaviour.referrers_page.store(n.unwrap_or(0), Ordering::SeqCst);
    }

    /// Refuse what docker-registry 2.8.2 lacks: DELETE by tag, and the referrers API.
    pub fn like_docker_registry(&self) {
        self.set_tag_deletes(false);
        self.set_referrers_api(false);
    }
}

/// Answer one request.
pub(crate) async fn serve(shared: &Shared, req: Request<Incoming>) -> Response<ResponseBody> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
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
        let mut e = ApiError::new(status, Code::for_status(status), "injected failure")
            .detail(json!({"fault": "fail_next", "status": f.status}));
        if let Some(secs) = f.retry_after {
            e = e.header(RETRY_AFTER, &secs.to_string());
        }
        body::drain(req.into_body(), DRAIN_LIMIT).await;
        return e.into();
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
    if let Some(name) = route.name() {
        if let Err(e) = validate_name(&shared.host, name) {
            body::drain(req.into_body(), DRAIN_LIMIT).await;
            return e.into();
        }
    }
    dispatch(shared, route, req).await.unwrap_or_else(Reply::from)
}

/// 405 naming the allowed methods.
fn not_allowed(allowed: &str) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Code::Unsupported, "method not allowed for this endpoint")
        .header(ALLOW, allowed)
}

async fn dispatch(shared: &Shared, route: Route, req: Request<Incoming>) -> HandlerResult {
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    match route {
        Route::Base => match method {
            Method::GET | Method::HEAD => Ok(Reply::new(StatusCode::OK).json(&json!({}))),
            _ => Err(not_allowed("GET, HEAD")),
        },
        Route::Catalog => match method {
            Method::GET | Method::HEAD => lists::catalog(shared, &query),
            _ => Err(not_allowed("GET, HEAD")),
        },
        Route::Tags { name } => match method {
            Method::GET | Method::HEAD => lists::tags(shared, &name, &query),
            _ => Err(not_allowed("GET, HEAD")),
        },
        Route::Manifest { name, reference } => match method {
            Method::GET | Method::HEAD => manifests::get(shared, &name, &reference),
            Method::PUT => manifests::put(shared, &name, &reference, req).await,
            Method::DELETE => manifests::delete(shared, &name, &reference),
            _ => Err(not_allowed("GET, HEAD, PUT, DELETE")),
        },
        Route::Blob { name, digest } => match method {
            Method::GET | Method::HEAD => blobs::get(shared, &name, &digest, req.headers()),
            Method::DELETE => blobs::delete(shared, &name, &digest),
            _ => Err(not_allowed("GET, HEAD, DELETE")),
        },
        Route::StartUpload { name } => match method {
            Method::POST => uploads::start(shared, &name, &query, req).await,
            _ => Err(not_allowed("POST")),
        },
        Route::Upload { name, id } => match method {
            Method::GET => uploads::status(shared, &name, &id),
            Method::PATCH => uploads::patch(shared, &name, &id, req).await,
            Method::PUT => uploads::finish(shared, &name, &id, &query, req).await,
            Method::DELETE => uploads::cancel(shared, &name, &id),
            _ => Err(not_allowed("GET, PATCH, PUT, DELETE")),
        },
        // Without the API the path is unknown, answered as Go's router does.
        Route::Referrers { .. } if !shared.behaviour.referrers_api() => Ok(Reply::new(StatusCode::NOT_FOUND)
            .body("text/plain; charset=utf-8", Bytes::from_static(b"404 page not found\n"))),
        Route::Referrers { name, digest } => match method {
            Method::GET => referrers::list(shared, &name, &digest, &query),
            _ => Err(not_allowed("GET")),
        },
        Route::Token | Route::Unknown => {
            Err(ApiError::not_found(Code::Unsupported, "no such endpoint").detail(json!({"path": req.uri().path()})))
        }
    }
}
