//! [`LayoutClient`]: a tree of OCI image layouts on disk as a [`Client`]. This file holds the type, how it opens
//! and scopes, and the `impl Client` that dispatches each call; the work is split by concern into siblings that add
//! methods to [`LayoutClient`] (`manifests`, `pushes`, `listing`, `referrers`; they import this file, it imports
//! none of them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::image::Descriptor;
use registry_core::api::BlobPushed;
use registry_core::manifest::Manifest;
use registry_core::{Digest, Error, ErrorKind, Registry, Repository, Result};

use super::blobs::LayoutBlobs;
use super::store::{blocking, Layout};
use crate::client::Client;
use crate::image::artifact::Artifact;
use crate::image::model::{BlobSource, Image};
use crate::manifest_result::ManifestResult;
use crate::options::ListOptions;
use crate::scope::ClientScope;
use crate::transfer::{TransferOptions, Transfers};

/// What clones and children of one opened root share.
#[derive(Debug)]
struct Root {
    /// The root directory, absolute.
    path: PathBuf,
    /// The registry name that stands for this root in the repositories blob sources name (`layout-<hash>.invalid`,
    /// never a real host): a push between two layouts of one root links the blob instead of copying it.
    registry: Registry,
    transfers: Arc<Transfers>,
}

/// An OCI image layout tree on disk as a [`Client`] (the OCI image-layout spec; what skopeo reads and writes as
/// `oci:DIR:TAG`).
///
/// The client opened on `root` is the layout at `root` itself; `with_segment("org/app")` is the layout at
/// `root/org/app/`. A layout is a directory holding `oci-layout` (`{"imageLayoutVersion":"1.0.0"}`), `index.json`
/// (an OCI image index) and `blobs/<alg>/<hex>`. Tags are the `org.opencontainers.image.ref.name` annotation of
/// the entries of `index.json`, one entry per tag, as skopeo's `oci:` transport reads and writes them; a manifest
/// put by digest gets an entry without the annotation (unless it has one already). Manifests are blobs too, stored
/// with their exact bytes.
///
/// Names of the form `repo:tag` in a layout's `index.json` (skopeo's `oci:/srv/l:example.com/app:v1` writes
/// `example.com/app:v1`) are no tags of that layout; they are read the way [`OciArchive`](crate::OciArchive) reads
/// them: as tag `tag` of the child scope `repo`. So when the scope `example.com/app` has no layout directory
/// (neither `oci-layout` nor `index.json` at `root/example.com/app`), its reads (tags, manifests, blobs,
/// referrers) go to the nearest layout above it whose `index.json` names `example.com/app:<tag>`, repositories
/// compared as docker normalises them (`trial/app` finds `docker.io/trial/app:v1`); `list_repositories` lists
/// such names too (`example.com/app`, as docker shows them, below the layout that holds them). A layout
/// directory, once there, wins; writes always go to the scope's own directory, creating it.
///
/// Reads of a layout that does not exist answer like docker-registry for an unknown repository (`NotFound`, with
/// `MANIFEST_UNKNOWN` for manifests, `BLOB_UNKNOWN` for blobs, `NAME_UNKNOWN` for the tag list); the layout is
/// created by the first write. Writes are atomic: a blob is written to a temp file in `blobs/`, its digest and
/// size checked while it is written, then renamed into place (a blob present already is not written again);
/// `index.json` is rewritten through a temp file and a rename after every change, under a lock per layout: a mutex
/// shared by every client of the process, then (on Unix) an exclusive `flock` on the layout's `.lock` file, so two
/// processes using `LayoutClient` take turns; a tool that takes no such lock (skopeo) is not coordinated with.
///
/// `delete_by_digest` removes every entry of the manifest and its blob (a later `get_manifest("@digest")` is
/// `NotFound`, as on docker-registry); its layers and config stay. `delete_tag` removes the tag; the manifest stays,
/// by digest, with an untagged entry when no other tag points at it. Referrers are kept with the referrers tag
/// schema (an index tagged `sha256-<hex of the subject>`).
///
/// ```no_run
/// use registry_client::{Client, ImageOptions, LayoutClient, RemoteClient};
///
/// # async fn demo() -> registry_client::Result<()> {
/// let registry = RemoteClient::builder("registry.example.com").build()?;
/// let image = registry.with_segment("org/app").get_image("v1", ImageOptions::default()).await?;
/// let disk = LayoutClient::open("/srv/mirror").await?;
/// disk.with_segment("org/app").push_image("v1", &image).await?; // skopeo reads oci:/srv/mirror/org/app:v1
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LayoutClient {
    root: Arc<Root>,
    scope: ClientScope,
}

impl LayoutClient {
    /// The layout tree at `root` (a directory, created if missing), with the default transfer options (4 blobs
    /// written at once, no progress callback). `InvalidInput` naming `root` when it exists and is not a directory
    /// (a file); `Io` naming the directory when it cannot be created or resolved.
    pub async fn open(root: impl AsRef<Path>) -> Result<LayoutClient> {
        LayoutClient::open_with(root, TransferOptions::default()).await
    }

