//! The extraction directory as an open directory descriptor, and every walk into it: each component opened
//! relative to the one before with `O_NOFOLLOW | O_DIRECTORY`, so a symlink met on the way is never followed (the
//! open fails and the entry is refused) and a path checked is the path written (no check-then-use by name).
//! Making room for an entry (unlinking what is in its place, never writing through it) is here too.

use std::cell::RefCell;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use registry_core::{Error, ErrorKind, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::image::unpack::confine::shown;

/// Mode of the directories made for an entry whose parent the stream has not given (yet).
pub(crate) const IMPLICIT_DIR_MODE: u32 = 0o755;

/// The extraction directory, open, and the directory the last walk ended in (entries come grouped by directory:
/// the next walk starts there when it can, so a deep tree costs one `openat` per new component, not per component
/// of every entry). The cached directory was reached like any other, with `O_NOFOLLOW` at every step; it is
/// forgotten whenever a directory is removed.
#[derive(Debug)]
pub(crate) struct Tree {
    root: OwnedFd,
    last: RefCell<Option<(Vec<u8>, OwnedFd)>>,
}

/// A directory inside the tree, open: the root itself or one opened by a walk.
#[derive(Debug)]
pub(crate) enum Dir<'t> {
    /// The extraction directory.
    Root(BorrowedFd<'t>),
    /// A directory below it.
    Below(OwnedFd),
}

impl AsFd for Dir<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Dir::Root(fd) => *fd,
            Dir::Below(fd) => fd.as_fd(),
        }
    }
}

/// What was in an entry's place before [`Tree::make_room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Nothing (or something now removed).
    Free,
    /// A directory, kept (the entry is a directory too).
    Directory,
}

/// Which walk failed, for the message: the entry's own parents or a hard link target's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// The parents of the entry being written: missing ones are created.
    Create,
    /// The parents of an existing path (a hard link's target, a directory whose mode is set at the end): nothing
    /// is created.
    Existing,
}

