//! [`Image`]: a value holding a manifest, its config, its layer descriptors, and a handle that streams each blob
//! from wherever the image came from (a registry, or memory), verified.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
use registry_core::api::RegistryApi;
use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository, Result};

use crate::image::platform::Platform;
use crate::transfer::Transfers;

/// The largest image config read into memory.
pub const MAX_CONFIG_SIZE: usize = 8 * 1024 * 1024;

/// Where an image's blobs come from. Implementations return streams that are verified against the digest and
/// size they are asked for.
#[async_trait::async_trait]
pub trait BlobSource: Send + Sync + fmt::Debug {
    /// Open the blob `digest` of `size` bytes as a verified stream.
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream>;

    /// Open the blob `digest` of `size` bytes from byte `offset` on, for a consumer that checks the digest itself:
    /// an upload, which hashes what it sends and compares before committing, and reads the blob again from the
    /// registry's offset when a chunk failed part way. The size must still be right: a stream that ends early or
    /// runs long is an error. A source that can skip hashing (a registry) or seek (memory) should implement this;
    /// the default opens the verified stream and drops the first `offset` bytes.
    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        Ok(registry_core::skip_bytes(self.open(digest, size).await?, offset))
    }

    /// The registry repository the blobs are read from, when they come from one: a push to another repository
    /// of the same registry then asks the registry to mount each blob from there instead of uploading it.
    fn repository(&self) -> Option<&Repository> {
        None
    }

    /// Read the small blob `digest` of `size` bytes (an image config) whole into memory, verified. `Unsupported`
    /// when `size` is over `max` bytes (nothing is read). Such reads are no layer transfers: a source that reports
    /// progress does not report them. The default collects [`BlobSource::open`].
    async fn read_to_bytes(&self, digest: &Digest, size: u64, max: usize) -> Result<Bytes> {
        if size > max as u64 {
            return Err(Error::unsupported(format!("blob {digest} is {size} bytes, over the {max} byte limit")));
        }
        collect_blob(self.open(digest, size).await?, digest, size).await
    }
}

/// The whole of `stream`, the blob `digest` of `size` bytes, in memory: never more than `size` bytes held, whatever
/// the stream sends (`DigestMismatch` past it; the stream itself checks the digest and a short end).
async fn collect_blob(mut stream: ByteStream, digest: &Digest, size: u64) -> Result<Bytes> {
    let mut out = bytes::BytesMut::with_capacity(usize::try_from(size.min(64 << 20)).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (out.len() as u64).saturating_add(chunk.len() as u64) > size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("blob {digest}: the source sent more than the {size} bytes its descriptor says"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// `data` from byte `offset` on, in slices of at most `piece` bytes (cheap: they share the buffer).
pub fn slices_from(data: &Bytes, offset: u64, piece: usize) -> ByteStream {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
    let pieces: Vec<Result<Bytes>> = (start..data.len())
        .step_by(piece.max(1))
        .map(|i| Ok(data.slice(i..i.saturating_add(piece.max(1)).min(data.len()))))
        .collect();
    Box::pin(futures::stream::iter(pieces))
}

/// Blobs held in memory, keyed by their digest (computed on insert, so always right). `Debug` shows how many
/// blobs and their total bytes, never their content.
#[derive(Default, Clone)]
pub struct MemoryBlobs {
    blobs: HashMap<Digest, Bytes>,
}

impl fmt::Debug for MemoryBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.blobs.values().fold(0u64, |n, b| n.saturating_add(b.len() as u64));
        f.debug_struct("MemoryBlobs").field("blobs", &self.blobs.len()).field("bytes", &bytes).finish()
    }
}

impl MemoryBlobs {
    /// No blobs.
    pub fn new() -> MemoryBlobs {
        MemoryBlobs::default()
    }

    /// Add a blob; returns its digest.
    pub fn insert(&mut self, data: Bytes) -> Digest {
        let d = Digest::sha256(&data);
        self.blobs.insert(d.clone(), data);
        d
    }

    /// A blob by digest.
    pub fn get(&self, digest: &Digest) -> Option<&Bytes> {
        self.blobs.get(digest)
    }
}

#[async_trait::async_trait]
impl BlobSource for MemoryBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        self.open_unverified(digest, size, 0).await
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        let data = self.blobs.get(digest).ok_or_else(|| Error::not_found(format!("blob {digest} not in memory")))?;
        if data.len() as u64 != size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("blob {digest} is {} bytes, descriptor says {size}", data.len()),
            ));
        }
        // Digests are computed on insert: the content is right.
        Ok(slices_from(data, offset, 1 << 20))
    }
}

