//! Optional authentication: HTTP Basic on every request, or Bearer tokens issued by the server's own `/token`
//! endpoint in exchange for Basic credentials (the distribution token flow, with opaque tokens).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, StatusCode};
use serde_json::json;

use super::ids::random_hex;
use super::reply::{ApiError, HandlerResult, Reply};
use super::routes::Route;
use crate::store::Code;

/// The `service` of bearer challenges, and the Basic realm.
pub(crate) const SERVICE: &str = "mocks";
/// How long an issued token is valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Which authentication the server demands.
#[derive(Clone, Default)]
pub(crate) enum AuthMode {
    /// None.
    #[default]
    Anonymous,
    /// `Authorization: Basic` with these credentials on every request.
    Basic { username: String, password: String },
    /// `Authorization: Bearer` with a token from `/token`, which takes these credentials.
    Bearer { username: String, password: String },
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::Anonymous => f.write_str("Anonymous"),
            AuthMode::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
            AuthMode::Bearer { username, .. } => write!(f, "Bearer({username:?}, <redacted>)"),
        }
    }
}

/// The authentication state of a server: its mode and the tokens it issued.
#[derive(Debug)]
pub(crate) struct Auth {
    mode: AuthMode,
    /// The token endpoint's URL, `http://host:port/token`.
    realm: String,
    tokens: Mutex<HashMap<String, Instant>>,
}

impl Auth {
    /// Authentication in `mode` for a server whose token endpoint is `realm`.
    pub(crate) fn new(mode: AuthMode, realm: String) -> Auth {
        Auth { mode, realm, tokens: Mutex::new(HashMap::new()) }
    }

    /// Whether `headers` carry the configured Basic credentials.
    fn basic_ok(headers: &HeaderMap, username: &str, password: &str) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Ok(text) = String::from_utf8(decoded) else { return false };
        text.split_once(':').is_some_and(|(u, p)| u == username && p == password)
    }

    /// The bearer token in `headers`, if any.
    fn bearer(headers: &HeaderMap) -> Option<&str> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
    }

    fn token_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.get(token).is_some_and(|expires| Instant::now() < *expires)
    }

    /// Check the credentials of a request for `route`: `Ok` to go on, else the 401 to answer.
    pub(crate) fn check(&self, headers: &HeaderMap, method: &Method, route: &Route) -> Result<(), ApiError> {
        let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, Code::Unauthorized, "authentication required");
        match &self.mode {
            AuthMode::Anonymous => Ok(()),
            AuthMode::Basic { username, password } => {
                if Auth::basic_ok(headers, username, password) {
                    Ok(())
                } else {
                    Err(unauthorized().header(WWW_AUTHENTICATE, &format!("Basic realm=\"{SERVICE}\"")))
                }
            }
            AuthMode::Bearer { .. } => {
                let presented = Auth::bearer(headers);
                if presented.is_some_and(|t| self.token_valid(t)) {
                    return Ok(());
                }
                let mut challenge = format!("Bearer realm=\"{}\",service=\"{SERVICE}\"", self.realm);
                if let Some(scope) = scope(method, route) {
                    challenge.push_str(&format!(",scope=\"{scope}\""));
                }
                if presented.is_some() {
                    challenge.push_str(",error=\"invalid_token\"");
                }
                Err(unauthorized().header(WWW_AUTHENTICATE, &challenge))
            }
        }
    }

    /// Answer a request to the token endpoint: a fresh token for the right Basic credentials, else 401.
    pub(crate) fn issue_token(&self, headers: &HeaderMap, method: &Method) -> HandlerResult {
        let AuthMode::Bearer { username, password } = &self.mode else {
            return Err(ApiError::not_found(Code::Unsupported, "this server issues no tokens"));
        };
        if method != Method::GET {
            return Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Code::Unsupported, "use GET for tokens"));
        }
        if !Auth::basic_ok(headers, username, password) {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, Code::Unauthorized, "invalid credentials")
                .header(WWW_AUTHENTICATE, &format!("Basic realm=\"{SERVICE}\"")));
        }
        let token = random_hex();
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + TOKEN_LIFETIME);
        let body = json!({"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME.as_secs()});
        Ok(Reply::new(StatusCode::OK).json(&body))
    }
}

