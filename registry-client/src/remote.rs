//! [`RemoteClient`]: the [`Client`] trait over the distribution API (`registry-core`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::TryStreamExt;
use oci_spec::image::{Descriptor, ImageConfiguration};
use registry_core::api::{BlobPushed, Page, RegistryApi};
use registry_core::auth::{Credentials, Keychain, Secret};
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::transport::{ProxyConfig, RetryConfig, TransportConfig};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Reference, Repository, Result};

use crate::artifact::Artifact;
use crate::client::Client;
use crate::image::{Image, RemoteBlobs, MAX_CONFIG_SIZE};
use crate::manifest_result::ManifestResult;
use crate::options::{ImageOptions, ListOptions};
use crate::platform::Platform;
use crate::resolve::resolve_image_manifest;
use crate::scope::ClientScope;
use crate::transfer::{ProgressEvent, TransferOptions, Transfers};
use crate::write;

/// The most pages one list call follows (a guard against a registry that never stops paginating).
const MAX_PAGES: usize = 100_000;
/// The largest page size asked of a registry (distribution's catalog maximum).
const CATALOG_PAGE: usize = 1000;

/// Where the blobs of a push come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PushFrom<'a> {
    Image(&'a Image),
    Artifact(&'a Artifact),
}

impl PushFrom<'_> {
    /// The blob of `desc` from byte `offset`, for an upload (which checks the digest itself).
    async fn open(self, desc: &Descriptor, offset: u64) -> Result<ByteStream> {
        match self {
            PushFrom::Image(image) => image.open_blob_unverified(desc, offset).await,
            PushFrom::Artifact(artifact) => artifact.open_blob_unverified(desc, offset).await,
        }
    }

    /// The registry repository the blobs are read from, if any (to mount them from).
    fn repository(&self) -> Option<&Repository> {
        match self {
            PushFrom::Image(image) => image.source().repository(),
            PushFrom::Artifact(artifact) => artifact.source().repository(),
        }
    }
}

/// A [`Client`] talking to a registry over HTTP(S).
///
/// Clones and [`Client::with_segment`] children share one connection pool and one token cache.
#[derive(Debug, Clone)]
pub struct RemoteClient {
    api: RegistryApi,
    scope: ClientScope,
    transfers: Arc<Transfers>,
}

/// Builds a [`RemoteClient`]. Invalid settings are an error from [`RemoteClientBuilder::build`], never ignored.
#[derive(Debug, Clone)]
#[must_use]
pub struct RemoteClientBuilder {
    target: String,
    insecure: bool,
    credentials: Vec<Credentials>,
    user_agent: Option<String>,
    timeout: Option<Duration>,
    retry: RetryConfig,
    keychain: Option<Keychain>,
    root_certificates: Vec<Vec<u8>>,
    tls_skip_verify: bool,
    client_identity: Option<Secret>,
    proxy: ProxyConfig,
    transfer: TransferOptions,
}

impl RemoteClientBuilder {
    /// How blobs move: at most this many at once, this many bytes in flight, progress to this callback (see
    /// [`TransferOptions`]). The limits are shared by the client's clones and `with_segment` children. Zero limits
    /// are an error from `build()`.
    pub fn transfer(mut self, options: TransferOptions) -> RemoteClientBuilder {
        self.transfer = options;
        self
    }

    /// Report transfers to `callback` (blob started, bytes so far, blob done / skipped / mounted, manifest pushed):
    /// shorthand for [`TransferOptions::progress`] on the options set so far.
    pub fn progress(mut self, callback: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> RemoteClientBuilder {
        self.transfer = self.transfer.progress(callback);
        self
    }

    /// Plain HTTP instead of HTTPS (only for registries you know serve HTTP; there is no silent fallback).
    pub fn insecure(mut self, insecure: bool) -> RemoteClientBuilder {
        self.insecure = insecure;
        self
    }

    /// Authenticate with a username and password (sent to the registry, or to its token service).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> RemoteClientBuilder {
        self.credentials.push(Credentials::basic(username, password));
        self
    }

