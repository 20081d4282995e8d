//! Turning HTTP answers and failures into [`Error`]s, and reading bodies with a cap.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::Deserialize;
use url::Url;

use super::retry::retry_after;
use crate::error::{Error, ErrorKind, RegistryErrorCode, Result};

/// The most of an error body that is read.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// A URL as it may appear in messages and logs: no user info, no query string (upload locations carry state).
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Query parameters that carry no secret and tell why a request failed, kept by [`shown_url`]: the page window of
/// lists (`n`, `last`), the digest that closes an upload, a mount's source, the referrers filter, and the service
/// and scopes a token was asked for (`service`, `scope`: repository names and actions).
const SHOWN_PARAMS: &[&str] = &["n", "last", "digest", "mount", "from", "artifactType", "service", "scope"];

/// A URL as it appears in error messages and request logs: no user info, and of the query string only the
/// parameters that carry no secret and tell why a request failed (`n`, `last`, `digest`, `mount`, `from`,
/// `artifactType`, `service`, `scope`); anything else (upload state, signatures, tokens) is dropped, as in [`redact_url`].
pub fn shown_url(url: &Url) -> String {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| SHOWN_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_fragment(None);
    u.set_query(None);
    if !kept.is_empty() {
        u.query_pairs_mut().extend_pairs(kept);
    }
    u.to_string()
}

/// An [`Error`] for a failed `reqwest` call; `what` is e.g. `"GET https://host/v2/"`.
pub(crate) fn from_reqwest(e: reqwest::Error, what: &str) -> Error {
    let mut detail = String::new();
    let mut io_cause = false;
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        detail = s.to_string();
        // A connection dropped mid-body surfaces as a decode error whose cause is an i/o or incomplete-message error:
        // that is a network failure, not a protocol violation.
        io_cause |= s.is::<std::io::Error>() || detail.contains("end of file") || detail.contains("incomplete");
        src = s.source();
    }
    if detail.contains("proxy authorization required") {
        return Error::new(
            ErrorKind::Unauthorized,
            format!("{what}: the proxy requires authentication: put its credentials in the proxy URL"),
        )
        .with_source(e.without_url());
    }
    if answered_plain_http(&e) {
        return Error::new(
            ErrorKind::Tls,
            format!(
                "{what}: TLS handshake failed: the server (or a redirect's target) answered plain HTTP, not TLS \
                 ({detail}): a registry that serves plain HTTP needs insecure(true); a token realm, redirect or proxy \
                 URL must name the scheme its server speaks"
            ),
        )
        .with_source(e.without_url());
    }
    let tls = tls_failure(&e);
    let kind = if tls.is_some() {
        ErrorKind::Tls
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() || e.is_request() || e.is_body() || io_cause {
        ErrorKind::Io
    } else if e.is_decode() || e.is_redirect() {
        ErrorKind::Protocol
    } else {
        ErrorKind::Io
    };
    if let Some(hint) = tls {
        return Error::new(kind, format!("{what}: TLS handshake failed: {detail}{hint}")).with_source(e.without_url());
    }
    // A server that closes the connection on a TLS handshake may be a plain-HTTP server that drops what it cannot
    // parse, or a busy one: worth another attempt, with the hint.
    if detail.contains("tls handshake eof") {
        detail.push_str(
            " (the server closed the connection during the TLS handshake: if the registry serves plain HTTP, build \
             the client with insecure(true))",
        );
    }
    let msg = match (e.is_connect(), detail.is_empty()) {
        (true, false) => format!("{what}: cannot connect: {detail}"),
        (true, true) => format!("{what}: cannot connect"),
        (false, false) => format!("{what}: {detail}"),
        (false, true) => what.to_string(),
    };
    Error::new(kind, msg).with_source(e.without_url())
}

/// An error and its sources, `: `-joined.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Whether `e` is a TLS handshake answered in plain HTTP: the first bytes back (`HTTP/1.1 400 ...`, `<html>`) are
/// no TLS record, which rustls reports as a corrupt message of type `InvalidContentType`. Trying again cannot
/// help, so this is a [`ErrorKind::Tls`] failure, never retried.
fn answered_plain_http(e: &reqwest::Error) -> bool {
    let all = error_chain(e);
    all.contains("InvalidContentType")
}

/// When `e` is a failed TLS handshake, a hint on what to do (possibly empty).
fn tls_failure(e: &reqwest::Error) -> Option<&'static str> {
    let all = error_chain(e);
    if all.contains("UnknownIssuer") || all.contains("BadSignature") || all.contains("certificate is not trusted") {
        Some(" (the server's certificate is not signed by a trusted root: add its CA with root_certificate_pem)")
    } else if all.contains("NotValidForName") || all.contains("not valid for name") {
        Some(" (the server's certificate does not name this host)")
    } else if all.contains("Expired") || all.contains("expired") {
        Some(" (the server's certificate has expired or is not yet valid)")
    } else if all.contains("CaUsedAsEndEntity") {
        Some(
            " (the server's certificate is a CA certificate, as a self-signed one made with openssl req -x509 is: \
             it is accepted only when it is exactly one of the certificates given to root_certificate_pem, and it is \
             not)",
        )
    } else if all.contains("CertificateRequired") || all.contains("BadCertificate") || all.contains("UnknownCA") {
        Some(" (the server refused the client certificate, or requires one: see client_identity_pem)")
    } else if all.contains("invalid peer certificate")
        || all.contains("fatal alert")
        || all.contains("HandshakeFailure")
    {
        Some("")
    } else {
        None
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<RegistryErrorCode>,
}

