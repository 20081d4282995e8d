//! The HTTP request path of one registry: authentication (challenge -> token, one re-challenge), retries for
//! idempotent requests, the user agent, and a `tracing` span per request. URLs in spans and errors have no query
//! string; `Authorization` values are marked sensitive.

mod redirect;
pub mod response;
pub mod retry;

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use reqwest::{Method, StatusCode};
use tracing::Instrument;
use url::Url;

use crate::auth::{Authenticator, Credentials, Keychain, Retry, Scope, Secret};
use crate::digest::ByteStream;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;
pub use response::redact_url;
pub use retry::RetryConfig;

/// The default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("registry-client/", env!("CARGO_PKG_VERSION"));

/// Settings of a [`Transport`].
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

/// A request body.
#[non_exhaustive]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes in memory: can be sent again on retry.
    Bytes(Bytes),
    /// A stream, sent once: a request with a stream body is never retried. `length` sets `Content-Length`;
    /// without it the body is sent chunked.
    Stream {
        /// The stream, taken when sent.
        stream: Option<ByteStream>,
        /// The exact length, when known.
        length: Option<u64>,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Body::Stream { stream, length } => {
                write!(f, "Stream(length={length:?}, sent={})", stream.is_none())
            }
        }
    }
}

/// One request to the registry.
#[derive(Debug)]
pub struct Request {
    method: Method,
    url: Url,
    scope: Scope,
    headers: HeaderMap,
    body: Body,
    idempotent: bool,
}

impl Request {
    /// A request needing `scope`. GET, HEAD, PUT and DELETE are idempotent (retried); others are not unless
    /// marked with [`Request::idempotent`].
    pub fn new(method: Method, url: Url, scope: Scope) -> Request {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE);
        Request { method, url, scope, headers: HeaderMap::new(), body: Body::Empty, idempotent }
    }

    /// Add a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.insert(name, value);
        self
    }

    /// Set the body.
    #[must_use]
    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// Mark whether the request may be retried.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Request {
        self.idempotent = idempotent;
        self
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    fn replayable(&self) -> bool {
        !matches!(self.body, Body::Stream { .. })
    }
}

/// The outcome of one attempt.
enum Attempt {
    Response(reqwest::Response),
    /// Failed before any answer; `unsent` when the request surely never reached the server (connect failure).
    Failed {
        error: Error,
        unsent: bool,
    },
}