    /// [`LayoutClient::open`] with `options`: how many blobs a push writes at once, and the progress callback,
    /// which hears the same events as a `RemoteClient`'s (`PushStarted`, per blob `BlobSkipped`, `BlobMounted` or
    /// `BlobStarted`/`BlobProgress`/`BlobDone`, then `ManifestPushed`; `Download*` for blob reads).
    /// `InvalidInput` for a zero limit.
    pub async fn open_with(root: impl AsRef<Path>, options: TransferOptions) -> Result<LayoutClient> {
        let transfers = Arc::new(options.start()?);
        let given = root.as_ref().to_path_buf();
        let path = blocking(move || {
            if std::fs::metadata(&given).is_ok_and(|m| !m.is_dir()) {
                return Err(Error::invalid_input(format!(
                    "layout root {} exists and is not a directory",
                    given.display()
                )));
            }
            std::fs::create_dir_all(&given).map_err(|e| super::errors::io_at("create", &given, e))?;
            std::fs::canonicalize(&given).map_err(|e| super::errors::io_at("resolve", &given, e))
        })
        .await?;
        let hash = Digest::sha256(path.to_string_lossy().as_bytes());
        let host = format!("layout-{}.invalid", &hash.hex()[..16]);
        let registry = Registry::parse(&host)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("layout registry name {host}: {e}")))?;
        let scope = ClientScope::new(registry.clone());
        Ok(LayoutClient { root: Arc::new(Root { path, registry, transfers }), scope })
    }

    /// The root directory the client was opened on, absolute.
    pub fn root(&self) -> &Path {
        &self.root.path
    }

    /// This client scoped one path segment deeper, as its concrete type (what [`Client::with_segment`] returns as
    /// a trait object): `root.scoped("org/app").layout_dir()` is `root/org/app`. An invalid segment makes every
    /// call of the returned client fail with `InvalidInput` naming it.
    pub fn scoped(&self, segment: &str) -> LayoutClient {
        LayoutClient { root: self.root.clone(), scope: self.scope.join(segment) }
    }

    /// The layout directory of this client's scope (`root/org/app`). `InvalidInput` when a segment was invalid.
    pub fn layout_dir(&self) -> Result<PathBuf> {
        self.scope.check()?;
        let path = self.scope.path();
        Ok(if path.is_empty() { self.root.path.clone() } else { self.root.path.join(path) })
    }

    /// The directories above the scope's layout directory, up to the root, nearest first, each with the scope's
    /// path relative to it (`root/a/b` and `c`, then `root/a` and `b/c`, then `root` and `a/b/c` for scope
    /// `a/b/c`). `InvalidInput` when a segment was invalid.
    pub(super) fn parents(&self) -> Result<Vec<(PathBuf, String)>> {
        self.scope.check()?;
        let path = self.scope.path();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        Ok((0..parts.len())
            .rev()
            .map(|k| (parts[..k].iter().fold(self.root.path.clone(), |dir, p| dir.join(p)), parts[k..].join("/")))
            .collect())
    }

    /// The scoped layout; `InvalidInput` when a segment was invalid.
    pub(super) fn layout(&self) -> Result<Layout> {
        Ok(Layout::new(self.layout_dir()?, self.get_registry()))
    }

    /// The layout the repository `repo` names, when it is one of this root's (another layout a blob can be linked
    /// from).
    pub(super) fn sibling(&self, repo: &Repository) -> Option<PathBuf> {
        if repo.registry() != &self.root.registry {
            return None;
        }
        Some(if repo.path().is_empty() { self.root.path.clone() } else { self.root.path.join(repo.path()) })
    }

    /// The repository that names the scoped layout in blob sources (the root's registry name and the scope's path).
    pub(super) fn repository(&self) -> Result<Repository> {
        self.scope.check()?;
        Repository::new(self.root.registry.clone(), &self.scope.path()).map_err(Error::from)
    }

    /// The transfer limits and progress callback.
    pub(super) fn transfers(&self) -> &Arc<Transfers> {
        &self.root.transfers
    }

    /// The blobs of the scoped layout.
    pub(super) fn layout_blobs(&self) -> Result<LayoutBlobs> {
        let parents = self.parents()?.into_iter().map(|(dir, _)| dir).collect();
        Ok(LayoutBlobs::new(self.layout_dir()?, self.repository()?, Some(self.root.transfers.clone()))
            .with_parents(parents))
    }
}

#[async_trait::async_trait]
impl Client for LayoutClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(self.scoped(segment))
    }

    /// `oci:` and the layout's absolute path: `oci:/abs/root/org/app`.
    fn get_registry(&self) -> String {
        let path = self.scope.path();
        let root = self.root.path.display();
        if path.is_empty() {
            format!("oci:{root}")
        } else {
            format!("oci:{root}/{path}")
        }
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        self.manifest_at(reference).await.map(ManifestResult::new)
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        self.put_manifest_at(reference, manifest).await
    }

    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        Ok(Arc::new(self.layout_blobs()?))
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        source: &dyn BlobSource,
        mount_from: Option<&Repository>,
    ) -> Result<BlobPushed> {
        let layout = self.layout()?;
        self.push_one_blob(&layout, descriptor, source, mount_from).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        self.push_image_at(tag, image).await
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.tags(opts).await
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.layouts_below(opts).await
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        self.remove_tag(tag).await
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        self.remove_manifest(digest).await
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.referrers(digest, artifact_type).await
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        self.push_artifact_at(artifact).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_file_as_root_is_named_as_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("layer1.tar");
        std::fs::write(&file, b"x").unwrap();
        let e = LayoutClient::open(&file).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let shown = e.to_string();
        assert!(shown.contains(&file.display().to_string()) && shown.contains("is not a directory"), "{shown}");
        assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is left as it was");
    }
}
