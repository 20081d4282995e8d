//! Pages of listings as a command line shows them: a page of tags that pass a [`TagFilter`], a page of
//! `repo:tag` names, and repositories below a prefix with a `last` given as a full repository name. The window
//! ([`ListOptions`]: `limit`, `last`) keeps its meaning: pages joined end to end give every item, once.

use futures::StreamExt;
use registry_core::Result;

use crate::client::Client;
use crate::listing::{paged_stream, LIST_PAGE};
use crate::options::ListOptions;
use crate::sync::TagFilter;

/// The tags of `client`'s repository that pass `filter`, in lexical order, windowed by `opts`: at most
/// `opts.limit` *passing* tags after `opts.last` (a tag; it need not pass nor exist). With a filter that takes
/// every tag this is `client.list_tags(opts)`, one call. Otherwise the tags after `last` are read page by page
/// ([`LIST_PAGE`] tags a request, as [`paged_stream`] walks them) until `limit` passing tags are found or the list
/// ends, so a page of N matching tags never reads more of the list than it needs; with `latest` (which ranks
/// every tag) the whole list after `last` is read, filtered, then cut to `limit`.
///
/// Errors: those of `list_tags` (`NotFound` for a repository that does not exist); `Protocol` for a registry
/// whose pages do not advance (see [`paged_stream`]).
pub async fn list_matching_tags(client: &dyn Client, filter: &TagFilter, opts: ListOptions) -> Result<Vec<String>> {
    if filter.is_empty() {
        return client.list_tags(opts).await;
    }
    let limit = opts.get_limit();
    if limit == Some(0) {
        return Ok(Vec::new());
    }
    let start = opts.get_last().map(str::to_string);
    if filter.latest().is_some() {
        let all = client.list_tags(start.map(|l| ListOptions::default().last(l)).unwrap_or_default()).await?;
        let mut kept = filter.apply(all);
        kept.truncate(limit.unwrap_or(usize::MAX));
        return Ok(kept);
    }
    let fetch = |page: ListOptions| {
        let page = match (&start, page.get_last()) {
            (Some(first), None) => page.last(first.clone()),
            _ => page,
        };
        client.list_tags(page)
    };
    let mut tags = paged_stream(LIST_PAGE, fetch);
    let mut kept = Vec::new();
    while let Some(tag) = tags.next().await {
        kept.extend(filter.apply(vec![tag?]));
        if limit.is_some_and(|n| kept.len() >= n) {
            break;
        }
    }
    Ok(kept)
}

/// The tag of a `repo:tag` name: what follows the last `:` after the last `/` (`""` when there is none).
fn tag_of(name: &str) -> &str {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[i + 1..],
        _ => "",
    }
}

/// A page of `repo:tag` names (a docker-archive's `RepoTags` across several repositories) as
/// [`list_matching_tags`] pages tags: sorted, each once, those after `opts.last` (a name), whose *tag* passes
/// `filter` (so `--semver` reads `v1.2` of `org/app:v1.2`), at most `opts.limit` of them. No errors.
pub fn matching_names(names: Vec<String>, filter: &TagFilter, opts: &ListOptions) -> Vec<String> {
    let window = match opts.get_last() {
        Some(last) => ListOptions::default().last(last),
        None => ListOptions::default(),
    };
    let mut sorted = window.apply(names);
    if !filter.is_empty() {
        let passing = filter.apply(sorted.iter().map(|n| tag_of(n).to_string()).collect());
        let mut passing = passing.into_iter().peekable();
        // `apply` keeps the order given, so the passing tags come in the names' order (a tag may pass for several).
        let mut kept = Vec::new();
        for name in sorted {
            if passing.peek().is_some_and(|t| t == tag_of(&name)) {
                passing.next();
                kept.push(name);
            }
        }
        sorted = kept;
    }
    sorted.truncate(opts.get_limit().unwrap_or(usize::MAX));
    sorted
}

