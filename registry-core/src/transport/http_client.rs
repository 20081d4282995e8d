//! The `reqwest::Client` of a transport: TLS (from `tls`), proxy, timeouts and redirect policy.

use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use super::config::{ProxyConfig, TransportConfig};
use super::response::{self, redact_url};
use super::tls;
use crate::error::{Error, Result};

/// A `reqwest::Client` with the TLS, proxy, timeout and redirect settings of `config`.
pub(crate) fn http_client(
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
    // Roots, the certificate check and the client identity: see `tls`.
    builder = builder.use_preconfigured_tls(tls::client_config(config)?);
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
