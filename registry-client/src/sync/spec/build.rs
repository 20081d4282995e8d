//! From the YAML as written ([`RawSpec`]) to the checked spec ([`SyncSpec`]): every value checked, the defaults
//! merged into each entry, every error naming its line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use registry_core::{Error, Registry, Result};
use serde_saphyr::Spanned;

use super::model::{RegistrySettings, SyncEntry, SyncSpec};
use super::pairs;
use super::raw::{RawEntry, RawOptions, RawPlatforms, RawRegistries, RawRegistry, RawSpec, RawTags, REGISTRY_KEYS};
use crate::image::platform::Platform;
use crate::sync::endpoint::Endpoint;
use crate::sync::filter::TagFilter;

/// An `InvalidInput` error for line `line` (1-based): `line 7: ...`.
pub(super) fn at(line: usize, message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("line {line}: {message}"))
}

/// The line a spanned value was written on.
fn line_of<T>(spanned: &Spanned<T>) -> usize {
    spanned.referenced.line() as usize
}

/// Check `raw` and build the spec.
pub(super) fn build(raw: RawSpec) -> Result<SyncSpec> {
    let registries = registries(raw.registries.unwrap_or_default())?;
    let defaults = match raw.defaults {
        Some(d) => options(d.value)?,
        None => Options::default(),
    };
    let sync_line = line_of(&raw.sync);
    let entries = raw.sync.value.unwrap_or_default();
    if sync_line == 0 {
        return Err(at(1, "no `sync:` list: a spec needs at least one entry (source and target)"));
    }
    if entries.is_empty() {
        return Err(at(sync_line, "`sync:` is empty: a spec needs at least one entry (source and target)"));
    }
    let entries = entries.into_iter().map(|e| entry(line_of(&e), e.value, &defaults)).collect::<Result<_>>()?;
    Ok(SyncSpec { registries, entries })
}

/// `registries:`: hosts checked and written canonically, settings checked.
fn registries(raw: RawRegistries) -> Result<BTreeMap<String, RegistrySettings>> {
    let mut out = BTreeMap::new();
    for (host, settings) in raw.0 {
        let line = line_of(&host);
        let registry =
            Registry::parse(&host.value).map_err(|e| at(line, format!("registries: {:?}: {e}", host.value)))?;
        let name = registry.as_str().to_string();
        let checked = registry_settings(line, &name, settings)?;
        if out.insert(name.clone(), checked).is_some() {
            return Err(at(line, format!("registries: {name} is given twice")));
        }
    }
    Ok(out)
}

/// One host's settings; `line` is the host's line.
fn registry_settings(line: usize, host: &str, raw: RawRegistry) -> Result<RegistrySettings> {
    if let Some(password_line) = raw.password_line {
        return Err(at(
            password_line,
            format!("registries: {host}: a password never goes in the spec: use password_file or password_env"),
        ));
    }
    if let Some((key_line, key)) = &raw.unknown {
        return Err(at(*key_line, format!("registries: {host}: unknown key `{key}` (allowed: {REGISTRY_KEYS})")));
    }
    let non_empty = |key: &str, value: Option<String>| -> Result<Option<String>> {
        match value {
            Some(v) if v.trim().is_empty() => Err(at(line, format!("registries: {host}: `{key}` is empty"))),
            other => Ok(other),
        }
    };
    let username = non_empty("username", raw.username)?;
    let password_file = non_empty("password_file", raw.password_file)?;
    let password_env = non_empty("password_env", raw.password_env)?;
    let ca = non_empty("ca", raw.ca)?;
    match (&username, password_file.is_some(), password_env.is_some()) {
        (Some(_), true, true) => {
            return Err(at(line, format!("registries: {host}: give one of password_file or password_env, not both")))
        }
        (Some(_), false, false) => {
            return Err(at(
                line,
                format!("registries: {host}: username needs a password source: password_file or password_env"),
            ))
        }
        (None, true, _) | (None, _, true) => {
            return Err(at(line, format!("registries: {host}: password_file / password_env need a username")))
        }
        _ => {}
    }
    let rate = match raw.rate {
        Some(rate) if !(rate.value.is_finite() && rate.value > 0.0) => {
            return Err(at(
                line_of(&rate),
                format!(
                    "registries: {host}: rate must be a positive number of requests per second, not {}",
                    rate.value
                ),
            ))
        }
        other => other.map(|r| r.value),
    };
    Ok(RegistrySettings {
        insecure: raw.insecure.unwrap_or(false),
        tls_skip_verify: raw.tls_skip_verify.unwrap_or(false),
        ca: ca.map(PathBuf::from),
        username,
        password_file: password_file.map(PathBuf::from),
        password_env,
        rate,
    })
}

