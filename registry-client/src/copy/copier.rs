//! The state of one copy: the clients, what is done, the counts; blobs and index children pushed concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, ErrorKind, Repository, Result};
use tokio::sync::OnceCell;

use super::hooks::{Claim, CopyHooks, CountingSource};
use super::report::CopyReport;
use crate::client::Client;
use crate::image::model::BlobSource;
use registry_core::api::BlobPushed;

/// How deep indexes may nest (an index whose entries are indexes): deeper is `Unsupported`.
const MAX_DEPTH: usize = 3;
/// At most this many referrers are copied in one call (referrers of referrers included), so a cycle or a flood of
/// referrers cannot make the copy unbounded.
const MAX_REFERRERS: usize = 10_000;
/// Blobs of one manifest pushed at once (each push also obeys the target's own transfer limits).
const BLOB_CONCURRENCY: usize = 4;
/// Children of one index copied at once (their blobs obey the target's transfer limits).
const CHILD_CONCURRENCY: usize = 4;

/// What the copy has done so far.
struct State {
    /// Manifests put on the target by digest, in order (the subjects whose referrers are copied).
    copied: Vec<Digest>,
    report: CopyReport,
}

/// One copy in progress: shared by the concurrent pushes of its blobs and children.
pub(crate) struct Copier<'a> {
    source: &'a dyn Client,
    target: &'a dyn Client,
    blobs: Arc<dyn BlobSource>,
    mount_from: Option<Repository>,
    hooks: Option<Arc<dyn CopyHooks>>,
    /// Bytes read from the source for uploads.
    read: Arc<AtomicU64>,
    /// Each blob is pushed once per copy: later needs of it wait for the first push.
    seen: Mutex<HashMap<Digest, Arc<OnceCell<()>>>>,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<'a> Copier<'a> {
    /// A copy from `source` to `target`, with `hooks` when a sync run drives it. Errors: the source's `blobs()`.
    pub(crate) fn new(
        source: &'a dyn Client,
        target: &'a dyn Client,
        hooks: Option<Arc<dyn CopyHooks>>,
    ) -> Result<Copier<'a>> {
        let inner = source.blobs()?;
        let mount_from = inner.repository().cloned();
        let read = Arc::new(AtomicU64::new(0));
        let blobs: Arc<dyn BlobSource> = Arc::new(CountingSource::new(inner, hooks.clone(), read.clone()));
        let state = State { copied: Vec::new(), report: CopyReport::empty() };
        Ok(Copier {
            source,
            target,
            blobs,
            mount_from,
            hooks,
            read,
            seen: Mutex::new(HashMap::new()),
            state: Mutex::new(state),
        })
    }

    /// The digests of the manifests put on the target so far, in order.
    pub(crate) fn copied(&self) -> Vec<Digest> {
        lock(&self.state).copied.clone()
    }

    /// The report so far.
    pub(crate) fn into_report(self) -> CopyReport {
        let mut report = self.state.into_inner().unwrap_or_else(PoisonError::into_inner).report;
        report.bytes_uploaded = self.read.load(Ordering::Relaxed);
        report
    }

    /// The hooks' last check before `tag` is written with `digest`.
    pub(crate) async fn before_tag(&self, tag: &str, digest: &Digest) -> Result<()> {
        match &self.hooks {
            Some(h) => h.before_tag(self.target, tag, digest).await,
            None => Ok(()),
        }
    }

    /// Put `manifest` at `reference` on the target, checking the digest it is stored under.
    pub(crate) async fn put(&self, reference: &str, manifest: &Manifest) -> Result<()> {
        let stored = self
            .target
            .put_manifest(reference, manifest)
            .await
            .map_err(|e| e.context(format!("put {} as {reference}", manifest.digest())))?;
        if &stored != manifest.digest() {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{} stored {reference} as {stored}, expected {}",
                    self.target.get_registry(),
                    manifest.digest()
                ),
            ));
        }
        let mut state = lock(&self.state);
        state.report.manifests_copied = state.report.manifests_copied.saturating_add(1);
        if reference.starts_with('@') || !state.copied.contains(manifest.digest()) {
            state.copied.push(manifest.digest().clone());
        }
        Ok(())
    }

    /// Everything `manifest` references, on the target: an image's blobs, an index's children (each put by
    /// digest, several at once). `manifest` itself is not put.
    pub(crate) fn copy_children<'s>(&'s self, manifest: &'s Manifest, depth: usize) -> BoxFuture<'s, Result<()>> {
        Box::pin(async move {
            if let Some(image) = manifest.as_image() {
                let mut blobs = vec![image.config().clone()];
                blobs.extend(image.layers().iter().filter(|d| is_distributable(d)).cloned());
                return self.push_blobs(blobs).await.map_err(|e| e.context(format!("blobs of {}", manifest.digest())));
            }
            let Some(index) = manifest.as_index() else {
                return Err(Error::unsupported(format!("{}: neither an image nor an index", manifest.digest())));
            };
            if depth >= MAX_DEPTH {
                return Err(Error::unsupported(format!(
                    "index {} nested more than {MAX_DEPTH} levels deep",
                    manifest.digest()
                )));
            }
            // One future per entry (an index has few), run a few at a time.
            let entries: Vec<_> =
                index.manifests().iter().map(|entry| self.copy_entry(manifest.digest(), entry, depth)).collect();
            stream::iter(entries).buffer_unordered(CHILD_CONCURRENCY).try_collect::<Vec<()>>().await?;
            Ok(())
        })
    }

    /// One entry of the index `parent`: its children, then itself by digest.
    async fn copy_entry(&self, parent: &Digest, entry: &Descriptor, depth: usize) -> Result<()> {
        let digest = descriptor_digest(entry)?;
        let reference = format!("@{digest}");
        let child = self
            .source
            .get_manifest(&reference)
            .await
            .map_err(|e| e.context(format!("entry {digest} of index {parent}")))?
            .into_manifest();
        self.copy_children(&child, depth.saturating_add(1)).await?;
        self.put(&reference, &child).await
    }

    /// Push `blobs` to the target through its own push path, counting what each push did.
    async fn push_blobs(&self, blobs: Vec<Descriptor>) -> Result<()> {
        let pushes: Vec<_> = blobs.into_iter().map(|d| self.push_blob_once(d)).collect();
        stream::iter(pushes).buffer_unordered(BLOB_CONCURRENCY).try_collect::<Vec<()>>().await?;
        Ok(())
    }

    /// Push `d` unless this copy pushed it already (or is pushing it: then wait for that push).
    async fn push_blob_once(&self, d: Descriptor) -> Result<()> {
        let digest = descriptor_digest(&d)?;
        let cell = lock(&self.seen).entry(digest.clone()).or_default().clone();
        cell.get_or_try_init(|| self.push_blob(&d, &digest)).await?;
        Ok(())
    }

    /// Push one blob: claimed through the hooks (upload, or mount where another copy put it), counted.
    async fn push_blob(&self, d: &Descriptor, digest: &Digest) -> Result<()> {
        if self.hooks.as_ref().is_some_and(|h| h.known_in_target(digest)) {
            lock(&self.state).report.count_blob(BlobPushed::AlreadyPresent);
            return Ok(());
        }
        let (mount_from, ticket) = match &self.hooks {
            Some(h) => match h.claim_blob(digest).await {
                Claim::Owner(ticket) => (self.mount_from.clone(), Some(ticket)),
                Claim::MountFrom(repository) => (Some(repository), None),
            },
            None => (self.mount_from.clone(), None),
        };
        let result = self.target.push_blob(d, &*self.blobs, mount_from.as_ref()).await;
        if let (Some(h), Some(_)) = (&self.hooks, &ticket) {
            h.blob_done(digest, result.is_ok());
        }
        drop(ticket);
        let pushed = result?;
        if let Some(h) = &self.hooks {
            h.blob_in_target(digest);
        }
        lock(&self.state).report.count_blob(pushed);
        Ok(())
    }

    /// The referrers of every manifest copied so far, and theirs, put by digest.
    pub(crate) async fn copy_referrers(&self) -> Result<()> {
        let mut next = 0;
        let mut done: HashSet<Digest> = HashSet::new();
        loop {
            let Some(subject) = lock(&self.state).copied.get(next).cloned() else { break };
            next = next.saturating_add(1);
            if !done.insert(subject.clone()) {
                continue;
            }
            let referrers = self
                .source
                .list_referrers(subject.as_str(), None)
                .await
                .map_err(|e| e.context(format!("referrers of {subject}")))?;
            for referrer in referrers {
                let digest = descriptor_digest(&referrer)?;
                if done.contains(&digest) || lock(&self.state).copied.contains(&digest) {
                    continue;
                }
                if lock(&self.state).report.referrers_copied >= MAX_REFERRERS {
                    return Err(Error::unsupported(format!("more than {MAX_REFERRERS} referrers to copy")));
                }
                let reference = format!("@{digest}");
                let manifest = self
                    .source
                    .get_manifest(&reference)
                    .await
                    .map_err(|e| e.context(format!("referrer {digest} of {subject}")))?
                    .into_manifest();
                self.copy_children(&manifest, 0).await?;
                self.put(&reference, &manifest).await?;
                let mut state = lock(&self.state);
                state.report.referrers_copied = state.report.referrers_copied.saturating_add(1);
            }
        }
        Ok(())
    }
}

/// Whether a layer may be pushed: foreign / non-distributable layers (Windows base layers) stay where their URLs
/// say.
fn is_distributable(d: &Descriptor) -> bool {
    let mt = d.media_type().to_string();
    !(mt.contains("foreign") || mt.contains("nondistributable"))
}
