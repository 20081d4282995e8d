//! Which manifest a copy writes once a platform filter is applied to the source's.

use oci_spec::image::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, ErrorKind, Result};

use crate::client::Client;
use crate::image::platform::Platform;

/// The manifest to copy once `platforms` are applied to `top`, and why its digest differs when it does. `name`
/// (`host/repo:tag`) is put in errors.
///
/// Errors: `NotFound` naming the platforms when one asked is missing; the source's errors reading a child.
pub(crate) async fn select_platforms(
    source: &dyn Client,
    top: Manifest,
    platforms: &[Platform],
    name: &str,
) -> Result<(Manifest, Option<String>)> {
    if platforms.is_empty() {
        return Ok((top, None));
    }
    let Some(index) = top.as_index() else {
        return check_single_platform(source, top, platforms, name).await;
    };
    let mut chosen: Vec<Descriptor> = Vec::new();
    for platform in platforms {
        let entry = platform.select(index).map_err(|e| e.context(name))?;
        if !chosen.iter().any(|c| c.digest() == entry.digest()) {
            chosen.push(entry.clone());
        }
    }
    let asked: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    if let [only] = chosen.as_slice() {
        let digest = descriptor_digest(only)?;
        let child = source
            .get_manifest(&format!("@{digest}"))
            .await
            .map_err(|e| e.context(format!("{name}: entry {digest}")))?
            .into_manifest();
        let why = format!("platform {}: its image manifest alone, not the index", asked.join(", "));
        return Ok((child, Some(why)));
    }
    if chosen.len() == index.manifests().len() && chosen.iter().zip(index.manifests()).all(|(a, b)| a == b) {
        return Ok((top, None));
    }
    let mut filtered = index.clone();
    filtered.set_manifests(chosen);
    let manifest = Manifest::from_index(&filtered, top.media_type())?;
    let why = format!("platforms {}: a new index holding only their entries", asked.join(", "));
    Ok((manifest, Some(why)))
}

/// The digest of `reference` on the source and the digest a copy of it with `platforms` writes on the target
/// (the same when `platforms` is empty: then one HEAD; else the manifest is read, and a child too when one platform
/// is chosen). Errors: those of [`select_platforms`] and of the source's reads.
pub(crate) async fn planned_digest(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
) -> Result<(Digest, Digest)> {
    if platforms.is_empty() {
        let digest = source.get_digest(reference).await?;
        return Ok((digest.clone(), digest));
    }
    let name = scoped(&source.get_registry(), reference);
    let top = source.get_manifest(reference).await?.into_manifest();
    let own = top.digest().clone();
    let (root, _) = select_platforms(source, top, platforms, &name).await?;
    Ok((own, root.digest().clone()))
}

/// `host/repo:tag` or `host/repo@sha256:..` for errors.
pub(crate) fn scoped(registry: &str, reference: &str) -> String {
    format!("{registry}{}{reference}", if reference.starts_with('@') { "" } else { ":" })
}

/// A single-platform image passes a platform filter when its config's platform matches one asked (or it has none).
async fn check_single_platform(
    source: &dyn Client,
    top: Manifest,
    platforms: &[Platform],
    name: &str,
) -> Result<(Manifest, Option<String>)> {
    let reference = format!("@{}", top.digest());
    let mut last = None;
    for platform in platforms {
        let opts = crate::options::ImageOptions::default().platform(platform.clone());
        match source.get_image(&reference, opts).await {
            Ok(_) => return Ok((top, None)),
            Err(e) if e.kind() == ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(e.context(name)),
        }
    }
    Err(last.map_or_else(|| Error::not_found(format!("{name}: no platform matched")), |e| e.context(name)))
}
