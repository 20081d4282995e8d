//! The plan: every source image listed and filtered, paired with its target, and compared by digest.

use registry_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::connect::Connector;
use super::endpoint::ImageRef;
use super::shard::Shard;
use super::spec::SyncSpec;

/// What a run does with one planned image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// Copy it (the target lacks it or has another digest and may be overwritten).
    Copy,
    /// Nothing to do: the target has the same digest.
    Skip,
    /// The target tag has another digest and the entry says `overwrite: false`.
    Conflict,
    /// Planning it failed (its source could not be listed or read): the error.
    Failed(String),
}

/// One image of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlanItem {
    /// The index of the spec entry it comes from.
    pub entry: usize,
    /// Where it comes from.
    pub source: ImageRef,
    /// Where it goes.
    pub target: ImageRef,
    /// The source manifest's digest (`sha256:<hex>`), when it could be read.
    pub source_digest: Option<String>,
    /// The target's digest for that reference before the run (`None`: absent).
    pub target_digest: Option<String>,
    /// What the run does.
    pub action: Action,
}

/// A plan: a value, serialisable, in a stable order (spec entry, then source reference).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The planned images.
    pub items: Vec<PlanItem>,
}

impl Plan {
    /// Only the items `shard` takes (by the target reference: [`Shard::takes`]).
    #[must_use]
    pub fn shard(self, shard: Shard) -> Plan {
        Plan { items: self.items.into_iter().filter(|i| shard.takes(&i.target.to_string())).collect() }
    }
}

/// List every entry's source (tags of a repository, repositories of a prefix through the catalog, a layout's
/// tags), apply the tag filters, pair each image with its target, and compare digests (one HEAD each side in the
/// plain case; no blob is read). An entry whose source cannot be listed becomes a [`Action::Failed`] item; the
/// others go on. Errors: only what stops planning altogether (none today besides a broken connector).
pub async fn plan(spec: &SyncSpec, connector: &Connector) -> Result<Plan> {
    let _ = (spec, connector);
    Err(Error::unsupported("sync plan: not built yet"))
}
