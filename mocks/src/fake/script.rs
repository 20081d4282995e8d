//! What a host of the fake does besides storing content: scripted failures, added latency and the call log.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use registry_core::{Error, ErrorKind};

/// A method of the [`Client`](registry_client::Client) trait: the unit failures are scripted for and calls are
/// logged by. Required and provided methods alike have one; a provided method called on the fake is logged as
/// itself only, not as the calls it makes inside (`get_image` is one `GetImage`, not a `GetManifest` and a
/// `Blobs`).
///
/// `with_segment` and `get_registry` have no variant: they are local, cannot fail and never reach a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Method {
    /// [`Client::get_digest`](registry_client::Client::get_digest).
    GetDigest,
    /// [`Client::get_manifest`](registry_client::Client::get_manifest).
    GetManifest,
    /// [`Client::get_image_config`](registry_client::Client::get_image_config).
    GetImageConfig,
    /// [`Client::check_image_exists`](registry_client::Client::check_image_exists).
    CheckImageExists,
    /// [`Client::get_image`](registry_client::Client::get_image).
    GetImage,
    /// [`Client::push_image`](registry_client::Client::push_image).
    PushImage,
    /// [`Client::list_tags`](registry_client::Client::list_tags).
    ListTags,
    /// [`Client::list_repositories`](registry_client::Client::list_repositories).
    ListRepositories,
    /// [`Client::push_index`](registry_client::Client::push_index).
    PushIndex,
    /// [`Client::tag_image`](registry_client::Client::tag_image).
    TagImage,
    /// [`Client::delete_tag`](registry_client::Client::delete_tag).
    DeleteTag,
    /// [`Client::delete_by_digest`](registry_client::Client::delete_by_digest).
    DeleteByDigest,
    /// [`Client::list_referrers`](registry_client::Client::list_referrers).
    ListReferrers,
    /// [`Client::push_artifact`](registry_client::Client::push_artifact).
    PushArtifact,
    /// [`Client::put_manifest`](registry_client::Client::put_manifest).
    PutManifest,
    /// [`Client::blobs`](registry_client::Client::blobs): logged, and failed as scripted, when the blob source is
    /// asked for (it is local, so no latency is added); reads from the source are not logged.
    Blobs,
    /// [`Client::push_blob`](registry_client::Client::push_blob).
    PushBlob,
    /// [`Client::get_blob`](registry_client::Client::get_blob).
    GetBlob,
    /// [`Client::list_tags_stream`](registry_client::Client::list_tags_stream): logged (latency, scripted failure)
    /// once, when the stream is first polled; its pages are not logged.
    ListTagsStream,
    /// [`Client::list_repositories_stream`](registry_client::Client::list_repositories_stream), as
    /// [`Method::ListTagsStream`].
    ListRepositoriesStream,
}

impl Method {
    /// Every method: those of the first version of the trait in its order, then those added since.
    pub const ALL: [Method; 20] = [
        Method::GetDigest,
        Method::GetManifest,
        Method::GetImageConfig,
        Method::CheckImageExists,
        Method::GetImage,
        Method::PushImage,
        Method::ListTags,
        Method::ListRepositories,
        Method::PushIndex,
        Method::TagImage,
        Method::DeleteTag,
        Method::DeleteByDigest,
        Method::ListReferrers,
        Method::PushArtifact,
        Method::PutManifest,
        Method::Blobs,
        Method::PushBlob,
        Method::GetBlob,
        Method::ListTagsStream,
        Method::ListRepositoriesStream,
    ];

