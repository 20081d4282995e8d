//! The read-only [`Client`] over an opened archive's [`Contents`], scoped by repository path like a registry:
//! `with_segment("org/app")` reaches the tags the archive gives `org/app` (or `docker.io/org/app`: names compare as
//! docker normalises them); every write is `Unsupported`.

use std::sync::Arc;

use oci_spec::image::Descriptor;
use registry_core::api::BlobPushed;
use registry_core::manifest::Manifest;
use registry_core::{Digest, Error, Repository, Result};

use crate::client::Client;
use crate::image::archive::contents::Contents;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image};
use crate::image::ref_names::{parse_digest_arg, parse_reference};
use crate::manifest_result::ManifestResult;
use crate::options::ListOptions;

/// A read-only client of one archive at one repository path (`""`: the archive's root).
#[derive(Debug, Clone)]
pub(crate) struct ArchiveClient {
    contents: Arc<Contents>,
    path: String,
    /// The first invalid segment given, reported by every call.
    invalid: Option<String>,
}

/// Whether `segment` can be part of a repository name an archive gives (`host:port`, `org`, `app_1`).
fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c != "."
        && c != ".."
        && c.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | ':'))
}

impl ArchiveClient {
    /// The root of `contents`.
    pub(crate) fn new(contents: Arc<Contents>) -> ArchiveClient {
        ArchiveClient { contents, path: String::new(), invalid: None }
    }

    fn check(&self) -> Result<()> {
        match &self.invalid {
            Some(why) => Err(Error::invalid_input(why.clone())),
            None => Ok(()),
        }
    }

    fn read_only(&self, what: &str) -> Error {
        Error::unsupported(format!(
            "{}: {what}: an archive opened as a client is read-only (write a new one with its writer)",
            self.get_registry()
        ))
    }

    fn parse_digest(&self, digest: &str) -> Result<Digest> {
        parse_digest_arg(digest).map_err(|e| e.context(self.get_registry()))
    }

    /// See [`Client::with_segment`].
    pub(crate) fn child(&self, segment: &str) -> ArchiveClient {
        let mut child = self.clone();
        for part in segment.split('/').filter(|p| !p.is_empty()) {
            if child.invalid.is_none() && !valid_component(part) {
                child.invalid = Some(format!("invalid segment {segment:?} of {}", self.get_registry()));
            }
            if !child.path.is_empty() {
                child.path.push('/');
            }
            child.path.push_str(part);
        }
        child
    }
}

#[async_trait::async_trait]
impl Client for ArchiveClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(self.child(segment))
    }

    fn get_registry(&self) -> String {
        if self.path.is_empty() {
            self.contents.label().to_string()
        } else {
            format!("{}:{}", self.contents.label(), self.path)
        }
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        self.check()?;
        let parsed = parse_reference(reference).map_err(|e| e.context(self.get_registry()))?;
        if let Some(digest) = parsed.digest {
            // A tag beside the digest was checked; the digest names the manifest.
            return Ok(ManifestResult::new(self.contents.manifest(&digest, None).await?));
        }
        // No digest: parse_reference gave a tag.
        let tag = parsed.tag.unwrap_or_default();
        let target = self.contents.tags(&self.path).and_then(|t| t.get(&tag)).ok_or_else(|| {
            Error::not_found(format!("{}: {}", self.get_registry(), self.contents.missing(&self.path, Some(&tag))))
        })?;
        let manifest = self.contents.manifest(&target.digest, target.media_type.as_deref()).await?;
        Ok(ManifestResult::new(manifest))
    }

    async fn put_manifest(&self, reference: &str, _manifest: &Manifest) -> Result<Digest> {
        Err(self.read_only(&format!("put manifest {reference}")))
    }

    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        self.check()?;
        Ok(self.contents.blobs().clone())
    }

    async fn push_blob(&self, d: &Descriptor, _: &dyn BlobSource, _: Option<&Repository>) -> Result<BlobPushed> {
        Err(self.read_only(&format!("push blob {}", d.digest())))
    }

    async fn push_image(&self, tag: &str, _image: &Image) -> Result<()> {
        Err(self.read_only(&format!("push image {tag}")))
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.check()?;
        let tags = self.contents.tags(&self.path).ok_or_else(|| {
            Error::not_found(format!("{}: {}", self.get_registry(), self.contents.missing(&self.path, None)))
        })?;
        Ok(opts.apply(tags.keys().cloned().collect()))
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.check()?;
        // Below a scope spelt either way: `trial` or `docker.io/trial` lists `app` for `docker.io/trial/app`.
        let prefix = if self.path.is_empty() { String::new() } else { format!("{}/", self.path) };
        let mut names: Vec<String> = self
            .contents
            .repositories()
            .into_iter()
            .filter_map(|(familiar, key)| familiar.strip_prefix(&prefix).or_else(|| key.strip_prefix(&prefix)))
            .map(str::to_string)
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(opts.apply(names))
    }

    async fn push_index(&self, tag: &str, _index: &Manifest, _children: &[Image]) -> Result<()> {
        Err(self.read_only(&format!("push index {tag}")))
    }

    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()> {
        Err(self.read_only(&format!("tag {reference} as {new_tag}")))
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        Err(self.read_only(&format!("delete tag {tag}")))
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        Err(self.read_only(&format!("delete {digest}")))
    }

    /// The entries of the referrers tag (`sha256-<hex>`) of `digest` at this path, when the archive carries one
    /// (copied there from a registry without the referrers API); else none.
    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.check()?;
        let digest = self.parse_digest(digest)?;
        let tag = format!("{}-{}", digest.algorithm().as_str(), digest.hex());
        let Some(target) = self.contents.tags(&self.path).and_then(|t| t.get(&tag)) else {
            return Ok(Vec::new());
        };
        let manifest = self.contents.manifest(&target.digest, target.media_type.as_deref()).await?;
        let entries = manifest.as_index().map(|i| i.manifests().clone()).unwrap_or_default();
        Ok(entries
            .into_iter()
            .filter(|d| {
                artifact_type.is_none_or(|want| d.artifact_type().as_ref().is_some_and(|t| t.to_string() == want))
            })
            .collect())
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        Err(self.read_only(&format!("push artifact {}", artifact.digest())))
    }
}

