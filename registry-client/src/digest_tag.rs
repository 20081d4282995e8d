//! Tags that name a digest rather than an image of their own: the referrers tag schema's `sha256-<hex>` (OCI
//! distribution spec, "Referrers Tag Schema") and cosign's `sha256-<hex>.sig`, `.att`, `.sbom`. A leaf.

/// Whether `tag` is a digest tag: `sha256-` followed by 64 lowercase hex digits, and nothing more (the referrers
/// tag schema's fallback index) or `.sig`, `.att` or `.sbom` (cosign's signature, attestation and SBOM tags).
/// Such tags hold what refers to another image, so "the one image" of a layout or archive leaves them out; a tag
/// list still shows them. Never fails.
///
/// ```
/// let hex = "ab".repeat(32);
/// assert!(registry_client::is_digest_tag(&format!("sha256-{hex}")));
/// assert!(registry_client::is_digest_tag(&format!("sha256-{hex}.sig")));
/// assert!(!registry_client::is_digest_tag("v1"));
/// ```
pub fn is_digest_tag(tag: &str) -> bool {
    digest_tag_subject(tag).is_some()
}

/// The digest (`sha256:<hex>`) a digest tag names (see [`is_digest_tag`]); `None` for any other tag.
pub(crate) fn digest_tag_subject(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_at_checked(64)?;
    let suffix_ok = matches!(suffix, "" | ".sig" | ".att" | ".sbom");
    let hex_ok = hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (suffix_ok && hex_ok).then(|| format!("sha256:{hex}"))
}

/// The digest a cosign tag names: a digest tag with a `.sig`, `.att` or `.sbom` suffix (not the referrers tag
/// schema's bare `sha256-<hex>` index, which referrers copying handles); `None` for any other tag.
pub(crate) fn cosign_tag_subject(tag: &str) -> Option<String> {
    digest_tag_subject(tag).filter(|_| tag.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::is_digest_tag;

    #[test]
    fn digest_tags_are_sha256_hex_with_a_cosign_suffix_or_none() {
        let hex = "0f".repeat(32);
        for suffix in ["", ".sig", ".att", ".sbom"] {
            assert!(is_digest_tag(&format!("sha256-{hex}{suffix}")), "{suffix:?}");
        }
        assert!(!is_digest_tag(&format!("sha256-{hex}.txt")));
        assert!(!is_digest_tag(&format!("sha256-{}", "0F".repeat(32))), "uppercase hex");
        assert!(!is_digest_tag(&format!("sha256-{}", "0f".repeat(31))), "short");
        assert!(!is_digest_tag(&format!("sha512-{hex}")));
        assert!(!is_digest_tag("sha256-"));
        assert!(!is_digest_tag("v1.2.0"));
    }
}
