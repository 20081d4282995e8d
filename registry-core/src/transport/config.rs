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
    /// Plain HTTP instead of HTTPS. Only when asked: there is no silent fallback; without it, a server answering
    /// in plain HTTP is an [`ErrorKind::Tls`](crate::ErrorKind::Tls) failure saying so.
    pub insecure: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// How long to wait for a connection, per attempt. Default 30 s.
    pub connect_timeout: Duration,
    /// How long any single read may take (response headers, or the next chunk of a body), per attempt. Not a total
    /// deadline, so a large blob can take as long as it needs while it keeps moving. Default 300 s.
    pub read_timeout: Option<Duration>,
    /// The most one call of the request path may take: every attempt (connection, token exchange, sending the
    /// request and its body, up to the answer's headers) and every wait between attempts of one request, together. Past it the call fails
    /// with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) saying the deadline and how many attempts were made;
    /// a retry whose wait would end past it is not started. An operation of several requests (a push of many
    /// blobs, a paged listing, a chunked upload) gets the deadline per request, not for the whole operation; a body
    /// read after the answer (a blob download) is bounded by [`read_timeout`](Self::read_timeout) per read
    /// instead, so a large blob is never cut off while it keeps moving. Default `None`: no deadline, each attempt
    /// bounded by the timeouts and the retry policy ([`RetryConfig::max_elapsed`] decides only whether another
    /// attempt starts).
    pub deadline: Option<Duration>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Credentials. Explicit credentials (anything but [`Credentials::Anonymous`]) win over the keychain.
    pub credentials: Credentials,
    /// Where to look up credentials when none are given explicitly, resolved when the registry first asks.
    pub keychain: Option<Keychain>,
    /// Extra trusted root certificates (PEM, each may hold several), added to the system and webpki roots. Each is
    /// also accepted as the server's own certificate when the server presents exactly it, even a self-signed
    /// `CA:TRUE` one, its names and validity period still checked.
    pub root_certificates: Vec<Vec<u8>>,
    /// Accept any server certificate. Dangerous: only for tests and registries you reach over a trusted network.
    pub tls_skip_verify: bool,
    /// A client certificate and its PKCS#8 private key (PEM, concatenated) for mutual TLS.
    pub client_identity: Option<Secret>,
    /// Which proxy to use.
    pub proxy: ProxyConfig,
    /// At most this many requests per second to the registry host (every attempt, page, HEAD and chunk PATCH; not
    /// the token exchange), shared by every handle on the transport: one request at once, then one per `1 / rate`
    /// seconds, a burst of up to `max(1, rate)` requests building up only while idle. `None` (the default): no
    /// pacing. A value that is not a finite number above 0 is an
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error naming it when the transport is built.
    /// Whatever this says, a `429 Too Many Requests` pauses every request to the host for as long as the refused
    /// request waits before its retry: its `Retry-After` (seconds or HTTP date) capped at
    /// [`RetryConfig::max_backoff`] (default 10 s), else the retry backoff; never past
    /// [`MAX_PAUSE`](super::MAX_PAUSE).
    pub rate_limit: Option<f64>,
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
            deadline: None,
            retry: RetryConfig::default(),
            credentials: Credentials::Anonymous,
            keychain: None,
            root_certificates: Vec::new(),
            tls_skip_verify: false,
            client_identity: None,
            proxy: ProxyConfig::Environment,
            rate_limit: None,
        }
    }
}
