//! [`Artifact`]: an OCI artifact (a signature, an SBOM, an attestation) as an image manifest with an
//! `artifactType`, usually a `subject` it refers to, and blobs; built in memory with [`ArtifactBuilder`] or made
//! from a manifest and a blob source, and pushed with `Client::push_artifact`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use oci_spec::image::{Descriptor, ImageManifest};
use registry_core::manifest::{descriptor, descriptor_digest, media_type, Manifest};
use registry_core::{ByteStream, Digest, Error, Result};
use serde_json::{json, Value};

use crate::image::model::{BlobSource, MemoryBlobs};

/// The media type of the empty JSON blob (`{}`), the config of artifacts that have none (OCI image spec 1.1).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty JSON blob's bytes.
pub const EMPTY_JSON: &[u8] = b"{}";

/// An OCI artifact: an image manifest with an `artifactType` and, usually, a `subject`, plus where its blobs come
/// from.
///
/// ```
/// use registry_client::{Artifact, ImageBuilder};
/// let image = ImageBuilder::new().layer(&b"app"[..]).build()?;
/// let signature = Artifact::builder("application/vnd.example.signature.v1")
///     .subject(image.raw_manifest().descriptor()?)
///     .layer(&b"signature bytes"[..], "application/octet-stream")
///     .annotation("org.opencontainers.image.created", "2024-01-01T00:00:00Z")
///     .build()?;
/// assert_eq!(signature.artifact_type(), "application/vnd.example.signature.v1");
/// assert_eq!(signature.subject_digest()?.as_ref(), Some(image.digest()));
/// # Ok::<(), registry_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Artifact {
    manifest: Manifest,
    image: ImageManifest,
    artifact_type: String,
    source: Arc<dyn BlobSource>,
}

impl fmt::Debug for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artifact")
            .field("digest", self.digest())
            .field("artifact_type", &self.artifact_type)
            .field("subject", &self.image.subject().as_ref().map(|s| s.digest().to_string()))
            .field("blobs", &self.blobs().len())
            .finish()
    }
}

impl Artifact {
    /// A builder for an artifact of `artifact_type` (a media type, e.g. `application/spdx+json`).
    pub fn builder(artifact_type: impl Into<String>) -> ArtifactBuilder {
        ArtifactBuilder {
            artifact_type: artifact_type.into(),
            subject: None,
            config: None,
            layers: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// An artifact from its manifest (an image manifest; its type is its `artifactType`, else its config's media
    /// type) and a source for its blobs, e.g. one read from a registry to copy it elsewhere.
    pub fn from_parts(manifest: Manifest, source: Arc<dyn BlobSource>) -> Result<Artifact> {
        let image = manifest
            .as_image()
            .ok_or_else(|| {
                Error::invalid_input(format!("{} is an index, not an artifact manifest", manifest.digest()))
            })?
            .clone();
        for d in std::iter::once(image.config()).chain(image.layers()).chain(image.subject()) {
            descriptor_digest(d)?;
        }
        let artifact_type = image
            .artifact_type()
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| image.config().media_type().to_string());
        Ok(Artifact { manifest, image, artifact_type, source })
    }

    /// The manifest's digest.
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }

    /// The manifest with its exact bytes and media type.
    pub fn raw_manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest, parsed.
    pub fn manifest(&self) -> &ImageManifest {
        &self.image
    }

    /// The artifact type: the manifest's `artifactType`, else its config's media type.
    pub fn artifact_type(&self) -> &str {
        &self.artifact_type
    }