/// `impl Client for $ty` by delegating every method to its `inner: ArchiveClient` field (so the two archive types
/// answer the same way).
macro_rules! delegate_client {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::client::Client for $ty {
            fn with_segment(&self, segment: &str) -> std::sync::Arc<dyn $crate::client::Client> {
                std::sync::Arc::new(Self { inner: self.inner.child(segment), ..self.clone() })
            }
            fn get_registry(&self) -> String {
                self.inner.get_registry()
            }
            async fn get_manifest(&self, r: &str) -> registry_core::Result<$crate::manifest_result::ManifestResult> {
                self.inner.get_manifest(r).await
            }
            async fn put_manifest(
                &self,
                r: &str,
                m: &registry_core::manifest::Manifest,
            ) -> registry_core::Result<registry_core::Digest> {
                self.inner.put_manifest(r, m).await
            }
            fn blobs(&self) -> registry_core::Result<std::sync::Arc<dyn $crate::image::model::BlobSource>> {
                self.inner.blobs()
            }
            async fn push_blob(
                &self,
                d: &oci_spec::image::Descriptor,
                s: &dyn $crate::image::model::BlobSource,
                m: Option<&registry_core::Repository>,
            ) -> registry_core::Result<registry_core::api::BlobPushed> {
                self.inner.push_blob(d, s, m).await
            }
            async fn push_image(&self, t: &str, i: &$crate::image::model::Image) -> registry_core::Result<()> {
                self.inner.push_image(t, i).await
            }
            async fn list_tags(&self, o: $crate::options::ListOptions) -> registry_core::Result<Vec<String>> {
                self.inner.list_tags(o).await
            }
            async fn list_repositories(&self, o: $crate::options::ListOptions) -> registry_core::Result<Vec<String>> {
                self.inner.list_repositories(o).await
            }
            async fn push_index(
                &self,
                t: &str,
                i: &registry_core::manifest::Manifest,
                c: &[$crate::image::model::Image],
            ) -> registry_core::Result<()> {
                self.inner.push_index(t, i, c).await
            }
            async fn tag_image(&self, r: &str, t: &str) -> registry_core::Result<()> {
                self.inner.tag_image(r, t).await
            }
            async fn delete_tag(&self, t: &str) -> registry_core::Result<()> {
                self.inner.delete_tag(t).await
            }
            async fn delete_by_digest(&self, d: &str) -> registry_core::Result<()> {
                self.inner.delete_by_digest(d).await
            }
            async fn list_referrers(
                &self,
                d: &str,
                a: Option<&str>,
            ) -> registry_core::Result<Vec<oci_spec::image::Descriptor>> {
                self.inner.list_referrers(d, a).await
            }
            async fn push_artifact(
                &self,
                a: &$crate::image::artifact::Artifact,
            ) -> registry_core::Result<registry_core::Digest> {
                self.inner.push_artifact(a).await
            }
        }
    };
}
pub(crate) use delegate_client;