/// The request path to one registry: a pooled `reqwest::Client`, authentication state, and retry policy.
pub struct Transport {
    registry: Registry,
    base: Url,
    http: reqwest::Client,
    auth: Authenticator,
    retry: RetryConfig,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Transport {
    /// A transport to `registry`. Fails when the configuration cannot be honoured.
    pub fn new(registry: Registry, config: TransportConfig) -> Result<Transport> {
        let scheme = if config.insecure { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", registry.api_host()))
            .map_err(|e| Error::invalid_input(format!("registry {registry} does not make a valid URL: {e}")))?;
        let ua = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::invalid_input(format!("user agent {:?} is not a valid header value", config.user_agent))
        })?;
        let http = http_client(&config, ua.clone(), redirect::registry_policy())?;
        let token_http = http_client(&config, ua, redirect::realm_policy(registry.clone(), config.insecure))?;
        let auth = Authenticator::new(config.credentials, token_http, registry.clone(), config.insecure)
            .with_keychain(config.keychain);
        Ok(Transport { registry, base, http, auth, retry: config.retry })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The base URL, e.g. `https://registry.example.com/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The authenticator.
    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// The URL of `path` (absolute, e.g. `/v2/`) on the registry.
    pub fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| Error::invalid_input(format!("bad registry path {path:?}: {e}")))
    }

    /// Resolve a `Location` or `Link` target (relative or absolute) against `current`, refusing any other host,
    /// port or scheme: the registry may not move requests elsewhere.
    pub fn resolve_same_origin(&self, current: &Url, target: &str, what: &str) -> Result<Url> {
        let url =
            current.join(target).map_err(|e| Error::protocol(format!("{what} {target:?} is not a valid URL: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(Error::protocol(format!(
                "{what} points to another host ({}), refusing to follow it",
                redact_url(&url)
            )));
        }
        Ok(url)
    }

    /// Send `req`, authenticating and retrying as configured. Returns the response when its status is 2xx;
    /// any other answer becomes an [`Error`] with the status and the registry's error codes.
    pub async fn send(&self, mut req: Request) -> Result<reqwest::Response> {
        let shown = redact_url(&req.url);
        let what = format!("{} {shown}", req.method);
        let span = tracing::debug_span!("registry_request", method = %req.method, url = %shown);
        async {
            let start = Instant::now();
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let outcome = self.attempt(&mut req, &what).await;
                let delay = match &outcome {
                    Attempt::Response(resp) if resp.status().is_success() => {
                        tracing::debug!(status = resp.status().as_u16(), attempt, "response");
                        return match outcome {
                            Attempt::Response(resp) => Ok(resp),
                            Attempt::Failed { error, .. } => Err(error),
                        };
                    }
                    Attempt::Response(resp) if retry::is_retryable_status(resp.status().as_u16()) && req.idempotent => {
                        let d = retry::retry_after(resp.headers())
                            .map(|d| d.min(self.retry.max_backoff))
                            .unwrap_or_else(|| self.retry.backoff(attempt));
                        Some(d)
                    }
                    Attempt::Failed { error, unsent }
                        if matches!(error.kind(), ErrorKind::Io | ErrorKind::Timeout)
                            && (req.idempotent || *unsent) =>
                    {
                        Some(self.retry.backoff(attempt))
                    }
                    _ => None,
                };
                let within_budget =
                    |d: Duration| start.elapsed().checked_add(d).is_some_and(|t| t <= self.retry.max_elapsed);
                match delay {
                    Some(d) if attempt <= self.retry.max_retries && req.replayable() && within_budget(d) => {
                        let why = match &outcome {
                            Attempt::Response(r) => format!("HTTP {}", r.status().as_u16()),
                            Attempt::Failed { error, .. } => error.to_string(),
                        };
                        tracing::warn!(attempt, delay_ms = d.as_millis() as u64, %why, "retrying");
                        drop(outcome);
                        tokio::time::sleep(d).await;
                    }
                    _ => {
                        let err = match outcome {
                            Attempt::Response(resp) => response::error_from_response(resp, &what).await,
                            Attempt::Failed { error, .. } => error,
                        };
                        tracing::debug!(error = %err, attempt, "request failed");
                        return Err(err.with_attempts(attempt));
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt, with one re-challenge on 401.
    async fn attempt(&self, req: &mut Request, what: &str) -> Attempt {
        let (first, sent) = match self.send_once(req, what).await {
            Ok(resp) => resp,
            Err(failed) => return failed,
        };
        if first.status() != StatusCode::UNAUTHORIZED {
            return Attempt::Response(first);
        }
        let decision = match self.auth.on_unauthorized(first.headers(), &req.scope, sent.as_ref()).await {
            Ok(d) => d,
            Err(e) => return Attempt::Failed { error: e.context(what).with_status(401), unsent: false },
        };
        if decision == Retry::No || !req.replayable() {
            return Attempt::Failed { error: self.unauthorized(first, what).await, unsent: false };
        }
        match self.send_once(req, what).await {
            Ok((second, _)) if second.status() == StatusCode::UNAUTHORIZED => {
                Attempt::Failed { error: self.unauthorized(second, what).await, unsent: false }
            }
            Ok((second, _)) => Attempt::Response(second),
            Err(failed) => failed,
        }
    }

    async fn unauthorized(&self, resp: reqwest::Response, what: &str) -> Error {
        let (kind, msg) = self.auth.rejected(resp.headers());
        response::error_from_response(resp, what).await.with_kind(kind).context(msg)
    }

    /// Send `req` once, with the `Authorization` the authenticator has for it; returns the answer and that header.
    async fn send_once(
        &self,
        req: &mut Request,
        what: &str,
    ) -> std::result::Result<(reqwest::Response, Option<HeaderValue>), Attempt> {
        let authorization = self
            .auth
            .authorization(&req.scope)
            .await
            .map_err(|e| Attempt::Failed { error: e.context(what), unsent: true })?;
        let mut builder = self.http.request(req.method.clone(), req.url.clone()).headers(req.headers.clone());
        if let Some(a) = &authorization {
            builder = builder.header(reqwest::header::AUTHORIZATION, a.clone());
        }
        builder = match &mut req.body {
            Body::Empty => builder,
            Body::Bytes(b) => builder.body(b.clone()),
            Body::Stream { stream, length } => {
                let Some(s) = stream.take() else {
                    return Err(Attempt::Failed {
                        error: Error::new(ErrorKind::Io, format!("{what}: the body stream was already sent")),
                        unsent: true,
                    });
                };
                if let Some(len) = length {
                    builder = builder.header(CONTENT_LENGTH, *len);
                }
                builder.body(reqwest::Body::wrap_stream(s))
            }
        };
        match builder.send().await {
            Ok(resp) => Ok((resp, authorization)),
            Err(e) => {
                let unsent = e.is_connect();
                Err(Attempt::Failed { error: response::from_reqwest(e, what), unsent })
            }
        }
    }
}

/// A `reqwest::Client` with the TLS, proxy, timeout and redirect settings of `config`.
fn http_client(
    config: &TransportConfig,
    user_agent: HeaderValue,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(config.connect_timeout)
        .redirect(redirects)
        .https_only(!config.insecure)
        .pool_idle_timeout(Duration::from_secs(90));
    if let Some(t) = config.read_timeout {
        builder = builder.read_timeout(t);
    }
    for (i, pem) in config.root_certificates.iter().enumerate() {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            Error::invalid_input(format!(
                "root certificate #{} is not valid PEM: {}",
                i + 1,
                without_pem(&response::error_chain(&e))
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::invalid_input(format!("root certificate #{} holds no certificate", i + 1)));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if config.tls_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(identity) = &config.client_identity {
        let identity = reqwest::Identity::from_pem(identity.expose().as_bytes()).map_err(|e| {
            Error::invalid_input(format!(
                "client identity is not a PEM certificate with its PKCS#8 private key: {}",
                without_pem(&response::error_chain(&e))
            ))
        })?;
        builder = builder.identity(identity);
    }
    builder = match &config.proxy {
        ProxyConfig::Environment => builder,
        ProxyConfig::Disabled => builder.no_proxy(),
        ProxyConfig::Url(url) => {
            // Like reqwest, a proxy given without a scheme is an HTTP proxy.
            let parsed = if url.contains("://") { Url::parse(url) } else { Url::parse(&format!("http://{url}")) };
            let shown = parsed.as_ref().map(redact_url).unwrap_or_else(|_| "<unparsable>".to_string());
            match parsed.as_ref().map(Url::scheme) {
                Ok("http" | "https") => {}
                Ok(other) => {
                    return Err(Error::invalid_input(format!(
                        "proxy {shown} has scheme {other:?}: only http:// and https:// proxies are supported"
                    )))
                }
                Err(e) => return Err(Error::invalid_input(format!("proxy URL is not valid: {e}"))),
            }
            let proxy = reqwest::Proxy::all(url.as_str())
                .map_err(|e| {
                    Error::invalid_input(format!(
                        "proxy {shown} is not a valid proxy URL: {}",
                        response::error_chain(&e)
                    ))
                })?
                .no_proxy(reqwest::NoProxy::from_env());
            builder.proxy(proxy)
        }
    };
    builder.build().map_err(|e| {
        Error::invalid_input(format!("cannot build HTTP client: {}", without_pem(&response::error_chain(&e))))
    })
}

/// An error message with anything that looks like PEM content cut off.
fn without_pem(message: &str) -> String {
    match message.find("-----") {
        Some(i) => message[..i].trim_end().to_string(),
        None => message.to_string(),
    }
}
