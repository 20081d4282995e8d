//! Tag filters: `allow` / `deny` regexes, a `semver` range, `latest: N`.

use std::collections::HashSet;

use registry_core::{Error, Result};
use semver::{Version, VersionReq};

/// Which tags of a repository a sync entry takes (regsync's tag filters, plus semver).
///
/// In order: a tag must match one `allow` regex when there are any, and no `deny` regex (`deny` wins); regexes match
/// anywhere in the tag unless anchored (`^`, `$`), in the syntax of the `regex` crate. With `semver`, tags that are
/// not versions are left out, and the rest must be in the range (`">=1.2, <2"`, as `semver::VersionReq` reads it:
/// a pre-release such as `1.3.0-rc.1` is in a range only when a comparator of the range names a pre-release of the
/// same `major.minor.patch`). `latest: N` then keeps the N highest versions among the tags still in (tags that are
/// not versions are left out; tags of equal versions, such as `v1.2.0` and `1.2`, each count, the greater tag
/// string first).
///
/// A version is `MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]` with an optional leading `v`; a missing minor or patch
/// counts as 0 (`v1.2` is `1.2.0`), as regsync's semver library reads tags. Numbers have no leading zeros.
///
/// The default filter takes every tag.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TagFilter {
    allow: Vec<regex::Regex>,
    deny: Vec<regex::Regex>,
    semver: Option<semver::VersionReq>,
    latest: Option<usize>,
}

impl TagFilter {
    /// A filter from the spec's strings.
    ///
    /// Errors: `InvalidInput` naming the regex that does not compile (with the regex crate's message), the range
    /// that does not parse (with semver's message), or `latest: 0`.
    pub fn new(allow: &[String], deny: &[String], semver: Option<&str>, latest: Option<usize>) -> Result<TagFilter> {
        let compile = |key: &str, patterns: &[String]| -> Result<Vec<regex::Regex>> {
            patterns
                .iter()
                .map(|p| {
                    regex::Regex::new(p)
                        .map_err(|e| Error::invalid_input(format!("tags.{key}: invalid regex {p:?}: {e}")))
                })
                .collect()
        };
        let allow = compile("allow", allow)?;
        let deny = compile("deny", deny)?;
        let semver = semver
            .map(|range| {
                VersionReq::parse(range)
                    .map_err(|e| Error::invalid_input(format!("tags.semver: invalid semver range {range:?}: {e}")))
            })
            .transpose()?;
        if latest == Some(0) {
            return Err(Error::invalid_input("tags.latest: 0 keeps no tag; give at least 1, or leave latest out"));
        }
        Ok(TagFilter { allow, deny, semver, latest })
    }

    /// Whether the filter takes every tag (no allow, deny, semver nor latest).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.semver.is_none() && self.latest.is_none()
    }

    /// The `allow` regexes, as written.
    pub fn allow(&self) -> Vec<&str> {
        self.allow.iter().map(regex::Regex::as_str).collect()
    }

    /// The `deny` regexes, as written.
    pub fn deny(&self) -> Vec<&str> {
        self.deny.iter().map(regex::Regex::as_str).collect()
    }

    /// The `semver` range, in semver's normal form (`>=1.2, <2`).
    pub fn semver(&self) -> Option<String> {
        self.semver.as_ref().map(ToString::to_string)
    }

    /// `latest: N`.
    pub fn latest(&self) -> Option<usize> {
        self.latest
    }

    /// The tags of `tags` that pass, in the order given.
    pub fn apply(&self, tags: Vec<String>) -> Vec<String> {
        let passing: Vec<(String, Option<Version>)> = tags
            .into_iter()
            .filter(|t| self.allow.is_empty() || self.allow.iter().any(|r| r.is_match(t)))
            .filter(|t| !self.deny.iter().any(|r| r.is_match(t)))
            .filter_map(|t| {
                let version = if self.semver.is_some() || self.latest.is_some() { parse_version(&t) } else { None };
                match &self.semver {
                    Some(range) if !version.as_ref().is_some_and(|v| range.matches(v)) => None,
                    _ => Some((t, version)),
                }
            })
            .collect();
        let Some(latest) = self.latest else {
            return passing.into_iter().map(|(t, _)| t).collect();
        };
        let mut versions: Vec<(&Version, &str)> =
            passing.iter().filter_map(|(t, v)| v.as_ref().map(|v| (v, t.as_str()))).collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let kept: HashSet<String> = versions.into_iter().take(latest).map(|(_, t)| t.to_string()).collect();
        passing.into_iter().map(|(t, _)| t).filter(|t| kept.contains(t)).collect()
    }
}

/// Read a tag as a version: an optional leading `v`, then `MAJOR[.MINOR[.PATCH]]` and an optional `-pre` / `+build`;
/// missing parts are 0. `None` when the tag is not a version.
pub(crate) fn parse_version(tag: &str) -> Option<Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let split = text.find(['-', '+']).unwrap_or(text.len());
    let (core, suffix) = text.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut full = core.to_string();
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    full.push_str(suffix);
    Version::parse(&full).ok()
}
