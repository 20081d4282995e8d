//! The content of one fake registry host: content-addressed blobs, and repositories that link blobs and hold
//! manifests and tags, with the rules docker-registry (distribution 2.8.2) enforces.
//!
//! - a blob is shared by the host but readable only from repositories it was pushed to (linked);
//! - a manifest is accepted only when the repository has what it references: the config and layers of an image
//!   (foreign / non-distributable layers excepted), the child manifests of an index;
//! - a repository is in the catalog once it holds a manifest, and has a tag list once it was given a tag;
//! - a reference with a digest resolves by the digest (a tag next to it is ignored), and a push to such a
//!   reference stores the manifest without tagging it;
//! - deleting a tag removes that tag only; deleting a manifest by digest removes it and every tag on it; blobs are
//!   never deleted (a registry's garbage collection would, later);
//! - the referrers of a digest are the repository's manifests whose `subject` is that digest (the referrers API of
//!   a spec registry, always up to date).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use bytes::Bytes;
use registry_client::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest, ManifestBody};
use registry_core::{Digest, Error, Reference, RegistryErrorCode, Repository};

/// What the store refuses, converted into the public [`Error`] the way a registry's answer is.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// No such repository (for tags/list).
    RepositoryUnknown(Repository),
    /// No such manifest (or tag); `repository_known` tells whether the repository exists.
    ManifestUnknown { reference: Box<Reference>, repository_known: bool },
    /// No such blob in the repository.
    BlobUnknown { digest: Digest, repository: Repository },
    /// A pushed manifest references content the repository lacks.
    ManifestBlobUnknown { reference: Box<Reference>, digest: Digest },
    /// A descriptor of a pushed manifest has an unusable digest.
    ManifestInvalid { reference: Box<Reference>, error: Error },
}

fn code(code: &str, message: &str) -> Vec<RegistryErrorCode> {
    vec![RegistryErrorCode { code: code.into(), message: message.into() }]
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::RepositoryUnknown(repo) => Error::not_found(format!("repository {repo} not found"))
                .with_status(404)
                .with_codes(code("NAME_UNKNOWN", "repository name not known to registry")),
            StoreError::ManifestUnknown { reference, repository_known } => {
                let codes = if repository_known {
                    code("MANIFEST_UNKNOWN", "manifest unknown")
                } else {
                    code("NAME_UNKNOWN", "repository name not known to registry")
                };
                Error::not_found(format!("manifest {reference} not found")).with_status(404).with_codes(codes)
            }
            StoreError::BlobUnknown { digest, repository } => {
                Error::not_found(format!("blob {digest} not found in {repository}"))
                    .with_status(404)
                    .with_codes(code("BLOB_UNKNOWN", "blob unknown to registry"))
            }
            StoreError::ManifestBlobUnknown { reference, digest } => Error::invalid_input(format!(
                "push manifest {reference}: it references {digest}, which the repository does not have"
            ))
            .with_status(400)
            .with_codes(code("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")),
            StoreError::ManifestInvalid { reference, error } => {
                Error::invalid_input(format!("push manifest {reference}: {}", error.message()))
                    .with_status(400)
                    .with_codes(code("MANIFEST_INVALID", "manifest invalid"))
            }
        }
    }
}

/// One repository.
#[derive(Debug, Default)]
struct Repo {
    /// Blobs pushed to this repository (their bytes are in [`Store::blobs`]).
    blobs: HashSet<Digest>,
    manifests: HashMap<Digest, Manifest>,
    /// `None` until the first tag: docker-registry answers NAME_UNKNOWN to tags/list before that.
    tags: Option<BTreeMap<String, Digest>>,
}

