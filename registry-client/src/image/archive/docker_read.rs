//! [`DockerArchive`]: a `docker save` archive (docker-archive, as `docker load` and skopeo's `docker-archive:`
//! read it) opened as a read-only [`Client`](crate::Client), without unpacking it.
//!
//! The format has no manifests: `manifest.json` lists each image's config file, its layer files (uncompressed
//! tars, base first) and its `RepoTags`. Each image gets a Docker v2 schema2 manifest whose config is the archive's
//! config file (its digest is the image ID docker shows) and whose layer digests are the config's `diff_ids`, sizes
//! the uncompressed sizes, media type `application/vnd.docker.image.rootfs.diff.tar`. What is kept is the config
//! digest and the `diff_ids`; the manifest digest is not: the registry's manifest (compressed layers and all) is
//! not in the archive, and other readers make other bytes (skopeo 1.9 labels the same uncompressed layers
//! `...diff.tar.gzip`), so compare images read from archives by config digest, not manifest digest. Both layouts of the files are read: the
//! classic one (`<hex>.json`, `<id>/layer.tar` or `<hex>.tar`) and docker 25's (`blobs/sha256/<hex>`), since
//! both are named from `manifest.json`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use registry_core::manifest::{media_type, Manifest};
use registry_core::{Digest, Error, Result};
use serde::{Deserialize, Serialize};

use crate::image::archive::blobs::{ArchiveBlobs, BlobEntry};
use crate::image::archive::contents::{Contents, Target};
use crate::image::archive::read_client::{delegate_client, ArchiveClient};
use crate::image::archive::tar_index::{Range, TarIndex};
use crate::image::blocking::{from_io, run_blocking};
use crate::image::compression::{Compression, DecompressionLimits, LayerReader, OutputBudget};
use crate::image::model::MAX_CONFIG_SIZE;
use crate::image::ref_names::split_name;

/// The largest `manifest.json` read (8 MiB: thousands of images).
pub(crate) const MAX_INDEX_FILE: usize = 8 << 20;

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ManifestItem {
    /// The config member.
    #[serde(rename = "Config")]
    pub(crate) config: String,
    /// `repo:tag` names (`null` or missing: untagged).
    #[serde(rename = "RepoTags", default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    /// The layer members, base first.
    #[serde(rename = "Layers")]
    pub(crate) layers: Vec<String>,
}

/// One image of a docker-archive, as [`DockerArchive::images`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerArchiveImage {
    /// The digest of the manifest made for it at open (not the registry's, not skopeo's: see [`DockerArchive`]):
    /// `get_manifest("@<digest>")` reaches it at any scope, tagged or not.
    pub manifest_digest: Digest,
    /// The digest of its config (`sha256:<hex>`; the image ID docker shows).
    pub config_digest: Digest,
    /// Its names as the archive gives them (`repo:tag`, `host:port/org/app:tag`), possibly none.
    pub repo_tags: Vec<String>,
}

/// A docker-archive file (`docker save`, `skopeo copy .. docker-archive:FILE`) as a read-only
/// [`Client`](crate::Client).
///
/// Tags are the archive's `RepoTags`: `org/app:v1` is tag `v1` of `with_segment("org/app")` (a `host:port/` prefix
/// included: `with_segment("localhost:5000/app")`). Repositories compare as docker normalises them (`docker.io/`
/// for a name without a host, `library/` for a one-component Docker Hub name): skopeo's
/// `docker.io/trial/app:v1` is reached by `with_segment("trial/app")` and `with_segment("docker.io/trial/app")`,
/// `ubuntu:22.04` also by `with_segment("docker.io/library/ubuntu")`. `list_repositories` from the root lists them
/// as docker shows them (`trial/app`, `ubuntu`, `localhost:5000/app`). A tag or repository the archive lacks is
/// `NotFound` listing the tags or repositories it has. Every image, tagged or not, is also reachable by `"@<manifest digest>"` at
/// any scope (see [`DockerArchive::images`]). Blobs are byte ranges of the file, read with a seek and verified; a
/// layer stored compressed (some tools write gzip layers) is decompressed as it is read, and was decompressed
/// once at open to learn its size. Writes (`push_*`, `put_manifest`, `tag_image`, deletes) are `Unsupported`,
/// naming the archive.
///
/// The archive holds no manifests: each image's Docker schema2 manifest is made at open, from its config file and
/// its layers (digests the config's `diff_ids`, sizes the uncompressed sizes, media type
/// `application/vnd.docker.image.rootfs.diff.tar`). The config digest (the image ID) and the `diff_ids` are the
/// archive's and match what docker and skopeo report; the manifest digest is this crate's own: the registry's
/// manifest is not in the archive, and skopeo 1.9 makes other bytes for the same archive (it labels the
/// uncompressed layers `...diff.tar.gzip`). Compare images read from archives by config digest.
///
/// ```no_run
/// use registry_client::{Client, DockerArchive, ImageOptions};
/// # async fn demo() -> registry_client::Result<()> {
/// let archive = DockerArchive::open("/tmp/app.tar").await?;
/// let image = archive.with_segment("org/app").get_image("v1", ImageOptions::default()).await?;
/// println!("{} layers, config {}", image.layers().len(), image.config_descriptor().digest());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DockerArchive {
    inner: ArchiveClient,
    images: Arc<Vec<DockerArchiveImage>>,
}