    /// Authenticate with a registry bearer token, sent as is.
    pub fn bearer_token(mut self, token: impl Into<String>) -> RemoteClientBuilder {
        self.credentials.push(Credentials::Bearer(Secret::new(token)));
        self
    }

    /// Authenticate with explicit credentials.
    pub fn credentials(mut self, credentials: Credentials) -> RemoteClientBuilder {
        self.credentials.push(credentials);
        self
    }

    /// Look credentials up in `keychain` (docker `config.json`, credential helpers, podman `auth.json`) when none
    /// are given explicitly: explicit credentials always win. The keychain is consulted when the registry first
    /// asks for authentication.
    pub fn keychain(mut self, keychain: Keychain) -> RemoteClientBuilder {
        self.keychain = Some(keychain);
        self
    }

    /// [`RemoteClientBuilder::keychain`] with the files docker and podman use, found from the environment
    /// (`DOCKER_CONFIG`, `~/.docker/config.json`, `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR/containers/auth.json`).
    pub fn default_keychain(self) -> RemoteClientBuilder {
        self.keychain(Keychain::from_env())
    }

    /// Trust the root certificate(s) in `pem` in addition to the system's. Invalid PEM is an error from `build()`.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> RemoteClientBuilder {
        self.root_certificates.push(pem.into());
        self
    }

    /// Accept any server certificate (self-signed, expired, wrong host). Dangerous: only for tests, or a
    /// registry reached over a network you trust. TLS is still used; this never falls back to plain HTTP.
    pub fn tls_skip_verify(mut self, skip: bool) -> RemoteClientBuilder {
        self.tls_skip_verify = skip;
        self
    }

    /// Present a client certificate (mutual TLS): `pem` holds the certificate (chain) and its PKCS#8 private key.
    pub fn client_identity_pem(mut self, pem: impl Into<String>) -> RemoteClientBuilder {
        self.client_identity = Some(Secret::new(pem));
        self
    }

    /// Send every request through the HTTP proxy at `url` (hosts in `NO_PROXY` excepted). Without this, the
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment variables apply.
    pub fn proxy(mut self, url: impl Into<String>) -> RemoteClientBuilder {
        self.proxy = ProxyConfig::Url(url.into());
        self
    }

    /// Use no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> RemoteClientBuilder {
        self.proxy = ProxyConfig::Disabled;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> RemoteClientBuilder {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// How long a connection attempt, and each read of an answer, may take (not a total deadline: a large blob
    /// may take as long as it needs while data keeps coming).
    pub fn timeout(mut self, timeout: Duration) -> RemoteClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryConfig) -> RemoteClientBuilder {
        self.retry = retry;
        self
    }

    /// Build the client. Fails on a malformed host or path, conflicting credentials, a zero timeout or an invalid
    /// user agent.
    pub fn build(self) -> Result<RemoteClient> {
        let scope = ClientScope::parse(&self.target);
        scope.check()?;
        let registry = scope
            .registry()
            .cloned()
            .ok_or_else(|| Error::invalid_input(format!("invalid target {:?}", self.target)))?;
        if self.credentials.len() > 1 {
            return Err(Error::invalid_input(
                "more than one kind of credentials given (basic_auth / bearer_token / credentials): choose one",
            ));
        }
        let mut config = TransportConfig::default();
        config.insecure = self.insecure;
        config.retry = self.retry;
        config.credentials = self.credentials.into_iter().next().unwrap_or_default();
        config.keychain = self.keychain;
        config.root_certificates = self.root_certificates;
        config.tls_skip_verify = self.tls_skip_verify;
        config.client_identity = self.client_identity;
        config.proxy = self.proxy;
        if let Some(ua) = self.user_agent {
            config.user_agent = ua;
        }
        if let Some(t) = self.timeout {
            if t.is_zero() {
                return Err(Error::invalid_input("timeout must be greater than zero"));
            }
            config.connect_timeout = t;
            config.read_timeout = Some(t);
        }
        let blob_config = self.transfer.get_blob_config().clone();
        let transfers = Arc::new(self.transfer.start()?);
        let api = RegistryApi::new(registry, config)?.with_transfer_config(blob_config)?;
        Ok(RemoteClient { api, scope, transfers })
    }
}

