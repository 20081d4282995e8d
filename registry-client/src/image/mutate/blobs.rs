//! The blob source of a mutated image: the new layers from their temp files, every other blob from the base
//! image's source, whose repository it names, so a push to the same registry mounts or skips the base layers
//! instead of downloading and uploading them.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository, Result, VerifyingStream};

use crate::image::file_range::range_stream;
use crate::image::model::BlobSource;
use crate::image::mutate::layer_file::LayerFile;

/// New layers on disk over a base source.
#[derive(Debug)]
pub(crate) struct MutatedBlobs {
    added: HashMap<Digest, Arc<LayerFile>>,
    base: Arc<dyn BlobSource>,
}

impl MutatedBlobs {
    /// `added` layers (their temp files live as long as this source) over `base`.
    pub(crate) fn new(added: Vec<Arc<LayerFile>>, base: Arc<dyn BlobSource>) -> MutatedBlobs {
        MutatedBlobs { added: added.into_iter().map(|l| (l.digest().clone(), l)).collect(), base }
    }

    /// The temp file of `digest` from byte `offset` on, its size checked.
    async fn open_file(layer: &LayerFile, size: u64, offset: u64) -> Result<ByteStream> {
        if size != layer.size() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("layer {} is {} bytes, descriptor says {size}", layer.digest(), layer.size()),
            ));
        }
        let path = layer.path();
        let io = |e: std::io::Error| {
            Error::new(ErrorKind::Io, format!("cannot read the layer file {}: {e}", path.display())).with_source(e)
        };
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let start = offset.min(size);
        range_stream(file, start, size - start, format!("cannot read the layer file {}", path.display())).await
    }
}

#[async_trait::async_trait]
impl BlobSource for MutatedBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        match self.added.get(digest) {
            Some(layer) => {
                let raw = MutatedBlobs::open_file(layer, size, 0).await?;
                Ok(Box::pin(VerifyingStream::new(raw, digest.clone(), Some(size))))
            }
            None => self.base.open(digest, size).await,
        }
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        match self.added.get(digest) {
            Some(layer) => MutatedBlobs::open_file(layer, size, offset).await,
            None => self.base.open_unverified(digest, size, offset).await,
        }
    }

    fn repository(&self) -> Option<&Repository> {
        self.base.repository()
    }

    async fn read_to_bytes(&self, digest: &Digest, size: u64, max: usize) -> Result<Bytes> {
        if self.added.contains_key(digest) {
            if size > max as u64 {
                return Err(Error::unsupported(format!("blob {digest} is {size} bytes, over the {max} byte limit")));
            }
            let parts: Vec<Bytes> = self.open(digest, size).await?.try_collect().await?;
            return Ok(Bytes::from(parts.concat()));
        }
        self.base.read_to_bytes(digest, size, max).await
    }
}
