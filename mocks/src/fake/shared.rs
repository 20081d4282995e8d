//! The state clones and children of a `FakeClient` share: a world of hosts, each a separate
//! registry with its own content, script and call log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::script::Script;
use crate::store::Store;

/// Every host of one fake world, by canonical registry name.
#[derive(Debug, Default)]
pub(crate) struct World {
    hosts: RwLock<HashMap<String, Arc<Host>>>,
}

impl World {
    /// The host named `name`, created empty on first use.
    pub(crate) fn host(&self, name: &str) -> Arc<Host> {
        if let Some(h) = self.hosts.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Arc::clone(h);
        }
        let mut hosts = self.hosts.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(hosts.entry(name.to_string()).or_default())
    }
}

/// One registry host: its content, and what its calls meet (failures, latency) and leave (the log).
///
/// Locks are never held across an `.await`; a panic while one was held (a failed assertion in a test) does not
/// make the fake unusable.
#[derive(Debug, Default)]
pub(crate) struct Host {
    store: RwLock<Store>,
    script: Mutex<Script>,
}

impl Host {
    /// Read the content.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the content.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The script and log.
    pub(crate) fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