impl RemoteClient {
    /// A builder for a client of `target`: `host[:port]`, optionally followed by a path (`host/org/app`).
    pub fn builder(target: impl Into<String>) -> RemoteClientBuilder {
        RemoteClientBuilder {
            target: target.into(),
            insecure: false,
            credentials: Vec::new(),
            user_agent: None,
            timeout: None,
            retry: RetryConfig::default(),
            keychain: None,
            root_certificates: Vec::new(),
            tls_skip_verify: false,
            client_identity: None,
            proxy: ProxyConfig::Environment,
            transfer: TransferOptions::default(),
        }
    }

    /// The underlying distribution API handle (for operations the trait does not have).
    pub fn api(&self) -> &RegistryApi {
        &self.api
    }

    /// The scoped repository; an error when a segment was invalid or there is none.
    pub fn repository(&self) -> Result<Repository> {
        self.scope.repository()
    }

    async fn manifest(&self, reference: &Reference) -> Result<ManifestResult> {
        Ok(ManifestResult::new(self.api.get_manifest(reference).await?))
    }

    /// Resolve `reference` to an image manifest, picking `platform` (or the host's) from an index.
    async fn image(&self, reference: &Reference, platform: Option<&Platform>) -> Result<Image> {
        let manifest =
            resolve_image_manifest(reference, platform, |r| async move { self.api.get_manifest(&r).await }).await?;
        let repo = reference.repository().clone();
        let image = manifest.as_image().ok_or_else(|| Error::protocol("expected an image manifest"))?;
        let cfg = image.config();
        let cfg_digest = descriptor_digest(cfg)?;
        let config = self
            .api
            .get_blob_bytes(&repo, &cfg_digest, Some(cfg.size()), MAX_CONFIG_SIZE)
            .await
            .map_err(|e| e.context(format!("config of {reference}")))?;
        let blobs = RemoteBlobs::new(self.api.clone(), repo).reporting(self.transfers.clone());
        Image::from_parts(manifest, config, Arc::new(blobs))
    }

    /// Get one blob of `from` into `repo` unless it is there, within the client's transfer limits (a job slot for
    /// the check and the transfer, `min(size, budget)` bytes of the budget for the transfer): mounted when the
    /// blobs come from another repository of the same registry, else uploaded, read again from the source when
    /// the upload must go back.
    async fn push_blob(&self, repo: &Repository, from: PushFrom<'_>, desc: &Descriptor) -> Result<()> {
        let digest = descriptor_digest(desc)?;
        let size = desc.size();
        let t = &self.transfers;
        let mut slot = t.job().await?;
        let progress = t.blob(&digest, size);
        if self.api.blob_exists(repo, &digest).await?.is_some() {
            tracing::debug!(%digest, "blob already present, skipped");
            progress.emit(|digest, size| ProgressEvent::BlobSkipped { digest, size });
            return Ok(());
        }
        t.reserve(&mut slot, size).await?;
        let progress_ref = &progress;
        // The upload hashes what it sends and checks it before committing: the source need not hash it too.
        let open = move |offset| async move { Ok(progress_ref.track(from.open(desc, offset).await?, offset)) };
        let mount_from = from.repository().filter(|r| r.registry() == repo.registry() && *r != repo);
        let outcome = match mount_from {
            Some(source_repo) => self.api.mount_or_upload(repo, &digest, size, source_repo, open).await?,
            _ => self.api.upload_blob_from(repo, &digest, size, open).await?,
        };
        match (outcome, mount_from) {
            (BlobPushed::Mounted, Some(source_repo)) => {
                progress.emit(|digest, size| ProgressEvent::BlobMounted { digest, size, from: source_repo.to_string() })
            }
            _ => progress.emit(|digest, size| ProgressEvent::BlobDone { digest, size }),
        }
        Ok(())
    }

