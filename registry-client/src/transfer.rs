//! How a `RemoteClient` moves blobs: how many at once, how many bytes may be in flight,
//! and a progress callback fed from the streams themselves.
//!
//! ```
//! use registry_client::{ProgressEvent, RemoteClient, TransferOptions};
//!
//! let options = TransferOptions::new()
//!     .max_concurrent_blobs(8)
//!     .max_bytes_in_flight(512 << 20)
//!     .progress(|event: &ProgressEvent| {
//!         if let ProgressEvent::BlobProgress { digest, transferred, size } = event {
//!             eprintln!("{digest}: {transferred}/{size}");
//!         }
//!     });
//! let client = RemoteClient::builder("registry.example.com").transfer(options).build()?;
//! # Ok::<(), registry_client::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use registry_core::api::TransferConfig;
use registry_core::{Digest, Error, ErrorKind, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::progress::{BlobProgress, Direction, ProgressEvent, ProgressFn};

/// Blobs transferred at once by default.
const DEFAULT_MAX_CONCURRENT_BLOBS: usize = 4;
/// Bytes in flight at once by default (256 MiB).
const DEFAULT_MAX_BYTES_IN_FLIGHT: u64 = 256 << 20;
/// By default a [`ProgressEvent::BlobProgress`] is sent at least every this many bytes (1 MiB)...
const DEFAULT_PROGRESS_BYTES: u64 = 1 << 20;
/// ... or when this much time has passed since the last one (100 ms), whichever comes first.
const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The byte semaphore counts in units of this many bytes, so that its `u32` permit counts reach 4 TiB.
const UNIT: u64 = 1024;

/// How blobs move: concurrency, bytes in flight, progress. Set on a client with
/// `RemoteClientBuilder::transfer`.
///
/// The limits belong to the client and are shared by its clones and `Client::with_segment`
/// children: several pushes running at once through one client share them, so the memory a process spends on
/// transfers stays bounded however many images it copies at once.
///
/// - at most [`max_concurrent_blobs`](TransferOptions::max_concurrent_blobs) blobs are checked or uploaded at
///   once (default 4);
/// - an upload holds `min(size, max_bytes_in_flight)` of the [`max_bytes_in_flight`](TransferOptions::max_bytes_in_flight)
///   budget (default 256 MiB) while it runs, so a blob larger than the budget runs alone, and small blobs run
///   side by side. Blobs are admitted in order: a large blob waiting for the budget is not overtaken forever by
///   small ones;
/// - blobs are streamed from their source to the registry, never held whole in memory; how (one PUT or chunks,
///   the chunk size, recovery after failures) is the [`blob_config`](TransferOptions::blob_config).
#[derive(Clone)]
#[must_use]
pub struct TransferOptions {
    max_concurrent_blobs: usize,
    max_bytes_in_flight: u64,
    progress: Option<ProgressFn>,
    progress_bytes: u64,
    progress_interval: Duration,
    blob: TransferConfig,
}

impl fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferOptions")
            .field("max_concurrent_blobs", &self.max_concurrent_blobs)
            .field("max_bytes_in_flight", &self.max_bytes_in_flight)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("progress_bytes", &self.progress_bytes)
            .field("progress_interval", &self.progress_interval)
            .field("blob", &self.blob)
            .finish()
    }
}

impl Default for TransferOptions {
    fn default() -> TransferOptions {
        TransferOptions {
            max_concurrent_blobs: DEFAULT_MAX_CONCURRENT_BLOBS,
            max_bytes_in_flight: DEFAULT_MAX_BYTES_IN_FLIGHT,
            progress: None,
            progress_bytes: DEFAULT_PROGRESS_BYTES,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
            blob: TransferConfig::default(),
        }
    }
}

impl TransferOptions {
    /// The defaults: 4 blobs at once, 256 MiB in flight, no progress callback.
    pub fn new() -> TransferOptions {
        TransferOptions::default()
    }

    /// At most `n` blobs checked or uploaded at once (at least 1, else `build()` fails).
    pub fn max_concurrent_blobs(mut self, n: usize) -> TransferOptions {
        self.max_concurrent_blobs = n;
        self
    }

    /// At most `bytes` of blobs in flight at once, a blob counting `min(size, bytes)` (at least 1 KiB, else
    /// `build()` fails).
    pub fn max_bytes_in_flight(mut self, bytes: u64) -> TransferOptions {
        self.max_bytes_in_flight = bytes;
        self
    }

