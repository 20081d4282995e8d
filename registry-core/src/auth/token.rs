//! Token exchange at a bearer challenge's realm.

use std::time::SystemTime;

use serde::Deserialize;
use tracing::Instrument;
use url::Url;

use super::challenge::Challenge;
use super::credentials::{basic_header, Credentials};
use super::realm;
use super::token_answer::{parse_answer, NotAToken};
use super::token_cache::Token;
use crate::capabilities::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;
use crate::transport::response::{
    error_from_response, read_capped, read_prefix, redact_url, shown_url, MAX_ERROR_BODY,
};

/// The OAuth2 `client_id` sent with POST token requests.
const CLIENT_ID: &str = "registry-client";

/// The largest token answer read, in bytes.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// How a token request went wrong, kept apart so the caller can fall back from the OAuth2 POST to GET.
enum Failure {
    /// The realm answered, but not with a token: an error status other than a credentials rejection (5xx, 404,
    /// 405, 501, a 400 that is not `invalid_grant`...), HTML, or a body without a token. An optional protocol
    /// feature the server lacks: GET may still work.
    NoToken(Error),
    /// The realm rejected the credentials (401, 403, or an OAuth2 `invalid_grant` error): GET would not help.
    Rejected(Error),
    /// No answer at all (connection, TLS, timeout, a refused redirect).
    Other(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::NoToken(e) | Failure::Rejected(e) | Failure::Other(e) => e,
        }
    }
}

/// The fields of an OAuth2 token form.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// An OAuth2 error answer (RFC 6749 section 5.2): `{"error": "invalid_grant", ...}`.
#[derive(Deserialize)]
struct OAuth2Error {
    error: String,
}

/// Whether an error body is OAuth2's `invalid_grant` (the refresh token is invalid, expired or revoked).
fn is_invalid_grant(body: &[u8]) -> bool {
    serde_json::from_slice::<OAuth2Error>(body).is_ok_and(|e| e.error == "invalid_grant")
}

/// One token request at a challenge's realm.
pub(crate) struct TokenRequest<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) challenge: &'a Challenge,
    pub(crate) scopes: &'a [String],
    pub(crate) credentials: &'a Credentials,
    pub(crate) registry: &'a Registry,
    pub(crate) registry_insecure: bool,
}