    /// The manifest this artifact refers to, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        self.image.subject().as_ref()
    }

    /// The digest of [`Artifact::subject`], validated.
    pub fn subject_digest(&self) -> Result<Option<Digest>> {
        self.subject().map(descriptor_digest).transpose()
    }

    /// The blobs the manifest references: the config, then the layers.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        std::iter::once(self.image.config()).chain(self.image.layers()).collect()
    }

    /// The descriptor the referrers API lists for this artifact: media type, digest, size, `artifactType` and the
    /// manifest's annotations.
    pub fn descriptor(&self) -> Result<Descriptor> {
        referrer_descriptor(&self.manifest, &self.image)
    }

    /// Stream the blob of `descriptor` (the config or a layer), verified.
    pub async fn open_blob(&self, descriptor: &Descriptor) -> Result<ByteStream> {
        let digest = descriptor_digest(descriptor)?;
        self.source.open(&digest, descriptor.size()).await
    }

    /// Stream the blob of `descriptor` from byte `offset` on, for a consumer that checks the digest itself (see
    /// [`BlobSource::open_unverified`]).
    pub async fn open_blob_unverified(&self, descriptor: &Descriptor, offset: u64) -> Result<ByteStream> {
        let digest = descriptor_digest(descriptor)?;
        self.source.open_unverified(&digest, descriptor.size(), offset).await
    }

    /// The blob source.
    pub fn source(&self) -> &Arc<dyn BlobSource> {
        &self.source
    }
}

/// What the referrers API lists for `manifest` (parsed as `image`): media type, digest, size, `artifactType` (the
/// manifest's, else its config's media type) and the manifest's annotations.
fn referrer_descriptor(manifest: &Manifest, image: &ImageManifest) -> Result<Descriptor> {
    let mut d = manifest.descriptor()?;
    let artifact_type = image.artifact_type().clone().unwrap_or_else(|| image.config().media_type().clone());
    d.set_artifact_type(Some(artifact_type));
    d.set_annotations(image.annotations().clone().filter(|a| !a.is_empty()));
    Ok(d)
}

/// The subject of `manifest` and the descriptor its referrers list shows for it, when it is an image manifest with
/// a `subject` (see [`Artifact::descriptor`]); `None` otherwise.
pub(crate) fn as_referrer(manifest: &Manifest) -> Result<Option<(Digest, Descriptor)>> {
    let Some(image) = manifest.as_image() else { return Ok(None) };
    let Some(subject) = image.subject() else { return Ok(None) };
    Ok(Some((descriptor_digest(subject)?, referrer_descriptor(manifest, image)?)))
}

/// Builds an [`Artifact`] held in memory. Without a config the artifact gets the empty one
/// ([`EMPTY_MEDIA_TYPE`], `{}`); without layers, the empty blob as its one layer, as the OCI image spec advises.
#[derive(Clone)]
#[must_use]
pub struct ArtifactBuilder {
    artifact_type: String,
    subject: Option<Descriptor>,
    config: Option<(Bytes, String)>,
    layers: Vec<(Bytes, String)>,
    annotations: BTreeMap<String, String>,
}

/// The config and layers as their sizes and media types, never their content.
impl fmt::Debug for ArtifactBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sized = |(data, media_type): &(Bytes, String)| format!("{media_type} ({} bytes)", data.len());
        f.debug_struct("ArtifactBuilder")
            .field("artifact_type", &self.artifact_type)
            .field("subject", &self.subject.as_ref().map(|d| d.digest().to_string()))
            .field("config", &self.config.as_ref().map(sized))
            .field("layers", &self.layers.iter().map(sized).collect::<Vec<_>>())
            .field("annotations", &self.annotations)
            .finish()
    }
}

impl ArtifactBuilder {
    /// The manifest the artifact refers to (e.g. `image.raw_manifest().descriptor()?`, or
    /// `client.get_manifest("v1").await?.manifest().descriptor()?`).
    pub fn subject(mut self, subject: Descriptor) -> ArtifactBuilder {
        self.subject = Some(subject);
        self
    }

    /// Add a layer (a blob of the artifact) with these bytes and media type.
    pub fn layer(mut self, data: impl Into<Bytes>, media_type: impl Into<String>) -> ArtifactBuilder {
        self.layers.push((data.into(), media_type.into()));
        self
    }

    /// Set the config blob (default: the empty JSON blob).
    pub fn config(mut self, data: impl Into<Bytes>, media_type: impl Into<String>) -> ArtifactBuilder {
        self.config = Some((data.into(), media_type.into()));
        self
    }

