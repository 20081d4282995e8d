//! [`RemoteClientBuilder`]: the settings of a [`RemoteClient`], checked by [`RemoteClientBuilder::build`].

use std::sync::Arc;
use std::time::Duration;

use registry_core::api::{RegistryApi, UploadJournal};
use registry_core::auth::{Credentials, Keychain, Secret};
use registry_core::transport::{ProxyConfig, RetryConfig, TransportConfig};
use registry_core::{Error, Result};

use super::RemoteClient;
use crate::progress::ProgressEvent;
use crate::scope::ClientScope;
use crate::transfer::TransferOptions;

/// Builds a [`RemoteClient`]. Invalid settings are an error from [`RemoteClientBuilder::build`], never ignored.
#[derive(Debug, Clone)]
#[must_use]
pub struct RemoteClientBuilder {
    target: String,
    insecure: bool,
    credentials: Vec<Credentials>,
    user_agent: Option<String>,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    retry: RetryConfig,
    keychain: Option<Keychain>,
    root_certificates: Vec<Vec<u8>>,
    tls_skip_verify: bool,
    client_identity: Option<Secret>,
    proxy: ProxyConfig,
    transfer: TransferOptions,
    rate_limit: Option<f64>,
    upload_journal: Option<Arc<dyn UploadJournal>>,
}

impl RemoteClientBuilder {
    /// How blobs move: at most this many at once, this many bytes in flight, progress to this callback (see
    /// [`TransferOptions`]). The limits are shared by the client's clones and `with_segment` children. Zero limits
    /// are an error from `build()`.
    pub fn transfer(mut self, options: TransferOptions) -> RemoteClientBuilder {
        self.transfer = options;
        self
    }

    /// Report transfers to `callback` (blob started, bytes so far, blob done / skipped / mounted, manifest pushed):
    /// shorthand for [`TransferOptions::progress`] on the options set so far.
    pub fn progress(mut self, callback: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> RemoteClientBuilder {
        self.transfer = self.transfer.progress(callback);
        self
    }

    /// Plain HTTP instead of HTTPS (only for registries you know serve HTTP; there is no silent fallback). Without
    /// it, a registry that answers in plain HTTP fails with `ErrorKind::Tls` saying so. The host given to
    /// [`RemoteClient::builder`] never has a scheme.
    pub fn insecure(mut self, insecure: bool) -> RemoteClientBuilder {
        self.insecure = insecure;
        self
    }

    /// Authenticate with a username and password (sent to the registry, or to its token service).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> RemoteClientBuilder {
        self.credentials.push(Credentials::basic(username, password));
        self
    }

    /// Authenticate with a registry bearer token, sent as is.
    pub fn bearer_token(mut self, token: impl Into<String>) -> RemoteClientBuilder {
        self.credentials.push(Credentials::Bearer(Secret::new(token)));
        self
    }

    /// Authenticate with explicit credentials.
    pub fn credentials(mut self, credentials: Credentials) -> RemoteClientBuilder {
        self.credentials.push(credentials);
        self
    }

    /// Look credentials up in `keychain` (docker `config.json`, credential helpers, podman `auth.json`) when none
    /// are given explicitly: explicit credentials always win. The keychain is consulted when the registry first
    /// asks for authentication.
    pub fn keychain(mut self, keychain: Keychain) -> RemoteClientBuilder {
        self.keychain = Some(keychain);
        self
    }

    /// [`RemoteClientBuilder::keychain`] with the files docker and podman use, found from the environment
    /// (`DOCKER_CONFIG`, `~/.docker/config.json`, `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR/containers/auth.json`).
    pub fn default_keychain(self) -> RemoteClientBuilder {
        self.keychain(Keychain::from_env())
    }

