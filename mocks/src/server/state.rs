//! The state every connection of a server shares: the store, authentication, faults, the choices the OCI spec
//! leaves to a registry, and what the server has seen (requests, panics).

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use registry_core::Repository;

use super::auth::Auth;
use super::faults::Faults;
use super::reply::ApiError;
use super::routes::parse_name;
use crate::store::Store;

/// The state every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `host:port`, the registry part of every repository name.
    pub(crate) host: String,
    store: RwLock<Store>,
    pub(crate) auth: Auth,
    pub(crate) faults: Faults,
    /// Choices the OCI spec leaves to a registry.
    pub(crate) behaviour: Behaviour,
    pub(crate) requests: AtomicUsize,
    /// Every request seen, as `METHOD path?query`, in order.
    pub(crate) request_log: Mutex<Vec<String>>,
    /// Messages of handler panics, reported when the server is dropped.
    pub(crate) panics: Mutex<Vec<String>>,
}

impl Shared {
    /// State for a server at `host`.
    pub(crate) fn new(host: String, auth: Auth) -> Shared {
        Shared {
            host,
            store: RwLock::default(),
            auth,
            faults: Faults::default(),
            behaviour: Behaviour::default(),
            requests: AtomicUsize::new(0),
            request_log: Mutex::new(Vec::new()),
            panics: Mutex::new(Vec::new()),
        }
    }

    /// Read the store (a panic elsewhere is reported at drop; the data is still usable).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the store.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The repository `name` of this server; 400 `NAME_INVALID` when `name` breaks the grammar.
    pub(crate) fn repository(&self, name: &str) -> Result<Repository, ApiError> {
        parse_name(&self.host, name)
    }

    /// Record a panic of `what` with its payload.
    pub(crate) fn record_panic(&self, what: &str, payload: &(dyn Any + Send)) {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        self.record_panic_message(format!("{what}: {msg}"));
    }

    /// Record a panic described by `msg`.
    pub(crate) fn record_panic_message(&self, msg: String) {
        self.panics.lock().unwrap_or_else(PoisonError::into_inner).push(msg);
    }

    /// The panics recorded so far.
    pub(crate) fn panics(&self) -> Vec<String> {
        self.panics.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Where the OCI distribution spec lets a registry choose, what this one does: by default everything a spec
/// registry may offer; `RegistryServer::like_docker_registry` turns it into what docker-registry 2.8.2 offers.
#[derive(Debug)]
pub(crate) struct Behaviour {
    tag_deletes: AtomicBool,
    referrers_api: AtomicBool,
    referrers_filtering: AtomicBool,
    /// At most this many referrers per page, with a `Link` to the next (0: one page).
    referrers_page: AtomicUsize,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            tag_deletes: AtomicBool::new(true),
            referrers_api: AtomicBool::new(true),
            referrers_filtering: AtomicBool::new(true),
            referrers_page: AtomicUsize::new(0),
        }
    }
}

impl Behaviour {
    /// Whether `DELETE /v2/<name>/manifests/<tag>` deletes the tag (else 405 UNSUPPORTED).
    pub(crate) fn tag_deletes(&self) -> bool {
        self.tag_deletes.load(Ordering::SeqCst)
    }

    /// Whether the referrers API is served (else 404, and no `OCI-Subject` on manifest PUT).
    pub(crate) fn referrers_api(&self) -> bool {
        self.referrers_api.load(Ordering::SeqCst)
    }

    /// Whether the referrers API applies `artifactType` (and says so with `OCI-Filters-Applied`).
    pub(crate) fn referrers_filtering(&self) -> bool {
        self.referrers_filtering.load(Ordering::SeqCst)
    }

    /// The referrers page size, if pages are limited.
    pub(crate) fn referrers_page(&self) -> Option<usize> {
        Some(self.referrers_page.load(Ordering::SeqCst)).filter(|n| *n > 0)
    }

    /// Set whether DELETE by tag deletes the tag.
    pub(crate) fn set_tag_deletes(&self, allowed: bool) {
        self.tag_deletes.store(allowed, Ordering::SeqCst);
    }

    /// Set whether the referrers API is served.
    pub(crate) fn set_referrers_api(&self, enabled: bool) {
        self.referrers_api.store(enabled, Ordering::SeqCst);
    }

    /// Set whether the referrers API applies `artifactType`.
    pub(crate) fn set_referrers_filtering(&self, enabled: bool) {
        self.referrers_filtering.store(enabled, Ordering::SeqCst);
    }

    /// Set the referrers page size (`None`: one page).
    pub(crate) fn set_referrers_page(&self, n: Option<usize>) {
        self.referrers_page.store(n.unwrap_or(0), Ordering::SeqCst);
    }
}
