//! The request path of one registry: authentication (challenge -> token, one re-challenge, and none when the token
//! server hands back the token just refused), retries, the user agent, and a `tracing` span per request.

use std::fmt;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::header::{HeaderValue, CONTENT_LENGTH};
use reqwest::StatusCode;
use tracing::Instrument;
use url::Url;

use super::config::TransportConfig;
use super::http_client::http_client;
use super::pace::Pace;
use super::redirect;
use super::request::{Body, Request};
use super::response::{self, redact_url};
use super::retry::{retry_after, Again, RetryConfig};
use crate::auth::authenticator::{Authenticator, Retry};
use crate::capabilities::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;

/// The outcome of one attempt.
enum Attempt {
    Response(reqwest::Response),
    /// Failed before any answer; `unsent` when the request surely never reached the server (connect failure).
    Failed {
        error: Error,
        unsent: bool,
    },
}

/// The error of a call past its `deadline` after `attempts` attempts; `last` is the failure of the last attempt when
/// the deadline left no time for the wait before another.
fn past_deadline(what: &str, deadline: Duration, attempts: u32, last: Option<Error>) -> Error {
    match last {
        // Nothing timed out: the registry's own failure is the answer (its kind, status, codes and `Retry-After`
        // kept, so a caller matching on `Server` or `TooManyRequests` still sees it), saying why it was not retried.
        Some(e) => {
            e.context(format!("the deadline of {deadline:?} leaves no time to try again")).with_attempts(attempts)
        }
        // The count of attempts is in the error's display ("after N attempts").
        None => Error::new(ErrorKind::Timeout, format!("{what}: no answer within the deadline of {deadline:?}"))
            .with_attempts(attempts),
    }
}

/// The request path to one registry: a pooled `reqwest::Client`, authentication state, and retry policy.
pub(crate) struct Transport {
    registry: Registry,
    base: Url,
    http: reqwest::Client,
    auth: Authenticator,
    retry: RetryConfig,
    /// The most one call of [`Transport::send`] may take, attempts and waits together.
    deadline: Option<Duration>,
    /// What has been learned of the registry, shared by every handle on this transport.
    capabilities: Capabilities,
    /// The rate limit and the pause after a 429, shared by every handle on this transport.
    pace: Pace,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("deadline", &self.deadline)
            .field("pace", &self.pace)
            .finish()
    }
}

