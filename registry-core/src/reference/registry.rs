//! [`Registry`]: a registry host, with Docker Hub's aliases written `docker.io`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::error::ReferenceError;
use super::grammar::{is_valid_port, validate_host};

/// Docker Hub's canonical name.
const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API is served from.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Names that all mean Docker Hub (compared case-insensitively).
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A registry host: `host[:port]` or `[ipv6][:port]`, with Docker Hub's aliases written `docker.io`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Registry {
    /// The canonical name.
    name: String,
}

impl Registry {
    /// Parse a registry host, e.g. `localhost`, `localhost:5000`, `registry.example.com`, `127.0.0.1:5000`,
    /// `[::1]:5000`, `docker.io`.
    pub fn parse(s: &str) -> Result<Registry, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        reject_scheme(s)?;
        parse_domain(s, s)
    }

    /// Docker Hub, `docker.io`.
    pub fn docker_hub() -> Registry {
        Registry { name: DOCKER_HUB.to_string() }
    }

    /// The canonical name: `docker.io` for Docker Hub (whichever alias was written), otherwise as written.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The `host[:port]` to connect to: `registry-1.docker.io` for Docker Hub, otherwise [`as_str`](Self::as_str).
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.name
        }
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.name == DOCKER_HUB
    }

    /// Whether the host is a loopback one: `localhost`, `127.0.0.0/8` or `[::1]` (also IPv4-mapped), with or
    /// without a port.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            return v4.is_loopback();
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            if let Ok(v6) = inner.parse::<Ipv6Addr>() {
                return v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
            }
        }
        false
    }

    /// The host without the port (an IPv6 address keeps its brackets).
    fn host(&self) -> &str {
        let name = self.name.as_str();
        if name.starts_with('[') {
            match name.find(']') {
                Some(end) => &name[..=end],
                None => name,
            }
        } else {
            name.split_once(':').map_or(name, |(host, _)| host)
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Registry {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Registry, ReferenceError> {
        Registry::parse(s)
    }
}

/// Parse a registry domain, `host[:port]` or `[ipv6][:port]`; `input` is the whole input, for errors.
/// An error naming the fix when `input` starts with a URL scheme (`http://host:5000/app`): a registry name has
/// none, the client speaks HTTPS, or plain HTTP when built with `insecure(true)`.
pub(super) fn reject_scheme(input: &str) -> Result<(), ReferenceError> {
    let Some((scheme, rest)) = input.split_once("://") else {
        return Ok(());
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Ok(());
    }
    let domain = rest.split('/').next().unwrap_or(rest);
    Err(ReferenceError::InvalidDomain {
        input: input.to_string(),
        domain: format!("{scheme}://{domain}"),
        reason: format!(
            "write it without the URL scheme ({rest:?}): the client speaks HTTPS, or plain HTTP when built with \
             insecure(true)"
        ),
    })
}

pub(super) fn parse_domain(input: &str, domain: &str) -> Result<Registry, ReferenceError> {
    let invalid =
        |reason: String| ReferenceError::InvalidDomain { input: input.to_string(), domain: domain.to_string(), reason };
    let port = if let Some(bracketed) = domain.strip_prefix('[') {
        let Some((address, rest)) = bracketed.split_once(']') else {
            return Err(invalid("an IPv6 address needs a closing ']'".to_string()));
        };
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(format!("{address:?} is not a valid IPv6 address")));
        }
        if rest.is_empty() {
            None
        } else if let Some(port) = rest.strip_prefix(':') {
            Some(port)
        } else {
            return Err(invalid(format!("unexpected {rest:?} after the IPv6 address")));
        }
    } else {
        if domain.matches(':').count() > 1 {
            return Err(invalid("an IPv6 address must be written in brackets, e.g. [::1]:5000".to_string()));
        }
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        validate_host(host).map_err(invalid)?;
        port
    };
    if let Some(port) = port {
        if !is_valid_port(port) {
            return Err(ReferenceError::InvalidPort { input: input.to_string(), port: port.to_string() });
        }
    }
    let name = if DOCKER_HUB_ALIASES.iter().any(|alias| domain.eq_ignore_ascii_case(alias)) {
        DOCKER_HUB.to_string()
    } else {
        domain.to_string()
    };
    Ok(Registry { name })
}
