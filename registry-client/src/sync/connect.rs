//! From a spec's hosts and layout directories to [`Client`]s, one per host (so its capabilities, token cache, rate
//! limit and transfer limits are shared by every image of a run).

use std::collections::BTreeMap;
use std::sync::Arc;

use registry_core::auth::Keychain;
use registry_core::{Error, Result};

use super::endpoint::Location;
use super::spec::{RegistrySettings, SyncSpec};
use crate::client::Client;
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
    /// Transfer limits and progress of every client (shared per host).
    pub transfer: TransferOptions,
}

/// Makes and caches the clients of a run: a [`RemoteClient`](crate::RemoteClient) per registry host, built from
/// the spec's [`RegistrySettings`] and the [`ConnectOptions`], and a [`LayoutClient`](crate::LayoutClient) per
/// layout directory. Tests put in their own clients per host with [`Connector::with_client`].
#[derive(Debug)]
pub struct Connector {
    registries: BTreeMap<String, RegistrySettings>,
    options: ConnectOptions,
    given: BTreeMap<String, Arc<dyn Client>>,
}

impl Connector {
    /// A connector for `spec`'s registries.
    pub fn new(spec: &SyncSpec, options: ConnectOptions) -> Connector {
        Connector { registries: spec.registries.clone(), options, given: BTreeMap::new() }
    }

    /// Use `client` (scoped to the registry root) for `host` instead of building one.
    #[must_use]
    pub fn with_client(mut self, host: impl Into<String>, client: Arc<dyn Client>) -> Connector {
        self.given.insert(host.into(), client);
        self
    }

    /// The client of `location`'s repository. Errors: `InvalidInput` for settings that do not build a client (an
    /// unreadable CA or password file, an unset password variable), naming the host; a layout directory that
    /// cannot be opened.
    pub async fn client(&self, location: &Location) -> Result<Arc<dyn Client>> {
        let _ = (location, &self.registries, &self.options, &self.given);
        Err(Error::unsupported("sync connector: not built yet"))
    }
}