/// Blobs of a repository on a registry, streamed and verified.
#[derive(Debug, Clone)]
pub struct RemoteBlobs {
    api: RegistryApi,
    repository: Repository,
    /// Where reads report progress (the client's transfer options).
    transfers: Option<Arc<Transfers>>,
}

impl RemoteBlobs {
    /// Blobs of `repository` through `api`.
    pub fn new(api: RegistryApi, repository: Repository) -> RemoteBlobs {
        RemoteBlobs { api, repository, transfers: None }
    }

    /// The same, reporting each read to the progress callback of `transfers`.
    pub(crate) fn reporting(mut self, transfers: Arc<Transfers>) -> RemoteBlobs {
        self.transfers = Some(transfers);
        self
    }

    fn tracked(&self, stream: ByteStream, digest: &Digest, size: u64, offset: u64) -> ByteStream {
        match &self.transfers {
            Some(t) => t.download(digest, size).track(stream, offset),
            None => stream,
        }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }
}

#[async_trait::async_trait]
impl BlobSource for RemoteBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        let stream = self.api.get_blob(&self.repository, digest, Some(size)).await?;
        Ok(self.tracked(stream, digest, size, 0))
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        let stream = self.api.get_blob_unverified(&self.repository, digest, size, offset).await?;
        Ok(self.tracked(stream, digest, size, offset))
    }

    fn repository(&self) -> Option<&Repository> {
        Some(&self.repository)
    }

    /// One capped GET, verified, not reported as a download (a config is no layer).
    async fn read_to_bytes(&self, digest: &Digest, size: u64, max: usize) -> Result<Bytes> {
        self.api.get_blob_bytes(&self.repository, digest, Some(size), max).await
    }
}

/// An image: manifest, config, layer descriptors, and where its blobs come from.
///
/// An image is itself the [`BlobSource`] of all its blobs: the config from memory, the layers from its source
/// (whose repository it names, to mount from), e.g. for `Client::push_blob`.
#[derive(Clone)]
pub struct Image {
    manifest: Manifest,
    /// The parsed image manifest (the same content as `manifest`, which may only be an image).
    image: ImageManifest,
    config_digest: Digest,
    config_bytes: Bytes,
    config: ImageConfiguration,
    source: Arc<dyn BlobSource>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("digest", self.digest())
            .field("media_type", &self.manifest.media_type())
            .field("layers", &self.layers().len())
            .field("source", &self.source)
            .finish()
    }
}

