//! The blobs of an archive as a [`BlobSource`]: each blob a byte range of the archive file, read with a seek and
//! verified against its digest and size; a docker-archive layer stored compressed is decompressed as it is read
//! (its digest there is the `diff_id`, as containers/image serves it).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use registry_core::{ByteStream, Digest, Error, ErrorKind, Result, VerifyingStream};

use crate::image::archive::tar_index::{Range, TarIndex};
use crate::image::blocking::from_io;
use crate::image::compression::{Compression, DecompressionLimits, LayerReader, OutputBudget};
use crate::image::file_range::range_stream;
use crate::image::model::BlobSource;

/// Bytes per read of a blob's range.
const PIECE: usize = 256 << 10;

/// Where one blob's bytes are in the archive.
#[derive(Debug, Clone)]
pub(crate) struct BlobEntry {
    /// The member holding it (its name, for errors).
    pub(crate) member: String,
    /// Its data range.
    pub(crate) range: Range,
    /// How the member is compressed; the blob is its uncompressed bytes.
    pub(crate) compression: Compression,
    /// The blob's size: the range's, or the uncompressed size.
    pub(crate) size: u64,
}

/// The blobs of one archive, by digest.
#[derive(Debug)]
pub(crate) struct ArchiveBlobs {
    index: Arc<TarIndex>,
    blobs: HashMap<Digest, BlobEntry>,
}

impl ArchiveBlobs {
    /// The blobs `blobs` of the archive `index`.
    pub(crate) fn new(index: Arc<TarIndex>, blobs: HashMap<Digest, BlobEntry>) -> ArchiveBlobs {
        ArchiveBlobs { index, blobs }
    }

    /// The archive.
    pub(crate) fn index(&self) -> &Arc<TarIndex> {
        &self.index
    }

    /// The entry of `digest`, if the archive has it.
    pub(crate) fn get(&self, digest: &Digest) -> Option<&BlobEntry> {
        self.blobs.get(digest)
    }

    fn entry(&self, digest: &Digest, size: u64) -> Result<&BlobEntry> {
        let entry = self
            .blobs
            .get(digest)
            .ok_or_else(|| Error::not_found(format!("{}: no blob {digest} in the archive", self.index.label())))?;
        if entry.size != size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: blob {digest} (member {:?}) is {} bytes, its descriptor says {size}",
                    self.index.label(),
                    entry.member,
                    entry.size
                ),
            ));
        }
        Ok(entry)
    }

    /// The raw bytes of `range` from `skip` bytes into it, exactly `range.size - skip` of them (an early end is an
    /// error naming the member).
    async fn raw(&self, entry: &BlobEntry, skip: u64) -> Result<ByteStream> {
        let what = format!("{}: member {:?}", self.index.label(), entry.member);
        let file = tokio::fs::File::open(self.index.path())
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("{what}: {e}")).with_source(e))?;
        let skip = skip.min(entry.range.size);
        range_stream(file, entry.range.offset.saturating_add(skip), entry.range.size - skip, what).await
    }

    /// The uncompressed bytes of a compressed member, decoded on a blocking thread, the `diff_id` (`digest`)
    /// checked at the end.
    fn decompressed(&self, entry: &BlobEntry, digest: &Digest) -> Result<ByteStream> {
        let reader = self.index.open_range_blocking(entry.range)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
        let (compression, digest, member) = (entry.compression, digest.clone(), entry.member.clone());
        let label = self.index.label().to_string();
        tokio::task::spawn_blocking(move || {
            let name = format!("{digest} ({label} member {member:?})");
            let mut layer = LayerReader::new(
                compression,
                reader,
                name.clone(),
                Some(digest),
                DecompressionLimits::default(),
                OutputBudget::new(),
            );
            loop {
                let mut buf = vec![0u8; PIECE];
                match layer.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            break; // the reader went away
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(from_io(e, &format!("layer {name}"))));
                        break;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })))
    }
}

#[async_trait::async_trait]
impl BlobSource for ArchiveBlobs {
    /// The blob, verified against `digest` and `size`. `NotFound` when the archive has no such blob;
    /// `DigestMismatch` (naming the archive and member) when the size differs from the archive's, or the bytes do
    /// not match.
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        let entry = self.entry(digest, size)?;
        if entry.compression != Compression::None {
            return self.decompressed(entry, digest);
        }
        let label = format!("{} member {:?}", self.index.label(), entry.member);
        let verified = VerifyingStream::new(self.raw(entry, 0).await?, digest.clone(), Some(size));
        Ok(Box::pin(verified.map(move |piece| piece.map_err(|e| e.context(&label)))))
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        let entry = self.entry(digest, size)?;
        if entry.compression != Compression::None {
            return Ok(registry_core::skip_bytes(self.decompressed(entry, digest)?, offset));
        }
        self.raw(entry, offset).await
    }
}
