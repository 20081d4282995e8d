//! Writing one tar entry into the tree, by kind: regular files, directories, symlinks, hard links, device nodes
//! and FIFOs. Every name goes through `confine::confine`, every parent through `Tree::walk`, every place through
//! `Tree::make_room`; directories' modes and times wait for [`Writer::finish`].

use std::io::{Read, Write};

use registry_core::{Error, ErrorKind, Result};
use rustix::fs::{FileType, Mode};
use tar::EntryType;

use crate::image::blocking::from_io;
use crate::image::extract_summary::ExtractSummary;
use crate::image::unpack::confine::{confine, shown, Inside};
use crate::image::unpack::meta::{Meta, Policy};
use crate::image::unpack::tree::{io_error, Dir, Room, Tree, Walk, IMPLICIT_DIR_MODE};

/// The copy buffer for file contents, in bytes (one per extraction).
const COPY_BUFFER: usize = 256 * 1024;

/// A directory whose mode and times are set at the end (so a read-only directory does not stop the entries
/// written into it later).
#[derive(Debug)]
struct Deferred {
    path: Inside,
    meta: Meta,
}

/// The state of one extraction.
#[derive(Debug)]
pub(crate) struct Writer {
    tree: Tree,
    policy: Policy,
    directories: Vec<Deferred>,
    written: u64,
    max_bytes: u64,
    counts: ExtractSummary,
    buffer: Vec<u8>,
}

impl Writer {
    /// Write into `tree` under `policy`, at most `max_bytes` of file contents in all.
    pub(crate) fn new(tree: Tree, policy: Policy, max_bytes: u64) -> Writer {
        Writer {
            tree,
            policy,
            directories: Vec::new(),
            written: 0,
            max_bytes,
            counts: ExtractSummary::default(),
            buffer: vec![0; COPY_BUFFER],
        }
    }