    /// Call `callback` with each [`ProgressEvent`].
    pub fn progress(mut self, callback: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> TransferOptions {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// [`TransferOptions::progress`] with a callback already shared.
    pub fn progress_fn(mut self, callback: ProgressFn) -> TransferOptions {
        self.progress = Some(callback);
        self
    }

    /// Send [`ProgressEvent::BlobProgress`] once `bytes` more bytes moved or `interval` passed since the last one
    /// of that blob, whichever comes first (defaults: 1 MiB, 100 ms). The last one of a blob is always sent.
    pub fn progress_every(mut self, bytes: u64, interval: Duration) -> TransferOptions {
        self.progress_bytes = bytes;
        self.progress_interval = interval;
        self
    }

    /// How each blob travels: one PUT or chunks, the chunk size, how often a broken upload or download recovers
    /// (see [`TransferConfig`]; an invalid one is an error from `build()`).
    pub fn blob_config(mut self, config: TransferConfig) -> TransferOptions {
        self.blob = config;
        self
    }

    /// The per-blob settings.
    pub fn get_blob_config(&self) -> &TransferConfig {
        &self.blob
    }

    /// The job limit.
    pub fn get_max_concurrent_blobs(&self) -> usize {
        self.max_concurrent_blobs
    }

    /// The byte budget.
    pub fn get_max_bytes_in_flight(&self) -> u64 {
        self.max_bytes_in_flight
    }

    /// The progress callback, if any.
    pub fn get_progress(&self) -> Option<&ProgressFn> {
        self.progress.as_ref()
    }

    /// The limits as semaphores, shared by every clone of the client built with them. Fails on a zero limit.
    pub(crate) fn start(self) -> Result<Transfers> {
        if self.max_concurrent_blobs == 0 {
            return Err(Error::invalid_input("max_concurrent_blobs must be at least 1"));
        }
        if self.max_bytes_in_flight < UNIT {
            return Err(Error::invalid_input(format!(
                "max_bytes_in_flight must be at least {UNIT} bytes, got {}",
                self.max_bytes_in_flight
            )));
        }
        let jobs = self.max_concurrent_blobs.min(Semaphore::MAX_PERMITS);
        // Round down to whole units (never above what was asked); at most u32::MAX units (4 TiB).
        let units = u32::try_from(self.max_bytes_in_flight / UNIT).unwrap_or(u32::MAX);
        Ok(Transfers {
            jobs: Arc::new(Semaphore::new(jobs)),
            bytes: Arc::new(Semaphore::new(units as usize)),
            units,
            options: self,
        })
    }
}

/// The running limits of one client (and its clones): two semaphores and the progress settings.
#[derive(Debug)]
pub(crate) struct Transfers {
    options: TransferOptions,
    jobs: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    units: u32,
}

/// What a running blob transfer holds: one job, and its share of the byte budget once it uploads.
#[derive(Debug)]
pub(crate) struct Slot {
    _job: OwnedSemaphorePermit,
    bytes: Option<OwnedSemaphorePermit>,
}

impl Transfers {
    /// Wait for a job slot.
    pub(crate) async fn job(&self) -> Result<Slot> {
        let job = self.jobs.clone().acquire_owned().await.map_err(|_| closed())?;
        Ok(Slot { _job: job, bytes: None })
    }

    /// Wait until `size` bytes (at most the whole budget) fit in the budget, and hold them in `slot`.
    pub(crate) async fn reserve(&self, slot: &mut Slot, size: u64) -> Result<()> {
        let want = u32::try_from(size.div_ceil(UNIT)).unwrap_or(u32::MAX).clamp(1, self.units);
        slot.bytes = Some(self.bytes.clone().acquire_many_owned(want).await.map_err(|_| closed())?);
        Ok(())
    }

    /// Send the event `make` builds, if anyone listens (the event is not built otherwise).
    pub(crate) fn emit(&self, make: impl FnOnce() -> ProgressEvent) {
        if let Some(callback) = &self.options.progress {
            callback(&make());
        }
    }

    /// The progress of one blob about to be uploaded (read from its source once, or again when the upload must
    /// start over).
    pub(crate) fn blob(&self, digest: &Digest, size: u64) -> BlobProgress {
        self.progress_of(digest, size, Direction::Upload)
    }

    /// The progress of one read of a blob from the registry.
    pub(crate) fn download(&self, digest: &Digest, size: u64) -> BlobProgress {
        self.progress_of(digest, size, Direction::Download)
    }

    fn progress_of(&self, digest: &Digest, size: u64, direction: Direction) -> BlobProgress {
        let o = &self.options;
        BlobProgress::new(direction, o.progress.clone(), digest, size, o.progress_bytes, o.progress_interval)
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Io, "transfer limits were closed")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use futures::StreamExt;
    use registry_core::ByteStream;

    use super::*;

    fn events() -> (Arc<Mutex<Vec<ProgressEvent>>>, TransferOptions) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options =
            TransferOptions::new().progress(move |e| sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone()));
        (seen, options)
    }

    fn chunks(sizes: &[usize]) -> ByteStream {
        let items: Vec<Result<Bytes>> = sizes.iter().map(|n| Ok(Bytes::from(vec![7u8; *n]))).collect();
        Box::pin(futures::stream::iter(items))
    }

