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
