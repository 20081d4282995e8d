//! What the client has learned about one registry (`host:port`): which optional features it lacks and which limits
//! it imposes, filled in as its answers come, so every workaround asks one place instead of learning the same quirk
//! again on every call.
//!
//! One [`Capabilities`] value per registry handle is shared by the client's clones and `with_segment` children
//! (they share the transport); users read a snapshot ([`Capabilities::snapshot`]). Every change is logged at DEBUG
//! (`target: "registry_core::capabilities"`), naming the registry, what changed and the answer that taught it.

use std::fmt;
use std::sync::{Arc, RwLock};

/// What is known of one registry. `None` / `false` mean "nothing learned yet": the client then tries the standard
/// way first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapabilitySnapshot {
    /// The token server refused the OAuth2 POST (or answered it with no token): tokens are fetched with GET.
    pub token_post_refused: bool,
    /// The largest page size (`n` of tags/list and the catalog) the registry accepted after refusing a larger one
    /// (`PAGINATION_NUMBER_INVALID`), in items.
    pub max_page_size: Option<usize>,
    /// A HEAD (of a manifest or a blob) was answered 405 or 501 where GET works: digests and existence are asked
    /// with GET (a blob with a GET of its first byte).
    pub head_unusable: bool,
    /// Whether the referrers API (`/v2/<name>/referrers/<digest>`) exists: `Some(false)` once the registry answered
    /// without it, so the referrers tag schema (`sha256-<hex>`) is used directly.
    pub referrers_api: Option<bool>,
    /// Whether DELETE of a manifest by tag works: `Some(false)` once refused (docker-registry answers 400), so a tag
    /// is deleted through a placeholder manifest directly.
    pub delete_by_tag: Option<bool>,
    /// The smallest chunk the registry takes in a chunked upload (`OCI-Chunk-Min-Length`), in bytes.
    pub chunk_min_length: Option<u64>,
}

/// The shared, changing profile of one registry: cheap to clone, every clone sees every change.
#[derive(Clone, Default)]
pub struct Capabilities {
    inner: Arc<RwLock<CapabilitySnapshot>>,
    /// The registry, for the DEBUG log lines.
    registry: Arc<str>,
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capabilities").field("registry", &self.registry).field("known", &self.snapshot()).finish()
    }
}

impl Capabilities {
    /// Nothing known yet of `registry` (`host:port`, for the log lines).
    pub fn new(registry: impl Into<String>) -> Capabilities {
        Capabilities { inner: Arc::default(), registry: Arc::from(registry.into()) }
    }

    /// What is known now.
    pub fn snapshot(&self) -> CapabilitySnapshot {
        match self.inner.read() {
            Ok(known) => known.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Change what is known with `edit`, `why` being the answer that taught it (for the log); logs at DEBUG when
    /// something changed. Returns whether it did.
    pub(crate) fn learn(&self, why: &str, edit: impl FnOnce(&mut CapabilitySnapshot)) -> bool {
        let mut known = match self.inner.write() {
            Ok(known) => known,
            Err(poisoned) => poisoned.into_inner(),
        };
        let before = known.clone();
        edit(&mut known);
        let changed = *known != before;
        if changed {
            tracing::debug!(
                target: "registry_core::capabilities",
                registry = %self.registry,
                why,
                now = ?*known,
                "learned a capability of the registry"
            );
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_what_is_learned_and_changes_are_reported() {
        let caps = Capabilities::new("registry.example.com:5000");
        let clone = caps.clone();
        assert_eq!(caps.snapshot(), CapabilitySnapshot::default());
        assert!(clone.learn("HEAD answered 405", |c| c.head_unusable = true));
        assert!(caps.snapshot().head_unusable, "a clone's lesson is the registry's");
        assert!(!caps.learn("HEAD answered 405 again", |c| c.head_unusable = true), "nothing new");
        assert!(caps.learn("n=1000 refused", |c| c.max_page_size = Some(100)));
        assert_eq!(clone.snapshot().max_page_size, Some(100));
    }
}
