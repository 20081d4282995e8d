//! How blobs travel: the upload strategy (one PUT or chunks), chunk size, and how hard uploads and downloads try
//! to survive a failure ([`TransferConfig`]); the upload session a registry hands out ([`UploadSession`]); and what
//! a cross-repository mount did ([`MountOutcome`]).

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::reference::Repository;
use crate::transport::retry::RetryConfig;

/// One MiB.
const MIB: u64 = 1024 * 1024;

/// The largest chunk a [`TransferConfig`] may ask for.
pub const MAX_CHUNK_SIZE: u64 = 1024 * MIB;

/// The largest `OCI-Chunk-Min-Length` honoured by growing a held chunk (an upload from a one-time stream). A
/// registry demanding more gets such a blob in one streamed PUT instead, so no upload ever holds more than this
/// in memory.
pub const MAX_REGISTRY_CHUNK: u64 = 256 * MIB;

/// The longest `Retry-After` a transfer recovery waits for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How blobs are uploaded and downloaded.
///
/// - A blob of at most [`monolithic_threshold`](Self::monolithic_threshold) bytes is uploaded in one streamed PUT
///   (`POST` then `PUT ?digest=`): the fewest requests and nothing held in memory. When that PUT fails, the upload
///   starts over, which needs a source that can be read again
///   (`RegistryApi::upload_blob_from`).
/// - A larger blob goes in chunks (`PATCH` with `Content-Range`), grown to the registry's `OCI-Chunk-Min-Length`
///   when it asks for more. After a failed `PATCH` the upload asks the registry how far it got and continues from
///   there: reading the source again from that offset when it can be opened again
///   (`RegistryApi::upload_blob_from`), in chunks of
///   [`chunk_size`](Self::chunk_size) bytes, holding nothing in memory; or, from a one-time stream
///   (`RegistryApi::upload_blob`), in chunks of
///   [`held_chunk_size`](Self::held_chunk_size) bytes, the unconfirmed one kept in memory to be sent again.
/// - Either way the digest is computed over the bytes sent and compared with the expected one before the final
///   `PUT`: a blob whose content does not match is never committed.
///
/// ```
/// use registry_core::api::TransferConfig;
/// let config = TransferConfig::default().chunk_size(32 << 20).held_chunk_size(8 << 20).monolithic_threshold(8 << 20);
/// assert!(config.validate().is_ok());
/// assert!(TransferConfig::default().chunk_size(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferConfig {
    /// Blobs up to this many bytes are uploaded in one PUT; larger ones in chunks. Default 32 MiB.
    pub monolithic_threshold: u64,
    /// The size of a chunk of an upload from a source that can be opened again (which holds nothing in memory:
    /// after a failure it reads the source again, so the size costs no memory). Fewer, larger chunks are faster:
    /// at each chunk's end the stream waits for the registry to close the chunk (docker-registry flushes its upload
    /// file and stores its hash state), about a tenth of a second per chunk in `copy_bench`'s 1 GiB copy between
    /// two docker-registry instances, where 64 MiB chunks took about 10% longer than one PUT and 256 MiB chunks
    /// as long. Smaller ones lose less to a registry that drops a cut chunk (docker-registry 2.8.2 forgets a
    /// session whose chunk was cut, so its resumes start at chunk boundaries; a registry keeping what arrived
    /// resumes from its offset whatever the size). Default 256 MiB.
    pub chunk_size: u64,
    /// The size of a chunk of an upload from a one-time stream, and so the memory it holds: the chunk the registry
    /// has not confirmed is kept to be sent again. Default 16 MiB.
    pub held_chunk_size: u64,
    /// How many times one blob upload recovers from a failure (resuming where the registry got to, or starting
    /// over) before giving up. Default 5.
    pub upload_retries: u32,
    /// How many times one blob download resumes after its connection broke. Default 5.
    pub download_resumes: u32,
    /// The wait before the first recovery of an upload; each further one doubles it (with jitter), up to 32 times
    /// this. A registry's `Retry-After` makes it longer (up to [`MAX_RETRY_AFTER`]). Default 200 ms.
    pub recovery_backoff: Duration,
    /// Whether a chunked upload sends its last chunk in the closing `PUT ?digest=` (streamed from the source, its
    /// last piece held back until the digest matched) instead of a `PATCH` followed by an empty `PUT`: one request
    /// fewer per blob, and a blob of a single chunk goes like a one-request upload. The chunks before it, and so
    /// the offsets an upload resumes from, are the same; a closing `PUT` that fails is recovered like a failed
    /// chunk (the registry asked how far it got), after checking whether the blob was committed when the session
    /// is gone. Default `false` (one `PATCH` per chunk).
    pub close_with_last_chunk: bool,
}