/// Whether `e` is a HEAD answered as a method the server does not implement (405 or 501): some registries and
/// proxies answer HEAD so where GET works, and the caller asks with GET instead.
pub(crate) fn head_refused(e: &Error) -> bool {
    matches!(e.status(), Some(405 | 501))
}

/// An [`Error`] for a non-success response from its status and headers only (kind, status, `Retry-After`), without
/// reading its body: what deciding whether to send the request again needs.
pub(crate) fn head_error(resp: &reqwest::Response, what: &str) -> Error {
    let status = resp.status().as_u16();
    Error::new(ErrorKind::from_status(status), what).with_status(status).with_retry_after(retry_after(resp.headers()))
}

/// An [`Error`] for a non-success response: kind from the status, codes from the body (at most 64 KiB read).
pub(crate) async fn error_from_response(resp: reqwest::Response, what: &str) -> Error {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let version = resp.version();
    let header_count = resp.headers().len();
    let content_type =
        resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = read_prefix(resp, MAX_ERROR_BODY).await;
    let codes = error_codes(&body);
    let mut kind = ErrorKind::from_status(status);
    if codes.iter().any(|c| c.code == "DIGEST_INVALID" || c.code == "SIZE_INVALID") {
        kind = ErrorKind::DigestMismatch;
    }
    if codes.iter().any(|c| c.code == "DENIED") && status == 401 {
        kind = ErrorKind::Denied;
    }
    if codes.iter().any(|c| c.code == "UNSUPPORTED") {
        kind = ErrorKind::Unsupported;
    }
    let mut msg = what.to_string();
    if status == 407 {
        msg.push_str(": the proxy requires authentication: put its credentials in the proxy URL");
    }
    // Go's TLS server answers a plain request with a bare HTTP/1.0 400 (no headers) and this text.
    let bare_http10 = version == reqwest::Version::HTTP_10 && header_count == 0;
    if status == 400 && (bare_http10 || body.windows(31).any(|w| w == b"HTTP request to an HTTPS server")) {
        return Error::new(ErrorKind::Protocol, format!("{msg}: the registry speaks HTTPS; do not ask for plain HTTP"))
            .with_status(status);
    }
    if codes.is_empty() && !body.is_empty() && (200..600).contains(&status) {
        let looks_html = content_type.contains("html") || body.trim_ascii_start().starts_with(b"<");
        if looks_html {
            msg.push_str(": the server answered HTML, not a registry error (is this a registry?)");
        }
    }
    Error::new(kind, msg).with_status(status).with_codes(codes).with_retry_after(retry_after)
}

/// The registry error codes of an error body (`{"errors": [{"code": ..., "message": ...}]}`); none when it is
/// anything else.
fn error_codes(body: &[u8]) -> Vec<RegistryErrorCode> {
    serde_json::from_slice::<ErrorBody>(body).map(|b| b.errors).unwrap_or_default()
}

/// Read at most `max` bytes of a body, dropping the rest (for error bodies).
pub(crate) async fn read_prefix(resp: reqwest::Response, max: usize) -> Bytes {
    let mut out = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = max - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max {
            break;
        }
    }
    out.freeze()
}

/// Read a whole body, failing when it is longer than `max` bytes (checked against `Content-Length` first, then
/// while reading, so an endless body never exhausts memory).
pub(crate) async fn read_capped(resp: reqwest::Response, max: usize, what: &str) -> Result<Bytes> {
    if let Some(len) = resp.content_length() {
        if len > max as u64 {
            return Err(Error::unsupported(format!("{what} is {len} bytes, over the {} limit", human(max))));
        }
    }
    let url = redact_url(resp.url());
    let mut out = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| from_reqwest(e, &format!("reading {what} from {url}")))?;
        if out.len() + chunk.len() > max {
            return Err(Error::unsupported(format!("{what} exceeds the {} limit", human(max))));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// `4 MiB`, `64 KiB`, `17 bytes`.
pub(crate) fn human(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_query_and_userinfo() {
        let u = Url::parse("https://user:pw@host:5000/v2/a/blobs/uploads/x?_state=secret&digest=sha256:1").ok();
        assert_eq!(u.as_ref().map(redact_url).as_deref(), Some("https://host:5000/v2/a/blobs/uploads/x"));
    }

    #[test]
    fn shown_urls_keep_the_harmless_parameters_only() {
        let show = |s: &str| Url::parse(s).map(|u| shown_url(&u)).unwrap_or_default();
        assert_eq!(
            show("https://user:pw@host:5000/v2/a/blobs/uploads/x?_state=secret&digest=sha256:1"),
            "https://host:5000/v2/a/blobs/uploads/x?digest=sha256%3A1"
        );
        assert_eq!(show("https://host/v2/_catalog?n=1000&last=a%2Fb"), "https://host/v2/_catalog?n=1000&last=a%2Fb");
        assert_eq!(
            show("https://s3.example/blob?X-Amz-Signature=s&X-Amz-Credential=c&token=t&sig=x"),
            "https://s3.example/blob"
        );
        assert_eq!(show("https://host/v2/"), "https://host/v2/");
        assert_eq!(
            show("https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull&refresh_token=secret"),
            "https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_error_body_parses_without_panic(body in proptest::prelude::any::<Vec<u8>>()) {
            let _ = error_codes(&body);
        }

        #[test]
        fn error_codes_round_trip(code in "[A-Z_]{1,30}", message in "\\PC{0,40}") {
            let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": {"n": 1}}]});
            let codes = error_codes(body.to_string().as_bytes());
            proptest::prop_assert_eq!(codes.len(), 1);
            proptest::prop_assert_eq!(&codes[0].code, &code);
            proptest::prop_assert_eq!(&codes[0].message, &message);
        }
    }
}
