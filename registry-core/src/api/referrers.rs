//! The referrers of a manifest (OCI distribution 1.1): `GET /v2/<name>/referrers/<digest>`, one page at a time with
//! `Link` following, and the referrers tag schema (`<alg>-<hex>`, an OCI index tagged in the repository) that
//! stands in for the API on registries without it (docker-registry 2.8.2 answers the endpoint 404).

use std::collections::HashSet;

use bytes::Bytes;
use oci_spec::image::Descriptor;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use super::pager::{next_link, Page, Pager};
use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{describe_body, media_type, Manifest};
use crate::reference::{Reference, Repository};
use crate::transport::request::Request;
use crate::transport::response::read_capped;

/// The largest referrers page read, in bytes.
const MAX_PAGE: usize = 16 * 1024 * 1024;
/// The most referrers pages one listing follows (a guard against a registry that never stops paginating).
pub const MAX_REFERRERS_PAGES: usize = 10_000;
/// The header a registry sets when it applied the filters asked for (`artifactType`).
const OCI_FILTERS_APPLIED: &str = "oci-filters-applied";

/// One page of referrers as the registry sent it, and whether it filtered it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferrersPage {
    /// The descriptors of the manifests whose `subject` is the digest asked about, as the registry sent them, and
    /// the next page.
    pub page: Page<Descriptor>,
    /// Whether the registry says (`OCI-Filters-Applied: artifactType`) it filtered by the artifact type asked for;
    /// when it did not, [`RegistryApi::referrers_pager`] filters itself.
    pub filtered: bool,
}

impl ReferrersPage {
    /// The page with only the descriptors of `artifact_type` (filtered here unless the registry did).
    fn of_type(self, artifact_type: Option<&str>) -> Page<Descriptor> {
        if self.filtered {
            self.page
        } else {
            Page { items: filter_artifact_type(self.page.items, artifact_type), next: self.page.next }
        }
    }
}

