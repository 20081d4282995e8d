//! From a spec's hosts and layout directories to [`Client`]s, one per host (so its capabilities, token cache, rate
//! limit and transfer limits are shared by every image of a run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use registry_core::api::UploadJournal;
use registry_core::auth::Keychain;
use registry_core::{Digest, Error, ErrorKind, Repository, Result};
use url::Url;

mod check;

pub(crate) use check::check_settings;

use super::endpoint::Location;
use super::spec::{RegistrySettings, SyncSpec};
use crate::client::Client;
use crate::image::layout::client::LayoutClient;
use crate::remote::RemoteClient;
use crate::transfer::TransferOptions;

/// Settings for every registry of a run, beside the spec's per-host ones.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Every registry is plain HTTP (`regcli --insecure`).
    pub insecure: bool,
    /// Skip TLS verification everywhere (`regcli --tls-skip-verify`).
    pub tls_skip_verify: bool,
    /// Credentials for hosts the spec gives none for (default: docker `config.json` and credential helpers).
    pub keychain: Option<Keychain>,
    /// Transfer limits and progress of every client (shared per host). Left at its defaults, sync's clients
    /// take [`SYNC_MAX_CONCURRENT_BLOBS`] blobs at once per host (the images of a run share them; bytes stay
    /// bounded by [`TransferOptions::max_bytes_in_flight`]); set with [`ConnectOptions::transfer`] (or a
    /// `max_concurrent_blobs` of its own) it is taken as it is.
    pub transfer: TransferOptions,
    /// Whether [`ConnectOptions::transfer`] (the method) set `transfer`.
    transfer_given: bool,
}

/// Blobs checked or uploaded at once per host by sync's clients unless the options say otherwise: the images of
/// a run (8 by default) share them, so the library's default of 4 would leave most images waiting.
pub const SYNC_MAX_CONCURRENT_BLOBS: usize = 16;

impl ConnectOptions {
    /// The defaults: TLS verified, credentials from docker `config.json` and credential helpers, default transfer
    /// limits.
    #[must_use]
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// Every registry is plain HTTP (see [`ConnectOptions::insecure`](#structfield.insecure)).
    #[must_use]
    pub fn insecure(mut self, on: bool) -> ConnectOptions {
        self.insecure = on;
        self
    }

    /// Skip TLS verification everywhere.
    #[must_use]
    pub fn tls_skip_verify(mut self, on: bool) -> ConnectOptions {
        self.tls_skip_verify = on;
        self
    }

    /// Credentials for hosts the spec gives none for.
    #[must_use]
    pub fn keychain(mut self, keychain: Keychain) -> ConnectOptions {
        self.keychain = Some(keychain);
        self
    }

    /// Transfer limits and progress of every client.
    #[must_use]
    pub fn transfer(mut self, transfer: TransferOptions) -> ConnectOptions {
        self.transfer = transfer;
        self.transfer_given = true;
        self
    }

    /// The transfer options sync's clients use: `transfer` as given, or with [`SYNC_MAX_CONCURRENT_BLOBS`] when
    /// it was left at the library's default.
    fn effective_transfer(&self) -> TransferOptions {
        let default = TransferOptions::default().get_max_concurrent_blobs();
        if self.transfer_given || self.transfer.get_max_concurrent_blobs() != default {
            self.transfer.clone()
        } else {
            self.transfer.clone().max_concurrent_blobs(SYNC_MAX_CONCURRENT_BLOBS)
        }
    }
}

/// Makes and caches the clients of a run: a [`RemoteClient`] per registry host, built from the spec's
/// [`RegistrySettings`] (insecure, TLS, CA file, `username` with the password from `password_file` or
/// `password_env`, else the keychain; `rate` as [`rate_limit`](crate::RemoteClientBuilder::rate_limit)) and the
/// [`ConnectOptions`], every one recording its open upload sessions in the run's journal; and a [`LayoutClient`]
/// per layout directory. Tests put in their
/// own clients per host with [`Connector::with_client`].
#[derive(Debug)]
pub struct Connector {
    registries: BTreeMap<String, RegistrySettings>,
    options: ConnectOptions,
    given: BTreeMap<String, Arc<dyn Client>>,
    /// Registry root clients built so far, by host.
    remotes: Mutex<BTreeMap<String, Arc<dyn Client>>>,
    /// Layout root clients opened so far, by directory as given.
    layouts: Mutex<BTreeMap<PathBuf, Arc<dyn Client>>>,
    /// Where the clients built here record open upload sessions (the run's journal, once it is open).
    uploads: Arc<UploadSlot>,
}

/// The journal the run puts in, handed to every client built (before or after it is put in).
#[derive(Debug, Default)]
struct UploadSlot(Mutex<Option<Arc<dyn UploadJournal>>>);

impl UploadSlot {
    fn get(&self) -> Option<Arc<dyn UploadJournal>> {
        lock(&self.0).clone()
    }
}

