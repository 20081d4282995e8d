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
/// string first). So `latest` with an `allow` that only matches tags that are not versions (`allow: ["^main-"]`,
/// `latest: 3`) takes no tag at all: to keep the newest of such tags, leave `latest` out and narrow `allow`.
/// An empty `allow` list is refused by the spec (it would take no tag); no `allow` takes every tag.
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

impl TagFilter {
    /// Why `tag` is left out by this filter, for logs (`allow`, `deny`, `semver` or `latest` named with the pattern
    /// or range); meant for a tag [`TagFilter::apply`] dropped.
    pub fn why_left_out(&self, tag: &str) -> String {
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.is_match(tag)) {
            return format!(
                "matches no allow regex ({})",
                self.allow.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        if let Some(r) = self.deny.iter().find(|r| r.is_match(tag)) {
            return format!("matches deny regex {}", r.as_str());
        }
        let version = parse_version(tag);
        if (self.semver.is_some() || self.latest.is_some()) && version.is_none() {
            return "not a version (semver and latest take versions only)".to_string();
        }
        if let (Some(range), Some(v)) = (&self.semver, &version) {
            if !range.matches(v) {
                return format!("version {v} is outside semver {range}");
            }
        }
        match self.latest {
            Some(n) => format!("not among the {n} highest versions (latest: {n})"),
            None => "left out".to_string(),
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn filter(allow: &[&str], deny: &[&str], semver: Option<&str>, latest: Option<usize>) -> TagFilter {
        TagFilter::new(&strings(allow), &strings(deny), semver, latest).unwrap()
    }

    #[test]
    fn why_a_tag_is_left_out_names_the_filter() {
        let f = filter(&["^v"], &["-rc"], Some(">=1.2, <2"), Some(1));
        let kept = f.apply(strings(&["latest", "v1.3-rc", "vnext", "v2.0.0", "v1.2.0", "v1.4.0"]));
        assert_eq!(kept, strings(&["v1.4.0"]));
        assert_eq!(f.why_left_out("latest"), "matches no allow regex (^v)");
        assert_eq!(f.why_left_out("v1.3-rc"), "matches deny regex -rc");
        assert_eq!(f.why_left_out("vnext"), "not a version (semver and latest take versions only)");
        assert_eq!(f.why_left_out("v2.0.0"), "version 2.0.0 is outside semver >=1.2, <2");
        assert_eq!(f.why_left_out("v1.2.0"), "not among the 1 highest versions (latest: 1)");
    }

    fn apply(f: &TagFilter, tags: &[&str]) -> Vec<String> {
        f.apply(strings(tags))
    }

    #[test]
    fn empty_filter_takes_every_tag_in_order() {
        let f = TagFilter::default();
        assert!(f.is_empty());
        assert_eq!(apply(&f, &["b", "a", "latest", "v1"]), vec!["b", "a", "latest", "v1"]);
        assert!(!filter(&["x"], &[], None, None).is_empty());
    }

    #[test]
    fn regexes_match_anywhere_unless_anchored() {
        let tags = ["v1.2", "release-v1.2", "v1.2-rc1", "1.2", "latest"];
        assert_eq!(apply(&filter(&["v1"], &[], None, None), &tags), vec!["v1.2", "release-v1.2", "v1.2-rc1"]);
        assert_eq!(apply(&filter(&["^v1"], &[], None, None), &tags), vec!["v1.2", "v1.2-rc1"]);
        assert_eq!(apply(&filter(&["2$"], &[], None, None), &tags), vec!["v1.2", "release-v1.2", "1.2"]);
        // A match in the middle of the tag counts.
        assert_eq!(apply(&filter(&["ase-v"], &[], None, None), &tags), vec!["release-v1.2"]);
        // Any of several allow regexes.
        assert_eq!(apply(&filter(&["^latest$", "^1"], &[], None, None), &tags), vec!["1.2", "latest"]);
    }

    #[test]
    fn deny_wins_over_allow() {
        let f = filter(&["^v1"], &["-rc"], None, None);
        assert_eq!(apply(&f, &["v1.0", "v1.1-rc1", "v2.0", "v1.2"]), vec!["v1.0", "v1.2"]);
        let only_deny = filter(&[], &["^sha256-", "latest"], None, None);
        assert_eq!(apply(&only_deny, &["latest", "sha256-abc.sig", "v1"]), vec!["v1"]);
    }

    #[test]
    fn semver_accepts_a_leading_v_and_leaves_out_non_versions() {
        let f = filter(&[], &[], Some(">=1.2, <2"), None);
        let tags =
            ["v1.2.0", "1.3", "1.1.9", "2.0.0", "latest", "v1", "1.5.0-rc.1", "1.02.0", "stable-1.4", "1.9.9+build5"];
        assert_eq!(apply(&f, &tags), vec!["v1.2.0", "1.3", "1.9.9+build5"]);
        // A pre-release is in a range only when the range names one of the same major.minor.patch.
        let pre = filter(&[], &[], Some(">=1.5.0-rc.0"), None);
        assert_eq!(apply(&pre, &["1.5.0-rc.1", "1.6.0-rc.1", "1.6.0"]), vec!["1.5.0-rc.1", "1.6.0"]);
    }

    #[test]
    fn latest_keeps_the_highest_versions_in_the_given_order() {
        let f = filter(&[], &[], None, Some(2));
        let tags = ["1.10.0", "latest", "1.9.0", "v1.11", "1.2.0", "main"];
        assert_eq!(apply(&f, &tags), vec!["1.10.0", "v1.11"]);
        assert_eq!(apply(&filter(&[], &[], None, Some(10)), &tags), vec!["1.10.0", "1.9.0", "v1.11", "1.2.0"]);
        // Combined: allow, deny and semver first, then the latest among what is left.
        let all = filter(&["^v"], &["-rc"], Some(">=1.2, <2"), Some(2));
        let tags = ["v1.2.0", "v1.3.0", "v1.4.0-rc.1", "v1.4.0", "v2.0.0", "1.5.0", "v1.1.0"];
        assert_eq!(apply(&all, &tags), vec!["v1.3.0", "v1.4.0"]);
    }

    #[test]
    fn versions_read_leniently_but_not_loosely() {
        let v = |t: &str| parse_version(t).map(|v| v.to_string());
        assert_eq!(v("v1").as_deref(), Some("1.0.0"));
        assert_eq!(v("1.2").as_deref(), Some("1.2.0"));
        assert_eq!(v("v1.2.3-rc.1+b2").as_deref(), Some("1.2.3-rc.1+b2"));
        assert_eq!(v("1.2-alpine").as_deref(), Some("1.2.0-alpine"));
        for not in ["latest", "v", "", "1.2.3.4", "01.2.3", "1..2", "V1.2.3", "1.2.3-", "x1.2", "sha256-abc.sig"] {
            assert_eq!(v(not), None, "{not}");
        }
    }

    #[test]
    fn bad_patterns_are_named() {
        let e = TagFilter::new(&strings(&["ok", "(x"]), &[], None, None).unwrap_err();
        assert_eq!(e.kind(), registry_core::ErrorKind::InvalidInput);
        assert!(e.message().contains("\"(x\"") && e.message().contains("tags.allow"), "{e}");
        let e = TagFilter::new(&[], &strings(&["[z-a]"]), None, None).unwrap_err();
        assert!(e.message().contains("tags.deny") && e.message().contains("[z-a]"), "{e}");
        let e = TagFilter::new(&[], &[], Some("~>1"), None).unwrap_err();
        assert!(e.message().contains("\"~>1\""), "{e}");
        let e = TagFilter::new(&[], &[], None, Some(0)).unwrap_err();
        assert!(e.message().contains("latest"), "{e}");
    }
}
