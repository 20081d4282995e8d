//! Images of generated layers for the benchmarks: deterministic, incompressible bytes (xorshift64*) made chunk by
//! chunk as they are sent, never held in memory, so a benchmark seeds gigabytes with flat memory.
//!
//! A [`GeneratedLayer`] is a seed and a size (its digest computed once, by generating it); layers can be shared by
//! many images, which is how the sync benchmark builds images over common base layers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use registry_client::core::manifest::{media_type, Manifest};
use registry_client::core::{Algorithm, ByteStream, DigestHasher};
use registry_client::{async_trait, BlobSource, Digest, Image, Result};
use serde_json::json;

/// Bytes per generated chunk (1 MiB).
const CHUNK: usize = 1 << 20;

/// Deterministic, incompressible bytes (xorshift64*) of a given length, in chunks of at most 1 MiB.
#[derive(Debug)]
pub struct Generator {
    state: u64,
    left: u64,
}

impl Generator {
    /// `len` bytes from `seed` (the same seed and length always give the same bytes).
    pub fn new(seed: u64, len: u64) -> Generator {
        Generator { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, left: len }
    }

    /// The next chunk (at most 1 MiB), `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let n = self.left.min(CHUNK as u64) as usize;
        let mut out = Vec::with_capacity(n.next_multiple_of(8));
        while out.len() < n {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            out.extend_from_slice(&self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.truncate(n);
        self.left -= n as u64;
        Some(Bytes::from(out))
    }
}

impl Stream for Generator {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        Poll::Ready(self.next_chunk().map(Ok))
    }
}

/// One generated layer: its SHA-256 digest, the seed of its bytes and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedLayer {
    /// `sha256:<hex>` of the bytes.
    pub digest: Digest,
    /// The [`Generator`] seed.
    pub seed: u64,
    /// Size, bytes.
    pub size: u64,
}

impl GeneratedLayer {
    /// The layer of `size` bytes from `seed`, hashed once here (by generating it).
    pub fn new(seed: u64, size: u64) -> GeneratedLayer {
        let mut g = Generator::new(seed, size);
        let mut h = DigestHasher::new(Algorithm::Sha256);
        while let Some(c) = g.next_chunk() {
            h.update(&c);
        }
        GeneratedLayer { digest: h.finish(), seed, size }
    }
}

/// The [`BlobSource`] of an image's generated layers.
#[derive(Debug)]
struct GeneratedBlobs {
    layers: Vec<GeneratedLayer>,
}

#[async_trait]
impl BlobSource for GeneratedBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        let layer =
            self.layers.iter().find(|l| &l.digest == digest && l.size == size).ok_or_else(|| {
                registry_client::Error::not_found(format!("no generated blob {digest} of {size} bytes"))
            })?;
        Ok(Box::pin(Generator::new(layer.seed, layer.size)))
    }
}

/// An OCI image (linux/amd64) of these layers in order; `label` goes into its config (label `bench.seed`), so two
/// images with the same layers and different labels have different digests.
///
/// # Panics
/// Never for valid layers (the manifest is built here, then parsed).
#[allow(clippy::unwrap_used)]
pub fn generated_image(label: &str, layers: &[GeneratedLayer]) -> Image {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"bench.seed": label}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>()},
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": media_type::OCI_LAYER_TAR, "digest": l.digest.to_string(), "size": l.size})).collect::<Vec<_>>(),
    });
    let manifest = Manifest::parse(serde_json::to_vec(&manifest).unwrap(), Some(media_type::OCI_MANIFEST)).unwrap();
    Image::from_parts(manifest, config, Arc::new(GeneratedBlobs { layers: layers.to_vec() })).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_deterministic_and_distinct() {
        let a = GeneratedLayer::new(7, 3 * CHUNK as u64 + 5);
        assert_eq!(a, GeneratedLayer::new(7, 3 * CHUNK as u64 + 5));
        assert_ne!(a.digest, GeneratedLayer::new(8, 3 * CHUNK as u64 + 5).digest);
        let mut g = Generator::new(7, 3 * CHUNK as u64 + 5);
        let sizes: Vec<usize> = std::iter::from_fn(|| g.next_chunk().map(|c| c.len())).collect();
        assert_eq!(sizes, vec![CHUNK, CHUNK, CHUNK, 5]);
    }
}
