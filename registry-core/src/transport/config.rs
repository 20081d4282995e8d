//! The settings of a client's transport: TLS, proxy, timeouts, retries and credentials.

use std::time::Duration;

use super::retry::RetryConfig;
use crate::auth::credentials::{Credentials, Secret};
use crate::auth::keychain::Keychain;

/// The default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("registry-client/", env!("CARGO_PKG_VERSION"));

/// Settings of the HTTP transport to one registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Plain HTTP instead of HTTPS. Only when asked: there is no silent fallback.
    pub insecure: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long any single read may take (response headers, or the next chunk of a body). Not a total deadline,
    /// so a large blob can take as long as it needs while it keeps moving.
    pub read_timeout: Option<Duration>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Credentials. Explicit credentials (anything but [`Credentials::Anonymous`]) win over the keychain.
    pub credentials: Credentials,
    /// Where to look up credentials when none are given explicitly, resolved when the registry first asks.
    pub keychain: Option<Keychain>,
    /// Extra trusted root certificates (PEM, each may hold several), added to the system and webpki roots.
    pub root_certificates: Vec<Vec<u8>>,
    /// Accept any server certificate. Dangerous: only for tests and registries you reach over a trusted network.
    pub tls_skip_verify: bool,
    /// A client certificate and its PKCS#8 private key (PEM, concatenated) for mutual TLS.
    pub client_identity: Option<Secret>,
    /// Which proxy to use.
    pub proxy: ProxyConfig,
}

/// Which HTTP proxy requests go through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyConfig {
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (and lowercase), excluding hosts in `NO_PROXY`.
    #[default]
    Environment,
    /// No proxy, whatever the environment says.
    Disabled,
    /// This proxy (`http://host:port`, credentials allowed in the URL) for every request, except hosts in
    /// `NO_PROXY`.
    Url(String),
}

impl Default for TransportConfig {
    fn default() -> TransportConfig {
        TransportConfig {
            insecure: false,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Some(Duration::from_secs(300)),
            retry: RetryConfig::default(),
            credentials: Credentials::Anonymous,
            keychain: None,
            root_certificates: Vec::new(),
            tls_skip_verify: false,
            client_identity: None,
            proxy: ProxyConfig::Environment,
        }
    }
}
