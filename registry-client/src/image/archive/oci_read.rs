//! [`OciArchive`]: an oci-archive (a tar of an OCI image layout, as skopeo's `oci-archive:` writes it) opened as a
//! read-only [`Client`](crate::Client), without unpacking it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use registry_core::manifest::{descriptor_digest, Manifest, MAX_MANIFEST_SIZE};
use registry_core::{Digest, Error, ErrorKind, Reference, Result};

use crate::image::archive::blobs::{ArchiveBlobs, BlobEntry};
use crate::image::archive::contents::{Contents, Target};
use crate::image::archive::read_client::{delegate_client, ArchiveClient};
use crate::image::archive::tar_index::TarIndex;
use crate::image::compression::Compression;
use crate::image::ref_names::{split_name, REF_NAME};

/// An oci-archive file (`skopeo copy .. oci-archive:FILE:TAG`) as a read-only [`Client`](crate::Client).
///
/// Tags are the `org.opencontainers.image.ref.name` annotations of `index.json`, as skopeo's `oci:` transport
/// reads them: a plain tag (`v1`) is a tag of the root client; a name of the form `repo:tag` (`example.com/app:v1`)
/// is tag `tag` of `with_segment("repo")`, repositories compared as docker normalises them (as
/// [`DockerArchive`](crate::DockerArchive) does: `docker.io/trial/app:v1` is reached by `with_segment("trial/app")`
/// too, and listed as `trial/app`); other names (no valid tag) are not reachable by name. A missing tag is
/// `NotFound` listing what the archive has. Every manifest of
/// the archive (each `index.json` entry, its children) is reachable by `"@<digest>"` at any scope, with its exact
/// bytes, so indexes keep their digests. Blobs (`blobs/<alg>/<hex>`) are byte ranges of the file, read with a
/// seek and verified. Writes are `Unsupported`, naming the archive.
///
/// ```no_run
/// use registry_client::{Client, OciArchive};
/// # async fn demo() -> registry_client::Result<()> {
/// let archive = OciArchive::open("/tmp/app-oci.tar").await?;
/// let index = archive.get_manifest("v1").await?;
/// println!("{} is an index: {}", index.digest(), index.is_index());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OciArchive {
    inner: ArchiveClient,
    index: Arc<Manifest>,
}

delegate_client!(OciArchive);

impl OciArchive {
    /// Open the oci-archive at `path`: one scan of its tar headers, then `oci-layout` and `index.json` read; each
    /// `index.json` entry is checked to be a blob of the archive of the size it says.
    ///
    /// Errors name the archive and the member: `NotFound` when the file does not exist; `InvalidInput` when it is
    /// a directory or no readable tar, lacks `oci-layout` or `index.json`, `index.json` is over 4 MiB or not an index, an entry
    /// names a blob the archive lacks, or a member name appears twice; `DigestMismatch` when an entry's size
    /// differs from its blob's; `Unsupported` for an `imageLayoutVersion` other than 1.x.
    pub async fn open(path: impl AsRef<Path>) -> Result<OciArchive> {
        let path = path.as_ref().to_path_buf();
        let label = format!("oci-archive:{}", path.display());
        let index = TarIndex::open(path, label.clone()).await?;
        for required in ["oci-layout", "index.json"] {
            if !index.contains(required) {
                return Err(Error::invalid_input(format!("{label}: not an OCI layout: no {required} member")));
            }
        }
        let layout = index.read_member("oci-layout", 64 << 10).await?;
        let version = serde_json::from_slice::<serde_json::Value>(&layout)
            .ok()
            .and_then(|v| v.get("imageLayoutVersion").and_then(|s| s.as_str()).map(str::to_string))
            .ok_or_else(|| Error::invalid_input(format!("{label}: oci-layout has no imageLayoutVersion")))?;
        if !version.starts_with("1.") {
            return Err(Error::unsupported(format!("{label}: imageLayoutVersion {version:?} (1.x is read)")));
        }
        let raw = index.read_member("index.json", MAX_MANIFEST_SIZE).await?;
        let top = Manifest::parse(raw, None)
            .map_err(|e| Error::invalid_input(format!("{label}: index.json is not an OCI index: {}", e.message())))?;
        let entries = top
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{label}: index.json is not an OCI index")))?
            .manifests()
            .clone();
        let blobs = blob_members(&index)?;
        let mut contents = Contents::new(Arc::new(ArchiveBlobs::new(index, blobs)));
        for entry in &entries {
            let digest = descriptor_digest(entry).map_err(|e| e.context(format!("{label}: index.json")))?;
            let Some(blob) = contents.blobs().get(&digest) else {
                let member = format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex());
                // A member that is there but unreadable (twice in the archive, not a file) says why.
                if contents.blobs().index().contains(&member) {
                    contents.blobs().index().find(&member)?;
                }
                return Err(Error::invalid_input(format!(
                    "{label}: index.json names {digest}, which is not in the archive"
                )));
            };
            if blob.size != entry.size() {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!(
                        "{label}: index.json says {digest} is {} bytes, member {:?} has {}",
                        entry.size(),
                        blob.member,
                        blob.size
                    ),
                ));
            }
            let Some(name) = entry.annotations().as_ref().and_then(|a| a.get(REF_NAME)) else {
                continue;
            };
            let (repository, tag) = split_name(name);
            if Reference::check_tag(tag).is_err() {
                continue; // a name that is no tag: reachable by digest only
            }
            let target = Target { digest, media_type: Some(entry.media_type().to_string()) };
            contents.add_tag(repository, tag, target)?;
        }
        Ok(OciArchive { inner: ArchiveClient::new(Arc::new(contents)), index: Arc::new(top) })
    }

    /// The archive's `index.json`, its exact bytes (every entry, named or not).
    pub fn index_json(&self) -> &Manifest {
        &self.index
    }
}

/// Every member `blobs/<alg>/<hex>` with a valid digest, as a blob (stored as is).
fn blob_members(index: &TarIndex) -> Result<HashMap<Digest, BlobEntry>> {
    let mut blobs = HashMap::new();
    for name in index.names() {
        let Some(rest) = name.strip_prefix("blobs/") else { continue };
        let Some((alg, hex)) = rest.split_once('/') else { continue };
        let Ok(digest) = Digest::parse(&format!("{alg}:{hex}")) else { continue };
        let Ok(range) = index.find(name) else {
            continue; // not a regular file, or twice in the archive: unreadable, so absent
        };
        let member = name.to_string();
        blobs.insert(digest, BlobEntry { member, range, compression: Compression::None, size: range.size });
    }
    Ok(blobs)
}
