//! The checked spec: [`SyncSpec`], [`RegistrySettings`], [`SyncEntry`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::image::platform::Platform;
use crate::sync::endpoint::Endpoint;
use crate::sync::filter::TagFilter;

/// A whole sync spec: per-host registry settings and the entries, each with the `defaults` applied.
///
/// ```yaml
/// registries:                        # optional: per host[:port]
///   127.0.0.1:5001: { insecure: true }
///   registry.example.com:
///     ca: /etc/ssl/example-ca.pem
///     username: mirror
///     password_file: /run/secrets/mirror-password   # or password_env: MIRROR_PASSWORD
///     rate: 20                                      # requests per second, may be fractional
/// defaults: { platforms: all, referrers: false }   # optional: what every entry starts from
/// sync:                                             # at least one entry
///   - source: 127.0.0.1:5001/org/app                # a repository: every tag that passes the filters
///     target: 127.0.0.1:5002/mirror/org/app
///     tags: { allow: ["^v1\\."], deny: ["-rc"], semver: ">=1.2, <2", latest: 5 }
///   - { source: 127.0.0.1:5001/base/os:12, target: "oci:/srv/airgap/base/os" }
///   - { source: 127.0.0.1:5001/team/, target: 127.0.0.1:5002/mirror/team/ }
/// ```
///
/// Keys. Top level: `registries`, `defaults`, `sync`. Registry settings: `insecure`, `tls_skip_verify`, `ca`,
/// `username`, `password_file`, `password_env`, `rate` (a `password` key is refused: a password never goes in the
/// spec). `defaults` and each entry: `tags` (`allow`, `deny`, `semver`, `latest`; see [`TagFilter`]), `platforms`
/// (`all` or a list of `os/arch[/variant]`), `referrers` (default `false`), `overwrite` (default `true`); an entry
/// has also `source` and `target` (see [`Endpoint`]). Any other key is an error.
///
/// Merge of `defaults` into an entry: each of `tags`, `platforms`, `referrers` and `overwrite` given in the entry
/// replaces the same key of `defaults`; a key the entry leaves out is taken from `defaults`, else from the
/// built-in default (every tag, every platform, no referrers, overwrite). `tags` is replaced as a whole, never
/// merged key by key: an entry with `tags: { latest: 3 }` drops the default's `allow` too, and `tags: {}` takes
/// every tag. An entry whose source is one image (`host/repo:tag`, `host/repo@digest`, `oci:DIR:TAG`) has no tag
/// filter: the default's `tags` does not apply to it, and a `tags` key in it is an error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncSpec {
    /// Settings per registry (`host[:port]`, Docker Hub's aliases written `docker.io`).
    pub registries: BTreeMap<String, RegistrySettings>,
    /// The entries, in the file's order, with the defaults applied.
    pub entries: Vec<SyncEntry>,
}

/// Settings of one registry host (`registries:` in the spec).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RegistrySettings {
    /// Plain HTTP (`insecure: true`).
    pub insecure: bool,
    /// Skip TLS certificate verification (`tls_skip_verify: true`).
    pub tls_skip_verify: bool,
    /// A PEM file of CA certificates to trust besides the system's (`ca:`).
    pub ca: Option<PathBuf>,
    /// The user name (`username:`); the password comes from `password_file` or `password_env` (exactly one of them
    /// is set when this is).
    pub username: Option<String>,
    /// A file holding the password (`password_file:`; surrounding whitespace is trimmed).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password (`password_env:`).
    pub password_env: Option<String>,
    /// At most this many requests per second to this host (`rate:`, positive and finite, may be fractional);
    /// `None`: unlimited.
    pub rate: Option<f64>,
}

/// One entry of `sync:`, with the defaults applied.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncEntry {
    /// The line of the entry (its `- ` item) in the spec file (1-based).
    pub line: usize,
    /// Where images come from.
    pub source: Endpoint,
    /// Where they go (a shape that fits the source's: checked when the spec is parsed).
    pub target: Endpoint,
    /// Which tags of a repository, prefix or layout source are taken (empty for a single-image source).
    pub tags: TagFilter,
    /// Which platforms of an index are copied: empty copies all (`platforms: all`).
    pub platforms: Vec<Platform>,
    /// Copy referrers (and cosign-style `sha256-<hex>.sig` / `.att` / `.sbom` tags) with each image.
    pub referrers: bool,
    /// Move a target tag that points at another digest (`true`, the default: a mirror); `false` leaves it and
    /// reports a conflict (crane's `--no-clobber`).
    pub overwrite: bool,
}
