//! Redirect policies. Registries send blob GETs to storage hosts, and token realms may redirect: a redirect is
//! followed only where credentials cannot leak.
//!
//! - Registry requests: at most 10 hops, each to a URL not visited before in the same request (a redirect back to
//!   one is a loop, refused at once rather than followed round until the hop limit); never from HTTPS down to plain HTTP; never to a non-http(s) URL. The
//!   `Authorization` header is dropped by `reqwest` whenever the host or port changes, and the scheme can only go
//!   up (HTTP -> HTTPS), so credentials never reach another host, port or scheme.
//! - Token realm requests: the same, and every hop must be a valid realm for the registry
//!   (see [`crate::auth`]'s realm rules): a realm cannot bounce basic credentials to a metadata address.

use reqwest::redirect::{Attempt, Policy};

use super::response::redact_url;
use crate::auth::realm;
use crate::reference::Registry;

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// Why the redirect to `next` after `previous` is refused, if it is.
pub(crate) fn refuse(previous: Option<&url::Url>, next: &url::Url, hops: usize) -> Option<String> {
    let shown = redact_url(next);
    if hops >= MAX_REDIRECTS {
        return Some(format!("more than {MAX_REDIRECTS} redirects (last to {shown})"));
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Some(format!("redirect to {shown} is not http(s)"));
    }
    if previous.is_some_and(|p| p.scheme() == "https") && next.scheme() == "http" {
        return Some(format!("refusing a redirect from HTTPS down to plain HTTP ({shown})"));
    }
    None
}

/// Why the redirect to `next` is a loop, if it is: `visited` (the URLs the request went to so far, the first
/// included) holds it already. A redirect is progress only toward a URL not tried yet.
pub(crate) fn revisits(visited: &[url::Url], next: &url::Url) -> Option<String> {
    visited.contains(next).then(|| {
        format!(
            "redirect loop: {} was visited already in this request (after {} redirects)",
            redact_url(next),
            visited.len()
        )
    })
}

fn decide(attempt: Attempt<'_>, extra: impl FnOnce(&url::Url) -> Result<(), String>) -> reqwest::redirect::Action {
    let why = refuse(attempt.previous().last(), attempt.url(), attempt.previous().len())
        .or_else(|| revisits(attempt.previous(), attempt.url()))
        .or_else(|| extra(attempt.url()).err());
    match why {
        Some(why) => {
            tracing::warn!(%why, "redirect refused");
            attempt.error(why)
        }
        None => {
            tracing::debug!(to = %redact_url(attempt.url()), "following redirect");
            attempt.follow()
        }
    }
}

/// The policy of requests to the registry.
pub(crate) fn registry_policy() -> Policy {
    Policy::custom(|attempt| decide(attempt, |_| Ok(())))
}

/// The policy of token requests for `registry`: each hop must be a valid realm, and a redirect that keeps the
/// method and body (307, 308) may not change origin, so an OAuth2 POST never carries its password or refresh
/// token to another host (301, 302 and 303 turn it into a GET without a body).
pub(crate) fn realm_policy(registry: Registry, registry_insecure: bool) -> Policy {
    Policy::custom(move |attempt| {
        let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
        let other_origin = attempt.previous().last().is_some_and(|p| p.origin() != attempt.url().origin());
        let shown = redact_url(attempt.url());
        decide(attempt, |url| {
            if keeps_body && other_origin {
                return Err(format!("refusing a token request redirect that keeps its body to another host ({shown})"));
            }
            realm::check(url, &registry, registry_insecure)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn refuses_downgrades_and_loops() {
        let https = url("https://registry.example.com/v2/a/blobs/sha256:00");
        let http = url("http://registry.example.com/v2/a/blobs/sha256:00");
        assert!(refuse(Some(&https), &url("http://storage.example.com/x?sig=s"), 1).is_some());
        assert!(refuse(Some(&https), &http, 1).is_some_and(|m| m.contains("plain HTTP")));
        assert!(refuse(Some(&https), &url("https://storage.example.com/x"), 1).is_none());
        assert!(refuse(Some(&http), &url("http://storage.example.com/x"), 1).is_none());
        assert!(refuse(Some(&http), &https, 1).is_none());
        assert!(refuse(Some(&https), &url("file:///etc/passwd"), 1).is_some());
        assert!(refuse(Some(&https), &https, MAX_REDIRECTS).is_some_and(|m| m.contains("redirects")));
        let shown = refuse(Some(&https), &url("http://u:p@storage.example.com/x?sig=secret"), 1).unwrap_or_default();
        assert!(!shown.contains("secret") && !shown.contains("u:p"), "{shown}");
    }

    #[test]
    fn a_redirect_back_to_a_visited_url_is_a_loop() {
        let a = url("https://registry.example.com/v2/a/blobs/sha256:00?sig=secret");
        let b = url("https://storage.example.com/x");
        assert!(revisits(std::slice::from_ref(&a), &b).is_none());
        let why = revisits(&[a.clone(), b.clone()], &a).unwrap_or_default();
        assert!(why.contains("redirect loop") && why.contains("after 2 redirects"), "{why}");
        assert!(!why.contains("secret"), "{why}");
        assert!(revisits(std::slice::from_ref(&a), &a).is_some(), "a redirect to itself");
    }
}
