//! An image's filesystem: [`Image::extract`] (the layers flattened into one tar stream) and
//! [`Image::extract_to`] (the same written safely to a directory). The flattening is in `flatten`, the safe
//! writing in `unpack`; this file joins them to the image.

use std::path::Path;

use registry_core::{Error, ErrorKind, Result};
use tokio::io::AsyncRead;

use crate::image::extract_options::ExtractOptions;
use crate::image::model::Image;
use crate::image::{flatten, unpack};

impl Image {
    /// The image's filesystem as one tar stream (go-containerregistry `mutate.Extract`, `crane export`): the
    /// layers applied base first, whiteouts (`.wh.<name>`) and opaque directories (`.wh..wh..opq`) applied and
    /// never emitted, a later layer's entry replacing an earlier one's, hard links and symlinks kept. Each layer is
    /// streamed from the image's source, decompressed (gzip, zstd or none) within [`DecompressionLimits`]
    /// (crate::DecompressionLimits) and checked against the config's `rootfs.diff_ids`.
    ///
    /// Errors (a network failure, a digest or `diff_id` mismatch, a bad tar, a cap reached) end the stream with an
    /// `io::Error` whose inner error is this crate's [`Error`] (`err.get_ref()`, downcast); a stream that ends
    /// without an error is the whole filesystem. Must be read inside a tokio runtime.
    pub fn extract(&self) -> impl AsyncRead + Send + Unpin + 'static {
        self.extract_with(ExtractOptions::default())
    }

    /// [`Image::extract`] with options (decompression caps, `diff_id` checks).
    pub fn extract_with(&self, options: ExtractOptions) -> impl AsyncRead + Send + Unpin + 'static {
        flatten::flatten(self.clone(), options)
    }

    /// Write the image's filesystem (as [`Image::extract`] gives it) into `dir`, created if missing, safely: no
    /// entry writes outside `dir` (`..`, absolute paths, writes through a symlink, hard links to paths outside),
    /// device nodes and FIFOs are skipped, modes are kept, ownership is not applied.
    ///
    /// Errors: `InvalidInput` naming the entry that would escape `dir` (nothing outside `dir` is touched);
    /// the errors of [`Image::extract`]; `Io` when `dir` cannot be written.
    pub async fn extract_to(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.extract_to_with(dir, ExtractOptions::default()).await
    }

    /// [`Image::extract_to`] with options (devices, ownership, decompression caps, `diff_id` checks).
    pub async fn extract_to_with(&self, dir: impl AsRef<Path>, options: ExtractOptions) -> Result<()> {
        let dir = dir.as_ref().to_path_buf();
        let mut tar = tokio_util::io::SyncIoBridge::new(self.extract_with(options));
        tokio::task::spawn_blocking(move || unpack::unpack(&mut tar, &dir, &options))
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("the extraction task failed: {e}")))?
    }
}
