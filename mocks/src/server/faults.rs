//! Fault hooks: make the server fail, slow down, or cut answers short, so tests can exercise a client's retry
//! and recovery paths.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Faults to inject into a `RegistryServer`'s answers, shared with it: changes apply
/// to the next requests. Each hook matches requests whose path and query contain a string (`""` matches all).
///
/// Besides the hooks for every request, some act on the blob and upload endpoints only, to exercise how a client
/// survives a broken transfer: failures of one method ([`fail_next_method`](Faults::fail_next_method)), request
/// bodies cut part-way ([`drop_request_after`](Faults::drop_request_after)), upload sessions the registry forgets
/// ([`forget_upload_next`](Faults::forget_upload_next)), `Range` requests ignored or answered from the wrong
/// offset, a minimum chunk length, mounts refused, and chunk `PATCH`es answered with another success status or a
/// `Range` that does not advance ([`answer_patches`](Faults::answer_patches)).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let server = mocks::server::RegistryServer::start().await?;
/// server.faults().fail_next(2, "/manifests/", 503, Some(0)); // two 503s, then normal answers
/// server.faults().latency(Duration::from_millis(50));          // every request waits 50 ms first
/// server.faults().drop_after(10, "/blobs/");                  // the next blob body stops after 10 bytes
/// server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 429, Some(1)); // the next chunk is refused
/// server.faults().drop_request_after(1000, "PATCH", "/blobs/uploads/"); // the next chunk is cut after 1000 bytes
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
    /// Exact request targets whose answer is replaced by a closed connection.
    aborts: Vec<String>,
    handler_faults: Vec<HandlerRule>,
    range_faults: Vec<RangeRule>,
    patch_answers: Vec<PatchRule>,
    /// How many `PATCH`es the `answer_patches` rules answered.
    patches_answered: usize,
    chunk_min_length: Option<usize>,
    refuse_mounts: bool,
    /// HEAD requests whose path contains the string are answered with the status and no body.
    head_refusals: Vec<(String, u16)>,
    /// The largest `n` the tags list and the catalog accept.
    max_page_size: Option<usize>,
    /// Upload sessions that accepted a chunk shorter than the minimum length: only the closing PUT may follow.
    short_chunk_sessions: HashSet<String>,
}

#[derive(Debug)]
struct HandlerRule {
    remaining: usize,
    method: String,
    path_contains: String,
    fault: HandlerFault,
}

#[derive(Debug)]
struct RangeRule {
    remaining: usize,
    path_contains: String,
    fault: RangeFault,
}

#[derive(Debug)]
struct PatchRule {
    remaining: usize,
    path_contains: String,
    answer: PatchAnswer,
}

/// How a chunk `PATCH` is answered instead of 202 with the session's true `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PatchAnswer {
    /// The success status to answer (202, or 201 as ECR does).
    pub(crate) status: u16,
    /// `Some(end)`: the chunk is dropped and the answer says `Range: 0-<end>`, whatever the session holds. `None`:
    /// the chunk is kept and the `Range` is true.
    pub(crate) range_end: Option<u64>,
}

/// What a blob or upload handler does instead of its normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerFault {
    /// Answer this failure.
    Fail(InjectedFailure),
    /// Read this many bytes of the request body (an upload keeps them), then close the connection unanswered.
    DropRequest(usize),
    /// Cancel the upload session and answer 404 `BLOB_UPLOAD_INVALID`, as docker-registry 2.8.2 does for a
    /// location made stale.
    Forget,
}

