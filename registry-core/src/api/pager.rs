//! One page type for every paginated list (tags, catalog, referrers) and one pager that follows the registry's
//! `Link: <...>; rel="next"` from page to page, fetching each page only when asked for it.
//!
//! The pager follows a link only on the registry's own host (scheme, host and port, checked when the page is read),
//! never follows the same link twice, stops when [`MAX_STALLED_PAGES`] pages in a row bring no new items (empty, or
//! the items of the page before: a registry that ignores `last` but keeps inventing new links), and stops after a
//! bounded number of pages: a registry that paginates forever or in a circle gets an
//! [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error, never an endless loop.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures::Stream;
use reqwest::header::{HeaderMap, LINK};
use url::Url;

use crate::error::{Error, Result};
use crate::transport::response::{redact_url, shown_url};
use crate::transport::send::Transport;

/// The most pages a [`Pager`] follows unless told otherwise ([`Pager::max_pages`]).
pub const MAX_PAGES: usize = 100_000;

/// How many pages in a row may bring no new items (none, or exactly the items of the page before) before a
/// [`Pager`] stops with an [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error: a list that does not
/// advance is not followed further, whatever links it sends. A page with new items resets the count.
pub const MAX_STALLED_PAGES: usize = 3;

/// One page of a list and where the next one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T = String> {
    /// The items, as the registry sent them.
    pub items: Vec<T>,
    /// The next page (from `Link: <...>; rel="next"`), already checked to be on the registry's host.
    pub next: Option<Url>,
}

impl<T> Default for Page<T> {
    fn default() -> Page<T> {
        Page { items: Vec::new(), next: None }
    }
}

/// A page being fetched.
pub type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>>> + Send>>;

/// The pages of one list, fetched one at a time as they are asked for ([`Pager::next_page`], or as a stream with
/// [`Pager::into_stream`] / [`Pager::into_items`]).
///
/// Made by the endpoints ([`RegistryApi::tags_pager`](crate::api::RegistryApi::tags_pager),
/// [`catalog_pager`](crate::api::RegistryApi::catalog_pager),
/// [`referrers_pager`](crate::api::RegistryApi::referrers_pager)), or from a fetch function for another list.
/// After an error the pager is done.
pub struct Pager<T> {
    fetch: Box<dyn FnMut(Url) -> PageFuture<T> + Send>,
    /// A page fetched before the pager was made, handed out first.
    ready: Option<Page<T>>,
    next: Option<Url>,
    seen: HashSet<Url>,
    pages: usize,
    max_pages: usize,
    /// The items of the last page handed out, to tell whether the next one brings new ones.
    previous: Vec<T>,
    /// Pages in a row that brought no new items.
    stalled: usize,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("next", &self.next.as_ref().map(redact_url))
            .field("pages", &self.pages)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}

