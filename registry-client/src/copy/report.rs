//! [`CopyReport`]: what a copy did.

use registry_core::api::BlobPushed;
use registry_core::Digest;

/// What [`copy_image`](crate::copy_image) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The digest of the manifest `reference` pointed to on the source (`sha256:<hex>`).
    pub source_digest: Digest,
    /// The digest of the manifest written under the target tag (`sha256:<hex>`): the source's unless a platform
    /// filter chose a child or built a filtered index.
    pub target_digest: Digest,
    /// Why `target_digest` differs from `source_digest` (which platform filter); `None` when they are equal.
    pub digest_changed: Option<String>,
    /// Manifests put on the target (images, indexes and referrers, the tagged one included).
    pub manifests_copied: usize,
    /// Blobs uploaded to the target (bytes moved: [`CopyReport::bytes_uploaded`]).
    pub blobs_uploaded: usize,
    /// Blobs the target had already (no bytes moved).
    pub blobs_skipped: usize,
    /// Blobs the target registry linked from the source's repository (cross-repository mount, no bytes moved).
    pub blobs_mounted: usize,
    /// Bytes actually sent for uploads: read from the source as they were uploaded (after a resumed upload only
    /// the rest; a retried one counts again). Mounted and skipped blobs send none.
    pub bytes_uploaded: u64,
    /// Referrer manifests copied (each also counted in `manifests_copied`).
    pub referrers_copied: usize,
    /// Cosign-style digest tags copied (`sha256-<hex>.sig`, `.att`, `.sbom`; each also counted in
    /// `manifests_copied`).
    pub digest_tags_copied: usize,
}

impl CopyReport {
    /// A report of nothing done yet (digests are placeholders until the copy fills them in).
    pub(crate) fn empty() -> CopyReport {
        let zero = Digest::sha256(b"");
        CopyReport {
            source_digest: zero.clone(),
            target_digest: zero,
            digest_changed: None,
            manifests_copied: 0,
            blobs_uploaded: 0,
            blobs_skipped: 0,
            blobs_mounted: 0,
            bytes_uploaded: 0,
            referrers_copied: 0,
            digest_tags_copied: 0,
        }
    }

    /// Count one blob push that ended as `pushed` (its bytes are counted as they are read).
    pub(crate) fn count_blob(&mut self, pushed: BlobPushed) {
        match pushed {
            BlobPushed::Uploaded => self.blobs_uploaded = self.blobs_uploaded.saturating_add(1),
            BlobPushed::Mounted => self.blobs_mounted = self.blobs_mounted.saturating_add(1),
            // A kind added later counts as present: no bytes known to have moved.
            _ => self.blobs_skipped = self.blobs_skipped.saturating_add(1),
        }
    }
}
