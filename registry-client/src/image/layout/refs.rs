//! References as a layout reads them: a tag (the `org.opencontainers.image.ref.name` of an `index.json` entry), a
//! digest (`@sha256:...`), or both (resolved by the digest); and where a put goes, a tag or the manifest's own
//! digest, with the same rules as [`push_reference`](crate::push_reference) on a registry. A leaf.

use registry_core::{Digest, Error, Reference, Result};

use crate::image::ref_names::scope_hint;

/// What a reference names: a tag, a digest, or both (`v1@sha256:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The tag, validated (docker tag grammar).
    pub(crate) tag: Option<String>,
    /// The digest, validated.
    pub(crate) digest: Option<Digest>,
}

/// Parse `reference`: `v1`, `@sha256:...` or `v1@sha256:...`. `InvalidInput` naming it when the tag or the digest
/// is malformed or it is empty.
pub(crate) fn parse_reference(reference: &str) -> Result<Parsed> {
    let (tag, digest) = match reference.split_once('@') {
        Some((tag, digest)) => (Some(tag).filter(|t| !t.is_empty()), Some(digest)),
        None => (Some(reference), None),
    };
    let tag = match tag {
        Some(t) => {
            Reference::check_tag(t).map_err(|e| {
                let hint = scope_hint(t).map(|h| format!(" ({h})")).unwrap_or_default();
                Error::invalid_input(format!("invalid reference {reference:?}: {e}{hint}"))
            })?;
            Some(t.to_string())
        }
        None => None,
    };
    let digest = digest
        .map(|d| Digest::parse(d).map_err(|e| Error::invalid_input(format!("invalid reference {reference:?}: {e}"))))
        .transpose()?;
    if tag.is_none() && digest.is_none() {
        return Err(Error::invalid_input("empty reference"));
    }
    Ok(Parsed { tag, digest })
}

/// A `digest` argument: `sha256:...` or `@sha256:...`. Anything else, a tag included, is `InvalidInput`.
pub(crate) fn parse_digest_arg(digest: &str) -> Result<Digest> {
    Digest::parse(digest.strip_prefix('@').unwrap_or(digest))
        .map_err(|e| Error::invalid_input(format!("{digest:?} is not a digest (sha256:<hex>): {}", e.message())))
}

/// Where a put of a manifest whose digest is `digest` goes when asked for `reference` in the layout `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Tagged.
    Tag(String),
    /// Untagged, by its digest.
    Digest,
}

/// The target of a put of the manifest `digest` at `reference`: a tag, or `"@<digest>"` naming the manifest's own
/// digest. `InvalidInput` naming `name` for a malformed tag or digest, another digest, or a tag and a digest at
/// once.
pub(crate) fn push_target(name: &str, reference: &str, digest: &Digest) -> Result<Target> {
    let parsed = parse_reference(reference).map_err(|e| e.context(format!("push to {name}")))?;
    match (parsed.tag, parsed.digest) {
        (Some(tag), Some(_)) => Err(Error::invalid_input(format!(
            "push to {name}:{reference}: name a tag ({tag:?}) or a digest (\"@{digest}\"), not both"
        ))),
        (Some(tag), None) => Ok(Target::Tag(tag)),
        (None, Some(d)) if &d == digest => Ok(Target::Digest),
        _ => Err(Error::invalid_input(format!(
            "push to {name}{reference}: a push by digest must name the manifest's own digest {digest}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use registry_core::ErrorKind;

    #[test]
    fn references_and_targets() {
        let d = Digest::sha256(b"m");
        assert_eq!(parse_reference("v1").unwrap(), Parsed { tag: Some("v1".into()), digest: None });
        assert_eq!(parse_reference(&format!("@{d}")).unwrap(), Parsed { tag: None, digest: Some(d.clone()) });
        assert_eq!(parse_reference(&format!("v1@{d}")).unwrap().digest, Some(d.clone()));
        for bad in ["", "@", "Not:Valid", "-x", "../x", "a/b", "@sha256:zz", "v1@"] {
            assert_eq!(parse_reference(bad).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        let e = parse_reference("example.com/app:v1").unwrap_err();
        assert!(e.to_string().contains("with_segment(\"example.com/app\")"), "{e}");
        assert_eq!(parse_digest_arg(&format!("@{d}")).unwrap(), d);
        assert!(parse_digest_arg("v1").is_err());
        assert_eq!(push_target("oci:/x", "v1", &d).unwrap(), Target::Tag("v1".into()));
        assert_eq!(push_target("oci:/x", &format!("@{d}"), &d).unwrap(), Target::Digest);
        assert!(push_target("oci:/x", &format!("@{}", Digest::sha256(b"o")), &d).is_err());
        assert!(push_target("oci:/x", &format!("v1@{d}"), &d).unwrap_err().to_string().contains("not both"));
    }
}