    /// Push the `blobs` of `from` the registry lacks for `target`, several at once within the client's
    /// [`TransferOptions`], reporting [`ProgressEvent::PushStarted`] first. The first failure cancels the uploads
    /// still running.
    pub(crate) async fn push_blobs(
        &self,
        target: &Reference,
        from: PushFrom<'_>,
        blobs: Vec<&Descriptor>,
    ) -> Result<()> {
        let repo = target.repository().clone();
        self.transfers.emit(|| ProgressEvent::PushStarted {
            reference: target.to_string(),
            blobs: blobs.len(),
            bytes: blobs.iter().map(|d| d.size()).sum(),
        });
        // Every blob is started at once: the job and byte semaphores admit them in order.
        let uploads: FuturesUnordered<_> = blobs.into_iter().map(|d| self.push_blob(&repo, from, d)).collect();
        uploads.try_collect::<Vec<()>>().await.map_err(|e| e.context(format!("push {target}")))?;
        Ok(())
    }

    /// Report [`ProgressEvent::ManifestPushed`].
    pub(crate) fn manifest_pushed(&self, target: &Reference, digest: &Digest) {
        self.transfers.emit(|| ProgressEvent::ManifestPushed { reference: target.to_string(), digest: digest.clone() });
    }

    /// Push `image` under `target` (a tag or its own digest): the blobs (layers and config) the registry lacks,
    /// then the manifest, whose digest must come out equal to the image's.
    async fn push_image_to(&self, target: &Reference, image: &Image) -> Result<()> {
        let blobs: Vec<&Descriptor> = image.layers().iter().chain(std::iter::once(image.config_descriptor())).collect();
        self.push_blobs(target, PushFrom::Image(image), blobs).await?;
        let m = image.raw_manifest();
        let pushed = self.api.put_manifest(target, m.media_type(), m.bytes().clone()).await?;
        if &pushed != image.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("pushed {target} as {pushed}, but the image's digest is {}", image.digest()),
            ));
        }
        self.manifest_pushed(target, &pushed);
        Ok(())
    }

    /// Hand each page from `first` on to `collected`, following `next` links while it returns `true` (it wants
    /// more), never following the same link twice.
    async fn follow<F, Fut>(
        &self,
        first: Page,
        mut fetch_next: F,
        mut collected: impl FnMut(Vec<String>) -> bool,
    ) -> Result<()>
    where
        F: FnMut(url::Url) -> Fut,
        Fut: std::future::Future<Output = Result<Page>>,
    {
        let mut seen: HashSet<url::Url> = HashSet::new();
        let mut page = first;
        for _ in 0..MAX_PAGES {
            let next = page.next.take();
            if !collected(page.items) {
                return Ok(());
            }
            let Some(next) = next else { return Ok(()) };
            if !seen.insert(next.clone()) {
                return Err(Error::protocol(format!(
                    "registry sent the same next-page link twice ({}): stopping",
                    registry_core::transport::redact_url(&next)
                )));
            }
            page = fetch_next(next).await?;
        }
        Err(Error::protocol(format!("registry sent more than {MAX_PAGES} pages: stopping")))
    }
}

#[async_trait::async_trait]
impl Client for RemoteClient {
    fn with_segment(&self, segment: &str) -> Arc<dyn Client> {
        Arc::new(RemoteClient {
            api: self.api.clone(),
            scope: self.scope.join(segment),
            transfers: self.transfers.clone(),
        })
    }

    fn get_registry(&self) -> String {
        self.scope.name()
    }

    async fn get_digest(&self, reference: &str) -> Result<Digest> {
        let r = self.scope.reference(reference)?;
        match self.api.head_manifest(&r).await? {
            Some(head) => Ok(head.digest),
            None => Ok(self.manifest(&r).await?.digest().clone()),
        }
    }

    async fn get_manifest(&self, reference: &str) -> Result<ManifestResult> {
        let r = self.scope.reference(reference)?;
        self.manifest(&r).await
    }

    async fn get_image_config(&self, reference: &str) -> Result<ImageConfiguration> {
        let r = self.scope.reference(reference)?;
        Ok(self.image(&r, None).await?.config().clone())
    }

    async fn check_image_exists(&self, reference: &str) -> Result<()> {
        let r = self.scope.reference(reference)?;
        self.api.head_manifest(&r).await.map(|_| ())
    }

    async fn get_image(&self, reference: &str, opts: ImageOptions) -> Result<Image> {
        let r = self.scope.reference(reference)?;
        self.image(&r, opts.get_platform()).await
    }