impl<T: PartialEq + Clone + Send + 'static> Pager<T> {
    /// The pages from `first` on, each fetched with `fetch` (given the page's URL).
    pub fn new<F, Fut>(first: Url, fetch: F) -> Pager<T>
    where
        F: FnMut(Url) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>>> + Send + 'static,
    {
        Pager::build(None, Some(first), fetch)
    }

    /// `page`, already fetched, then the pages its `next` leads to, fetched with `fetch`.
    pub fn after<F, Fut>(page: Page<T>, fetch: F) -> Pager<T>
    where
        F: FnMut(Url) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>>> + Send + 'static,
    {
        Pager::build(Some(page), None, fetch)
    }

    fn build<F, Fut>(ready: Option<Page<T>>, next: Option<Url>, mut fetch: F) -> Pager<T>
    where
        F: FnMut(Url) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>>> + Send + 'static,
    {
        Pager {
            fetch: Box::new(move |url| Box::pin(fetch(url))),
            ready,
            next,
            seen: HashSet::new(),
            pages: 0,
            max_pages: MAX_PAGES,
            previous: Vec::new(),
            stalled: 0,
        }
    }

    /// Stop with an error after `n` pages (default [`MAX_PAGES`]).
    #[must_use]
    pub fn max_pages(mut self, n: usize) -> Pager<T> {
        self.max_pages = n;
        self
    }

    /// The next page; `Ok(None)` after the last one. An error (the fetch's, a link already followed,
    /// [`MAX_STALLED_PAGES`] pages in a row with no new items, more than [`max_pages`](Self::max_pages) pages:
    /// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol), naming the link with only its harmless query parameters,
    /// see [`shown_url`](crate::transport::shown_url)) ends the pager.
    pub async fn next_page(&mut self) -> Result<Option<Page<T>>> {
        let (page, from) = match self.ready.take() {
            Some(page) => (page, None),
            None => {
                let Some(url) = self.next.take() else { return Ok(None) };
                if !self.seen.insert(url.clone()) {
                    return Err(Error::protocol(format!(
                        "registry sent the same next-page link twice ({}): stopping",
                        shown_url(&url)
                    )));
                }
                if self.pages >= self.max_pages {
                    return Err(Error::protocol(format!("registry sent more than {} pages: stopping", self.max_pages)));
                }
                ((self.fetch)(url.clone()).await?, Some(url))
            }
        };
        self.pages += 1;
        if page.items.is_empty() || page.items == self.previous {
            self.stalled += 1;
        } else {
            self.stalled = 0;
            self.previous.clone_from(&page.items);
        }
        if self.stalled >= MAX_STALLED_PAGES && page.next.is_some() {
            let what = if page.items.is_empty() { "no items" } else { "the same items" };
            let last = from.as_ref().map_or_else(String::new, |u| format!(", the last from {}", shown_url(u)));
            return Err(Error::protocol(format!(
                "registry sent {} pages in a row with {what}{last}: the list does not advance, stopping",
                self.stalled
            )));
        }
        self.next = page.next.clone();
        Ok(Some(page))
    }

    /// The pages as a stream, fetched as it is polled; it ends after the last page or the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Page<T>>> + Send {
        futures::stream::unfold(Some(self), |pager| async move {
            let mut pager = pager?;
            match pager.next_page().await {
                Ok(Some(page)) => Some((Ok(page), Some(pager))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// The items of every page, in order, as a stream; it ends after the last item or the first error.
    pub fn into_items(self) -> impl Stream<Item = Result<T>> + Send {
        use futures::StreamExt as _;
        self.into_stream().flat_map(|page| {
            let items: Vec<Result<T>> = match page {
                Ok(page) => page.items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        })
    }
}

/// The `rel="next"` target of a `Link` header value, if any.
pub(crate) fn parse_next_link(header: &str) -> Option<&str> {
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

/// The next page an answer to `current` links to (`Link: <...>; rel="next"`), resolved against `current` and
/// refused ([`ErrorKind::Protocol`](crate::ErrorKind::Protocol)) when it points to another host.
pub(crate) fn next_link(transport: &Transport, current: &Url, headers: &HeaderMap) -> Result<Option<Url>> {
    match headers.get(LINK).and_then(|v| v.to_str().ok()).and_then(parse_next_link) {
        Some(target) => transport.resolve_same_origin(current, target, "Link").map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use futures::StreamExt as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// A pager over pages `?p=0`, `?p=1`... where page `i` links to `link(i)`; counts fetches.
    fn pager(link: fn(usize) -> Option<String>, calls: Arc<AtomicUsize>) -> Pager<usize> {
        Pager::new(url("https://r.example/v2/x/tags/list?p=0"), move |u: Url| {
            calls.fetch_add(1, Ordering::SeqCst);
            let i: usize = u.query().and_then(|q| q.strip_prefix("p=")).and_then(|p| p.parse().ok()).unwrap_or(99);
            async move { Ok(Page { items: vec![i], next: link(i).map(|l| url(&l)) }) }
        })
    }

    #[tokio::test]
    async fn pages_are_fetched_lazily_and_in_order() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut p = pager(|i| (i < 2).then(|| format!("https://r.example/v2/x/tags/list?p={}", i + 1)), calls.clone());
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing fetched before asked");
        assert_eq!(p.next_page().await.ok().flatten().map(|p| p.items), Some(vec![0]));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let rest: Vec<usize> = p.into_items().map(|r| r.unwrap_or(99)).collect().await;
        assert_eq!(rest, vec![1, 2]);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_repeated_link_is_an_error_naming_it_redacted() {
        let calls = Arc::new(AtomicUsize::new(0));
        let p = pager(|_| Some("https://r.example/v2/x/tags/list?p=1&secret=s".to_string()), calls.clone());
        let all: Vec<Result<Page<usize>>> = p.into_stream().collect().await;
        assert_eq!(all.len(), 3, "two pages, then the error");
        let e = all.into_iter().last().and_then(|r| r.err()).unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains("same next-page link") && !e.to_string().contains("secret"), "{e}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_page_count_is_bounded() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut p =
            pager(|i| Some(format!("https://r.example/v2/x/tags/list?p={}", i + 1)), calls.clone()).max_pages(3);
        for _ in 0..3 {
            assert!(matches!(p.next_page().await, Ok(Some(_))));
        }
        let e = p.next_page().await.err().map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::Protocol));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(matches!(p.next_page().await, Ok(None)), "done after an error");
    }

    #[tokio::test]
    async fn pages_that_repeat_their_items_under_new_links_are_a_bounded_error() {
        // A registry that ignores `last`: every page has the same items and a new link.
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let p = Pager::new(url("https://r.example/v2/x/tags/list?n=2"), move |u: Url| {
            let i = counted.fetch_add(1, Ordering::SeqCst);
            let next = url(&format!("https://r.example/v2/x/tags/list?n=2&last=b&junk={i}&token=secret"));
            let _ = u;
            async move { Ok(Page { items: vec!["a".to_string(), "b".to_string()], next: Some(next) }) }
        });
        let all: Vec<Result<Page<String>>> = p.into_stream().collect().await;
        let e = all.last().and_then(|r| r.as_ref().err()).unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let msg = e.to_string();
        assert!(msg.contains("the same items") && msg.contains("does not advance"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert_eq!(calls.load(Ordering::SeqCst), 1 + MAX_STALLED_PAGES, "the first page, then the stalled ones");
    }

    #[tokio::test]
    async fn empty_pages_with_links_are_a_bounded_error_but_new_items_reset_the_count() {
        let calls = Arc::new(AtomicUsize::new(0));
        // Pages 0 and 1 are empty, page 2 has an item, then empty pages forever; every page links to the next.
        let counted = calls.clone();
        let p = Pager::new(url("https://r.example/v2/x/tags/list?p=0"), move |u: Url| {
            counted.fetch_add(1, Ordering::SeqCst);
            let i: usize = u.query().and_then(|q| q.strip_prefix("p=")).and_then(|p| p.parse().ok()).unwrap_or(99);
            let next = url(&format!("https://r.example/v2/x/tags/list?p={}", i + 1));
            async move { Ok(Page { items: if i == 2 { vec![i] } else { Vec::new() }, next: Some(next) }) }
        });
        let all: Vec<Result<Page<usize>>> = p.into_stream().collect().await;
        let e = all.last().and_then(|r| r.as_ref().err()).unwrap_or_else(|| panic!("no error"));
        assert!(e.to_string().contains("no items"), "{e}");
        // Pages 0 and 1 empty (2 stalled), page 2 has an item (reset), pages 3, 4, 5 empty: the error.
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_page_fetched_before_comes_first() {
        let first = Page { items: vec![7], next: Some(url("https://r.example/v2/x/tags/list?p=1")) };
        let p = Pager::after(first, |u: Url| async move {
            assert_eq!(u.query(), Some("p=1"));
            Ok(Page { items: vec![8], next: None })
        });
        let items: Vec<usize> = p.into_items().map(|r| r.unwrap_or(99)).collect().await;
        assert_eq!(items, vec![7, 8]);
    }

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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_link_header_parses_without_panic(text in "\\PC*|[<>;=, a-z\"/?&]{0,60}") {
            if let Some(target) = parse_next_link(&text) {
                proptest::prop_assert!(text.contains(target));
            }
        }

        #[test]
        fn next_link_round_trips(target in "[^<>,]{0,60}", n: u64, quoted: bool) {
            let rel = if quoted { "\"next\"" } else { "next" };
            let header = format!("<{target}&n={n}>; rel={rel}");
            let want = format!("{target}&n={n}");
            proptest::prop_assert_eq!(parse_next_link(&header), Some(want.as_str()));
        }
    }
}
