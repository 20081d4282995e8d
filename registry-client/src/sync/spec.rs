//! The sync spec: what to mirror where, read from YAML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use registry_core::{Error, Result};

use super::endpoint::Endpoint;
use super::filter::TagFilter;
use crate::image::platform::Platform;

/// A whole sync spec: per-host registry settings and the entries, each with the `defaults` applied.
///
/// ```yaml
/// registries:
///   127.0.0.1:5001: { insecure: true }
/// defaults: { platforms: all, referrers: false }
/// sync:
///   - source: 127.0.0.1:5001/org/app
///     target: 127.0.0.1:5002/mirror/org/app
///     tags: { allow: ["^v1\\."], deny: ["-rc"], semver: ">=1.2, <2", latest: 5 }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncSpec {
    /// Settings per `host[:port]`.
    pub registries: BTreeMap<String, RegistrySettings>,
    /// The entries, in the file's order, with the defaults applied.
    pub entries: Vec<SyncEntry>,
}

impl SyncSpec {
    /// Parse a spec from YAML text. `InvalidInput` naming the line (and what is wrong: an unknown key, a bad
    /// regex or semver range, a source and target of shapes that do not fit together, a password in the file).
    pub fn parse(yaml: &str) -> Result<SyncSpec> {
        let _ = yaml;
        Err(Error::unsupported("sync spec: not built yet"))
    }

    /// Read and parse the spec at `path`. `InvalidInput` naming the file when it cannot be read or parsed.
    pub async fn read(path: impl AsRef<Path>) -> Result<SyncSpec> {
        let path = path.as_ref();
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| Error::invalid_input(format!("sync spec {}: {e}", path.display())))?;
        SyncSpec::parse(&text).map_err(|e| e.context(format!("sync spec {}", path.display())))
    }
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
    /// The user name (`username:`); the password comes from `password_file` or `password_env`.
    pub username: Option<String>,
    /// A file holding the password (`password_file:`; surrounding whitespace is trimmed).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password (`password_env:`).
    pub password_env: Option<String>,
    /// At most this many requests per second to this host (`rate:`); `None`: unlimited.
    pub rate: Option<f64>,
}

/// One entry of `sync:`, with the defaults applied.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncEntry {
    /// The line of the entry in the spec file (1-based).
    pub line: usize,
    /// Where images come from.
    pub source: Endpoint,
    /// Where they go.
    pub target: Endpoint,
    /// Which tags of a repository or prefix source are taken.
    pub tags: TagFilter,
    /// Which platforms of an index are copied: empty copies all (`platforms: all`).
    pub platforms: Vec<Platform>,
    /// Copy referrers (and cosign-style `sha256-<hex>.sig` / `.att` / `.sbom` tags) with each image.
    pub referrers: bool,
    /// Move a target tag that points at another digest (`true`, the default: a mirror); `false` leaves it and
    /// reports a conflict (crane's `--no-clobber`).
    pub overwrite: bool,
}