delegate_client!(DockerArchive);

/// A descriptor of the generated manifest, fields in containers/image's order (`mediaType`, `size`, `digest`).
/// The bytes still differ from skopeo's for the same archive (see the module doc: the layer media type), so only
/// the config digest and the `diff_ids` match what other tools report.
#[derive(Serialize)]
struct GeneratedDescriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
    digest: &'a str,
}

#[derive(Serialize)]
struct GeneratedManifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: GeneratedDescriptor<'a>,
    layers: Vec<GeneratedDescriptor<'a>>,
}

impl DockerArchive {
    /// Open the docker-archive at `path`: one scan of its tar headers, then `manifest.json` and each image's
    /// config read; layer files are checked to exist (and a compressed one decompressed once for its size).
    ///
    /// Errors name the archive and the member: `NotFound` when the file does not exist; `InvalidInput` when it is
    /// a directory or no readable tar, has no `manifest.json`, or that is over 8 MiB or not the expected JSON, names a member
    /// that is missing, absolute, escapes with `..` or appears twice, a config that is no image config or whose
    /// `diff_ids` disagree in number with the layers, a layer that is no tar, or a `RepoTags` entry that is no
    /// `repo:tag` or names two images; `DigestMismatch` when a compressed layer does not decompress to its
    /// `diff_id`.
    pub async fn open(path: impl AsRef<Path>) -> Result<DockerArchive> {
        let path = path.as_ref().to_path_buf();
        let label = format!("docker-archive:{}", path.display());
        let index = TarIndex::open(path, label.clone()).await?;
        let raw = index.read_member("manifest.json", MAX_INDEX_FILE).await?;
        let items: Vec<ManifestItem> = serde_json::from_slice(&raw).map_err(|e| {
            Error::invalid_input(format!("{label}: manifest.json is not a docker-archive manifest list: {e}"))
        })?;
        let mut blobs: HashMap<Digest, BlobEntry> = HashMap::new();
        let mut manifests = Vec::with_capacity(items.len());
        let mut images = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let (manifest, image) = read_image(&index, item, &mut blobs)
                .await
                .map_err(|e| e.context(format!("image {n} of manifest.json ({:?})", item.config)))?;
            manifests.push(manifest);
            images.push(image);
        }
        let mut contents = Contents::new(Arc::new(ArchiveBlobs::new(index, blobs)));
        for (manifest, image) in manifests.into_iter().zip(&images) {
            for name in &image.repo_tags {
                let (repository, tag) = split_name(name);
                if repository.is_empty() || registry_core::Reference::check_tag(tag).is_err() {
                    return Err(Error::invalid_input(format!("{label}: RepoTags entry {name:?} is not repo:tag")));
                }
                let target = Target { digest: manifest.digest().clone(), media_type: None };
                contents.add_tag(repository, tag, target)?;
            }
            contents.add_manifest(manifest);
        }
        Ok(DockerArchive { inner: ArchiveClient::new(Arc::new(contents)), images: Arc::new(images) })
    }

    /// Every image of the archive, in the order of its `manifest.json`.
    pub fn images(&self) -> &[DockerArchiveImage] {
        &self.images
    }
}

/// The image of `item`: its config read and checked, its layers registered in `blobs`, its manifest made.
async fn read_image(
    index: &Arc<TarIndex>,
    item: &ManifestItem,
    blobs: &mut HashMap<Digest, BlobEntry>,
) -> Result<(Manifest, DockerArchiveImage)> {
    let label = index.label();
    let config = index.read_member(&item.config, MAX_CONFIG_SIZE).await?;
    let config_digest = Digest::sha256(&config);
    let parsed: serde_json::Value = serde_json::from_slice(&config)
        .map_err(|e| Error::invalid_input(format!("{label}: config {:?} is not JSON: {e}", item.config)))?;
    let diff_ids: Vec<Digest> = parsed
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Error::invalid_input(format!("{label}: config {:?} has no rootfs.diff_ids", item.config)))?
        .iter()
        .map(|v| v.as_str().map(Digest::parse).unwrap_or_else(|| Err(Error::invalid_input("not a string"))))
        .collect::<Result<_>>()
        .map_err(|e| e.context(format!("{label}: config {:?}: a diff_id", item.config)))?;
    if diff_ids.len() != item.layers.len() {
        return Err(Error::invalid_input(format!(
            "{label}: manifest.json lists {} layers for config {:?}, whose rootfs has {} diff_ids",
            item.layers.len(),
            item.config,
            diff_ids.len()
        )));
    }
    let config_range = index.find(&item.config)?;
    blobs.entry(config_digest.clone()).or_insert_with(|| BlobEntry {
        member: item.config.clone(),
        range: config_range,
        compression: Compression::None,
        size: config_range.size,
    });
    let mut sizes = Vec::with_capacity(diff_ids.len());
    for (member, diff_id) in item.layers.iter().zip(&diff_ids) {
        if let Some(known) = blobs.get(diff_id) {
            sizes.push(known.size);
            continue;
        }
        let entry = layer_entry(index, member, diff_id).await?;
        sizes.push(entry.size);
        blobs.insert(diff_id.clone(), entry);
    }
    let config_digest_str = config_digest.to_string();
    let diff_strs: Vec<String> = diff_ids.iter().map(Digest::to_string).collect();
    let generated = GeneratedManifest {
        schema_version: 2,
        media_type: media_type::DOCKER_MANIFEST,
        config: GeneratedDescriptor {
            media_type: media_type::DOCKER_CONFIG,
            size: config.len() as u64,
            digest: &config_digest_str,
        },
        layers: diff_strs
            .iter()
            .zip(&sizes)
            .map(|(d, s)| GeneratedDescriptor { media_type: media_type::DOCKER_LAYER_TAR, size: *s, digest: d })
            .collect(),
    };
    let bytes = serde_json::to_vec(&generated)
        .map_err(|e| Error::invalid_input(format!("{label}: cannot serialise a manifest: {e}")))?;
    let manifest = Manifest::parse(bytes, Some(media_type::DOCKER_MANIFEST))?;
    let image = DockerArchiveImage {
        manifest_digest: manifest.digest().clone(),
        config_digest,
        repo_tags: item.repo_tags.clone().unwrap_or_default(),
    };
    Ok((manifest, image))
}

