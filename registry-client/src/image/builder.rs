//! Building images and indexes in memory: layers from bytes, labels, platform.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use registry_core::manifest::{media_type, Manifest};
use registry_core::{Digest, Error, Result};
use serde_json::json;

use crate::image::model::{Image, MemoryBlobs};
use crate::image::platform::Platform;

/// Builds an [`Image`] held in memory.
///
/// A layer is the bytes of a tar archive (here one file, `/hello.txt`), as a runtime or
/// [`Image::extract`] reads it:
///
/// ```
/// use registry_client::{ImageBuilder, Platform};
/// let mut tar = tar::Builder::new(Vec::new());
/// let mut header = tar::Header::new_gnu();
/// header.set_size(5);
/// header.set_mode(0o644);
/// tar.append_data(&mut header, "hello.txt", &b"hello"[..])?;
/// let image = ImageBuilder::new()
///     .layer(tar.into_inner()?)
///     .label("org.opencontainers.image.title", "demo")
///     .platform(Platform::new("linux", "arm64"))
///     .build()?;
/// assert_eq!(image.layers().len(), 1);
/// assert_eq!(image.platform().to_string(), "linux/arm64");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ImageBuilder {
    /// (bytes, media type, diff_id when it differs from the bytes' digest)
    layers: Vec<(Bytes, String, Option<Digest>)>,
    labels: BTreeMap<String, String>,
    platform: Platform,
    docker: bool,
    created: Option<String>,
}

/// The layers as their count and total bytes, never their content.
impl fmt::Debug for ImageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.layers.iter().fold(0u64, |n, l| n.saturating_add(l.0.len() as u64));
        f.debug_struct("ImageBuilder")
            .field("layers", &self.layers.len())
            .field("layer_bytes", &bytes)
            .field("labels", &self.labels)
            .field("platform", &self.platform)
            .field("docker", &self.docker)
            .field("created", &self.created)
            .finish()
    }
}

impl Default for ImageBuilder {
    fn default() -> ImageBuilder {
        ImageBuilder::new()
    }
}

impl ImageBuilder {
    /// An empty image for `linux/amd64` (set [`ImageBuilder::platform`] for another).
    pub fn new() -> ImageBuilder {
        ImageBuilder {
            layers: Vec::new(),
            labels: BTreeMap::new(),
            platform: Platform::new("linux", "amd64"),
            docker: false,
            created: None,
        }
    }

    /// Add an uncompressed layer: `data` is a tar archive (`application/vnd.oci.image.layer.v1.tar`). It is not
    /// checked here (an artifact may carry any bytes, see `layer_with_media_type`); bytes that are no tar make
    /// [`Image::extract`] fail with `InvalidInput` (`layer <digest> (i of n) is not a valid tar`).
    pub fn layer(self, data: impl Into<Bytes>) -> ImageBuilder {
        self.layer_with_media_type(data, media_type::OCI_LAYER_TAR)
    }

    /// Add an uncompressed layer with an explicit media type (its `diff_id` is the digest of `data`): a tar for an
    /// image's filesystem layer, any bytes for another media type.
    pub fn layer_with_media_type(mut self, data: impl Into<Bytes>, media_type: &str) -> ImageBuilder {
        self.layers.push((data.into(), media_type.to_string(), None));
        self
    }

    /// Add a compressed layer: `data` as stored (e.g. gzip), and `diff_id`, the digest of the uncompressed tar,
    /// which the config must list for runtimes to accept the image.
    pub fn compressed_layer(mut self, data: impl Into<Bytes>, media_type: &str, diff_id: Digest) -> ImageBuilder {
        self.layers.push((data.into(), media_type.to_string(), Some(diff_id)));
        self
    }

    /// Set a config label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> ImageBuilder {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Set the platform.
    pub fn platform(mut self, platform: Platform) -> ImageBuilder {
        self.platform = platform;
        self
    }

    /// Set the config's `created` time (RFC 3339).
    pub fn created(mut self, created: impl Into<String>) -> ImageBuilder {
        self.created = Some(created.into());
        self
    }

    /// Use Docker v2 media types for the manifest and config instead of OCI ones.
    pub fn docker_media_types(mut self) -> ImageBuilder {
        self.docker = true;
        self
    }