    /// The trait method's name, e.g. `"get_image"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GetDigest => "get_digest",
            Method::GetManifest => "get_manifest",
            Method::GetImageConfig => "get_image_config",
            Method::CheckImageExists => "check_image_exists",
            Method::GetImage => "get_image",
            Method::PushImage => "push_image",
            Method::ListTags => "list_tags",
            Method::ListRepositories => "list_repositories",
            Method::PushIndex => "push_index",
            Method::TagImage => "tag_image",
            Method::DeleteTag => "delete_tag",
            Method::DeleteByDigest => "delete_by_digest",
            Method::ListReferrers => "list_referrers",
            Method::PushArtifact => "push_artifact",
            Method::PutManifest => "put_manifest",
            Method::Blobs => "blobs",
            Method::PushBlob => "push_blob",
            Method::GetBlob => "get_blob",
            Method::ListTagsStream => "list_tags_stream",
            Method::ListRepositoriesStream => "list_repositories_stream",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One logged call of a [`FakeClient`](super::FakeClient).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Call {
    /// The method called.
    pub method: Method,
    /// `get_registry()` of the client it was called on, e.g. `"registry.example.com/org/app"`.
    pub registry: String,
    /// The reference argument as given: the tag for `push_image`, `push_index` and `delete_tag`, the source
    /// reference for `tag_image`, the reference for `put_manifest`, the digest for `delete_by_digest`,
    /// `list_referrers` and `get_blob`, the artifact's digest for `push_artifact`, the descriptor's digest for
    /// `push_blob`; `None` for the list methods (streams included) and `blobs`.
    pub reference: Option<String>,
}

/// Failures for the next calls, consumed front first: (kind, calls left).
type Queue = VecDeque<(ErrorKind, usize)>;

/// A failure for the next calls with one reference: (the `get_registry()` of the one scope it is for, or `None` for
/// every repository of the host; kind; calls left).
type ScopedQueue = VecDeque<(Option<String>, ErrorKind, usize)>;

/// The form a reference argument is matched in: a digest with or without its `@` is the same digest.
fn reference_key(reference: &str) -> String {
    reference.strip_prefix('@').unwrap_or(reference).to_string()
}

/// Failures to inject, latency to add, and the log, of one host.
#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Failures for the next calls of a method with one reference argument (keyed by [`reference_key`]).
    next_for: HashMap<(Method, String), ScopedQueue>,
    /// Failures for the next calls of a method, whatever their reference.
    next: HashMap<Method, Queue>,
    /// A failure for every call of a method (after the `next` ones).
    always: HashMap<Method, ErrorKind>,
    latency: Duration,
    calls: Vec<Call>,
}

impl Script {
    /// Make the next `times` calls of `method` fail with `kind` (after failures already scripted for it).
    pub(crate) fn fail_next(&mut self, method: Method, times: usize, kind: ErrorKind) {
        if times > 0 {
            self.next.entry(method).or_default().push_back((kind, times));
        }
    }

    /// Make the next `times` calls of `method` whose reference argument is `reference` (a digest with or without
    /// its `@`) fail with `kind` (after failures already scripted for that method and reference): calls on the
    /// client whose `get_registry()` is `scope`, or on any client of the host when `scope` is `None`.
    pub(crate) fn fail_next_for(
        &mut self,
        method: Method,
        scope: Option<String>,
        reference: &str,
        times: usize,
        kind: ErrorKind,
    ) {
        if times > 0 {
            self.next_for.entry((method, reference_key(reference))).or_default().push_back((scope, kind, times));
        }
    }

    /// Make every call of `method` fail with `kind` (once the `fail_next` ones are used up).
    pub(crate) fn fail_always(&mut self, method: Method, kind: ErrorKind) {
        self.always.insert(method, kind);
    }

    /// Forget every scripted failure.
    pub(crate) fn clear_failures(&mut self) {
        self.next_for.clear();
        self.next.clear();
        self.always.clear();
    }

    /// Latency added to every call.
    pub(crate) fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// Log `call` and say what it meets: the latency to wait, and the failure to return if one is scripted.
    pub(crate) fn enter(&mut self, call: Call) -> (Duration, Option<Error>) {
        let kind = self.take_failure(&call);
        let failure = kind.map(|k| injected(k, &call));
        self.calls.push(call);
        (self.latency, failure)
    }

