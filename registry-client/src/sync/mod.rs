//! The sync engine: mirror many images between registries and OCI layouts from a declarative spec (regsync,
//! `skopeo sync`), planned first and then run.
//!
//! The flow is three values and two steps: a [`SyncSpec`] (read from YAML) is turned by [`plan`] into a [`Plan`]
//! (every source image listed, filtered and compared by digest with its target; a value, serialisable, so dry runs,
//! shards and journals read the same thing), which [`run`] carries out into a [`SyncReport`]. [`sync`] does both.
//! A [`Connector`] turns the spec's hosts and layout directories into [`Client`](crate::Client)s.
//!
//! - Planning costs one HEAD per side per image in the plain case (a platform filter reads the manifest to know the
//!   digest the copy writes); an image whose target already has its digest is `skipped` without a blob request.
//! - A run copies [`RunOptions::max_concurrent_images`] images at once through [`copy_image`](crate::copy_image)'s
//!   pipeline, bytes bounded by each target client's [`TransferOptions`](crate::TransferOptions). Each distinct
//!   blob is uploaded at most once per target registry: the first image needing it uploads it, the others wait and
//!   mount it from that image's repository (a cross-repository mount: no bytes).
//! - [`RunOptions::journal`] keeps a JSON-lines file of images done, blobs present and open upload sessions: a run
//!   killed (SIGKILL) and started again with it mounts what the killed run uploaded and resumes its half-sent
//!   chunked uploads. [`RunOptions::cancel`] (SIGTERM) stops starting images and lets those in flight finish.
//! - [`Shard`] splits a plan among N processes by the SHA-256 of each target reference (a Kubernetes Indexed Job).
//!
//! ```no_run
//! use registry_client::sync::{self, Connector, ConnectOptions, RunOptions, SyncSpec};
//! # async fn demo() -> registry_client::Result<()> {
//! let spec = SyncSpec::read("sync.yaml").await?;
//! let connector = Connector::new(&spec, ConnectOptions::default());
//! let report = sync::sync(&spec, &connector, RunOptions::default()).await?;
//! println!("{} images, {} failed", report.images.len(), report.failed);
//! # Ok(()) }
//! ```

mod connect;
mod endpoint;
mod filter;
mod journal;
mod ledger;
mod plan;
mod report;
mod run;
mod shard;
mod spec;

pub use connect::{ConnectOptions, Connector, SYNC_MAX_CONCURRENT_BLOBS};
pub use endpoint::{Endpoint, ImageRef, Location};
pub use filter::TagFilter;
pub use plan::{plan, Action, Plan, PlanItem};
pub use report::{BlobCounts, ImageReport, ImageStatus, SyncEvent, SyncEventFn, SyncReport};
pub use run::{run, RunOptions};
pub use shard::Shard;
pub use spec::{RegistrySettings, SyncEntry, SyncSpec};

use registry_core::Result;

/// Plan `spec` and run the plan: [`plan`], then [`Plan::shard`] when `opts` names a shard, then [`run`].
///
/// Errors: `InvalidInput` before any request when [`RunOptions::journal`] names a file whose directory does not
/// exist (or a directory), dry run or not; those of [`plan`] (a spec entry whose source cannot be listed is not an
/// error: it is a failed item of the report) and of [`run`] (an unreadable journal). A failing image is in the
/// report, never an `Err`.
pub async fn sync(spec: &SyncSpec, connector: &Connector, opts: RunOptions) -> Result<SyncReport> {
    if let Some(path) = &opts.journal {
        journal::check_path(path)?;
    }
    let mut planned = plan(spec, connector).await?;
    if let Some(shard) = opts.shard {
        planned = planned.shard(shard);
    }
    run(&planned, spec, connector, opts).await
}

#[cfg(test)]
mod tests;