    /// Build the image.
    pub fn build(self) -> Result<Image> {
        let mut blobs = MemoryBlobs::new();
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (data, mt, diff_id) in &self.layers {
            let size = data.len();
            let d = blobs.insert(data.clone());
            diff_ids.push(diff_id.as_ref().unwrap_or(&d).to_string());
            let mt = if self.docker && mt == media_type::OCI_LAYER_TAR {
                "application/vnd.docker.image.rootfs.diff.tar"
            } else {
                mt.as_str()
            };
            layers.push(json!({"mediaType": mt, "digest": d.to_string(), "size": size}));
        }
        let mut config = json!({
            "architecture": self.platform.architecture(),
            "os": self.platform.os(),
            "config": {"Labels": self.labels},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if let Some(v) = self.platform.variant() {
            config["variant"] = json!(v);
        }
        if let Some(c) = &self.created {
            config["created"] = json!(c);
        }
        let config_bytes = Bytes::from(to_vec(&config)?);
        let config_digest = blobs.insert(config_bytes.clone());
        let (manifest_mt, config_mt) = if self.docker {
            (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG)
        } else {
            (media_type::OCI_MANIFEST, media_type::OCI_CONFIG)
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_mt,
            "config": {"mediaType": config_mt, "digest": config_digest.to_string(), "size": config_bytes.len()},
            "layers": layers,
        });
        let manifest = Manifest::parse(to_vec(&manifest)?, Some(manifest_mt))?;
        Image::from_parts(manifest, config_bytes, Arc::new(blobs))
    }
}

fn to_vec(v: &serde_json::Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::invalid_input(format!("cannot serialise: {e}")))
}

/// An OCI index over `images`, each entry carrying the image's platform.
pub fn index_of(images: &[&Image]) -> Result<Manifest> {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            let p = i.platform();
            let mut platform = json!({"os": p.os(), "architecture": p.architecture()});
            if let Some(v) = p.variant() {
                platform["variant"] = json!(v);
            }
            json!({
                "mediaType": i.media_type(),
                "digest": i.digest().to_string(),
                "size": i.raw_manifest().size(),
                "platform": platform,
            })
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests});
    Manifest::parse(to_vec(&index)?, Some(media_type::OCI_INDEX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn built_image_is_consistent() -> Result<()> {
        let img = ImageBuilder::new().layer(&b"aaa"[..]).layer(&b"bbbb"[..]).label("k", "v").build()?;
        assert_eq!(img.layers().len(), 2);
        assert_eq!(img.layers()[1].size(), 4);
        let data = img.blob_bytes(&img.layers()[0]).await?;
        assert_eq!(&data[..], b"aaa");
        assert_eq!(img.config().config().as_ref().and_then(|c| c.labels().clone()).map(|l| l.len()), Some(1));
        assert_eq!(img.digest(), &Digest::sha256(img.raw_manifest().bytes()));
        let gz = ImageBuilder::new()
            .compressed_layer(&b"\x1f\x8b..."[..], media_type::OCI_LAYER_GZIP, Digest::sha256(b"tar"))
            .build()?;
        assert_eq!(gz.config().rootfs().diff_ids(), &vec![Digest::sha256(b"tar").to_string()]);
        let other = ImageBuilder::new().platform(Platform::new("linux", "arm64").with_variant("v8")).build()?;
        let index = index_of(&[&img, &other])?;
        assert!(index.is_index());
        let picked = Platform::new("linux", "arm64").select(index.as_index().ok_or_else(|| Error::protocol("x"))?)?;
        assert_eq!(picked.digest().to_string(), other.digest().to_string());
        Ok(())
    }

    #[test]
    fn debug_shows_sizes_not_content() -> Result<()> {
        let layer = vec![b'q'; 30 << 10];
        let builder = ImageBuilder::new().layer(layer.clone()).layer(layer.clone()).label("k", "v");
        let shown = format!("{builder:?}");
        assert!(shown.len() < 300 && shown.contains("layers: 2") && shown.contains("layer_bytes: 61440"), "{shown}");
        let image = builder.build()?; // one layer blob (both are the same) and the config
        let shown = format!("{image:?}");
        assert!(shown.len() < 400 && shown.contains("MemoryBlobs { blobs: 2, bytes: 30975 }"), "{shown}");
        assert!(!shown.contains("qqqq"), "no content in {shown}");
        let mutation = image.mutate().append_layer_bytes(layer);
        let shown = format!("{mutation:?}");
        assert!(shown.len() < 2000 && shown.contains("Bytes(30720 bytes)"), "{shown}");
        assert!(!shown.contains("qqqq"), "no content in {shown}");
        let artifact =
            crate::image::artifact::Artifact::builder("application/vnd.test").layer(vec![b'q'; 30 << 10], "a/b");
        let shown = format!("{artifact:?}");
        assert!(shown.len() < 300 && shown.contains("a/b (30720 bytes)"), "{shown}");
        Ok(())
    }
}
