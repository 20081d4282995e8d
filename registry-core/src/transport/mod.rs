//! The HTTP request path of one registry: authentication (challenge -> token, one re-challenge), retries for
//! idempotent requests, the user agent, and a `tracing` span per request. URLs in spans and errors have no query
//! string; `Authorization` values are marked sensitive.
//!
//! Users configure it with [`TransportConfig`] (and [`RetryConfig`], [`ProxyConfig`]); the request path itself is
//! internal to the crate, one concern per file: `config`, `request`, `send` (the loop), `retry` (the one decision of
//! what is worth another attempt), `pace` (the rate limit and the shared pause after a 429), `response` (answers
//! to errors), `redirect`, `http_client`, `tls` (roots, the server certificate check, the client identity).

mod config;
pub(crate) mod http_client;
mod pace;
mod redirect;
pub(crate) mod request;
pub(crate) mod response;
pub mod retry;
pub(crate) mod send;
mod tls;

pub use config::{ProxyConfig, TransportConfig, DEFAULT_USER_AGENT};
pub use pace::MAX_PAUSE;
pub use response::{redact_url, shown_url};
pub use retry::RetryConfig;
