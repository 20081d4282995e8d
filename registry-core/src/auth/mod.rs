//! Authentication: credentials, `WWW-Authenticate` challenges, token exchange and the token cache.
//!
//! The [`Authenticator`] learns how a registry authenticates from its first `401` answer: for `Basic` it sends the
//! credentials to the registry on every later request; for `Bearer` it exchanges them at the challenge's realm
//! for a token per scope, cached until shortly before it expires.

pub mod challenge;
pub mod keychain;
pub(crate) mod realm;
mod token;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};

pub use challenge::{Challenge, Scheme};
pub use keychain::Keychain;
pub use token::{Token, TokenCache};

use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;

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
    /// An identity (OAuth2 refresh) token, as `docker login` stores it (`identitytoken`, or a credential helper's
    /// `Secret` with username `<token>`): exchanged at the token realm with `grant_type=refresh_token`.
    IdentityToken {
        /// The username, when one is known (`<token>` from credential helpers).
        username: String,
        /// The refresh token.
        token: Secret,
    },
}

impl Credentials {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic { username: username.into(), password: Secret::new(password) }
    }

    /// An identity (OAuth2 refresh) token.
    pub fn identity_token(username: impl Into<String>, token: impl Into<String>) -> Credentials {
        Credentials::IdentityToken { username: username.into(), token: Secret::new(token) }
    }

    /// What kind of credentials these are, for logs: `anonymous`, `basic`, `bearer` or `identity-token`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Anonymous => "anonymous",
            Credentials::Basic { .. } => "basic",
            Credentials::Bearer(_) => "bearer",
            Credentials::IdentityToken { .. } => "identity-token",
        }
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        match self {
            Credentials::Basic { username, password } => basic_header(username, password),
            _ => None,
        }
    }
}

