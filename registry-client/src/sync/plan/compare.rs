//! Comparing one candidate's source and target by digest: both sides read at once.

use registry_core::{Digest, ErrorKind, Result};

use super::list::{source_client, Candidate};
use crate::copy::platforms::{planned_digest, PlannedCopy, PlatformMode};
use crate::image::platform::Platform;
use crate::sync::connect::Connector;

/// The digests of one candidate.
#[derive(Debug)]
pub(crate) enum Compared {
    /// It is copied (or skipped when the target has `copy`).
    Digests {
        /// The source reference's own digest.
        source: Digest,
        /// The digest a copy with the entry's platforms writes (`source` without a platform filter).
        copy: Digest,
        /// The target's digest for its reference, `None` when absent.
        target: Option<Digest>,
        /// The target reference when it is not the candidate's: a target by digest takes the digest the copy
        /// writes (`@sha256:…`), which a platform filter changes.
        target_reference: Option<String>,
    },
    /// The entry's platform filter leaves it out: why.
    LeftOut(String),
}

/// Read both sides' digests at once: one HEAD each in the plain case (no blob); the platforms are a filter, applied
/// exactly as the run's copy applies them. Errors: the source's (it cannot be read) and the target's other than
/// `NotFound`.
pub(crate) async fn compare(connector: &Connector, c: &Candidate, platforms: &[Platform]) -> Result<Compared> {
    let source_side = async {
        let source_client = source_client(connector, &c.source.location).await?;
        planned_digest(&*source_client, &c.source.reference, platforms, PlatformMode::Present).await
    };
    let target_side = async {
        match connector.existing(&c.target.location).await? {
            None => Ok(None),
            Some(client) => match client.get_digest(&c.target.reference).await {
                Ok(d) => Ok(Some(d)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.context(format!("target {}", c.target))),
            },
        }
    };
    let ((source, copy), target) = futures::future::try_join(source_side, target_side).await?;
    Ok(match copy {
        // A target by digest (an untagged image) is the digest the copy writes: when a platform filter changed it,
        // the target is asked again about that one.
        PlannedCopy::Digest(copy)
            if c.target.reference.starts_with('@') && c.target.reference[1..] != *copy.as_str() =>
        {
            let reference = format!("@{copy}");
            let target = match connector.existing(&c.target.location).await? {
                None => None,
                Some(client) => match client.get_digest(&reference).await {
                    Ok(d) => Some(d),
                    Err(e) if e.kind() == ErrorKind::NotFound => None,
                    Err(e) => return Err(e.context(format!("target {}", c.target))),
                },
            };
            Compared::Digests { source, copy, target, target_reference: Some(reference) }
        }
        PlannedCopy::Digest(copy) => Compared::Digests { source, copy, target, target_reference: None },
        PlannedCopy::LeftOut(why) => Compared::LeftOut(why),
    })
}