/// The scope a request for `route` with `method` needs, as a bearer challenge names it.
fn scope(method: &Method, route: &Route) -> Option<String> {
    if *route == Route::Catalog {
        return Some("registry:catalog:*".to_string());
    }
    let name = route.name()?;
    let actions = match *method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "pull,push",
    };
    Some(format!("repository:{name}:{actions}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap_or(HeaderValue::from_static("x")));
        h
    }

    fn basic(user: &str, pass: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
    }

    fn www_authenticate(e: ApiError) -> (StatusCode, String) {
        let reply = Reply::from(e);
        let value = reply.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        (reply.status, value.to_string())
    }

    #[test]
    fn basic_mode_checks_every_request() {
        let auth = Auth::new(AuthMode::Basic { username: "u".into(), password: "p:w".into() }, String::new());
        let route = Route::Base;
        assert!(auth.check(&headers(&basic("u", "p:w")), &Method::GET, &route).is_ok());
        assert!(auth.check(&headers(&basic("u", "x")), &Method::GET, &route).is_err());
        assert!(auth.check(&HeaderMap::new(), &Method::GET, &route).is_err());
        let e = auth.check(&HeaderMap::new(), &Method::GET, &route).err();
        assert_eq!(e.map(www_authenticate), Some((StatusCode::UNAUTHORIZED, r#"Basic realm="mocks""#.to_string())));
        assert!(format!("{:?}", auth).contains("<redacted>") && !format!("{auth:?}").contains("p:w"));
    }

    #[test]
    fn bearer_mode_issues_and_accepts_tokens() {
        let auth = Auth::new(
            AuthMode::Bearer { username: "u".into(), password: "p".into() },
            "http://127.0.0.1:1/token".into(),
        );
        let route = Route::Manifest { name: "a/b".into(), reference: "v1".into() };
        let e = auth.check(&HeaderMap::new(), &Method::PUT, &route).err().map(Reply::from);
        let challenge = e.as_ref().and_then(|r| r.headers.get(WWW_AUTHENTICATE)).and_then(|v| v.to_str().ok());
        assert_eq!(
            challenge,
            Some(r#"Bearer realm="http://127.0.0.1:1/token",service="mocks",scope="repository:a/b:pull,push""#)
        );
        assert!(auth.issue_token(&headers(&basic("u", "wrong")), &Method::GET).is_err());
        let reply = auth.issue_token(&headers(&basic("u", "p")), &Method::GET);
        let body: serde_json::Value =
            reply.map(|r| serde_json::from_slice(&r.body).unwrap_or_default()).unwrap_or_default();
        let token = body["token"].as_str().unwrap_or_default().to_string();
        assert_eq!(token.len(), 32);
        assert_eq!(body["access_token"], body["token"]);
        assert!(auth.check(&headers(&format!("Bearer {token}")), &Method::PUT, &route).is_ok());
        let e = auth.check(&headers("Bearer nope"), &Method::GET, &route).err().map(Reply::from);
        let challenge = e.as_ref().and_then(|r| r.headers.get(WWW_AUTHENTICATE)).and_then(|v| v.to_str().ok());
        assert!(challenge.is_some_and(|c| c.contains("invalid_token") && c.contains(":pull\"")), "{challenge:?}");
    }

    #[test]
    fn scopes() {
        assert_eq!(scope(&Method::GET, &Route::Catalog).as_deref(), Some("registry:catalog:*"));
        assert_eq!(scope(&Method::GET, &Route::Base), None);
        let tags = Route::Tags { name: "x".into() };
        assert_eq!(scope(&Method::HEAD, &tags).as_deref(), Some("repository:x:pull"));
        assert_eq!(scope(&Method::DELETE, &tags).as_deref(), Some("repository:x:delete"));
    }
}
