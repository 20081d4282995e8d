//! What a sync did: per image, and blob counts; and the events a run reports as it goes.

use serde::{Deserialize, Serialize};

/// What happened to one image (`status` in the JSON report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageStatus {
    /// A dry run would copy it.
    Planned,
    /// Copied.
    Copied,
    /// The target already had it (same digest), or the journal says an earlier run copied it.
    Skipped,
    /// The target tag points at another digest and the entry says `overwrite: false`: left alone.
    Conflict,
    /// Failed: see `error`.
    Failed,
    /// Not started: the run was stopped (SIGTERM) before its turn came. Not counted as failed; the report's
    /// `interrupted` is true.
    #[serde(rename = "not_started")]
    NotStarted,
}

/// One image of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImageReport {
    /// The source reference (`host/repo:tag`, `oci:DIR:tag`).
    pub source: String,
    /// The target reference.
    pub target: String,
    /// The digest copied or found (`sha256:<hex>`), when known.
    pub digest: Option<String>,
    /// What happened.
    pub status: ImageStatus,
    /// Bytes actually sent to the target for this image: read from the source as its uploads went (after a
    /// resumed upload only the rest; blobs mounted, present, or uploaded by another image of the run send none).
    pub bytes: u64,
    /// Why it failed or conflicts.
    pub error: Option<String>,
}

/// Blob counts over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlobCounts {
    /// Blobs uploaded (bytes moved).
    pub uploaded: u64,
    /// Blobs mounted from another repository of the same registry.
    pub mounted: u64,
    /// Blobs the target had already.
    pub skipped: u64,
}

/// The report of a run (the JSON `--format json` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// Every image of the plan (this shard's), in plan order.
    pub images: Vec<ImageReport>,
    /// Blob counts.
    pub blobs: BlobCounts,
    /// How many images were copied.
    pub copied: usize,
    /// How many images were skipped (the target had them).
    pub skipped: usize,
    /// How many images conflict (`overwrite: false` and the target tag points elsewhere).
    pub conflicts: usize,
    /// How many images failed.
    pub failed: usize,
    /// How many images did not start because the run was stopped.
    pub not_started: usize,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// Whether the run was stopped (SIGTERM: [`RunOptions::cancel`](super::RunOptions)); `not_started` says how
    /// many images it left.
    pub interrupted: bool,
}

impl SyncReport {
    /// Whether anything failed or the run was interrupted (a command's exit status is non-zero then).
    pub fn is_failure(&self) -> bool {
        self.failed > 0 || self.interrupted
    }
}

/// What a run reports as it goes (for progress bars and logs).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SyncEvent {
    /// The run starts: how many images it has to copy (0 for a dry run).
    Started {
        /// Images to copy (not counting those skipped, in conflict or failed at planning).
        images: usize,
    },
    /// Image `item` (its index in the plan) starts copying.
    ImageStarted {
        /// Index in the plan.
        item: usize,
        /// The source reference.
        source: String,
        /// The target reference.
        target: String,
    },
    /// `bytes` more bytes of image `item` reached the target.
    Bytes {
        /// Index in the plan.
        item: usize,
        /// Bytes since the last event of this image.
        bytes: u64,
    },
    /// Image `item` finished (whatever the status).
    ImageFinished {
        /// Index in the plan.
        item: usize,
        /// Its report.
        report: ImageReport,
    },
}

/// A callback for [`SyncEvent`]s, called from the run's tasks (keep it quick).
pub type SyncEventFn = std::sync::Arc<dyn Fn(&SyncEvent) + Send + Sync>;
