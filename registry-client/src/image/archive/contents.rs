//! What an opened archive holds, whatever its format: its tags (by repository, the root's under `""`), the
//! manifests generated for it (docker-archive) and its blobs. The archive clients answer from this. Repository
//! names are compared as docker compares them (see `ref_names`): `trial/app` and `docker.io/trial/app` are one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use registry_core::manifest::{Manifest, MAX_MANIFEST_SIZE};
use registry_core::{Digest, Error, ErrorKind, Result};

use crate::image::archive::blobs::ArchiveBlobs;
use crate::image::compression::Compression;
use crate::image::ref_names::{familiar_name, repository_key, shown_list};

/// What a tag points at: a manifest digest and, when the archive says it, its media type.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) digest: Digest,
    pub(crate) media_type: Option<String>,
}

/// An opened archive's tags, manifests and blobs.
#[derive(Debug)]
pub(crate) struct Contents {
    /// Repository (`""` for the root, else its [`repository_key`]: `docker.io/trial/app`) -> tag -> target.
    tags: BTreeMap<String, BTreeMap<String, Target>>,
    /// Repository key -> how docker shows it ([`familiar_name`]: `trial/app`).
    familiar: BTreeMap<String, String>,
    /// Manifests made at open (docker-archive's), by digest; others are read from the blobs on demand.
    manifests: HashMap<Digest, Manifest>,
    blobs: Arc<ArchiveBlobs>,
}

impl Contents {
    /// No tags and no manifests yet, over `blobs`.
    pub(crate) fn new(blobs: Arc<ArchiveBlobs>) -> Contents {
        Contents { tags: BTreeMap::new(), familiar: BTreeMap::new(), manifests: HashMap::new(), blobs }
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

    /// Point `tag` of `repository` (as the archive spells it: `ubuntu`, `docker.io/library/ubuntu`) at `target`.
    /// `InvalidInput` when the archive already tagged another manifest so (under any spelling of the repository):
    /// an archive naming two images the same is ambiguous.
    pub(crate) fn add_tag(&mut self, repository: &str, tag: &str, target: Target) -> Result<()> {
        let label = self.blobs.index().label();
        let key = repository_key(repository);
        if !key.is_empty() {
            self.familiar.entry(key.clone()).or_insert_with(|| familiar_name(repository));
        }
        let tags = self.tags.entry(key).or_default();
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

    /// The tags of `repository`, however it is spelt (`trial/app` or `docker.io/trial/app`; `""`: the root's).
    pub(crate) fn tags(&self, repository: &str) -> Option<&BTreeMap<String, Target>> {
        self.tags.get(&repository_key(repository)).filter(|t| !t.is_empty())
    }

    /// Every repository with tags (the root's `""` left out), as (how docker shows it, its canonical form):
    /// (`trial/app`, `docker.io/trial/app`), sorted by the first.
    pub(crate) fn repositories(&self) -> Vec<(&str, &str)> {
        let mut all: Vec<(&str, &str)> = self
            .tags
            .iter()
            .filter(|(r, t)| !r.is_empty() && !t.is_empty())
            .map(|(r, _)| (self.familiar.get(r).map_or(r.as_str(), String::as_str), r.as_str()))
            .collect();
        all.sort_unstable();
        all
    }

    /// Why `tag` of `repository` (or, for `None`, the repository itself) is not in the archive, with what is:
    /// `no tag "v2" for trial/app in the archive (its tags: v1)`, `no repository x/y in the archive (it has:
    /// trial/app, ubuntu)`.
    pub(crate) fn missing(&self, repository: &str, tag: Option<&str>) -> String {
        let shown = if repository.is_empty() { "the archive's root".to_string() } else { familiar_name(repository) };
        match (self.tags(repository), tag) {
            (Some(tags), Some(tag)) => {
                format!(
                    "no tag {tag:?} for {shown} in the archive (its tags: {})",
                    shown_list(tags.keys().map(String::as_str))
                )
            }
            _ => {
                let names = self.repositories();
                let root = self.tags("").map(|t| shown_list(t.keys().map(String::as_str)));
                let mut why = match tag {
                    Some(tag) => format!("no tag {tag:?} for {shown} in the archive: "),
                    None => String::new(),
                };
                why.push_str(&format!(
                    "the archive names no image {shown} (its repositories: {})",
                    shown_list(names.iter().map(|(f, _)| *f))
                ));
                if let Some(root) = root {
                    why.push_str(&format!("; tags at its root: {root}"));
                }
                why
            }
        }
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