/// The size of a tar block, in bytes.
const TAR_BLOCK: usize = 512;

/// Whether `head`, the first bytes of an uncompressed layer, starts a tar archive: a full 512-byte block that is a
/// header whose checksum field (octal) equals the sum of its bytes with that field read as spaces (POSIX ustar,
/// GNU and v7 headers alike), or an all-zero end-of-archive block (an empty layer).
fn starts_like_a_tar(head: &[u8]) -> bool {
    let Some(block) = head.get(..TAR_BLOCK) else { return false };
    if block.iter().all(|b| *b == 0) {
        return true;
    }
    let field = &block[148..156];
    let digits: String =
        field.iter().map(|b| *b as char).skip_while(|c| *c == ' ').take_while(|c| c.is_digit(8)).collect();
    let Ok(want) = u32::from_str_radix(&digits, 8) else { return false };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(*b) })
        .sum();
    sum == want
}

/// Where layer `member` (of `diff_id`) is: an uncompressed tar as it is (its first block checked to be a tar's); a gzip or zstd one decompressed once, on
/// a blocking thread, for its size, its `diff_id` checked.
async fn layer_entry(index: &Arc<TarIndex>, member: &str, diff_id: &Digest) -> Result<BlobEntry> {
    let range = index.find(member)?;
    let head = index.read_range(Range { offset: range.offset, size: range.size.min(TAR_BLOCK as u64) }).await?;
    let compression = Compression::sniff(&head);
    if compression == Compression::None {
        if !starts_like_a_tar(&head) {
            return Err(Error::invalid_input(format!(
                "{}: layer {member:?} is no tar archive (its first 512 bytes are neither a tar header with a valid \
                 checksum nor an end-of-archive block)",
                index.label()
            )));
        }
        return Ok(BlobEntry { member: member.to_string(), range, compression, size: range.size });
    }
    let index = index.clone();
    let (member_name, diff) = (member.to_string(), diff_id.clone());
    let size = run_blocking(&format!("layer {member:?}: decompression stopped"), move || -> Result<u64> {
        let name = format!("{diff} ({} member {member_name:?})", index.label());
        let reader = index.open_range_blocking(range)?;
        let mut layer = LayerReader::new(
            compression,
            reader,
            name.clone(),
            Some(diff),
            DecompressionLimits::default(),
            OutputBudget::new(),
        );
        std::io::copy(&mut layer, &mut std::io::sink()).map_err(|e| from_io(e, &format!("layer {name}")))
    })
    .await?;
    Ok(BlobEntry { member: member.to_string(), range, compression, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_head_is_checked_to_be_a_tar() {
        let mut header = tar::Header::new_ustar();
        assert!(header.set_path("etc/hosts").is_ok());
        header.set_size(3);
        header.set_cksum();
        assert!(starts_like_a_tar(header.as_bytes()), "a ustar header");
        let mut gnu = tar::Header::new_gnu();
        assert!(gnu.set_path("a").is_ok());
        gnu.set_cksum();
        assert!(starts_like_a_tar(gnu.as_bytes()), "a GNU header");
        assert!(starts_like_a_tar(&[0u8; 1024]), "an empty tar");
        let mut bad = *header.as_bytes();
        bad[0] ^= 1;
        assert!(!starts_like_a_tar(&bad), "a wrong checksum");
        assert!(!starts_like_a_tar(&[b'x'; 512]), "text");
        assert!(!starts_like_a_tar(&header.as_bytes()[..511]), "short");
        assert!(!starts_like_a_tar(b""), "empty file");
    }
}
