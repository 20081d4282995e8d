//! [`OciArchiveWriter`]: writes images and indexes into an oci-archive (a tar of an OCI image layout, as skopeo's
//! `oci-archive:FILE:TAG` reads it), streaming each blob into the tar as it arrives.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use futures::StreamExt;
use oci_spec::image::Descriptor;
use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::{Digest, Error, Reference, Result, VerifyingStream};
use serde_json::json;

use crate::image::archive::sink_slot::SinkSlot;
use crate::image::blocking::stream_reader;
use crate::image::model::Image;
use crate::image::ref_names::{split_name, REF_NAME};

/// Writes an oci-archive: a tar holding an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`),
/// OCI image spec "Image Layout", as skopeo's `oci-archive:` transport reads and writes it.
///
/// Each blob (layers, configs, manifests, indexes) is written once, as it is (compressed layers stay compressed),
/// its digest checked as it streams in; `index.json` names each image or index added under its tag with the
/// `org.opencontainers.image.ref.name` annotation (a tag given again moves to the new manifest, as skopeo does).
/// Manifests and indexes keep their exact bytes, so their digests round-trip. [`finish`](Self::finish) writes
/// `oci-layout` and `index.json` last and renames the archive into place: until then, or after any error (which
/// ends the writer), nothing is at the path. Digests other than sha256 are `Unsupported`.
///
/// ```no_run
/// use registry_client::{index_of, ImageBuilder, OciArchiveWriter, Platform};
/// # async fn demo() -> registry_client::Result<()> {
/// let amd = ImageBuilder::new().layer(&b"a"[..]).build()?;
/// let arm = ImageBuilder::new().layer(&b"b"[..]).platform(Platform::new("linux", "arm64")).build()?;
/// let index = index_of(&[&amd, &arm])?;
/// let mut writer = OciArchiveWriter::create("/tmp/app-oci.tar").await?;
/// writer.add_index("v1", &index, &[amd.clone(), arm]).await?;
/// writer.add_image("amd64-only", &amd).await?;
/// writer.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OciArchiveWriter {
    slot: SinkSlot,
    blobs: HashSet<Digest>,
    entries: Vec<Descriptor>,
}

impl OciArchiveWriter {
    /// Start an oci-archive to be put at `path` (its directory must exist; a file there is replaced at
    /// [`finish`](Self::finish)). As [`FileTarget::of`](crate::FileTarget::of) says: a symbolic link is followed
    /// and its target replaced (the link stays); a FIFO or character device is opened (a FIFO waits for its
    /// reader) and streamed into as [`to_stream`](Self::to_stream) does. Refused before anything is written:
    /// `InvalidInput` when `path` is (or links to) a directory, a socket or a block device, `NotFound` when its
    /// directory does not exist; `Io` when no temporary file can be made beside it or a FIFO cannot be opened.
    pub async fn create(path: impl AsRef<Path>) -> Result<OciArchiveWriter> {
        let dest = path.as_ref().to_path_buf();
        let label = format!("oci-archive:{}", dest.display());
        let slot = SinkSlot::create(dest, label).await?;
        Ok(OciArchiveWriter { slot, blobs: HashSet::new(), entries: Vec::new() })
    }

    /// Write the archive straight into `file`, an open stream (stdout, a pipe, a device), named `name` in
    /// errors: no temporary file and no rename, so a failure part way leaves a truncated archive in the stream
    /// (the reader must check the exit status). Blobs go in as they are, streamed.
    pub fn to_stream(file: std::fs::File, name: &str) -> OciArchiveWriter {
        let label = format!("oci-archive:{name}");
        let slot = SinkSlot::stream(file, label);
        OciArchiveWriter { slot, blobs: HashSet::new(), entries: Vec::new() }
    }

    /// `InvalidInput` unless `tag` is a tag (`v1`) or `repo:tag` (`example.com/app:v1`).
    fn check_name(&self, tag: &str) -> Result<()> {
        let (repo, bare) = split_name(tag);
        let valid = Reference::check_tag(bare).is_ok() && (repo.is_empty() || Reference::parse(tag).is_ok());
        if !valid {
            return Err(Error::invalid_input(format!(
                "{}: {tag:?} is neither a tag (v1) nor repo:tag (example.com/app:v1)",
                self.slot.label()
            )));
        }
        Ok(())
    }

