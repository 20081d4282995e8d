//! Authentication: credentials, `WWW-Authenticate` challenges, token exchange and the token cache.
//!
//! The [`Authenticator`] learns how a registry authenticates from its first `401` answer: for `Basic` it sends the
//! credentials to the registry on every later request; for `Bearer` it exchanges them at the challenge's realm
//! for a token per scope, cached until shortly before it expires.

pub mod challenge;
mod token;

use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};

pub use challenge::{Challenge, Scheme};
pub use token::{Token, TokenCache};

use crate::error::{Error, ErrorKind, Result};

/// A secret string (password or token) that never prints: its `Debug` is `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(Arc::from(s.into()))
    }

    /// The secret itself, for putting in a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to authenticate to a registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// No credentials; anonymous tokens are still fetched when the registry asks for a bearer token.
    #[default]
    Anonymous,
    /// Username and password: sent to the registry (Basic challenge) or to the token realm (Bearer challenge).
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A registry token, sent as `Authorization: Bearer` as is.
    Bearer(Secret),
}

impl Credentials {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic { username: username.into(), password: Secret::new(password) }
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        match self {
            Credentials::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                sensitive(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            }
            _ => None,
        }
    }

    fn is_anonymous(&self) -> bool {
        matches!(self, Credentials::Anonymous)
    }
}

/// A header value marked sensitive, so HTTP libraries never log it.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// A token scope: `repository:<name>:<actions>` or `registry:catalog:*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// Pull access to a repository.
    pub fn pull(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull"))
    }

    /// Pull and push access to a repository.
    pub fn push(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull,push"))
    }

    /// Delete (and pull) access to a repository.
    pub fn delete(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:delete,pull"))
    }

    /// Access to the catalog.
    pub fn catalog() -> Scope {
        Scope("registry:catalog:*".to_string())
    }

    /// The scope string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Attaches credentials to requests of one registry and reacts to its challenges.
pub struct Authenticator {
    credentials: Credentials,
    http: reqwest::Client,
    /// Whether the registry itself is plain HTTP: only then may basic credentials go to a plain-HTTP realm.
    insecure: bool,
    challenge: RwLock<Option<Challenge>>,
    tokens: TokenCache,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.credentials)
            .field("insecure", &self.insecure)
            .field("challenge", &self.challenge.read().ok().and_then(|c| c.as_ref().map(|c| c.scheme.clone())))
            .finish()
    }
}

/// What the transport should do after a `401`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Credentials (or a new token) are ready: send the request once more.
    Once,
    /// Nothing more can be done.
    No,
}

impl Authenticator {
    /// An authenticator using `http` for token requests.
    pub fn new(credentials: Credentials, http: reqwest::Client, insecure: bool) -> Authenticator {
        Authenticator { credentials, http, insecure, challenge: RwLock::new(None), tokens: TokenCache::default() }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The token cache.
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    fn current_challenge(&self) -> Option<Challenge> {
        self.challenge.read().ok().and_then(|c| c.clone())
    }

    /// The `Authorization` header for a request needing `scope`, if the registry's scheme is known.
    pub async fn authorization(&self, scope: &Scope) -> Result<Option<HeaderValue>> {
        if let Credentials::Bearer(t) = &self.credentials {
            return Ok(sensitive(&format!("Bearer {}", t.expose())));
        }
        let Some(challenge) = self.current_challenge() else { return Ok(None) };
        match challenge.scheme {
            Scheme::Basic => Ok(self.credentials.basic_header()),
            Scheme::Bearer => {
                let token = self.tokens.get_or_fetch(scope, || self.fetch(&challenge, scope, false)).await?;
                Ok(sensitive(&format!("Bearer {}", token.value.expose())))
            }
            Scheme::Other(_) => Ok(None),
        }
    }

    /// React to a `401` carrying `headers` for a request that needed `scope`.
    pub async fn on_unauthorized(&self, headers: &HeaderMap, scope: &Scope) -> Result<Retry> {
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenge::parse)
            .collect();
        let chosen = challenges
            .iter()
            .find(|c| c.scheme == Scheme::Bearer)
            .or_else(|| challenges.iter().find(|c| c.scheme == Scheme::Basic))
            .cloned();
        let Some(challenge) = chosen else { return Ok(Retry::No) };
        if let Credentials::Bearer(_) = self.credentials {
            return Ok(Retry::No);
        }
        if let Ok(mut slot) = self.challenge.write() {
            *slot = Some(challenge.clone());
        }
        match challenge.scheme {
            Scheme::Basic if !self.credentials.is_anonymous() => Ok(Retry::Once),
            Scheme::Basic => Err(Error::new(
                ErrorKind::Unauthorized,
                "the registry requires authentication (Basic) and no credentials were given",
            )),
            Scheme::Bearer => {
                // The challenge may name a wider scope (insufficient_scope on push): ask for both.
                let token = self.fetch(&challenge, scope, true).await?;
                self.tokens.insert(scope, token);
                Ok(Retry::Once)
            }
            Scheme::Other(_) => Ok(Retry::No),
        }
    }

    /// What a request that is still `401` after authenticating means: its kind and a message.
    pub fn rejected(&self, headers: &HeaderMap) -> (ErrorKind, String) {
        let insufficient = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenge::parse)
            .any(|c| c.error() == Some("insufficient_scope"));
        match (&self.credentials, insufficient) {
            (Credentials::Anonymous, _) => {
                (ErrorKind::Unauthorized, "the registry requires credentials and none were given".to_string())
            }
            (_, true) => {
                (ErrorKind::Denied, "the credentials are valid but lack access for this operation".to_string())
            }
            (Credentials::Basic { username, .. }, false) => {
                (ErrorKind::Unauthorized, format!("the registry rejected the credentials of user {username:?}"))
            }
            (Credentials::Bearer(_), false) => {
                (ErrorKind::Unauthorized, "the registry rejected the bearer token".to_string())
            }
        }
    }

    async fn fetch(&self, challenge: &Challenge, scope: &Scope, with_challenge_scopes: bool) -> Result<Token> {
        let mut scopes = vec![scope.as_str().to_string()];
        for s in challenge.scopes() {
            if with_challenge_scopes && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        token::fetch(&self.http, challenge, &scopes, &self.credentials, self.insecure).await
    }
}
