//! Blobs of an OCI image layout, `blobs/<alg>/<hex>` (OCI image-layout spec): [`LayoutBlobs`], the
//! [`BlobSource`] of a layout (files streamed, verified, never whole in memory), and the atomic write of a blob
//! (a temp file in `blobs/`, digest and size checked while writing, synced, renamed into place).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository, Result, VerifyingStream};
use tokio::io::AsyncWriteExt;

use super::errors::{blob_unknown, corrupt, io_at};
use super::finishing::finishing;
use super::index::{sync_dir, INDEX_FILE, OCI_LAYOUT_FILE};
use super::sweep::{sweep_once, BLOB_TEMP_PREFIX};
use crate::image::file_range::range_stream;
use crate::image::model::BlobSource;
use crate::image::temp_files::publishable_temp_file;
use crate::transfer::Transfers;

/// The directory of blobs in a layout.
pub(crate) const BLOBS_DIR: &str = "blobs";

/// The file of blob `digest` in the layout at `dir`: `dir/blobs/<alg>/<hex>` (the digest was validated by
/// [`Digest::parse`]: its hex cannot name another path).
pub(crate) fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(BLOBS_DIR).join(digest.algorithm().as_str()).join(digest.hex())
}

/// Whether `dir` is a layout: it holds `oci-layout` or `index.json` (a layout being created may lack one).
pub(crate) async fn is_layout(dir: &Path) -> bool {
    for name in [OCI_LAYOUT_FILE, INDEX_FILE] {
        if tokio::fs::metadata(dir.join(name)).await.is_ok_and(|m| m.is_file()) {
            return true;
        }
    }
    false
}

/// Whether the layout at `dir` holds blob `digest` with `size` bytes (a file of another size, a torn copy by
/// another tool, counts as absent and is written again).
pub(crate) async fn has_blob(dir: &Path, digest: &Digest, size: u64) -> bool {
    tokio::fs::metadata(blob_path(dir, digest)).await.is_ok_and(|m| m.is_file() && m.len() == size)
}

/// Whether the layout at `dir` holds a file for blob `digest`, whatever its size.
pub(crate) async fn blob_exists(dir: &Path, digest: &Digest) -> bool {
    tokio::fs::metadata(blob_path(dir, digest)).await.is_ok_and(|m| m.is_file())
}

/// The file at `path`, opened, and its length (taken from the open file): `None` when there is none (or it went
/// before the open); `Protocol` naming it when it is no regular file (a directory, a FIFO that would block the
/// open, a device), so a hostile layout cannot hang or mislead a read; `Io` naming it when it cannot be read.
pub(crate) async fn open_regular_file(path: &Path) -> Result<Option<(tokio::fs::File, u64)>> {
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(corrupt(path, "not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at("stat", path, e)),
    }
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at("open", path, e)),
    };
    let len = file.metadata().await.map_err(|e| io_at("stat", path, e))?.len();
    Ok(Some((file, len)))
}

