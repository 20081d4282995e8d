//! Fault hooks: make the server fail, slow down, or cut answers short, so tests can exercise a client's retry
//! and recovery paths.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Faults to inject into a [`RegistryServer`](super::RegistryServer)'s answers, shared with it: changes apply
/// to the next requests. Each hook matches requests whose path and query contain a string (`""` matches all).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let server = mocks::server::RegistryServer::start().await?;
/// server.faults().fail_next(2, "/manifests/", 503, Some(0)); // two 503s, then normal answers
/// server.faults().latency(Duration::from_millis(50));          // every request waits 50 ms first
/// server.faults().drop_after(10, "/blobs/");                  // the next blob body stops after 10 bytes
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    failures: Vec<Failure>,
    latency: Duration,
    drops: Vec<Cut>,
}

#[derive(Debug)]
struct Failure {
    remaining: usize,
    path_contains: String,
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Debug)]
struct Cut {
    after: usize,
    path_contains: String,
}

/// An injected failure: the status to answer and the `Retry-After` seconds to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InjectedFailure {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Faults").field(&*self.lock()).finish()
    }
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answer the next `n` requests whose path and query contain `path_contains` with `status` (and a spec
    /// error body), plus `Retry-After: <seconds>` when `retry_after` is given. Rules added earlier match first.
    pub fn fail_next(&self, n: usize, path_contains: &str, status: u16, retry_after: Option<u64>) {
        if n > 0 {
            self.lock().failures.push(Failure {
                remaining: n,
                path_contains: path_contains.to_string(),
                status,
                retry_after,
            });
        }
    }

    /// Wait `delay` before answering every request (`Duration::ZERO` turns it off).
    pub fn latency(&self, delay: Duration) {
        self.lock().latency = delay;
    }

    /// For the next request whose path and query contain `path_contains` and whose answer has a body longer than
    /// `n_bytes`: send the headers (with the full `Content-Length`) and `n_bytes` of the body, then close the
    /// connection.
    pub fn drop_after(&self, n_bytes: usize, path_contains: &str) {
        self.lock().drops.push(Cut { after: n_bytes, path_contains: path_contains.to_string() });
    }

    /// Remove every fault.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// The failure to inject for a request to `path_and_query`, consuming one use of its rule.
    pub(crate) fn take_failure(&self, path_and_query: &str) -> Option<InjectedFailure> {
        let mut inner = self.lock();
        let i = inner.failures.iter().position(|f| path_and_query.contains(&f.path_contains))?;
        let rule = &mut inner.failures[i];
        rule.remaining -= 1;
        let failure = InjectedFailure { status: rule.status, retry_after: rule.retry_after };
        if rule.remaining == 0 {
            inner.failures.remove(i);
        }
        Some(failure)
    }

    /// The current latency.
    pub(crate) fn current_latency(&self) -> Duration {
        self.lock().latency
    }

    /// How many bytes of a `body_len` byte answer to `path_and_query` to send before closing, consuming the rule.
    pub(crate) fn take_drop(&self, path_and_query: &str, body_len: usize) -> Option<usize> {
        let mut inner = self.lock();
        let i = inner.drops.iter().position(|d| body_len > d.after && path_and_query.contains(&d.path_contains))?;
        Some(inner.drops.remove(i).after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down_per_rule() {
        let f = Faults::default();
        f.fail_next(2, "/manifests/", 503, Some(1));
        f.fail_next(1, "", 429, None);
        f.fail_next(0, "", 500, None);
        let m = Some(InjectedFailure { status: 503, retry_after: Some(1) });
        assert_eq!(f.take_failure("/v2/a/manifests/v1"), m);
        assert_eq!(f.take_failure("/v2/a/blobs/x"), Some(InjectedFailure { status: 429, retry_after: None }));
        assert_eq!(f.take_failure("/v2/a/blobs/x"), None);
        assert_eq!(f.take_failure("/v2/a/manifests/v1"), m);
        assert_eq!(f.take_failure("/v2/a/manifests/v1"), None);
    }

    #[test]
    fn latency_and_clear() {
        let f = Faults::default();
        let shared = f.clone();
        shared.latency(Duration::from_millis(5));
        assert_eq!(f.current_latency(), Duration::from_millis(5));
        f.fail_next(1, "", 500, None);
        f.drop_after(1, "");
        f.clear();
        assert_eq!(f.current_latency(), Duration::ZERO);
        assert_eq!(f.take_failure("/v2/"), None);
        assert_eq!(f.take_drop("/v2/", 10), None);
    }

    #[test]
    fn drop_after_waits_for_a_long_enough_body() {
        let f = Faults::default();
        f.drop_after(10, "/blobs/");
        assert_eq!(f.take_drop("/v2/a/blobs/x", 10), None, "a body of 10 bytes is not cut at 10");
        assert_eq!(f.take_drop("/v2/a/manifests/x", 100), None);
        assert_eq!(f.take_drop("/v2/a/blobs/x", 11), Some(10));
        assert_eq!(f.take_drop("/v2/a/blobs/x", 11), None, "used once");
    }
}
