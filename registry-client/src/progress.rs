//! Progress of transfers: the [`ProgressEvent`]s a client reports to its callback, and the counting of a blob's
//! bytes as its streams are read (the streams report their own progress, so what is reported is what moved).

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use registry_core::{ByteStream, Digest, Result};

/// A progress callback. It runs on the task moving the data: keep it quick (update a counter, send to a channel).
pub type ProgressFn = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// What a transfer reports to the progress callback (`TransferOptions::progress`).
///
/// For each blob of a push (layers and config) exactly one of these happens, in this order:
/// - [`BlobSkipped`](ProgressEvent::BlobSkipped): the registry already has it;
/// - [`BlobMounted`](ProgressEvent::BlobMounted): the registry linked it from another repository;
/// - [`BlobStarted`](ProgressEvent::BlobStarted), then [`BlobProgress`](ProgressEvent::BlobProgress) zero or more
///   times with a growing count whose last value is the blob's size, then [`BlobDone`](ProgressEvent::BlobDone)
///   once the registry has committed it.
///
/// A push begins with [`PushStarted`](ProgressEvent::PushStarted) and ends with
/// [`ManifestPushed`](ProgressEvent::ManifestPushed). Events of different blobs interleave (they move
/// concurrently). A push that fails stops sending events and returns the error.
///
/// Pulls report each read of a layer from the registry: [`DownloadStarted`](ProgressEvent::DownloadStarted), then
/// [`DownloadProgress`](ProgressEvent::DownloadProgress) with a growing count ending at the size, then
/// [`DownloadDone`](ProgressEvent::DownloadDone). In a copy, the source client reports the downloads and the
/// target client the uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A push of `reference` begins: `blobs` blobs (layers and config) of `bytes` bytes in all, some of which
    /// the registry may already have.
    PushStarted {
        /// What is pushed, e.g. `registry.example.com/org/app:v1`.
        reference: String,
        /// How many blobs (layers and config).
        blobs: usize,
        /// Their total size.
        bytes: u64,
    },
    /// A blob's upload begins.
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// Bytes of a blob read from its source and handed to the connection so far.
    BlobProgress {
        /// The blob.
        digest: Digest,
        /// Bytes so far; the last event of a blob has `transferred == size`.
        transferred: u64,
        /// Its size.
        size: u64,
    },
    /// The registry committed a blob (after verifying its digest).
    BlobDone {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// The registry already had a blob: nothing was sent.
    BlobSkipped {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// The registry linked a blob from another repository of its own (a cross-repository mount): nothing was sent.
    BlobMounted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The repository it was mounted from.
        from: String,
    },
    /// The manifest was pushed: the image is complete under `reference`.
    ManifestPushed {
        /// Where, e.g. `registry.example.com/org/app:v1`.
        reference: String,
        /// The manifest's digest.
        digest: Digest,
    },
    /// A read of a blob from the registry begins: a layer of an image from
    /// [`Client::get_image`](crate::Client::get_image) opened by its consumer (or by a push copying it elsewhere),
    /// from byte `offset` (0 unless a copy's upload reads the rest again after a failure).
    DownloadStarted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// Where the read starts.
        offset: u64,
    },
    /// Bytes of a blob read from the registry so far (counted from the blob's first byte): a growing count whose
    /// last value is the blob's size.
    DownloadProgress {
        /// The blob.
        digest: Digest,
        /// Bytes so far.
        transferred: u64,
        /// Its size.
        size: u64,
    },
    /// A read of a blob from the registry reached its end (verified, unless the reader checks the digest itself as
    /// an upload does).
    DownloadDone {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
}

/// The progress of one blob across the streams read from its source: [`ProgressEvent::BlobStarted`] when the
/// first is opened, then [`ProgressEvent::BlobProgress`] as bytes are read, throttled, and never going back when
/// a later stream (an upload starting over) reads the first bytes again.
#[derive(Clone)]
pub(crate) struct BlobProgress {
    direction: Direction,
    callback: Option<ProgressFn>,
    digest: Digest,
    size: u64,
    state: Arc<Mutex<Shared>>,
    every_bytes: u64,
    every: Duration,
}

