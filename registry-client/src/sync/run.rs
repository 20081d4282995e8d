//! Carrying out a plan: images in parallel, blobs bounded by bytes in flight, each blob uploaded once per target
//! registry, a journal to restart from.

use std::path::PathBuf;
use std::sync::Arc;

use registry_core::{Error, Result};
use tokio_util::sync::CancellationToken;

use super::connect::Connector;
use super::plan::Plan;
use super::report::{SyncEvent, SyncReport};
use super::shard::Shard;
use super::spec::SyncSpec;

/// A callback for [`SyncEvent`]s, called from the run's tasks (keep it quick).
pub type SyncEventFn = Arc<dyn Fn(&SyncEvent) + Send + Sync>;

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

/// Run `plan` (made from `spec`) with `connector`'s clients. A failing image does not stop the others: it is a
/// `failed` image of the report. Errors: `InvalidInput` for a journal that cannot be read or written.
pub async fn run(plan: &Plan, spec: &SyncSpec, connector: &Connector, opts: RunOptions) -> Result<SyncReport> {
    let _ = (plan, spec, connector, opts);
    Err(Error::unsupported("sync run: not built yet"))
}
