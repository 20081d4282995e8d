//! Upload sessions: the bytes received so far for a blob being pushed in parts, each session belonging to the
//! repository it was started in (its id is unknown to every other repository).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use registry_core::Repository;

use super::errors::StoreError;

/// One upload session.
#[derive(Debug)]
pub(crate) struct Upload {
    repository: Repository,
    data: BytesMut,
}

impl Upload {
    /// Bytes received so far.
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// Append a chunk.
    pub(crate) fn append(&mut self, chunk: &[u8]) {
        self.data.extend_from_slice(chunk);
    }

    /// Everything received.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.data.freeze()
    }
}

/// The open sessions of one registry, by id.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    sessions: HashMap<String, Upload>,
}

impl Uploads {
    /// Open session `id` in `repository`, empty.
    pub(crate) fn start(&mut self, repository: &Repository, id: String) {
        self.sessions.insert(id, Upload { repository: repository.clone(), data: BytesMut::new() });
    }

    /// Session `id` of `repository`; `UploadUnknown` when there is none (or it belongs to another repository).
    pub(crate) fn get_mut(&mut self, repository: &Repository, id: &str) -> Result<&mut Upload, StoreError> {
        self.sessions.get_mut(id).filter(|u| u.repository == *repository).ok_or_else(|| unknown(id))
    }

    /// The size of session `id` of `repository`.
    pub(crate) fn size(&self, repository: &Repository, id: &str) -> Result<usize, StoreError> {
        self.sessions.get(id).filter(|u| u.repository == *repository).map(Upload::len).ok_or_else(|| unknown(id))
    }

    /// End session `id` of `repository`, returning it.
    pub(crate) fn take(&mut self, repository: &Repository, id: &str) -> Result<Upload, StoreError> {
        match self.sessions.get(id) {
            Some(u) if u.repository == *repository => self.sessions.remove(id).ok_or_else(|| unknown(id)),
            _ => Err(unknown(id)),
        }
    }

    /// How many sessions are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }
}

fn unknown(id: &str) -> StoreError {
    StoreError::UploadUnknown { id: id.to_string() }
}
