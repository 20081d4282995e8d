//! An image's filesystem: [`Image::extract`] (the layers flattened into one tar stream) and
//! [`Image::extract_to`] (the same written safely to a directory). The flattening is in `flatten`, the safe
//! writing in `unpack`; this file joins them to the image.

use std::path::Path;

use registry_core::Result;
use tokio::io::AsyncRead;

use crate::image::blocking::run_blocking;
use crate::image::extract_options::ExtractOptions;
use crate::image::extract_summary::ExtractSummary;
use crate::image::model::Image;
use crate::image::{flatten, unpack};

impl Image {
    /// The image's filesystem as one tar stream (go-containerregistry `mutate.Extract`, `crane export`): the
    /// layers applied base first as the OCI image spec's "Representing Changes" says, whiteouts (`.wh.<name>`) and
    /// opaque directories (`.wh..wh..opq`) applied to lower layers and never emitted, a later layer's entry
    /// replacing an earlier one's, symlinks kept. Each layer is streamed from the image's source, decompressed
    /// (gzip, zstd or none, by media type or else by its first bytes) within the
    /// [`DecompressionLimits`](crate::DecompressionLimits) of the options, and checked against the config's
    /// `rootfs.diff_ids`.
    ///
    /// The stream holds each path once, upper layers' entries first (so an entry may come before its parent
    /// directory's), hard links last. A hard link whose target a higher layer replaced or removed carries the
    /// target's old content instead. Two entries for one path in one layer are both emitted, in order (the later
    /// one wins on extraction). Memory holds per-path metadata only (about 100 bytes a path), never content.
    ///
    /// Errors end the stream with an `io::Error` whose inner error is this crate's [`Error`](crate::Error) (`err.get_ref()`,
    /// downcast): `InvalidInput` for a `..` name (naming the layer and entry), a layer that is not a valid tar
    /// (`layer <digest> (i of n) is not a valid tar: <detail>`: a bad header, a block or an entry's data cut
    /// short) or a layer count that differs from `rootfs.diff_ids`; `DigestMismatch` for a blob or `diff_id` that
    /// does not match; `Unsupported` when a decompression cap is reached; the source's own errors (network,
    /// `NotFound`, `DigestMismatch`) with their kind, status and registry codes kept, the message prefixed with
    /// the layer (`layer <digest> (i of n) from <repository>: `). A stream that ends without an error is the
    /// whole filesystem. Read it inside a tokio runtime (outside one the first
    /// read fails with `Unsupported`).
    pub fn extract(&self) -> impl AsyncRead + Send + Unpin + 'static {
        self.extract_with(ExtractOptions::default())
    }

    /// [`Image::extract`] with options (decompression caps, `diff_id` checks).
    pub fn extract_with(&self, options: ExtractOptions) -> impl AsyncRead + Send + Unpin + 'static {
        flatten::flatten(self.clone(), options)
    }

    /// Write the image's filesystem (as [`Image::extract`] gives it) into `dir`, created if missing, safely (see
    /// [`unpack_tar`](crate::unpack_tar), which does the writing): no entry writes outside `dir` (`..` is refused,
    /// a leading `/` is taken as relative to `dir`, a write through a symlink and a hard link to a path outside
    /// are refused; symlinks themselves may point anywhere), device nodes and FIFOs are skipped, permission bits
    /// and mtimes are kept, setuid/setgid bits and ownership only with
    /// [`ExtractOptions::preserve_ownership`] when running as root. What is in an entry's place is replaced, never
    /// written through.
    ///
    /// Errors: `InvalidInput` naming the entry that would escape `dir` (nothing outside `dir` is touched), or
    /// naming `dir` (or its parent) when it exists and is not a directory; the errors of [`Image::extract`]; `Io`
    /// when `dir` cannot be written.
    ///
    /// On an error `dir` is left half-written, as [`unpack_tar`](crate::unpack_tar) leaves it: the entries
    /// written before the error stay, directories with the mode they were made with (0755 less the umask), not
    /// the image's; nothing is rolled back. Extract into a new directory and remove it when this fails.
    pub async fn extract_to(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.extract_to_with(dir, ExtractOptions::default()).await
    }

    /// [`Image::extract_to`] with options (devices, ownership, decompression caps, `diff_id` checks).
    pub async fn extract_to_with(&self, dir: impl AsRef<Path>, options: ExtractOptions) -> Result<()> {
        self.extract_to_with_summary(dir, options).await.map(|_| ())
    }

    /// [`Image::extract_to_with`], returning what was written ([`ExtractSummary`]: files, directories, symlinks,
    /// hard links, nodes, bytes of file contents, device nodes and FIFOs skipped), for a report such as
    /// `regcli extract`'s. Same rules and errors as [`Image::extract_to`].
    pub async fn extract_to_with_summary(
        &self,
        dir: impl AsRef<Path>,
        options: ExtractOptions,
    ) -> Result<ExtractSummary> {
        let dir = dir.as_ref().to_path_buf();
        let mut tar = tokio_util::io::SyncIoBridge::new(self.extract_with(options));
        run_blocking("the extraction task failed", move || unpack::unpack(&mut tar, &dir, &options)).await
    }
}
