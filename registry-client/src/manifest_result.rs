//! [`ManifestResult`]: what `get_manifest` returns, an image manifest or an index.

use oci_spec::image::{ImageIndex, ImageManifest};
use registry_core::manifest::Manifest;
use registry_core::Digest;

/// A manifest as fetched: an image manifest or an index, with its exact bytes, media type and digest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestResult {
    manifest: Manifest,
}

impl ManifestResult {
    /// Wrap a parsed manifest.
    pub fn new(manifest: Manifest) -> ManifestResult {
        ManifestResult { manifest }
    }

    /// Whether it is an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        self.manifest.is_index()
    }

    /// Its digest.
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }

    /// Its media type.
    pub fn media_type(&self) -> &str {
        self.manifest.media_type()
    }

    /// Its exact bytes.
    pub fn bytes(&self) -> &[u8] {
        self.manifest.bytes()
    }

    /// The image manifest, if it is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        self.manifest.as_image()
    }

    /// The index, if it is one.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        self.manifest.as_index()
    }

    /// The underlying manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Unwrap into the underlying manifest.
    pub fn into_manifest(self) -> Manifest {
        self.manifest
    }
}
