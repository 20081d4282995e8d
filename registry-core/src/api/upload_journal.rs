//! Where a chunked upload records its session, so another process can resume it after this one was killed.

use std::fmt;

use url::Url;

use crate::digest::Digest;
use crate::reference::Repository;

/// A record of open upload sessions, kept outside the process (the sync engine's `--journal`).
///
/// A chunked upload calls [`record`](UploadJournal::record) each time its session's location changes (when it opens
/// and after each chunk the registry confirmed: docker-registry's location carries state that changes with every
/// chunk) and [`forget`](UploadJournal::forget) once the blob is committed or the session is abandoned. Before it
/// opens a new session for a blob, an upload asks [`recorded`](UploadJournal::recorded): a location found there is
/// asked how far it got (`GET <location>`, `Range: 0-<end>`) and continued from that offset; a session the registry
/// no longer knows (404) is forgotten and a new one opened.
pub trait UploadJournal: Send + Sync + fmt::Debug {
    /// The upload of `digest` into `repository` is open at `location` and has `offset` bytes confirmed.
    fn record(&self, repository: &Repository, digest: &Digest, location: &Url, offset: u64);
    /// The upload of `digest` into `repository` is over (committed or abandoned).
    fn forget(&self, repository: &Repository, digest: &Digest);
    /// The location recorded for `digest` into `repository`, if any.
    fn recorded(&self, repository: &Repository, digest: &Digest) -> Option<Url>;
}
