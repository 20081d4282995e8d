//! Layer compression: which one a layer uses (by media type, or by its first bytes), and decoding it with caps, so
//! a decompression bomb ends in an error with memory flat, and the uncompressed digest (the `diff_id`) checked.
//!
//! The decoders are blocking `std::io::Read`s (tar processing is blocking code); run them on a blocking thread
//! (`tokio::task::spawn_blocking`) over [`crate::image::blocking::stream_reader`].

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use registry_core::digest::DigestHasher;
use registry_core::{Digest, Error, ErrorKind};

use crate::image::blocking::{carries_error, io_error};

/// How a layer's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// A plain tar (`application/vnd.oci.image.layer.v1.tar`, docker's `...rootfs.diff.tar`).
    None,
    /// gzip (`+gzip`, docker's `.tar.gzip`).
    Gzip,
    /// zstd (`+zstd`).
    Zstd,
}

impl Compression {
    /// The compression a layer media type names: `+gzip`/`.gzip` is gzip, `+zstd`/`.zstd` zstd, a type ending in
    /// `tar` none. `None` (the `Option`) for a type that is no tar layer (a config, an artifact's blob).
    /// OCI image spec, "Image Layer Filesystem Changeset"; docker's types follow the same pattern.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        let mt = media_type.split(';').next().unwrap_or_default().trim();
        if mt.ends_with("+gzip") || mt.ends_with(".gzip") {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") || mt.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// The compression the first bytes of a blob show (gzip `1f 8b`, zstd `28 b5 2f fd`), else none. Needs at
    /// least 4 bytes to tell zstd; fewer are taken as uncompressed unless they start a gzip header.
    pub fn sniff(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The compression `input` shows ([`Compression::sniff`] of its first 4 bytes, fewer when it is shorter) and a
/// reader giving all of `input` again from its first byte. Errors: `input`'s own, as they are.
pub(crate) fn sniff_reader<R: Read>(mut input: R) -> io::Result<(Compression, impl Read)> {
    let mut prefix = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut prefix)?;
    Ok((Compression::sniff(&prefix), io::Cursor::new(prefix).chain(input)))
}

/// Caps on decompressed output, so a decompression bomb ends in an error (`ErrorKind::Unsupported`, naming the
/// layer and the cap) instead of filling a disk. Memory stays flat whatever the caps: output is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct DecompressionLimits {
    max_bytes: u64,
    max_ratio: u64,
}

/// Output below this many bytes is never refused for its ratio: real layers hold zero-filled files (preallocated
/// logs and databases) that compress a thousand times; a bomb is still stopped a quarter of a gigabyte in.
const RATIO_SLACK: u64 = 256 << 20;

impl Default for DecompressionLimits {
    /// At most 64 GiB of uncompressed output per image, at most 200 times the compressed bytes read once past the
    /// first 256 MiB of a layer. Real layers compress 2 to 20 times overall, though a zero-filled file inside one
    /// compresses about 1000 times; a gigabyte of zeros compresses about 1000 times.
    fn default() -> DecompressionLimits {
        DecompressionLimits { max_bytes: 64 << 30, max_ratio: 200 }
    }
}

impl DecompressionLimits {
    /// The defaults (see [`DecompressionLimits::default`]).
    pub fn new() -> DecompressionLimits {
        DecompressionLimits::default()
    }

    /// At most `bytes` of uncompressed output in all (over every layer of one extraction).
    pub fn max_bytes(mut self, bytes: u64) -> DecompressionLimits {
        self.max_bytes = bytes;
        self
    }

    /// At most `ratio` bytes out for each compressed byte in, per layer, once past 256 MiB of output. 0 turns the
    /// ratio check off.
    pub fn max_ratio(mut self, ratio: u64) -> DecompressionLimits {
        self.max_ratio = ratio;
        self
    }

    /// The total cap, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The ratio cap (0: none).
    pub fn ratio(&self) -> u64 {
        self.max_ratio
    }
}

/// A shared count of uncompressed bytes, for a cap over several layers.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputBudget {
    used: Arc<AtomicU64>,
}

impl OutputBudget {
    /// A new count at zero.
    pub(crate) fn new() -> OutputBudget {
        OutputBudget::default()
    }
}

