//! Carrying out a plan: images in parallel, blobs bounded by bytes in flight, each blob uploaded once per target
//! registry, a journal to restart from.

mod hooks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use registry_core::{Error, Repository, Result};
use tokio_util::sync::CancellationToken;

use super::connect::Connector;
use super::endpoint::Location;
use super::journal::Journal;
use super::ledger::Ledger;
use super::plan::{Action, Plan, PlanItem};
use super::report::{BlobCounts, ImageReport, ImageStatus, SyncEvent, SyncEventFn, SyncReport};
use super::shard::Shard;
use super::spec::SyncSpec;
use crate::client::Client;
use crate::copy::hooks::CopyHooks;
use crate::copy::platforms::PlatformMode;
use crate::copy::{copy_image_with, CopyOptions, CopyReport};
use hooks::ImageHooks;

/// Images copied at once when [`RunOptions::max_concurrent_images`] is 0.
const DEFAULT_CONCURRENT_IMAGES: usize = 8;
/// The error of an image a cancelled run did not start.
const NOT_STARTED: &str = "not started: the run was interrupted";

/// How a plan is run.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Print the plan only: every image `planned` or `skipped`, nothing written anywhere.
    pub dry_run: bool,
    /// The journal file (`--journal`): what is done and open upload sessions, so a killed run resumes.
    pub journal: Option<PathBuf>,
    /// Only this shard of the plan (used by [`sync`](super::sync)).
    pub shard: Option<Shard>,
    /// Images copied at once (0: the default, 8). Blobs are bounded by the clients' transfer limits.
    pub max_concurrent_images: usize,
    /// Cancelled on SIGTERM: no new image starts, uploads in flight finish or are recorded in the journal, and the
    /// report says `interrupted`.
    pub cancel: CancellationToken,
    /// Called as the run goes.
    pub events: Option<SyncEventFn>,
}

impl RunOptions {
    /// The defaults: a real run, no journal, the whole plan, 8 images at once, never cancelled, no events.
    #[must_use]
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    /// Only print the plan (see [`RunOptions::dry_run`](#structfield.dry_run)).
    #[must_use]
    pub fn dry_run(mut self, on: bool) -> RunOptions {
        self.dry_run = on;
        self
    }

    /// Keep a journal at `path` (see [`RunOptions::journal`](#structfield.journal)).
    #[must_use]
    pub fn journal(mut self, path: impl Into<PathBuf>) -> RunOptions {
        self.journal = Some(path.into());
        self
    }

    /// Run only `shard` of the plan.
    #[must_use]
    pub fn shard(mut self, shard: Shard) -> RunOptions {
        self.shard = Some(shard);
        self
    }

    /// Copy at most `n` images at once (0: the default, 8).
    #[must_use]
    pub fn max_concurrent_images(mut self, n: usize) -> RunOptions {
        self.max_concurrent_images = n;
        self
    }

    /// Stop starting images when `token` is cancelled (SIGTERM).
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> RunOptions {
        self.cancel = token;
        self
    }

    /// Call `callback` with each [`SyncEvent`] as the run goes (from the run's tasks: keep it quick).
    #[must_use]
    pub fn events(mut self, callback: impl Fn(&SyncEvent) + Send + Sync + 'static) -> RunOptions {
        self.events = Some(Arc::new(callback));
        self
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("dry_run", &self.dry_run)
            .field("journal", &self.journal)
            .field("shard", &self.shard)
            .field("max_concurrent_images", &self.max_concurrent_images)
            .field("events", &self.events.as_ref().map(|_| "<callback>"))
            .finish()
    }
}

