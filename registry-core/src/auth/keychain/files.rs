//! Reading docker's `config.json` and podman's `auth.json`, and what an `auths` entry means.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::Deserialize;

use crate::auth::credentials::{Credentials, Secret};
use crate::error::{Error, ErrorKind, Result};

/// The largest config file read.
pub(super) const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// Where and what kind a JSON error is, without serde's message (which can quote the input).
pub(super) fn describe(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "unexpected end",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// The parts of a docker `config.json` / podman `auth.json` the keychain uses.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ConfigFile {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(super) auths: BTreeMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    pub(super) creds_store: Option<String>,
    #[serde(rename = "credHelpers", default, deserialize_with = "null_as_default")]
    pub(super) cred_helpers: BTreeMap<String, String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One `auths` entry. `Debug` is written by hand: it never shows a secret.
#[derive(Default, Deserialize)]
pub(super) struct AuthEntry {
    #[serde(default)]
    pub(super) auth: Option<String>,
    #[serde(default)]
    pub(super) username: Option<String>,
    #[serde(default)]
    pub(super) password: Option<String>,
    #[serde(default, alias = "identityToken")]
    pub(super) identitytoken: Option<String>,
    #[serde(default, alias = "registryToken")]
    pub(super) registrytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry").field("username", &self.username).finish_non_exhaustive()
    }
}

impl AuthEntry {
    /// The credentials of the entry with key `key` in file `path`.
    pub(super) fn credentials(&self, path: &Path, key: &str) -> Result<Credentials> {
        let present = |v: &Option<String>| v.as_ref().filter(|v| !v.is_empty()).cloned();
        let (mut username, mut password) = (present(&self.username), present(&self.password));
        if let Some(auth) = present(&self.auth) {
            let invalid = |what: &str| Error::invalid_input(format!("{}: auths entry {key:?}: {what}", path.display()));
            let engine = GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
            );
            let decoded = engine.decode(auth.trim()).map_err(|_| invalid("`auth` is not valid base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid("`auth` is not UTF-8 once decoded"))?;
            let Some((user, pass)) = decoded.split_once(':') else {
                return Err(invalid("`auth` is not base64 of \"username:password\""));
            };
            (username, password) = (Some(user.to_string()), Some(pass.to_string()));
        }
        if let Some(token) = present(&self.registrytoken) {
            return Ok(Credentials::Bearer(Secret::new(token)));
        }
        if let Some(token) = present(&self.identitytoken) {
            return Ok(Credentials::IdentityToken {
                username: username.unwrap_or_default(),
                token: Secret::new(token),
            });
        }
        Ok(match (username, password) {
            (None, None) => Credentials::Anonymous,
            (username, password) => Credentials::Basic {
                username: username.unwrap_or_default(),
                password: Secret::new(password.unwrap_or_default()),
            },
        })
    }
}

/// Read and parse `path`: `None` when it does not exist.
pub(super) fn read_config(path: &Path) -> Result<Option<ConfigFile>> {
    let unreadable =
        |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot read credentials file {}: {e}", path.display()));
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(None)
        }
        Err(e) => return Err(unreadable(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Error::invalid_input(format!(
            "credentials file {} is larger than {MAX_FILE_SIZE} bytes",
            path.display()
        )));
    }
    parse_config(&bytes).map(Some).map_err(|e| {
        Error::invalid_input(format!("credentials file {} is not valid: {}", path.display(), describe(&e)))
    })
}

pub(super) fn parse_config(bytes: &[u8]) -> std::result::Result<ConfigFile, serde_json::Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // docker treats an empty file as an empty configuration.
        return Ok(ConfigFile::default());
    }
    serde_json::from_slice(bytes)
}
