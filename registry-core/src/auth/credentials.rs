//! What a client authenticates with: [`Credentials`] and the [`Secret`]s in them, and the `Authorization` header
//! values made of them.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use reqwest::header::HeaderValue;

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
    /// `Secret` with username `<token>`): exchanged at the token realm with `grant_type=refresh_token` (OAuth2
    /// POST), or sent as the Basic password of the GET token flow when the realm answers that POST with no token.
    IdentityToken {
        /// The username, when one is known (`<token>` from credential helpers).
        username: String,
        /// The refresh token.
        token: Secret,
    },
}

impl Credentials {
    /// Basic credentials: sent to a `Basic` registry as they are, and to a token realm on the GET token flow.
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

    pub(crate) fn basic_header(&self) -> Option<HeaderValue> {
        match self {
            Credentials::Basic { username, password } => basic_header(username, password),
            _ => None,
        }
    }
}

/// `Basic base64(username:password)`, marked sensitive.
pub(crate) fn basic_header(username: &str, password: &Secret) -> Option<HeaderValue> {
    let raw = format!("{username}:{}", password.expose());
    sensitive(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
}

/// A header value marked sensitive, so HTTP libraries never log it.
pub(crate) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}
