//! Credentials from where users keep them: docker's `config.json` (with credential helpers) and podman's
//! `auth.json`; and [`CredentialStore`], which writes and erases them in docker's `config.json` as `docker login`
//! and `docker logout` do.
//!
//! A [`Keychain`] reads a list of files in order ([`Keychain::from_env`] finds the ones docker and podman use).
//! In each file it looks for the registry the way `docker` does:
//!
//! 1. `credHelpers[host]`: run `docker-credential-<name> get`;
//! 2. else `credsStore`: run `docker-credential-<name> get`;
//! 3. the `auths` entry for the host (also when the helper of 1 or 2 answers "credentials not found": with
//!    `credsStore` the entry is often an empty placeholder, which means anonymous).
//!
//! The first file with an answer wins (a helper with nothing for the host and no `auths` entry is no answer); when
//! no file has one the result is [`Credentials::Anonymous`]. Helpers are asked for `https://index.docker.io/v1/`
//! for Docker Hub (as docker does), otherwise for the registry's `host[:port]`; a helper is
//! `docker-credential-<name>` in [`Keychain::helper_dirs`] or `PATH`, and `<name>` must be a plain name (letters,
//! digits, `-`, `_`, `.`; no path), so a config file cannot run an arbitrary program. An `auths`
//! entry is found by its host: `https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io` and
//! `docker.io` all mean Docker Hub, and a scheme or a path (`https://reg.example.com/v2/`, `http://localhost:5000`,
//! podman's `quay.io/namespace`) is ignored, so entries are per registry host, never per repository.
//!
//! Entries map to [`Credentials`]: `registrytoken` to [`Credentials::Bearer`], `identitytoken` to
//! [`Credentials::IdentityToken`], `auth` (base64 `user:password`) or `username`/`password` to
//! [`Credentials::Basic`], an empty entry to [`Credentials::Anonymous`].
//!
//! # Errors
//! Missing files are skipped. Otherwise failures are errors, and none of them ever carries a secret:
//! - a file that cannot be read: [`ErrorKind::Io`](crate::ErrorKind::Io), naming the file;
//! - a malformed file (bad JSON, bad base64 in `auth`, an invalid helper name): [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput),
//!   naming the file and where in it, never its content;
//! - a credential helper that is missing, fails, times out ([`Keychain::helper_timeout`]) or answers something
//!   that is not credentials: [`ErrorKind::Unauthorized`](crate::ErrorKind::Unauthorized) (the credentials could not be had), naming the helper.
//!   Its standard output is never quoted (it may hold the secret); its standard error is, trimmed to 200
//!   characters.

mod files;
mod helpers;
mod matching;
mod store;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;
mod write;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use files::{read_config, ConfigFile};
use helpers::run_helper;
pub use helpers::DEFAULT_HELPER_TIMEOUT;
pub use matching::DOCKER_HUB_SERVER_URL;
use matching::{find, helper_for, server_url};
use store::docker_config_file;
pub use store::{CredentialStore, Erased, StoredIn};

use super::credentials::Credentials;
use crate::error::Result;
use crate::reference::Registry;

/// Resolves credentials for a registry host the way docker and podman do; see the [module docs](self).
///
/// ```no_run
/// # async fn f() -> registry_core::Result<()> {
/// use registry_core::{auth::Keychain, Registry};
/// let keychain = Keychain::from_env();
/// let credentials = keychain.resolve(&Registry::parse("registry.example.com").unwrap()).await?;
/// # Ok(()) }
/// ```
///
/// It holds only paths and settings, so its `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keychain {
    files: Vec<PathBuf>,
    helper_dirs: Option<Vec<PathBuf>>,
    helper_timeout: Duration,
}

impl Keychain {
    /// The files docker and podman read, found from the environment: see [`Keychain::env_files`].
    pub fn from_env() -> Keychain {
        Keychain::from_files(Keychain::env_files(|name| std::env::var_os(name)))
    }

    /// The files docker and podman read, in the order they are searched, given a way to look up an environment
    /// variable (unset and empty variables count as unset):
    ///
    /// 1. `$DOCKER_CONFIG/config.json`, or `$HOME/.docker/config.json` when `DOCKER_CONFIG` is unset;
    /// 2. `$REGISTRY_AUTH_FILE` (podman);
    /// 3. `$XDG_RUNTIME_DIR/containers/auth.json` (podman's default);
    /// 4. `$XDG_CONFIG_HOME/containers/auth.json`, or `$HOME/.config/containers/auth.json` (podman's fallback).
    ///
    /// A path listed twice is kept once, at its first place.
    ///
    /// ```
    /// use registry_core::auth::Keychain;
    /// use std::path::PathBuf;
    /// let files = Keychain::env_files(|name| (name == "HOME").then(|| "/home/u".into()));
    /// assert_eq!(files[0], PathBuf::from("/home/u/.docker/config.json"));
    /// ```
    pub fn env_files(env: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let mut files: Vec<PathBuf> = docker_config_file(&env).into_iter().collect();
        files.extend(var("REGISTRY_AUTH_FILE"));
        files.extend(var("XDG_RUNTIME_DIR").map(|dir| dir.join("containers").join("auth.json")));
        match (var("XDG_CONFIG_HOME"), &home) {
            (Some(dir), _) => files.push(dir.join("containers").join("auth.json")),
            (None, Some(home)) => files.push(home.join(".config").join("containers").join("auth.json")),
            (None, None) => {}
        }
        let mut unique: Vec<PathBuf> = Vec::with_capacity(files.len());
        for file in files {
            if !unique.contains(&file) {
                unique.push(file);
            }
        }
        unique
    }

    /// A keychain reading exactly `files`, in order.
    pub fn from_files(files: impl IntoIterator<Item = PathBuf>) -> Keychain {
        Keychain { files: files.into_iter().collect(), helper_dirs: None, helper_timeout: DEFAULT_HELPER_TIMEOUT }
    }

    /// Look for `docker-credential-<name>` only in `dirs` instead of `PATH`.
    #[must_use]
    pub fn helper_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Keychain {
        self.helper_dirs = Some(dirs.into_iter().collect());
        self
    }

    /// How long a credential helper may run (default 30 s); it is killed after that.
    #[must_use]
    pub fn helper_timeout(mut self, timeout: Duration) -> Keychain {
        self.helper_timeout = timeout;
        self
    }

    /// The files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The credentials for `registry`: [`Credentials::Anonymous`] when no file has any. See the
    /// [module docs](self) for the search order and the errors.
    pub async fn resolve(&self, registry: &Registry) -> Result<Credentials> {
        for path in &self.files {
            let Some(config) = read_config(path)? else { continue };
            if let Some(credentials) = self.lookup(path, &config, registry).await? {
                return Ok(credentials);
            }
        }
        Ok(Credentials::Anonymous)
    }

    /// The answer of one file, `None` when it has nothing for `registry`.
    async fn lookup(&self, path: &Path, config: &ConfigFile, registry: &Registry) -> Result<Option<Credentials>> {
        if let Some(name) = helper_for(path, config, registry)? {
            if let Some(credentials) =
                run_helper(name, server_url(registry), self.helper_dirs.as_deref(), self.helper_timeout).await?
            {
                return Ok(Some(credentials));
            }
        }
        match find(&config.auths, registry) {
            Some((key, entry)) => entry.credentials(path, key).map(Some),
            None => Ok(None),
        }
    }
}
