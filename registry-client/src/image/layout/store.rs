//! [`Layout`]: one OCI image layout directory (`oci-layout`, `index.json`, `blobs/`) as the client sees it:
//! whether it exists, its index (read without a lock: every write renames a whole file into place), its creation on
//! the first write, index updates under the layout's lock, and manifests read from its blobs.
//!
//! The lock is a `tokio::sync::Mutex` per layout directory, process-wide (every client of this process writing a
//! layout, clones and children or not, takes the same one), then, on Unix, an exclusive `flock(2)` on the layout's
//! `.lock` file, so two processes (two `LayoutClient`s, or anything else that takes the same advisory lock) take
//! turns too. Tools that do not take it (skopeo) are not coordinated with: each index write is atomic, but a
//! concurrent writer may undo the other's last change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use registry_core::manifest::{Manifest, MAX_MANIFEST_SIZE};
use registry_core::{Digest, Error, ErrorKind, Result};
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedMutexGuard;

use super::blobs::{blob_path, open_regular_file, BLOBS_DIR};
use super::errors::{io_at, manifest_unknown};
use super::finishing::finishing;
use super::index::{read_index, write_atomically, write_index, LayoutIndex, INDEX_FILE, OCI_LAYOUT_FILE};
use super::sweep::{sweep_once, sweep_own_temps_locked};
use crate::image::blocking::run_blocking;

/// Its content (OCI image-layout spec 1.0.0).
const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// The advisory lock file of a layout (skopeo and other readers ignore it).
const LOCK_FILE: &str = ".lock";

/// What holds a layout's write lock: the in-process mutex and, on Unix, the locked lock file (unlocked when
/// closed).
#[derive(Debug)]
pub(crate) struct LayoutGuard {
    _file: Option<std::fs::File>,
    _mutex: OwnedMutexGuard<()>,
}

/// Open (creating) `path` and take an exclusive `flock` on it, waiting for another process to release it.
/// Blocking.
#[cfg(unix)]
fn lock_file(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_at("open", path, e))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io_at("lock", path, std::io::Error::from(e)))?;
    Ok(file)
}

/// Open (creating) `path`; no advisory lock on this platform. Blocking.
#[cfg(not(unix))]
fn lock_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(|e| io_at("open", path, e))
}

/// The write lock of every layout directory this process wrote, by path.
fn locks() -> &'static Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    LOCKS.get_or_init(Mutex::default)
}

/// Run the blocking `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    run_blocking("layout file task failed", f).await
}

/// Write the layout files `dir` lacks: `oci-layout`, then an empty `index.json` (each atomically). The caller
/// holds the lock and created `dir`. Blocking.
fn create_files(dir: &Path) -> Result<()> {
    if !dir.join(OCI_LAYOUT_FILE).is_file() {
        write_atomically(dir, OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT)?;
    }
    if !dir.join(INDEX_FILE).is_file() {
        write_index(dir, &LayoutIndex::default())?;
    }
    Ok(())
}

/// One layout directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
    /// How messages name it: `oci:/abs/root/org/app`.
    name: String,
}

impl Layout {
    /// The layout at `dir`, named `name` in messages.
    pub(crate) fn new(dir: PathBuf, name: String) -> Layout {
        Layout { dir, name }
    }

    /// Its directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its name in messages (`oci:/abs/root/org/app`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `reference` of this layout for messages: `oci:/dir:v1`, `oci:/dir@sha256:...`.
    pub(crate) fn shown(&self, reference: &str) -> String {
        if reference.starts_with('@') {
            format!("{}{reference}", self.name)
        } else {
            format!("{}:{reference}", self.name)
        }
    }

    /// The index: `None` when there is no layout (neither `oci-layout` nor `index.json`); an empty one when the
    /// layout has no `index.json` yet. Errors as [`read_index`].
    pub(crate) async fn index(&self) -> Result<Option<LayoutIndex>> {
        let dir = self.dir.clone();
        blocking(move || {
            Ok(match read_index(&dir)? {
                Some(index) => Some(index),
                None if dir.join(OCI_LAYOUT_FILE).is_file() => Some(LayoutIndex::default()),
                None => None,
            })
        })
        .await
    }

