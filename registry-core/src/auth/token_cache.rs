//! Bearer tokens and the per-scope token cache: fetched at most once at a time, refreshed before they expire.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::credentials::Secret;
use super::scope::Scope;
use crate::error::Result;

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Token {
    /// The token.
    pub(crate) value: Secret,
    /// When it should be refreshed (a margin before it expires).
    pub(crate) refresh_at: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("value", &self.value).field("refresh_at", &self.refresh_at).finish()
    }
}

impl Token {
    pub(crate) fn new(value: String, lifetime: Duration) -> Token {
        // Refresh at 90% of the lifetime, and at least 5 s early when the lifetime allows it.
        let margin = (lifetime / 10).max(Duration::from_secs(5)).min(lifetime / 2);
        // The lifetime is the server's number: past what the clock can hold, the token is simply kept a day.
        let now = Instant::now();
        let refresh_at = now.checked_add(lifetime - margin).or_else(|| now.checked_add(Duration::from_secs(86_400)));
        Token { value: Secret::new(value), refresh_at: refresh_at.unwrap_or(now) }
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// Tokens of one registry by scope, fetched at most once at a time.
#[derive(Default)]
pub(crate) struct TokenCache {
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
    pub(crate) fn get(&self, scope: &Scope) -> Option<Token> {
        let tokens = self.tokens.lock().ok()?;
        tokens.get(scope).filter(|t| t.is_fresh()).cloned()
    }

    /// Cache `token` for `scope`.
    pub(crate) fn insert(&self, scope: &Scope, token: Token) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(scope.clone(), token);
        }
    }

    /// The cached token for `scope`, or the one `fetch` gets; concurrent callers wait for one fetch.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, scope: &Scope, fetch: F) -> Result<Token>
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

    /// A token for `scope` to replace `stale` (the one a request was rejected with, `None` if it had none): the
    /// cached one when it differs from `stale`, else the one `fetch` gets. Concurrent callers wait for one fetch.
    pub(crate) async fn refresh<F, Fut>(&self, scope: &Scope, stale: Option<&str>, fetch: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let _guard = self.fetching.lock().await;
        if let Some(t) = self.get(scope) {
            // A request sent without a token, or with an older one, can use the token cached meanwhile.
            if stale != Some(t.value.expose()) {
                return Ok(t);
            }
        }
        let token = fetch().await?;
        self.insert(scope, token.clone());
        Ok(token)
    }
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
        // A lifetime past what the clock holds (a server's `expires_in` of u64::MAX seconds) does not panic.
        let huge = Token::new("x".into(), Duration::MAX);
        assert!(huge.refresh_at > Instant::now());
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

    #[tokio::test]
    async fn refresh_replaces_a_stale_token_once() {
        let cache = TokenCache::default();
        let scope = Scope::pull("a");
        cache.insert(&scope, Token::new("old".into(), Duration::from_secs(300)));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Token::new("new".into(), Duration::from_secs(300)))
        };
        // Many requests rejected with "old" at once: one fetch, all get "new".
        let results = futures::future::join_all((0..8).map(|_| cache.refresh(&scope, Some("old"), fetch))).await;
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|t| t.value.expose() == "new")));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A request that had no token uses the cached one.
        assert!(cache.refresh(&scope, None, fetch).await.is_ok_and(|t| t.value.expose() == "new"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A request rejected with "new" fetches again.
        let again = cache.refresh(&scope, Some("new"), fetch).await;
        assert!(again.is_ok());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