impl fmt::Debug for BlobProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobProgress").field("digest", &self.digest).field("size", &self.size).finish()
    }
}

/// Which way a blob moves, and so which events it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// To a registry: `Blob*` events.
    Upload,
    /// From a registry: `Download*` events.
    Download,
}

#[derive(Debug)]
struct Shared {
    started: bool,
    /// The highest count reported so far.
    reported: u64,
}

impl BlobProgress {
    /// The progress of one blob of `size` bytes moving in `direction`, reported to `callback` at least every
    /// `every_bytes` bytes or `every` (whichever comes first), and at the end.
    pub(crate) fn new(
        direction: Direction,
        callback: Option<ProgressFn>,
        digest: &Digest,
        size: u64,
        every_bytes: u64,
        every: Duration,
    ) -> BlobProgress {
        let state = Arc::new(Mutex::new(Shared { started: false, reported: 0 }));
        BlobProgress { direction, callback, digest: digest.clone(), size, state, every_bytes, every }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Send `event` for this blob, if anyone listens.
    pub(crate) fn emit(&self, make: impl FnOnce(Digest, u64) -> ProgressEvent) {
        if let Some(callback) = &self.callback {
            callback(&make(self.digest.clone(), self.size));
        }
    }

    /// `stream`, a fresh read of the blob from byte `offset`, reporting progress as it is read. The first call
    /// reports [`ProgressEvent::BlobStarted`] (an upload) or [`ProgressEvent::DownloadStarted`].
    pub(crate) fn track(&self, stream: ByteStream, offset: u64) -> ByteStream {
        if self.callback.is_none() {
            return stream;
        }
        let first = !std::mem::replace(&mut self.lock().started, true);
        if first {
            match self.direction {
                Direction::Upload => self.emit(|digest, size| ProgressEvent::BlobStarted { digest, size }),
                Direction::Download => {
                    self.emit(|digest, size| ProgressEvent::DownloadStarted { digest, size, offset })
                }
            }
        }
        Box::pin(ProgressStream { inner: stream, blob: self.clone(), seen: offset, reported_at: Instant::now() })
    }

    /// `seen` bytes of the current read: report them when past the highest count reported, and `force` (the end)
    /// or far enough (bytes or time) from the last report.
    fn advance(&self, seen: u64, force: bool, reported_at: &mut Instant) {
        let Some(callback) = &self.callback else { return };
        {
            let mut state = self.lock();
            if seen <= state.reported {
                return;
            }
            let due = force
                || seen == self.size
                || seen - state.reported >= self.every_bytes
                || reported_at.elapsed() >= self.every;
            if !due {
                return;
            }
            state.reported = seen;
        }
        *reported_at = Instant::now();
        let (digest, size) = (self.digest.clone(), self.size);
        callback(&match self.direction {
            Direction::Upload => ProgressEvent::BlobProgress { digest, transferred: seen, size },
            Direction::Download => ProgressEvent::DownloadProgress { digest, transferred: seen, size },
        });
    }
}

/// One read of a blob, counting its bytes for [`BlobProgress`].
struct ProgressStream {
    inner: ByteStream,
    blob: BlobProgress,
    seen: u64,
    reported_at: Instant,
}

impl Stream for ProgressStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = &mut *self;
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) if !chunk.is_empty() => {
                this.seen += chunk.len() as u64;
                this.blob.advance(this.seen, false, &mut this.reported_at);
            }
            Poll::Ready(None) => {
                this.blob.advance(this.seen, true, &mut this.reported_at);
                if this.blob.direction == Direction::Download {
                    this.blob.emit(|digest, size| ProgressEvent::DownloadDone { digest, size });
                }
            }
            _ => {}
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
