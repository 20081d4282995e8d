//! One request to the registry, and its body.

use std::fmt;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use url::Url;

use crate::auth::scope::Scope;
use crate::digest::ByteStream;

/// A request body.
#[non_exhaustive]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes in memory: can be sent again on retry.
    Bytes(Bytes),
    /// A stream, sent once: a request with a stream body is never retried. `length` sets `Content-Length`;
    /// without it the body is sent chunked.
    Stream {
        /// The stream, taken when sent.
        stream: Option<ByteStream>,
        /// The exact length, when known.
        length: Option<u64>,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Body::Stream { stream, length } => {
                write!(f, "Stream(length={length:?}, sent={})", stream.is_none())
            }
        }
    }
}

/// One request to the registry.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) scope: Scope,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) idempotent: bool,
}

impl Request {
    /// A request needing `scope`. GET, HEAD, PUT and DELETE are idempotent (retried); others are not unless
    /// marked with [`Request::idempotent`].
    pub(crate) fn new(method: Method, url: Url, scope: Scope) -> Request {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE);
        Request { method, url, scope, headers: HeaderMap::new(), body: Body::Empty, idempotent }
    }

    /// Add a header.
    #[must_use]
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.insert(name, value);
        self
    }

    /// Set the body.
    #[must_use]
    pub(crate) fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// Mark whether the request may be retried.
    #[must_use]
    pub(crate) fn idempotent(mut self, idempotent: bool) -> Request {
        self.idempotent = idempotent;
        self
    }

    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.body, Body::Stream { .. })
    }
}