impl Image {
    /// An image from its manifest (must be an image manifest, not an index), its config bytes (verified against
    /// the manifest's config descriptor) and a blob source for its layers.
    ///
    /// Errors: `InvalidInput` for an index; `DigestMismatch` when the config bytes do not match the descriptor;
    /// `Unsupported` ("`<digest>` is an artifact (config type X), not an image") when the config is of another
    /// media type than an image config's and does not parse as one (an artifact: `{}`, a Helm chart's config);
    /// `Protocol` when an image config type does not parse.
    pub fn from_parts(manifest: Manifest, config_bytes: Bytes, source: Arc<dyn BlobSource>) -> Result<Image> {
        let m = manifest
            .as_image()
            .ok_or_else(|| Error::invalid_input(format!("{} is an index, not an image manifest", manifest.digest())))?
            .clone();
        let desc = m.config();
        let cfg_digest = descriptor_digest(desc)?;
        if !cfg_digest.matches(&config_bytes) || desc.size() != config_bytes.len() as u64 {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("config does not match its descriptor {cfg_digest} ({} bytes)", desc.size()),
            ));
        }
        for layer in m.layers() {
            descriptor_digest(layer)?;
        }
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes).map_err(|e| {
            let config_type = desc.media_type().to_string();
            // A config of another type that does not parse as an image configuration is an artifact's.
            if media_type::is_image_config(&config_type) {
                Error::protocol(format!("image config {cfg_digest} is not a valid image configuration: {e}"))
            } else {
                Error::unsupported(format!(
                    "{} is an artifact (config type {config_type}), not an image",
                    manifest.digest()
                ))
            }
        })?;
        Ok(Image { manifest, image: m, config_digest: cfg_digest, config_bytes, config, source })
    }

    /// The manifest's digest.
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }

    /// The image manifest.
    pub fn manifest(&self) -> &ImageManifest {
        &self.image
    }

    /// The manifest with its exact bytes and media type.
    pub fn raw_manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's media type.
    pub fn media_type(&self) -> &str {
        self.manifest.media_type()
    }

    /// The config.
    pub fn config(&self) -> &ImageConfiguration {
        &self.config
    }

    /// The config's `rootfs.diff_ids`, one per layer, in layer order. `InvalidInput` naming the image when the
    /// counts differ or one is no digest.
    pub(crate) fn diff_ids(&self) -> Result<Vec<Digest>> {
        let listed = self.config.rootfs().diff_ids();
        if listed.len() != self.layers().len() {
            return Err(Error::invalid_input(format!(
                "image {}: the manifest has {} layers, the config's rootfs.diff_ids {} entries",
                self.digest(),
                self.layers().len(),
                listed.len()
            )));
        }
        listed
            .iter()
            .map(|d| {
                Digest::parse(d).map_err(|e| {
                    Error::invalid_input(format!("image {}: config diff_id {d:?} is no digest: {e}", self.digest()))
                })
            })
            .collect()
    }

    /// The config's exact bytes.
    pub fn config_bytes(&self) -> &Bytes {
        &self.config_bytes
    }

    /// The config's descriptor.
    pub fn config_descriptor(&self) -> &Descriptor {
        self.manifest().config()
    }

    /// The layer descriptors, base first.
    pub fn layers(&self) -> &[Descriptor] {
        self.manifest().layers()
    }

    /// The image's platform, from its config.
    pub fn platform(&self) -> Platform {
        let p = Platform::new(self.config.os().to_string(), self.config.architecture().to_string());
        match self.config.variant() {
            Some(v) => p.with_variant(v.clone()),
            None => p,
        }
    }

    /// The blob source.
    pub fn source(&self) -> &Arc<dyn BlobSource> {
        &self.source
    }

    /// Stream the blob of `descriptor` (a layer, or the config), verified.
    pub async fn open_blob(&self, descriptor: &Descriptor) -> Result<ByteStream> {
        let digest = descriptor_digest(descriptor)?;
        if digest == self.config_digest {
            let data = self.config_bytes.clone();
            return Ok(Box::pin(futures::stream::once(async move { Ok(data) })));
        }
        self.source.open(&digest, descriptor.size()).await
    }

    /// Stream the blob of `descriptor` from byte `offset` on, for a consumer that checks the digest itself (see
    /// [`BlobSource::open_unverified`]).
    pub async fn open_blob_unverified(&self, descriptor: &Descriptor, offset: u64) -> Result<ByteStream> {
        let digest = descriptor_digest(descriptor)?;
        if digest == self.config_digest {
            return Ok(slices_from(&self.config_bytes, offset, usize::MAX));
        }
        self.source.open_unverified(&digest, descriptor.size(), offset).await
    }

    /// Read a whole blob into memory (for small blobs; layers should be streamed with [`Image::open_blob`]).
    pub async fn blob_bytes(&self, descriptor: &Descriptor) -> Result<Bytes> {
        let digest = descriptor_digest(descriptor)?;
        collect_blob(self.open_blob(descriptor).await?, &digest, descriptor.size()).await
    }
}