/// Where a listing below `prefix` starts for a `last` given as a full repository name.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// From the first repository below the prefix.
    All,
    /// After this repository, relative to the prefix.
    After(String),
    /// `last` sorts after every repository below the prefix: nothing to list.
    Past,
}

fn start(prefix: &str, last: Option<&str>) -> Start {
    let Some(last) = last else { return Start::All };
    if prefix.is_empty() {
        return Start::After(last.to_string());
    }
    let below = format!("{prefix}/");
    match last.strip_prefix(&below) {
        Some(rest) if !rest.is_empty() => Start::After(rest.to_string()),
        // `PREFIX/` itself sorts before every repository below the prefix.
        Some(_) => Start::All,
        _ if last < below.as_str() => Start::All,
        _ => Start::Past,
    }
}

/// The repositories of `root`'s registry below `prefix` (a repository path such as `team`, without a trailing
/// `/`; `""` for every repository), as full names (`team/app`, `team/sub/app`; not `teamster`), in lexical order,
/// windowed by `opts` with `last` a *full* name as this returns them: a `last` before the prefix's range starts at
/// its first repository, one after it gives an empty page without a request. `root` is a client of the registry's
/// root (no segment).
///
/// Errors: those of `list_repositories` (`Unsupported` or `Denied` where the registry has no catalog for us).
pub async fn list_repositories_below(root: &dyn Client, prefix: &str, opts: ListOptions) -> Result<Vec<String>> {
    let mut window = ListOptions::default();
    if let Some(n) = opts.get_limit() {
        window = window.limit(n);
    }
    match start(prefix, opts.get_last()) {
        Start::Past => return Ok(Vec::new()),
        Start::After(last) => window = window.last(last),
        Start::All => {}
    }
    if prefix.is_empty() {
        return root.list_repositories(window).await;
    }
    let found = root.with_segment(prefix).list_repositories(window).await?;
    Ok(found.into_iter().map(|r| format!("{prefix}/{r}")).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn last_is_a_full_name() {
        assert_eq!(start("", None), Start::All);
        assert_eq!(start("", Some("a/b")), Start::After("a/b".into()));
        assert_eq!(start("team", Some("team/x")), Start::After("x".into()));
        assert_eq!(start("team", Some("alpha/x")), Start::All);
        assert_eq!(start("team", Some("team")), Start::All);
        assert_eq!(start("team", Some("team/")), Start::All, "PREFIX/ itself: every repository below it follows");
        assert_eq!(start("team", Some("teamster/x")), Start::Past);
        assert_eq!(start("team", Some("zeta")), Start::Past);
    }

    #[test]
    fn names_are_paged_by_name_and_filtered_by_tag() {
        let names = v(&["b/app:v2.0", "a/app:v1.0", "a/app:dev", "b/app:v1.5", "a/app:v1.0"]);
        let all = TagFilter::default();
        assert_eq!(
            matching_names(names.clone(), &all, &ListOptions::default()),
            v(&["a/app:dev", "a/app:v1.0", "b/app:v1.5", "b/app:v2.0"])
        );
        let semver = TagFilter::new(&[], &[], Some(">=1.0, <2"), None).unwrap();
        assert_eq!(matching_names(names.clone(), &semver, &ListOptions::default()), v(&["a/app:v1.0", "b/app:v1.5"]));
        assert_eq!(matching_names(names.clone(), &semver, &ListOptions::default().limit(1)), v(&["a/app:v1.0"]));
        assert_eq!(
            matching_names(names.clone(), &semver, &ListOptions::default().limit(1).last("a/app:v1.0")),
            v(&["b/app:v1.5"])
        );
        let regex = TagFilter::new(&v(&["^v1"]), &[], None, None).unwrap();
        assert_eq!(matching_names(names, &regex, &ListOptions::default()), v(&["a/app:v1.0", "b/app:v1.5"]));
        assert_eq!(tag_of("localhost:5000/app"), "");
        assert_eq!(tag_of("localhost:5000/app:v1"), "v1");
    }
}