impl UploadJournal for UploadSlot {
    fn record(&self, repository: &Repository, digest: &Digest, location: &Url, offset: u64) {
        if let Some(j) = self.get() {
            j.record(repository, digest, location, offset);
        }
    }

    fn forget(&self, repository: &Repository, digest: &Digest) {
        if let Some(j) = self.get() {
            j.forget(repository, digest);
        }
    }

    fn recorded(&self, repository: &Repository, digest: &Digest) -> Option<Url> {
        self.get().and_then(|j| j.recorded(repository, digest))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connector {
    /// A connector for `spec`'s registries.
    pub fn new(spec: &SyncSpec, options: ConnectOptions) -> Connector {
        Connector {
            registries: spec.registries.clone(),
            options,
            given: BTreeMap::new(),
            remotes: Mutex::new(BTreeMap::new()),
            layouts: Mutex::new(BTreeMap::new()),
            uploads: Arc::new(UploadSlot::default()),
        }
    }

    /// Use `client` (scoped to the registry root) for `host` instead of building one.
    #[must_use]
    pub fn with_client(mut self, host: impl Into<String>, client: Arc<dyn Client>) -> Connector {
        self.given.insert(host.into(), client);
        self
    }

    /// Record the open upload sessions of every registry client (built by this connector) in `journal`.
    pub(crate) fn use_upload_journal(&self, journal: Arc<dyn UploadJournal>) {
        *lock(&self.uploads.0) = Some(journal);
    }

    /// The client of `location`'s repository; a layout directory is created when missing (a target). Errors:
    /// `InvalidInput` for settings that do not build a client (an unreadable CA or password file, an unset
    /// password variable), naming the host; a layout directory that cannot be opened (`InvalidInput` when it is a
    /// file, `Io` naming it otherwise).
    pub async fn client(&self, location: &Location) -> Result<Arc<dyn Client>> {
        match location {
            Location::Registry { host, repository } => Ok(scope(self.registry(host)?, repository)),
            Location::Layout { dir, repository } => Ok(scope(self.layout(dir).await?, repository)),
        }
    }

    /// The client of `location`'s repository when it may hold something: `None` for a layout directory that does
    /// not exist (nothing is created; what it would hold is absent). Errors: those of [`Connector::client`].
    pub async fn existing(&self, location: &Location) -> Result<Option<Arc<dyn Client>>> {
        if let Location::Layout { dir, .. } = location {
            let known = lock(&self.layouts).contains_key(dir);
            if !known && !tokio::fs::try_exists(dir).await.unwrap_or(false) {
                return Ok(None);
            }
        }
        self.client(location).await.map(Some)
    }

    /// The root client of `host`: given, cached, or built now.
    fn registry(&self, host: &str) -> Result<Arc<dyn Client>> {
        if let Some(c) = self.given.get(host) {
            return Ok(c.clone());
        }
        let mut remotes = lock(&self.remotes);
        if let Some(c) = remotes.get(host) {
            return Ok(c.clone());
        }
        let client: Arc<dyn Client> = Arc::new(self.build(host)?);
        remotes.insert(host.to_string(), client.clone());
        Ok(client)
    }

    /// A [`RemoteClient`] of `host` from its settings and the options.
    fn build(&self, host: &str) -> Result<RemoteClient> {
        let default = RegistrySettings::default();
        let s = self.registries.get(host).unwrap_or(&default);
        let o = &self.options;
        let mut b = RemoteClient::builder(host)
            .insecure(o.insecure || s.insecure)
            .tls_skip_verify(o.tls_skip_verify || s.tls_skip_verify)
            .transfer(o.effective_transfer())
            .upload_journal(self.uploads.clone());
        if let Some(rate) = s.rate {
            b = b.rate_limit(rate);
        }
        if let Some(ca) = &s.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| Error::invalid_input(format!("registry {host}: ca {}: {e}", ca.display())))?;
            b = b.root_certificate_pem(pem);
        }
        if let Some(user) = &s.username {
            b = b.basic_auth(user.clone(), password(host, s)?);
        } else if let Some(k) = &o.keychain {
            b = b.keychain(k.clone());
        } else {
            b = b.default_keychain();
        }
        b.build().map_err(|e| e.context(format!("registry {host}")))
    }

    /// The root client of the layout tree `dir`: cached, or opened now (created when missing).
    async fn layout(&self, dir: &Path) -> Result<Arc<dyn Client>> {
        if let Some(c) = lock(&self.layouts).get(dir) {
            return Ok(c.clone());
        }
        let opened: Arc<dyn Client> = Arc::new(
            LayoutClient::open_with(dir, self.options.effective_transfer())
                .await
                .map_err(|e| e.context(format!("layout {}", dir.display())))?,
        );
        Ok(lock(&self.layouts).entry(dir.to_path_buf()).or_insert(opened).clone())
    }
}

