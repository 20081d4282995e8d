//! Random access to the members of an uncompressed tar file without unpacking it: one scan of the headers (the
//! data is skipped by seeking), then the byte range of each member by its normalised name (`./a/b` and `a//b` are
//! `a/b`). Memory is per member (its name and range), never per byte of data.
//!
//! Member names are only ever compared with the names an archive's index files give: nothing is opened on disk by
//! a member's name, so a member called `../../etc/passwd` is just a name that no lookup matches.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use registry_core::{Error, ErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::image::blocking::run_blocking;
use crate::image::compression::Compression;

/// At most this many members are indexed (a tar of a million empty files is no image archive).
pub(crate) const MAX_MEMBERS: usize = 1_000_000;

/// What a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A regular file (its data follows its header).
    File,
    /// A symbolic link to this target (relative to the link's directory unless absolute).
    Symlink(String),
    /// A hard link to this other member name.
    Hardlink(String),
    /// A directory or anything else: no data to read.
    Other,
}

/// One member: where its data is and what it is.
#[derive(Debug, Clone)]
struct Member {
    offset: u64,
    size: u64,
    kind: Kind,
    /// How many members carry this name (more than one: an ambiguous archive, see [`TarIndex::find`]).
    copies: u32,
}

/// The byte range of a regular member's data inside the archive file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    /// Offset of the first data byte from the start of the file.
    pub(crate) offset: u64,
    /// Length in bytes.
    pub(crate) size: u64,
}

/// The members of one tar file, by normalised name.
#[derive(Debug)]
pub(crate) struct TarIndex {
    /// How the archive is named in errors (`docker-archive:/path/file.tar`).
    label: String,
    path: PathBuf,
    members: HashMap<String, Member>,
}

