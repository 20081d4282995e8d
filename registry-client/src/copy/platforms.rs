//! Which manifest a copy writes once a platform filter is applied to the source's: strictly (every platform asked
//! must be there: `copy_image`, crane `cp --platform`) or as a filter (the platforms present of those asked: sync,
//! regsync).

use oci_spec::image::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, ErrorKind, Result};

use crate::client::Client;
use crate::image::platform::Platform;

/// How a platform list is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum PlatformMode {
    /// Every platform asked must be there: a missing one is `NotFound`.
    #[default]
    Strict,
    /// A filter: the platforms present of those asked are kept; none present leaves the image out.
    Present,
}

/// What a platform filter makes of a source manifest.
#[derive(Debug)]
pub(crate) enum Selection {
    /// Copy this manifest; the string says why its digest is not the source's (`None`: it is).
    Chosen(Manifest, Option<String>),
    /// ([`PlatformMode::Present`] only) None of the platforms is there: the image is left out, for this reason.
    LeftOut(String),
}

/// The manifest to copy once `platforms` are applied to `top` in `mode`, and why its digest differs when it does.
/// `name` (`host/repo:tag`) is put in errors. The entries kept are in the order asked (strict) or the index's
/// (present); when they are all of the index's entries the index is copied whole (same digest).
///
/// Errors: (strict) `NotFound` naming the platforms when one asked is missing; the source's errors reading a child
/// or a config.
pub(crate) async fn select_platforms(
    source: &dyn Client,
    top: Manifest,
    platforms: &[Platform],
    name: &str,
    mode: PlatformMode,
) -> Result<Selection> {
    if platforms.is_empty() {
        return Ok(Selection::Chosen(top, None));
    }
    let Some(index) = top.as_index() else {
        return check_single_platform(source, top, platforms, name, mode).await;
    };
    let mut positions: Vec<usize> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    let mut missing: Option<Error> = None;
    for platform in platforms {
        match platform.select(index) {
            Ok(entry) => {
                found.push(platform.to_string());
                if let Some(at) = index.manifests().iter().position(|d| d == entry) {
                    if !positions.contains(&at) {
                        positions.push(at);
                    }
                }
            }
            Err(e) if mode == PlatformMode::Present && e.kind() == ErrorKind::NotFound => missing = Some(e),
            Err(e) => return Err(e.context(name)),
        }
    }
    if positions.is_empty() {
        let why = missing.map_or_else(|| "no platform matched".to_string(), |e| e.to_string());
        return Ok(Selection::LeftOut(why));
    }
    if mode == PlatformMode::Present {
        // A filter keeps the index's order; a strict list is in the order asked (crane's).
        positions.sort_unstable();
    }
    let chosen: Vec<Descriptor> = positions.iter().filter_map(|at| index.manifests().get(*at).cloned()).collect();
    if let [only] = chosen.as_slice() {
        let digest = descriptor_digest(only)?;
        let child = source
            .get_manifest(&format!("@{digest}"))
            .await
            .map_err(|e| e.context(format!("{name}: entry {digest}")))?
            .into_manifest();
        let why = format!("platform {}: its image manifest alone, not the index", found.join(", "));
        return Ok(Selection::Chosen(child, Some(why)));
    }
    if chosen.len() == index.manifests().len() {
        return Ok(Selection::Chosen(top, None));
    }
    let mut filtered = index.clone();
    filtered.set_manifests(chosen);
    let manifest = Manifest::from_index(&filtered, top.media_type())?;
    let why = format!("platforms {}: a new index holding only their entries", found.join(", "));
    Ok(Selection::Chosen(manifest, Some(why)))
}

/// What a copy of one source reference writes.
#[derive(Debug)]
pub(crate) enum PlannedCopy {
    /// This digest (`sha256:<hex>`).
    Digest(Digest),
    /// Nothing: a platform filter leaves the image out, for this reason.
    LeftOut(String),
}

/// The digest of `reference` on the source and what a copy of it with `platforms` in `mode` writes on the target
/// (the same digest when `platforms` is empty: then one HEAD; else the manifest is read, and a child or a config
/// too), exactly as [`select_platforms`] decides for the copy. Errors: those of [`select_platforms`] and of the
/// source's reads.
pub(crate) async fn planned_digest(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    mode: PlatformMode,
) -> Result<(Digest, PlannedCopy)> {
    if platforms.is_empty() {
        let digest = source.get_digest(reference).await?;
        return Ok((digest.clone(), PlannedCopy::Digest(digest)));
    }
    let name = scoped(&source.get_registry(), reference);
    let top = source.get_manifest(reference).await?.into_manifest();
    let own = top.digest().clone();
    Ok(match select_platforms(source, top, platforms, &name, mode).await? {
        Selection::Chosen(root, _) => (own, PlannedCopy::Digest(root.digest().clone())),
        Selection::LeftOut(why) => (own, PlannedCopy::LeftOut(why)),
    })
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
    mode: PlatformMode,
) -> Result<Selection> {
    let reference = format!("@{}", top.digest());
    let mut last = None;
    for platform in platforms {
        let opts = crate::options::ImageOptions::default().platform(platform.clone());
        match source.get_image(&reference, opts).await {
            Ok(_) => return Ok(Selection::Chosen(top, None)),
            Err(e) if e.kind() == ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(e.context(name)),
        }
    }
    match mode {
        PlatformMode::Present => {
            Ok(Selection::LeftOut(last.map_or_else(|| "no platform matched".to_string(), |e| e.to_string())))
        }
        PlatformMode::Strict => {
            // The error of `get_image` names the image already: no context added.
            Err(last.unwrap_or_else(|| Error::not_found(format!("{name}: no platform matched"))))
        }
    }
}
