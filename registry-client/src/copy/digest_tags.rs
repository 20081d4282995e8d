//! Cosign-style digest tags (`sha256-<hex>.sig`, `.att`, `.sbom`): signatures and attestations stored under a tag
//! naming their subject's digest, by registries without the referrers API (cosign's tag scheme).

use std::collections::HashSet;

use registry_core::{Digest, Result};

use super::copier::Copier;
use crate::client::Client;
use crate::digest_tag::cosign_tag_subject;
use crate::options::ListOptions;

/// At most this many digest tags are copied in one call.
const MAX_DIGEST_TAGS: usize = 10_000;

/// Copy the digest tags of `source`'s repository naming one of `subjects` (one `list_tags`; a source that cannot
/// list tags has none: skipped quietly, logged at debug), each with what it references, under its own tag.
/// Returns how many were copied. Errors: those of reading or putting a digest tag's manifest and blobs.
pub(crate) async fn copy_digest_tags(copier: &Copier<'_>, source: &dyn Client, subjects: &[Digest]) -> Result<usize> {
    let tags = match source.list_tags(ListOptions::default()).await {
        Ok(tags) => tags,
        Err(e) => {
            tracing::debug!("{}: no digest tags looked for, tags cannot be listed: {e}", source.get_registry());
            return Ok(0);
        }
    };
    let wanted: HashSet<String> = subjects.iter().map(ToString::to_string).collect();
    let mut copied = 0usize;
    for tag in tags.iter().filter(|t| cosign_tag_subject(t).is_some_and(|d| wanted.contains(&d))).take(MAX_DIGEST_TAGS)
    {
        let manifest =
            source.get_manifest(tag).await.map_err(|e| e.context(format!("digest tag {tag}")))?.into_manifest();
        copier.copy_children(&manifest, 0).await?;
        copier.put(tag, &manifest).await?;
        copied = copied.saturating_add(1);
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use crate::digest_tag::cosign_tag_subject;

    #[test]
    fn only_cosign_suffixes_name_a_subject() {
        let hex = "a".repeat(64);
        assert_eq!(cosign_tag_subject(&format!("sha256-{hex}.sig")), Some(format!("sha256:{hex}")));
        assert_eq!(cosign_tag_subject(&format!("sha256-{hex}.att")), Some(format!("sha256:{hex}")));
        assert_eq!(cosign_tag_subject(&format!("sha256-{hex}.sbom")), Some(format!("sha256:{hex}")));
        assert_eq!(cosign_tag_subject(&format!("sha256-{hex}.txt")), None);
        assert_eq!(cosign_tag_subject(&format!("sha256-{hex}")), None, "the referrers tag schema's index");
        assert_eq!(cosign_tag_subject(&format!("sha256-{}.sig", "A".repeat(64))), None);
        assert_eq!(cosign_tag_subject("sha256-abc.sig"), None);
        assert_eq!(cosign_tag_subject("v1"), None);
    }
}
