//! Tag filters: `allow` / `deny` regexes, a `semver` range, `latest: N`.

use registry_core::Result;

/// Which tags of a repository a sync entry takes (regsync's tag filters, plus semver).
///
/// In order: a tag must match one `allow` regex when there are any, and no `deny` regex (`deny` wins); regexes match
/// anywhere in the tag unless anchored (`^`, `$`). With `semver`, tags that are not versions (a leading `v` is
/// accepted: `v1.2.3`) are left out, and the rest must be in the range (`">=1.2, <2"`). `latest: N` then keeps the
/// N highest versions (tags that are not versions are left out).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TagFilter {
    allow: Vec<regex::Regex>,
    deny: Vec<regex::Regex>,
    semver: Option<semver::VersionReq>,
    latest: Option<usize>,
}

impl TagFilter {
    /// A filter from the spec's strings. `InvalidInput` naming the regex or range that does not parse, or `latest: 0`.
    pub fn new(allow: &[String], deny: &[String], semver: Option<&str>, latest: Option<usize>) -> Result<TagFilter> {
        let _ = (allow, deny, semver, latest);
        Err(registry_core::Error::unsupported("tag filters: not built yet"))
    }

    /// The tags of `tags` that pass, in the order given.
    pub fn apply(&self, tags: Vec<String>) -> Vec<String> {
        let _ = (&self.allow, &self.deny, &self.semver, &self.latest);
        tags
    }
}
