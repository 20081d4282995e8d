//! Options of the list and image calls, and the list window every implementation applies the same way.

use crate::image::platform::Platform;

/// Which items a list call returns.
///
/// - `ListOptions::default()`: every item, in lexical order (following the registry's pagination);
/// - `.limit(n)`: one page of at most `n` items; `.last(x)`: only items after `x` (exclusive). Together: the page
///   of at most `n` items after `x`, the same whether the registry paginates itself or ignores `n`/`last`.
/// - `.limit(0)` is an empty page: it returns an empty list without contacting the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    limit: Option<usize>,
    last: Option<String>,
}

impl ListOptions {
    /// Every item.
    pub fn new() -> ListOptions {
        ListOptions::default()
    }

    /// At most `n` items.
    #[must_use]
    pub fn limit(mut self, n: usize) -> ListOptions {
        self.limit = Some(n);
        self
    }

    /// Only items lexically after `last`.
    #[must_use]
    pub fn last(mut self, last: impl Into<String>) -> ListOptions {
        self.last = Some(last.into());
        self
    }

    /// The limit, if set.
    pub fn get_limit(&self) -> Option<usize> {
        self.limit
    }

    /// The `last` marker, if set (an empty marker counts as unset).
    pub fn get_last(&self) -> Option<&str> {
        self.last.as_deref().filter(|l| !l.is_empty())
    }

    /// Apply this window to `items` as a registry that ignores `n`/`last` returned them: sort, drop duplicates,
    /// keep items after `last`, keep the first `limit`.
    pub fn apply(&self, mut items: Vec<String>) -> Vec<String> {
        items.sort_unstable();
        items.dedup();
        if let Some(last) = self.get_last() {
            items.retain(|i| i.as_str() > last);
        }
        if let Some(n) = self.limit {
            items.truncate(n);
        }
        items
    }
}

/// Options of `get_image`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    platform: Option<Platform>,
}

impl ImageOptions {
    /// The defaults: from an index, pick the host's platform.
    pub fn new() -> ImageOptions {
        ImageOptions::default()
    }

    /// From an index, pick `platform`; a single-platform image must be for `platform` too (when its config says
    /// which), else `get_image` answers `NotFound`.
    #[must_use]
    pub fn platform(mut self, platform: Platform) -> ImageOptions {
        self.platform = Some(platform);
        self
    }

    /// The platform asked for, if any.
    pub fn get_platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn window() {
        let items = v(&["c", "a", "b", "e", "d", "a"]);
        assert_eq!(ListOptions::default().apply(items.clone()), v(&["a", "b", "c", "d", "e"]));
        assert_eq!(ListOptions::default().limit(2).apply(items.clone()), v(&["a", "b"]));
        assert_eq!(ListOptions::default().limit(2).last("b").apply(items.clone()), v(&["c", "d"]));
        assert_eq!(ListOptions::default().last("d").apply(items.clone()), v(&["e"]));
        assert_eq!(ListOptions::default().last("e").apply(items.clone()), v(&[]));
        assert_eq!(ListOptions::default().last("bb").limit(10).apply(items.clone()), v(&["c", "d", "e"]));
        assert_eq!(ListOptions::default().limit(0).apply(items.clone()), v(&[]));
        assert_eq!(ListOptions::default().last("").apply(items), v(&["a", "b", "c", "d", "e"]));
    }
}
