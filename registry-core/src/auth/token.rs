//! Token exchange at a bearer challenge's realm, and the per-scope token cache.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use super::{Challenge, Credentials, Scope, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::response::{read_capped, redact_url};

/// The largest token answer read, in bytes.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;
/// The lifetime assumed when a token answer has no `expires_in` (the distribution token spec's default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    /// The token.
    pub value: Secret,
    /// When it should be refreshed (a margin before it expires).
    pub refresh_at: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("value", &self.value).field("refresh_at", &self.refresh_at).finish()
    }
}

impl Token {
    fn new(value: String, lifetime: Duration) -> Token {
        // Refresh at 90% of the lifetime, and at least 5 s early when the lifetime allows it.
        let margin = (lifetime / 10).max(Duration::from_secs(5)).min(lifetime / 2);
        Token { value: Secret::new(value), refresh_at: Instant::now() + lifetime - margin }
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// Tokens of one registry by scope, fetched at most once at a time.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<Scope, Token>>,
    fetching: tokio::sync::Mutex<()>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("tokens", &n).finish()
    }
}

impl TokenCache {
    /// A fresh token for `scope`, if cached.
    pub fn get(&self, scope: &Scope) -> Option<Token> {
        let tokens = self.tokens.lock().ok()?;
        tokens.get(scope).filter(|t| t.is_fresh()).cloned()
    }

    /// Cache `token` for `scope`.
    pub fn insert(&self, scope: &Scope, token: Token) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(scope.clone(), token);
        }
    }

    /// The cached token for `scope`, or the one `fetch` gets; concurrent callers wait for one fetch.
    pub async fn get_or_fetch<F, Fut>(&self, scope: &Scope, fetch: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        if let Some(t) = self.get(scope) {
            return Ok(t);
        }
        let _guard = self.fetching.lock().await;
        if let Some(t) = self.get(scope) {
            return Ok(t);
        }
        let token = fetch().await?;
        self.insert(scope, token.clone());
        Ok(token)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Whether basic credentials may be sent to `realm`.
fn may_send_credentials(realm: &Url, registry_insecure: bool) -> bool {
    realm.scheme() == "https" || registry_insecure
}

/// Exchange `credentials` for a token with `scopes` at the challenge's realm (GET, as the distribution token
/// spec describes).
pub(crate) async fn fetch(
    http: &reqwest::Client,
    challenge: &Challenge,
    scopes: &[String],
    credentials: &Credentials,
    registry_insecure: bool,
) -> Result<Token> {
    let realm =
        challenge.realm().ok_or_else(|| Error::protocol("bearer challenge without a realm: cannot get a token"))?;
    let mut url = Url::parse(realm)
        .map_err(|e| Error::protocol(format!("bearer challenge realm {realm:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::protocol(format!("bearer challenge realm {realm:?} is not http(s)")));
    }
    {
        let mut q = url.query_pairs_mut();
        if let Some(service) = challenge.service() {
            q.append_pair("service", service);
        }
        for s in scopes {
            q.append_pair("scope", s);
        }
    }
    let shown = redact_url(&url);
    let mut req = http.get(url.clone());
    if let Credentials::Basic { .. } = credentials {
        if !may_send_credentials(&url, registry_insecure) {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!("token realm {shown} is plain HTTP; refusing to send credentials to it"),
            ));
        }
        if let Some(h) = credentials.basic_header() {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
    }
    let span = tracing::debug_span!("token_request", realm = %shown, scopes = ?scopes);
    let _enter = span.enter();
    let resp = req
        .send()
        .await
        .map_err(|e| crate::transport::response::from_reqwest(e, &format!("GET {shown}")).context("token request"))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        let user = match credentials {
            Credentials::Basic { username, .. } => format!(" for user {username:?}"),
            _ => String::new(),
        };
        let err = crate::transport::response::error_from_response(resp, &format!("GET {shown}")).await;
        let msg = match status {
            401 => format!("token server rejected the credentials{user}"),
            403 => format!("token server denied the requested access{user}"),
            _ => format!("token request failed{user}"),
        };
        return Err(err.context(msg));
    }
    let body = read_capped(resp, MAX_TOKEN_RESPONSE, "token response").await?;
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::protocol(format!("token response from {shown} is not valid JSON: {e}")))?;
    let value = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| Error::protocol(format!("token response from {shown} has no `token` or `access_token`")))?;
    let lifetime = parsed.expires_in.filter(|s| *s > 0).map(Duration::from_secs).unwrap_or(DEFAULT_LIFETIME);
    tracing::debug!(lifetime_s = lifetime.as_secs(), "token acquired");
    Ok(Token::new(value, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_refreshes_before_expiry() {
        let t = Token::new("x".into(), Duration::from_secs(300));
        let left = t.refresh_at.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(270) && left > Duration::from_secs(260), "{left:?}");
        let short = Token::new("x".into(), Duration::from_secs(2));
        assert!(short.refresh_at.saturating_duration_since(Instant::now()) <= Duration::from_secs(1));
        assert_eq!(format!("{:?}", t.value), "<redacted>");
    }

    #[tokio::test]
    async fn cache_fetches_once() {
        let cache = TokenCache::default();
        let scope = Scope::pull("a");
        let calls = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..3 {
            let t = cache
                .get_or_fetch(&scope, || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(Token::new("tok".into(), Duration::from_secs(300)))
                })
                .await;
            assert!(t.is_ok());
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(cache.get(&Scope::push("a")).is_none());
    }

    #[test]
    fn credentials_only_to_https_realms_unless_insecure() {
        let http = Url::parse("http://auth.example.com/token").ok();
        let https = Url::parse("https://auth.example.com/token").ok();
        assert_eq!(http.as_ref().map(|u| may_send_credentials(u, false)), Some(false));
        assert_eq!(http.as_ref().map(|u| may_send_credentials(u, true)), Some(true));
        assert_eq!(https.as_ref().map(|u| may_send_credentials(u, false)), Some(true));
    }
}