#[derive(Deserialize)]
struct IndexBody {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// The tag the referrers tag schema keeps the referrers of `subject` under: `<alg>-<hex>`, cut to the 128
/// characters a tag may have.
pub fn referrers_tag(subject: &Digest) -> String {
    let mut tag = format!("{}-{}", subject.algorithm().as_str(), subject.hex());
    tag.truncate(128);
    tag
}

/// Whether `descriptor` is of `artifact_type` (its `artifactType`).
pub fn has_artifact_type(descriptor: &Descriptor, artifact_type: &str) -> bool {
    descriptor.artifact_type().as_ref().is_some_and(|t| t.to_string() == artifact_type)
}

/// `descriptors` of `artifact_type` only, or all of them without a type.
pub fn filter_artifact_type(descriptors: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    match artifact_type {
        Some(t) => descriptors.into_iter().filter(|d| has_artifact_type(d, t)).collect(),
        None => descriptors,
    }
}

/// The descriptors of an index's bytes (a referrers page, or a referrers tag's index).
fn index_descriptors(body: &[u8], what: &str) -> Result<Vec<Descriptor>> {
    serde_json::from_slice::<IndexBody>(body)
        .map(|b| b.manifests.unwrap_or_default())
        .map_err(|e| Error::protocol(format!("{what} is not an OCI index ({})", describe_body(body))).with_source(e))
}

/// The referrers tag's index with `descriptor` added, keeping what `existing` (the index under the tag, if any)
/// lists, duplicates (by digest) dropped. `None` when `existing` already lists it once, so nothing needs pushing.
///
/// Entries are kept as they were (unknown fields included), so another tool's entries survive the rewrite.
pub fn add_to_referrers_index(existing: Option<&Manifest>, descriptor: &Descriptor) -> Result<Option<Manifest>> {
    let new = serde_json::to_value(descriptor)
        .map_err(|e| Error::invalid_input(format!("cannot serialise descriptor: {e}")))?;
    edit_referrers_index(existing, |entries| {
        if entries.iter().any(|e| e["digest"] == new["digest"]) {
            false
        } else {
            entries.push(new);
            true
        }
    })
}

/// The referrers tag's index without the entries for `digest`. `None` when it has none, or there is no index.
pub fn remove_from_referrers_index(existing: Option<&Manifest>, digest: &Digest) -> Result<Option<Manifest>> {
    let Some(existing) = existing else { return Ok(None) };
    edit_referrers_index(Some(existing), |entries| {
        let before = entries.len();
        entries.retain(|e| e["digest"].as_str() != Some(digest.as_str()));
        entries.len() != before
    })
}

/// Apply `edit` to the entries of the referrers index `existing` (or of an empty one), deduplicated by digest.
/// Returns the new index when `edit` changed something or duplicates were dropped.
fn edit_referrers_index(
    existing: Option<&Manifest>,
    edit: impl FnOnce(&mut Vec<Value>) -> bool,
) -> Result<Option<Manifest>> {
    let mut index: Value = match existing {
        Some(m) => serde_json::from_slice(m.bytes())
            .map_err(|e| Error::protocol(format!("referrers index {} is not JSON: {e}", m.digest())))?,
        None => json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": []}),
    };
    if let Some(m) = existing {
        if !m.is_index() {
            return Err(Error::protocol(format!(
                "the referrers tag holds a {} ({}), not an index: refusing to overwrite it",
                m.media_type(),
                m.digest()
            )));
        }
    }
    let mut entries: Vec<Value> = match index.get_mut("manifests").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let before = entries.len();
    let mut seen = HashSet::new();
    entries.retain(|e| seen.insert(e["digest"].to_string()));
    let deduplicated = entries.len() != before;
    let changed = edit(&mut entries);
    if !(changed || deduplicated) {
        return Ok(None);
    }
    index["manifests"] = Value::Array(entries);
    let bytes = serde_json::to_vec(&index).map_err(|e| Error::invalid_input(format!("cannot serialise index: {e}")))?;
    Manifest::parse(Bytes::from(bytes), Some(media_type::OCI_INDEX)).map(Some)
}

impl RegistryApi {
    fn referrers_url(&self, repo: &Repository, subject: &Digest, artifact_type: Option<&str>) -> Result<Url> {
        let mut url = self.transport.url(&format!("/v2/{}/referrers/{subject}", repo.path()))?;
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        Ok(url)
    }

