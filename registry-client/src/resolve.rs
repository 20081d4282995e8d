//! Resolving a reference to an image manifest: the rule every `Client` implementation shares
//! (through the provided `Client::get_image`), so every client picks platforms
//! identically.

use std::future::Future;

use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, Reference, Result};
use serde::Deserialize;

use crate::image::platform::Platform;

/// The image manifest `reference` points to: the manifest itself, or, for an index, the entry for `platform`
/// (the host's when `None`), fetched by digest with `fetch`. No matching entry is `NotFound` listing the index's
/// platforms; an entry that is itself an index is `Unsupported`. An image manifest is returned as it is, whatever
/// `platform` says: its platform is in its config, which [`Client::get_image`](crate::Client::get_image) checks.
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

/// The platform fields of an image config, each possibly absent.
#[derive(Deserialize)]
struct ConfigPlatform {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

/// The platform an image config (`config`, JSON) names, when it names an OS and an architecture (both non-empty);
/// `None` for a config without platform information, or one that is not JSON (its parse reports that).
pub(crate) fn config_platform(config: &[u8]) -> Option<Platform> {
    let c: ConfigPlatform = serde_json::from_slice(config).ok()?;
    let (os, arch) = (c.os.filter(|s| !s.is_empty())?, c.architecture.filter(|s| !s.is_empty())?);
    let p = Platform::new(os, arch);
    Some(match c.variant {
        Some(v) => p.with_variant(v),
        None => p,
    })
}

/// Whether the single-platform image `name`, whose config is `config`, is for the platform `want` asked for
/// explicitly: `NotFound` naming the image's platform when it is not. A config without platform information (no
/// `os` or `architecture`) passes, as does one without a variant when `want` names one (it cannot tell).
pub(crate) fn check_platform(config: &[u8], want: &Platform, name: &str) -> Result<()> {
    let Some(has) = config_platform(config) else { return Ok(()) };
    let want_compared = match has.variant() {
        Some(_) => want.clone(),
        None => Platform::new(want.os(), want.architecture()),
    };
    if want_compared.matches(&has) {
        return Ok(());
    }
    Err(Error::not_found(format!("{name} is a single-platform image for {has}, not {want}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_of_a_config_is_checked_when_it_has_one() {
        let amd = br#"{"os":"linux","architecture":"amd64"}"#;
        let arm7 = br#"{"os":"linux","architecture":"arm","variant":"v7"}"#;
        let arm = br#"{"os":"linux","architecture":"arm"}"#;
        assert!(check_platform(amd, &Platform::new("linux", "amd64"), "x").is_ok());
        assert!(check_platform(amd, &Platform::new("linux", "x86_64"), "x").is_ok(), "Go's name and uname's");
        let e = check_platform(amd, &Platform::new("linux", "arm64"), "r/app:v1").err();
        let e = e.unwrap_or_else(|| panic!("another platform accepted"));
        assert_eq!(e.kind(), registry_core::ErrorKind::NotFound);
        assert!(e.to_string().contains("linux/amd64") && e.to_string().contains("r/app:v1"), "{e}");
        assert!(check_platform(amd, &Platform::new("windows", "amd64"), "x").is_err());
        assert!(check_platform(arm7, &Platform::new("linux", "arm").with_variant("v7"), "x").is_ok());
        assert!(check_platform(arm7, &Platform::new("linux", "arm").with_variant("v6"), "x").is_err());
        assert!(check_platform(arm7, &Platform::new("linux", "arm"), "x").is_ok(), "no variant asked");
        assert!(check_platform(arm, &Platform::new("linux", "arm").with_variant("v7"), "x").is_ok(), "none known");
        for none in [&br#"{}"#[..], br#"{"os":"","architecture":""}"#, br#"{"os":"linux"}"#, b"not json"] {
            assert!(check_platform(none, &Platform::new("linux", "arm64"), "x").is_ok(), "no platform information");
        }
    }
}
