//! Lists of a [`RemoteClient`]: tags and repositories, one registry page after another (following `Link`, never
//! the same link twice), windowed the same way whether the registry paginates or not; and referrers (the
//! referrers API, or the referrers tag schema on registries without it).

use oci_spec::image::Descriptor;
use registry_core::api::Pager;
use registry_core::{Error, Result};

use super::RemoteClient;
use crate::client::digest_reference;
use crate::options::ListOptions;

/// The largest page size asked of a registry (distribution's catalog maximum).
const CATALOG_PAGE: usize = 1000;

/// Hand each page of `pager` to `collected` while it returns `true` (it wants more). The pager follows `Link` on
/// the registry's host only, never the same link twice, and a bounded number of pages.
async fn collect(mut pager: Pager<String>, mut collected: impl FnMut(Vec<String>) -> bool) -> Result<()> {
    while let Some(page) = pager.next_page().await? {
        if !collected(page.items) {
            break;
        }
    }
    Ok(())
}

impl RemoteClient {
    /// See [`Client::list_tags`](crate::Client::list_tags).
    pub(super) async fn tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        let repo = self.repository()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        // Registries cap page sizes (distribution: 1000); ask for at most that and follow `Link` for the rest.
        let n = opts.get_limit().map(|l| l.min(CATALOG_PAGE));
        let mut all: Vec<String> = Vec::new();
        let limit = opts.get_limit();
        collect(self.api.tags_pager(&repo, n, opts.get_last())?, |items| {
            all.extend(items);
            // A registry may ignore n/last (docker-registry 2.8.2 does) or return short pages: keep going only
            // while the window is not full.
            limit.is_none_or(|n| opts.apply(all.clone()).len() < n)
        })
        .await?;
        Ok(opts.apply(all))
    }

    /// See [`Client::list_repositories`](crate::Client::list_repositories).
    pub(super) async fn repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.scope.check()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let scope = self.scope.path();
        let prefix = if scope.is_empty() { String::new() } else { format!("{scope}/") };
        // Start the catalog just before the scope's range (or after `last` inside it) instead of at the top.
        let start = match (opts.get_last(), scope.is_empty()) {
            (Some(l), _) => Some(format!("{prefix}{l}")),
            (None, true) => None,
            (None, false) => Some(scope.clone()),
        };
        // Anything sorting at or after `scope` + "0" ('0' follows '/') is past the scope's range.
        let end = if scope.is_empty() { None } else { Some(format!("{scope}0")) };
        let n = opts.get_limit().map_or(CATALOG_PAGE, |l| l.min(CATALOG_PAGE));
        let mut found: Vec<String> = Vec::new();
        let limit = opts.get_limit();
        collect(self.api.catalog_pager(Some(n), start.as_deref())?, |items| {
            let sorted = items.windows(2).all(|w| w[0] <= w[1]);
            let mut past_range = false;
            for item in items {
                if let Some(rel) = item.strip_prefix(&prefix) {
                    found.push(rel.to_string());
                } else if end.as_deref().is_some_and(|e| item.as_str() >= e) {
                    past_range = true;
                }
            }
            let full = limit.is_some_and(|n| opts.apply(found.clone()).len() >= n);
            !(full || (sorted && past_range))
        })
        .await?;
        Ok(opts.apply(found))
    }

    /// See [`Client::list_referrers`](crate::Client::list_referrers).
    pub(super) async fn referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let repo = self.repository()?;
        let target = digest_reference(&repo, digest)?;
        let subject = target.digest().ok_or_else(|| Error::invalid_input(format!("{digest:?} is not a digest")))?;
        match self.api.referrers(&repo, subject, artifact_type).await? {
            Some(found) => Ok(found),
            None => self.api.referrers_from_tag(&repo, subject, artifact_type).await,
        }
    }
}
