//! What `login`, `logout` and `serve` print: text and JSON shapes.

use serde::Serialize;

/// `regcli serve --format json`: where the registry listens.
#[derive(Debug, Serialize)]
pub(crate) struct ServingJson<'a> {
    /// `host:port` (what references name: `ADDR/repo:tag`).
    pub(crate) addr: &'a str,
    /// `http://host:port`.
    pub(crate) url: &'a str,
    /// `none`, `basic` or `bearer`.
    pub(crate) auth: &'a str,
}

impl<'a> ServingJson<'a> {
    /// The JSON shape.
    pub(crate) fn new(addr: &'a str, url: &'a str, auth: &'a str) -> ServingJson<'a> {
        ServingJson { addr, url, auth }
    }
}

/// `serving on http://ADDR (in memory, auth: none; SIGINT or SIGTERM stops it)`.
pub(crate) fn serving_text(url: &str, auth: &str) -> String {
    format!("serving on {url} (in memory, auth: {auth}; SIGINT or SIGTERM stops it)\n")
}

/// `regcli login --format json`: where the credentials went.
#[derive(Debug, Serialize)]
pub(crate) struct LoginJson<'a> {
    /// The registry, `host[:port]` (`docker.io` for Docker Hub).
    pub(crate) registry: &'a str,
    /// The username stored.
    pub(crate) username: &'a str,
    /// docker's config file (after symlinks, when the credentials are in it).
    pub(crate) file: String,
    /// `file` (in `auths`) or `helper` (in a credential helper, with an empty `auths` placeholder).
    pub(crate) stored_in: &'a str,
    /// The credential helper's name (`docker-credential-<name>`), when one holds them.
    pub(crate) helper: Option<&'a str>,
}

/// `login succeeded for HOST (stored in FILE)` or `(in credential helper NAME)`.
pub(crate) fn login_text(registry: &str, file: &str, helper: Option<&str>) -> String {
    match helper {
        Some(name) => format!("login succeeded for {registry} (in credential helper {name})\n"),
        None => format!("login succeeded for {registry} (stored in {file})\n"),
    }
}

/// `regcli logout --format json`: what was removed.
#[derive(Debug, Serialize)]
pub(crate) struct LogoutJson<'a> {
    /// The registry, `host[:port]` (`docker.io` for Docker Hub).
    pub(crate) registry: &'a str,
    /// docker's config file.
    pub(crate) file: String,
    /// Whether anything was stored (an `auths` entry or the helper's credentials).
    pub(crate) was_logged_in: bool,
    /// The `auths` keys removed.
    pub(crate) keys_removed: &'a [String],
    /// The credential helper asked to erase, if one is configured.
    pub(crate) helper: Option<&'a str>,
}

/// `removed credentials for HOST from FILE[ and credential helper NAME]`, or `not logged in to HOST (nothing
/// stored in FILE)`.
pub(crate) fn logout_text(registry: &str, file: &str, was_logged_in: bool, helper: Option<&str>) -> String {
    if !was_logged_in {
        return format!("not logged in to {registry} (nothing stored in {file})\n");
    }
    match helper {
        Some(name) => format!("removed credentials for {registry} from {file} and credential helper {name}\n"),
        None => format!("removed credentials for {registry} from {file}\n"),
    }
}
