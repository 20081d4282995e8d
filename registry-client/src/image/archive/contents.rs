//! What an opened archive holds, whatever its format: its tags (by repository, the root's under `""`), the
//! manifests generated for it (docker-archive) and its blobs. The archive clients answer from this.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use registry_core::manifest::{Manifest, MAX_MANIFEST_SIZE};
use registry_core::{Digest, Error, ErrorKind, Result};

use crate::image::archive::blobs::ArchiveBlobs;
use crate::image::compression::Compression;

/// What a tag points at: a manifest digest and, when the archive says it, its media type.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) digest: Digest,
    pub(crate) media_type: Option<String>,
}

/// An opened archive's tags, manifests and blobs.
#[derive(Debug)]
pub(crate) struct Contents {
    /// Repository (`""` for the root, `host/org/app`, as the archive names it) -> tag -> target.
    tags: BTreeMap<String, BTreeMap<String, Target>>,
    /// Manifests made at open (docker-archive's), by digest; others are read from the blobs on demand.
    manifests: HashMap<Digest, Manifest>,
    blobs: Arc<ArchiveBlobs>,
}

/// `name` (`repo:tag`, `host:port/org/app:tag`, or a bare `tag`) as (repository, tag); a bare tag is the root's.
pub(crate) fn split_name(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => ("", name),
    }
}

impl Contents {
    /// No tags and no manifests yet, over `blobs`.
    pub(crate) fn new(blobs: Arc<ArchiveBlobs>) -> Contents {
        Contents { tags: BTreeMap::new(), manifests: HashMap::new(), blobs }
    }

    /// How the archive is named in errors (`docker-archive:/path`).
    pub(crate) fn label(&self) -> &str {
        self.blobs.index().label()
    }

    /// The blobs.
    pub(crate) fn blobs(&self) -> &Arc<ArchiveBlobs> {
        &self.blobs
    }

    /// Keep `manifest` (made at open) for lookups by digest.
    pub(crate) fn add_manifest(&mut self, manifest: Manifest) {
        self.manifests.insert(manifest.digest().clone(), manifest);
    }

    /// Point `tag` of `repository` at `target`. `InvalidInput` when the archive already tagged another manifest
    /// so: an archive naming two images the same is ambiguous.
    pub(crate) fn add_tag(&mut self, repository: &str, tag: &str, target: Target) -> Result<()> {
        let label = self.blobs.index().label();
        let tags = self.tags.entry(repository.to_string()).or_default();
        if let Some(old) = tags.get(tag) {
            if old.digest != target.digest {
                return Err(Error::invalid_input(format!(
                    "{label}: {repository}:{tag} names two images ({} and {})",
                    old.digest, target.digest
                )));
            }
        }
        tags.insert(tag.to_string(), target);
        Ok(())
    }

    /// The tags of `repository`.
    pub(crate) fn tags(&self, repository: &str) -> Option<&BTreeMap<String, Target>> {
        self.tags.get(repository).filter(|t| !t.is_empty())
    }

    /// Every repository with tags (the root's `""` left out).
    pub(crate) fn repositories(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().filter(|(r, t)| !r.is_empty() && !t.is_empty()).map(|(r, _)| r.as_str())
    }

    /// The manifest `digest`, parsed under `media_type` when known: one made at open, else the blob of that
    /// digest read whole (at most [`MAX_MANIFEST_SIZE`] bytes) and checked. `NotFound` when the archive has no
    /// such manifest or blob; `DigestMismatch` when the bytes do not match; `Protocol`/`Unsupported` when they are
    /// no manifest this crate reads.
    pub(crate) async fn manifest(&self, digest: &Digest, media_type: Option<&str>) -> Result<Manifest> {
        if let Some(m) = self.manifests.get(digest) {
            return Ok(m.clone());
        }
        let label = self.label();
        let entry = self
            .blobs
            .get(digest)
            .filter(|e| e.compression == Compression::None)
            .ok_or_else(|| Error::not_found(format!("{label}: no manifest {digest} in the archive")))?;
        let member = &entry.member;
        let bytes = self.blobs.index().read_member(member, MAX_MANIFEST_SIZE).await?;
        if !digest.matches(&bytes) {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("{label}: member {member:?} does not match its digest {digest}"),
            ));
        }
        Manifest::parse(bytes, media_type).map_err(|e| e.context(format!("{label}: manifest {digest}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(split_name("app:v1"), ("app", "v1"));
        assert_eq!(split_name("localhost:5000/org/app:v1"), ("localhost:5000/org/app", "v1"));
        assert_eq!(split_name("localhost:5000/org/app"), ("", "localhost:5000/org/app"));
        assert_eq!(split_name("v1"), ("", "v1"));
    }
}
