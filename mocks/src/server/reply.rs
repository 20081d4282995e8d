//! What a handler answers: a [`Reply`] (status, headers, body bytes) or an [`ApiError`] with a spec error code.
//!
//! Replies keep their body as bytes until the very end, so the service can strip it for `HEAD` and cut it short
//! for the `drop_after` fault.

use bytes::Bytes;
use hyper::header::{HeaderValue, IntoHeaderName, CONTENT_TYPE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// The `Content-Type` of JSON answers.
const JSON: &str = "application/json";

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

/// The error codes of the distribution spec (and distribution's extras) this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    PaginationNumberInvalid,
    RangeInvalid,
    TagInvalid,
    Unavailable,
    Unknown,
}

impl Code {
    /// The code as it appears in an error body.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::TagInvalid => "TAG_INVALID",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The code that best describes an arbitrary failure status (for injected faults).
    pub(crate) fn for_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthorized,
            403 => Code::Denied,
            404 => Code::NameUnknown,
            405 => Code::Unsupported,
            416 => Code::RangeInvalid,
            429 => Code::TooManyRequests,
            502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
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
        let code = |s: u16| StatusCode::from_u16(s).map(Code::for_status).map(Code::as_str).unwrap_or("");
        assert_eq!(code(503), "UNAVAILABLE");
        assert_eq!(code(429), "TOOMANYREQUESTS");
        assert_eq!(code(401), "UNAUTHORIZED");
        assert_eq!(code(500), "UNKNOWN");
    }
}