/// The image's config from memory, its other blobs from its source.
#[async_trait::async_trait]
impl BlobSource for Image {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        if digest == &self.config_digest {
            return self.open_unverified(digest, size, 0).await;
        }
        self.source.open(digest, size).await
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        if digest == &self.config_digest {
            if size != self.config_bytes.len() as u64 {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("config {digest} is {} bytes, descriptor says {size}", self.config_bytes.len()),
                ));
            }
            return Ok(slices_from(&self.config_bytes, offset, usize::MAX));
        }
        self.source.open_unverified(digest, size, offset).await
    }

    fn repository(&self) -> Option<&Repository> {
        self.source.repository()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    /// A source with only the verified `open`: the default `open_unverified` skips the prefix.
    #[derive(Debug)]
    struct OnlyOpen(MemoryBlobs);

    #[async_trait::async_trait]
    impl BlobSource for OnlyOpen {
        async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
            // Pieces of 3 bytes, so offsets fall inside pieces and on their edges.
            let data = self.0.get(digest).cloned().unwrap_or_default();
            assert_eq!(data.len() as u64, size);
            Ok(slices_from(&data, 0, 3))
        }
    }

    #[tokio::test]
    async fn reads_from_an_offset() {
        let mut blobs = MemoryBlobs::new();
        let data = Bytes::from_static(b"0123456789");
        let d = blobs.insert(data.clone());
        let default = OnlyOpen(blobs.clone());
        for offset in 0..=10u64 {
            let want = &data[offset as usize..];
            for source in [&blobs as &dyn BlobSource, &default] {
                let got: Vec<Bytes> =
                    source.open_unverified(&d, 10, offset).await.unwrap().try_collect().await.unwrap();
                assert_eq!(got.concat(), want, "offset {offset} of {source:?}");
                assert!(got.iter().all(|p| !p.is_empty()), "no empty pieces: {got:?}");
            }
        }
        let e = blobs.open_unverified(&d, 11, 0).await.err().map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::DigestMismatch), "a wrong size is refused");
    }

    /// A source that sends endless bytes whatever it is asked for.
    #[derive(Debug)]
    struct Endless;

    #[async_trait::async_trait]
    impl BlobSource for Endless {
        async fn open(&self, _: &Digest, _: u64) -> Result<ByteStream> {
            Ok(Box::pin(futures::stream::repeat_with(|| Ok(Bytes::from_static(&[7u8; 4096])))))
        }
    }

    #[tokio::test]
    async fn read_to_bytes_holds_no_more_than_the_size() {
        let d = Digest::sha256(b"small config");
        let e = Endless.read_to_bytes(&d, 10_000, 1 << 20).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        assert!(e.to_string().contains("more than the 10000 bytes"), "{e}");
        let e = Endless.read_to_bytes(&d, 2 << 20, 1 << 20).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "over the cap, nothing read: {e}");
        let mut blobs = MemoryBlobs::new();
        let ok = blobs.insert(Bytes::from_static(b"0123456789"));
        assert_eq!(blobs.read_to_bytes(&ok, 10, 100).await.unwrap(), Bytes::from_static(b"0123456789"));
    }

    /// A manifest whose config is `config` of type `config_type`, no layers.
    fn manifest_with_config(config: &[u8], config_type: &str) -> Manifest {
        let digest = Digest::sha256(config);
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{config_type}","digest":"{digest}","size":{}}},"layers":[]}}"#,
            config.len()
        );
        Manifest::parse(json.into_bytes(), Some("application/vnd.oci.image.manifest.v1+json")).unwrap()
    }

    #[test]
    fn an_artifact_is_no_image_and_a_broken_image_config_is_a_protocol_error() {
        let source: Arc<dyn BlobSource> = Arc::new(MemoryBlobs::new());
        let empty = "application/vnd.oci.empty.v1+json";
        let artifact = manifest_with_config(b"{}", empty);
        let e = Image::from_parts(artifact.clone(), Bytes::from_static(b"{}"), source.clone()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string()
                .contains(&format!("{} is an artifact (config type {empty}), not an image", artifact.digest())),
            "{e}"
        );
        let oci = "application/vnd.oci.image.config.v1+json";
        let broken = manifest_with_config(b"{}", oci);
        let e = Image::from_parts(broken, Bytes::from_static(b"{}"), source.clone()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let image = manifest_with_config(config, oci);
        assert!(Image::from_parts(image, Bytes::from_static(config), source).is_ok());
    }
}
