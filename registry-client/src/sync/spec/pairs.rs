//! Which source and target shapes fit together in one entry, and why the others do not.

use crate::sync::endpoint::Endpoint;

/// `Ok` when `target` can receive what `source` names; otherwise why not, in words a spec author can act on.
///
/// An image goes to an image (by tag, or by the source's own digest), a repository (keeping its tag or digest) or
/// a layout; a repository to a repository or a layout without a tag; a prefix to a prefix or a layout without a
/// tag (a tree of layouts); a layout without a tag to a repository, a prefix or a layout without a tag; a layout
/// with a tag to an image, a repository or a layout.
pub(super) fn check(source: &Endpoint, target: &Endpoint) -> Result<(), String> {
    use Endpoint::{Image, Layout, Prefix, Repository};
    match (source, target) {
        (Image { reference: from, .. }, Image { reference: to, .. }) => {
            match (from.strip_prefix('@'), to.strip_prefix('@')) {
                (_, None) => Ok(()),
                (Some(from), Some(to)) if from == to => Ok(()),
                (Some(from), Some(to)) => Err(format!(
                "the target digest {to} differs from the source digest {from}: a copy keeps the digest, so name the \
                 target by tag, by the same digest, or as a repository"
            )),
                (None, Some(to)) => Err(format!(
                "the target is a digest ({to}) but the source is the tag {from:?}, whose digest is not known here: \
                 name the target by tag, or as a repository (it then keeps the source tag)"
            )),
            }
        }
        (Image { .. }, Repository { .. } | Layout { .. }) => Ok(()),
        (Image { .. }, Prefix { .. }) => {
            Err("one image into a prefix: name the target repository (host/org/app) or image instead".to_string())
        }
        (Repository { .. }, Repository { .. } | Layout { tag: None, .. }) => Ok(()),
        (Repository { .. }, Image { .. } | Layout { tag: Some(_), .. }) => Err(
            "a repository (every tag) into one image: name a target repository (host/repo) or a layout without a tag, \
             or name one source image (host/repo:tag)"
                .to_string(),
        ),
        (Repository { .. }, Prefix { .. }) => {
            Err("a repository into a prefix: name the target repository itself (host/org/app, without the trailing /)"
                .to_string())
        }
        (Prefix { .. }, Prefix { .. } | Layout { tag: None, .. }) => Ok(()),
        (Prefix { .. }, _) => {
            Err("a prefix (many repositories) goes to a prefix (host/org/, with the trailing /) or a layout tree \
             without a tag (oci:DIR)"
                .to_string())
        }
        (Layout { tag: None, .. }, Repository { .. } | Prefix { .. } | Layout { tag: None, .. }) => Ok(()),
        (Layout { tag: None, .. }, _) => Err(
            "a layout without a tag (every image in it) into one image: name a target repository, prefix or layout \
             without a tag, or name one source image (oci:DIR:TAG)"
                .to_string(),
        ),
        (Layout { tag: Some(_), .. }, Image { .. } | Repository { .. } | Layout { .. }) => Ok(()),
        (Layout { tag: Some(_), .. }, Prefix { .. }) => {
            Err("one image into a prefix: name the target repository (host/org/app) or image instead".to_string())
        }
    }
}
