//! Where a token realm may be: a registry's `WWW-Authenticate` challenge names a URL the client then sends
//! credentials to, so a hostile or compromised registry must not be able to aim them anywhere it likes.
//!
//! A realm (and every redirect a realm answers with) must be:
//! - `https`, or `http` only when the registry itself is plain HTTP;
//! - not an unspecified, link-local or cloud metadata address (`0.0.0.0`, `169.254.169.254`, `fe80::/10`,
//!   `fd00:ec2::254`, `metadata.google.internal`);
//! - not a loopback address or `localhost` unless the registry itself is on loopback.
//!
//! Only literal addresses and well-known names are checked: a hostname is not resolved here.

use std::net::{IpAddr, Ipv6Addr};

use url::{Host, Url};

use crate::reference::Registry;
use crate::transport::response::redact_url;

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog", "metadata"];

/// Why `realm` may not be used for `registry`, if it may not.
pub(crate) fn check(realm: &Url, registry: &Registry, registry_insecure: bool) -> Result<(), String> {
    let shown = redact_url(realm);
    match realm.scheme() {
        "https" => {}
        "http" if registry_insecure => {}
        "http" => return Err(format!("token realm {shown} is plain HTTP while the registry is HTTPS")),
        other => return Err(format!("token realm {shown} has scheme {other:?}, not http(s)")),
    }
    let forbidden = |what: &str| Err(format!("token realm {shown} is {what}; refusing to use it"));
    match realm.host() {
        None => Err(format!("token realm {shown} has no host")),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&name.as_str()) {
                forbidden("a cloud metadata service")
            } else if (name == "localhost" || name.ends_with(".localhost")) && !registry.is_loopback() {
                forbidden("loopback while the registry is not")
            } else {
                Ok(())
            }
        }
        Some(Host::Ipv4(v4)) => check_ip(IpAddr::V4(v4), registry).map_or(Ok(()), forbidden),
        Some(Host::Ipv6(v6)) => check_ip(IpAddr::V6(v6), registry).map_or(Ok(()), forbidden),
    }
}

/// What is wrong with a realm at `ip`, if anything.
fn check_ip(ip: IpAddr, registry: &Registry) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let aws_v6_metadata = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        ip if ip.is_unspecified() => Some("an unspecified address"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local (cloud metadata) address"),
        IpAddr::V6(v6) if v6 == aws_v6_metadata => Some("a cloud metadata address"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("a link-local address"),
        IpAddr::V4(v4) if v4.is_broadcast() || v4.is_multicast() => Some("a broadcast or multicast address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        ip if ip.is_loopback() && !registry.is_loopback() => Some("loopback while the registry is not"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(realm: &str, registry: &str, insecure: bool) -> Result<(), String> {
        let url = Url::parse(realm).map_err(|e| e.to_string())?;
        let registry = Registry::parse(registry).map_err(|e| e.to_string())?;
        check(&url, &registry, insecure)
    }

    #[test]
    fn realms_allowed_and_refused() {
        let table: &[(&str, &str, bool, bool)] = &[
            // realm, registry, registry insecure, allowed
            ("https://auth.example.com/token", "registry.example.com", false, true),
            ("http://auth.example.com/token", "registry.example.com", false, false),
            ("http://auth.example.com/token", "registry.example.com", true, true),
            ("ftp://auth.example.com/token", "registry.example.com", true, false),
            ("https://169.254.169.254/latest/meta-data", "registry.example.com", false, false),
            ("https://169.254.1.1/token", "127.0.0.1:5000", false, false),
            ("https://[fd00:ec2::254]/token", "registry.example.com", false, false),
            ("https://[fe80::1]/token", "registry.example.com", false, false),
            ("https://[::ffff:169.254.169.254]/token", "registry.example.com", false, false),
            ("https://0.0.0.0/token", "registry.example.com", false, false),
            ("https://[::]/token", "registry.example.com", false, false),
            ("https://metadata.google.internal/token", "registry.example.com", false, false),
            ("https://METADATA.google.internal./token", "registry.example.com", false, false),
            ("https://127.0.0.1:8080/token", "registry.example.com", false, false),
            ("https://[::1]:8080/token", "registry.example.com", false, false),
            ("https://localhost/token", "registry.example.com", false, false),
            ("https://127.0.0.1:8080/token", "127.0.0.1:5000", false, true),
            ("http://127.0.0.2:8080/token", "localhost:5000", true, true),
            ("https://10.0.0.5/token", "registry.example.com", false, true),
            ("https://255.255.255.255/token", "registry.example.com", false, false),
        ];
        for (realm, registry, insecure, allowed) in table {
            let got = verdict(realm, registry, *insecure);
            assert_eq!(got.is_ok(), *allowed, "{realm} for {registry} (insecure {insecure}): {got:?}");
        }
    }

    #[test]
    fn refusal_names_the_realm_without_its_query() {
        let err = verdict("https://169.254.169.254/x?secret=1", "registry.example.com", false).err();
        let err = err.unwrap_or_default();
        assert!(err.contains("169.254.169.254") && !err.contains("secret"), "{err}");
    }
}
