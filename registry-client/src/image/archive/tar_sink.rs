//! Writing a tar file member by member (blocking: call on a blocking thread), into a temporary file beside the
//! destination that [`TarSink::finish`] renames into place, so a failed or abandoned writer never leaves a
//! half-written archive at the destination (and never touches one already there).
//!
//! A member whose size is unknown before its data is written (a layer decompressed on the way in) gets a
//! placeholder header, its data streamed after it, and then the header rewritten in place with the size and
//! checksum: one pass over the data and no spill file. That needs a seekable file, which an archive written to a
//! path is.

use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use registry_core::{Error, ErrorKind, Result};
use tempfile::NamedTempFile;

use crate::image::temp_files::publishable_temp_file;

const BLOCK: u64 = 512;

/// A tar being written.
#[derive(Debug)]
pub(crate) struct TarSink {
    out: BufWriter<NamedTempFile>,
    /// Bytes written so far (always a multiple of 512 between members).
    pos: u64,
    dest: PathBuf,
    label: String,
}

fn header(name: &str, kind: tar::EntryType, size: u64) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Symlink { 0o777 } else { 0o444 });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    Ok(h)
}

impl TarSink {
    /// Start writing the archive that [`TarSink::finish`] puts at `dest` (its directory must exist). `label` names
    /// it in errors. Refused before anything is written: `InvalidInput` when `dest` is a directory, `NotFound`
    /// when its parent directory does not exist, `InvalidInput` when that parent is no directory.
    pub(crate) fn create(dest: &Path, label: &str) -> Result<TarSink> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if dest.is_dir() {
            return Err(Error::invalid_input(format!(
                "{label}: {} is a directory; name the archive file to write",
                dest.display()
            )));
        }
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::invalid_input(format!("{label}: {} is not a directory", dir.display())));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "{label}: directory {} does not exist (create it first)",
                    dir.display()
                ))
                .with_source(e));
            }
            Err(e) => return Err(io_err(label, &format!("read {}", dir.display()), e)),
        }
        let tmp = publishable_temp_file(&dir, ".archive-", ".partial")
            .map_err(|e| io_err(label, "create a temporary file", e))?;
        Ok(TarSink {
            out: BufWriter::with_capacity(1 << 20, tmp),
            pos: 0,
            dest: dest.to_path_buf(),
            label: label.into(),
        })
    }

    fn pad(&mut self) -> io::Result<()> {
        let rem = self.pos % BLOCK;
        if rem != 0 {
            let zeros = [0u8; BLOCK as usize];
            self.out.write_all(&zeros[..(BLOCK - rem) as usize])?;
            self.pos = self.pos.saturating_add(BLOCK - rem);
        }
        Ok(())
    }

    fn write_header(&mut self, h: &tar::Header) -> io::Result<()> {
        self.out.write_all(h.as_bytes())?;
        self.pos = self.pos.saturating_add(BLOCK);
        Ok(())
    }

    /// Member `name` holding `data`.
    pub(crate) fn append_bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.append_exact(name, data.len() as u64, data)
    }

    /// Member `name` of `size` bytes read from `reader`, which must give exactly that many (more or fewer is
    /// `DigestMismatch`, naming the member; an error of the reader is returned as it is).
    pub(crate) fn append_exact(&mut self, name: &str, size: u64, reader: impl Read) -> Result<()> {
        let h = header(name, tar::EntryType::Regular, size).map_err(|e| self.err(name, e))?;
        self.write_header(&h).map_err(|e| self.err(name, e))?;
        let mut limited = reader.take(size.saturating_add(1));
        let n = io::copy(&mut limited, &mut self.out).map_err(|e| self.err(name, e))?;
        // Read on to the reader's end: a checking reader (a layer's diff_id) checks there.
        let extra = if n == size {
            io::copy(&mut limited.into_inner(), &mut io::sink()).map_err(|e| self.err(name, e))?
        } else {
            0
        };
        if n != size || extra != 0 {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: member {name:?}: the source gave {} bytes, {size} expected",
                    self.label,
                    n.saturating_add(extra)
                ),
            ));
        }
        self.pos = self.pos.saturating_add(size);
        self.pad().map_err(|e| self.err(name, e))
    }

    /// Member `name` with all of `reader`, its size learnt as it is written and patched into its header; returns
    /// the size.
    pub(crate) fn append_streamed(&mut self, name: &str, mut reader: impl Read) -> Result<u64> {
        let start = self.pos;
        let placeholder = header(name, tar::EntryType::Regular, 0).map_err(|e| self.err(name, e))?;
        self.write_header(&placeholder).map_err(|e| self.err(name, e))?;
        let size = io::copy(&mut reader, &mut self.out).map_err(|e| self.err(name, e))?;
        self.pos = self.pos.saturating_add(size);
        let end = self.pos;
        let patched = header(name, tar::EntryType::Regular, size).map_err(|e| self.err(name, e))?;
        let rewrite = |out: &mut BufWriter<NamedTempFile>| -> io::Result<()> {
            out.seek(SeekFrom::Start(start))?;
            out.write_all(patched.as_bytes())?;
            out.seek(SeekFrom::Start(end))?;
            Ok(())
        };
        rewrite(&mut self.out).map_err(|e| self.err(name, e))?;
        self.pad().map_err(|e| self.err(name, e))?;
        Ok(size)
    }

    /// A symbolic link `name` -> `target`.
    pub(crate) fn append_symlink(&mut self, name: &str, target: &str) -> Result<()> {
        let mut h = header(name, tar::EntryType::Symlink, 0).map_err(|e| self.err(name, e))?;
        h.set_link_name(target).map_err(|e| self.err(name, e))?;
        h.set_cksum();
        self.write_header(&h).map_err(|e| self.err(name, e))
    }

    /// End the archive (two zero blocks), flush it to disk and rename it to its destination, replacing a file
    /// there.
    pub(crate) fn finish(mut self) -> Result<()> {
        let label = self.label.clone();
        self.out.write_all(&[0u8; 2 * BLOCK as usize]).map_err(|e| io_err(&label, "write the end", e))?;
        let tmp = self.out.into_inner().map_err(|e| io_err(&label, "flush", e.into_error()))?;
        tmp.as_file().sync_all().map_err(|e| io_err(&label, "sync", e))?;
        tmp.persist(&self.dest).map_err(|e| io_err(&label, "rename into place", e.error))?;
        Ok(())
    }

    fn err(&self, member: &str, e: io::Error) -> Error {
        crate::image::blocking::from_io(e, &format!("{}: write member {member:?}", self.label))
    }
}

