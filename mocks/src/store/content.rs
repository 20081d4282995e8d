//! [`Store`]: the content of one registry (blobs, repositories with their manifests and tags, upload sessions)
//! and the rules that govern it, listed in the doc of the `store` module.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use bytes::Bytes;
use registry_client::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest, ManifestBody};
use registry_core::{Digest, Error, Reference, Repository};

use super::errors::StoreError;
use super::referrers::referrers;
use super::uploads::{Upload, Uploads};

/// One repository.
#[derive(Debug, Default)]
struct Repo {
    /// Blobs linked in this repository (their bytes are in [`Store::blobs`]).
    blobs: HashSet<Digest>,
    /// Manifests by their sha256 digest.
    manifests: HashMap<Digest, Manifest>,
    /// `None` until the first tag: docker-registry answers NAME_UNKNOWN to tags/list before that.
    tags: Option<BTreeMap<String, Digest>>,
}

/// The content of one registry. Plain data, no I/O: callers lock it, read or change it, and unlock.
#[derive(Default)]
pub(crate) struct Store {
    blobs: HashMap<Digest, Bytes>,
    /// Repositories by path.
    repos: BTreeMap<String, Repo>,
    uploads: Uploads,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("blobs", &self.blobs.len())
            .field("repositories", &self.repos.keys().collect::<Vec<_>>())
            .field("uploads", &self.uploads)
            .finish()
    }
}

/// Whether a manifest may reference `layer` without the registry holding it: it names URLs to fetch it from
/// (what docker-registry skips, for foreign and non-distributable layers and any other layer with URLs).
fn is_external(layer: &Descriptor) -> bool {
    layer.urls().as_ref().is_some_and(|u| !u.is_empty())
}

impl Store {
    // Repositories and blobs.

    /// Whether `repository` exists: something was pushed to it (a blob or a manifest).
    pub(crate) fn has_repository(&self, repository: &Repository) -> bool {
        self.repos.contains_key(repository.path())
    }

    /// Whether `repository` has the blob `digest`.
    pub(crate) fn has_blob(&self, repository: &Repository, digest: &Digest) -> bool {
        self.repos.get(repository.path()).is_some_and(|r| r.blobs.contains(digest))
    }

    /// The blob `digest` of `repository`.
    pub(crate) fn blob(&self, repository: &Repository, digest: &Digest) -> Result<Bytes, StoreError> {
        let unknown = || StoreError::BlobUnknown { digest: digest.clone(), repository: repository.clone() };
        if !self.has_blob(repository, digest) {
            return Err(unknown());
        }
        self.blobs.get(digest).cloned().ok_or_else(unknown)
    }

    /// Store `data`, already verified to have `digest`, in `repository`.
    pub(crate) fn put_blob(&mut self, repository: &Repository, digest: Digest, data: Bytes) {
        self.blobs.entry(digest.clone()).or_insert(data);
        self.repos.entry(repository.path().to_string()).or_default().blobs.insert(digest);
    }

    /// Store `data` in `repository` after checking it has `digest` (`BlobDigestInvalid` when not).
    pub(crate) fn put_verified_blob(
        &mut self,
        repository: &Repository,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let actual = Digest::compute(digest.algorithm(), &data);
        if actual != *digest {
            return Err(StoreError::BlobDigestInvalid { expected: digest.clone(), actual, size: data.len() });
        }
        self.put_blob(repository, digest.clone(), data);
        Ok(())
    }

    /// Link blob `digest` of `from` into `repository` (a cross-repository mount); false when `from` lacks it.
    pub(crate) fn mount_blob(&mut self, repository: &Repository, digest: &Digest, from: &Repository) -> bool {
        if !self.has_blob(from, digest) {
            return false;
        }
        self.repos.entry(repository.path().to_string()).or_default().blobs.insert(digest.clone());
        true
    }