    /// The first page of the referrers of `subject` in `repo`, asking the registry to keep only `artifact_type`
    /// (it may not: see [`ReferrersPage::filtered`]). `Ok(None)` when the registry has no referrers API (it answers
    /// the endpoint 404, or 405/501): then use the referrers tag ([`RegistryApi::referrers_from_tag`]).
    ///
    /// What the answer teaches is kept in the capabilities (`referrers_api`): once the registry showed it has no
    /// referrers API, this returns `Ok(None)` without asking.
    pub async fn referrers_page(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrersPage>> {
        let caps = self.transport.capabilities();
        if caps.snapshot().referrers_api == Some(false) {
            return Ok(None);
        }
        let url = self.referrers_url(repo, subject, artifact_type)?;
        match self.referrers_at(url, repo, artifact_type).await {
            Ok(page) => {
                caps.learn("the referrers API answered", |c| c.referrers_api = Some(true));
                Ok(Some(page))
            }
            // A registry with the API never answers 404 for a repository it knows; one without it answers 404 to
            // the unknown path (docker-registry 2.8.2: `404 page not found`, text/plain). An unknown repository
            // has no referrers either way, which the tag lookup then finds. Only an answer without a registry
            // error code (a path the router does not know) or a refused method says the API is absent for good.
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::Unsupported => {
                tracing::debug!(error = %e, "no referrers API, falling back to the referrers tag");
                if e.codes().is_empty() || e.kind() == ErrorKind::Unsupported {
                    let why = format!("the referrers endpoint answered {}", e.status().unwrap_or_default());
                    caps.learn(&why, |c| c.referrers_api = Some(false));
                }
                Ok(None)
            }
            Err(e) => Err(e.context(format!("referrers of {subject} in {repo}"))),
        }
    }

    /// The next page of referrers at `next` (a page's `next`).
    pub async fn referrers_next(
        &self,
        repo: &Repository,
        next: Url,
        artifact_type: Option<&str>,
    ) -> Result<ReferrersPage> {
        self.referrers_at(next, repo, artifact_type).await.map_err(|e| e.context(format!("referrers in {repo}")))
    }

    async fn referrers_at(&self, url: Url, repo: &Repository, artifact_type: Option<&str>) -> Result<ReferrersPage> {
        let resp = self.transport.send(Request::new(Method::GET, url.clone(), Scope::pull(repo.path()))).await?;
        let next = next_link(&self.transport, &url, resp.headers())?;
        let filtered = artifact_type.is_some()
            && resp
                .headers()
                .get_all(OCI_FILTERS_APPLIED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|f| f.trim() == "artifactType");
        let body = read_capped(resp, MAX_PAGE, "referrers page").await?;
        let manifests = index_descriptors(&body, "referrers answer")?;
        Ok(ReferrersPage { page: Page { items: manifests, next }, filtered })
    }

    /// Every page of referrers of `subject` in `repo` through the referrers API, of `artifact_type` when given
    /// (filtered here when the registry did not), following `Link` pages (same host only, never the same link
    /// twice, at most [`MAX_REFERRERS_PAGES`]) as they are asked for. `Ok(None)` when the registry has no
    /// referrers API (the first page is fetched to know).
    pub async fn referrers_pager(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Pager<Descriptor>>> {
        let Some(first) = self.referrers_page(repo, subject, artifact_type).await? else { return Ok(None) };
        let (api, repo, artifact_type) = (self.clone(), repo.clone(), artifact_type.map(str::to_string));
        let first = first.of_type(artifact_type.as_deref());
        let pager = Pager::after(first, move |next: Url| {
            let (api, repo, artifact_type) = (api.clone(), repo.clone(), artifact_type.clone());
            async move {
                let page = api.referrers_next(&repo, next, artifact_type.as_deref()).await?;
                Ok(page.of_type(artifact_type.as_deref()))
            }
        });
        Ok(Some(pager.max_pages(MAX_REFERRERS_PAGES)))
    }

    /// Every referrer of `subject` in `repo` through the referrers API: the items of
    /// [`referrers_pager`](RegistryApi::referrers_pager)'s pages. `Ok(None)` when the registry has no referrers API.
    pub async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>> {
        let Some(mut pager) = self.referrers_pager(repo, subject, artifact_type).await? else { return Ok(None) };
        let mut all = Vec::new();
        while let Some(page) = pager.next_page().await? {
            all.extend(page.items);
        }
        Ok(Some(all))
    }

    /// The index the referrers tag schema keeps for `subject` in `repo` (tag [`referrers_tag`]); `Ok(None)` when
    /// there is none.
    pub async fn referrers_index(&self, repo: &Repository, subject: &Digest) -> Result<Option<Manifest>> {
        let tag = referrers_tag(subject);
        let reference = Reference::with_tag(repo.clone(), &tag).map_err(Error::from)?;
        match self.get_manifest(&reference).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context("referrers tag")),
        }
    }