/// Run `plan` (made from `spec`) with `connector`'s clients.
///
/// Skipped, conflicting and failed items of the plan go straight to the report; the images to copy run
/// [`RunOptions::max_concurrent_images`] at a time (8 by default), taken from the plan as they go (memory stays flat
/// however many there are), each through [`copy_image`](crate::copy_image)'s pipeline, blobs bounded by the target
/// clients' transfer limits. Each distinct blob is uploaded at most once per target registry: the first image
/// needing it uploads it, the others wait for it and mount it from that image's repository. With `overwrite: false`
/// the target tag is checked again just before it is written: moved meanwhile to another digest, it is left alone
/// and the image is a `conflict`. A failing image does not stop the others: it is a `failed` image of the report.
///
/// A dry run writes nothing anywhere (no request that writes, no layout directory, no journal): images to copy
/// are `planned`. When [`RunOptions::cancel`] fires, no image starts any more; those in flight finish; the rest are
/// `not_started` (not failed) and the report says `interrupted`. An image's `bytes` are those its uploads read
/// from the source (what was sent). Each image is logged at info as it starts and finishes.
///
/// Errors: `InvalidInput` naming the journal when it is not a journal; `Io` naming it when it cannot be read or
/// written.
pub async fn run(plan: &Plan, spec: &SyncSpec, connector: &Connector, opts: RunOptions) -> Result<SyncReport> {
    let started = Instant::now();
    let journal = match (&opts.journal, opts.dry_run) {
        (Some(path), false) => {
            let path = path.clone();
            let opened = tokio::task::spawn_blocking(move || Journal::open(&path))
                .await
                .map_err(|e| Error::new(registry_core::ErrorKind::Io, format!("journal: {e}")))??;
            Some(Arc::new(opened))
        }
        _ => None,
    };
    let ledger = Arc::new(Ledger::default());
    if let Some(j) = &journal {
        for (host, repository, digest) in j.blobs() {
            ledger.know(&host, &digest, repository);
        }
        connector.use_upload_journal(j.clone());
    }
    let ctx = RunContext { spec, connector, ledger, journal, events: opts.events.clone(), cancel: opts.cancel.clone() };
    let to_copy = plan.items.iter().filter(|i| i.action == Action::Copy).count();
    ctx.emit(|| SyncEvent::Started { images: if opts.dry_run { 0 } else { to_copy } });
    let mut images: Vec<Option<ImageReport>> = vec![None; plan.items.len()];
    for (i, item) in plan.items.iter().enumerate() {
        let report = match &item.action {
            Action::Copy if !opts.dry_run => continue,
            Action::Copy => image_report(item, ImageStatus::Planned, item.source_digest.clone(), None),
            Action::Skip => image_report(item, ImageStatus::Skipped, item.source_digest.clone(), None),
            Action::Conflict => {
                let why = format!(
                    "{} points at {} and overwrite is false: left alone",
                    item.target,
                    item.target_digest.as_deref().unwrap_or("another digest")
                );
                image_report(item, ImageStatus::Conflict, item.source_digest.clone(), Some(why))
            }
            Action::Failed(e) => {
                let mut report = image_report(item, ImageStatus::Failed, None, Some(e.clone()));
                if item.source.reference == "*" {
                    // A whole entry failed (its source could not be listed): both ends as the spec writes them.
                    if let Some(entry) = spec.entries.get(item.entry) {
                        report.source = entry.source.to_string();
                        report.target = entry.target.to_string();
                    }
                }
                report
            }
        };
        ctx.emit(|| SyncEvent::ImageFinished { item: i, report: report.clone() });
        if let Some(slot) = images.get_mut(i) {
            *slot = Some(report);
        }
    }
    let mut blobs = BlobCounts::default();
    if !opts.dry_run {
        let limit = match opts.max_concurrent_images {
            0 => DEFAULT_CONCURRENT_IMAGES,
            n => n,
        };
        let ctx = &ctx;
        // Indices only: each image's future is made when its turn comes, so memory stays flat. Digest tags
        // (`sha256-<hex>` referrers indexes, cosign's `.sig`/`.att`/`.sbom`) go after every other image: a subject
        // copied with its referrers writes the same manifests and tags, and two writers of one manifest at once
        // can make docker-registry answer MANIFEST_BLOB_UNKNOWN (it rewrites a link file in place).
        let items = &plan.items;
        let (digest_tags, images_first): (Vec<usize>, Vec<usize>) = (0..items.len())
            .filter(|i| items[*i].action == Action::Copy)
            .partition(|i| crate::digest_tag::is_digest_tag(&items[*i].source.reference));
        let mut done = stream::iter(images_first)
            .map(move |i| ctx.copy_one(i, &items[i]))
            .buffer_unordered(limit)
            .chain(stream::iter(digest_tags).map(move |i| ctx.copy_one(i, &items[i])).buffer_unordered(limit));
        while let Some((i, report, copied)) = done.next().await {
            match &report.error {
                Some(e) => tracing::info!("{:?} {} -> {}: {e}", report.status, report.source, report.target),
                None => tracing::info!(
                    "{:?} {} -> {} ({} bytes sent)",
                    report.status,
                    report.source,
                    report.target,
                    report.bytes
                ),
            }
            if let Some(c) = copied {
                blobs.uploaded = blobs.uploaded.saturating_add(c.blobs_uploaded as u64);
                blobs.mounted = blobs.mounted.saturating_add(c.blobs_mounted as u64);
                blobs.skipped = blobs.skipped.saturating_add(c.blobs_skipped as u64);
            }
            ctx.emit(|| SyncEvent::ImageFinished { item: i, report: report.clone() });
            if let Some(slot) = images.get_mut(i) {
                *slot = Some(report);
            }
        }
    }
    let images: Vec<ImageReport> = images.into_iter().flatten().collect();
    let count = |status: ImageStatus| images.iter().filter(|i| i.status == status).count();
    let (copied, skipped, conflicts) =
        (count(ImageStatus::Copied), count(ImageStatus::Skipped), count(ImageStatus::Conflict));
    let (failed, not_started) = (count(ImageStatus::Failed), count(ImageStatus::NotStarted));
    Ok(SyncReport {
        images,
        blobs,
        copied,
        skipped,
        conflicts,
        failed,
        not_started,
        seconds: started.elapsed().as_secs_f64(),
        interrupted: opts.cancel.is_cancelled(),
    })
}

