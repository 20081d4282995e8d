//! `/v2/<name>/tags/list` and `/v2/_catalog`, one page at a time, with `Link` following.

use reqwest::header::LINK;
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::error::{Error, Result};
use crate::manifest::describe_body;
use crate::reference::Repository;
use crate::transport::request::Request;
use crate::transport::response::read_capped;

/// The largest list page read, in bytes.
const MAX_PAGE: usize = 16 * 1024 * 1024;

/// One page of a list and where the next one is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The items, as the registry sent them.
    pub items: Vec<String>,
    /// The next page (from `Link: <...>; rel="next"`), already checked to be on the same host.
    pub next: Option<Url>,
}

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

/// The `rel="next"` target of a `Link` header value, if any.
pub fn parse_next_link(header: &str) -> Option<&str> {
    for link in header.split(',') {
        let link = link.trim();
        let (target, params) = match (link.find('<'), link.find('>')) {
            (Some(a), Some(b)) if a < b => (&link[a + 1..b], &link[b + 1..]),
            _ => continue,
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            let Some((k, v)) = p.split_once('=') else { return false };
            k.trim().eq_ignore_ascii_case("rel") && v.trim().trim_matches('"').split(' ').any(|r| r == "next")
        });
        if is_next {
            return Some(target);
        }
    }
    None
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
        let mut url = self.transport.url(&format!("/v2/{}/tags/list", repo.path()))?;
        add_window(&mut url, n, last);
        self.page(url, Scope::pull(repo.path()), ListKind::Tags).await.map_err(|e| {
            if e.is_not_found() {
                e.context(format!("repository {repo} not found"))
            } else {
                e.context(format!("list tags of {repo}"))
            }
        })
    }

    /// The next page of tags of `repo` at `next`.
    pub async fn tags_next(&self, repo: &Repository, next: Url) -> Result<Page> {
        self.page(next, Scope::pull(repo.path()), ListKind::Tags)
            .await
            .map_err(|e| e.context(format!("list tags of {repo}")))
    }

    /// The first page of the catalog, at most `n` repositories after `last`.
    pub async fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        let mut url = self.transport.url("/v2/_catalog")?;
        add_window(&mut url, n, last);
        self.page(url, Scope::catalog(), ListKind::Catalog).await.map_err(|e| e.context("list repositories"))
    }

    /// The next page of the catalog at `next`.
    pub async fn catalog_next(&self, next: Url) -> Result<Page> {
        self.page(next, Scope::catalog(), ListKind::Catalog).await.map_err(|e| e.context("list repositories"))
    }

    async fn page(&self, url: Url, scope: Scope, kind: ListKind) -> Result<Page> {
        let resp = self.transport.send(Request::new(Method::GET, url.clone(), scope)).await?;
        let next = match resp.headers().get(LINK).and_then(|v| v.to_str().ok()).and_then(parse_next_link) {
            Some(target) => Some(self.transport.resolve_same_origin(&url, target, "Link")?),
            None => None,
        };
        let body = read_capped(resp, MAX_PAGE, "list page").await?;
        let items = match kind {
            ListKind::Tags => serde_json::from_slice::<TagsBody>(&body).map(|b| b.tags.unwrap_or_default()),
            ListKind::Catalog => {
                serde_json::from_slice::<CatalogBody>(&body).map(|b| b.repositories.unwrap_or_default())
            }
        }
        .map_err(|e| {
            Error::protocol(format!("list answer is not the expected JSON ({})", describe_body(&body))).with_source(e)
        })?;
        Ok(Page { items, next })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link() {
        assert_eq!(
            parse_next_link(r#"</v2/_catalog?last=a%2Ftwo&n=2>; rel="next""#),
            Some("/v2/_catalog?last=a%2Ftwo&n=2")
        );
        assert_eq!(
            parse_next_link(r#"<https://h/v2/x/tags/list?n=1&last=b>;rel=next"#),
            Some("https://h/v2/x/tags/list?n=1&last=b")
        );
        assert_eq!(parse_next_link(r#"</a>; rel="prev", </b>; rel="next""#), Some("/b"));
        assert_eq!(parse_next_link(r#"</a>; rel="prev""#), None);
        assert_eq!(parse_next_link("garbage"), None);
        assert_eq!(parse_next_link(""), None);
    }
}
