//! What the manifests named in a layout's `index.json` reach: the children of its indexes, walked down, so a
//! manifest put by digest that an index of the layout already holds gets no top-level entry of its own (skopeo's
//! `oci:DIR` without a tag needs exactly one top-level entry), and so the children of an index put are taken out
//! of the top level.

use std::collections::HashSet;

use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::Digest;

use super::index::LayoutIndex;
use super::store::Layout;

/// The most manifests one walk reads (each at most 4 MiB, read one at a time): past it the walk stops and the
/// manifest counts as not referenced (it then gets an untagged entry: harmless, merely visible).
const MAX_WALK: usize = 4096;

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
        let manifest = match layout.read_manifest(&next, Some(&mt), None).await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(digest = %next, error = %e, "index passed over while looking for a parent");
                continue;
            }
        };
        let Some(list) = manifest.as_index() else { continue };
        for d in list.manifests() {
            let Ok(child) = descriptor_digest(d) else { continue };
            if &child == digest {
                return true;
            }
            let child_mt = d.media_type().to_string();
            if media_type::is_index(&child_mt) {
                todo.push((child, child_mt));
            }
        }
    }
    false
}