    /// Add `image` (its layers, config and manifest) under `tag` (`v1`, or `repo:tag`, which readers find under
    /// that repository). Errors: `InvalidInput` for a malformed tag (nothing written); while writing (the writer
    /// then ends), `DigestMismatch` when a blob's bytes do not match its descriptor, `Unsupported` for a
    /// non-sha256 digest, and the source's own errors.
    pub async fn add_image(&mut self, tag: &str, image: &Image) -> Result<()> {
        self.check_name(tag)?;
        self.write_image(image).await?;
        self.name(tag, image.raw_manifest())
    }

    /// Add the index `index` under `tag`, with `children`, the images it lists (each written like
    /// [`add_image`](Self::add_image), untagged), then the index itself with its exact bytes. `InvalidInput`
    /// before anything is written when `index` is no index, an entry is not among `children`, or the tag is
    /// malformed; while writing, as `add_image`.
    pub async fn add_index(&mut self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()> {
        self.check_name(tag)?;
        let label = self.slot.label().to_string();
        let entries = index
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{label}: {} is not an index", index.digest())))?
            .manifests();
        let by_digest: HashMap<&Digest, &Image> = children.iter().map(|c| (c.digest(), c)).collect();
        let mut ordered = Vec::with_capacity(entries.len());
        for entry in entries {
            let digest = descriptor_digest(entry)?;
            let child = by_digest.get(&digest).ok_or_else(|| {
                Error::invalid_input(format!("{label}: index entry {digest} is not among the images given"))
            })?;
            ordered.push(*child);
        }
        for child in ordered {
            self.write_image(child).await?;
        }
        self.write_manifest(index).await?;
        self.name(tag, index)
    }

    /// Point `tag` at `manifest` in `index.json`, moving it from another entry.
    fn name(&mut self, tag: &str, manifest: &Manifest) -> Result<()> {
        self.entries.retain(|e| e.annotations().as_ref().and_then(|a| a.get(REF_NAME)).is_none_or(|t| t != tag));
        let mut entry = manifest.descriptor()?;
        entry.set_annotations(Some(HashMap::from([(REF_NAME.to_string(), tag.to_string())])));
        self.entries.push(entry);
        Ok(())
    }

    async fn write_image(&mut self, image: &Image) -> Result<()> {
        for layer in image.layers().iter().chain(std::iter::once(image.config_descriptor())) {
            self.write_blob(image, layer).await?;
        }
        self.write_manifest(image.raw_manifest()).await
    }

    fn member(&self, digest: &Digest) -> Result<String> {
        if digest.algorithm().as_str() != "sha256" {
            return Err(Error::unsupported(format!(
                "{}: blob {digest}: only sha256 blobs are written",
                self.slot.label()
            )));
        }
        Ok(format!("blobs/sha256/{}", digest.hex()))
    }

    async fn write_blob(&mut self, image: &Image, desc: &Descriptor) -> Result<()> {
        let digest = descriptor_digest(desc)?;
        if self.blobs.contains(&digest) {
            return Ok(());
        }
        let member = self.member(&digest)?;
        // Unverified from the source and verified here, so the bytes are hashed once whatever the source.
        let size = desc.size();
        let what = format!("{} blob {digest}", self.slot.label());
        let verified = VerifyingStream::new(image.open_blob_unverified(desc, 0).await?, digest.clone(), Some(size))
            .map(move |piece| piece.map_err(|e| e.context(&what)));
        let reader = stream_reader(Box::pin(verified))?;
        self.slot.run(move |sink| sink.append_exact(&member, size, reader)).await?;
        self.blobs.insert(digest);
        Ok(())
    }

    async fn write_manifest(&mut self, manifest: &Manifest) -> Result<()> {
        let digest = manifest.digest().clone();
        if self.blobs.contains(&digest) {
            return Ok(());
        }
        let member = self.member(&digest)?;
        let bytes = manifest.bytes().clone();
        self.slot.run(move |sink| sink.append_bytes(&member, &bytes)).await?;
        self.blobs.insert(digest);
        Ok(())
    }

    /// Write `oci-layout` and `index.json`, end the tar and move it to its path. `Io` when the file cannot be
    /// written or renamed; `InvalidInput` when an earlier call failed (nothing is at the path then).
    pub async fn finish(mut self) -> Result<()> {
        let label = self.slot.label().to_string();
        let index = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": self.entries});
        let index =
            serde_json::to_vec(&index).map_err(|e| Error::invalid_input(format!("{label}: index.json: {e}")))?;
        self.slot
            .run(move |sink| {
                sink.append_bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
                sink.append_bytes("index.json", &index)
            })
            .await?;
        self.slot.finish().await
    }
}