    /// The referrers of `subject` in `repo` the referrers tag schema records, of `artifact_type` when given; empty
    /// when there is no referrers tag.
    pub async fn referrers_from_tag(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let Some(index) = self.referrers_index(repo, subject).await? else { return Ok(Vec::new()) };
        let all = index_descriptors(index.bytes(), &format!("referrers tag {}", referrers_tag(subject)))?;
        Ok(filter_artifact_type(all, artifact_type))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::manifest::descriptor;

    fn desc(n: u8, artifact_type: Option<&str>) -> Descriptor {
        let mut d = descriptor(media_type::OCI_MANIFEST, &Digest::sha256(&[n]), 10 + u64::from(n)).unwrap();
        d.set_artifact_type(artifact_type.map(Into::into));
        d
    }

    fn digests(m: &Manifest) -> Vec<String> {
        m.as_index().unwrap().manifests().iter().map(|d| d.digest().to_string()).collect()
    }

    #[test]
    fn tag_schema_name() {
        let d = Digest::sha256(b"x");
        assert_eq!(referrers_tag(&d), format!("sha256-{}", d.hex()));
        assert!(Reference::with_tag(Repository::parse("h/r").unwrap(), &referrers_tag(&d)).is_ok());
        let long = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap();
        assert_eq!(referrers_tag(&long).len(), 128);
    }

    #[test]
    fn index_edits_keep_entries_and_deduplicate() {
        let a = desc(1, Some("application/sig"));
        let b = desc(2, Some("application/sbom"));
        let first = add_to_referrers_index(None, &a).unwrap().unwrap();
        assert_eq!(first.media_type(), media_type::OCI_INDEX);
        assert_eq!(digests(&first), vec![a.digest().to_string()]);
        assert!(add_to_referrers_index(Some(&first), &a).unwrap().is_none(), "already listed: nothing to push");
        let both = add_to_referrers_index(Some(&first), &b).unwrap().unwrap();
        assert_eq!(digests(&both), vec![a.digest().to_string(), b.digest().to_string()]);
        let listed = index_descriptors(both.bytes(), "x").unwrap();
        assert_eq!(filter_artifact_type(listed.clone(), Some("application/sbom")), vec![b.clone()]);
        assert_eq!(filter_artifact_type(listed, None).len(), 2);

        // Another tool's entry with unknown fields, listed twice: kept once, fields intact.
        let foreign = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
            {{"mediaType":"x","digest":"{d}","size":1,"x-extra":true}},{{"mediaType":"x","digest":"{d}","size":1}}]}}"#,
            media_type::OCI_INDEX,
            d = a.digest()
        );
        let foreign = Manifest::parse(foreign, None).unwrap();
        let fixed = add_to_referrers_index(Some(&foreign), &a).unwrap().unwrap();
        assert_eq!(digests(&fixed), vec![a.digest().to_string()]);
        assert!(String::from_utf8_lossy(fixed.bytes()).contains("x-extra"));

        let removed = remove_from_referrers_index(Some(&both), &Digest::parse(a.digest().as_ref()).unwrap()).unwrap();
        assert_eq!(digests(&removed.unwrap()), vec![b.digest().to_string()]);
        assert!(remove_from_referrers_index(Some(&first), &Digest::sha256(b"none")).unwrap().is_none());
        assert!(remove_from_referrers_index(None, &Digest::sha256(b"none")).unwrap().is_none());
    }

    #[test]
    fn an_image_under_the_referrers_tag_is_not_overwritten() {
        let cfg = Digest::sha256(b"{}");
        let image = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"x","digest":"{cfg}","size":2}},"layers":[]}}"#,
            media_type::OCI_MANIFEST
        );
        let image = Manifest::parse(image, None).unwrap();
        let e = add_to_referrers_index(Some(&image), &desc(1, None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_referrers_body_parses_without_panic(body in proptest::prelude::any::<Vec<u8>>(), size: u64) {
            let _ = index_descriptors(&body, "referrers");
            // Any size a descriptor states is kept as it is, never wrapped.
            let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "size": size,
            }]});
            let got = index_descriptors(index.to_string().as_bytes(), "referrers").ok();
            proptest::prop_assert_eq!(got.map(|d| d.iter().map(|d| d.size()).collect::<Vec<_>>()), Some(vec![size]));
        }
    }
}
