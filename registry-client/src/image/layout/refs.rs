//! Where a put to a layout goes, a tag or the manifest's own digest, with the same rules as
//! [`push_reference`](crate::push_reference) on a registry (references are parsed by
//! [`parse_reference`](crate::image::ref_names::parse_reference), as every reader of layouts and archives
//! parses them). A leaf.

use registry_core::{Digest, Error, Result};

use crate::image::ref_names::parse_reference;

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

    #[test]
    fn targets() {
        let d = Digest::sha256(b"m");
        assert_eq!(push_target("oci:/x", "v1", &d).unwrap(), Target::Tag("v1".into()));
        assert_eq!(push_target("oci:/x", &format!("@{d}"), &d).unwrap(), Target::Digest);
        assert!(push_target("oci:/x", &format!("@{}", Digest::sha256(b"o")), &d).is_err());
        assert!(push_target("oci:/x", &format!("v1@{d}"), &d).unwrap_err().to_string().contains("not both"));
    }
}
