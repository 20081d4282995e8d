//! Writing the flattened tar stream: one POSIX (ustar + PAX) entry at a time, each entry's data copied to exactly
//! the size its header gives, so a layer that ends inside an entry is an error, never a short entry that shifts
//! every later header (a mis-framed stream that still looks like a tar).
//!
//! Names and link targets longer than the ustar fields (100 bytes) go into PAX `path` / `linkpath` records (POSIX
//! pax format, read by GNU tar, Python `tarfile`, Go `archive/tar` and the `tar` crate); the source's other PAX
//! records (xattrs, sub-second times, large ids) are kept as they were.

use std::io::{self, Read, Write};

/// The ustar name and link-name fields hold this many bytes.
const NAME_FIELD: usize = 100;
/// Sizes from this many bytes on (8 GiB) do not fit the octal size field: a PAX `size` record says them too.
const OCTAL_SIZE_LIMIT: u64 = 1 << 33;
/// Tar blocks are this many bytes.
const BLOCK: usize = 512;

/// The tar entry types the flattened stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file (sparse and contiguous files are written as regular ones, their data expanded).
    File,
    /// A directory.
    Dir,
    /// A symbolic link (target kept as written).
    Symlink,
    /// A hard link to another entry of the stream (target normalised).
    HardLink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A FIFO.
    Fifo,
}

impl EntryKind {
    /// The kind of a tar type flag, `None` for types the flattened stream does not carry (extension headers, GNU
    /// volume labels and dump directories, unknown vendor types).
    pub(crate) fn from_type(t: tar::EntryType) -> Option<EntryKind> {
        Some(match t.as_byte() {
            b'0' | b'\0' | b'7' | b'S' => EntryKind::File,
            b'1' => EntryKind::HardLink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::Char,
            b'4' => EntryKind::Block,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            _ => return None,
        })
    }

    fn type_flag(self) -> u8 {
        match self {
            EntryKind::File => b'0',
            EntryKind::HardLink => b'1',
            EntryKind::Symlink => b'2',
            EntryKind::Char => b'3',
            EntryKind::Block => b'4',
            EntryKind::Dir => b'5',
            EntryKind::Fifo => b'6',
        }
    }
}

/// One entry's metadata (never its data): what the flattener keeps of an entry, and what it writes.
#[derive(Debug, Clone)]
pub(crate) struct EntryMeta {
    /// The normalised name.
    pub(crate) path: Vec<u8>,
    pub(crate) kind: EntryKind,
    /// The link target: a symlink's as written, a hard link's normalised.
    pub(crate) link: Option<Vec<u8>>,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    /// Seconds since the epoch.
    pub(crate) mtime: u64,
    /// Data bytes (regular files only; 0 for the other kinds).
    pub(crate) size: u64,
    pub(crate) uname: Vec<u8>,
    pub(crate) gname: Vec<u8>,
    /// (major, minor) of a device.
    pub(crate) device: Option<(u32, u32)>,
    /// The source's PAX records other than `path`, `linkpath`, `size` and sparse-file maps.
    pub(crate) pax: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Whether the source PAX record `key` is kept: the ones that frame the entry (name, link, size, sparse maps) are
/// the writer's to set.
pub(crate) fn keeps_pax_key(key: &[u8]) -> bool {
    !matches!(key, b"path" | b"linkpath" | b"size") && !key.starts_with(b"GNU.sparse.")
}

/// The tar stream being written.
#[derive(Debug)]
pub(crate) struct TarOut<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> TarOut<W> {
    /// A stream written into `out`.
    pub(crate) fn new(out: W) -> TarOut<W> {
        TarOut { out, buf: vec![0; 64 << 10] }
    }

    /// Write the entry `meta`; a regular file's data is read from `data`, exactly `meta.size` bytes (`Err` with
    /// `io::ErrorKind::UnexpectedEof` when it ends sooner, after writing nothing past the header). Other kinds
    /// have no data.
    pub(crate) fn entry(&mut self, meta: &EntryMeta, data: Option<&mut dyn Read>) -> io::Result<()> {
        let size = if meta.kind == EntryKind::File { meta.size } else { 0 };
        let mut pax: Vec<(&[u8], std::borrow::Cow<'_, [u8]>)> = Vec::new();
        if meta.path.len() > NAME_FIELD {
            pax.push((b"path", meta.path.as_slice().into()));
        }
        if let Some(link) = meta.link.as_ref().filter(|l| l.len() > NAME_FIELD) {
            pax.push((b"linkpath", link.as_slice().into()));
        }
        if size >= OCTAL_SIZE_LIMIT {
            pax.push((b"size", size.to_string().into_bytes().into()));
        }
        for (k, v) in &meta.pax {
            pax.push((k, v.as_slice().into()));
        }
        if !pax.is_empty() {
            self.pax(&pax)?;
        }
        let mut header = tar::Header::new_ustar();
        copy_field(&mut header.as_old_mut().name, &meta.path);
        if let Some(link) = &meta.link {
            copy_field(&mut header.as_old_mut().linkname, link);
        }
        header.set_mode(meta.mode);
        header.set_uid(meta.uid);
        header.set_gid(meta.gid);
        header.set_mtime(meta.mtime);
        header.set_size(size);
        header.set_entry_type(tar::EntryType::new(meta.kind.type_flag()));
        if let Some(ustar) = header.as_ustar_mut() {
            copy_field(&mut ustar.uname, &meta.uname);
            copy_field(&mut ustar.gname, &meta.gname);
        }
        if let Some((major, minor)) = meta.device {
            header.set_device_major(major)?;
            header.set_device_minor(minor)?;
        }
        header.set_cksum();
        self.out.write_all(header.as_bytes())?;
        if size > 0 {
            let Some(data) = data else {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "a file entry without its data"));
            };
            self.copy_exact(data, size)?;
        }
        Ok(())
    }