    /// The failure scripted for `call`: one for its method and reference, else one for its method, else the
    /// method's `always` one.
    fn take_failure(&mut self, call: &Call) -> Option<ErrorKind> {
        let for_reference = match &call.reference {
            Some(r) => self
                .next_for
                .get_mut(&(call.method, reference_key(r)))
                .and_then(|queue| take_one_for(queue, &call.registry)),
            None => None,
        };
        for_reference
            .or_else(|| self.next.get_mut(&call.method).and_then(take_one))
            .or_else(|| self.always.get(&call.method).copied())
    }

    /// Every call logged so far, oldest first.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.clone()
    }

    /// How many calls of `method` were logged.
    pub(crate) fn call_count(&self, method: Method) -> usize {
        self.calls.iter().filter(|c| c.method == method).count()
    }

    /// Empty the log.
    pub(crate) fn clear_calls(&mut self) {
        self.calls.clear();
    }
}

/// Use one call of the failure at the front of `queue`, if any.
fn take_one(queue: &mut Queue) -> Option<ErrorKind> {
    let (kind, left) = queue.front_mut()?;
    let kind = *kind;
    *left -= 1;
    if *left == 0 {
        queue.pop_front();
    }
    Some(kind)
}

/// Use one call of the first failure in `queue` meant for a client whose `get_registry()` is `registry`, if any.
fn take_one_for(queue: &mut ScopedQueue, registry: &str) -> Option<ErrorKind> {
    let at = queue.iter().position(|(scope, _, _)| scope.as_deref().is_none_or(|s| s == registry))?;
    let (_, kind, left) = queue.get_mut(at)?;
    let kind = *kind;
    *left -= 1;
    if *left == 0 {
        queue.remove(at);
    }
    Some(kind)
}

/// The error an injected failure returns: its kind, the HTTP status a registry would send with it, and a message
/// saying it was injected.
fn injected(kind: ErrorKind, call: &Call) -> Error {
    let target = match &call.reference {
        Some(r) if r.starts_with('@') => format!("{}{r}", call.registry),
        Some(r) if r.contains(':') => format!("{}@{r}", call.registry),
        Some(r) => format!("{}:{r}", call.registry),
        None => call.registry.clone(),
    };
    let error = Error::new(kind, format!("{} {target}: injected failure (FakeClient scripted {kind})", call.method));
    match status_of(kind) {
        Some(status) => error.with_status(status),
        None => error,
    }
}

