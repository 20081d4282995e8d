//! What the manifests named in a layout's `index.json` reach: the children of its indexes, walked down, so a
//! manifest put by digest that an index of the layout already holds gets no top-level entry of its own (skopeo's
//! `oci:DIR` without a tag needs exactly one top-level entry), and so the children of an index put are taken out
//! of the top level.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::Digest;

use super::index::LayoutIndex;
use super::store::Layout;

/// The most manifests one walk reads (each at most 4 MiB, read one at a time): past it the walk stops and the
/// manifest counts as not referenced (it then gets an untagged entry: harmless, merely visible).
const MAX_WALK: usize = 4096;

/// The most indexes whose children are remembered (a few hundred bytes each); past it the memory starts over.
const MAX_REMEMBERED: usize = 65_536;

/// What each index read by a walk lists (digest and media type of each child), by the index's digest: manifests
/// are content-addressed and every read is verified, so this holds for any layout, and a walk per put stays cheap.
type Remembered = HashMap<Digest, Arc<Vec<(Digest, String)>>>;

fn remembered() -> &'static Mutex<Remembered> {
    static REMEMBERED: OnceLock<Mutex<Remembered>> = OnceLock::new();
    REMEMBERED.get_or_init(Mutex::default)
}

/// The children of index `digest` (media type `mt`) of `layout`: remembered, or read (verified) now; `None` when it
/// cannot be read or is no index (logged at debug).
async fn listed(layout: &Layout, digest: &Digest, mt: &str) -> Option<Arc<Vec<(Digest, String)>>> {
    if let Some(known) = remembered().lock().unwrap_or_else(PoisonError::into_inner).get(digest) {
        return Some(known.clone());
    }
    let manifest = match layout.read_manifest(digest, Some(mt), None).await {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(%digest, error = %e, "index passed over while looking for a parent");
            return None;
        }
    };
    let list = manifest.as_index()?;
    let children: Vec<(Digest, String)> = list
        .manifests()
        .iter()
        .filter_map(|d| descriptor_digest(d).ok().map(|c| (c, d.media_type().to_string())))
        .collect();
    let children = Arc::new(children);
    let mut memory = remembered().lock().unwrap_or_else(PoisonError::into_inner);
    if memory.len() >= MAX_REMEMBERED {
        memory.clear();
    }
    memory.insert(digest.clone(), children.clone());
    Some(children)
}

/// The digests of the manifests `manifest` lists, when it is an index (an entry whose digest is malformed is left
/// out); empty for an image.
pub(super) fn children(manifest: &Manifest) -> Vec<Digest> {
    manifest
        .as_index()
        .map(|i| i.manifests().iter().filter_map(|d| descriptor_digest(d).ok()).collect())
        .unwrap_or_default()
}

/// Whether an index named by an entry of `index` (a tag, an untagged entry, a referrers tag) lists `digest`,
/// directly or through indexes it lists. Indexes that cannot be read are passed over (logged at debug).
pub(super) async fn referenced(layout: &Layout, index: &LayoutIndex, digest: &Digest) -> bool {
    let mut todo: Vec<(Digest, String)> = index
        .entries()
        .iter()
        .filter(|e| media_type::is_index(e.media_type()))
        .map(|e| (e.digest().clone(), e.media_type().to_string()))
        .collect();
    let mut seen: HashSet<Digest> = HashSet::new();
    while let Some((next, mt)) = todo.pop() {
        if !seen.insert(next.clone()) || seen.len() > MAX_WALK {
            if seen.len() > MAX_WALK {
                tracing::debug!(layout = layout.name(), "index walk stopped after {MAX_WALK} manifests");
                return false;
            }
            continue;
        }
        let Some(listed) = listed(layout, &next, &mt).await else { continue };
        for (child, child_mt) in listed.iter() {
            if child == digest {
                return true;
            }
            if media_type::is_index(child_mt) {
                todo.push((child.clone(), child_mt.clone()));
            }
        }
    }
    false
}