    /// Unlink blob `digest` from `repository`, dropping its bytes when no repository links it any more.
    pub(crate) fn delete_blob(&mut self, repository: &Repository, digest: &Digest) -> Result<(), StoreError> {
        let removed = self.repos.get_mut(repository.path()).is_some_and(|r| r.blobs.remove(digest));
        if !removed {
            return Err(StoreError::BlobUnknown { digest: digest.clone(), repository: repository.clone() });
        }
        if !self.repos.values().any(|r| r.blobs.contains(digest)) {
            self.blobs.remove(digest);
        }
        Ok(())
    }

    // Manifests and tags.

    /// The manifest `reference` points to: by its digest when it has one, else by its tag.
    pub(crate) fn manifest(&self, reference: &Reference) -> Result<Manifest, StoreError> {
        let unknown = |known: bool| StoreError::ManifestUnknown {
            reference: Box::new(reference.clone()),
            repository_known: known,
        };
        let repo = self.repos.get(reference.repository().path()).ok_or_else(|| unknown(false))?;
        let digest = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d,
            (None, Some(tag)) => repo.tags.as_ref().and_then(|t| t.get(tag)).ok_or_else(|| unknown(true))?,
            (None, None) => return Err(unknown(true)),
        };
        repo.manifests.get(digest).cloned().ok_or_else(|| unknown(true))
    }

    /// Store `manifest` at `reference`, after checking its digest (when `reference` has one: it must be the
    /// manifest's sha256) and that the repository has everything it references. Tagged when `reference` is a tag
    /// without a digest.
    pub(crate) fn put_manifest(&mut self, reference: &Reference, manifest: Manifest) -> Result<(), StoreError> {
        if reference.digest().is_some_and(|d| d != manifest.digest()) {
            let actual = manifest.digest().clone();
            return Err(StoreError::ManifestDigestInvalid { reference: Box::new(reference.clone()), actual });
        }
        let path = reference.repository().path();
        let missing = self
            .missing_reference(path, &manifest)
            .map_err(|error| StoreError::ManifestInvalid { reference: Box::new(reference.clone()), error })?;
        if let Some(digest) = missing {
            return Err(StoreError::ManifestBlobUnknown { reference: Box::new(reference.clone()), digest });
        }
        let repo = self.repos.entry(path.to_string()).or_default();
        let digest = manifest.digest().clone();
        repo.manifests.insert(digest.clone(), manifest);
        if let (None, Some(tag)) = (reference.digest(), reference.tag()) {
            repo.tags.get_or_insert_with(BTreeMap::new).insert(tag.to_string(), digest);
        }
        Ok(())
    }

    /// The first thing `manifest` references that the repository at `path` lacks: the config or a layer of an
    /// image (layers with URLs excepted), a child manifest of an index.
    fn missing_reference(&self, path: &str, manifest: &Manifest) -> Result<Option<Digest>, Error> {
        let repo = self.repos.get(path);
        match manifest.body() {
            ManifestBody::Image(image) => {
                let wanted = std::iter::once(image.config()).chain(image.layers().iter().filter(|l| !is_external(l)));
                for d in wanted {
                    let digest = descriptor_digest(d)?;
                    if !repo.is_some_and(|r| r.blobs.contains(&digest)) {
                        return Ok(Some(digest));
                    }
                }
            }
            ManifestBody::Index(index) => {
                for d in index.manifests() {
                    let digest = descriptor_digest(d)?;
                    if !repo.is_some_and(|r| r.manifests.contains_key(&digest)) {
                        return Ok(Some(digest));
                    }
                }
            }
            _ => return Err(Error::unsupported(format!("manifest of type {} not supported", manifest.media_type()))),
        }
        Ok(None)
    }

    /// Remove the tag `reference` names (its manifest stays); `ManifestUnknown` when there is no such tag.
    pub(crate) fn delete_tag(&mut self, reference: &Reference) -> Result<(), StoreError> {
        let unknown = |known: bool| StoreError::ManifestUnknown {
            reference: Box::new(reference.clone()),
            repository_known: known,
        };
        let repo = self.repos.get_mut(reference.repository().path()).ok_or_else(|| unknown(false))?;
        let tag = reference.tag().ok_or_else(|| unknown(true))?;
        match repo.tags.as_mut().and_then(|t| t.remove(tag)) {
            Some(_) => Ok(()),
            None => Err(unknown(true)),
        }
    }

    /// Remove the manifest `digest` of `repository` and every tag pointing at it (blobs stay); `ManifestUnknown`
    /// when the repository does not have it.
    pub(crate) fn delete_manifest(&mut self, repository: &Repository, digest: &Digest) -> Result<(), StoreError> {
        let unknown = |known: bool| StoreError::ManifestUnknown {
            reference: Box::new(Reference::with_digest(repository.clone(), digest.clone())),
            repository_known: known,
        };
        let repo = self.repos.get_mut(repository.path()).ok_or_else(|| unknown(false))?;
        if repo.manifests.remove(digest).is_none() {
            return Err(unknown(true));
        }
        if let Some(tags) = repo.tags.as_mut() {
            tags.retain(|_, d| d != digest);
        }
        Ok(())
    }

    /// Descriptors of the manifests of `repository` whose `subject` is `digest`, of `artifact_type` when given,
    /// ordered by digest: what a registry's referrers API lists (`artifactType`: the manifest's, else an image's
    /// config media type; its annotations). Empty for an unknown repository.
    pub(crate) fn referrers(
        &self,
        repository: &Repository,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, Error> {
        let Some(repo) = self.repos.get(repository.path()) else { return Ok(Vec::new()) };
        referrers(repo.manifests.values(), digest, artifact_type)
    }

    // Lists and counts.

    /// The tags of `repository`, sorted; `RepositoryUnknown` when it was never given a tag.
    pub(crate) fn tags(&self, repository: &Repository) -> Result<Vec<String>, StoreError> {
        self.repos
            .get(repository.path())
            .and_then(|r| r.tags.as_ref())
            .map(|t| t.keys().cloned().collect())
            .ok_or_else(|| StoreError::RepositoryUnknown(repository.clone()))
    }

    /// The paths of the repositories that hold a manifest (the catalog), sorted.
    pub(crate) fn catalog(&self) -> Vec<String> {
        self.repos.iter().filter(|(_, r)| !r.manifests.is_empty()).map(|(p, _)| p.clone()).collect()
    }

    /// Distinct blobs held.
    pub(crate) fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Distinct manifests held, over every repository.
    pub(crate) fn manifest_count(&self) -> usize {
        self.repos.values().flat_map(|r| r.manifests.keys()).collect::<HashSet<_>>().len()
    }

    // Upload sessions.

    /// Open upload session `id` in `repository`.
    pub(crate) fn start_upload(&mut self, repository: &Repository, id: String) {
        self.uploads.start(repository, id);
    }

    /// The bytes received so far by session `id` of `repository`.
    pub(crate) fn upload_size(&self, repository: &Repository, id: &str) -> Result<usize, StoreError> {
        self.uploads.size(repository, id)
    }

    /// Session `id` of `repository`, to append to.
    pub(crate) fn upload_mut(&mut self, repository: &Repository, id: &str) -> Result<&mut Upload, StoreError> {
        self.uploads.get_mut(repository, id)
    }

    /// End session `id` of `repository` without storing anything.
    pub(crate) fn cancel_upload(&mut self, repository: &Repository, id: &str) -> Result<(), StoreError> {
        self.uploads.take(repository, id).map(drop)
    }

    /// End session `id` of `repository` and store what it received as blob `digest`, verified. The session ends
    /// whether or not the content has that digest.
    pub(crate) fn finish_upload(
        &mut self,
        repository: &Repository,
        id: &str,
        digest: &Digest,
    ) -> Result<(), StoreError> {
        let upload = self.uploads.take(repository, id)?;
        self.put_verified_blob(repository, digest, upload.into_bytes())
    }

    /// How many upload sessions are open.
    #[cfg(test)]
    pub(crate) fn upload_count(&self) -> usize {
        self.uploads.len()
    }
}