impl TokenRequest<'_> {
    /// Get a token. Anonymous requests and a username with a password use the distribution GET flow (Basic
    /// credentials), which every token server supports, as docker, go-containerregistry and containers/image do.
    /// An identity token uses the OAuth2 refresh-token grant (POST); when the realm answers that POST with anything
    /// but a token or a credentials rejection (5xx, HTML, a 4xx other than 401, 403 or `invalid_grant`), the GET
    /// flow is used with the identity token as password, and the registry's `capabilities` remember it
    /// (`token_post_refused`) so later requests go straight to GET.
    pub(crate) async fn fetch(&self, capabilities: &Capabilities) -> Result<Token> {
        let realm = self
            .challenge
            .realm()
            .ok_or_else(|| Error::protocol("bearer challenge without a realm: cannot get a token"))?;
        let url = Url::parse(realm)
            .map_err(|e| Error::protocol(format!("bearer challenge realm {realm:?} is not a URL: {e}")))?;
        realm::check(&url, self.registry, self.registry_insecure)
            .map_err(|why| Error::new(ErrorKind::Protocol, format!("{why} (registry {})", self.registry)))?;
        let span = tracing::debug_span!("token_request", realm = %redact_url(&url), scopes = ?self.scopes);
        async {
            if let Credentials::IdentityToken { token, .. } = self.credentials {
                if !capabilities.snapshot().token_post_refused {
                    let form: Form<'_> = vec![("grant_type", "refresh_token"), ("refresh_token", token.expose())];
                    match self.post(&url, &form).await {
                        Ok(token) => return Ok(token),
                        Err(Failure::NoToken(e)) => {
                            let why = format!("the token server answered the OAuth2 POST with no token: {e}");
                            tracing::debug!(error = %e, "realm answered the OAuth2 POST with no token; using GET");
                            capabilities.learn(&why, |c| c.token_post_refused = true);
                        }
                        Err(f) => return Err(f.into_error()),
                    }
                }
            }
            self.get(url.clone()).await.map_err(Failure::into_error)
        }
        .instrument(span)
        .await
    }
    /// The distribution token flow: GET with `service` and `scope` parameters, Basic credentials if any.
    async fn get(&self, mut url: Url) -> std::result::Result<Token, Failure> {
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = self.challenge.service() {
                q.append_pair("service", service);
            }
            for s in self.scopes {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url.clone());
        let basic = match self.credentials {
            Credentials::Basic { username, password } => basic_header(username, password),
            Credentials::IdentityToken { username, token } => basic_header(username, token),
            _ => None,
        };
        if let Some(h) = basic {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
        self.send(req, &url, "GET").await
    }

    /// The OAuth2 token flow: POST a form with `grant` fields, `service`, `scope` and `client_id`.
    async fn post(&self, url: &Url, grant: &[(&str, &str)]) -> std::result::Result<Token, Failure> {
        // The serializer is not `Send`: finish it before any await.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(grant.iter().copied());
            if let Some(service) = self.challenge.service() {
                form.append_pair("service", service);
            }
            if !self.scopes.is_empty() {
                form.append_pair("scope", &self.scopes.join(" "));
            }
            form.append_pair("client_id", CLIENT_ID);
            form.finish()
        };
        let req = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(req, url, "POST").await
    }

    async fn send(&self, req: reqwest::RequestBuilder, url: &Url, method: &str) -> std::result::Result<Token, Failure> {
        let shown = format!("{method} {}", shown_url(url));
        let resp = req.send().await.map_err(|e| {
            Failure::Other(crate::transport::response::from_reqwest(e, &shown).context("token request"))
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.refusal(resp, &shown, method == "POST").await);
        }
        // Every answer from here on came from the realm: what is not a token is `NoToken` (an OAuth2 POST then falls
        // back to GET; a GET reports it).
        let body = read_capped(resp, MAX_TOKEN_RESPONSE, "token response").await.map_err(|e| match e.kind() {
            ErrorKind::Unsupported => Failure::NoToken(e.context(format!("token response of {shown}"))),
            _ => Failure::Other(e),
        })?;
        let (value, lifetime) = parse_answer(&body, SystemTime::now()).map_err(|why| {
            Failure::NoToken(Error::protocol(match why {
                NotAToken::NotJson { html: true, detail } => {
                    format!("token response of {shown} is HTML, not JSON: {detail}")
                }
                NotAToken::NotJson { html: false, detail } => {
                    format!("token response of {shown} is not valid JSON: {detail}")
                }
                NotAToken::NoToken => format!("token response of {shown} has no `token` or `access_token`"),
            }))
        })?;
        tracing::debug!(lifetime_ms = lifetime.as_millis() as u64, "token acquired");
        Ok(Token::new(value, lifetime))
    }

    /// What an error status from the realm means. For the OAuth2 POST (`oauth2`), only 401, 403 and an
    /// `invalid_grant` error body reject the credentials; any other status is a server without (working) OAuth2
    /// support. For GET, every error status is final.
    async fn refusal(&self, resp: reqwest::Response, shown: &str, oauth2: bool) -> Failure {
        let status = resp.status().as_u16();
        let user = match self.credentials {
            Credentials::Basic { username, .. } => format!(" for user {username:?}"),
            Credentials::IdentityToken { .. } => " for the identity token".to_string(),
            _ => String::new(),
        };
        if oauth2 && !matches!(status, 401 | 403) {
            let body = read_prefix(resp, MAX_ERROR_BODY).await;
            if (400..500).contains(&status) && is_invalid_grant(&body) {
                let msg = format!("{shown}: token server rejected the credentials{user} (invalid_grant)");
                return Failure::Rejected(Error::new(ErrorKind::Unauthorized, msg).with_status(status));
            }
            let msg = format!("{shown}: the token server answered the OAuth2 POST with {status}, not a token");
            return Failure::NoToken(Error::new(ErrorKind::from_status(status), msg).with_status(status));
        }
        let err = error_from_response(resp, shown).await;
        let anonymous = matches!(self.credentials, Credentials::Anonymous);
        let msg = match status {
            401 if anonymous => {
                "token server refused an anonymous token: the registry requires authentication (Bearer) and no \
                 credentials were given"
                    .to_string()
            }
            401 => format!("token server rejected the credentials{user}"),
            403 => format!("token server denied the requested access{user}"),
            _ => format!("token request failed{user}"),
        };
        Failure::Rejected(err.context(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_grant_bodies() {
        assert!(is_invalid_grant(br#"{"error":"invalid_grant","error_description":"revoked"}"#));
        assert!(!is_invalid_grant(br#"{"error":"unsupported_grant_type"}"#));
        assert!(!is_invalid_grant(br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#));
        assert!(!is_invalid_grant(b"<html>invalid_grant</html>"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_oauth2_error_body_parses_without_panic(body in proptest::prelude::any::<Vec<u8>>()) {
            let _ = is_invalid_grant(&body);
        }
    }
}