/// `root` scoped to `repository` (`""`: the root itself).
fn scope(root: Arc<dyn Client>, repository: &str) -> Arc<dyn Client> {
    if repository.is_empty() {
        root
    } else {
        root.with_segment(repository)
    }
}

/// The password of `host`'s settings, from `password_file` (trimmed) or `password_env`. `InvalidInput` naming the
/// host and the file or variable (never the password) when it cannot be read, is empty, or neither is given.
fn password(host: &str, s: &RegistrySettings) -> Result<String> {
    let secret = if let Some(file) = &s.password_file {
        // Never the path: a user may have put the password itself there.
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::invalid_input(format!("registries {host}: password_file cannot be read ({})", check::io_words(&e)))
        })?;
        text.trim().to_string()
    } else if let Some(var) = &s.password_env {
        std::env::var(var)
            .map_err(|_| Error::invalid_input(format!("registry {host}: password_env {var} is not set")))?
    } else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("registry {host}: username given without password_file or password_env"),
        ));
    };
    if secret.is_empty() {
        return Err(Error::invalid_input(format!("registry {host}: the password is empty")));
    }
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut RegistrySettings)) -> RegistrySettings {
        let mut s = RegistrySettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn the_password_comes_trimmed_from_its_file_and_errors_name_the_host_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  s3cret-value\n").unwrap();
        let s = settings(|s| {
            s.username = Some("u".into());
            s.password_file = Some(file.clone());
        });
        assert_eq!(password("reg.example", &s).unwrap(), "s3cret-value");

        let missing = settings(|s| {
            s.username = Some("u".into());
            s.password_file = Some(dir.path().join("absent"));
        });
        let e = password("reg.example", &missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("reg.example") && !e.to_string().contains("absent"), "{e}");

        let unset = settings(|s| {
            s.username = Some("u".into());
            s.password_env = Some("REGISTRY_SYNC_TEST_SURELY_UNSET".into());
        });
        let e = password("reg.example", &unset).unwrap_err();
        assert!(e.to_string().contains("REGISTRY_SYNC_TEST_SURELY_UNSET is not set"), "{e}");

        std::fs::write(&file, " \n").unwrap();
        let e = password("reg.example", &s).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[tokio::test]
    async fn clients_are_built_once_per_host_and_an_unreadable_ca_names_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret-value").unwrap();
        let mut registries = BTreeMap::new();
        registries.insert(
            "reg.example".to_string(),
            settings(|s| {
                s.username = Some("u".into());
                s.password_file = Some(file.clone());
            }),
        );
        registries.insert("bad.example".to_string(), settings(|s| s.ca = Some(dir.path().join("no-ca.pem"))));
        let spec = SyncSpec { registries, entries: Vec::new() };
        let connector = Connector::new(&spec, ConnectOptions::default());
        let at = |host: &str, repo: &str| Location::Registry { host: host.into(), repository: repo.into() };
        let one = connector.client(&at("reg.example", "org/a")).await.unwrap();
        let two = connector.client(&at("reg.example", "org/b")).await.unwrap();
        assert_eq!(one.get_registry(), "reg.example/org/a");
        assert_eq!(two.get_registry(), "reg.example/org/b");
        assert_eq!(lock(&connector.remotes).len(), 1, "one client per host");
        assert!(!format!("{connector:?}{one:?}").contains("s3cret-value"), "a password in Debug");
        let e = connector.client(&at("bad.example", "x")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("bad.example") && e.to_string().contains("no-ca.pem"), "{e}");
    }

    #[test]
    fn sync_clients_take_more_blobs_at_once_unless_the_transfer_options_are_given() {
        assert_eq!(
            ConnectOptions::default().effective_transfer().get_max_concurrent_blobs(),
            SYNC_MAX_CONCURRENT_BLOBS
        );
        let given = ConnectOptions::default().transfer(TransferOptions::new());
        assert_eq!(
            given.effective_transfer().get_max_concurrent_blobs(),
            TransferOptions::new().get_max_concurrent_blobs()
        );
        let field =
            ConnectOptions { transfer: TransferOptions::new().max_concurrent_blobs(2), ..ConnectOptions::default() };
        assert_eq!(field.effective_transfer().get_max_concurrent_blobs(), 2);
    }

    #[tokio::test]
    async fn a_missing_layout_is_absent_without_being_created() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SyncSpec { registries: BTreeMap::new(), entries: Vec::new() };
        let connector = Connector::new(&spec, ConnectOptions::default());
        let at = Location::Layout { dir: dir.path().join("later"), repository: "org/app".into() };
        assert!(connector.existing(&at).await.unwrap().is_none());
        assert!(!dir.path().join("later").exists());
        connector.client(&at).await.unwrap();
        assert!(dir.path().join("later").is_dir(), "a target layout is created");
        assert!(connector.existing(&at).await.unwrap().is_some());
    }
}