/// `Ok` unless `dir` is a symbolic link: blobs are never written through one (a hostile layout could point
/// `blobs/` elsewhere).
async fn not_a_symlink(dir: &Path) -> Result<()> {
    match tokio::fs::symlink_metadata(dir).await {
        Ok(m) if m.file_type().is_symlink() => Err(Error::invalid_input(format!(
            "{} is a symbolic link: refusing to write blobs through it",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Write blob `digest` of `size` bytes from `stream` into the layout at `dir`: into a temp file in `dir/blobs/`,
/// hashing and counting as it goes, then, when digest and size match, synced and renamed to
/// `blobs/<alg>/<hex>` (the check is registry_core's [`VerifyingStream`]). The first write of the process to a
/// layout removes the temp files an interrupted run left there (see the `sweep` module). `DigestMismatch` (and nothing stored)
/// when they do not; `Io` naming the file on a write failure. Memory stays flat: one chunk of the stream at a time.
pub(crate) async fn write_blob(dir: &Path, digest: &Digest, size: u64, stream: ByteStream) -> Result<()> {
    sweep_once(dir, &dir.join(BLOBS_DIR)).await;
    let target = blob_path(dir, digest);
    let alg_dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.join(BLOBS_DIR));
    let blobs = dir.join(BLOBS_DIR);
    not_a_symlink(&blobs).await?;
    not_a_symlink(&alg_dir).await?;
    tokio::fs::create_dir_all(&alg_dir).await.map_err(|e| io_at("create", &alg_dir, e))?;
    // Finished even when dropped, so the temp file is ours to remove (a dropped task would remove it later, or
    // never when the process exits first).
    let temp = finishing(move || {
        publishable_temp_file(&blobs, BLOB_TEMP_PREFIX, "").map_err(|e| io_at("create a temp file in", &blobs, e))
    })
    .await?;
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    // Stops past `size`; a short stream or another digest is an error at its end, before the rename.
    let mut verified = VerifyingStream::new(stream, digest.clone(), Some(size));
    while let Some(chunk) = verified.next().await {
        let chunk = chunk.map_err(|e| e.context(format!("blob {digest}")))?;
        file.write_all(&chunk).await.map_err(|e| io_at("write", &temp_path, e))?;
    }
    file.flush().await.map_err(|e| io_at("write", &temp_path, e))?;
    file.sync_all().await.map_err(|e| io_at("sync", &temp_path, e))?;
    drop(file);
    finishing(move || {
        temp_path.persist(&target).map_err(|e| io_at("rename a temp file to", &target, e.error))?;
        sync_dir(&alg_dir);
        Ok::<(), Error>(())
    })
    .await
}

/// The blobs of one layout, read from its files: `open` verified against the digest and size, `open_unverified`
/// seeking to the offset. Reads report `Download*` progress events to the client's callback, if it has one.
#[derive(Clone)]
pub(crate) struct LayoutBlobs {
    dir: PathBuf,
    repository: Repository,
    transfers: Option<Arc<Transfers>>,
    /// The layouts above `dir` to read a blob from when `dir` is no layout (names `repo:tag` in a parent's
    /// `index.json`), nearest first.
    parents: Vec<PathBuf>,
}

impl std::fmt::Debug for LayoutBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LayoutBlobs").field(&self.dir.display().to_string()).finish()
    }
}

impl LayoutBlobs {
    /// The blobs of the layout at `dir`, which `repository` names for mounts between layouts of one root; reads
    /// report progress to `transfers` when given.
    pub(crate) fn new(dir: PathBuf, repository: Repository, transfers: Option<Arc<Transfers>>) -> LayoutBlobs {
        LayoutBlobs { dir, repository, transfers, parents: Vec::new() }
    }

    /// These blobs, read from the nearest of `parents` (directories above, nearest first) holding the blob when
    /// the layout directory is no layout (neither `oci-layout` nor `index.json`).
    pub(crate) fn with_parents(mut self, parents: Vec<PathBuf>) -> LayoutBlobs {
        self.parents = parents;
        self
    }

    /// The file of `digest`: in the layout directory, or, when that is no layout, in the nearest parent layout
    /// holding it (else the layout directory's, which then does not exist).
    async fn locate(&self, digest: &Digest) -> PathBuf {
        let own = blob_path(&self.dir, digest);
        if self.parents.is_empty() || is_layout(&self.dir).await {
            return own;
        }
        for parent in &self.parents {
            let path = blob_path(parent, digest);
            if is_layout(parent).await && tokio::fs::metadata(&path).await.is_ok() {
                return path;
            }
        }
        own
    }

    /// The file of `digest`, opened and checked to hold `size` bytes, from `offset` on.
    async fn open_file(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        let path = self.locate(digest).await;
        let Some((file, len)) = open_regular_file(&path).await? else {
            return Err(blob_unknown(digest, &path));
        };
        if len != size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("blob {digest}: {} is {len} bytes, its descriptor says {size}", path.display()),
            ));
        }
        if offset > size {
            return Err(Error::invalid_input(format!("blob {digest}: offset {offset} is past its {size} bytes")));
        }
        let stream = range_stream(file, offset, size - offset, format!("read {}", path.display())).await?;
        Ok(match &self.transfers {
            Some(t) => t.download(digest, size).track(stream, offset),
            None => stream,
        })
    }
}

