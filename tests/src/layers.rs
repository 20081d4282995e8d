//! Small layers for the image-content tests: a tar holding one file, and gzip, built in memory.

use std::io::Write;

/// An uncompressed tar (ustar headers, POSIX) holding one regular file `name` (mode 0644) with `data`.
///
/// # Panics
/// When `name` cannot be stored in a ustar header (over 255 bytes, or a component over 100).
pub fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap_or_else(|e| panic!("tar name {name:?}: {e}"));
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap_or_else(|e| panic!("tar of {name:?}: {e}"));
    b.into_inner().unwrap_or_else(|e| panic!("tar of {name:?}: {e}"))
}

/// `data` gzip-compressed at `level` (RFC 1952).
///
/// # Panics
/// Never in practice: writing to memory does not fail.
pub fn gzip_at(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
    e.write_all(data).unwrap_or_else(|e| panic!("gzip: {e}"));
    e.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// `data` gzip-compressed at the fast level (RFC 1952).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_at(data, flate2::Compression::fast())
}