    /// Write `entry` (its data read to the end). Errors: `InvalidInput` naming the entry for a name or link that
    /// would leave the directory, a symlink in the way, an unknown entry type, truncated contents; `Unsupported`
    /// past the byte cap; the stream's own error (kind kept) when reading its data fails; `Io` for the file system.
    pub(crate) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let name = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        let kind = match kind {
            // A pre-POSIX tar marks a directory as a regular file whose name ends in `/`.
            EntryType::Regular if entry.header().as_bytes()[156] == 0 && name.ends_with(b"/") => EntryType::Directory,
            EntryType::Continuous => EntryType::Regular,
            other => other,
        };
        if kind == EntryType::XGlobalHeader {
            // Global PAX records (a comment, a commit id): nothing to write, and the tar crate applies none.
            return Ok(());
        }
        let path = confine(&name)
            .map_err(|refusal| Error::invalid_input(format!("tar entry {}: {}", shown(&name), refusal.reason())))?;
        let meta = Meta::read(entry, &name, &self.policy)?;
        if path.is_root() {
            if kind == EntryType::Directory {
                // The extraction directory's own mode and times are the caller's.
                return Ok(());
            }
            return Err(Error::invalid_input(format!(
                "tar entry {}: names the extraction directory itself but is not a directory",
                shown(&name)
            )));
        }
        let add = |n: &mut u64| *n = n.saturating_add(1);
        match kind {
            EntryType::Regular | EntryType::GNUSparse => {
                self.file(entry, path, &name, &meta)?;
                add(&mut self.counts.files);
                Ok(())
            }
            EntryType::Directory => {
                self.directory(path, &name, meta)?;
                add(&mut self.counts.directories);
                Ok(())
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.symlink(&path, &target, &name, &meta)?;
                add(&mut self.counts.symlinks);
                Ok(())
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.hard_link(&path, &target, &name)?;
                add(&mut self.counts.hard_links);
                Ok(())
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                if self.node(entry, kind, &path, &name, &meta)? {
                    add(&mut self.counts.nodes);
                }
                Ok(())
            }
            other => Err(Error::invalid_input(format!(
                "tar entry {}: entry type {:?} ('{}') is not one a file system holds",
                shown(&name),
                other,
                char::from(other.as_byte()).escape_default()
            ))),
        }
    }

    /// Set the deferred directories' modes and times, deepest first, and say what was written and skipped.
    /// Errors: `Io`.
    pub(crate) fn finish(mut self) -> Result<ExtractSummary> {
        let mut directories = std::mem::take(&mut self.directories);
        // Stable: of two entries for one directory the later is applied last.
        directories.sort_by_key(|d| std::cmp::Reverse(d.path.depth()));
        for dir in &directories {
            let Some((last, parents)) = dir.path.split_last() else { continue };
            let name = dir.path.as_bytes();
            let parent = match self.tree.walk(parents, name, Walk::Existing) {
                Ok(parent) => parent,
                // A later entry replaced a parent with something that is no directory: nothing left to set.
                Err(e) if e.kind() == ErrorKind::InvalidInput => continue,
                Err(e) => return Err(e),
            };
            if let Some(file) = self.tree.open_existing_dir(&parent, last, name)? {
                dir.meta.apply_to(&file, name)?;
            }
        }
        if self.counts.skipped > 0 {
            let skipped = self.counts.skipped;
            tracing::debug!(skipped, "device nodes and FIFOs skipped (ExtractOptions::devices is off)");
        }
        self.counts.bytes = self.written;
        Ok(self.counts)
    }

    fn file<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, path: Inside, name: &[u8], meta: &Meta) -> Result<()> {
        let (last, parents) = path.split_last().ok_or_else(|| root_error(name))?;
        let parent = self.tree.walk(parents, name, Walk::Create)?;
        self.tree.make_room(&parent, last, name, false)?;
        let mut file = self.tree.create_file(&parent, last, name)?;
        let size = entry.size();
        let mut copied = 0u64;
        loop {
            let n = entry
                .read(&mut self.buffer)
                .map_err(|e| from_io(e, &format!("reading the contents of tar entry {}", shown(name))))?;
            if n == 0 {
                break;
            }
            copied = copied.saturating_add(n as u64);
            self.written = self.written.saturating_add(n as u64);
            if self.written > self.max_bytes {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "tar entry {}: the extraction would write more than {} bytes of file contents \
                         (DecompressionLimits::max_bytes)",
                        shown(name),
                        self.max_bytes
                    ),
                ));
            }
            file.write_all(&self.buffer[..n]).map_err(|e| {
                Error::new(ErrorKind::Io, format!("extracting {}: writing the file: {e}", shown(name))).with_source(e)
            })?;
        }
        if copied != size {
            return Err(Error::invalid_input(format!(
                "tar entry {}: the stream ended after {copied} of its {size} bytes",
                shown(name)
            )));
        }
        meta.apply_to(&file, name)
    }

    fn directory(&mut self, path: Inside, name: &[u8], meta: Meta) -> Result<()> {
        let (last, parents) = path.split_last().ok_or_else(|| root_error(name))?;
        let parent = self.tree.walk(parents, name, Walk::Create)?;
        if self.tree.make_room(&parent, last, name, true)? == Room::Free {
            let mode = Mode::from_raw_mode(IMPLICIT_DIR_MODE);
            match rustix::fs::mkdirat(&parent, last, mode) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(io_error(format!("extracting {}: creating the directory", shown(name)), e)),
            }
        }
        drop(parent);
        self.directories.push(Deferred { path, meta });
        Ok(())
    }

    fn symlink(&mut self, path: &Inside, target: &[u8], name: &[u8], meta: &Meta) -> Result<()> {
        // The target is stored, never followed by the unpacker: `a -> /etc` is fine, a later write through `a/`
        // is refused by the walk.
        if target.is_empty() || target.contains(&0) {
            return Err(Error::invalid_input(format!(
                "tar entry {}: symlink target {} is empty or holds a NUL byte",
                shown(name),
                shown(target)
            )));
        }
        let (last, parents) = path.split_last().ok_or_else(|| root_error(name))?;
        let parent = self.tree.walk(parents, name, Walk::Create)?;
        self.tree.make_room(&parent, last, name, false)?;
        rustix::fs::symlinkat(target, &parent, last)
            .map_err(|e| io_error(format!("extracting {}: creating the symlink", shown(name)), e))?;
        meta.apply_to_symlink(&parent, last, name)
    }

    fn hard_link(&mut self, path: &Inside, target: &[u8], name: &[u8]) -> Result<()> {
        let refuse = |why: String| {
            Error::invalid_input(format!("tar entry {}: hard link to {}: {why}", shown(name), shown(target)))
        };
        let to = confine(target).map_err(|refusal| refuse(refusal.reason().to_string()))?;
        let Some((to_last, to_parents)) = to.split_last() else {
            return Err(refuse("the target is the extraction directory".to_string()));
        };
        if &to == path {
            return Err(refuse("the target is the entry itself".to_string()));
        }
        let from = self.tree.walk(to_parents, name, Walk::Existing).map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => refuse(format!("the target's directory cannot be used ({})", e.message())),
            _ => e,
        })?;
        match rustix::fs::statat(&from, to_last, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                return Err(refuse("the target is a directory".to_string()))
            }
            Ok(_) => {}
            Err(rustix::io::Errno::NOENT) => {
                return Err(refuse("the target does not exist in the extraction directory".to_string()))
            }
            Err(e) => return Err(io_error(format!("extracting {}: looking at the link target", shown(name)), e)),
        }
        let (last, parents) = path.split_last().ok_or_else(|| root_error(name))?;
        let parent = self.tree.walk(parents, name, Walk::Create)?;
        self.tree.make_room(&parent, last, name, false)?;
        // No AT_SYMLINK_FOLLOW: a target that is a symlink is linked itself, never what it points to.
        rustix::fs::linkat(&from, to_last, &parent, last, rustix::fs::AtFlags::empty())
            .map_err(|e| io_error(format!("extracting {}: creating the hard link", shown(name)), e))
    }

    fn node<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        kind: EntryType,
        path: &Inside,
        name: &[u8],
        meta: &Meta,
    ) -> Result<bool> {
        if !self.policy.devices() {
            self.counts.skipped = self.counts.skipped.saturating_add(1);
            return Ok(false);
        }
        let bad = |e: std::io::Error| {
            Error::invalid_input(format!("tar entry {}: its device number does not parse: {e}", shown(name)))
        };
        let major = entry.header().device_major().map_err(bad)?.unwrap_or(0);
        let minor = entry.header().device_minor().map_err(bad)?.unwrap_or(0);
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        let (last, parents) = path.split_last().ok_or_else(|| root_error(name))?;
        let parent = self.tree.walk(parents, name, Walk::Create)?;
        self.tree.make_room(&parent, last, name, false)?;
        make_node(&parent, last, file_type, Mode::from_raw_mode(meta.mode() & 0o777), major, minor)
            .map_err(|e| io_error(format!("extracting {}: creating the device node or FIFO", shown(name)), e))?;
        meta.apply_to_node(&parent, last, name)?;
        Ok(true)
    }
}

/// `mknodat`: a device node or FIFO `name` in `parent`, never through a symlink (it fails when `name` exists).
#[cfg(not(target_vendor = "apple"))]
fn make_node(
    parent: &Dir<'_>,
    name: &[u8],
    file_type: FileType,
    mode: Mode,
    major: u32,
    minor: u32,
) -> rustix::io::Result<()> {
    rustix::fs::mknodat(parent, name, file_type, mode, rustix::fs::makedev(major, minor))
}

/// Apple systems have no `mknodat` in rustix: device nodes and FIFOs are not made there.
#[cfg(target_vendor = "apple")]
fn make_node(
    _parent: &Dir<'_>,
    _name: &[u8],
    _file_type: FileType,
    _mode: Mode,
    _major: u32,
    _minor: u32,
) -> rustix::io::Result<()> {
    Err(rustix::io::Errno::NOSYS)
}

fn root_error(name: &[u8]) -> Error {
    Error::invalid_input(format!("tar entry {}: names the extraction directory itself", shown(name)))
}
