//! The referrers of a digest: the manifests (images and indexes) whose `subject` is that digest, as the OCI
//! distribution spec's referrers API lists them.

use registry_client::Descriptor;
use registry_core::manifest::{descriptor_digest, Manifest, ManifestBody};
use registry_core::{Digest, Error};

/// The descriptors of the `manifests` whose `subject` is `digest`, of `artifact_type` when given, ordered by
/// digest. Each carries its `artifactType` (the manifest's, else an image's config media type) and the
/// manifest's annotations (when it has any).
pub(crate) fn referrers<'a>(
    manifests: impl IntoIterator<Item = &'a Manifest>,
    digest: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor>, Error> {
    let mut found = Vec::new();
    for m in manifests {
        let (subject, kind, annotations) = match m.body() {
            ManifestBody::Image(image) => (
                image.subject(),
                Some(image.artifact_type().clone().unwrap_or_else(|| image.config().media_type().clone())),
                image.annotations(),
            ),
            ManifestBody::Index(index) => (index.subject(), index.artifact_type().clone(), index.annotations()),
            _ => continue,
        };
        let Some(subject) = subject else { continue };
        if descriptor_digest(subject).ok().as_ref() != Some(digest) {
            continue;
        }
        if artifact_type.is_some_and(|t| kind.as_ref().map(ToString::to_string).as_deref() != Some(t)) {
            continue;
        }
        let mut d = m.descriptor()?;
        d.set_artifact_type(kind);
        d.set_annotations(annotations.clone().filter(|a| !a.is_empty()));
        found.push(d);
    }
    found.sort_by_key(|d| d.digest().to_string());
    Ok(found)
}