    /// Trust the root certificate(s) in `pem` in addition to the system's. A certificate trusted here also works as
    /// the server's own certificate when the server presents exactly it, even a self-signed `CA:TRUE` one (as
    /// `openssl req -x509` makes); its names and validity period are still checked. Invalid PEM is an error from
    /// `build()`.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> RemoteClientBuilder {
        self.root_certificates.push(pem.into());
        self
    }

    /// Accept any server certificate (self-signed, expired, wrong host). Dangerous: only for tests, or a
    /// registry reached over a network you trust. TLS is still used; this never falls back to plain HTTP.
    pub fn tls_skip_verify(mut self, skip: bool) -> RemoteClientBuilder {
        self.tls_skip_verify = skip;
        self
    }

    /// Present a client certificate (mutual TLS): `pem` holds the certificate (chain) and its PKCS#8 private key.
    pub fn client_identity_pem(mut self, pem: impl Into<String>) -> RemoteClientBuilder {
        self.client_identity = Some(Secret::new(pem));
        self
    }

    /// Send every request through the HTTP proxy at `url` (hosts in `NO_PROXY` excepted). Without this, the
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment variables apply.
    pub fn proxy(mut self, url: impl Into<String>) -> RemoteClientBuilder {
        self.proxy = ProxyConfig::Url(url.into());
        self
    }

    /// Use no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> RemoteClientBuilder {
        self.proxy = ProxyConfig::Disabled;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> RemoteClientBuilder {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// How long a connection attempt, and each read of an answer, may take, per attempt (not a total deadline: a
    /// large blob may take as long as it needs while data keeps coming; see [`deadline`](Self::deadline)). Without
    /// it: 30 s to connect, 300 s per read. Zero is an error from `build()`.
    pub fn timeout(mut self, timeout: Duration) -> RemoteClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// The most one request may take, all its attempts and the waits between them together (the token exchange
    /// and sending the request's body included, up to the answer's headers); past it the call fails with `ErrorKind::Timeout` saying the deadline
    /// and how many attempts were made. It applies per request: a push of many blobs, a paged listing or a
    /// chunked upload gets it for each of its requests, not for the whole operation; reading a blob's body is
    /// bounded by [`timeout`](Self::timeout) per read instead, so a large blob keeps going while it moves. No
    /// deadline by default (each attempt bounded by the timeouts, retries by [`RetryConfig`]). Zero is an error
    /// from `build()`.
    pub fn deadline(mut self, deadline: Duration) -> RemoteClientBuilder {
        self.deadline = Some(deadline);
        self
    }

    /// Send at most `requests_per_second` requests to the registry host (each attempt, each page, HEADs and blob
    /// PATCHes alike; not the token exchange), shared by the client's clones and `with_segment` children: one at
    /// once, then one per `1 / rate` seconds (a burst of up to `max(1, rate)` builds up only while idle). Fractions
    /// are fine (`0.5`: one request every 2 s). Without it, requests are not paced. A value that is not a finite
    /// number above 0 (`0`, negative, NaN, infinite) is an `InvalidInput` error from `build()` naming it. With or
    /// without it, a `429 Too Many Requests` answer pauses every request to the host for as long as the refused
    /// request waits before its retry, as the [`RetryConfig`] says: its `Retry-After` (seconds or HTTP date)
    /// capped at `max_backoff` (default 10 s; never past 60 s), else the retry backoff.
    pub fn rate_limit(mut self, requests_per_second: f64) -> RemoteClientBuilder {
        self.rate_limit = Some(requests_per_second);
        self
    }

    /// Record the sessions of chunked blob uploads in `journal` (see [`UploadJournal`]), so an upload cut short
    /// (the process killed, the push dropped, the source failing) is resumed by a later push of the same blob to
    /// the same repository, by this or another process with the same journal: the registry is asked how far the
    /// recorded session got and only the rest is sent. Shared by the client's clones and `with_segment` children.
    /// One-request uploads (blobs up to the monolithic threshold) record nothing.
    pub fn upload_journal(mut self, journal: Arc<dyn UploadJournal>) -> RemoteClientBuilder {
        self.upload_journal = Some(journal);
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryConfig) -> RemoteClientBuilder {
        self.retry = retry;
        self
    }

    /// Build the client. Fails (`InvalidInput`) on a malformed host or path (or one with a URL scheme), conflicting
    /// credentials, a zero timeout or deadline, a rate limit that is not a finite number above 0, or an invalid user
    /// agent.
    pub fn build(self) -> Result<RemoteClient> {
        let scope = ClientScope::parse(&self.target);
        scope.check()?;
        let registry = scope
            .registry()
            .cloned()
            .ok_or_else(|| Error::invalid_input(format!("invalid target {:?}", self.target)))?;
        if self.credentials.len() > 1 {
            return Err(Error::invalid_input(
                "more than one kind of credentials given (basic_auth / bearer_token / credentials): choose one",
            ));
        }
        let mut config = TransportConfig::default();
        config.insecure = self.insecure;
        config.retry = self.retry;
        config.credentials = self.credentials.into_iter().next().unwrap_or_default();
        config.keychain = self.keychain;
        config.root_certificates = self.root_certificates;
        config.tls_skip_verify = self.tls_skip_verify;
        config.client_identity = self.client_identity;
        config.proxy = self.proxy;
        config.rate_limit = self.rate_limit;
        if let Some(ua) = self.user_agent {
            config.user_agent = ua;
        }
        if let Some(t) = self.timeout {
            if t.is_zero() {
                return Err(Error::invalid_input("timeout must be greater than zero"));
            }
            config.connect_timeout = t;
            config.read_timeout = Some(t);
        }
        if let Some(d) = self.deadline {
            if d.is_zero() {
                return Err(Error::invalid_input("deadline must be greater than zero"));
            }
            config.deadline = Some(d);
        }
        let blob_config = self.transfer.get_blob_config().clone();
        let transfers = Arc::new(self.transfer.start()?);
        let mut api = RegistryApi::new(registry, config)?.with_transfer_config(blob_config)?;
        if let Some(journal) = self.upload_journal {
            api = api.with_upload_journal(journal);
        }
        Ok(RemoteClient { api, scope, transfers })
    }
}

impl RemoteClient {
    /// A builder for a client of `target`: `host[:port]`, optionally followed by a path (`host/org/app`), without a
    /// URL scheme (`http://host` is an `InvalidInput` error from `build()`: plain HTTP is [`insecure`](
    /// RemoteClientBuilder::insecure)).
    pub fn builder(target: impl Into<String>) -> RemoteClientBuilder {
        RemoteClientBuilder {
            target: target.into(),
            insecure: false,
            credentials: Vec::new(),
            user_agent: None,
            timeout: None,
            deadline: None,
            retry: RetryConfig::default(),
            keychain: None,
            root_certificates: Vec::new(),
            tls_skip_verify: false,
            client_identity: None,
            proxy: ProxyConfig::Environment,
            transfer: TransferOptions::default(),
            rate_limit: None,
            upload_journal: None,
        }
    }
}