    /// The counts of the progress events, after checking the first event is the blob's start.
    fn progress_counts(events: &[ProgressEvent]) -> Vec<u64> {
        assert!(matches!(events.first(), Some(ProgressEvent::BlobStarted { .. })), "{events:?}");
        events[1..]
            .iter()
            .map(|e| match e {
                ProgressEvent::BlobProgress { transferred, .. } => *transferred,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn progress_is_throttled_by_bytes_and_ends_at_the_size() {
        let (seen, options) = events();
        let t = options.progress_every(1000, Duration::from_secs(3600)).start().unwrap();
        let d = Digest::sha256(b"x");
        let s = t.blob(&d, 2500).track(chunks(&[400, 400, 400, 0, 900, 200, 200]), 0);
        let out: Vec<Bytes> = s.map(|c| c.unwrap()).collect().await;
        assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), 2500);
        let ev = seen.lock().unwrap().clone();
        assert_eq!(progress_counts(&ev), vec![1200, 2300, 2500]);
        assert!(matches!(&ev[1], ProgressEvent::BlobProgress { digest, size: 2500, .. } if digest == &d));
    }

    #[tokio::test]
    async fn progress_reports_a_short_stream_at_its_end() {
        let (seen, options) = events();
        let t = options.progress_every(1 << 20, Duration::from_secs(3600)).start().unwrap();
        let s = t.blob(&Digest::sha256(b"x"), 5000).track(chunks(&[100, 200]), 0);
        let _: Vec<_> = s.collect().await;
        assert_eq!(progress_counts(&seen.lock().unwrap()), vec![300]);
    }

    #[tokio::test]
    async fn progress_by_time_reports_every_chunk_when_the_interval_is_zero() {
        let (seen, options) = events();
        let t = options.progress_every(u64::MAX, Duration::ZERO).start().unwrap();
        let s = t.blob(&Digest::sha256(b"x"), 30).track(chunks(&[10, 10, 10]), 0);
        let _: Vec<_> = s.collect().await;
        assert_eq!(progress_counts(&seen.lock().unwrap()), vec![10, 20, 30]);
    }

    #[tokio::test]
    async fn a_second_read_starts_nothing_and_never_goes_back() {
        let (seen, options) = events();
        let t = options.progress_every(1, Duration::from_secs(3600)).start().unwrap();
        let blob = t.blob(&Digest::sha256(b"x"), 30);
        // The first read breaks off after 20 bytes; the upload starts over and reads all 30.
        let _: Vec<_> = blob.track(chunks(&[10, 10]), 0).collect().await;
        let _: Vec<_> = blob.track(chunks(&[10, 10, 10]), 0).collect().await;
        assert_eq!(progress_counts(&seen.lock().unwrap()), vec![10, 20, 30]);
    }

    #[tokio::test]
    async fn without_a_callback_streams_are_untouched() {
        let t = TransferOptions::new().start().unwrap();
        let s = t.blob(&Digest::sha256(b"x"), 30).track(chunks(&[10, 20]), 0);
        assert_eq!(s.map(|c| c.unwrap().len()).collect::<Vec<_>>().await, vec![10, 20]);
    }

    #[test]
    fn zero_limits_are_refused() {
        let e = TransferOptions::new().max_concurrent_blobs(0).start().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("max_concurrent_blobs"), "{e}");
        let e = TransferOptions::new().max_bytes_in_flight(1023).start().unwrap_err();
        assert!(e.to_string().contains("max_bytes_in_flight"), "{e}");
        assert!(TransferOptions::new().max_bytes_in_flight(u64::MAX).start().is_ok());
    }

    #[tokio::test]
    async fn a_blob_larger_than_the_budget_takes_all_of_it() {
        let t = TransferOptions::new().max_concurrent_blobs(8).max_bytes_in_flight(10 * 1024).start().unwrap();
        let mut big = t.job().await.unwrap();
        t.reserve(&mut big, 1 << 30).await.unwrap();
        assert_eq!(t.bytes.available_permits(), 0);
        let mut small = t.job().await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), t.reserve(&mut small, 1)).await;
        assert!(waiting.is_err(), "a small blob got bytes while a big one held the whole budget");
        drop(big);
        t.reserve(&mut small, 1).await.unwrap();
        assert_eq!(t.bytes.available_permits(), 9);
    }

    #[tokio::test]
    async fn jobs_are_bounded() {
        let t = TransferOptions::new().max_concurrent_blobs(2).start().unwrap();
        let a = t.job().await.unwrap();
        let _b = t.job().await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(50), t.job()).await.is_err());
        drop(a);
        assert!(tokio::time::timeout(Duration::from_secs(5), t.job()).await.is_ok());
    }

    #[test]
    fn debug_hides_the_callback() {
        let o = TransferOptions::new().progress(|_| {});
        let s = format!("{o:?}");
        assert!(s.contains("<callback>") && s.contains("max_concurrent_blobs: 4"), "{s}");
    }
}
