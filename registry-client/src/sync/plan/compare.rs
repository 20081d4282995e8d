//! Comparing one candidate's source and target by digest.

use registry_core::{Digest, ErrorKind, Result};

use super::list::{source_client, Candidate};
use crate::copy::platforms::planned_digest;
use crate::image::platform::Platform;
use crate::sync::connect::Connector;

/// The digests of one candidate.
#[derive(Debug)]
pub(crate) struct Compared {
    /// The source reference's own digest.
    pub(crate) source: Digest,
    /// The digest a copy with the entry's platforms writes (`source` without a platform filter).
    pub(crate) copy: Digest,
    /// The target's digest for its reference, `None` when absent.
    pub(crate) target: Option<Digest>,
}

/// Read both sides' digests: one HEAD each in the plain case (no blob). Errors: the source's (it cannot be read)
/// and the target's other than `NotFound`.
pub(crate) async fn compare(connector: &Connector, c: &Candidate, platforms: &[Platform]) -> Result<Compared> {
    let source_client = source_client(connector, &c.source.location).await?;
    let (source, copy) = planned_digest(&*source_client, &c.source.reference, platforms).await?;
    let target = match connector.existing(&c.target.location).await? {
        None => None,
        Some(client) => match client.get_digest(&c.target.reference).await {
            Ok(d) => Some(d),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e.context(format!("target {}", c.target))),
        },
    };
    Ok(Compared { source, copy, target })
}