    async fn push_image(&self, tag: &str, image: &Image) -> Result<()> {
        let target = Reference::with_tag(self.repository()?, tag).map_err(Error::from)?;
        self.push_image_to(&target, image).await
    }

    async fn push_index(&self, tag: &str, index: &Manifest, children: &[Image]) -> Result<()> {
        let target = Reference::with_tag(self.repository()?, tag).map_err(Error::from)?;
        let entries = index
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{} is not an index", index.digest())))?
            .manifests();
        for entry in entries {
            let digest = descriptor_digest(entry)?;
            let child = children.iter().find(|c| c.digest() == &digest).ok_or_else(|| {
                Error::invalid_input(format!("index entry {digest} is not among the images given to push_index"))
            })?;
            let by_digest = Reference::with_digest(target.repository().clone(), digest);
            self.push_image_to(&by_digest, child).await?;
        }
        let pushed = self.api.put_manifest(&target, index.media_type(), index.bytes().clone()).await?;
        if &pushed != index.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("pushed index {target} as {pushed}, expected {}", index.digest()),
            ));
        }
        Ok(())
    }

    async fn tag_image(&self, reference: &str, new_tag: &str) -> Result<()> {
        write::tag_image(self, reference, new_tag).await
    }

    async fn delete_tag(&self, tag: &str) -> Result<()> {
        write::delete_tag(self, tag).await
    }

    async fn delete_by_digest(&self, digest: &str) -> Result<()> {
        write::delete_by_digest(self, digest).await
    }

    async fn list_referrers(&self, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        write::list_referrers(self, digest, artifact_type).await
    }

    async fn push_artifact(&self, artifact: &Artifact) -> Result<Digest> {
        write::push_artifact(self, artifact).await
    }

    async fn list_tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        let repo = self.repository()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        // Registries cap page sizes (distribution: 1000); ask for at most that and follow `Link` for the rest.
        let n = opts.get_limit().map(|l| l.min(CATALOG_PAGE));
        let first = self.api.tags_page(&repo, n, opts.get_last()).await?;
        let mut all: Vec<String> = Vec::new();
        let limit = opts.get_limit();
        self.follow(
            first,
            |next| self.api.tags_next(&repo, next),
            |items| {
                all.extend(items);
                // A registry may ignore n/last (docker-registry 2.8.2 does) or return short pages: keep going only
                // while the window is not full.
                limit.is_none_or(|n| opts.apply(all.clone()).len() < n)
            },
        )
        .await?;
        Ok(opts.apply(all))
    }

    async fn list_repositories(&self, opts: ListOptions) -> Result<Vec<String>> {
        self.scope.check()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let scope = self.scope.path();
        let prefix = if scope.is_empty() { String::new() } else { format!("{scope}/") };
        // Start the catalog just before the scope's range (or after `last` inside it) instead of at the top.
        let start = match (opts.get_last(), scope.is_empty()) {
            (Some(l), _) => Some(format!("{prefix}{l}")),
            (None, true) => None,
            (None, false) => Some(scope.clone()),
        };
        // Anything sorting at or after `scope` + "0" ('0' follows '/') is past the scope's range.
        let end = if scope.is_empty() { None } else { Some(format!("{scope}0")) };
        let n = opts.get_limit().map_or(CATALOG_PAGE, |l| l.min(CATALOG_PAGE));
        let first = self.api.catalog_page(Some(n), start.as_deref()).await?;
        let mut found: Vec<String> = Vec::new();
        let limit = opts.get_limit();
        self.follow(
            first,
            |next| self.api.catalog_next(next),
            |items| {
                let sorted = items.windows(2).all(|w| w[0] <= w[1]);
                let mut past_range = false;
                for item in items {
                    if let Some(rel) = item.strip_prefix(&prefix) {
                        found.push(rel.to_string());
                    } else if end.as_deref().is_some_and(|e| item.as_str() >= e) {
                        past_range = true;
                    }
                }
                let full = limit.is_some_and(|n| opts.apply(found.clone()).len() >= n);
                !(full || (sorted && past_range))
            },
        )
        .await?;
        Ok(opts.apply(found))
    }
}
