//! The page size (`n`) of a list request: what to ask when the registry has refused a larger one
//! (`PAGINATION_NUMBER_INVALID`), and the query rewrite. A leaf: it knows URLs and errors, not the endpoints.

use url::Url;

use crate::error::Error;

/// The page size tried first after a refusal of a larger one: distribution's default `catalog.maxentries`.
pub(crate) const FALLBACK_PAGE: usize = 100;

/// The most smaller sizes tried for one page after refusals (100, 50, 25, 12, 6, 3, 1 fit in it).
pub(crate) const MAX_SHRINKS: usize = 8;

/// Whether `e` is the registry refusing the page size it was asked for (400 `PAGINATION_NUMBER_INVALID`).
pub(crate) fn is_page_size_refused(e: &Error) -> bool {
    e.has_code("PAGINATION_NUMBER_INVALID")
}

/// The page size asked by `url` (its `n`), if any.
pub(crate) fn page_size(url: &Url) -> Option<usize> {
    url.query_pairs().find(|(k, _)| k == "n").and_then(|(_, v)| v.parse().ok())
}

/// The next size to try after `refused` was refused: 100 (distribution's default cap), then halving; `None` when
/// there is nothing smaller to try.
pub(crate) fn smaller_page(refused: usize) -> Option<usize> {
    match refused {
        0 | 1 => None,
        n if n > FALLBACK_PAGE => Some(FALLBACK_PAGE),
        n => Some(n / 2),
    }
}

/// `url` asking for pages of at most `n` items: its `n` replaced (other parameters kept, in order), or added.
pub(crate) fn with_page_size(url: &Url, n: usize) -> Url {
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let mut out = url.clone();
    {
        let mut q = out.query_pairs_mut();
        q.clear();
        let mut replaced = false;
        for (k, v) in &pairs {
            if k == "n" {
                if !replaced {
                    q.append_pair("n", &n.to_string());
                    replaced = true;
                }
            } else {
                q.append_pair(k, v);
            }
        }
        if !replaced {
            q.append_pair("n", &n.to_string());
        }
    }
    out
}

/// `url` with its `n` lowered to `max` when it asks for more (a size the registry is known to refuse).
pub(crate) fn capped(url: Url, max: Option<usize>) -> Url {
    match (page_size(&url), max) {
        (Some(n), Some(max)) if n > max => with_page_size(&url, max),
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn sizes_go_to_the_default_then_halve_and_stop() {
        let mut seen = vec![1000];
        while let Some(n) = smaller_page(seen[seen.len() - 1]) {
            seen.push(n);
        }
        assert_eq!(seen, vec![1000, 100, 50, 25, 12, 6, 3, 1]);
        assert!(seen.len() - 1 <= MAX_SHRINKS);
        assert_eq!(smaller_page(0), None);
    }

    #[test]
    fn the_page_size_is_replaced_in_place_or_added() {
        let u = url("https://r.example/v2/_catalog?n=1000&last=a%2Fb");
        assert_eq!(page_size(&u), Some(1000));
        assert_eq!(with_page_size(&u, 100).as_str(), "https://r.example/v2/_catalog?n=100&last=a%2Fb");
        let bare = url("https://r.example/v2/x/tags/list");
        assert_eq!(page_size(&bare), None);
        assert_eq!(with_page_size(&bare, 50).as_str(), "https://r.example/v2/x/tags/list?n=50");
        assert_eq!(capped(u.clone(), Some(100)).as_str(), "https://r.example/v2/_catalog?n=100&last=a%2Fb");
        assert_eq!(capped(u.clone(), Some(5000)), u);
        assert_eq!(capped(u.clone(), None), u);
        assert_eq!(capped(bare.clone(), Some(10)), bare, "no n: the registry's own default applies");
    }
}
