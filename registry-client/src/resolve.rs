//! Resolving a reference to an image manifest: the rule every `Client` implementation shares
//! (through the provided `Client::get_image`), so every client picks platforms
//! identically.

use std::future::Future;

use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, Reference, Result};

use crate::platform::Platform;

/// The image manifest `reference` points to: the manifest itself, or, for an index, the entry for `platform`
/// (the host's when `None`), fetched by digest with `fetch`. No matching entry is `NotFound` listing the index's
/// platforms; an entry that is itself an index is `Unsupported`.
pub async fn resolve_image_manifest<F, Fut>(
    reference: &Reference,
    platform: Option<&Platform>,
    fetch: F,
) -> Result<Manifest>
where
    F: Fn(Reference) -> Fut,
    Fut: Future<Output = Result<Manifest>>,
{
    let top = fetch(reference.clone()).await?;
    let name = reference.to_string();
    let Some((digest, want)) = index_entry(&top, platform, &name)? else { return Ok(top) };
    let m = fetch(Reference::with_digest(reference.repository().clone(), digest)).await?;
    not_nested(m, &want, &name)
}

/// `top` when it is an image manifest; for an index, the entry for `platform` (the host's when `None`), fetched by
/// its digest with `fetch_child`. `name` names `top` in errors. No matching entry is `NotFound` listing the index's
/// platforms; an entry that is itself an index is `Unsupported`.
pub(crate) async fn pick_image_manifest<F, Fut>(
    top: Manifest,
    platform: Option<&Platform>,
    name: &str,
    fetch_child: F,
) -> Result<Manifest>
where
    F: FnOnce(Digest) -> Fut,
    Fut: Future<Output = Result<Manifest>>,
{
    let Some((digest, want)) = index_entry(&top, platform, name)? else { return Ok(top) };
    not_nested(fetch_child(digest).await?, &want, name)
}

/// For an index, the digest of its entry for `platform` (the host's when `None`) and that platform; `None` for an
/// image manifest. No matching entry is `NotFound` listing the index's platforms.
fn index_entry(top: &Manifest, platform: Option<&Platform>, name: &str) -> Result<Option<(Digest, Platform)>> {
    let Some(index) = top.as_index() else { return Ok(None) };
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let entry = want.select(index).map_err(|e| e.context(name))?;
    Ok(Some((descriptor_digest(entry)?, want)))
}

/// `m`, the entry for `want` of the index `name`, unless it is itself an index (`Unsupported`).
fn not_nested(m: Manifest, want: &Platform, name: &str) -> Result<Manifest> {
    if m.is_index() {
        return Err(Error::unsupported(format!(
            "{name}: the entry for {want} is itself an index (nested indexes are not supported)"
        )));
    }
    Ok(m)
}
