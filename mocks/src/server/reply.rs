//! What a handler answers: a [`Reply`] (status, headers, body bytes) or an [`ApiError`] with a spec error code.
//!
//! Replies keep their body as bytes until the very end, so the service can strip it for `HEAD` and cut it short
//! for the `drop_after` fault.

use bytes::Bytes;
use hyper::header::{HeaderValue, IntoHeaderName, CONTENT_TYPE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::store::{Code, StoreError};

/// The `Content-Type` of JSON answers.
const JSON: &str = "application/json";

/// The header carrying the digest of served or stored content.
pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// An answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A header value from a string; a value that cannot be a header (never produced here) becomes `invalid`.
pub(crate) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("invalid"))
}

impl Reply {
    /// An empty answer with `status`.
    pub(crate) fn new(status: StatusCode) -> Reply {
        Reply { status, headers: HeaderMap::new(), body: Bytes::new() }
    }

    /// Add a header.
    pub(crate) fn header(mut self, name: impl IntoHeaderName, value: &str) -> Reply {
        self.headers.append(name, header_value(value));
        self
    }

    /// Set the body and its content type.
    pub(crate) fn body(mut self, content_type: &str, body: Bytes) -> Reply {
        self.headers.insert(CONTENT_TYPE, header_value(content_type));
        self.body = body;
        self
    }

    /// Set a JSON body.
    pub(crate) fn json(self, value: &Value) -> Reply {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.body(JSON, Bytes::from(bytes))
    }
}

/// A failed request: a status, one spec error, and extra headers (challenges, `Range`, `Retry-After`). Boxed, so
/// results stay small.
#[derive(Debug)]
pub(crate) struct ApiError(Box<ErrorParts>);

#[derive(Debug)]
struct ErrorParts {
    status: StatusCode,
    code: Code,
    message: String,
    detail: Value,
    headers: HeaderMap,
}

impl ApiError {
    /// An error answered with `status` and `code`.
    pub(crate) fn new(status: StatusCode, code: Code, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorParts {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            headers: HeaderMap::new(),
        }))
    }

    /// 400 with `code`.
    pub(crate) fn bad_request(code: Code, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub(crate) fn not_found(code: Code, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// Attach a detail object.
    pub(crate) fn detail(mut self, detail: Value) -> ApiError {
        self.0.detail = detail;
        self
    }

    /// Add a header.
    pub(crate) fn header(mut self, name: impl IntoHeaderName, value: &str) -> ApiError {
        self.0.headers.append(name, header_value(value));
        self
    }

    /// The code.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Code {
        self.0.code
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        let e = *e.0;
        let body = json!({"errors": [{"code": e.code.as_str(), "message": e.message, "detail": e.detail}]});
        let mut reply = Reply::new(e.status).json(&body);
        reply.headers.extend(e.headers);
        reply
    }
}

/// What the store refused, answered with its status and code, and a detail saying what was missing or wrong.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let detail = match &e {
            StoreError::RepositoryUnknown(repo) => json!({"name": repo.path()}),
            StoreError::ManifestUnknown { reference, repository_known: false } => {
                json!({"name": reference.repository().path()})
            }
            StoreError::ManifestUnknown { reference, repository_known: true } => {
                let r = reference
                    .digest()
                    .map_or_else(|| reference.tag().unwrap_or_default().to_string(), |d| d.to_string());
                json!({"name": reference.repository().path(), "reference": r})
            }
            StoreError::BlobUnknown { digest, .. } | StoreError::ManifestBlobUnknown { digest, .. } => {
                json!({"digest": digest.as_str()})
            }
            StoreError::ManifestInvalid { error, .. } => json!({"reason": error.message()}),
            StoreError::ManifestDigestInvalid { reference, actual } => {
                json!({"expected": reference.digest().map(|d| d.to_string()), "actual": actual.as_str()})
            }
            StoreError::BlobDigestInvalid { expected, actual, size } => {
                json!({"expected": expected.as_str(), "actual": actual.as_str(), "size": size})
            }
            StoreError::UploadUnknown { id } => json!({"id": id}),
        };
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.code(), e.registry_message()).detail(detail)
    }
}

/// What handlers return.
pub(crate) type HandlerResult = Result<Reply, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_spec_shape() {
        let e = ApiError::not_found(Code::BlobUnknown, "blob unknown to registry")
            .detail(json!({"digest": "sha256:x"}))
            .header(hyper::header::RETRY_AFTER, "3");
        let r = Reply::from(e);
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
        assert_eq!(r.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some(JSON));
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["errors"][0]["code"], "BLOB_UNKNOWN");
        assert_eq!(v["errors"][0]["message"], "blob unknown to registry");
        assert_eq!(v["errors"][0]["detail"]["digest"], "sha256:x");
    }

    #[test]
    fn fault_codes_follow_the_status() {
        let code = |s: u16| Code::for_status(s).as_str();
        assert_eq!(code(503), "UNAVAILABLE");
        assert_eq!(code(429), "TOOMANYREQUESTS");
        assert_eq!(code(401), "UNAUTHORIZED");
        assert_eq!(code(500), "UNKNOWN");
    }
}
