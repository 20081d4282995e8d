//! Reading a layer tar entry by entry: the extension-header cap (`guard`), names normalised (a `..` component
//! refused, naming the layer and the entry), each entry's data read to its end before the next header, the layer
//! read to its end after the last entry (so the digest check at EOF runs), and each entry's metadata taken out.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use registry_core::{Error, Result};

use crate::image::blocking::{carries_error, from_io};
use crate::image::flatten::guard::{HeaderGuard, HEADER_CAP};
use crate::image::flatten::path::{normalise, shown};
use crate::image::flatten::tar_out::{keeps_pax_key, EntryKind, EntryMeta};

/// A layer's entry as `each_entry` hands it out.
pub(crate) type LayerEntry<'a, R> = tar::Entry<'a, HeaderGuard<R>>;

/// Call `f` with each entry of the layer tar `input` (called `layer` in errors), its ordinal in the layer (from 0)
/// and its normalised name; then read `input` to its end.
///
/// Errors: `InvalidInput` for a bad tar, a name with a `..` component, extension headers over the cap; `f`'s;
/// those `input` carries.
pub(crate) fn each_entry<R: Read>(
    input: R,
    layer: &str,
    mut f: impl FnMut(&mut LayerEntry<'_, R>, u64, Vec<u8>) -> Result<()>,
) -> Result<()> {
    let allowance = Rc::new(Cell::new(u64::MAX));
    let mut archive = tar::Archive::new(HeaderGuard::new(input, allowance.clone(), layer));
    {
        let mut entries = archive.entries().map_err(|e| tar_error(e, layer, None))?;
        let mut ordinal = 0u64;
        loop {
            allowance.set(HEADER_CAP);
            let next = entries.next();
            allowance.set(u64::MAX);
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|e| tar_error(e, layer, None))?;
            let raw = entry.path_bytes().into_owned();
            let path = normalise(&raw).map_err(|_| {
                Error::invalid_input(format!(
                    "layer {layer}: entry {}: a `..` component would leave the image's root",
                    shown(&raw)
                ))
            })?;
            f(&mut entry, ordinal, path)?;
            drain(&mut entry, layer, &raw)?;
            ordinal = ordinal.saturating_add(1);
        }
    }
    let mut rest = archive.into_inner().into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| from_io(e, &format!("layer {layer}: reading its end")))?;
    Ok(())
}

/// Read the rest of `entry`'s data (an entry left out, or one with data it should not have).
pub(crate) fn drain<R: Read>(entry: &mut tar::Entry<'_, R>, layer: &str, path: &[u8]) -> Result<()> {
    io::copy(entry, &mut io::sink()).map(|_| ()).map_err(|e| tar_error(e, layer, Some(path)))
}

/// The error for `e`, met while copying the entry `path` of `layer` to the output (see `TarOut::entry`): data that
/// ends before the entry's size is a truncated tar (`InvalidInput`, as [`tar_error`] says it); the errors the
/// layer's reader or the output carry are kept; any other is `Io`.
pub(crate) fn copy_error(e: io::Error, layer: &str, path: &[u8]) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof && !carries_error(&e) {
        return tar_error(e, layer, Some(path));
    }
    from_io(e, &format!("layer {layer}: entry {}", shown(path)))
}

/// The error for `e`, met by the tar reader in `layer` (at the entry `path` when known). The layer's reader
/// (decompression, digest check, header cap, blob source) fails only with an `io::Error` carrying our [`Error`],
/// returned unchanged; an OS error is `Io`; any other is the tar reader's own complaint (a bad checksum, a block
/// cut short, a malformed extension): `InvalidInput`, "layer <digest> (i of n) is not a valid tar: <detail>".
pub(crate) fn tar_error(e: io::Error, layer: &str, path: Option<&[u8]>) -> Error {
    let at = path.map(|p| format!(" (at entry {})", shown(p))).unwrap_or_default();
    if carries_error(&e) || e.raw_os_error().is_some() {
        return from_io(e, &format!("layer {layer}{at}"));
    }
    Error::invalid_input(format!("layer {layer} is not a valid tar{at}: {}", crate::image::tar_error::tar_detail(&e)))
        .with_source(e)
}

/// A numeric header field: `parsed`, or 0 when the field is empty (all NULs or spaces, as some writers leave the
/// fields they do not use; GNU tar and Python's `tarfile` read those as 0 too).
fn number(parsed: io::Result<u64>, field: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if field.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        other => other,
    }
}

/// The metadata of `entry` at the normalised `path`.
pub(crate) fn read_meta<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: Vec<u8>,
    kind: EntryKind,
    layer: &str,
) -> Result<EntryMeta> {
    let bad = |what: &str, e: io::Error| {
        Error::invalid_input(format!("layer {layer}: entry {}: bad {what} field: {e}", shown(&path)))
    };
    let h = entry.header();
    let old = h.as_old();
    let mode = number(h.mode().map(u64::from), &old.mode).map_err(|e| bad("mode", e))?;
    let mode = u32::try_from(mode).map_err(|_| bad("mode", io::Error::other(format!("{mode:o} is too large"))))?;
    let uid = number(h.uid(), &old.uid).map_err(|e| bad("uid", e))?;
    let gid = number(h.gid(), &old.gid).map_err(|e| bad("gid", e))?;
    let mtime = number(h.mtime(), &old.mtime).map_err(|e| bad("mtime", e))?;
    let uname = h.username_bytes().unwrap_or_default().to_vec();
    let gname = h.groupname_bytes().unwrap_or_default().to_vec();
    let device = if matches!(kind, EntryKind::Char | EntryKind::Block) {
        let major = h.device_major().map_err(|e| bad("device major", e))?.unwrap_or(0);
        let minor = h.device_minor().map_err(|e| bad("device minor", e))?.unwrap_or(0);
        Some((major, minor))
    } else {
        None
    };
    let link = match kind {
        EntryKind::Symlink | EntryKind::HardLink => {
            let raw = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
            if kind == EntryKind::Symlink {
                Some(raw)
            } else {
                let target = normalise(&raw).map_err(|_| {
                    Error::invalid_input(format!(
                        "layer {layer}: hard link {}: its target {} has a `..` component",
                        shown(&path),
                        shown(&raw)
                    ))
                })?;
                if target.is_empty() {
                    return Err(Error::invalid_input(format!(
                        "layer {layer}: hard link {}: it names no target",
                        shown(&path)
                    )));
                }
                Some(target)
            }
        }
        _ => None,
    };
    let size = if kind == EntryKind::File { entry.size() } else { 0 };
    let mut pax = Vec::new();
    if let Some(records) = entry.pax_extensions().map_err(|e| bad("PAX", e))? {
        for r in records {
            let r = r.map_err(|e| bad("PAX", io::Error::other(e)))?;
            if keeps_pax_key(r.key_bytes()) {
                pax.push((r.key_bytes().to_vec(), r.value_bytes().to_vec()));
            }
        }
    }
    Ok(EntryMeta { path, kind, link, mode, uid, gid, mtime, size, uname, gname, device, pax })
}
