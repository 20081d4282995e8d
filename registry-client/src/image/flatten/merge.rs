//! The whiteout rules: which entries of which layer are in the flattened filesystem (OCI image spec,
//! "Representing Changes"). Layers are read top (last) first, so each entry is decided the moment it is read and
//! its data streamed straight through; only per-entry metadata (names, kinds, pending hard links) is kept.
//!
//! An entry of layer `L` is emitted unless a higher layer already emitted its path, or hides it: a whiteout
//! (`dir/.wh.name` hides `dir/name` and all below it), an opaque marker (`dir/.wh..wh..opq` hides all below `dir`),
//! or a non-directory at one of its ancestors (a file or symlink at `p` replaces a directory `p` and its content).
//! Whiteouts and opaque markers apply to lower layers only, never to their own layer's entries, and are never
//! emitted. Two entries of one layer with the same path are both emitted, in the layer's order, so an extractor
//! ends with the later one, as a runtime applying the layer does.
//!
//! Hard links are written last (a link must come after its target in a tar, and its target may come from a lower
//! layer, which is written later), and only when their target is emitted, from the link's layer or a lower one: a
//! link whose target a higher layer replaced or removed would point at the wrong content, and is left out (logged
//! as a warning, counted in [`Flattener::finish`]'s result).
//!
//! Names are normalised before any comparison (`./a//b/` is `a/b`); a name with a `..` component ends the stream
//! with an `InvalidInput` error naming the layer and the entry.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::rc::Rc;

use registry_core::{Error, Result};

use crate::image::blocking::from_io;
use crate::image::flatten::guard::{HeaderGuard, HEADER_CAP};
use crate::image::flatten::path::{ancestors, classify, normalise, shown, Kind};
use crate::image::flatten::tar_out::{keeps_pax_key, EntryKind, EntryMeta, TarOut};

/// A path some layer emitted.
#[derive(Debug, Clone, Copy)]
struct Seen {
    layer: usize,
    dir: bool,
}

/// A hard link waiting for the end of the stream.
#[derive(Debug)]
struct PendingLink {
    layer: usize,
    meta: EntryMeta,
}

/// The flattening state over the layers read so far (the higher ones).
#[derive(Debug, Default)]
pub(crate) struct Flattener {
    emitted: HashMap<Vec<u8>, Seen>,
    /// Paths whited out by a higher layer (each with all below it).
    hidden: HashSet<Vec<u8>>,
    /// Directories a higher layer made opaque (all below them hidden).
    opaque: HashSet<Vec<u8>>,
    links: Vec<PendingLink>,
}

/// What one layer hides from the layers below it, applied once the layer is done.
#[derive(Debug, Default)]
struct LayerMarks {
    hidden: Vec<Vec<u8>>,
    opaque: Vec<Vec<u8>>,
}

impl Flattener {
    /// No layers read yet.
    pub(crate) fn new() -> Flattener {
        Flattener::default()
    }

    /// Whether an entry of layer `layer` at `path` is visible under the layers read before it.
    fn visible(&self, path: &[u8], layer: usize) -> bool {
        if self.opaque.contains(&b""[..]) {
            return false;
        }
        for a in ancestors(path) {
            if self.hidden.contains(a) || self.opaque.contains(a) {
                return false;
            }
            if self.emitted.get(a).is_some_and(|s| !s.dir && s.layer > layer) {
                return false;
            }
        }
        !self.hidden.contains(path) && self.emitted.get(path).is_none_or(|s| s.layer <= layer)
    }

