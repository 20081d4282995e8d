//! The authentication step of the request path: the [`Authenticator`] learns how a registry authenticates from its
//! first `401` answer: for `Basic` it sends the credentials to the registry on every later request; for `Bearer` it
//! exchanges them at the challenge's realm for a token per scope, cached until shortly before it expires.

use std::fmt;
use std::sync::RwLock;

use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};

use super::challenge::{self, Challenge, Scheme};
use super::credentials::{sensitive, Credentials};
use super::keychain::Keychain;
use super::scope::Scope;
use super::token::TokenRequest;
use super::token_cache::{Token, TokenCache};
use crate::capabilities::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;

/// Attaches credentials to requests of one registry and reacts to its challenges.
///
/// Credentials are explicit, or looked up in a [`Keychain`] the first time the registry asks for them (so an
/// anonymous registry never runs a credential helper).
pub(crate) struct Authenticator {
    explicit: Credentials,
    keychain: Option<Keychain>,
    resolved: tokio::sync::OnceCell<Credentials>,
    http: reqwest::Client,
    registry: Registry,
    /// Whether the registry itself is plain HTTP: only then may a realm be plain HTTP.
    insecure: bool,
    challenge: RwLock<Option<Challenge>>,
    tokens: TokenCache,
    /// What is known of the registry (and its token server), shared with the transport.
    capabilities: Capabilities,
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
pub(crate) enum Retry {
    /// Credentials (or a new token) are ready: send the request once more.
    Once,
    /// Nothing more can be done.
    No,
    /// The token server answered with the very token the registry had just refused: sending the request again
    /// with it cannot get another answer, so it is not sent (a refresh is progress only when it gives a new token).
    SameToken,
}

impl Authenticator {
    /// An authenticator for `registry` using `http` for token requests (which should validate redirects as realms).
    pub(crate) fn new(
        credentials: Credentials,
        http: reqwest::Client,
        registry: Registry,
        insecure: bool,
        capabilities: Capabilities,
    ) -> Authenticator {
        Authenticator {
            explicit: credentials,
            keychain: None,
            resolved: tokio::sync::OnceCell::new(),
            http,
            registry,
            insecure,
            challenge: RwLock::new(None),
            tokens: TokenCache::default(),
            capabilities,
        }
    }

    /// Look credentials up in `keychain` when none were given explicitly.
    #[must_use]
    pub(crate) fn with_keychain(mut self, keychain: Option<Keychain>) -> Authenticator {
        self.keychain = keychain;
        self
    }

    /// The credentials: the explicit ones, else the keychain's (resolved once, on first use).
    pub(crate) async fn credentials(&self) -> Result<&Credentials> {
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

    fn current_challenge(&self) -> Option<Challenge> {
        self.challenge.read().ok().and_then(|c| c.clone())
    }

    /// The `Authorization` header for a request needing `scope`, if the registry's scheme is known.
    pub(crate) async fn authorization(&self, scope: &Scope) -> Result<Option<HeaderValue>> {
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
    pub(crate) async fn on_unauthorized(
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
                let fresh = self.tokens.refresh(scope, stale, || self.fetch(&challenge, scope, true)).await?;
                if stale == Some(fresh.value.expose()) {
                    return Ok(Retry::SameToken);
                }
                Ok(Retry::Once)
            }
            Scheme::Other(_) => Ok(Retry::No),
        }
    }

    /// What a request that is still `401` after authenticating means: its kind and a message.
    pub(crate) fn rejected(&self, headers: &HeaderMap) -> (ErrorKind, String) {
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
        let request = TokenRequest {
            http: &self.http,
            challenge,
            scopes: &scopes,
            credentials,
            registry: &self.registry,
            registry_insecure: self.insecure,
        };
        request.fetch(&self.capabilities).await
    }
}