/// The options `defaults` and an entry share, checked; `None`: not given.
#[derive(Debug, Default)]
struct Options {
    /// The filter and the line of `tags:`.
    tags: Option<(TagFilter, usize)>,
    platforms: Option<Vec<Platform>>,
    referrers: Option<bool>,
    overwrite: Option<bool>,
}

fn options(raw: RawOptions) -> Result<Options> {
    Ok(Options {
        tags: raw.tags.map(|t| Ok::<_, Error>((tags(&t.value, line_of(&t))?, line_of(&t)))).transpose()?,
        platforms: raw.platforms.map(|p| platforms(line_of(&p), p.value)).transpose()?,
        referrers: raw.referrers,
        overwrite: raw.overwrite,
    })
}

/// `tags:` (written at `line`): each regex and the range checked at its own line; an empty `allow` list refused.
fn tags(raw: &RawTags, line: usize) -> Result<TagFilter> {
    let allow = match &raw.allow {
        Some(list) if list.is_empty() => {
            return Err(at(
                line,
                "tags.allow is empty: an empty allow list would take no tag: leave `allow` out to take every tag",
            ))
        }
        Some(list) => list.as_slice(),
        None => &[],
    };
    for (key, list) in [("allow", allow), ("deny", raw.deny.as_slice())] {
        for pattern in list {
            let single = [pattern.value.clone()];
            let (allow, deny): (&[String], &[String]) = if key == "allow" { (&single, &[]) } else { (&[], &single) };
            TagFilter::new(allow, deny, None, None).map_err(|e| at(line_of(pattern), e.message()))?;
        }
    }
    if let Some(range) = &raw.semver {
        TagFilter::new(&[], &[], Some(&range.value), None).map_err(|e| at(line_of(range), e.message()))?;
    }
    let latest = match &raw.latest {
        Some(n) => {
            let value = usize::try_from(n.value)
                .map_err(|_| at(line_of(n), format!("tags.latest: {} is not a number of tags (1 or more)", n.value)))?;
            TagFilter::new(&[], &[], None, Some(value)).map_err(|e| at(line_of(n), e.message()))?;
            Some(value)
        }
        None => None,
    };
    let strings = |list: &[Spanned<String>]| list.iter().map(|s| s.value.clone()).collect::<Vec<_>>();
    TagFilter::new(&strings(allow), &strings(&raw.deny), raw.semver.as_ref().map(|s| s.value.as_str()), latest)
}

/// `platforms:`: `all` (empty list) or each `os/arch[/variant]`.
fn platforms(line: usize, raw: RawPlatforms) -> Result<Vec<Platform>> {
    match raw {
        RawPlatforms::Word(word) if word == "all" => Ok(Vec::new()),
        RawPlatforms::Word(word) => Err(at(
            line,
            format!("platforms: {word:?} is neither `all` nor a list (write platforms: [{word}] for one platform)"),
        )),
        RawPlatforms::List(list) if list.is_empty() => {
            Err(at(line, "platforms: an empty list copies nothing; write `all` or name platforms"))
        }
        RawPlatforms::List(list) => list
            .iter()
            .map(|p| Platform::parse(&p.value).map_err(|e| at(line_of(p), format!("platforms: {}", e.message()))))
            .collect(),
    }
}

/// One entry: endpoints parsed, their pair checked, the defaults merged in.
fn entry(line: usize, raw: RawEntry, defaults: &Options) -> Result<SyncEntry> {
    let endpoint = |key: &str, value: Option<Spanned<String>>| -> Result<Endpoint> {
        let value = value.ok_or_else(|| at(line, format!("the entry has no `{key}`")))?;
        Endpoint::parse(&value.value).map_err(|e| at(line_of(&value), format!("{key}: {}", e.message())))
    };
    let source = endpoint("source", raw.source)?;
    let target = endpoint("target", raw.target)?;
    pairs::check(&source, &target).map_err(|why| at(line, format!("{source} -> {target}: {why}")))?;
    let own = options(RawOptions {
        tags: raw.tags,
        platforms: raw.platforms,
        referrers: raw.referrers,
        overwrite: raw.overwrite,
    })?;
    let tags = if source.is_single_image() {
        if let Some((_, tags_line)) = own.tags {
            return Err(at(
                tags_line,
                format!("tags: the source {source} is one image; tag filters apply to a repository, prefix or layout"),
            ));
        }
        TagFilter::default()
    } else {
        own.tags.or_else(|| defaults.tags.clone()).map(|(t, _)| t).unwrap_or_default()
    };
    Ok(SyncEntry {
        line,
        source,
        target,
        tags,
        platforms: own.platforms.or_else(|| defaults.platforms.clone()).unwrap_or_default(),
        referrers: own.referrers.or(defaults.referrers).unwrap_or(false),
        overwrite: own.overwrite.or(defaults.overwrite).unwrap_or(true),
    })
}