    /// Read the layer tar `input` (layer number `index`, base 0, called `name` in errors), writing its visible
    /// entries to `out`, then read `input` to its end (so a digest check at EOF runs). Layers must come top first.
    ///
    /// Errors: `InvalidInput` for a bad tar or entry (a `..` name, a bad header field, data that ends early,
    /// extension headers over 2 MiB), naming the layer and the entry; the errors `input` and `out` carry.
    pub(crate) fn layer<R: Read, W: Write>(
        &mut self,
        index: usize,
        name: &str,
        input: R,
        out: &mut TarOut<W>,
    ) -> Result<()> {
        let allowance = Rc::new(Cell::new(u64::MAX));
        let mut archive = tar::Archive::new(HeaderGuard::new(input, allowance.clone(), name));
        let mut marks = LayerMarks::default();
        {
            let context = format!("layer {name}: reading the tar");
            let mut entries = archive.entries().map_err(|e| from_io(e, &context))?;
            loop {
                allowance.set(HEADER_CAP);
                let next = entries.next();
                allowance.set(u64::MAX);
                let Some(entry) = next else { break };
                let mut entry = entry.map_err(|e| from_io(e, &context))?;
                self.entry(index, name, &mut entry, &mut marks, out)?;
            }
        }
        let mut rest = archive.into_inner().into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| from_io(e, &format!("layer {name}: reading its end")))?;
        self.hidden.extend(marks.hidden);
        self.opaque.extend(marks.opaque);
        Ok(())
    }

    fn entry<R: Read, W: Write>(
        &mut self,
        layer: usize,
        name: &str,
        entry: &mut tar::Entry<'_, R>,
        marks: &mut LayerMarks,
        out: &mut TarOut<W>,
    ) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let path = normalise(&raw).map_err(|_| {
            Error::invalid_input(format!(
                "layer {name}: entry {}: a `..` component would leave the image's root",
                shown(&raw)
            ))
        })?;
        let kind = EntryKind::from_type(entry.header().entry_type());
        let mut scratch = Vec::new();
        let visible = match classify(&path, &mut scratch) {
            Kind::Whiteout(target) => {
                marks.hidden.push(target.to_vec());
                false
            }
            Kind::Opaque(dir) => {
                marks.opaque.push(dir.to_vec());
                false
            }
            Kind::Reserved => false,
            Kind::Plain => !path.is_empty() && kind.is_some() && self.visible(&path, layer),
        };
        let (Some(kind), true) = (kind, visible) else {
            if kind.is_none() && !path.is_empty() && !entry.header().entry_type().is_pax_global_extensions() {
                tracing::debug!(layer = name, entry = %shown(&path), "tar entry type {:?} left out", entry.header().entry_type());
            }
            return drain(entry, name, &path);
        };
        let meta = read_meta(entry, path, kind, name)?;
        self.emitted.insert(meta.path.clone(), Seen { layer, dir: kind == EntryKind::Dir });
        if kind == EntryKind::HardLink {
            self.links.push(PendingLink { layer, meta });
            return drain(entry, name, &raw);
        }
        let data: Option<&mut dyn Read> = if kind == EntryKind::File { Some(entry) } else { None };
        out.entry(&meta, data).map_err(|e| from_io(e, &format!("layer {name}: entry {}", shown(&meta.path))))?;
        if kind != EntryKind::File {
            drain(entry, name, &meta.path)?;
        }
        Ok(())
    }

    /// Write the pending hard links, base layer's first (each after its target), those whose target is emitted
    /// from the link's layer or a lower one. Returns how many were left out.
    pub(crate) fn finish<W: Write>(mut self, out: &mut TarOut<W>) -> Result<usize> {
        let links = std::mem::take(&mut self.links);
        let pending: HashSet<Vec<u8>> = links.iter().map(|l| l.meta.path.clone()).collect();
        let mut written: HashSet<Vec<u8>> = HashSet::new();
        let mut left_out = 0;
        let mut by_layer: Vec<&PendingLink> = links.iter().collect();
        by_layer.sort_by_key(|l| l.layer); // stable: a layer's links keep their order
        for link in by_layer {
            let Some(target) = link.meta.link.as_deref() else { continue };
            let ok = self.emitted.get(target).is_some_and(|s| !s.dir && s.layer <= link.layer)
                && (!pending.contains(target) || written.contains(target));
            if !ok {
                tracing::warn!(
                    entry = %shown(&link.meta.path),
                    target = %shown(target),
                    "hard link left out of the flattened image: its target is not in it as the link's layer saw it"
                );
                left_out += 1;
                continue;
            }
            out.entry(&link.meta, None).map_err(|e| from_io(e, &format!("hard link {}", shown(&link.meta.path))))?;
            written.insert(link.meta.path.clone());
        }
        Ok(left_out)
    }
}

/// Read the rest of `entry`'s data (an entry left out, or one with data it should not have).
fn drain<R: Read>(entry: &mut tar::Entry<'_, R>, layer: &str, path: &[u8]) -> Result<()> {
    io::copy(entry, &mut io::sink())
        .map(|_| ())
        .map_err(|e| from_io(e, &format!("layer {layer}: entry {}", shown(path))))
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
fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, path: Vec<u8>, kind: EntryKind, layer: &str) -> Result<EntryMeta> {
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
