//! [`CredentialStore`]: writing and erasing credentials the way `docker login` and `docker logout` do.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::files::{describe, parse_config, ConfigFile, MAX_FILE_SIZE};
use super::helpers::{call_helper, helper_failed, says_not_found, DEFAULT_HELPER_TIMEOUT};
use super::matching::{helper_for, key_host, server_url};
use super::write::{follow_symlinks, write_atomically};
use crate::auth::credentials::Secret;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;

/// Where [`CredentialStore::store`] put the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredIn {
    /// In the config file itself (`auths[host].auth`, base64 of `username:password`); the path is the file
    /// written (a symlinked `config.json` followed to its target).
    File(PathBuf),
    /// In credential helper `docker-credential-<name>` (the name is given), with an empty `auths[host]`
    /// placeholder in the file.
    Helper(String),
}

/// What [`CredentialStore::erase`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Erased {
    /// The `auths` keys removed from the file (every key naming the registry's host).
    pub keys: Vec<String>,
    /// The credential helper asked to erase (`credHelpers[host]`, else `credsStore`), if one is configured.
    pub helper: Option<String>,
    /// Whether that helper had credentials for the registry (it did not answer "credentials not found").
    pub helper_had_credentials: bool,
}

impl Erased {
    /// Whether anything was stored for the registry: an `auths` entry or the helper's credentials. When not,
    /// `docker logout` says `Not logged in to HOST` and succeeds; so may a caller.
    pub fn was_logged_in(&self) -> bool {
        !self.keys.is_empty() || self.helper_had_credentials
    }
}

/// Writes and erases credentials in docker's `config.json`, as `docker login` / `docker logout` do (docker/cli's
/// `configfile` and credentials `native_store` behaviour):
///
/// - the file is `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json` ([`CredentialStore::from_env`]);
///   podman's files are read by a [`Keychain`](super::Keychain) but never written here;
/// - every other key and entry of the file is kept (the file is read as a JSON object and only `auths` entries of
///   the registry change; keys come out sorted, tab-indented as docker writes them); the write is atomic (a
///   temporary file in the same directory, synced, renamed over the old one); a new file is 0600, an existing one
///   keeps its mode; a symlinked `config.json` is followed to its target; a missing directory is created 0700;
/// - with `credHelpers[host]`, else `credsStore`, the secret goes to `docker-credential-<name> store` (stdin:
///   `{"ServerURL":..,"Username":..,"Secret":..}`) and the file gets an empty placeholder `auths[host] = {}`;
///   otherwise `auths[host] = {"auth": base64("username:password")}`. The key (and the helper's `ServerURL`) is
///   `https://index.docker.io/v1/` for Docker Hub, else the registry's `host[:port]`.
///
/// # Errors
/// None carries the secret or a helper's standard output:
/// - [`ErrorKind::InvalidInput`]: the existing file is not valid (bad JSON, not an object, `auths` not an object
///   of entries, an invalid helper name, larger than 4 MiB), naming the file and the line and column; the file is
///   left untouched; or an empty username;
/// - [`ErrorKind::Io`]: the file or its directory cannot be read or written, naming the file;
/// - [`ErrorKind::Unauthorized`]: the credential helper is missing, fails or times out (the file is then left
///   untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialStore {
    file: PathBuf,
    helper_dirs: Option<Vec<PathBuf>>,
    helper_timeout: Duration,
}

