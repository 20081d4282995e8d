//! Which entry of a config file is the registry's: keys match by host, Docker Hub by any of its names; and which
//! credential helper is the registry's.

use std::collections::BTreeMap;

use std::path::Path;

use super::files::ConfigFile;
use super::helpers::is_valid_helper_name;
use crate::error::{Error, Result};
use crate::reference::Registry;

/// The key docker uses for Docker Hub, and the server URL its credential helpers are asked for.
pub const DOCKER_HUB_SERVER_URL: &str = "https://index.docker.io/v1/";

/// The hosts that mean Docker Hub in a config file key.
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The server URL a credential helper is asked for: docker's legacy one for Docker Hub, else `host[:port]`.
pub(super) fn server_url(registry: &Registry) -> &str {
    if registry.is_docker_hub() {
        DOCKER_HUB_SERVER_URL
    } else {
        registry.as_str()
    }
}

/// The host (`host[:port]`, lowercase, `docker.io` for Docker Hub) a config key names: without a scheme or path.
pub(super) fn key_host(key: &str) -> String {
    let key = key.trim().to_ascii_lowercase();
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(&key);
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    if DOCKER_HUB_HOSTS.contains(&host) {
        "docker.io".to_string()
    } else {
        host.to_string()
    }
}

/// The entry of `map` for `registry`: the key written as docker writes it first (`https://index.docker.io/v1/`
/// for Docker Hub, `host[:port]` otherwise), then any key naming the same host, in key order.
pub(super) fn find<'a, T>(map: &'a BTreeMap<String, T>, registry: &Registry) -> Option<(&'a str, &'a T)> {
    if let Some((key, value)) = map.get_key_value(server_url(registry)) {
        return Some((key.as_str(), value));
    }
    let host = registry.as_str().to_ascii_lowercase();
    map.iter().find(|(key, _)| key_host(key) == host).map(|(key, value)| (key.as_str(), value))
}

/// The helper configured for `registry` in `config` (`credHelpers[host]`, else `credsStore`), checked.
pub(super) fn helper_for<'a>(path: &Path, config: &'a ConfigFile, registry: &Registry) -> Result<Option<&'a str>> {
    let name = find(&config.cred_helpers, registry)
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty())
        .or(config.creds_store.as_ref().filter(|name| !name.is_empty()));
    match name {
        Some(name) if !is_valid_helper_name(name) => Err(Error::invalid_input(format!(
            "{}: invalid credential helper name {name:?} (allowed: letters, digits, '-', '_', '.')",
            path.display()
        ))),
        other => Ok(other.map(String::as_str)),
    }
}
