//! Resolving a reference to an image manifest: the rule every [`Client`](crate::Client) implementation shares, so
//! the remote client and the fake pick platforms identically.

use std::future::Future;

use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Error, Reference, Result};

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
    let Some(index) = top.as_index() else { return Ok(top) };
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let entry = want.select(index).map_err(|e| e.context(format!("{reference}")))?;
    let child = Reference::with_digest(reference.repository().clone(), descriptor_digest(entry)?);
    let m = fetch(child).await?;
    if m.is_index() {
        return Err(Error::unsupported(format!(
            "{reference}: the entry for {want} is itself an index (nested indexes are not supported)"
        )));
    }
    Ok(m)
}
