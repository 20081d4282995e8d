//! [`RegistryApi`]: a cheap-to-clone handle on one registry, its transport and transfer settings. The endpoints
//! are its methods, one file per endpoint family.

use std::sync::Arc;

use super::transfer::TransferConfig;
use super::upload_journal::UploadJournal;
use crate::error::Result;
use crate::reference::Registry;
use crate::transport::send::Transport;
use crate::transport::TransportConfig;

/// The distribution endpoints of one registry.
#[derive(Debug, Clone)]
pub struct RegistryApi {
    pub(crate) transport: Arc<Transport>,
    /// Upload strategy, chunk size and recovery limits.
    pub(crate) transfer: TransferConfig,
    /// Where chunked uploads record their sessions, if anywhere.
    pub(crate) journal: Option<Arc<dyn UploadJournal>>,
}

impl RegistryApi {
    /// A handle on `registry` with `config`. Fails ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput))
    /// when the configuration cannot be honoured: a bad user agent, certificate, client identity, proxy or rate
    /// limit (not a finite number above 0, see [`TransportConfig::rate_limit`]).
    pub fn new(registry: Registry, config: TransportConfig) -> Result<RegistryApi> {
        Ok(RegistryApi::from_transport(Arc::new(Transport::new(registry, config)?)))
    }

    /// A handle over an existing transport.
    pub(crate) fn from_transport(transport: Arc<Transport>) -> RegistryApi {
        RegistryApi { transport, transfer: TransferConfig::default(), journal: None }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        self.transport.registry()
    }

    /// What has been learned of the registry so far (shared by every clone of this handle): see
    /// [`Capabilities`](crate::capabilities::Capabilities).
    pub fn capabilities(&self) -> &crate::capabilities::Capabilities {
        self.transport.capabilities()
    }
}

impl RegistryApi {
    /// The transfer settings.
    pub fn transfer_config(&self) -> &TransferConfig {
        &self.transfer
    }

    /// Replace the transfer settings; an invalid configuration is an error and changes nothing.
    pub fn set_transfer_config(&mut self, config: TransferConfig) -> Result<()> {
        config.validate()?;
        self.transfer = config;
        Ok(())
    }

    /// This handle with chunked uploads recording their sessions in `journal`, and resuming a session recorded
    /// there before opening a new one (see [`UploadJournal`] for the contract). Shared by this handle's clones.
    #[must_use]
    pub fn with_upload_journal(mut self, journal: Arc<dyn UploadJournal>) -> RegistryApi {
        self.journal = Some(journal);
        self
    }

    /// The journal chunked uploads record their sessions in, if any.
    pub fn upload_journal(&self) -> Option<&Arc<dyn UploadJournal>> {
        self.journal.as_ref()
    }

    /// This handle with other transfer settings; an invalid configuration is an error.
    pub fn with_transfer_config(mut self, config: TransferConfig) -> Result<RegistryApi> {
        self.set_transfer_config(config)?;
        Ok(self)
    }
}
