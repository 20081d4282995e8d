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
//! layer, which is written later), linking to their target when it is emitted from the link's layer or a lower
//! one. A link whose target a higher layer replaced or removed gets the target's content as its own layer had it
//! (that layer is read a second time, see [`Flattener::finish`]). Left out, with a warning in the log: a link to
//! a lower layer's file that a layer above the link replaced (layer tools write a link's target into the link's
//! own layer, so this takes a hand-made layer).
//!
//! Names are normalised before any comparison (`./a//b/` is `a/b`); a name with a `..` component ends the stream
//! with an `InvalidInput` error naming the layer and the entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};

use registry_core::Result;

use crate::image::blocking::from_io;
use crate::image::flatten::entries::{copy_error, each_entry, read_meta, LayerEntry};
use crate::image::flatten::path::{ancestors, classify, shown, Kind};
use crate::image::flatten::tar_out::{EntryKind, EntryMeta, TarOut};

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
    /// Its ordinal in its layer.
    ordinal: u64,
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

/// Hard-link targets to find again in a layer: target -> (the ordinal of the first link to it, that link's path).
type Targets = HashMap<Vec<u8>, (u64, Vec<u8>)>;

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
        let mut marks = LayerMarks::default();
        each_entry(input, name, |entry, ordinal, path| self.entry(index, name, entry, ordinal, path, &mut marks, out))?;
        self.hidden.extend(marks.hidden);
        self.opaque.extend(marks.opaque);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // one call site, each argument a different thing
    fn entry<R: Read, W: Write>(
        &mut self,
        layer: usize,
        name: &str,
        entry: &mut LayerEntry<'_, R>,
        ordinal: u64,
        path: Vec<u8>,
        marks: &mut LayerMarks,
        out: &mut TarOut<W>,
    ) -> Result<()> {
        let entry_type = entry.header().entry_type();
        let kind = EntryKind::from_type(entry_type);
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
            if kind.is_none() && !path.is_empty() && !entry_type.is_pax_global_extensions() {
                tracing::debug!(layer = name, entry = %shown(&path), "tar entry type {entry_type:?} left out");
            }
            return Ok(());
        };
        let meta = read_meta(entry, path, kind, name)?;
        self.emitted.insert(meta.path.clone(), Seen { layer, dir: kind == EntryKind::Dir });
        if kind == EntryKind::HardLink {
            self.links.push(PendingLink { layer, ordinal, meta });
            return Ok(());
        }
        let data: Option<&mut dyn Read> = if kind == EntryKind::File { Some(entry) } else { None };
        out.entry(&meta, data).map_err(|e| copy_error(e, name, &meta.path))
    }

    /// Whether `link`'s target is emitted as the link's layer saw it: from that layer or a lower one (a higher
    /// layer's version is other content).
    fn target_emitted(&self, layer: usize, target: &[u8]) -> bool {
        self.emitted.get(target).is_some_and(|s| !s.dir && s.layer <= layer)
    }

    /// Write the pending hard links, base layer's first, each after its target.
    ///
    /// A link whose target a higher layer replaced or removed needs the target's content as the link's layer
    /// had it: the layer is read again (`reopen(layer)`, giving its name and uncompressed tar) and the target's
    /// data written under the first such link's name, the other links to it then linking to that one. A target
    /// that is not in the link's own layer (a link to a lower layer's file that a higher layer then replaced) is
    /// left out, logged as a warning. Returns how many links were left out.
    pub(crate) fn finish<W: Write>(
        mut self,
        out: &mut TarOut<W>,
        reopen: &mut dyn FnMut(usize) -> Result<(String, Box<dyn Read + Send>)>,
    ) -> Result<usize> {
        let mut links = std::mem::take(&mut self.links);
        links.sort_by_key(|l| l.layer); // stable: a layer's links keep their order
        let pending: HashSet<Vec<u8>> = links.iter().map(|l| l.meta.path.clone()).collect();
        // Per layer, the targets to find again: target -> (the first link's ordinal, its path).
        let mut wanted: BTreeMap<usize, Targets> = BTreeMap::new();
        for link in &links {
            let Some(target) = link.meta.link.as_deref() else { continue };
            if !self.target_emitted(link.layer, target) && !pending.contains(target) {
                wanted
                    .entry(link.layer)
                    .or_default()
                    .entry(target.to_vec())
                    .or_insert((link.ordinal, link.meta.path.clone()));
            }
        }
        let mut written: HashSet<Vec<u8>> = HashSet::new();
        let mut relinked: HashMap<(usize, Vec<u8>), Vec<u8>> = HashMap::new();
        for (layer, targets) in wanted {
            let (name, input) = reopen(layer)?;
            let found = copy_targets(input, &name, &targets, out)?;
            for target in found {
                if let Some((_, first)) = targets.get(&target) {
                    written.insert(first.clone());
                    relinked.insert((layer, target), first.clone());
                }
            }
        }
        let mut left_out = 0;
        for link in &links {
            let Some(target) = link.meta.link.as_deref() else { continue };
            if written.contains(&link.meta.path) {
                continue; // written with its target's data
            }
            let (target, ok) = match relinked.get(&(link.layer, target.to_vec())) {
                Some(first) => (first.as_slice(), true),
                None => (
                    target,
                    self.target_emitted(link.layer, target) && (!pending.contains(target) || written.contains(target)),
                ),
            };
            if !ok {
                tracing::warn!(
                    entry = %shown(&link.meta.path),
                    target = %shown(target),
                    "hard link left out of the flattened image: its target is not in it as the link's layer saw it"
                );
                left_out += 1;
                continue;
            }
            let mut meta = link.meta.clone();
            meta.link = Some(target.to_vec());
            out.entry(&meta, None).map_err(|e| from_io(e, &format!("hard link {}", shown(&meta.path))))?;
            written.insert(meta.path);
        }
        Ok(left_out)
    }
}

/// Read the layer tar `input` again and write each regular file of `targets` (target -> the ordinal of the first
/// link to it, and that link's path) that comes before that link, under the link's path. Returns the targets
/// written.
fn copy_targets<W: Write>(
    input: Box<dyn Read + Send>,
    name: &str,
    targets: &Targets,
    out: &mut TarOut<W>,
) -> Result<HashSet<Vec<u8>>> {
    let mut found = HashSet::new();
    each_entry(input, name, |entry, ordinal, path| {
        let Some((before, as_path)) = targets.get(&path) else { return Ok(()) };
        if ordinal >= *before || EntryKind::from_type(entry.header().entry_type()) != Some(EntryKind::File) {
            return Ok(());
        }
        let meta = read_meta(entry, as_path.clone(), EntryKind::File, name)?;
        out.entry(&meta, Some(entry)).map_err(|e| copy_error(e, name, &path))?;
        found.insert(path);
        Ok(())
    })?;
    Ok(found)
}