impl Default for TransferConfig {
    fn default() -> TransferConfig {
        TransferConfig {
            monolithic_threshold: 32 * MIB,
            chunk_size: 256 * MIB,
            held_chunk_size: 16 * MIB,
            upload_retries: 5,
            download_resumes: 5,
            recovery_backoff: Duration::from_millis(200),
            close_with_last_chunk: false,
        }
    }
}

impl TransferConfig {
    /// Set [`monolithic_threshold`](Self::monolithic_threshold) (`0`: always chunked; `u64::MAX`: never).
    #[must_use]
    pub fn monolithic_threshold(mut self, bytes: u64) -> TransferConfig {
        self.monolithic_threshold = bytes;
        self
    }

    /// Set [`chunk_size`](Self::chunk_size), and [`held_chunk_size`](Self::held_chunk_size) to the same (set it
    /// after this to make it differ).
    #[must_use]
    pub fn chunk_size(mut self, bytes: u64) -> TransferConfig {
        self.chunk_size = bytes;
        self.held_chunk_size = bytes;
        self
    }

    /// Set [`held_chunk_size`](Self::held_chunk_size).
    #[must_use]
    pub fn held_chunk_size(mut self, bytes: u64) -> TransferConfig {
        self.held_chunk_size = bytes;
        self
    }

    /// Set [`upload_retries`](Self::upload_retries) (`0`: fail on the first error).
    #[must_use]
    pub fn upload_retries(mut self, n: u32) -> TransferConfig {
        self.upload_retries = n;
        self
    }

    /// Set [`download_resumes`](Self::download_resumes) (`0`: a broken download fails).
    #[must_use]
    pub fn download_resumes(mut self, n: u32) -> TransferConfig {
        self.download_resumes = n;
        self
    }

    /// Set [`recovery_backoff`](Self::recovery_backoff).
    #[must_use]
    pub fn recovery_backoff(mut self, d: Duration) -> TransferConfig {
        self.recovery_backoff = d;
        self
    }

    /// Set [`close_with_last_chunk`](Self::close_with_last_chunk).
    #[must_use]
    pub fn close_with_last_chunk(mut self, yes: bool) -> TransferConfig {
        self.close_with_last_chunk = yes;
        self
    }

    /// Check the settings: chunk sizes between 1 byte and [`MAX_CHUNK_SIZE`]. An invalid configuration is
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    pub fn validate(&self) -> Result<()> {
        for (name, size) in [("chunk size", self.chunk_size), ("held chunk size", self.held_chunk_size)] {
            if size == 0 {
                return Err(Error::invalid_input(format!("transfer {name} must be at least 1 byte")));
            }
            if size > MAX_CHUNK_SIZE {
                return Err(Error::invalid_input(format!(
                    "transfer {name} {size} is over the {} MiB limit",
                    MAX_CHUNK_SIZE / MIB
                )));
            }
        }
        Ok(())
    }

    /// The wait before recovery number `n` (1-based).
    pub(crate) fn backoff(&self, n: u32) -> Duration {
        RetryConfig::default()
            .initial_backoff(self.recovery_backoff)
            .max_backoff(self.recovery_backoff.saturating_mul(32))
            .backoff(n)
    }

    /// The wait before recovery number `n` (1-based) from `cause`: the backoff, or longer when the registry said so
    /// with `Retry-After` (honoured up to [`MAX_RETRY_AFTER`]).
    pub(crate) fn wait_before(&self, n: u32, cause: &Error) -> Duration {
        let backoff = self.backoff(n);
        cause.retry_after().map_or(backoff, |asked| backoff.max(asked.min(MAX_RETRY_AFTER)))
    }

