//! Checking one blob: streamed once from its source (never held in memory, unless it is a config to parse), its
//! length and digest measured here (a source's own checks are not trusted), and a layer decompressed on the way
//! to compare its uncompressed digest with the config's `diff_id`.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use registry_core::digest::DigestHasher;
use registry_core::{Digest, Error, ErrorKind};

use crate::image::blocking::{from_io, stream_reader};
use crate::image::compression::{Compression, DecompressionLimits, LayerReader, OutputBudget};
use crate::image::model::BlobSource;
use crate::image::validate::report::{Problem, ProblemKind};

/// How to read a blob.
#[derive(Debug, Clone)]
pub(crate) enum Reading {
    /// Hash it.
    Plain,
    /// Hash it and keep it (a config), when it is at most this many bytes.
    Keep(usize),
    /// Hash it and decompress it, comparing the uncompressed digest with the `diff_id` when there is one.
    Layer(Compression, Option<Digest>),
}

/// What reading one blob found.
#[derive(Debug, Default)]
pub(crate) struct BlobOutcome {
    pub(crate) problems: Vec<Problem>,
    pub(crate) bytes_read: u64,
    /// The blob, for [`Reading::Keep`], when it was read whole and is right.
    pub(crate) content: Option<Bytes>,
}

/// The bytes of a blob as they pass: hashed, counted, stopped one byte past the size (a source that sends more
/// is not read on), the source's error kept aside.
struct Measure<R> {
    inner: R,
    hasher: Option<DigestHasher>,
    count: u64,
    cap: u64,
    overran: bool,
    error: Option<Error>,
    keep: Option<Vec<u8>>,
}

impl<R: Read> Read for Measure<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.count >= self.cap {
            self.overran = true;
            return Ok(0);
        }
        let room = usize::try_from(self.cap - self.count).unwrap_or(usize::MAX).min(buf.len());
        let n = match self.inner.read(&mut buf[..room]) {
            Ok(n) => n,
            Err(e) => {
                let ours = from_io(e, "reading the blob");
                let shown = ours.to_string();
                self.error = Some(ours);
                return Err(io::Error::other(format!("the source failed: {shown}")));
            }
        };
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(k) = self.keep.as_mut() {
            k.extend_from_slice(&buf[..n]);
        }
        self.count = self.count.saturating_add(n as u64);
        Ok(n)
    }
}

/// Read the blob `digest` of `size` bytes (named in `manifest`) from `source` as `reading` says, and list what is
/// wrong with it. Runs the reading on a blocking thread.
pub(crate) async fn check_blob(
    source: &Arc<dyn BlobSource>,
    digest: &Digest,
    size: u64,
    manifest: &Digest,
    reading: Reading,
    limits: DecompressionLimits,
) -> BlobOutcome {
    let problem = |kind, message: String| Problem::new(kind, digest.clone(), Some(manifest.clone()), message);
    let mut out = BlobOutcome::default();
    if let Reading::Keep(max) = reading {
        if size > max as u64 {
            out.problems.push(problem(
                ProblemKind::ConfigInvalid,
                format!("the config is {size} bytes, over the {max} byte limit of a config"),
            ));
            return out;
        }
    }
    // Unverified: the source's own check would hold back the last bytes and say only "mismatch"; the length and
    // digest are measured here instead.
    let stream = match source.open_unverified(digest, size, 0).await {
        Ok(s) => s,
        Err(e) => {
            let kind = match e.kind() {
                ErrorKind::NotFound => ProblemKind::BlobMissing,
                ErrorKind::DigestMismatch => ProblemKind::BlobSize,
                _ => ProblemKind::BlobUnreadable,
            };
            out.problems.push(problem(kind, e.to_string()));
            return out;
        }
    };
    let reader = match stream_reader(stream) {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(problem(ProblemKind::BlobUnreadable, e.to_string()));
            return out;
        }
    };
    let name = digest.to_string();
    let want = digest.clone();
    let joined = tokio::task::spawn_blocking(move || measure(reader, &want, size, &name, reading, limits)).await;
    let (measured, layer_error) = match joined {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(problem(ProblemKind::BlobUnreadable, format!("the check failed: {e}")));
            return out;
        }
    };
    out.bytes_read = measured.count;
    let actual = measured.hasher.map(DigestHasher::finish);
    if let Some(e) = measured.error.as_ref().filter(|e| e.kind() != ErrorKind::DigestMismatch) {
        let kind = if e.kind() == ErrorKind::NotFound { ProblemKind::BlobMissing } else { ProblemKind::BlobUnreadable };
        out.problems.push(problem(kind, e.to_string()));
    } else if measured.overran {
        out.problems.push(problem(
            ProblemKind::BlobSize,
            format!("the source sent more than the {size} bytes the descriptor says"),
        ));
    } else if measured.count != size {
        out.problems
            .push(problem(ProblemKind::BlobSize, format!("{} bytes, the descriptor says {size}", measured.count)));
    } else if actual.as_ref() != Some(digest) {
        let shown = actual.map(|d| d.to_string()).unwrap_or_default();
        out.problems.push(problem(ProblemKind::BlobDigest, format!("the content hashes to {shown}")));
    } else if let Some(e) = measured.error {
        out.problems.push(problem(ProblemKind::BlobUnreadable, e.to_string()));
    } else if let Some(e) = layer_error {
        // A decompression cap reached is a limit of this check, not a fault of the layer.
        let kind = match e.kind() {
            ErrorKind::DigestMismatch => ProblemKind::DiffId,
            ErrorKind::Unsupported => ProblemKind::LimitReached,
            _ => ProblemKind::LayerCorrupt,
        };
        out.problems.push(problem(kind, e.to_string()));
    } else {
        out.content = measured.keep.map(Bytes::from);
    }
    out
}

/// The blocking part: read `reader` through a [`Measure`], decompressing it as `reading` says; the measure and
/// the layer's own error (bad compression, the diff_id), if any.
fn measure<R: Read + Send>(
    reader: R,
    digest: &Digest,
    size: u64,
    name: &str,
    reading: Reading,
    limits: DecompressionLimits,
) -> (Measure<R>, Option<Error>) {
    let keep = matches!(reading, Reading::Keep(_)).then(|| Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
    let mut raw = Measure {
        inner: reader,
        hasher: Some(DigestHasher::new(digest.algorithm())),
        count: 0,
        cap: size.saturating_add(1),
        overran: false,
        error: None,
        keep,
    };
    let mut layer_error = None;
    if let Reading::Layer(compression, diff_id) = reading {
        let mut layer = LayerReader::new(compression, &mut raw, name, diff_id, limits, OutputBudget::new());
        // LayerReader fails only with our own errors (bad compression, the diff_id, a cap), carried as they are.
        if let Err(e) = io::copy(&mut layer, &mut io::sink()) {
            layer_error = Some(from_io(e, name));
        }
    }
    // The rest of the blob (all of it, for a plain one), so every byte is counted and hashed.
    if raw.error.is_none() {
        let _ = io::copy(&mut raw, &mut io::sink());
    }
    (raw, layer_error)
}