impl Tree {
    /// Open `dir` (following symlinks: `dir` is the caller's, not the archive's), creating it and its parents when
    /// missing. Errors: `InvalidInput` naming the path when `dir` or one of its parents exists and is not a
    /// directory; `Io` naming `dir` for any other failure.
    pub(crate) fn open(dir: &Path) -> Result<Tree> {
        std::fs::create_dir_all(dir).map_err(|e| {
            if let Some(file) = dir.ancestors().find(|p| p.metadata().is_ok_and(|m| !m.is_dir())) {
                let message = if file == dir {
                    format!("the extraction directory {} exists and is not a directory", dir.display())
                } else {
                    format!(
                        "cannot create the extraction directory {}: {} exists and is not a directory",
                        dir.display(),
                        file.display()
                    )
                };
                return Error::invalid_input(message).with_source(e);
            }
            Error::new(ErrorKind::Io, format!("creating the extraction directory {}: {e}", dir.display()))
                .with_source(e)
        })?;
        let root = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io_error(format!("opening the extraction directory {}", dir.display()), e))?;
        Ok(Tree { root, last: RefCell::new(None) })
    }

    /// The extraction directory itself.
    pub(crate) fn root(&self) -> Dir<'_> {
        Dir::Root(self.root.as_fd())
    }

    /// Open the directory `path` names inside the tree (its components joined by `/`, as `confine` makes them;
    /// empty for the root), for the entry `entry` (bytes, for messages). Each component must be a directory, not a
    /// symlink to one: `InvalidInput` naming the entry and the component otherwise. With [`Walk::Create`] a
    /// missing component is made ([`IMPLICIT_DIR_MODE`]); with [`Walk::Existing`] it is `InvalidInput` ("does not
    /// exist"). Other failures: `Io`.
    pub(crate) fn walk(&self, path: &[u8], entry: &[u8], walk: Walk) -> Result<Dir<'_>> {
        let (mut dir, start) = self.resume(path, entry)?;
        let mut offset = start;
        while offset < path.len() {
            let end = path[offset..].iter().position(|b| *b == b'/').map_or(path.len(), |p| offset + p);
            let component = &path[offset..end];
            let here = &path[..end];
            let opened = match open_dir(&dir, component) {
                Err(Errno::NOENT) if walk == Walk::Create => {
                    match rustix::fs::mkdirat(&dir, component, Mode::from_raw_mode(IMPLICIT_DIR_MODE)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(io_error(
                                format!("extracting {}: creating directory {}", shown(entry), shown(here)),
                                e,
                            ))
                        }
                    }
                    open_dir(&dir, component)
                }
                other => other,
            };
            dir = match opened {
                Ok(fd) => Dir::Below(fd),
                Err(e) => return Err(why_not_a_directory(&dir, component, e, entry, here)),
            };
            offset = end.saturating_add(1);
        }
        if let Dir::Below(fd) = &dir {
            if start < path.len() {
                let copy = fd.try_clone().map_err(|e| io_error_std(format!("extracting {}", shown(entry)), e))?;
                *self.last.borrow_mut() = Some((path.to_vec(), copy));
            }
        }
        Ok(dir)
    }

    /// Where a walk to `path` starts: the last walk's directory when it is on the way (a copy of its descriptor,
    /// and the offset in `path` of the first component left to open), else the root.
    fn resume(&self, path: &[u8], entry: &[u8]) -> Result<(Dir<'_>, usize)> {
        if let Some((done, fd)) = self.last.borrow().as_ref() {
            let on_the_way =
                path.starts_with(done) && (path.len() == done.len() || path.get(done.len()) == Some(&b'/'));
            if !done.is_empty() && on_the_way {
                let copy = fd.try_clone().map_err(|e| io_error_std(format!("extracting {}", shown(entry)), e))?;
                return Ok((Dir::Below(copy), done.len().saturating_add(1).min(path.len())));
            }
        }
        Ok((self.root(), 0))
    }

    /// Clear the place `name` in `parent` for the entry `entry`: nothing there, fine; a directory, kept when
    /// `want_dir`, else removed if empty (`InvalidInput` "a directory that is not empty is in its place" if not);
    /// anything else (a file, a symlink, a device) unlinked, never opened or followed. Errors: that
    /// `InvalidInput`, `Io` for a failed unlink.
    pub(crate) fn make_room(&self, parent: &Dir<'_>, name: &[u8], entry: &[u8], want_dir: bool) -> Result<Room> {
        let stat = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => return Ok(Room::Free),
            Err(e) => return Err(io_error(format!("extracting {}: looking at what is in its place", shown(entry)), e)),
        };
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            if want_dir {
                return Ok(Room::Directory);
            }
            self.last.borrow_mut().take();
            return match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
                Ok(()) => Ok(Room::Free),
                Err(Errno::NOTEMPTY | Errno::EXIST) => Err(Error::invalid_input(format!(
                    "tar entry {}: a directory that is not empty is in its place: entries below this path came \
                     earlier in the stream (in an image: a later layer writes below a path that an earlier layer \
                     makes a symlink or file, which would write through it)",
                    shown(entry)
                ))),
                Err(e) => Err(io_error(format!("extracting {}: removing the directory in its place", shown(entry)), e)),
            };
        }
        match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(Room::Free),
            Err(e) => Err(io_error(format!("extracting {}: removing what is in its place", shown(entry)), e)),
        }
    }

    /// Create the regular file `name` in `parent`, exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`: never an existing
    /// file, never through a symlink), mode 0600 until its mode is set. Errors: `Io` naming the entry.
    pub(crate) fn create_file(&self, parent: &Dir<'_>, name: &[u8], entry: &[u8]) -> Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(parent, name, flags, Mode::from_raw_mode(0o600))
            .map(File::from)
            .map_err(|e| io_error(format!("extracting {}: creating the file", shown(entry)), e))
    }

    /// Open the directory `name` in `parent` without following a symlink, to set its mode and times. `Ok(None)`
    /// when it is gone or no longer a directory (a later entry replaced it). Errors: `Io`.
    pub(crate) fn open_existing_dir(&self, parent: &Dir<'_>, name: &[u8], entry: &[u8]) -> Result<Option<File>> {
        match open_dir(parent, name) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(None),
            Err(e) => Err(io_error(format!("extracting {}: opening the directory", shown(entry)), e)),
        }
    }
}

/// `component` of `dir`, opened as a directory without following a symlink.
fn open_dir(dir: &Dir<'_>, component: &[u8]) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, component, flags, Mode::empty())
}

/// The error for a component that would not open as a directory: a symlink or a non-directory is the archive's
/// fault (`InvalidInput`), anything else the system's (`Io`).
fn why_not_a_directory(dir: &Dir<'_>, component: &[u8], e: Errno, entry: &[u8], here: &[u8]) -> Error {
    let what = match rustix::fs::statat(dir, component, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => Some("is a symbolic link, and nothing is written through one"),
            FileType::Directory => None,
            _ => Some("is not a directory"),
        },
        Err(Errno::NOENT) => Some("does not exist"),
        Err(_) => None,
    };
    match what {
        Some(what) => Error::invalid_input(format!("tar entry {}: {} {what}", shown(entry), shown(here))),
        None => io_error(format!("extracting {}: opening directory {}", shown(entry), shown(here)), e),
    }
}

/// An `Io` error saying `context` and the system's error.
pub(crate) fn io_error(context: String, e: Errno) -> Error {
    io_error_std(context, std::io::Error::from(e))
}

fn io_error_std(context: String, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{context}: {e}")).with_source(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_directorys_place_is_named() {
        let top = tempfile::tempdir().unwrap();
        let file = top.path().join("layer1.tar");
        std::fs::write(&file, b"x").unwrap();
        let e = Tree::open(&file).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(e.message(), format!("the extraction directory {} exists and is not a directory", file.display()));
        let below = file.join("rootfs");
        let e = Tree::open(&below).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let want = format!(
            "cannot create the extraction directory {}: {} exists and is not a directory",
            below.display(),
            file.display()
        );
        assert_eq!(e.message(), want);
        assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is left as it was");
        assert!(Tree::open(&top.path().join("a/b")).is_ok(), "missing parents are made");
    }
}