impl Transport {
    /// A transport to `registry`. Fails when the configuration cannot be honoured (`InvalidInput`: a bad user agent,
    /// certificate, proxy or rate limit).
    pub(crate) fn new(registry: Registry, config: TransportConfig) -> Result<Transport> {
        let pace = Pace::new(registry.as_str(), config.rate_limit)?;
        let scheme = if config.insecure { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", registry.api_host()))
            .map_err(|e| Error::invalid_input(format!("registry {registry} does not make a valid URL: {e}")))?;
        let ua = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::invalid_input(format!("user agent {:?} is not a valid header value", config.user_agent))
        })?;
        let http = http_client(&config, ua.clone(), redirect::registry_policy())?;
        let token_http = http_client(&config, ua, redirect::realm_policy(registry.clone(), config.insecure))?;
        let capabilities = Capabilities::new(registry.as_str());
        let auth =
            Authenticator::new(config.credentials, token_http, registry.clone(), config.insecure, capabilities.clone())
                .with_keychain(config.keychain);
        Ok(Transport { registry, base, http, auth, retry: config.retry, deadline: config.deadline, capabilities, pace })
    }

    /// The registry.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What has been learned of the registry.
    pub(crate) fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The URL of `path` (absolute, e.g. `/v2/`) on the registry.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| Error::invalid_input(format!("bad registry path {path:?}: {e}")))
    }

    /// Resolve a `Location` or `Link` target (relative or absolute) against `current`, refusing any other host,
    /// port or scheme: the registry may not move requests elsewhere.
    pub(crate) fn resolve_same_origin(&self, current: &Url, target: &str, what: &str) -> Result<Url> {
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

    /// Send `req`, authenticating and retrying as configured, within the deadline if one is set. Returns the
    /// response when its status is 2xx; any other answer becomes an [`Error`] with the status and the registry's
    /// error codes; a call past the deadline is a [`ErrorKind::Timeout`].
    ///
    /// The future is boxed: the request loop's state (attempts, re-challenge, token exchange) is large, and every
    /// endpoint awaits it, so unboxed it would sit inside each caller's future and on the stack of each poll.
    pub(crate) fn send(&self, req: Request) -> BoxFuture<'_, Result<reqwest::Response>> {
        Box::pin(self.send_unboxed(req))
    }

    /// See [`Transport::send`].
    async fn send_unboxed(&self, mut req: Request) -> Result<reqwest::Response> {
        let shown = response::shown_url(&req.url);
        let what = format!("{} {shown}", req.method);
        let span = tracing::debug_span!("registry_request", method = %req.method, url = %shown);
        async {
            let start = Instant::now();
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let once = Box::pin(self.attempt(&mut req, &what, attempt));
                let outcome = match self.deadline {
                    Some(deadline) => {
                        let at = tokio::time::Instant::from_std(start) + deadline;
                        match tokio::time::timeout_at(at, once).await {
                            Ok(outcome) => outcome,
                            Err(_) => return Err(past_deadline(&what, deadline, attempt, None)),
                        }
                    }
                    None => once.await,
                };
                // A failure, and the answer it came from (whose body is read only when giving up).
                let (error, unsent, answer) = match outcome {
                    Attempt::Response(resp) if resp.status().is_success() => {
                        tracing::debug!(status = resp.status().as_u16(), attempt, "response");
                        return Ok(resp);
                    }
                    Attempt::Response(resp) => (response::head_error(&resp, &what), false, Some(resp)),
                    Attempt::Failed { error, unsent } => (error, unsent, None),
                };
                let again = Again::Request { idempotent: req.idempotent, replayable: req.replayable(), unsent };
                let next = self.retry.next_attempt(&error, again, attempt, start.elapsed());
                if let (Some(wait), Some(deadline)) = (next, self.deadline) {
                    if start.elapsed().saturating_add(wait) >= deadline {
                        let err = match answer {
                            Some(resp) => response::error_from_response(resp, &what).await,
                            None => error,
                        };
                        tracing::debug!(error = %err, attempt, "the deadline leaves no time for another attempt");
                        return Err(past_deadline(&what, deadline, attempt, Some(err)));
                    }
                }
                match next {
                    Some(wait) => {
                        let why = match &answer {
                            Some(r) => format!("HTTP {}", r.status().as_u16()),
                            None => error.to_string(),
                        };
                        tracing::warn!(attempt, delay_ms = wait.as_millis() as u64, %why, "retrying");
                        drop(answer);
                        tokio::time::sleep(wait).await;
                    }
                    None => {
                        let err = match answer {
                            Some(resp) => response::error_from_response(resp, &what).await,
                            None => error,
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

    /// Attempt number `attempt`, with one re-challenge on 401.
    async fn attempt(&self, req: &mut Request, what: &str, attempt: u32) -> Attempt {
        let (first, sent) = match self.send_once(req, what, attempt).await {
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
        if decision == Retry::SameToken {
            let error = self.unauthorized(first, what).await.context(
                "the token server answered with the same token the registry had just refused: not sending it again",
            );
            return Attempt::Failed { error, unsent: false };
        }
        if decision == Retry::No || !req.replayable() {
            return Attempt::Failed { error: self.unauthorized(first, what).await, unsent: false };
        }
        match self.send_once(req, what, attempt).await {
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

    /// Send `req` once (during attempt number `attempt`), with the `Authorization` the authenticator has for it,
    /// when the host's pacing lets it go (the pause after a 429 over, a token of the rate limit taken); returns the
    /// answer and that header. A 429 answer pauses every request to the host for the wait the retry policy gives
    /// the refused request: its `Retry-After` capped at [`RetryConfig::max_backoff`], else the backoff of this
    /// attempt (and never past [`MAX_PAUSE`](super::pace::MAX_PAUSE)).
    async fn send_once(
        &self,
        req: &mut Request,
        what: &str,
        attempt: u32,
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
        self.pace.wait_turn().await;
        match builder.send().await {
            Ok(resp) => {
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    // The wait the retry policy gives the refused request itself (so the two end together).
                    let wait = retry_after(resp.headers())
                        .map(|asked| asked.min(self.retry.max_backoff))
                        .unwrap_or_else(|| self.retry.backoff(attempt));
                    self.pace.pause(wait);
                }
                Ok((resp, authorization))
            }
            Err(e) => {
                let unsent = e.is_connect();
                Err(Attempt::Failed { error: response::from_reqwest(e, what), unsent })
            }
        }
    }
}
