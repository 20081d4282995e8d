//! Writing a tar file member by member (blocking: call on a blocking thread). A regular file (or a new one, or
//! the target of a symbolic link: see [`FileTarget`]) is written into a temporary file beside it that
//! [`TarSink::finish`] renames into place, so a failed or abandoned writer never leaves a half-written archive
//! there (and never touches one already there). A FIFO, a character device or an open stream (stdout) is
//! written directly.
//!
//! A member whose size is unknown before its data is written (a layer decompressed on the way in) gets a
//! placeholder header, its data streamed after it, and then the header rewritten in place with the size and
//! checksum: one pass over the data. That needs a seekable file; into a stream such a member is first spilled to
//! an anonymous temporary file (in the system's temp directory, gone when closed), then copied.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use registry_core::{Error, ErrorKind, Result};
use tempfile::NamedTempFile;

use crate::image::file_target::FileTarget;
use crate::image::temp_files::publishable_temp_file;

const BLOCK: u64 = 512;

/// Where the bytes go.
#[derive(Debug)]
enum Output {
    /// A temporary file, renamed onto `dest` at the end.
    Temp { file: NamedTempFile, dest: PathBuf },
    /// A stream (a FIFO, a device, stdout): written as it comes, never sought.
    Direct(File),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Temp { file, .. } => file.write(buf),
            Output::Direct(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Temp { file, .. } => file.flush(),
            Output::Direct(file) => file.flush(),
        }
    }
}

impl Seek for Output {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Output::Temp { file, .. } => file.seek(pos),
            Output::Direct(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "a stream cannot seek")),
        }
    }
}

/// A tar being written.
#[derive(Debug)]
pub(crate) struct TarSink {
    out: BufWriter<Output>,
    /// Bytes written so far (always a multiple of 512 between members).
    pos: u64,
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
    /// Start writing the archive that [`TarSink::finish`] puts at `dest` (its directory must exist), as
    /// [`FileTarget::of`] says: a symbolic link's target replaced, a FIFO or character device opened and streamed
    /// into (opening a FIFO waits for its reader). `label` names it in errors. Refused before anything is written:
    /// `InvalidInput` when `dest` is a directory, a socket or a block device (or links to one), `NotFound` when
    /// the parent directory does not exist, `InvalidInput` when that parent is no directory, `Io` when a FIFO
    /// or device cannot be opened.
    pub(crate) fn create(dest: &Path, label: &str) -> Result<TarSink> {
        let dest = match FileTarget::of(dest).map_err(|e| Error::new(e.kind(), format!("{label}: {e}")))? {
            FileTarget::Replace(target) => target,
            FileTarget::Stream(stream) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&stream)
                    .map_err(|e| io_err(label, &format!("open {}", stream.display()), e))?;
                return Ok(TarSink::stream(file, label));
            }
        };
        let dest = dest.as_path();
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
            out: BufWriter::with_capacity(1 << 20, Output::Temp { file: tmp, dest: dest.to_path_buf() }),
            pos: 0,
            label: label.into(),
        })
    }

    /// Write the archive straight into `file` (a pipe, a device, stdout): no temporary file, no rename; a
    /// failure part way leaves a truncated tar in the stream.
    pub(crate) fn stream(file: File, label: &str) -> TarSink {
        TarSink { out: BufWriter::with_capacity(1 << 20, Output::Direct(file)), pos: 0, label: label.into() }
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
        if let Output::Direct(_) = self.out.get_ref() {
            let mut spill = tempfile::tempfile().map_err(|e| self.err(name, e))?;
            let size = io::copy(&mut reader, &mut spill).map_err(|e| self.err(name, e))?;
            spill.seek(SeekFrom::Start(0)).map_err(|e| self.err(name, e))?;
            self.append_exact(name, size, spill)?;
            return Ok(size);
        }
        let start = self.pos;
        let placeholder = header(name, tar::EntryType::Regular, 0).map_err(|e| self.err(name, e))?;
        self.write_header(&placeholder).map_err(|e| self.err(name, e))?;
        let size = io::copy(&mut reader, &mut self.out).map_err(|e| self.err(name, e))?;
        self.pos = self.pos.saturating_add(size);
        let end = self.pos;
        let patched = header(name, tar::EntryType::Regular, size).map_err(|e| self.err(name, e))?;
        let rewrite = |out: &mut BufWriter<Output>| -> io::Result<()> {
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
    /// there (a stream is only flushed).
    pub(crate) fn finish(mut self) -> Result<()> {
        let label = self.label.clone();
        self.out.write_all(&[0u8; 2 * BLOCK as usize]).map_err(|e| io_err(&label, "write the end", e))?;
        match self.out.into_inner().map_err(|e| io_err(&label, "flush", e.into_error()))? {
            Output::Temp { file, dest } => {
                file.as_file().sync_all().map_err(|e| io_err(&label, "sync", e))?;
                file.persist(&dest).map_err(|e| io_err(&label, "rename into place", e.error))?;
            }
            Output::Direct(mut file) => file.flush().map_err(|e| io_err(&label, "flush", e))?,
        }
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

    #[cfg(unix)]
    #[test]
    fn a_link_gets_its_target_replaced_and_a_stream_is_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tar");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.tar");
        std::os::unix::fs::symlink("real.tar", &link).unwrap();
        let mut sink = TarSink::create(&link, "test").unwrap();
        sink.append_bytes("a.json", b"{}").unwrap();
        sink.finish().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::metadata(&real).unwrap().len(), 4 * BLOCK, "the target holds the archive");

        // A stream (here a pipe's writing end, read by a thread): streamed members are spilled, then sent.
        let (mut reader, writer) = std::io::pipe().unwrap();
        let read = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).unwrap();
            bytes
        });
        let mut sink = TarSink::stream(File::from(std::os::fd::OwnedFd::from(writer)), "test");
        sink.append_bytes("a.json", b"{}").unwrap();
        assert_eq!(sink.append_streamed("b.tar", &[7u8; 1000][..]).unwrap(), 1000);
        sink.finish().unwrap();
        let bytes = read.join().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let sizes: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect();
        assert_eq!(sizes, [("a.json".to_string(), 2), ("b.tar".to_string(), 1000)]);
    }
}