    /// Set an annotation of the manifest (listed by the referrers API).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> ArtifactBuilder {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Build the artifact. Fails when the artifact type or a media type is not `type/subtype`.
    pub fn build(self) -> Result<Artifact> {
        check_media_type("artifact type", &self.artifact_type)?;
        let mut blobs = MemoryBlobs::new();
        let mut blob = |data: Bytes, mt: &str| -> Result<Value> {
            check_media_type("media type", mt)?;
            let size = data.len() as u64;
            let d = blobs.insert(data);
            serde_json::to_value(descriptor(mt, &d, size)?)
                .map_err(|e| Error::invalid_input(format!("cannot serialise descriptor: {e}")))
        };
        let (config_data, config_type) =
            self.config.unwrap_or_else(|| (Bytes::from_static(EMPTY_JSON), EMPTY_MEDIA_TYPE.to_string()));
        let config = blob(config_data, &config_type)?;
        let mut layers = Vec::new();
        for (data, mt) in self.layers {
            layers.push(blob(data, &mt)?);
        }
        if layers.is_empty() {
            layers.push(blob(Bytes::from_static(EMPTY_JSON), EMPTY_MEDIA_TYPE)?);
        }
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": self.artifact_type,
            "config": config,
            "layers": layers,
        });
        if let Some(s) = &self.subject {
            let digest = descriptor_digest(s)?;
            manifest["subject"] =
                json!({"mediaType": s.media_type().to_string(), "digest": digest.as_str(), "size": s.size()});
        }
        if !self.annotations.is_empty() {
            manifest["annotations"] = json!(self.annotations);
        }
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::invalid_input(format!("cannot serialise artifact manifest: {e}")))?;
        let manifest = Manifest::parse(bytes, Some(media_type::OCI_MANIFEST))?;
        Artifact::from_parts(manifest, Arc::new(blobs))
    }
}

/// `type/subtype`, as media types are.
fn check_media_type(what: &str, mt: &str) -> Result<()> {
    let valid = match mt.split_once('/') {
        Some((t, s)) => !t.is_empty() && !s.is_empty() && !s.contains('/') && mt.bytes().all(|b| b.is_ascii_graphic()),
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(format!("{what} {mt:?} is not a media type (type/subtype)")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use futures::TryStreamExt;
    use registry_core::ErrorKind;

    #[tokio::test]
    async fn built_artifact_is_consistent() {
        let subject = descriptor(media_type::OCI_MANIFEST, &Digest::sha256(b"subject"), 7).unwrap();
        let a = Artifact::builder("application/vnd.test.sig")
            .subject(subject.clone())
            .layer(&b"sig"[..], "application/octet-stream")
            .annotation("k", "v")
            .build()
            .unwrap();
        assert_eq!(a.digest(), &Digest::sha256(a.raw_manifest().bytes()));
        assert_eq!(a.subject_digest().unwrap(), Some(Digest::sha256(b"subject")));
        assert_eq!(a.blobs().len(), 2);
        assert_eq!(a.blobs()[0].media_type().to_string(), EMPTY_MEDIA_TYPE);
        let layer: Vec<Bytes> = a.open_blob(a.blobs()[1]).await.unwrap().try_collect().await.unwrap();
        assert_eq!(layer.concat(), b"sig");
        let d = a.descriptor().unwrap();
        assert_eq!(d.artifact_type().as_ref().map(|t| t.to_string()).as_deref(), Some("application/vnd.test.sig"));
        assert_eq!(d.annotations().as_ref().and_then(|m| m.get("k")).map(String::as_str), Some("v"));
        assert_eq!(d.size(), a.raw_manifest().size());

        // No layers: the empty blob stands in; no subject: none.
        let bare = Artifact::builder("application/vnd.test.bare").build().unwrap();
        assert_eq!(bare.blobs().len(), 2);
        assert!(bare.subject().is_none());
        assert!(bare.descriptor().unwrap().annotations().is_none());

        // Read back from its manifest alone.
        let again = Artifact::from_parts(a.raw_manifest().clone(), Arc::new(MemoryBlobs::new())).unwrap();
        assert_eq!(again.artifact_type(), "application/vnd.test.sig");
        for bad in ["", "text", "a/b/c", "a /b", "/b"] {
            let e = Artifact::builder(bad).build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }
}