/// The content of one host.
#[derive(Default)]
pub(crate) struct Store {
    blobs: HashMap<Digest, Bytes>,
    /// Repositories by path.
    repos: BTreeMap<String, Repo>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("blobs", &self.blobs.len())
            .field("repositories", &self.repos.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Layers a registry does not hold (fetched from their URLs), so a manifest may reference them without them.
fn is_foreign(media_type: &str) -> bool {
    media_type.contains(".foreign.") || media_type.contains(".nondistributable.")
}

impl Store {
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

    /// Store `manifest` at `reference`, after checking the repository has everything it references. Tagged when
    /// `reference` is a tag without a digest.
    pub(crate) fn put_manifest(&mut self, reference: &Reference, manifest: Manifest) -> Result<(), StoreError> {
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

    /// The first thing `manifest` references that the repository at `path` lacks.
    fn missing_reference(&self, path: &str, manifest: &Manifest) -> Result<Option<Digest>, Error> {
        let repo = self.repos.get(path);
        match manifest.body() {
            ManifestBody::Image(image) => {
                let wanted = std::iter::once(image.config())
                    .chain(image.layers().iter().filter(|l| !is_foreign(l.media_type().as_ref())));
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
    /// ordered by digest: what a registry's referrers API lists (`artifactType`: the manifest's, else its config's
    /// media type; its annotations). Empty for an unknown repository.
    pub(crate) fn referrers(
        &self,
        repository: &Repository,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, Error> {
        let Some(repo) = self.repos.get(repository.path()) else { return Ok(Vec::new()) };
        let mut found = Vec::new();
        for m in repo.manifests.values() {
            let Some(image) = m.as_image() else { continue };
            let Some(subject) = image.subject() else { continue };
            if descriptor_digest(subject).ok().as_ref() != Some(digest) {
                continue;
            }
            let kind = image.artifact_type().clone().unwrap_or_else(|| image.config().media_type().clone());
            if artifact_type.is_some_and(|t| t != kind.to_string()) {
                continue;
            }
            let mut d = m.descriptor()?;
            d.set_artifact_type(Some(kind));
            d.set_annotations(image.annotations().clone().filter(|a| !a.is_empty()));
            found.push(d);
        }
        found.sort_by_key(|d| d.digest().to_string());
        Ok(found)
    }

    /// The tags of `repository`, sorted.
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use registry_client::{index_of, ImageBuilder};
    use registry_core::ErrorKind;

    fn repo(path: &str) -> Repository {
        Repository::parse(&format!("registry.example.com/{path}")).unwrap()
    }

    #[test]
    fn manifests_need_their_content_and_tags_need_a_tag() {
        let mut store = Store::default();
        let app = repo("app");
        let image = ImageBuilder::new().layer(&b"one"[..]).build().unwrap();
        let tagged = Reference::with_tag(app.clone(), "v1").unwrap();
        let e = Error::from(store.put_manifest(&tagged, image.raw_manifest().clone()).unwrap_err());
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.has_code("MANIFEST_BLOB_UNKNOWN"), "{e}");
        let e = Error::from(store.tags(&app).unwrap_err());
        assert_eq!(
            (e.kind(), e.to_string().contains("repository registry.example.com/app not found")),
            (ErrorKind::NotFound, true)
        );

        let config = image.config_descriptor();
        store.put_blob(&app, descriptor_digest(config).unwrap(), image.config_bytes().clone());
        // The layer is on the host, but only in another repository: still missing here.
        store.put_blob(&repo("other"), descriptor_digest(&image.layers()[0]).unwrap(), Bytes::from_static(b"one"));
        assert!(store.put_manifest(&tagged, image.raw_manifest().clone()).is_err());
        store.put_blob(&app, descriptor_digest(&image.layers()[0]).unwrap(), Bytes::from_static(b"one"));
        assert_eq!(store.blob_count(), 2, "blobs are shared by the host");

        // By digest: stored, not tagged.
        let by_digest = Reference::with_digest(app.clone(), image.digest().clone());
        store.put_manifest(&by_digest, image.raw_manifest().clone()).unwrap();
        assert!(store.tags(&app).is_err());
        assert_eq!(store.catalog(), vec!["app"]);
        store.put_manifest(&tagged, image.raw_manifest().clone()).unwrap();
        assert_eq!(store.tags(&app).unwrap(), vec!["v1"]);
        assert_eq!(store.manifest(&tagged).unwrap().digest(), image.digest());
        assert_eq!(store.manifest_count(), 1);

        // An index needs its children in the same repository.
        let index = index_of(&[&image]).unwrap();
        let other = Reference::with_tag(repo("other"), "multi").unwrap();
        assert!(store.put_manifest(&other, index.clone()).is_err());
        store.put_manifest(&Reference::with_tag(app.clone(), "multi").unwrap(), index).unwrap();
        assert_eq!(store.tags(&app).unwrap(), vec!["multi", "v1"]);
        assert_eq!(store.manifest_count(), 2);
        assert_eq!(store.catalog(), vec!["app"], "a repository with only blobs is not in the catalog");
    }

    #[test]
    fn lookups_that_fail_say_what_is_missing() {
        let mut store = Store::default();
        let app = repo("app");
        let missing = Reference::with_tag(app.clone(), "v9").unwrap();
        let e = Error::from(store.manifest(&missing).unwrap_err());
        assert_eq!(e.to_string(), "not found: manifest registry.example.com/app:v9 not found (HTTP 404; NAME_UNKNOWN: repository name not known to registry)");
        let d = Digest::sha256(b"x");
        store.put_blob(&app, d.clone(), Bytes::from_static(b"x"));
        let e = Error::from(store.manifest(&missing).unwrap_err());
        assert!(e.has_code("MANIFEST_UNKNOWN"), "{e}");
        assert_eq!(store.blob(&app, &d).unwrap(), Bytes::from_static(b"x"));
        let e = Error::from(store.blob(&repo("b"), &d).unwrap_err());
        assert_eq!(e.message(), format!("blob {d} not found in registry.example.com/b"));
        assert!(e.has_code("BLOB_UNKNOWN"));
    }
}