    /// Copy exactly `size` bytes of `data`, then pad to the block.
    fn copy_exact(&mut self, data: &mut dyn Read, size: u64) -> io::Result<()> {
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(self.buf.len());
            let n = data.read(&mut self.buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the data ends after {} of its {size} bytes", size - left),
                ));
            }
            self.out.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        self.pad(size)
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (len % BLOCK as u64) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    /// A PAX extended header (`x`) holding `records` for the next entry (POSIX.1-2001 `pax` format:
    /// `"<len> <key>=<value>\n"`, `len` counting itself).
    fn pax(&mut self, records: &[(&[u8], std::borrow::Cow<'_, [u8]>)]) -> io::Result<()> {
        let mut data = Vec::new();
        for (key, value) in records {
            let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
            let mut len = rest + 1;
            while rest + len.to_string().len() != len {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(len.to_string().as_bytes());
            data.push(b' ');
            data.extend_from_slice(key);
            data.push(b'=');
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        let mut header = tar::Header::new_ustar();
        copy_field(&mut header.as_old_mut().name, b"././@PaxHeader");
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::XHeader);
        header.set_cksum();
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(&data)?;
        self.pad(data.len() as u64)
    }

    /// End the archive (two zero blocks), flush, and give back the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `value` into a NUL-padded header field, cut to the field's width (a longer value is also in a PAX record).
fn copy_field(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta(path: &str, kind: EntryKind, size: u64) -> EntryMeta {
        EntryMeta {
            path: path.as_bytes().to_vec(),
            kind,
            link: None,
            mode: 0o640,
            uid: 3_000_000,
            gid: 7,
            mtime: 1_700_000_000,
            size,
            uname: b"u".to_vec(),
            gname: b"g".to_vec(),
            device: None,
            pax: vec![(b"SCHILY.xattr.user.k".to_vec(), b"v\0bin".to_vec())],
        }
    }

    #[test]
    fn long_names_pax_records_and_exact_sizes() {
        let long = format!("{}/file", "d".repeat(150));
        let mut out = TarOut::new(Vec::new());
        out.entry(&meta(&long, EntryKind::File, 5), Some(&mut &b"hello"[..])).unwrap();
        let mut link = meta("l", EntryKind::Symlink, 0);
        link.link = Some(format!("/{}", "t".repeat(300)).into_bytes());
        out.entry(&link, None).unwrap();
        let short = out.entry(&meta("short", EntryKind::File, 10), Some(&mut &b"abc"[..])).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof, "{short}");
        let bytes = TarOut::new(Vec::new());
        drop(bytes);
        // Read back what was written before the failure, ended properly.
        let mut out = TarOut::new(Vec::new());
        out.entry(&meta(&long, EntryKind::File, 5), Some(&mut &b"hello"[..])).unwrap();
        out.entry(&link, None).unwrap();
        let data = out.finish().unwrap();
        let mut ar = tar::Archive::new(&data[..]);
        let mut entries = ar.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        assert_eq!(e.path_bytes().as_ref(), long.as_bytes());
        assert_eq!(e.header().uid().unwrap(), 3_000_000);
        assert_eq!(e.header().mode().unwrap(), 0o640);
        let xattr =
            e.pax_extensions().unwrap().unwrap().filter_map(|r| r.ok()).find(|r| r.key_bytes().starts_with(b"SCHILY"));
        assert_eq!(xattr.map(|r| r.value_bytes().to_vec()), Some(b"v\0bin".to_vec()));
        let mut body = String::new();
        e.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello");
        drop(e);
        let e = entries.next().unwrap().unwrap();
        assert_eq!(e.link_name_bytes().unwrap().len(), 301);
        assert!(entries.next().is_none());
    }
}