/// How a blob GET with a `Range` is answered wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeFault {
    /// 200 with the whole blob.
    Ignore,
    /// 206 starting one byte after the requested offset.
    Shift,
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

    /// Answer the next `n` requests with `method` (e.g. `"PATCH"`) whose path and query contain `path_contains`
    /// with `status` (and a spec error body), plus `Retry-After: <seconds>` when given. Only the blob and upload
    /// endpoints look at these rules; an upload's body is read and dropped, the session is unchanged.
    pub fn fail_next_method(&self, n: usize, method: &str, path_contains: &str, status: u16, retry_after: Option<u64>) {
        self.add_handler_rule(n, method, path_contains, HandlerFault::Fail(InjectedFailure { status, retry_after }));
    }

    /// For the next upload request (`PATCH`, or `PUT` to finish) with `method` whose path and query contain
    /// `path_contains`: read `n_bytes` of its body, append them to the upload (a registry keeping what arrived of a
    /// broken chunk, as distribution does), then close the connection without answering.
    pub fn drop_request_after(&self, n_bytes: usize, method: &str, path_contains: &str) {
        self.add_handler_rule(1, method, path_contains, HandlerFault::DropRequest(n_bytes));
    }

    /// The next `n` requests with `method` to an upload session whose path contains `path_contains` find it gone:
    /// the session is cancelled and the answer is 404 `BLOB_UPLOAD_INVALID`, as docker-registry 2.8.2 answers a
    /// location made stale by a partial write.
    pub fn forget_upload_next(&self, n: usize, method: &str, path_contains: &str) {
        self.add_handler_rule(n, method, path_contains, HandlerFault::Forget);
    }

    fn add_handler_rule(&self, n: usize, method: &str, path_contains: &str, fault: HandlerFault) {
        if n > 0 {
            self.lock().handler_faults.push(HandlerRule {
                remaining: n,
                method: method.to_ascii_uppercase(),
                path_contains: path_contains.to_string(),
                fault,
            });
        }
    }

    /// The next `n` blob GETs with a `Range` whose path contains `path_contains` are answered 200 with the whole
    /// blob, as a registry without range support does.
    pub fn ignore_range_next(&self, n: usize, path_contains: &str) {
        self.add_range_rule(n, path_contains, RangeFault::Ignore);
    }

    /// The next `n` blob GETs with a `Range` whose path contains `path_contains` are answered 206 from one byte
    /// past the requested offset (with a truthful `Content-Range`): a broken server a client must refuse.
    pub fn shift_range_next(&self, n: usize, path_contains: &str) {
        self.add_range_rule(n, path_contains, RangeFault::Shift);
    }

    fn add_range_rule(&self, n: usize, path_contains: &str, fault: RangeFault) {
        if n > 0 {
            self.lock().range_faults.push(RangeRule { remaining: n, path_contains: path_contains.to_string(), fault });
        }
    }

    /// Answer the next `n` chunk `PATCH`es whose path contains `path_contains` with the success `status` (202, or
    /// 201 as ECR answers a chunk). With `range_end: Some(end)` the chunk is dropped and the answer says
    /// `Range: 0-<end>` whatever the session holds: a registry whose progress does not advance (`Some(0)`: the
    /// `Range: 0-0` of an empty session). With `None` the chunk is kept and the `Range` is true. `usize::MAX`
    /// makes it every `PATCH`.
    pub fn answer_patches(&self, n: usize, status: u16, range_end: Option<u64>, path_contains: &str) {
        if n > 0 {
            self.lock().patch_answers.push(PatchRule {
                remaining: n,
                path_contains: path_contains.to_string(),
                answer: PatchAnswer { status, range_end },
            });
        }
    }

    /// How many chunk `PATCH`es the [`answer_patches`](Faults::answer_patches) rules answered so far.
    pub fn patches_answered(&self) -> usize {
        self.lock().patches_answered
    }

    /// Announce `OCI-Chunk-Min-Length: <n>` when an upload session starts, and enforce it: after a chunk shorter
    /// than `n`, only the closing PUT is accepted (another PATCH answers 416). `None` turns it off.
    pub fn chunk_min_length(&self, n: Option<usize>) {
        self.lock().chunk_min_length = n;
    }

    /// Answer cross-repository mounts with 202 and a new upload session, even when the source has the blob (as
    /// registries do that do not mount, or when the token may not read the source).
    pub fn refuse_mounts(&self, refuse: bool) {
        self.lock().refuse_mounts = refuse;
    }

    /// Answer every HEAD whose path and query contain `path_contains` with `status` (e.g. 405 or 501) and no
    /// body, as registries and proxies do that do not implement HEAD where GET works. Rules added earlier match
    /// first.
    pub fn refuse_head(&self, path_contains: &str, status: u16) {
        self.lock().head_refusals.push((path_contains.to_string(), status));
    }

    /// Refuse tags and catalog pages larger than `n` with 400 `PAGINATION_NUMBER_INVALID`, as docker-registry
    /// with `catalog.maxentries: n` does for the catalog. `None` turns it off (the catalog's own maximum stays).
    pub fn max_page_size(&self, n: Option<usize>) {
        self.lock().max_page_size = n;
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
        if let Some(i) = inner.aborts.iter().position(|t| t == path_and_query) {
            inner.aborts.remove(i);
            return Some(0);
        }
        let i = inner.drops.iter().position(|d| body_len > d.after && path_and_query.contains(&d.path_contains))?;
        Some(inner.drops.remove(i).after)
    }
}

impl Faults {
    /// Close the connection instead of answering the request to exactly `path_and_query` (the next one).
    pub(crate) fn abort_response(&self, path_and_query: &str) {
        self.lock().aborts.push(path_and_query.to_string());
    }

    /// The fault to apply to a `method` request to `path_and_query` on a blob or upload endpoint, consuming one
    /// use of its rule.
    pub(crate) fn take_handler_fault(&self, method: &str, path_and_query: &str) -> Option<HandlerFault> {
        let mut inner = self.lock();
        let i = inner
            .handler_faults
            .iter()
            .position(|r| r.method.eq_ignore_ascii_case(method) && path_and_query.contains(&r.path_contains))?;
        let rule = &mut inner.handler_faults[i];
        rule.remaining -= 1;
        let fault = rule.fault;
        if rule.remaining == 0 {
            inner.handler_faults.remove(i);
        }
        Some(fault)
    }