#[async_trait::async_trait]
impl BlobSource for LayoutBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        let stream = self.open_file(digest, size, 0).await?;
        Ok(Box::pin(VerifyingStream::new(stream, digest.clone(), Some(size))))
    }

    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        self.open_file(digest, size, offset).await
    }

    fn repository(&self) -> Option<&Repository> {
        Some(&self.repository)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use bytes::Bytes;
    use futures::TryStreamExt;

    use super::*;

    fn stream(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))))
    }

    #[tokio::test]
    async fn written_once_verified_and_read_back_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let d = Digest::sha256(b"hello world");
        write_blob(dir.path(), &d, 11, stream(vec![b"hello", b" world"])).await.unwrap();
        assert!(has_blob(dir.path(), &d, 11).await);
        assert!(!has_blob(dir.path(), &d, 12).await);
        let repo = Repository::parse("layout.invalid/app").unwrap();
        let blobs = LayoutBlobs::new(dir.path().to_path_buf(), repo, None);
        let all: Vec<Bytes> = blobs.open(&d, 11).await.unwrap().try_collect().await.unwrap();
        assert_eq!(all.concat(), b"hello world");
        let tail: Vec<Bytes> = blobs.open_unverified(&d, 11, 6).await.unwrap().try_collect().await.unwrap();
        assert_eq!(tail.concat(), b"world");
        assert_eq!(blobs.open(&d, 12).await.err().unwrap().kind(), ErrorKind::DigestMismatch);
        let missing = Digest::sha256(b"missing");
        let e = blobs.open(&missing, 1).await.err().unwrap();
        assert!(e.has_code("BLOB_UNKNOWN") && e.to_string().contains(missing.hex()), "{e}");

        // Wrong content, short or long: refused, nothing stored, no temp file left.
        let other = Digest::sha256(b"other");
        for parts in [vec![&b"othe"[..]], vec![b"othex"], vec![b"other", b"!"]] {
            let e = write_blob(dir.path(), &other, 5, stream(parts)).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        }
        assert!(!blob_exists(dir.path(), &other).await);
        let left: Vec<_> = std::fs::read_dir(dir.path().join(BLOBS_DIR)).unwrap().collect();
        assert_eq!(left.len(), 1, "only blobs/sha256: {left:?}");

        // A file changed behind our back fails the verified read.
        std::fs::write(blob_path(dir.path(), &d), b"HELLO WORLD").unwrap();
        let r: Result<Vec<Bytes>> = blobs.open(&d, 11).await.unwrap().try_collect().await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::DigestMismatch);
    }

    fn back_date(path: &Path, by: std::time::Duration) {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - by).unwrap();
    }

    /// A write to a layout removes the temp files a killed run left (unwritten for over 10 minutes), and leaves a
    /// fresh one (a write in progress), other names and the blobs alone.
    #[tokio::test]
    async fn a_write_sweeps_what_a_killed_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join(BLOBS_DIR);
        std::fs::create_dir_all(&blobs).unwrap();
        let old = std::time::Duration::from_secs(11 * 60);
        let left = blobs.join(".tmp-Ab3dE9");
        let fresh = blobs.join(".tmp-Qw3rty");
        let foreign = blobs.join(".tmp-abc");
        let index_left = dir.path().join(".index.json.tmp-zz99ZZ");
        let user = dir.path().join("notes.tmp-abcdef");
        for p in [&left, &fresh, &foreign, &index_left, &user] {
            std::fs::write(p, b"partial").unwrap();
        }
        for p in [&left, &foreign, &index_left, &user] {
            back_date(p, old);
        }
        let d = Digest::sha256(b"blob");
        let stream = Box::pin(futures::stream::once(async { Ok(bytes::Bytes::from_static(b"blob")) }));
        write_blob(dir.path(), &d, 4, stream).await.unwrap();
        assert!(!left.exists() && !index_left.exists(), "the leftovers went");
        assert!(fresh.exists() && foreign.exists() && user.exists(), "the rest stayed");
        assert_eq!(std::fs::read(blob_path(dir.path(), &d)).unwrap(), b"blob");
    }
}