    /// Take the layout's write lock (see the module doc). With `create` (a write), the layout is created first
    /// when it is not there (the directory, `oci-layout`, an empty `index.json`, each written atomically, an
    /// existing one left as it is) in one step that runs to its end even when this future is dropped (see the
    /// `finishing` module): a new layout directory is valid or absent, never a directory holding only `.lock` or a
    /// temp file. Without `create`, only the in-process lock is taken when the directory does not exist (a delete,
    /// which then finds nothing). `Io` naming the file when the directory, the lock file or a layout file cannot
    /// be created or locked.
    pub(crate) async fn lock(&self, create: bool) -> Result<LayoutGuard> {
        let lock = {
            let mut map = locks().lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(self.dir.clone()).or_default().clone()
        };
        let mutex = lock.lock_owned().await;
        if create {
            sweep_once(&self.dir, &self.dir.join(BLOBS_DIR)).await;
        }
        let dir = self.dir.clone();
        let file = if create {
            finishing(move || {
                std::fs::create_dir_all(&dir).map_err(|e| io_at("create", &dir, e))?;
                let file = lock_file(&dir.join(LOCK_FILE))?;
                // Only where the lock keeps other processes out (on Unix) is no such temp file a write in progress.
                if cfg!(unix) {
                    sweep_own_temps_locked(&dir);
                }
                create_files(&dir)?;
                Ok(Some(file))
            })
            .await?
        } else {
            blocking(move || if dir.is_dir() { lock_file(&dir.join(LOCK_FILE)).map(Some) } else { Ok(None) }).await?
        };
        Ok(LayoutGuard { _file: file, _mutex: mutex })
    }

    /// Create the layout unless it exists (see [`Layout::lock`], which creates it): takes the lock when a file is
    /// missing.
    pub(crate) async fn create(&self) -> Result<()> {
        let is_file = |name: &str| {
            let path = self.dir.join(name);
            async move { tokio::fs::metadata(path).await.is_ok_and(|m| m.is_file()) }
        };
        if is_file(OCI_LAYOUT_FILE).await && is_file(INDEX_FILE).await {
            return Ok(());
        }
        let _guard = self.lock(true).await?;
        Ok(())
    }

    /// Write `index` atomically (the caller holds the lock).
    pub(crate) async fn write_index(&self, index: &LayoutIndex) -> Result<()> {
        let (dir, bytes) = (self.dir.clone(), index.to_bytes()?);
        finishing(move || write_atomically(&dir, INDEX_FILE, &bytes)).await
    }

    /// The manifest `digest` from its blob, checked against the digest (and against `size` when an index entry
    /// gives one), parsed with `media_type` when an entry gives one. `NotFound` (`MANIFEST_UNKNOWN`) when there is
    /// no such blob, or, for a blob no entry names (`media_type` is `None`), when it is no manifest (a layer, a
    /// config); `DigestMismatch` naming the file when its content is not what its name says; `Unsupported` past
    /// 4 MiB; `Protocol` for an entry's blob that is not a valid manifest.
    pub(crate) async fn read_manifest(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
        size: Option<u64>,
    ) -> Result<Manifest> {
        let path = blob_path(&self.dir, digest);
        let shown = self.shown(&format!("@{digest}"));
        let Some((mut file, len)) = open_regular_file(&path).await? else {
            return Err(manifest_unknown(&shown));
        };
        if let Some(want) = size.filter(|s| *s != len) {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("manifest {shown}: {} is {len} bytes, index.json says {want}", path.display()),
            ));
        }
        if len > MAX_MANIFEST_SIZE as u64 {
            if media_type.is_none() {
                return Err(manifest_unknown(&shown));
            }
            return Err(Error::unsupported(format!(
                "manifest {shown} is {len} bytes, over the {MAX_MANIFEST_SIZE} byte limit"
            )));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        (&mut file)
            .take(MAX_MANIFEST_SIZE as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| io_at("read", &path, e))?;
        if !digest.matches(&bytes) {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("manifest {shown}: the content of {} has another digest", path.display()),
            ));
        }
        match Manifest::parse(Bytes::from(bytes), media_type) {
            Ok(m) => Ok(m),
            Err(e) if media_type.is_none() => {
                tracing::debug!(%digest, error = %e, "blob is no manifest");
                Err(manifest_unknown(&shown))
            }
            Err(e) => Err(e.context(format!("manifest {shown} ({})", path.display()))),
        }
    }
}
