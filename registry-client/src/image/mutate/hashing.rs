//! Byte plumbing for building layers: a reader and a writer that hash and count what passes through them, and a
//! writer that turns disk errors into our `ErrorKind::Io` error (carried through `std::io`), so the caller can
//! tell a disk failure from bad input.

use std::io::{self, Read, Write};
use std::path::Path;

use registry_core::digest::{Algorithm, DigestHasher};
use registry_core::{Digest, Error, ErrorKind};

use crate::image::blocking::io_error;

/// Reads from `inner`, hashing and counting the bytes, and copies them to `out` (`io::sink()` for none).
pub(crate) struct TeeReader<R, W> {
    inner: R,
    out: W,
    hasher: DigestHasher,
    count: u64,
}

impl<R: Read, W: Write> TeeReader<R, W> {
    /// A sha256-hashing tee of `inner` into `out`.
    pub(crate) fn new(inner: R, out: W) -> TeeReader<R, W> {
        TeeReader { inner, out, hasher: DigestHasher::new(Algorithm::Sha256), count: 0 }
    }

    /// The digest and count of the bytes read so far, and the output.
    pub(crate) fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.count, self.out)
    }
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count = self.count.saturating_add(n as u64);
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Hashes and counts the bytes written through it to `inner`.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: DigestHasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// A sha256-hashing writer into `inner`.
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, hasher: DigestHasher::new(Algorithm::Sha256), count: 0 }
    }

    /// The digest and count of the bytes written, and the inner writer.
    pub(crate) fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count = self.count.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A writer (the temp file) whose errors become `ErrorKind::Io` errors saying `what` was written.
pub(crate) struct DiskWriter<W> {
    inner: W,
    what: String,
}

impl<W: Write> DiskWriter<W> {
    /// Tag the errors of `inner` with `what` (e.g. "the temp file /tmp/.tmpX").
    pub(crate) fn new(inner: W, what: impl Into<String>) -> DiskWriter<W> {
        DiskWriter { inner, what: what.into() }
    }

    /// The inner writer.
    pub(crate) fn into_inner(self) -> W {
        self.inner
    }

    fn tag(&self, e: io::Error) -> io::Error {
        io_error(Error::new(ErrorKind::Io, format!("cannot write {}: {e}", self.what)).with_source(e))
    }
}

impl<W: Write> Write for DiskWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.tag(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.tag(e))
    }
}

/// A reader (an input file) whose errors become `ErrorKind::Io` errors naming the file.
pub(crate) struct DiskReader<R> {
    inner: R,
    what: String,
}

impl<R: Read> DiskReader<R> {
    /// Tag the errors of `inner` with `what` (the input's path).
    pub(crate) fn new(inner: R, what: impl Into<String>) -> DiskReader<R> {
        DiskReader { inner, what: what.into() }
    }
}

impl<R: Read> Read for DiskReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io_error(Error::new(ErrorKind::Io, format!("cannot read {}: {e}", self.what)).with_source(e)))
    }
}

/// `InvalidInput` for a path that is not there, `Io` for another failure to open it.
pub(crate) fn missing(path: &Path, e: io::Error) -> Error {
    let kind = if e.kind() == io::ErrorKind::NotFound { ErrorKind::InvalidInput } else { ErrorKind::Io };
    Error::new(kind, format!("cannot open {}: {e}", path.display())).with_source(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tee_and_writer_hash_what_passes() {
        let mut tee = TeeReader::new(&b"hello"[..], Vec::new());
        let mut got = Vec::new();
        tee.read_to_end(&mut got).unwrap();
        let (d, n, out) = tee.finish();
        assert_eq!((d, n, out), (Digest::sha256(b"hello"), 5, b"hello".to_vec()));
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (d, n, out) = w.finish();
        assert_eq!((d, n, out), (Digest::sha256(b"abc"), 3, b"abc".to_vec()));
    }
}
