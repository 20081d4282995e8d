//! [`FakeClient`]: construction, scoping, seeding, inspection and failure scripting. The `Client` methods are in
//! `client_impl`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use registry_client::{index_of, Client, ClientScope, Image};
use registry_core::manifest::Manifest;
use registry_core::{Digest, Error, ErrorKind, Reference, Result};

use super::script::{Call, Method};
use super::shared::{Host, World};

/// An in-memory [`Client`](registry_client::Client) that behaves like a registry (docker-registry 2.8.2 with
/// spec pagination), for the tests of code that takes an `Arc<dyn Client>`.
///
/// - Clones and [`with_segment`](registry_client::Client::with_segment) children share one state.
/// - [`FakeClient::new`] creates a new world holding one host; [`FakeClient::host`] gives a client of another host
///   of the same world: hosts are separate registries (content, scripted failures, latency and call log), worlds
///   share nothing.
/// - Seed content with [`FakeClient::seed_image`], [`FakeClient::seed_index`], [`FakeClient::put_manifest_bytes`]
///   and [`FakeClient::put_blob`]; look at it with [`FakeClient::tags`], [`FakeClient::blob_count`] and
///   [`FakeClient::manifest_count`]. These seeding and inspection helpers are never logged, never delayed and never
///   failed by a script.
/// - The call log counts exactly the calls of [`Client`](registry_client::Client) methods, whoever makes them,
///   failed ones included: seeding with [`Client::push_image`](registry_client::Client::push_image) instead of
///   `seed_image` is one logged `PushImage` call (and meets a scripted `PushImage` failure), so seed before
///   scripting with the helpers, or [`FakeClient::clear_calls`] after seeding. A provided method (`get_image`,
///   `tag_image`, ...) is logged as itself only, not as the calls it makes inside. See [`Method`].
/// - Script failures with [`FakeClient::fail_next`] / [`FakeClient::fail_always`], or for one reference with
///   [`FakeClient::fail_next_for`]; slow every call down with [`FakeClient::set_latency`], and see what was called
///   with [`FakeClient::calls`].
///
/// ```
/// use std::sync::Arc;
/// use mocks::{random_image, FakeClient, Method};
/// use registry_client::{Client, ErrorKind, ListOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> registry_client::Result<()> {
/// let fake = FakeClient::new("registry.example.com");
/// let app = fake.scoped("org/app");
/// app.seed_image("v1", &random_image(2, 1024)).await?;             // not logged
///
/// let client: Arc<dyn Client> = Arc::new(fake.clone());
/// let app = client.with_segment("org").with_segment("app");
/// fake.fail_next(Method::ListTags, 1, ErrorKind::TooManyRequests);
/// assert_eq!(app.list_tags(ListOptions::default()).await.unwrap_err().kind(), ErrorKind::TooManyRequests);
/// assert_eq!(app.list_tags(ListOptions::default()).await?, vec!["v1"]);
/// assert_eq!(fake.call_count(Method::ListTags), 2);
/// assert_eq!(fake.tags("org/app"), vec!["v1"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FakeClient {
    world: Arc<World>,
    pub(super) host: Arc<Host>,
    /// The host and segments (remembering an invalid one, reported by every call).
    scope: ClientScope,
}

impl fmt::Debug for FakeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FakeClient");
        d.field("registry", &self.scope.name());
        if let Err(e) = self.scope.check() {
            d.field("invalid", &e.message().to_string());
        }
        d.finish()
    }
}

impl FakeClient {
    /// A client of `target`, `host[:port]` optionally followed by a path (`host/org/app`), in a new world.
    ///
    /// An invalid target does not panic: every call of the client fails with `InvalidInput` saying why (use
    /// [`FakeClient::try_new`] to get the error at once).
    pub fn new(target: &str) -> FakeClient {
        FakeClient::in_world(Arc::new(World::default()), target)
    }

    /// Like [`FakeClient::new`], but an invalid `target` is an error.
    pub fn try_new(target: &str) -> Result<FakeClient> {
        let client = FakeClient::new(target);
        client.scope.check()?;
        Ok(client)
    }

