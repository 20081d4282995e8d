//! The `reqwest::Client` of a transport: TLS roots and client identity, proxy, timeouts and redirect policy.

use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use super::config::{ProxyConfig, TransportConfig};
use super::response::{self, redact_url};
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