/// The status a registry answers with for `kind`, if an HTTP answer carries it.
fn status_of(kind: ErrorKind) -> Option<u16> {
    match kind {
        ErrorKind::NotFound => Some(404),
        ErrorKind::Unauthorized => Some(401),
        ErrorKind::Denied => Some(403),
        ErrorKind::TooManyRequests => Some(429),
        ErrorKind::InvalidInput => Some(400),
        ErrorKind::Server => Some(503),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn call(method: Method) -> Call {
        Call { method, registry: "r.example.com/app".into(), reference: Some("v1".into()) }
    }

    fn outcome(script: &mut Script, method: Method) -> Option<ErrorKind> {
        script.enter(call(method)).1.map(|e| e.kind())
    }

    #[test]
    fn next_failures_are_consumed_in_order_then_always_applies() {
        let mut s = Script::default();
        s.fail_next(Method::GetImage, 2, ErrorKind::TooManyRequests);
        s.fail_next(Method::GetImage, 1, ErrorKind::Server);
        s.fail_next(Method::GetImage, 0, ErrorKind::Io);
        assert_eq!(outcome(&mut s, Method::GetDigest), None, "other methods are untouched");
        assert_eq!(outcome(&mut s, Method::GetImage), Some(ErrorKind::TooManyRequests));
        assert_eq!(outcome(&mut s, Method::GetImage), Some(ErrorKind::TooManyRequests));
        assert_eq!(outcome(&mut s, Method::GetImage), Some(ErrorKind::Server));
        assert_eq!(outcome(&mut s, Method::GetImage), None);
        s.fail_always(Method::ListTags, ErrorKind::Denied);
        s.fail_next(Method::ListTags, 1, ErrorKind::Timeout);
        assert_eq!(outcome(&mut s, Method::ListTags), Some(ErrorKind::Timeout));
        assert_eq!(outcome(&mut s, Method::ListTags), Some(ErrorKind::Denied));
        assert_eq!(outcome(&mut s, Method::ListTags), Some(ErrorKind::Denied));
        s.clear_failures();
        assert_eq!(outcome(&mut s, Method::ListTags), None);
        assert_eq!(s.call_count(Method::GetImage), 4);
        assert_eq!(s.call_count(Method::ListTags), 4);
        assert_eq!(s.calls().len(), 9);
        s.clear_calls();
        assert!(s.calls().is_empty());
    }

    #[test]
    fn failures_for_one_reference_leave_the_others_alone() {
        let mut s = Script::default();
        let with = |method: Method, reference: &str| Call {
            method,
            registry: "r.example.com/app".into(),
            reference: Some(reference.into()),
        };
        s.fail_next_for(Method::GetImage, None, "v1", 2, ErrorKind::NotFound);
        s.fail_next(Method::GetImage, 1, ErrorKind::Server);
        let mut outcome = |c: Call| s.enter(c).1.map(|e| e.kind());
        assert_eq!(outcome(with(Method::GetImage, "v2")), Some(ErrorKind::Server), "the per-method one, once");
        assert_eq!(outcome(with(Method::GetImage, "v2")), None, "another reference is not affected");
        assert_eq!(outcome(with(Method::GetDigest, "v1")), None, "another method is not affected");
        assert_eq!(outcome(with(Method::GetImage, "v1")), Some(ErrorKind::NotFound));
        assert_eq!(outcome(with(Method::GetImage, "v1")), Some(ErrorKind::NotFound));
        assert_eq!(outcome(with(Method::GetImage, "v1")), None, "used up");
        s.fail_next_for(Method::ListTags, None, "v1", 1, ErrorKind::Server);
        let list = Call { method: Method::ListTags, registry: "r.example.com/app".into(), reference: None };
        assert_eq!(s.enter(list).1.map(|e| e.kind()), None, "a call without a reference matches no reference");
        s.clear_failures();
        assert!(s.next_for.is_empty());
    }

    #[test]
    fn injected_errors_say_what_they_are() {
        let mut s = Script::default();
        s.fail_next(Method::PushImage, 1, ErrorKind::TooManyRequests);
        let e = s.enter(call(Method::PushImage)).1.unwrap();
        assert_eq!(e.status(), Some(429));
        assert!(e.is_temporary());
        assert_eq!(e.to_string(), "too many requests: push_image r.example.com/app:v1: injected failure (FakeClient scripted too many requests) (HTTP 429)");
        s.fail_next(Method::ListRepositories, 1, ErrorKind::Io);
        let e = s
            .enter(Call { method: Method::ListRepositories, registry: "r.example.com".into(), reference: None })
            .1
            .unwrap();
        assert_eq!(e.status(), None);
        assert!(e.message().starts_with("list_repositories r.example.com: injected"), "{e}");
    }

    #[test]
    fn latency_is_reported_with_every_call() {
        let mut s = Script::default();
        assert_eq!(s.enter(call(Method::GetDigest)).0, Duration::ZERO);
        s.set_latency(Duration::from_millis(7));
        assert_eq!(s.enter(call(Method::GetDigest)).0, Duration::from_millis(7));
    }

    #[test]
    fn method_names() {
        let names: Vec<String> = Method::ALL.iter().map(|m| m.to_string()).collect();
        assert_eq!(names[0], "get_digest");
        assert_eq!(names[7], "list_repositories");
        assert_eq!(names[13], "push_artifact");
        assert_eq!(names[19], "list_repositories_stream");
        assert_eq!(names.len(), 20);
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
    }
}