/// Counts the compressed bytes read through it.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A layer's uncompressed bytes: decoded, capped, and hashed, with the hash compared with the expected `diff_id` at
/// the end. Read it to EOF (a tar reader stops at the end-of-archive blocks: drain the rest with `io::copy` into
/// `io::sink()`), or the `diff_id` is never checked.
pub(crate) struct LayerReader<'a> {
    decoder: Box<dyn Read + Send + 'a>,
    compressed: Arc<AtomicU64>,
    produced: u64,
    budget: OutputBudget,
    limits: DecompressionLimits,
    hasher: Option<DigestHasher>,
    expected: Option<Digest>,
    name: String,
    done: bool,
}

impl std::fmt::Debug for LayerReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerReader").field("layer", &self.name).field("produced", &self.produced).finish()
    }
}

impl<'a> LayerReader<'a> {
    /// Decode `input` (compressed as `compression`) for the layer called `name` in errors (its digest), counting
    /// the output against `budget` and `limits`, and checking it against `expected_diff_id` when one is given.
    pub(crate) fn new(
        compression: Compression,
        input: impl Read + Send + 'a,
        name: impl Into<String>,
        expected_diff_id: Option<Digest>,
        limits: DecompressionLimits,
        budget: OutputBudget,
    ) -> LayerReader<'a> {
        let compressed = Arc::new(AtomicU64::new(0));
        let counted = CountingReader { inner: input, count: compressed.clone() };
        let name = name.into();
        let decoder: Box<dyn Read + Send + 'a> = match compression {
            Compression::None => Box::new(counted),
            Compression::Gzip => {
                Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(64 << 10, counted)))
            }
            Compression::Zstd => {
                Box::new(ZstdReader::Pending(Some(io::BufReader::with_capacity(64 << 10, counted)), name.clone()))
            }
        };
        let hasher = expected_diff_id.as_ref().map(|d| DigestHasher::new(d.algorithm()));
        LayerReader {
            decoder,
            compressed,
            produced: 0,
            budget,
            limits,
            hasher,
            expected: expected_diff_id,
            name,
            done: false,
        }
    }

    fn over_cap(&self, n: u64) -> Option<Error> {
        let total = self.budget.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if total > self.limits.max_bytes {
            return Some(Error::unsupported(format!(
                "layer {}: uncompressed output passed the cap of {} bytes (decompression limits)",
                self.name, self.limits.max_bytes
            )));
        }
        let ratio = self.limits.max_ratio;
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if ratio > 0 && self.produced > RATIO_SLACK && self.produced / compressed > ratio {
            return Some(Error::unsupported(format!(
                "layer {}: {} bytes out of {} compressed bytes passes the ratio cap of {ratio}:1 (a decompression \
                 bomb?)",
                self.name, self.produced, compressed
            )));
        }
        None
    }
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.decoder.read(buf).map_err(|e| {
            if carries_error(&e) {
                e // the source's own error (network, digest): kept as it is
            } else if e.raw_os_error().is_some() {
                // An OS error of a plain source (a file): an I/O failure, not a bad layer.
                let message = format!("layer {}: reading: {e}", self.name);
                io_error(Error::new(ErrorKind::Io, message).with_source(e))
            } else {
                io_error(Error::new(ErrorKind::InvalidInput, format!("layer {}: cannot decompress: {e}", self.name)))
            }
        })?;
        if n == 0 {
            self.done = true;
            if let (Some(h), Some(want)) = (self.hasher.take(), self.expected.as_ref()) {
                let got = h.finish();
                if &got != want {
                    return Err(io_error(Error::new(
                        ErrorKind::DigestMismatch,
                        format!("layer {}: uncompressed digest is {got}, the config's diff_id says {want}", self.name),
                    )));
                }
            }
            return Ok(0);
        }
        self.produced = self.produced.saturating_add(n as u64);
        if let Some(e) = self.over_cap(n as u64) {
            self.done = true;
            return Err(io_error(e));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A zstd decoder made on the first read (making one reads the frame header, which may fail).
enum ZstdReader<R: Read> {
    Pending(Option<R>, String),
    Ready(Box<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>),
}

impl<R: Read> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self {
                ZstdReader::Ready(d) => return d.read(buf),
                ZstdReader::Pending(input, name) => {
                    let Some(input) = input.take() else {
                        return Err(io::Error::other(format!("layer {name}: the zstd decoder failed before")));
                    };
                    let d = ruzstd::decoding::StreamingDecoder::new(input)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd frame: {e}")))?;
                    *self = ZstdReader::Ready(Box::new(d));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::image::blocking::from_io;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(r: &mut LayerReader<'_>) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| from_io(e, "test"))?;
        Ok(out)
    }

    /// How many bytes `r` gives (not the bytes: a failing assertion must not print megabytes).
    fn count_all(r: &mut LayerReader<'_>) -> Result<u64, Error> {
        io::copy(r, &mut io::sink()).map_err(|e| from_io(e, "test"))
    }

    #[test]
    fn media_types_and_magic() {
        use registry_core::manifest::media_type as mt;
        assert_eq!(Compression::from_media_type(mt::OCI_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(Compression::from_media_type(mt::DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(Compression::from_media_type(mt::DOCKER_FOREIGN_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(Compression::from_media_type(mt::OCI_LAYER_ZSTD), Some(Compression::Zstd));
        assert_eq!(Compression::from_media_type(mt::OCI_LAYER_TAR), Some(Compression::None));
        assert_eq!(Compression::from_media_type(mt::DOCKER_LAYER_TAR), Some(Compression::None));
        assert_eq!(Compression::from_media_type(mt::OCI_CONFIG), None);
        assert_eq!(Compression::sniff(&gzip(b"x")), Compression::Gzip);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(Compression::sniff(b"usr/"), Compression::None);
    }

    #[test]
    fn gzip_and_zstd_decode_with_the_diff_id_checked() {
        let data = b"hello layer".repeat(1000);
        let want = Digest::sha256(&data);
        let gz = gzip(&data);
        let mut r = LayerReader::new(
            Compression::Gzip,
            &gz[..],
            "l",
            Some(want.clone()),
            Default::default(),
            OutputBudget::new(),
        );
        assert_eq!(read_all(&mut r).unwrap(), data);
        let zst = ruzstd::encoding::compress_to_vec(&data[..], ruzstd::encoding::CompressionLevel::Fastest);
        let mut r = LayerReader::new(
            Compression::Zstd,
            &zst[..],
            "l",
            Some(want.clone()),
            Default::default(),
            OutputBudget::new(),
        );
        assert_eq!(read_all(&mut r).unwrap(), data);
        let mut r = LayerReader::new(
            Compression::None,
            &b"other"[..],
            "sha256:abc",
            Some(want),
            Default::default(),
            OutputBudget::new(),
        );
        let e = read_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        assert!(e.to_string().contains("sha256:abc") && e.to_string().contains("diff_id"), "{e}");
    }

    #[test]
    fn caps_end_a_bomb() {
        // A zero-filled 64 MiB file is a real thing in a layer: no bomb.
        let zeros = vec![0u8; 64 << 20];
        let gz = gzip(&zeros);
        assert!(gz.len() < 128 << 10, "zeros compress about 1000 times: {}", gz.len());
        let mut r =
            LayerReader::new(Compression::Gzip, &gz[..], "legit", None, Default::default(), OutputBudget::new());
        assert_eq!(count_all(&mut r).unwrap(), 64 << 20, "under 256 MiB the ratio is not checked");
        // 320 MiB of zeros, compressed as generated.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..320 {
            e.write_all(&zeros[..1 << 20]).unwrap();
        }
        let bomb = e.finish().unwrap();
        let limits = DecompressionLimits::new();
        let mut r = LayerReader::new(Compression::Gzip, &bomb[..], "bomb", None, limits, OutputBudget::new());
        let e = count_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("ratio cap of 200:1"), "{e}");
        let limits = DecompressionLimits::new().max_ratio(0).max_bytes(1 << 20);
        let budget = OutputBudget::new();
        let mut r = LayerReader::new(Compression::Gzip, &gz[..], "bomb", None, limits, budget.clone());
        let e = count_all(&mut r).unwrap_err();
        assert!(e.to_string().contains("cap of 1048576 bytes"), "{e}");
        let limits = DecompressionLimits::new().max_ratio(0);
        let mut r = LayerReader::new(Compression::Gzip, &bomb[..], "fine", None, limits, OutputBudget::new());
        assert_eq!(count_all(&mut r).unwrap(), 320 << 20, "without the ratio cap it decodes");
        let mut r =
            LayerReader::new(Compression::Gzip, &b"\x1f\x8bnot gzip"[..], "bad", None, limits, OutputBudget::new());
        let e = count_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("layer bad: cannot decompress"), "{e}");
    }

    #[test]
    fn an_os_error_of_the_source_stays_io() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(5))
            }
        }
        for c in [Compression::None, Compression::Gzip] {
            let mut r = LayerReader::new(c, Failing, "disk", None, DecompressionLimits::new(), OutputBudget::new());
            let e = count_all(&mut r).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Io, "{c:?}: {e}");
            assert!(e.to_string().contains("layer disk: reading"), "{c:?}: {e}");
        }
    }
}
