//! `/v2/<name>/tags/list` and `/v2/_catalog`: one page at a time, or all of them through a [`Pager`].

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::page_size;
use super::pager::{next_link, Page, Pager};
use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::error::{Error, Result};
use crate::manifest::describe_body;
use crate::reference::Repository;
use crate::transport::request::Request;
use crate::transport::response::read_capped;

/// The largest list page read, in bytes.
const MAX_PAGE: usize = 16 * 1024 * 1024;

#[derive(Deserialize)]
struct TagsBody {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CatalogBody {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// Which list a page belongs to.
#[derive(Debug, Clone, Copy)]
enum ListKind {
    Tags,
    Catalog,
}

impl RegistryApi {
    /// The first page of `repo`'s tags, asking for at most `n` after `last` (a registry may ignore both).
    pub async fn tags_page(&self, repo: &Repository, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        let url = self.tags_url(repo, n, last)?;
        self.page(url, Scope::pull(repo.path()), ListKind::Tags).await.map_err(|e| tags_error(e, repo, true))
    }

    /// The next page of tags of `repo` at `next`.
    pub async fn tags_next(&self, repo: &Repository, next: Url) -> Result<Page> {
        self.page(next, Scope::pull(repo.path()), ListKind::Tags).await.map_err(|e| tags_error(e, repo, false))
    }

    /// Every page of `repo`'s tags, from the first (at most `n` after `last`, as in [`RegistryApi::tags_page`]),
    /// fetched as they are asked for. Fails only when the first page's URL cannot be made.
    pub fn tags_pager(&self, repo: &Repository, n: Option<usize>, last: Option<&str>) -> Result<Pager<String>> {
        let first = self.tags_url(repo, n, last)?;
        let (api, repo) = (self.clone(), repo.clone());
        let mut is_first = true;
        Ok(Pager::new(first, move |url: Url| {
            let (api, repo) = (api.clone(), repo.clone());
            let first_page = std::mem::replace(&mut is_first, false);
            async move {
                api.page(url, Scope::pull(repo.path()), ListKind::Tags)
                    .await
                    .map_err(|e| tags_error(e, &repo, first_page))
            }
        }))
    }

    /// The first page of the catalog, at most `n` repositories after `last`.
    pub async fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        let url = self.catalog_url(n, last)?;
        self.page(url, Scope::catalog(), ListKind::Catalog).await.map_err(|e| e.context("list repositories"))
    }

    /// The next page of the catalog at `next`.
    pub async fn catalog_next(&self, next: Url) -> Result<Page> {
        self.page(next, Scope::catalog(), ListKind::Catalog).await.map_err(|e| e.context("list repositories"))
    }

    /// Every page of the catalog, from the first (at most `n` repositories after `last`), fetched as they are
    /// asked for. Fails only when the first page's URL cannot be made.
    pub fn catalog_pager(&self, n: Option<usize>, last: Option<&str>) -> Result<Pager<String>> {
        let first = self.catalog_url(n, last)?;
        let api = self.clone();
        Ok(Pager::new(first, move |url: Url| {
            let api = api.clone();
            async move {
                api.page(url, Scope::catalog(), ListKind::Catalog).await.map_err(|e| e.context("list repositories"))
            }
        }))
    }

    fn tags_url(&self, repo: &Repository, n: Option<usize>, last: Option<&str>) -> Result<Url> {
        let mut url = self.transport.url(&format!("/v2/{}/tags/list", repo.path()))?;
        add_window(&mut url, n, last);
        Ok(url)
    }

    fn catalog_url(&self, n: Option<usize>, last: Option<&str>) -> Result<Url> {
        let mut url = self.transport.url("/v2/_catalog")?;
        add_window(&mut url, n, last);
        Ok(url)
    }