/// `name` with `./`, empty and `.` components removed and `..` applied; `None` when it is absolute or climbs above
/// the archive's root (such a name never matches a lookup).
pub(crate) fn normalise(name: &str) -> Option<String> {
    if name.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl TarIndex {
    /// Scan the headers of the tar file at `path` (blocking: call on a blocking thread). `label` names the archive
    /// in errors. `NotFound` when the file does not exist; `InvalidInput` when it is not a readable tar (a broken
    /// header, a member running past the end of the file, more than [`MAX_MEMBERS`] members), naming the archive
    /// and the member.
    pub(crate) fn scan(path: &Path, label: &str) -> Result<TarIndex> {
        let file = std::fs::File::open(path).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Io };
            Error::new(kind, format!("{label}: cannot open: {e}")).with_source(e)
        })?;
        let meta = file.metadata().map_err(|e| Error::new(ErrorKind::Io, format!("{label}: {e}")))?;
        if meta.is_dir() {
            return Err(Error::invalid_input(format!(
                "{label}: {} is a directory, not an archive file",
                path.display()
            )));
        }
        let len = meta.len();
        let bad = |what: String| Error::invalid_input(format!("{label}: not a readable tar archive: {what}"));
        let mut head = [0u8; 4];
        let got = (&file).read(&mut head).map_err(|e| Error::new(ErrorKind::Io, format!("{label}: {e}")))?;
        if Compression::sniff(&head[..got]) != Compression::None {
            return Err(Error::invalid_input(format!(
                "{label}: the archive is compressed ({:?}); archives are read in place, without unpacking: decompress \
                 it first (e.g. gunzip)",
                Compression::sniff(&head[..got])
            )));
        }
        (&file).seek(SeekFrom::Start(0)).map_err(|e| Error::new(ErrorKind::Io, format!("{label}: {e}")))?;
        let mut archive = tar::Archive::new(file);
        let entries = archive.entries_with_seek().map_err(|e| bad(crate::image::tar_error::tar_detail(&e)))?;
        let mut members: HashMap<String, Member> = HashMap::new();
        let mut count = 0usize;
        for entry in entries {
            let entry = entry
                .map_err(|e| bad(format!("after {count} members: {}", crate::image::tar_error::tar_detail(&e))))?;
            count = count.saturating_add(1);
            if count > MAX_MEMBERS {
                return Err(bad(format!("more than {MAX_MEMBERS} members")));
            }
            let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let offset = entry.raw_file_position();
            let size = entry.size();
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
                tar::EntryType::Symlink => Kind::Symlink(link_name(&entry)),
                tar::EntryType::Link => Kind::Hardlink(link_name(&entry)),
                _ => Kind::Other,
            };
            let data_size = if kind == Kind::File { size } else { 0 };
            if offset.checked_add(data_size).is_none_or(|end| end > len) {
                return Err(Error::invalid_input(format!(
                    "{label}: truncated archive: member {raw_name:?} needs {size} bytes from offset {offset}, the \
                     file has {len}"
                )));
            }
            let Some(name) = normalise(&raw_name) else {
                continue; // absolute or escaping: no lookup can name it
            };
            let copies = members.get(&name).map_or(1, |m| m.copies.saturating_add(1));
            members.insert(name, Member { offset, size: data_size, kind, copies });
        }
        Ok(TarIndex { label: label.to_string(), path: path.to_path_buf(), members })
    }

    /// [`TarIndex::scan`] of the tar file at `path`, run on a blocking thread.
    pub(crate) async fn open(path: PathBuf, label: String) -> Result<Arc<TarIndex>> {
        let stopped = format!("{label}: scan stopped");
        run_blocking(&stopped, move || TarIndex::scan(&path, &label)).await.map(Arc::new)
    }

    /// How the archive is named in errors.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The archive file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The names of every member, normalised.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// Whether some member is called `name` (normalised).
    pub(crate) fn contains(&self, name: &str) -> bool {
        normalise(name).is_some_and(|n| self.members.contains_key(&n))
    }

    /// The data range of the regular file `name` (as an index file of the archive gives it), following one
    /// symbolic or hard link inside the archive, as docker and containers/image do. Errors name the archive and
    /// the member: `InvalidInput` for a name that is absolute or climbs out with `..`, a member that is no
    /// regular file, a link to a link, a name carried by several members (which one a reader takes differs
    /// between tools, so such an archive is refused rather than guessed at), or no member of that name (the
    /// archive's own index names it: the archive is inconsistent).
    pub(crate) fn find(&self, name: &str) -> Result<Range> {
        let member = self.lookup(name)?;
        let target = match &member.kind {
            Kind::File => return Ok(Range { offset: member.offset, size: member.size }),
            Kind::Symlink(target) => {
                let base = normalise(name).unwrap_or_default();
                let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
                if dir.is_empty() || target.starts_with('/') {
                    target.clone()
                } else {
                    format!("{dir}/{target}")
                }
            }
            Kind::Hardlink(target) => target.clone(),
            Kind::Other => {
                return Err(Error::invalid_input(format!("{}: member {name:?} is not a regular file", self.label)))
            }
        };
        let linked = self.lookup(&target).map_err(|e| e.context(format!("link {name:?}")))?;
        match linked.kind {
            Kind::File => Ok(Range { offset: linked.offset, size: linked.size }),
            _ => Err(Error::invalid_input(format!(
                "{}: member {name:?} links to {target:?}, which is not a regular file",
                self.label
            ))),
        }
    }

    fn lookup(&self, name: &str) -> Result<&Member> {
        let key = normalise(name).ok_or_else(|| {
            Error::invalid_input(format!(
                "{}: member name {name:?} is absolute or climbs out of the archive with `..`",
                self.label
            ))
        })?;
        let member = self
            .members
            .get(&key)
            .ok_or_else(|| Error::invalid_input(format!("{}: no member {name:?} in the archive", self.label)))?;
        if member.copies > 1 {
            return Err(Error::invalid_input(format!(
                "{}: member {name:?} appears {} times in the archive; refusing to guess which one is meant",
                self.label, member.copies
            )));
        }
        Ok(member)
    }

    /// The whole of member `name` (see [`TarIndex::find`]) in memory: `InvalidInput` naming it when it is over
    /// `cap` bytes (nothing is read then), `Io` when the file cannot be read.
    pub(crate) async fn read_member(&self, name: &str, cap: usize) -> Result<Bytes> {
        let range = self.find(name)?;
        if range.size > cap as u64 {
            return Err(Error::invalid_input(format!(
                "{}: member {name:?} is {} bytes, over the {cap} byte limit for it",
                self.label, range.size
            )));
        }
        self.read_range(range).await.map_err(|e| e.context(format!("member {name:?}")))
    }

    /// The bytes of `range` (at most a small member's: the caller caps it).
    pub(crate) async fn read_range(&self, range: Range) -> Result<Bytes> {
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", self.label)).with_source(e);
        let mut file = tokio::fs::File::open(&self.path).await.map_err(io)?;
        file.seek(SeekFrom::Start(range.offset)).await.map_err(io)?;
        let len = usize::try_from(range.size).map_err(|_| Error::invalid_input("member too large"))?;
        let mut buf = vec![0u8; len];
        file.read_exact(&mut buf).await.map_err(io)?;
        Ok(Bytes::from(buf))
    }

    /// A blocking reader of `range` (on a blocking thread).
    pub(crate) fn open_range_blocking(&self, range: Range) -> Result<impl Read + Send> {
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", self.label)).with_source(e);
        let mut file = std::fs::File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(range.offset)).map_err(io)?;
        Ok(file.take(range.size))
    }
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise("./a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(normalise("a/../b").as_deref(), Some("b"));
        assert_eq!(normalise("../x"), None);
        assert_eq!(normalise("a/../../x"), None);
        assert_eq!(normalise("/etc/passwd"), None);
        assert_eq!(normalise("./"), None);
    }

    fn header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        h
    }

    #[tokio::test]
    async fn finds_members_and_follows_one_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
        b.append(&header("./x/data", tar::EntryType::Regular, 5, None), &b"hello"[..]).unwrap();
        b.append(&header("x/sym", tar::EntryType::Symlink, 0, Some("data")), &b""[..]).unwrap();
        b.append(&header("hard", tar::EntryType::Link, 0, Some("x/data")), &b""[..]).unwrap();
        b.append(&header("loop", tar::EntryType::Symlink, 0, Some("x/sym")), &b""[..]).unwrap();
        b.append(&header("dup", tar::EntryType::Regular, 1, None), &b"1"[..]).unwrap();
        b.append(&header("./dup", tar::EntryType::Regular, 1, None), &b"2"[..]).unwrap();
        b.into_inner().unwrap().flush().unwrap();
        let index = TarIndex::scan(&path, "test:a.tar").unwrap();
        assert_eq!(index.read_member("x/data", 10).await.unwrap(), &b"hello"[..]);
        assert_eq!(index.read_member("x/sym", 10).await.unwrap(), &b"hello"[..]);
        assert_eq!(index.read_member("hard", 10).await.unwrap(), &b"hello"[..]);
        let e = index.read_member("x/data", 4).await.unwrap_err();
        assert!(e.to_string().contains("over the 4 byte limit"), "{e}");
        let e = index.find("loop").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = index.find("dup").unwrap_err();
        assert!(e.to_string().contains("appears 2 times"), "{e}");
        let e = index.find("../x/data").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = index.find("missing").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("test:a.tar") && e.to_string().contains("missing"), "{e}");
        // Truncated: cut the file inside the first member's data.
        let short = dir.path().join("short.tar");
        let data = std::fs::read(&path).unwrap();
        std::fs::write(&short, &data[..514]).unwrap();
        let e = TarIndex::scan(&short, "test:short.tar").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A directory is named as one, not an I/O error.
        let e = TarIndex::scan(dir.path(), "test:dir").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("is a directory, not an archive file"), "{e}");
    }
}