fn io_err(label: &str, what: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{label}: {what}: {e}")).with_source(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::image::archive::tar_index::TarIndex;

    #[test]
    fn a_directory_or_a_missing_parent_is_refused_at_create() {
        let dir = tempfile::tempdir().unwrap();
        let e = TarSink::create(dir.path(), "oci-archive:x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let shown = e.to_string();
        assert!(shown.contains("is a directory") && shown.contains(&dir.path().display().to_string()), "{shown}");
        let missing = dir.path().join("no/such/dir/out.tar");
        let e = TarSink::create(&missing, "oci-archive:x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains(&dir.path().join("no/such/dir").display().to_string()), "{e}");
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = TarSink::create(&file.join("out.tar"), "oci-archive:x").unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written");
    }

    #[tokio::test]
    async fn streamed_members_get_their_size_patched_in() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.tar");
        let mut sink = TarSink::create(&dest, "test").unwrap();
        sink.append_bytes("a.json", b"{}").unwrap();
        let data = vec![7u8; 1000];
        assert_eq!(sink.append_streamed("b/layer.tar", &data[..]).unwrap(), 1000);
        sink.append_symlink("c/layer.tar", "../b/layer.tar").unwrap();
        let e = sink.append_exact("short", 10, &b"12345"[..]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        drop(sink);
        assert!(!dest.exists(), "nothing at the destination before finish");
        let mut sink = TarSink::create(&dest, "test").unwrap();
        sink.append_bytes("a.json", b"{}").unwrap();
        sink.append_streamed("b/layer.tar", &data[..]).unwrap();
        sink.append_symlink("c/layer.tar", "../b/layer.tar").unwrap();
        sink.finish().unwrap();
        let index = TarIndex::scan(&dest, "test").unwrap();
        assert_eq!(index.read_member("a.json", 10).await.unwrap(), &b"{}"[..]);
        assert_eq!(index.read_member("c/layer.tar", 2000).await.unwrap().len(), 1000);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary files left: {left:?}");
    }
}