/// `Basic base64(username:password)`, marked sensitive.
fn basic_header(username: &str, password: &Secret) -> Option<HeaderValue> {
    let raw = format!("{username}:{}", password.expose());
    sensitive(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
}

/// A header value marked sensitive, so HTTP libraries never log it.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// The access a request needs, as token scopes: `repository:<name>:<actions>` or `registry:catalog:*`, one or
/// several (a cross-repository mount needs pull on the source and push on the target, in one token).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Pull access to a repository.
    pub fn pull(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull")])
    }

    /// Pull and push access to a repository.
    pub fn push(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }

    /// Delete (and pull) access to a repository.
    pub fn delete(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:delete,pull")])
    }

    /// Pull access to `source` and push access to `target`: a cross-repository blob mount.
    pub fn mount(source: &str, target: &str) -> Scope {
        Scope::push(target).and(Scope::pull(source))
    }

    /// Access to the catalog.
    pub fn catalog() -> Scope {
        Scope(vec!["registry:catalog:*".to_string()])
    }

    /// This access and `other`'s, in one token.
    #[must_use]
    pub fn and(mut self, other: Scope) -> Scope {
        for s in other.0 {
            if !self.0.contains(&s) {
                self.0.push(s);
            }
        }
        self
    }

    /// The scope strings, as sent to the token service.
    pub fn scopes(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// Attaches credentials to requests of one registry and reacts to its challenges.
///
/// Credentials are explicit, or looked up in a [`Keychain`] the first time the registry asks for them (so an
/// anonymous registry never runs a credential helper).
pub struct Authenticator {
    explicit: Credentials,
    keychain: Option<Keychain>,
    resolved: tokio::sync::OnceCell<Credentials>,
    http: reqwest::Client,
    registry: Registry,
    /// Whether the registry itself is plain HTTP: only then may a realm be plain HTTP.
    insecure: bool,
    challenge: RwLock<Option<Challenge>>,
    tokens: TokenCache,
    /// Set once the realm refused an OAuth2 POST: later token requests go straight to GET.
    post_refused: AtomicBool,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.known_credentials())
            .field("keychain", &self.keychain)
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
    /// An authenticator for `registry` using `http` for token requests (which should validate redirects as realms).
    pub fn new(credentials: Credentials, http: reqwest::Client, registry: Registry, insecure: bool) -> Authenticator {
        Authenticator {
            explicit: credentials,
            keychain: None,
            resolved: tokio::sync::OnceCell::new(),
            http,
            registry,
            insecure,
            challenge: RwLock::new(None),
            tokens: TokenCache::default(),
            post_refused: AtomicBool::new(false),
        }
    }

    /// Look credentials up in `keychain` when none were given explicitly.
    #[must_use]
    pub fn with_keychain(mut self, keychain: Option<Keychain>) -> Authenticator {
        self.keychain = keychain;
        self
    }

    /// The credentials: the explicit ones, else the keychain's (resolved once, on first use).
    pub async fn credentials(&self) -> Result<&Credentials> {
        match (&self.explicit, &self.keychain) {
            (Credentials::Anonymous, Some(keychain)) => {
                self.resolved
                    .get_or_try_init(|| async {
                        let found = keychain.resolve(&self.registry).await?;
                        tracing::debug!(registry = %self.registry, kind = found.kind(), "credentials from keychain");
                        Ok::<_, Error>(found)
                    })
                    .await
            }
            (explicit, _) => Ok(explicit),
        }
    }

    /// The credentials if already known (explicit, or resolved from the keychain).
    fn known_credentials(&self) -> &Credentials {
        match (&self.explicit, &self.keychain) {
            (Credentials::Anonymous, Some(_)) => self.resolved.get().unwrap_or(&Credentials::Anonymous),
            (explicit, _) => explicit,
        }
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
        if let Credentials::Bearer(t) = &self.explicit {
            return Ok(sensitive(&format!("Bearer {}", t.expose())));
        }
        let Some(challenge) = self.current_challenge() else { return Ok(None) };
        let credentials = self.credentials().await?;
        if let Credentials::Bearer(t) = credentials {
            // A registry token from the keychain (`registrytoken`), sent once the registry asked for auth.
            return Ok(sensitive(&format!("Bearer {}", t.expose())));
        }
        match challenge.scheme {
            Scheme::Basic => Ok(credentials.basic_header()),
            Scheme::Bearer => {
                let token = self.tokens.get_or_fetch(scope, || self.fetch(&challenge, scope, false)).await?;
                Ok(sensitive(&format!("Bearer {}", token.value.expose())))
            }
            Scheme::Other(_) => Ok(None),
        }
    }

    /// React to a `401` carrying `headers` for a request that needed `scope` and was sent with `sent` as its
    /// `Authorization`. When many requests get a `401` for the same expired token at once, one new token is
    /// fetched and the others reuse it.
    pub async fn on_unauthorized(
        &self,
        headers: &HeaderMap,
        scope: &Scope,
        sent: Option<&HeaderValue>,
    ) -> Result<Retry> {
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
        let credentials = self.credentials().await?;
        if let Ok(mut slot) = self.challenge.write() {
            *slot = Some(challenge.clone());
        }
        if let Credentials::Bearer(_) = credentials {
            // A static token: send it if this request went without it, else nothing more can be done.
            return Ok(if sent.is_none() { Retry::Once } else { Retry::No });
        }
        match challenge.scheme {
            Scheme::Basic if credentials.basic_header().is_some() => Ok(Retry::Once),
            Scheme::Basic => Err(Error::new(
                ErrorKind::Unauthorized,
                match credentials {
                    Credentials::Anonymous => {
                        "the registry requires authentication (Basic) and no credentials were given"
                    }
                    _ => "the registry requires a username and password (Basic); the credentials given are a token",
                },
            )),
            Scheme::Bearer => {
                // The challenge may name a wider scope (insufficient_scope on push): ask for both.
                let stale = sent.and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
                self.tokens.refresh(scope, stale, || self.fetch(&challenge, scope, true)).await?;
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
        match (self.known_credentials(), insufficient) {
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
            (Credentials::IdentityToken { .. }, false) => (
                ErrorKind::Unauthorized,
                "the registry rejected the token obtained with the identity token".to_string(),
            ),
        }
    }

    async fn fetch(&self, challenge: &Challenge, scope: &Scope, with_challenge_scopes: bool) -> Result<Token> {
        let mut scopes = scope.scopes().to_vec();
        for s in challenge.scopes() {
            if with_challenge_scopes && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let credentials = self.credentials().await?;
        let request = token::TokenRequest {
            http: &self.http,
            challenge,
            scopes: &scopes,
            credentials,
            registry: &self.registry,
            registry_insecure: self.insecure,
        };
        request.fetch(&self.post_refused).await
    }
}
