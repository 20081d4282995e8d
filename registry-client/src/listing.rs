//! Lists as streams: [`paged_stream`] walks a windowed list call (`list_tags`, `list_repositories`) page by page,
//! lazily, behind `Client::list_tags_stream` and
//! `Client::list_repositories_stream`.

use std::future::Future;

use futures::stream::{self, BoxStream};
use futures::TryStreamExt;
use registry_core::{Error, Result};

use crate::options::ListOptions;

/// Items asked for per page by the stream listings (distribution's largest catalog page).
pub const LIST_PAGE: usize = 1000;

/// Where a [`paged_stream`] is.
enum Cursor {
    /// Fetch the page after this item (`None`: the first page).
    After(Option<String>),
    /// The last page was short, or a page failed: nothing more.
    Done,
}

/// The items of a windowed list, lazily, in lexical order: `fetch` is called with
/// `ListOptions::default().limit(page_size)` for the first page, then with `.last(<last item so far>)` for each
/// next one, only when the stream is polled past what it holds; the stream ends after a page shorter than
/// `page_size` (an empty one included).
///
/// Errors end the stream after being yielded once: a failed `fetch` (its error as is); a page that is longer than
/// `page_size`, not in strictly increasing order, or not after the previous page's last item (`Protocol`: a list
/// that does not advance would never end); a `page_size` of 0 (`InvalidInput`).
///
/// ```
/// use futures::TryStreamExt;
/// use registry_client::{paged_stream, ListOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> registry_client::Result<()> {
/// let all: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
/// let fetch = |o: ListOptions| {
///     let page = o.apply(all.clone());
///     async move { Ok(page) }
/// };
/// let listed: Vec<String> = paged_stream(3, fetch).try_collect().await?;   // pages of 3, 3 and 1
/// assert_eq!(listed, all);
/// # Ok(()) }
/// ```
pub fn paged_stream<'a, F, Fut>(page_size: usize, fetch: F) -> BoxStream<'a, Result<String>>
where
    F: Fn(ListOptions) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Vec<String>>> + Send + 'a,
{
    let pages = stream::unfold((fetch, Cursor::After(None)), move |(fetch, cursor)| async move {
        let Cursor::After(last) = cursor else { return None };
        if page_size == 0 {
            return Some((Err(Error::invalid_input("a list page size must be at least 1")), (fetch, Cursor::Done)));
        }
        let mut opts = ListOptions::default().limit(page_size);
        if let Some(l) = &last {
            opts = opts.last(l.clone());
        }
        let page = match fetch(opts).await.and_then(|page| check_page(page, page_size, last.as_deref())) {
            Ok(page) => page,
            Err(e) => return Some((Err(e), (fetch, Cursor::Done))),
        };
        let next = match page.last() {
            Some(l) if page.len() == page_size => Cursor::After(Some(l.clone())),
            _ => Cursor::Done,
        };
        Some((Ok(page), (fetch, next)))
    });
    Box::pin(pages.map_ok(|page| stream::iter(page.into_iter().map(Ok))).try_flatten())
}

/// `page` if it is at most `page_size` items, strictly increasing, all after `last`.
fn check_page(page: Vec<String>, page_size: usize, last: Option<&str>) -> Result<Vec<String>> {
    if page.len() > page_size {
        return Err(Error::protocol(format!("asked for a page of {page_size} items, got {}", page.len())));
    }
    let mut previous = last;
    for item in &page {
        if previous.is_some_and(|p| item.as_str() <= p) {
            return Err(Error::protocol(format!(
                "list does not advance: {item:?} came after {:?}",
                previous.unwrap_or_default()
            )));
        }
        previous = Some(item);
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::StreamExt;
    use registry_core::ErrorKind;

    use super::*;

    fn items(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("item{i:04}")).collect()
    }

    #[tokio::test]
    async fn pages_lazily_and_ends_after_a_short_page() {
        for n in [0, 1, 4, 5, 12] {
            let all = items(n);
            let calls = AtomicUsize::new(0);
            let fetch = |o: ListOptions| {
                calls.fetch_add(1, Ordering::SeqCst);
                let page = o.apply(all.clone());
                async move { Ok(page) }
            };
            let got: Vec<String> = paged_stream(4, fetch).try_collect().await.unwrap();
            assert_eq!(got, all);
            assert_eq!(calls.load(Ordering::SeqCst), n / 4 + 1, "{n} items in pages of 4");
        }
        // Nothing is fetched before the stream is polled, and only what is read.
        let calls = AtomicUsize::new(0);
        let all = items(100);
        let fetch = |o: ListOptions| {
            calls.fetch_add(1, Ordering::SeqCst);
            let page = o.apply(all.clone());
            async move { Ok(page) }
        };
        let mut s = paged_stream(10, fetch);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let first: Vec<String> = s.by_ref().take(11).try_collect().await.unwrap();
        assert_eq!(first, all[..11]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_list_that_does_not_advance_is_an_error() {
        let stuck = |_o: ListOptions| async { Ok(vec!["a".to_string(), "b".to_string()]) };
        let got: Vec<Result<String>> = paged_stream(2, stuck).collect().await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2].as_ref().map_err(|e| e.kind()).unwrap_err(), ErrorKind::Protocol);
        let unsorted = |_o: ListOptions| async { Ok(vec!["b".to_string(), "a".to_string()]) };
        let e = paged_stream(5, unsorted).try_collect::<Vec<_>>().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let long = |_o: ListOptions| async { Ok(items(3)) };
        assert_eq!(paged_stream(2, long).try_collect::<Vec<_>>().await.unwrap_err().kind(), ErrorKind::Protocol);
        let never = |_o: ListOptions| async { Ok(Vec::new()) };
        let e = paged_stream(0, never).try_collect::<Vec<_>>().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let failing = |_o: ListOptions| async { Err::<Vec<String>, _>(Error::not_found("no such repository")) };
        let got: Vec<Result<String>> = paged_stream(2, failing).collect().await;
        assert_eq!(got.len(), 1, "an error ends the stream");
    }
}