    /// One page at `url`. A page size the registry is known to refuse is lowered first; a refusal of the size
    /// (400 `PAGINATION_NUMBER_INVALID`, as docker-registry with `catalog.maxentries` answers) is retried with a
    /// smaller one (100, then halving, a bounded number of times) and the size that worked is remembered in the
    /// registry's capabilities (`max_page_size`), so later pages and lists ask for it directly.
    async fn page(&self, url: Url, scope: Scope, kind: ListKind) -> Result<Page> {
        let caps = self.transport.capabilities();
        let mut url = page_size::capped(url, caps.snapshot().max_page_size);
        let mut shrunk = false;
        for _ in 0..=page_size::MAX_SHRINKS {
            match self.page_once(url.clone(), scope.clone(), kind).await {
                Ok(page) => {
                    if let (true, Some(n)) = (shrunk, page_size::page_size(&url)) {
                        caps.learn("a larger page size was refused (PAGINATION_NUMBER_INVALID)", |c| {
                            c.max_page_size = Some(c.max_page_size.map_or(n, |m| m.min(n)));
                        });
                    }
                    return Ok(page);
                }
                Err(e) if page_size::is_page_size_refused(&e) => {
                    match page_size::page_size(&url).and_then(page_size::smaller_page) {
                        Some(smaller) => {
                            tracing::debug!(smaller, "page size refused, asking for a smaller page");
                            url = page_size::with_page_size(&url, smaller);
                            shrunk = true;
                        }
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::protocol(format!(
            "the registry refused every page size down to {} (PAGINATION_NUMBER_INVALID): giving up",
            page_size::page_size(&url).unwrap_or_default()
        )))
    }

    async fn page_once(&self, url: Url, scope: Scope, kind: ListKind) -> Result<Page> {
        let resp = self.transport.send(Request::new(Method::GET, url.clone(), scope)).await?;
        let next = next_link(&self.transport, &url, resp.headers())?;
        let body = read_capped(resp, MAX_PAGE, "list page").await?;
        let items = parse_items(&body, kind).map_err(|e| {
            Error::protocol(format!("list answer is not the expected JSON ({})", describe_body(&body))).with_source(e)
        })?;
        Ok(Page { items, next })
    }
}

/// A tags page's error in context: an unknown repository says so on the first page.
fn tags_error(e: Error, repo: &Repository, first: bool) -> Error {
    if first && e.is_not_found() {
        e.context(format!("repository {repo} not found"))
    } else {
        e.context(format!("list tags of {repo}"))
    }
}

fn add_window(url: &mut Url, n: Option<usize>, last: Option<&str>) {
    if n.is_none() && last.is_none() {
        return;
    }
    let mut q = url.query_pairs_mut();
    if let Some(n) = n {
        q.append_pair("n", &n.to_string());
    }
    if let Some(last) = last {
        q.append_pair("last", last);
    }
}

/// The names of a tags or catalog page's body (`{"tags": [...]}`, `{"repositories": [...]}`; `null` is none).
fn parse_items(body: &[u8], kind: ListKind) -> serde_json::Result<Vec<String>> {
    match kind {
        ListKind::Tags => serde_json::from_slice::<TagsBody>(body).map(|b| b.tags.unwrap_or_default()),
        ListKind::Catalog => serde_json::from_slice::<CatalogBody>(body).map(|b| b.repositories.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_list_body_parses_without_panic(body in proptest::prelude::any::<Vec<u8>>()) {
            let _ = parse_items(&body, ListKind::Tags);
            let _ = parse_items(&body, ListKind::Catalog);
        }

        #[test]
        fn list_bodies_round_trip(names in proptest::collection::vec("\\PC{0,20}", 0..20)) {
            let tags = serde_json::json!({"name": "x", "tags": names}).to_string();
            proptest::prop_assert_eq!(parse_items(tags.as_bytes(), ListKind::Tags).ok(), Some(names.clone()));
            let repos = serde_json::json!({"repositories": names}).to_string();
            proptest::prop_assert_eq!(parse_items(repos.as_bytes(), ListKind::Catalog).ok(), Some(names));
        }
    }
}