/// docker's config file given a way to look up an environment variable (unset and empty count as unset):
/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`, else `None`.
pub(super) fn docker_config_file(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    match (var("DOCKER_CONFIG"), var("HOME")) {
        (Some(dir), _) => Some(dir.join("config.json")),
        (None, Some(home)) => Some(home.join(".docker").join("config.json")),
        (None, None) => None,
    }
}

impl CredentialStore {
    /// The store over docker's file found from the environment: `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`. `InvalidInput` when neither variable is set.
    pub fn from_env() -> Result<CredentialStore> {
        CredentialStore::from_env_with(|name| std::env::var_os(name))
    }

    /// [`CredentialStore::from_env`] with a way to look up an environment variable (unset and empty variables
    /// count as unset).
    ///
    /// ```
    /// use registry_core::auth::CredentialStore;
    /// let store = CredentialStore::from_env_with(|name| (name == "HOME").then(|| "/home/u".into())).unwrap();
    /// assert_eq!(store.file(), std::path::Path::new("/home/u/.docker/config.json"));
    /// ```
    pub fn from_env_with(env: impl Fn(&str) -> Option<OsString>) -> Result<CredentialStore> {
        docker_config_file(env).map(CredentialStore::new).ok_or_else(|| {
            Error::invalid_input("neither DOCKER_CONFIG nor HOME is set: no docker config file to write")
        })
    }

    /// The store over `file` (a docker `config.json`, which need not exist yet).
    pub fn new(file: impl Into<PathBuf>) -> CredentialStore {
        CredentialStore { file: file.into(), helper_dirs: None, helper_timeout: DEFAULT_HELPER_TIMEOUT }
    }

    /// Look for `docker-credential-<name>` only in `dirs` instead of `PATH`.
    #[must_use]
    pub fn helper_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> CredentialStore {
        self.helper_dirs = Some(dirs.into_iter().collect());
        self
    }

    /// How long a credential helper may run (default 30 s); it is killed after that.
    #[must_use]
    pub fn helper_timeout(mut self, timeout: Duration) -> CredentialStore {
        self.helper_timeout = timeout;
        self
    }

    /// The config file, as given (before following symlinks).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Store `username` / `password` for `registry` (see the [type docs](CredentialStore) for where and the
    /// errors). The secret reaches the helper first, then the file is written: a failing helper leaves the file
    /// as it was.
    pub async fn store(&self, registry: &Registry, username: &str, password: &Secret) -> Result<StoredIn> {
        if username.is_empty() {
            return Err(Error::invalid_input("the username is empty"));
        }
        let path = follow_symlinks(&self.file)?;
        let (mut object, config) = load(&path)?;
        let key = server_url(registry);
        let (entry, stored) = match helper_for(&path, &config, registry)? {
            Some(name) => {
                let input = serde_json::json!({"ServerURL": key, "Username": username, "Secret": password.expose()});
                let output = call_helper(
                    name,
                    "store",
                    input.to_string().as_bytes(),
                    key,
                    self.helper_dirs.as_deref(),
                    self.helper_timeout,
                )
                .await?;
                if !output.status.success() {
                    return Err(helper_failed(name, "store", key, &output));
                }
                (Map::new(), StoredIn::Helper(name.to_string()))
            }
            None => {
                let auth =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
                let mut entry = Map::new();
                entry.insert("auth".to_string(), Value::String(auth));
                (entry, StoredIn::File(path.clone()))
            }
        };
        let auths = object.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            // `"auths": null`, which docker reads as no entries.
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(auths) = auths {
            auths.insert(key.to_string(), Value::Object(entry));
        }
        write_atomically(&path, &serialize(&object)?)?;
        Ok(stored)
    }

    /// Erase what is stored for `registry`: the helper's credentials (`docker-credential-<name> erase`; an answer
    /// of "credentials not found" is no error), then every `auths` key naming the registry's host (also
    /// `http://host`, `https://host/v2/`..., which a [`Keychain`](super::Keychain) would still read). The file is
    /// rewritten only when a key was removed. See [`Erased::was_logged_in`] for "nothing was stored" and the
    /// [type docs](CredentialStore) for the errors; a failing helper leaves the file untouched.
    pub async fn erase(&self, registry: &Registry) -> Result<Erased> {
        let path = follow_symlinks(&self.file)?;
        let (mut object, config) = load(&path)?;
        let mut erased = Erased::default();
        if let Some(name) = helper_for(&path, &config, registry)? {
            let key = server_url(registry);
            let output =
                call_helper(name, "erase", key.as_bytes(), key, self.helper_dirs.as_deref(), self.helper_timeout)
                    .await?;
            erased.helper = Some(name.to_string());
            erased.helper_had_credentials = output.status.success();
            if !output.status.success() && !says_not_found(&output.stdout) && !says_not_found(&output.stderr) {
                return Err(helper_failed(name, "erase", key, &output));
            }
        }
        let host = registry.as_str().to_ascii_lowercase();
        if let Some(Value::Object(auths)) = object.get_mut("auths") {
            let keys: Vec<String> = auths
                .keys()
                .filter(|key| key.as_str() == server_url(registry) || key_host(key) == host)
                .cloned()
                .collect();
            for key in &keys {
                auths.remove(key);
            }
            erased.keys = keys;
        }
        if !erased.keys.is_empty() {
            write_atomically(&path, &serialize(&object)?)?;
        }
        Ok(erased)
    }
}

/// The file at `path` as a JSON object and as the keychain reads it; both empty when it does not exist. Errors
/// name the file and where, never its content.
fn load(path: &Path) -> Result<(Map<String, Value>, ConfigFile)> {
    let unreadable =
        |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot read credentials file {}: {e}", path.display()));
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Map::new(), ConfigFile::default())),
        Err(e) => return Err(unreadable(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    let invalid = |why: String| {
        Error::invalid_input(format!("credentials file {} is not valid: {why}; it was left unchanged", path.display()))
    };
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(invalid(format!("larger than {MAX_FILE_SIZE} bytes")));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // docker reads an empty file as an empty configuration.
        return Ok((Map::new(), ConfigFile::default()));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(describe(&e)))?;
    let Value::Object(object) = value else { return Err(invalid("not a JSON object".to_string())) };
    let config = parse_config(&bytes).map_err(|e| invalid(describe(&e)))?;
    Ok((object, config))
}

/// The file's bytes as docker writes them: tab-indented JSON.
fn serialize(object: &Map<String, Value>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    serde::Serialize::serialize(object, &mut serializer)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot encode the credentials file: {}", describe(&e))))?;
    Ok(bytes)
}