/// A report of `item` with `status`.
fn image_report(item: &PlanItem, status: ImageStatus, digest: Option<String>, error: Option<String>) -> ImageReport {
    ImageReport { source: item.source.to_string(), target: item.target.to_string(), digest, status, bytes: 0, error }
}

/// What every image of a run shares.
struct RunContext<'a> {
    spec: &'a SyncSpec,
    connector: &'a Connector,
    ledger: Arc<Ledger>,
    journal: Option<Arc<Journal>>,
    events: Option<SyncEventFn>,
    cancel: CancellationToken,
}

impl RunContext<'_> {
    fn emit(&self, make: impl FnOnce() -> SyncEvent) {
        if let Some(events) = &self.events {
            events(&make());
        }
    }

    /// Copy plan item `i`: its report, and the copy's when it ran.
    async fn copy_one(&self, i: usize, item: &PlanItem) -> (usize, ImageReport, Option<CopyReport>) {
        if self.cancel.is_cancelled() {
            return (i, image_report(item, ImageStatus::NotStarted, None, Some(NOT_STARTED.to_string())), None);
        }
        tracing::info!("started {} -> {}", item.source, item.target);
        self.emit(|| SyncEvent::ImageStarted {
            item: i,
            source: item.source.to_string(),
            target: item.target.to_string(),
        });
        let Some(entry) = self.spec.entries.get(item.entry) else {
            let why = format!("plan item {i} names entry {} the spec does not have", item.entry);
            return (i, image_report(item, ImageStatus::Failed, None, Some(why)), None);
        };
        let (source, target, key) = match self.clients(item).await {
            Ok(clients) => clients,
            Err(e) => return (i, image_report(item, ImageStatus::Failed, None, Some(e.to_string())), None),
        };
        let hooks = Arc::new(ImageHooks {
            item: i,
            ledger: self.ledger.clone(),
            target: key,
            journal: self.journal.clone(),
            events: self.events.clone(),
            overwrite: entry.overwrite,
            conflict: AtomicBool::new(false),
            bytes: AtomicU64::new(0),
        });
        // Digest tags are items of the plan of their own: the copy does not bring them again.
        let opts = CopyOptions::default()
            .platforms(entry.platforms.clone())
            .platform_mode(PlatformMode::Present)
            .referrers(entry.referrers)
            .digest_tags(false);
        let dyn_hooks: Arc<dyn CopyHooks> = hooks.clone();
        let copied =
            copy_image_with(&*source, &item.source.reference, &*target, &item.target.reference, &opts, Some(dyn_hooks))
                .await;
        match copied {
            Ok(copied) => {
                let digest = copied.target_digest.to_string();
                if let Some(journal) = &self.journal {
                    if let Err(e) = journal.image_done(&item.target.to_string(), &copied.target_digest) {
                        tracing::warn!("{e}");
                    }
                }
                let mut report = image_report(item, ImageStatus::Copied, Some(digest), None);
                report.bytes = hooks.bytes.load(Ordering::Relaxed);
                (i, report, Some(copied))
            }
            Err(e) => {
                let status =
                    if hooks.conflict.load(Ordering::Relaxed) { ImageStatus::Conflict } else { ImageStatus::Failed };
                let mut report = image_report(item, status, item.source_digest.clone(), Some(e.to_string()));
                report.bytes = hooks.bytes.load(Ordering::Relaxed);
                (i, report, None)
            }
        }
    }

    /// The clients of `item`'s source and target, and the target's ledger key (host and repository; `None` for a
    /// layout). The target's layout directory is created when missing.
    async fn clients(
        &self,
        item: &PlanItem,
    ) -> Result<(Arc<dyn Client>, Arc<dyn Client>, Option<(String, Repository)>)> {
        let source = self.connector.client(&item.source.location).await?;
        let target = self.connector.client(&item.target.location).await?;
        let key = match &item.target.location {
            Location::Registry { host, .. } => target.blobs()?.repository().cloned().map(|r| (host.clone(), r)),
            Location::Layout { .. } => None,
        };
        Ok((source, target, key))
    }
}
