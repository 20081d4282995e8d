//! Authentication: credentials, `WWW-Authenticate` challenges, token exchange and the token cache.
//!
//! A client learns how a registry authenticates from its first `401` answer: for `Basic` it sends the credentials
//! to the registry on every later request; for `Bearer` it exchanges them at the challenge's realm for a token per
//! scope, cached until shortly before it expires.
//!
//! - [`Credentials`] and [`Secret`]: what to authenticate with;
//! - [`keychain`]: where users keep credentials (docker's `config.json`, credential helpers, podman's `auth.json`);
//! - the rest is the request path's authentication step, internal to the crate: challenges, realm rules, the token
//!   exchange and the token cache.

pub(crate) mod authenticator;
pub(crate) mod challenge;
pub(crate) mod credentials;
pub mod keychain;
pub(crate) mod realm;
pub(crate) mod scope;
pub(crate) mod token;
pub(crate) mod token_answer;
pub(crate) mod token_cache;

pub use credentials::{Credentials, Secret};
pub use keychain::{CredentialStore, Erased, Keychain, StoredIn};