    /// The chunk to use when the registry asks for chunks of at least `min` bytes, for an upload that holds its
    /// chunk in memory (`held`) or not; `None` when a held chunk would be more than this client holds (the blob
    /// then goes in one streamed PUT).
    pub(crate) fn chunk_for(&self, min: Option<u64>, held: bool) -> Option<u64> {
        let chunk = if held { self.held_chunk_size } else { self.chunk_size };
        match min {
            Some(m) if held && m > MAX_REGISTRY_CHUNK.max(chunk) => None,
            Some(m) => Some(chunk.max(m)),
            None => Some(chunk),
        }
    }
}

/// An open upload session: where to send the blob's bytes. Made by `RegistryApi::mount_blob` when the registry
/// starts an upload instead of mounting; finish it with `RegistryApi::upload_blob_in` or cancel it with
/// `RegistryApi::cancel_upload` (a registry also expires sessions left alone).
#[derive(Debug, Clone)]
pub struct UploadSession {
    pub(crate) repository: Repository,
    pub(crate) location: Url,
    pub(crate) min_chunk: Option<u64>,
}

impl UploadSession {
    /// The repository the upload goes to.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The session's location (its query string may carry the registry's state: keep it out of logs).
    pub fn location(&self) -> &Url {
        &self.location
    }

    /// The registry's `OCI-Chunk-Min-Length`, if it sent one.
    pub fn min_chunk_length(&self) -> Option<u64> {
        self.min_chunk
    }
}

/// What a cross-repository mount request did.
#[derive(Debug)]
#[non_exhaustive]
pub enum MountOutcome {
    /// The registry linked the blob into the target repository (201): nothing to upload.
    Mounted,
    /// The registry did not mount (the source lacks the blob, the caller may not read it, or the registry does not
    /// mount) and opened an upload session instead (202): upload the blob into it, or cancel it.
    Upload(UploadSession),
}

/// How a blob got into a repository, from `RegistryApi::mount_or_upload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobPushed {
    /// Mounted from the source repository: no bytes moved.
    Mounted,
    /// Uploaded.
    Uploaded,
    /// The repository already had it (found after a lost answer or before starting over).
    AlreadyPresent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounded() {
        let c = TransferConfig::default();
        assert!(c.validate().is_ok());
        assert!(c.held_chunk_size <= c.monolithic_threshold, "a held chunk is no larger than a one-PUT blob");
        assert!(TransferConfig::default().chunk_size(MAX_CHUNK_SIZE + 1).validate().is_err());
        assert!(TransferConfig::default().chunk_size(MAX_CHUNK_SIZE).validate().is_ok());
        assert!(TransferConfig::default().held_chunk_size(0).validate().is_err());
    }

    #[test]
    fn registry_minimum_grows_the_chunk_up_to_a_cap() {
        let c = TransferConfig::default().chunk_size(2 * MIB).held_chunk_size(MIB);
        assert_eq!(c.chunk_for(None, true), Some(MIB));
        assert_eq!(c.chunk_for(None, false), Some(2 * MIB));
        assert_eq!(c.chunk_for(Some(10), true), Some(MIB), "a smaller minimum changes nothing");
        assert_eq!(c.chunk_for(Some(5 * MIB), true), Some(5 * MIB));
        assert_eq!(c.chunk_for(Some(MAX_REGISTRY_CHUNK), true), Some(MAX_REGISTRY_CHUNK));
        assert_eq!(c.chunk_for(Some(MAX_REGISTRY_CHUNK + 1), true), None, "too much to hold: one PUT instead");
        let huge = Some(4 * MAX_REGISTRY_CHUNK);
        assert_eq!(c.chunk_for(huge, false), huge, "nothing held: any minimum is fine");
    }

    #[test]
    fn backoff_doubles_from_the_setting() {
        let c = TransferConfig::default().recovery_backoff(Duration::from_millis(100));
        let first = c.backoff(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
        let third = c.backoff(3);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
        assert!(c.backoff(30) <= Duration::from_millis(3200));
        let told = Error::new(crate::ErrorKind::TooManyRequests, "429").with_retry_after(Some(Duration::from_secs(2)));
        assert_eq!(c.wait_before(1, &told), Duration::from_secs(2));
        let greedy = told.with_retry_after(Some(Duration::from_secs(3600)));
        assert_eq!(c.wait_before(1, &greedy), MAX_RETRY_AFTER);
    }
}