    /// A client of another host (`host[:port]`, optionally with a path) of this client's world: a separate
    /// registry, shared by every client of that host made from this world.
    pub fn host(&self, target: &str) -> FakeClient {
        FakeClient::in_world(Arc::clone(&self.world), target)
    }

    fn in_world(world: Arc<World>, target: &str) -> FakeClient {
        let scope = ClientScope::parse(target);
        let host = match scope.registry() {
            Some(r) => world.host(r.as_str()),
            None => Arc::new(Host::default()),
        };
        FakeClient { world, host, scope }
    }

    /// A client scoped one path segment deeper (`segment` may contain `/`), as
    /// [`with_segment`](registry_client::Client::with_segment) but as a `FakeClient`, so the seeding and inspection
    /// methods work on the scoped repository. An invalid segment makes every call fail with `InvalidInput` naming it.
    pub fn scoped(&self, segment: &str) -> FakeClient {
        FakeClient { world: Arc::clone(&self.world), host: Arc::clone(&self.host), scope: self.scope.join(segment) }
    }

    /// What this client is scoped to.
    pub(super) fn scope(&self) -> &ClientScope {
        &self.scope
    }

    /// Log a call, wait the latency set, and return the failure scripted for it, if any.
    pub(super) async fn enter(&self, method: Method, reference: Option<&str>) -> Result<()> {
        let call = Call { method, registry: self.scope.name(), reference: reference.map(str::to_string) };
        let (latency, failure) = self.host.script().enter(call);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        failure.map_or(Ok(()), Err)
    }

    /// Log a call of a method that is not async, and return the failure scripted for it, if any (no latency).
    pub(super) fn enter_now(&self, method: Method, reference: Option<&str>) -> Result<()> {
        let call = Call { method, registry: self.scope.name(), reference: reference.map(str::to_string) };
        self.host.script().enter(call).1.map_or(Ok(()), Err)
    }

    // Seeding.

    /// Store `image` under `tag` (or `"@<its digest>"`: untagged) in the scoped repository, as
    /// [`Client::push_image`](registry_client::Client::push_image) does, but as seeding: not logged, no scripted
    /// failure, no latency. `InvalidInput` for a malformed tag or another digest.
    pub async fn seed_image(&self, tag: &str, image: &Image) -> Result<()> {
        self.unlogged().push_image(tag, image).await
    }

    /// Push `images` (blobs, configs, manifests, untagged) and an OCI index over them (built with
    /// [`index_of`]) tagged `tag` in the scoped repository. Returns the index's digest. (Seeding: not logged, no
    /// scripted failure; [`Client::push_index`](registry_client::Client::push_index) pushes an index you built.)
    pub async fn seed_index(&self, tag: &str, images: &[&Image]) -> Result<Digest> {
        let repo = self.scope().repository()?;
        let target = Reference::with_tag(repo.clone(), tag).map_err(Error::from)?;
        for image in images {
            self.store_image(&Reference::with_digest(repo.clone(), image.digest().clone()), image).await?;
        }
        let index = index_of(images)?;
        let digest = index.digest().clone();
        self.host.write().put_manifest(&target, index)?;
        Ok(digest)
    }

