//! Where a chunked upload records its session, so another process can resume it after this one was killed.

use std::fmt;

use url::Url;

use crate::digest::Digest;
use crate::reference::Repository;

/// A record of open upload sessions, kept outside the process (the sync engine's `--journal`), set on a handle with
/// [`RegistryApi::with_upload_journal`](crate::api::RegistryApi::with_upload_journal).
///
/// A chunked upload calls [`record`](UploadJournal::record) each time its session's location changes (when it opens
/// and after each chunk the registry confirmed: docker-registry's location carries state that changes with every
/// chunk) and [`forget`](UploadJournal::forget) once the blob is committed or the session cancelled. A push cut
/// short (the process killed, the future dropped, the source failing part way) leaves its last record in place.
/// Before it opens a new session for a blob, an upload asks [`recorded`](UploadJournal::recorded): a location found
/// there (on the handle's own registry: another host, port or scheme is ignored) is asked how far it got
/// (`GET <location>`, `Range: 0-<end>`) and continued from that offset, the source opened there, so only the rest
/// is read and sent; the registry then checks the digest when the upload closes. A session the registry no longer
/// knows (404, `BLOB_UPLOAD_INVALID`, any other failure) is forgotten and a new one opened. One-request uploads
/// (blobs up to the monolithic threshold) record nothing.
///
/// The location's query string may carry the registry's state: an implementation keeps it exactly (it is needed
/// to resume) and never logs it. The calls are synchronous and made from async code: keep them short (append to a
/// file, update a map); a failure to write is the implementation's to report, the upload goes on without it.
pub trait UploadJournal: Send + Sync + fmt::Debug {
    /// The upload of `digest` into `repository` is open at `location` (absolute URL, query string included) and the
    /// registry has confirmed its first `offset` bytes. Replaces any earlier record of the same blob and repository.
    fn record(&self, repository: &Repository, digest: &Digest, location: &Url, offset: u64);
    /// The upload of `digest` into `repository` is over (committed or abandoned).
    fn forget(&self, repository: &Repository, digest: &Digest);
    /// The location last recorded for `digest` into `repository` and not forgotten since, if any.
    fn recorded(&self, repository: &Repository, digest: &Digest) -> Option<Url>;
}
