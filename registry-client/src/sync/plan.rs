//! The plan: every source image listed and filtered, paired with its target, and compared by digest.

mod compare;
mod list;

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use registry_core::Result;
use serde::{Deserialize, Serialize};

use super::connect::{check_settings, Connector};
use super::endpoint::ImageRef;
use super::shard::Shard;
use super::spec::{SyncEntry, SyncSpec};
use crate::digest_tag::digest_tag_subject;
use compare::{compare, Compared};
use list::{list_entry, Candidate};

/// Images compared (two HEADs each in the plain case) at once.
const COMPARE_CONCURRENCY: usize = 16;
/// Spec entries planned at once (their items keep the spec's order).
const ENTRY_CONCURRENCY: usize = 4;

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
    /// The digest the copy writes (`sha256:<hex>`): the source manifest's, or with a platform filter that of the
    /// platform's manifest or the filtered index; `None` when it could not be read.
    pub source_digest: Option<String>,
    /// The digest of the source reference itself (`sha256:<hex>`), when a platform filter makes the copy's digest
    /// (`source_digest`) another: digest tags of referrers name this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_digest: Option<String>,
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
/// plain case; no blob is read). An entry whose source cannot be listed becomes a [`Action::Failed`] item naming the
/// entry's line; a tag that cannot be read too; the others go on. The same target planned twice: the later item is
/// `Failed` ("also the target of entry at line N"). With `referrers: true`, digest tags (`sha256-<hex>.sig`,
/// `.att`, `.sbom`, `sha256-<hex>`) naming the digest of a planned image are planned with it, whatever the tag
/// filters say; a layout source's digest tags are never images of their own (without `referrers: true` they stay
/// behind, and one naming no planned image, an orphan, always does), while a registry's are ordinary tags unless
/// `referrers` is on (as regsync has it). An entry's `platforms` are a filter (regsync's): an index keeps the listed platforms it has (one:
/// that child alone; several: a filtered index; all: the index whole), and an index with none of them, or a
/// single-platform image of another platform, is left out of the plan (logged at info with why); a single-platform
/// image whose config names no platform is kept. Both sides of an image are read at once, images 16 at once and
/// entries 4 at once; the order is stable: entry, then source reference.
///
/// Before any request the spec's `registries:` settings are checked (password files and variables, CA files),
/// and a host no entry uses is warned about (tracing `warn`).
///
/// Errors: `InvalidInput` naming the host and the key for a `registries:` setting that cannot work (a password
/// file unreadable or empty, a password variable unset or empty, a CA file unreadable or without a PEM
/// certificate); every other failure is an item.
pub async fn plan(spec: &SyncSpec, connector: &Connector) -> Result<Plan> {
    check_settings(spec)?;
    // The futures made first (a closure in the stream would not be `Send` for every lifetime in a spawned task).
    let entries: Vec<_> =
        spec.entries.iter().enumerate().map(|(index, entry)| plan_entry(index, entry, connector)).collect();
    let per_entry: Vec<Vec<PlanItem>> = stream::iter(entries).buffered(ENTRY_CONCURRENCY).collect().await;
    let mut items: Vec<PlanItem> = per_entry.into_iter().flatten().collect();
    let mut first: HashMap<ImageRef, usize> = HashMap::new();
    for item in &mut items {
        if matches!(item.action, Action::Failed(_)) || item.target.reference == "*" {
            continue;
        }
        let line = spec.entries.get(item.entry).map_or(0, |e| e.line);
        match first.get(&item.target) {
            Some(earlier) => {
                item.action = Action::Failed(format!("{}: also the target of entry at line {earlier}", item.target))
            }
            None => {
                first.insert(item.target.clone(), line);
            }
        }
    }
    let count = |f: fn(&Action) -> bool| items.iter().filter(|i| f(&i.action)).count();
    tracing::info!(
        "plan: {} images: {} to copy, {} skipped, {} conflicts, {} failed",
        items.len(),
        count(|a| *a == Action::Copy),
        count(|a| *a == Action::Skip),
        count(|a| *a == Action::Conflict),
        count(|a| matches!(a, Action::Failed(_))),
    );
    Ok(Plan { items })
}

/// The items of one entry, sorted by source reference, failures last.
async fn plan_entry(index: usize, entry: &SyncEntry, connector: &Connector) -> Vec<PlanItem> {
    let listed = list_entry(entry, connector).await;
    let mut items: Vec<PlanItem> = compare_all(index, entry, connector, listed.images).await;
    if !listed.digest_tags.is_empty() {
        let planned: std::collections::HashSet<String> =
            items.iter().flat_map(|i| [i.source_digest.clone(), i.subject_digest.clone()]).flatten().collect();
        let travelling: Vec<Candidate> = listed
            .digest_tags
            .into_iter()
            .filter(|c| digest_tag_subject(&c.source.reference).is_some_and(|d| planned.contains(&d)))
            .filter(|c| !items.iter().any(|i| i.source == c.source))
            .collect();
        items.extend(compare_all(index, entry, connector, travelling).await);
    }
    items.sort_by(|a, b| a.source.cmp(&b.source));
    items.extend(listed.failed.into_iter().map(|(c, error)| PlanItem {
        entry: index,
        source: c.source,
        target: c.target,
        source_digest: None,
        target_digest: None,
        subject_digest: None,
        action: Action::Failed(error),
    }));
    items
}

/// Compare `candidates` with their targets, several at once, in order.
async fn compare_all(
    index: usize,
    entry: &SyncEntry,
    connector: &Connector,
    candidates: Vec<Candidate>,
) -> Vec<PlanItem> {
    let compared: Vec<Option<PlanItem>> = stream::iter(candidates)
        .map(|c| item(index, entry, connector, c))
        .buffered(COMPARE_CONCURRENCY)
        .collect()
        .await;
    compared.into_iter().flatten().collect()
}

/// One candidate compared: its item, `None` when the entry's platform filter leaves it out (logged at info).
async fn item(index: usize, entry: &SyncEntry, connector: &Connector, c: Candidate) -> Option<PlanItem> {
    let compared = compare(connector, &c, &entry.platforms).await;
    let mut target = c.target;
    let (source_digest, subject_digest, target_digest, action) = match compared {
        // The item names its source: the error is not prefixed with it again.
        Err(e) => (None, None, None, Action::Failed(e.to_string())),
        Ok(Compared::LeftOut(why)) => {
            tracing::info!("{}: left out by the platform filter (entry at line {}): {why}", c.source, entry.line);
            return None;
        }
        Ok(Compared::Digests { source, copy, target: found, target_reference }) => {
            if let Some(reference) = target_reference {
                target.reference = reference;
            }
            let action = match &found {
                Some(t) if *t == copy => Action::Skip,
                Some(_) if !entry.overwrite => Action::Conflict,
                _ => Action::Copy,
            };
            (Some(copy.to_string()), Some(source.to_string()), found.map(|t| t.to_string()), action)
        }
    };
    Some(PlanItem { entry: index, source: c.source, target, source_digest, target_digest, subject_digest, action })
}