    /// Store manifest `bytes` of `media_type` at `reference` (`v1`, `@sha256:...`) in the scoped repository, as a
    /// registry's manifest PUT does: the bytes are stored exactly (their sha256 is the digest returned), must parse
    /// (else `InvalidInput`), must match the reference's digest if it has one (else `DigestMismatch`), and must
    /// reference only content the repository has (else `InvalidInput`, `MANIFEST_BLOB_UNKNOWN`). As on a real
    /// registry, a reference with a digest stores the manifest untagged, even `v1@sha256:...`.
    pub fn put_manifest_bytes(&self, reference: &str, media_type: &str, bytes: impl Into<Bytes>) -> Result<Digest> {
        let target = self.scope().reference(reference)?;
        let bytes: Bytes = bytes.into();
        if let Some(d) = target.digest() {
            if !d.matches(&bytes) {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("pushing manifest to {target} but its content has digest {}", Digest::sha256(&bytes)),
                ));
            }
        }
        let manifest = Manifest::parse(bytes, Some(media_type)).map_err(|e| {
            Error::invalid_input(format!("push manifest {target}: manifest invalid: {}", e.message()))
                .with_status(400)
                .with_codes(vec![registry_core::RegistryErrorCode {
                    code: "MANIFEST_INVALID".into(),
                    message: "manifest invalid".into(),
                }])
        })?;
        let digest = manifest.digest().clone();
        self.host.write().put_manifest(&target, manifest)?;
        Ok(digest)
    }

    /// Store a blob in the scoped repository; returns its sha256 digest.
    pub fn put_blob(&self, data: impl Into<Bytes>) -> Result<Digest> {
        let repo = self.scope().repository()?;
        let data: Bytes = data.into();
        let digest = Digest::sha256(&data);
        self.host.write().put_blob(&repo, digest.clone(), data);
        Ok(digest)
    }

    // Inspection.

    /// Distinct blobs (layers and configs) on this client's host, over all its repositories.
    pub fn blob_count(&self) -> usize {
        self.host.read().blob_count()
    }

    /// Distinct manifests (images and indexes) on this client's host, over all its repositories.
    pub fn manifest_count(&self) -> usize {
        self.host.read().manifest_count()
    }

    /// The tags of the repository at `repo_path` under this client's scope (`""`: the scoped repository itself),
    /// sorted; empty when it has none, does not exist or the path is invalid.
    pub fn tags(&self, repo_path: &str) -> Vec<String> {
        let repo = match repo_path {
            "" => self.scope().repository(),
            path => self.scope.join(path).repository(),
        };
        repo.and_then(|r| Ok(self.host.read().tags(&r)?)).unwrap_or_default()
    }

    // Scripting and the call log (all per host).

    /// Make the next `times` calls of `method` on this host fail with an error of `kind` (then succeed again).
    /// Scripts for the same method queue up: `fail_next(m, 2, A)` then `fail_next(m, 1, B)` fails A, A, B.
    pub fn fail_next(&self, method: Method, times: usize, kind: ErrorKind) {
        self.host.script().fail_next(method, times, kind);
    }

    /// Make the next `times` calls of `method` whose reference argument (as logged in [`Call::reference`]; a
    /// digest with or without its `@`) is `reference` fail with an error of `kind`, then succeed again: calls on
    /// this client's repository when it is scoped to one (`fake.scoped("org/app")`), on any repository of the host
    /// when called on the host (`FakeClient::new(..)`). Calls with another reference, or none, or in another
    /// repository, are not affected. Such a failure is used before one scripted with [`FakeClient::fail_next`] for
    /// the method. `fake.scoped("org/app").fail_next_for(Method::GetImage, "v1", 2, kind)` fails the next two
    /// `get_image("v1", ..)` in `org/app`, not `get_image("v2", ..)` nor `get_image("v1", ..)` in `org/other`.
    pub fn fail_next_for(&self, method: Method, reference: &str, times: usize, kind: ErrorKind) {
        let scope = (!self.scope.path().is_empty()).then(|| self.scope.name());
        self.host.script().fail_next_for(method, scope, reference, times, kind);
    }

    /// Make every call of `method` on this host fail with an error of `kind` (after any `fail_next` ones), until
    /// [`FakeClient::clear_failures`].
    pub fn fail_always(&self, method: Method, kind: ErrorKind) {
        self.host.script().fail_always(method, kind);
    }

    /// Forget every scripted failure of this host.
    pub fn clear_failures(&self) {
        self.host.script().clear_failures();
    }

    /// Add `latency` to every call on this host (`Duration::ZERO`: none, the default). Waits with
    /// `tokio::time::sleep`, so a paused tokio clock skips it.
    pub fn set_latency(&self, latency: Duration) {
        self.host.script().set_latency(latency);
    }

    /// The calls made on this host through any clone or child, oldest first, failed ones included.
    pub fn calls(&self) -> Vec<Call> {
        self.host.script().calls()
    }

    /// How many calls of `method` were made on this host.
    pub fn call_count(&self, method: Method) -> usize {
        self.host.script().call_count(method)
    }

    /// Empty this host's call log.
    pub fn clear_calls(&self) {
        self.host.script().clear_calls();
    }
}
