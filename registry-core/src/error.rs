//! The one error type of the workspace.
//!
//! Every failure is an [`Error`] with a [`kind`](Error::kind) to branch on, the HTTP status and the registry's
//! error codes when a server answered, and a source chain. Messages never carry credentials: request URLs are
//! shown without their query string and no header value is ever copied into an error.

use std::fmt;

use serde::Deserialize;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: the thing callers branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The repository, manifest, tag or blob does not exist (HTTP 404, or no match in an index).
    NotFound,
    /// No or wrong credentials (HTTP 401 after authenticating).
    Unauthorized,
    /// Authenticated, but not allowed (HTTP 403, or a token without the needed scope).
    Denied,
    /// The registry is rate limiting (HTTP 429, after retries).
    TooManyRequests,
    /// The caller's input is malformed (reference, segment, option) or the registry rejected it as invalid (400).
    InvalidInput,
    /// Content did not match its digest or declared size.
    DigestMismatch,
    /// The registry or the content uses something this client does not support (schema1, an unknown algorithm).
    Unsupported,
    /// The registry answered something that does not follow the protocol (garbage JSON, HTML, wrong headers).
    Protocol,
    /// The registry failed on its side (HTTP 5xx, after retries).
    Server,
    /// A connection or I/O failure (refused, reset, DNS).
    Io,
    /// The request did not complete in time.
    Timeout,
    /// The TLS handshake failed: the server's certificate is not trusted or not valid for the host, or the server
    /// refused the client certificate. Not retried: trying again cannot help.
    Tls,
}

impl ErrorKind {
    /// A short lowercase name, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Denied => "denied",
            ErrorKind::TooManyRequests => "too many requests",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::DigestMismatch => "digest mismatch",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Server => "server error",
            ErrorKind::Io => "i/o error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls error",
        }
    }

    /// The kind that an HTTP error status maps to.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            // 407: the proxy wants credentials.
            401 | 407 => ErrorKind::Unauthorized,
            403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::TooManyRequests,
            400 | 411 | 413 | 414 | 416 | 422 => ErrorKind::InvalidInput,
            405 | 501 | 505 => ErrorKind::Unsupported,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Protocol,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a registry's error body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":...}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegistryErrorCode {
    /// The distribution error code, e.g. `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `DIGEST_INVALID`.
    pub code: String,
    /// The registry's human-readable message.
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for RegistryErrorCode {
    /// `CODE: message`, or just `CODE` when the registry sent no message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// The error of every fallible operation in the workspace.
///
/// ```
/// use registry_core::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::NotFound, "manifest v9 not found");
/// assert!(e.is_not_found());
/// assert_eq!(e.to_string(), "not found: manifest v9 not found");
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    codes: Vec<RegistryErrorCode>,
    attempts: u32,
    retry_after: Option<std::time::Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message saying what was wrong.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: None,
                codes: Vec::new(),
                attempts: 1,
                retry_after: None,
                source: None,
            }),
        }
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::Protocol`] error: the server broke the protocol.
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    /// An [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    /// An [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// Attach the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Attach the HTTP status the registry answered with.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Error {
        self.inner.status = Some(status);
        self
    }

    /// Attach the registry's error codes.
    #[must_use]
    pub fn with_codes(mut self, codes: Vec<RegistryErrorCode>) -> Error {
        self.inner.codes = codes;
        self
    }

    /// Change the kind (e.g. a 401 that turns out to be a permission problem is [`ErrorKind::Denied`]).
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.inner.kind = kind;
        self
    }

    /// Record how many attempts were made before giving up.
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Error {
        self.inner.attempts = attempts;
        self
    }

    /// Prefix the message with what was being done, e.g. `"pull example.com/app:v1"`.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.inner.message = format!("{context}: {}", self.inner.message);
        self
    }

    /// What went wrong, coarsely.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The HTTP status the registry answered with, if one did.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The registry's error codes, if its error body had any.
    pub fn codes(&self) -> &[RegistryErrorCode] {
        &self.inner.codes
    }

    /// Whether the registry's error body has `code` (e.g. `"MANIFEST_UNKNOWN"`).
    pub fn has_code(&self, code: &str) -> bool {
        self.inner.codes.iter().any(|c| c.code == code)
    }

    /// Record how long the registry asked to wait before trying again (its `Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Error {
        self.inner.retry_after = wait;
        self
    }

    /// How long the registry asked to wait before trying again (`Retry-After` on its answer), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.inner.retry_after
    }

    /// How many attempts were made (1 unless the request was retried).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Kind is [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::NotFound
    }

    /// Kind is [`ErrorKind::Unauthorized`].
    pub fn is_unauthorized(&self) -> bool {
        self.inner.kind == ErrorKind::Unauthorized
    }

    /// Kind is [`ErrorKind::Denied`].
    pub fn is_denied(&self) -> bool {
        self.inner.kind == ErrorKind::Denied
    }

    /// Whether trying again later may succeed (rate limits, server errors, timeouts, connection failures).
    pub fn is_temporary(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::TooManyRequests | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Io)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        if let Some(status) = self.inner.status {
            d.field("status", &status);
        }
        if !self.inner.codes.is_empty() {
            d.field("codes", &self.inner.codes);
        }
        if self.inner.attempts > 1 {
            d.field("attempts", &self.inner.attempts);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        let mut extra = Vec::new();
        if let Some(status) = self.inner.status {
            extra.push(format!("HTTP {status}"));
        }
        // A hostile registry may send thousands of codes or huge ones: show a few, each bounded.
        const SHOWN: usize = 3;
        for c in self.inner.codes.iter().take(SHOWN) {
            let code = truncate(&c.code, 64);
            if c.message.is_empty() {
                extra.push(code);
            } else {
                extra.push(format!("{code}: {}", truncate(&c.message, 200)));
            }
        }
        if self.inner.codes.len() > SHOWN {
            extra.push(format!("and {} more error codes", self.inner.codes.len() - SHOWN));
        }
        if self.inner.attempts > 1 {
            extra.push(format!("after {} attempts", self.inner.attempts));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// Cut `s` to at most `max` characters, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
        assert_bounds::<Error>();
    }

    #[test]
    fn display_includes_status_and_codes() {
        let e = Error::new(ErrorKind::NotFound, "GET /v2/a/manifests/b").with_status(404).with_codes(vec![
            RegistryErrorCode { code: "MANIFEST_UNKNOWN".into(), message: "manifest unknown".into() },
        ]);
        assert_eq!(e.to_string(), "not found: GET /v2/a/manifests/b (HTTP 404; MANIFEST_UNKNOWN: manifest unknown)");
        assert!(e.has_code("MANIFEST_UNKNOWN"));
        assert!(!e.has_code("NAME_UNKNOWN"));
    }

    #[test]
    fn registry_error_codes_display_code_and_message() {
        let code = RegistryErrorCode { code: "MANIFEST_UNKNOWN".into(), message: "manifest unknown".into() };
        assert_eq!(code.to_string(), "MANIFEST_UNKNOWN: manifest unknown");
        let bare = RegistryErrorCode { code: "DENIED".into(), message: String::new() };
        assert_eq!(bare.to_string(), "DENIED");
    }

    #[test]
    fn status_mapping() {
        assert_eq!(ErrorKind::from_status(401), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::from_status(407), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::from_status(403), ErrorKind::Denied);
        assert_eq!(ErrorKind::from_status(429), ErrorKind::TooManyRequests);
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Server);
        assert_eq!(ErrorKind::from_status(418), ErrorKind::Protocol);
    }

    #[test]
    fn source_chain_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Io, "connect").with_source(io);
        let src = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("refused"));
    }
}
