//! Writing a tar stream into a directory safely. (Being written: see `Image::extract_to`.)

use std::io::Read;
use std::path::Path;

use registry_core::{Error, Result};

use crate::image::extract_options::ExtractOptions;

/// Write the tar stream `tar` into `dir` (see `Image::extract_to` for the contract). Blocking: run it on a
/// blocking thread.
pub(crate) fn unpack(tar: &mut dyn Read, dir: &Path, options: &ExtractOptions) -> Result<()> {
    let _ = (tar, dir, options);
    Err(Error::unsupported("unpacking is not built yet"))
}
