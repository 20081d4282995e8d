//! A new layer in a temp file: from a tar (plain, gzip or zstd, told by its first bytes), or from a directory tree
//! (see `directory`). Written once while hashing both the stored bytes (the blob digest) and the uncompressed tar
//! (the `diff_id`); memory stays flat whatever the size.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use registry_core::{Digest, Error, ErrorKind, Result};
use tempfile::TempPath;

use crate::image::blocking::{carries_error, from_io};
use crate::image::compression::{sniff_reader, Compression, DecompressionLimits, LayerReader, OutputBudget};
use crate::image::mutate::directory::{write_tree, TreeOptions};
use crate::image::mutate::hashing::{missing, DiskReader, DiskWriter, HashingWriter, TeeReader};

/// A layer written to a temp file (deleted when this is dropped): its digest and size as stored, its `diff_id`
/// and how it is compressed.
#[derive(Debug)]
pub(crate) struct LayerFile {
    path: TempPath,
    digest: Digest,
    size: u64,
    diff_id: Digest,
    compression: Compression,
}

impl LayerFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn diff_id(&self) -> &Digest {
        &self.diff_id
    }

    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }
}

fn temp_file(dir: &Path) -> Result<(File, TempPath, String)> {
    let named = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        Error::new(ErrorKind::Io, format!("cannot create a temp file in {}: {e}", dir.display())).with_source(e)
    })?;
    let what = format!("the temp file {}", named.path().display());
    let (file, path) = named.into_parts();
    Ok((file, path, what))
}

fn gzip<W: Write>(out: W) -> flate2::write::GzEncoder<W> {
    // No file name, mtime 0, OS "unknown": the same input always gives the same bytes.
    flate2::GzBuilder::new().mtime(0).write(out, flate2::Compression::default())
}

/// An error from reading `name`'s tar: ours (a disk or source error) kept, any other (a bad header, bad
/// compression) is `InvalidInput` naming the input.
fn input_error(e: io::Error, name: &str) -> Error {
    if carries_error(&e) {
        return from_io(e, name);
    }
    Error::new(
        ErrorKind::InvalidInput,
        format!("{name}: not a valid tar layer (plain, gzip or zstd): {}", crate::image::tar_error::tar_detail(&e)),
    )
    .with_source(e)
}

/// Walk the tar in `reader` to its end (every header checked), then read to EOF, so every byte is hashed.
fn check_tar(reader: &mut impl Read, name: &str) -> Result<()> {
    {
        let mut archive = tar::Archive::new(&mut *reader);
        let entries = archive.entries().map_err(|e| input_error(e, name))?;
        for entry in entries {
            let entry = entry.map_err(|e| input_error(e, name))?;
            // Reading a header checks its checksum; a path must be there too.
            entry.path().map_err(|e| input_error(e, name))?;
        }
    }
    io::copy(reader, &mut io::sink()).map_err(|e| input_error(e, name))?;
    Ok(())
}

/// A layer from the tar in `input` (called `name` in errors: the path, or "layer bytes"). gzip is kept as it is;
/// zstd too when `keep_zstd`, else it is decompressed and stored as gzip; a plain tar is gzip-compressed. The tar
/// is checked (every header read): `InvalidInput` naming `name` when it is no tar or its compression is broken;
/// `Io` when the temp file in `temp_dir` cannot be written.
pub(crate) fn from_reader(input: impl Read + Send, name: &str, keep_zstd: bool, temp_dir: &Path) -> Result<LayerFile> {
    let (compression, input) = sniff_reader(input).map_err(|e| from_io(e, name))?;
    let keep = match compression {
        Compression::Gzip => true,
        Compression::Zstd => keep_zstd,
        _ => false,
    };
    let (file, path, what) = temp_file(temp_dir)?;
    let disk = DiskWriter::new(BufWriter::with_capacity(256 << 10, file), what.clone());
    // User input: only the total is capped (a layer of zeros is legitimate here), never the ratio.
    let limits = DecompressionLimits::new().max_ratio(0);
    let (digest, size, diff_id, disk) = if keep {
        let mut raw = TeeReader::new(input, disk);
        let (diff_id, _) = {
            let layer = LayerReader::new(compression, &mut raw, name, None, limits, OutputBudget::new());
            let mut plain = TeeReader::new(layer, io::sink());
            check_tar(&mut plain, name)?;
            let (d, n, _) = plain.finish();
            (d, n)
        };
        // Anything after the compressed stream is part of the blob too.
        io::copy(&mut raw, &mut io::sink()).map_err(|e| input_error(e, name))?;
        let (digest, size, disk) = raw.finish();
        (digest, size, diff_id, disk)
    } else {
        let mut raw = TeeReader::new(input, io::sink());
        let layer = LayerReader::new(compression, &mut raw, name, None, limits, OutputBudget::new());
        let mut plain = TeeReader::new(layer, gzip(HashingWriter::new(disk)));
        check_tar(&mut plain, name)?;
        let (diff_id, _, encoder) = plain.finish();
        let (digest, size, disk) = encoder.finish().map_err(|e| from_io(e, &what))?.finish();
        (digest, size, diff_id, disk)
    };
    let stored = if keep { compression } else { Compression::Gzip };
    close(disk, &what)?;
    Ok(LayerFile { path, digest, size, diff_id, compression: stored })
}

/// A layer holding the tree under `root`, its entries under `dest` (see [`write_tree`] for what is stored and
/// refused), gzip-compressed.
pub(crate) fn from_directory(root: &Path, dest: &Path, options: &TreeOptions, temp_dir: &Path) -> Result<LayerFile> {
    let (file, path, what) = temp_file(temp_dir)?;
    let disk = DiskWriter::new(BufWriter::with_capacity(256 << 10, file), what.clone());
    let mut plain = HashingWriter::new(gzip(HashingWriter::new(disk)));
    write_tree(root, dest, options, &mut plain)?;
    let (diff_id, _, encoder) = plain.finish();
    let (digest, size, disk) = encoder.finish().map_err(|e| from_io(e, &what))?.finish();
    close(disk, &what)?;
    Ok(LayerFile { path, digest, size, diff_id, compression: Compression::Gzip })
}

/// Flush the temp file to the OS (the data is read back by path; no fsync is needed for a temp file).
fn close(disk: DiskWriter<BufWriter<File>>, what: &str) -> Result<()> {
    disk.into_inner().into_inner().map_err(|e| {
        let e = e.into_error();
        Error::new(ErrorKind::Io, format!("cannot write {what}: {e}")).with_source(e)
    })?;
    Ok(())
}

/// A layer from the tar file at `path` (see [`from_reader`]). `InvalidInput` naming the path when it is missing
/// or no regular file.
pub(crate) fn from_file(path: &Path, keep_zstd: bool, temp_dir: &Path) -> Result<LayerFile> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| missing(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid_input(format!("layer file {name} is not a regular file")));
    }
    let file = File::open(path).map_err(|e| missing(path, e))?;
    let reader = DiskReader::new(io::BufReader::with_capacity(256 << 10, file), &name);
    from_reader(reader, &name, keep_zstd, temp_dir)
}

/// A temp directory to write layers in: `dir`, or the system's.
pub(crate) fn temp_dir_or_default(dir: Option<&PathBuf>) -> PathBuf {
    dir.cloned().unwrap_or_else(std::env::temp_dir)
}
