//! A directory tree as a tar stream, the way a layer should hold it: entries relative to the root, each directory's
//! entries sorted by name bytes and a directory before its contents, regular files, directories and symlinks (never
//! followed) with their permission bits; anything else (a device, a FIFO, a socket) is refused, naming it.
//! Hard-linked files are stored as separate copies. Timestamps come from the disk or are fixed; owners too, or
//! uid/gid 0.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use registry_core::{Error, ErrorKind, Result};

use crate::image::blocking::{carries_error, from_io};
use crate::image::mutate::hashing::missing;

/// How the tree's entries are stamped.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TreeOptions {
    /// Every entry's mtime (Unix seconds) when set; else each file's own.
    pub(crate) mtime: Option<u64>,
    /// uid and gid 0 for every entry (else the file's own, on Unix).
    pub(crate) zero_owners: bool,
}

/// Entries written at most (a guard against a tree that never ends, e.g. a bind mount of itself).
const MAX_ENTRIES: usize = 10_000_000;

fn disk_error(path: &Path, e: io::Error) -> Error {
    if carries_error(&e) {
        return from_io(e, &path.display().to_string());
    }
    Error::new(ErrorKind::Io, format!("{}: {e}", path.display())).with_source(e)
}

/// Mode of the directories made for a destination (`dest` and its parents), as a Dockerfile `COPY` makes them.
const DEST_DIR_MODE: u32 = 0o755;

/// The destination of a copied tree as a relative path inside the image: `/app`, `app` and `./app/` are all `app`,
/// `/opt//app` is `opt/app`; `/` and the empty path are the root (an empty path). `InvalidInput` naming `dest`
/// when it holds `..` (or, on Windows, a drive prefix): a layer's entries never point above the root.
pub(crate) fn normalise_dest(dest: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for part in dest.components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => out.push(name),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::invalid_input(format!(
                    "destination {} holds `..` or a drive prefix: give a path inside the image (absolute, or \
                     relative to /)",
                    dest.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Write the tree under `root` as a tar to `out` (closed with the end-of-archive blocks), its entries under
/// `dest` (a relative path from [`normalise_dest`]; empty for the image root). `dest` and each of its parents
/// come first as directories: mode 0755, uid/gid 0, the fixed mtime or else `root`'s. `InvalidInput` naming the
/// path when `root` is missing or no directory, or holds a special file; `Io` for a read or write failure (naming
/// the file), including a file that changed size while it was read.
pub(crate) fn write_tree(root: &Path, dest: &Path, options: &TreeOptions, out: impl Write) -> Result<()> {
    let meta = fs::symlink_metadata(root).map_err(|e| missing(root, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid_input(format!("{} is not a directory", root.display())));
    }
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut made = PathBuf::new();
    for part in dest.components() {
        made.push(part);
        let mut header = header_for(&meta, &TreeOptions { mtime: options.mtime, zero_owners: true });
        header.set_mode(DEST_DIR_MODE);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        builder.append_data(&mut header, &made, io::empty()).map_err(|e| disk_error(root, e))?;
    }
    // Depth-first with an explicit stack of (relative path) in reverse order, so entries come out sorted.
    let mut stack: Vec<PathBuf> = children(root, Path::new(""))?;
    stack.reverse();
    let mut written = 0usize;
    while let Some(rel) = stack.pop() {
        written = written.saturating_add(1);
        if written > MAX_ENTRIES {
            return Err(Error::invalid_input(format!(
                "{} holds more than {MAX_ENTRIES} entries: refused as a layer",
                root.display()
            )));
        }
        let full = root.join(&rel);
        let name = dest.join(&rel);
        let meta = fs::symlink_metadata(&full).map_err(|e| disk_error(&full, e))?;
        let kind = meta.file_type();
        let mut header = header_for(&meta, options);
        if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, &name, io::empty()).map_err(|e| disk_error(&full, e))?;
            let mut below = children(root, &rel)?;
            below.reverse();
            stack.extend(below);
        } else if kind.is_symlink() {
            let target = fs::read_link(&full).map_err(|e| disk_error(&full, e))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, &name, &target).map_err(|e| disk_error(&full, e))?;
        } else if kind.is_file() {
            let len = meta.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(len);
            let file = File::open(&full).map_err(|e| disk_error(&full, e))?;
            let mut counted = Counted { inner: file.take(len), count: 0 };
            builder.append_data(&mut header, &name, &mut counted).map_err(|e| disk_error(&full, e))?;
            if counted.count != len {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("{} changed while it was read ({} bytes, then {})", full.display(), len, counted.count),
                ));
            }
        } else {
            return Err(Error::invalid_input(format!(
                "{} is a special file (device, FIFO or socket): a layer from a directory holds only files, \
                 directories and symlinks",
                full.display()
            )));
        }
    }
    builder.into_inner().and_then(|mut w| w.flush()).map_err(|e| disk_error(root, e))?;
    Ok(())
}

/// The names in `root/rel`, as paths relative to `root`, sorted by their bytes.
fn children(root: &Path, rel: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(rel);
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| disk_error(&dir, e))? {
        let entry = entry.map_err(|e| disk_error(&dir, e))?;
        names.push(entry.file_name());
    }
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    Ok(names.into_iter().map(|n| rel.join(n)).collect())
}

fn header_for(meta: &Metadata, options: &TreeOptions) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let (mode, uid, gid, mtime) = owner_and_mode(meta);
    header.set_mode(mode);
    let (uid, gid) = if options.zero_owners { (0, 0) } else { (uid, gid) };
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_mtime(options.mtime.unwrap_or(mtime));
    header
}

#[cfg(unix)]
fn owner_and_mode(meta: &Metadata) -> (u32, u64, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.mode() & 0o7777, u64::from(meta.uid()), u64::from(meta.gid()), u64::try_from(meta.mtime()).unwrap_or(0))
}

#[cfg(not(unix))]
fn owner_and_mode(meta: &Metadata) -> (u32, u64, u64, u64) {
    let mode = if meta.is_dir() {
        0o755
    } else if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (mode, 0, 0, mtime)
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count = self.count.saturating_add(n as u64);
        Ok(n)
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn tree_is_sorted_with_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/sub")).unwrap();
        fs::write(root.join("b/sub/z.txt"), b"zz").unwrap();
        fs::write(root.join("a.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("a.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("../nowhere", root.join("c")).unwrap();
        let opts = TreeOptions { mtime: Some(7), zero_owners: true };
        let mut out = Vec::new();
        write_tree(root, Path::new(""), &opts, &mut out).unwrap();
        let mut archive = tar::Archive::new(&out[..]);
        let got: Vec<(String, u32, u64, String)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let link = e.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default();
                (e.path().unwrap().display().to_string(), h.mode().unwrap(), h.mtime().unwrap(), link)
            })
            .collect();
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(names, ["a.sh", "b", "b/sub", "b/sub/z.txt", "c"]);
        assert_eq!(got[0].1, 0o750);
        assert!(got.iter().all(|g| g.2 == 7));
        assert_eq!(got[4].3, "../nowhere", "the symlink is stored, not followed");
        let mut again = Vec::new();
        write_tree(root, Path::new(""), &opts, &mut again).unwrap();
        assert_eq!(out, again, "the same tree gives the same bytes");
    }

    #[test]
    fn special_files_and_missing_roots_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = write_tree(dir.path(), Path::new(""), &TreeOptions::default(), io::sink()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("s.sock"), "{e}");
        let e = write_tree(&dir.path().join("nope"), Path::new(""), &TreeOptions::default(), io::sink()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
