//! The sync spec: what to mirror where, read from YAML ([`SyncSpec`]; its doc has the keys and the merge of
//! `defaults`).
//!
//! Parsing is in two steps: serde-saphyr reads the text into the `raw` structs (unknown keys refused, the line of
//! every value kept), then `build` checks every value and merges the defaults into each entry. The public types sit
//! in the leaf module `model`, so both steps use them without a cycle.

mod build;
mod keys;
mod model;
mod pairs;
mod raw;
#[cfg(test)]
mod tests;

use std::path::Path;

use registry_core::{Error, Result};
use serde_saphyr::MessageFormatter as _;
use tokio::io::AsyncReadExt as _;

pub use model::{RegistrySettings, SyncEntry, SyncSpec};

/// The largest spec accepted, in bytes (4 MiB): a spec is a few kilobytes; more is a mistake or an attack.
const MAX_SPEC_BYTES: usize = 4 * 1024 * 1024;

/// At most this many events replayed from aliases in one spec (the YAML "billion laughs" stops here).
const MAX_REPLAYED_EVENTS: usize = 100_000;

impl SyncSpec {
    /// Parse a spec from YAML text (YAML 1.2 through serde-saphyr; one document).
    ///
    /// Errors: `InvalidInput`, the message starting with the line (`line 7: ...`, 1-based) and saying what is
    /// wrong: YAML syntax; an unknown key (listing the allowed keys); a value of the wrong type (naming its key and
    /// what it takes: `tags.allow must be a list of regexes: allow: ["^v2"]`); an empty `allow` list; a missing or empty
    /// `sync:`; an entry without `source` or `target`; a malformed source or target; a source and target of shapes
    /// that do not fit together (and why); an invalid regex (the pattern and the regex crate's message); an invalid
    /// semver range; `latest: 0`; an unknown platform; a `password:` key; `username` without exactly one of
    /// `password_file` / `password_env`; a `rate` that is not a positive finite number; an alias expansion past the
    /// parser's budget. A text over 4 MiB is refused before parsing.
    pub fn parse(yaml: &str) -> Result<SyncSpec> {
        if yaml.len() > MAX_SPEC_BYTES {
            return Err(Error::invalid_input(format!(
                "the spec is {} bytes, more than the {MAX_SPEC_BYTES} bytes (4 MiB) a spec may have",
                yaml.len()
            )));
        }
        if yaml.trim().is_empty() {
            return Err(build::at(1, "the spec is empty: it needs a `sync:` list of entries"));
        }
        let options = serde_saphyr::options! {
            with_snippet: false,
            alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: MAX_REPLAYED_EVENTS },
        };
        let raw: raw::RawSpec = serde_saphyr::from_str_with_options(yaml, options).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
            let message = serde_saphyr::UserMessageFormatter.format_message(e.without_snippet()).into_owned();
            build::at(line, keys::type_error(yaml, line, column, &message).unwrap_or(message))
        })?;
        build::build(raw)
    }

    /// Read and parse the spec at `path` (at most 4 MiB are read).
    ///
    /// Errors: `InvalidInput` naming the file when it cannot be read (missing, unreadable, not UTF-8, too large)
    /// or parsed (then the message of [`SyncSpec::parse`] follows the file name).
    pub async fn read(path: impl AsRef<Path>) -> Result<SyncSpec> {
        let path = path.as_ref();
        let unreadable = |e: std::io::Error| Error::invalid_input(format!("sync spec {}: {e}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_SPEC_BYTES).unwrap_or(u64::MAX).saturating_add(1);
        file.take(limit).read_to_end(&mut bytes).await.map_err(unreadable)?;
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(Error::invalid_input(format!(
                "sync spec {}: larger than the {MAX_SPEC_BYTES} bytes (4 MiB) a spec may have",
                path.display()
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::invalid_input(format!("sync spec {}: not UTF-8 text: {e}", path.display())))?;
        SyncSpec::parse(&text).map_err(|e| e.context(format!("sync spec {}", path.display())))
    }
}
