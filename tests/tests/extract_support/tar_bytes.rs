//! Tar streams built byte by byte for the extraction tests: ustar headers with every field the tests vary, PAX
//! records, GNU long names, and whatever raw bytes a hostile producer would send. Shared by `extract_hostile.rs`
//! and `extract_to.rs` (`#[path]`).

#![allow(dead_code)]

pub(crate) const REGULAR: u8 = b'0';
pub(crate) const HARD_LINK: u8 = b'1';
pub(crate) const SYMLINK: u8 = b'2';
pub(crate) const CHAR_DEVICE: u8 = b'3';
pub(crate) const DIRECTORY: u8 = b'5';
pub(crate) const FIFO: u8 = b'6';
pub(crate) const PAX: u8 = b'x';
pub(crate) const GNU_LONG_NAME: u8 = b'L';

/// One header's fields (what the tests vary).
#[derive(Clone)]
pub(crate) struct Head<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) kind: u8,
    pub(crate) size: u64,
    pub(crate) link: &'a [u8],
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) mtime: u64,
    pub(crate) device: (u32, u32),
}

impl<'a> Head<'a> {
    pub(crate) fn new(name: &'a [u8], kind: u8) -> Head<'a> {
        let mode = if kind == DIRECTORY { 0o755 } else { 0o644 };
        Head { name, kind, size: 0, link: b"", mode, uid: 0, mtime: 1_600_000_000, device: (0, 0) }
    }

    /// The 512-byte ustar header (names over 100 bytes need a PAX record first: see [`Tar::entry`]).
    pub(crate) fn bytes(&self) -> [u8; 512] {
        fn octal(field: &mut [u8], value: u64) {
            let text = format!("{:0width$o}\0", value, width = field.len() - 1);
            field.copy_from_slice(text.as_bytes());
        }
        let mut h = [0u8; 512];
        let name = &self.name[..self.name.len().min(100)];
        h[..name.len()].copy_from_slice(name);
        octal(&mut h[100..108], u64::from(self.mode));
        octal(&mut h[108..116], u64::from(self.uid));
        octal(&mut h[116..124], u64::from(self.uid));
        octal(&mut h[124..136], self.size);
        octal(&mut h[136..148], self.mtime);
        h[156] = self.kind;
        let link = &self.link[..self.link.len().min(100)];
        h[157..157 + link.len()].copy_from_slice(link);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        octal(&mut h[329..337], u64::from(self.device.0));
        octal(&mut h[337..345], u64::from(self.device.1));
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        h
    }
}

/// A PAX record: `"<len> <key>=<value>\n"`, the length counting itself.
pub(crate) fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body_len = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body_len + 1;
    while body_len + len.to_string().len() != len {
        len = body_len + len.to_string().len();
    }
    let mut record = format!("{len} ").into_bytes();
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

#[derive(Default)]
pub(crate) struct Tar(pub(crate) Vec<u8>);

impl Tar {
    pub(crate) fn new() -> Tar {
        Tar::default()
    }

    pub(crate) fn raw(mut self, bytes: &[u8]) -> Tar {
        self.0.extend_from_slice(bytes);
        self
    }

    pub(crate) fn padded(mut self, data: &[u8]) -> Tar {
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// A PAX extended header (`x`) with these records, for the next entry.
    pub(crate) fn pax(self, records: &[(&[u8], &[u8])]) -> Tar {
        let body: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        let mut head = Head::new(b"PaxHeaders/entry", PAX);
        head.size = body.len() as u64;
        self.raw(&head.bytes()).padded(&body)
    }

    /// The entry `head` with `data`; a name or link over 100 bytes goes in a PAX record before it.
    pub(crate) fn entry(self, head: Head<'_>, data: &[u8]) -> Tar {
        let mut records: Vec<(&[u8], &[u8])> = Vec::new();
        if head.name.len() > 100 {
            records.push((b"path", head.name));
        }
        if head.link.len() > 100 {
            records.push((b"linkpath", head.link));
        }
        let tar = if records.is_empty() { self } else { self.pax(&records) };
        let head = Head { size: data.len() as u64, ..head };
        tar.raw(&head.bytes()).padded(data)
    }

    pub(crate) fn file(self, name: &[u8], data: &[u8]) -> Tar {
        self.entry(Head::new(name, REGULAR), data)
    }

    pub(crate) fn dir(self, name: &[u8]) -> Tar {
        self.entry(Head::new(name, DIRECTORY), b"")
    }

    pub(crate) fn symlink(self, name: &[u8], target: &[u8]) -> Tar {
        self.entry(Head { link: target, ..Head::new(name, SYMLINK) }, b"")
    }

    pub(crate) fn hard_link(self, name: &[u8], target: &[u8]) -> Tar {
        self.entry(Head { link: target, ..Head::new(name, HARD_LINK) }, b"")
    }

    /// The stream with its end-of-archive blocks.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.raw(&[0u8; 1024]).0
    }
}