    /// The wrong answer to give a ranged blob GET of `path`, consuming one use of its rule.
    pub(crate) fn take_range_fault(&self, path: &str) -> Option<RangeFault> {
        let mut inner = self.lock();
        let i = inner.range_faults.iter().position(|r| path.contains(&r.path_contains))?;
        let rule = &mut inner.range_faults[i];
        rule.remaining -= 1;
        let fault = rule.fault;
        if rule.remaining == 0 {
            inner.range_faults.remove(i);
        }
        Some(fault)
    }

    /// How to answer a chunk `PATCH` to `path_and_query`, consuming one use of its rule.
    pub(crate) fn take_patch_answer(&self, path_and_query: &str) -> Option<PatchAnswer> {
        let mut inner = self.lock();
        let i = inner.patch_answers.iter().position(|r| path_and_query.contains(&r.path_contains))?;
        let rule = &mut inner.patch_answers[i];
        rule.remaining -= 1;
        let answer = rule.answer;
        if rule.remaining == 0 {
            inner.patch_answers.remove(i);
        }
        inner.patches_answered += 1;
        Some(answer)
    }

    /// The minimum chunk length, if one is set.
    pub(crate) fn current_chunk_min_length(&self) -> Option<usize> {
        self.lock().chunk_min_length
    }

    /// The status to answer a HEAD of `path_and_query` with instead of its normal answer.
    pub(crate) fn head_refused(&self, path_and_query: &str) -> Option<u16> {
        self.lock().head_refusals.iter().find(|(p, _)| path_and_query.contains(p.as_str())).map(|(_, s)| *s)
    }

    /// The largest page size accepted, if capped.
    pub(crate) fn current_max_page_size(&self) -> Option<usize> {
        self.lock().max_page_size
    }

    /// Whether mounts are refused.
    pub(crate) fn mounts_refused(&self) -> bool {
        self.lock().refuse_mounts
    }

    /// Record that upload `id` accepted a chunk shorter than the minimum length.
    pub(crate) fn mark_short_chunk(&self, id: &str) {
        self.lock().short_chunk_sessions.insert(id.to_string());
    }

    /// Whether upload `id` accepted a chunk shorter than the minimum length.
    pub(crate) fn had_short_chunk(&self, id: &str) -> bool {
        self.lock().short_chunk_sessions.contains(id)
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

    #[test]
    fn handler_rules_match_method_and_path() {
        let f = Faults::default();
        f.fail_next_method(1, "patch", "/blobs/uploads/", 503, Some(2));
        f.drop_request_after(7, "PUT", "/blobs/uploads/");
        f.forget_upload_next(2, "GET", "/uploads/abc");
        assert_eq!(f.take_handler_fault("GET", "/v2/a/blobs/uploads/x"), None);
        let fail = HandlerFault::Fail(InjectedFailure { status: 503, retry_after: Some(2) });
        assert_eq!(f.take_handler_fault("PATCH", "/v2/a/blobs/uploads/x"), Some(fail));
        assert_eq!(f.take_handler_fault("PATCH", "/v2/a/blobs/uploads/x"), None, "used once");
        assert_eq!(f.take_handler_fault("PUT", "/v2/a/blobs/uploads/x?digest=d"), Some(HandlerFault::DropRequest(7)));
        assert_eq!(f.take_handler_fault("GET", "/v2/a/blobs/uploads/abc"), Some(HandlerFault::Forget));
        assert_eq!(f.take_handler_fault("GET", "/v2/a/blobs/uploads/abc"), Some(HandlerFault::Forget));
        assert_eq!(f.take_handler_fault("GET", "/v2/a/blobs/uploads/abc"), None);
    }

    #[test]
    fn range_rules_and_aborts() {
        let f = Faults::default();
        f.ignore_range_next(1, "/blobs/");
        f.shift_range_next(1, "/blobs/");
        assert_eq!(f.take_range_fault("/v2/a/blobs/sha256:x"), Some(RangeFault::Ignore));
        assert_eq!(f.take_range_fault("/v2/a/blobs/sha256:x"), Some(RangeFault::Shift));
        assert_eq!(f.take_range_fault("/v2/a/blobs/sha256:x"), None);
        f.abort_response("/v2/a/blobs/uploads/x");
        assert_eq!(f.take_drop("/v2/a/blobs/uploads/y", 0), None);
        assert_eq!(f.take_drop("/v2/a/blobs/uploads/x", 0), Some(0), "even an empty answer is cut");
        assert_eq!(f.take_drop("/v2/a/blobs/uploads/x", 0), None);
    }

    #[test]
    fn patch_answers_count_down() {
        let f = Faults::default();
        f.answer_patches(2, 202, Some(0), "/blobs/uploads/");
        f.answer_patches(0, 201, None, "");
        let stuck = Some(PatchAnswer { status: 202, range_end: Some(0) });
        assert_eq!(f.take_patch_answer("/v2/a/blobs/uploads/x"), stuck);
        assert_eq!(f.take_patch_answer("/v2/a/manifests/x"), None);
        assert_eq!(f.take_patch_answer("/v2/a/blobs/uploads/x"), stuck);
        assert_eq!(f.take_patch_answer("/v2/a/blobs/uploads/x"), None, "used up");
        assert_eq!(f.patches_answered(), 2);
    }
}
