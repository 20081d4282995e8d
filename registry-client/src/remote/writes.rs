//! Writes of a [`RemoteClient`] besides blobs: manifest puts, which keep the referrers tag of a manifest's subject
//! current on registries without the referrers API, and deletes, with the placeholder fallback for registries
//! that refuse to delete by tag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use registry_core::api::{add_to_referrers_index, referrers_tag, remove_from_referrers_index, RegistryApi};
use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::{Digest, Error, ErrorKind, Reference, Repository, Result};
use serde_json::json;

use super::RemoteClient;
use crate::client::{digest_reference, push_reference};
use crate::image::artifact::{as_referrer, EMPTY_JSON, EMPTY_MEDIA_TYPE};

/// The annotation that marks a placeholder manifest (what a deleted tag pointed at for a moment).
const PLACEHOLDER_ANNOTATION: &str = "io.github.registry-client.deleted-tag";
/// The annotation that makes each placeholder unique, so deleting it by digest removes no other tag.
const NONCE_ANNOTATION: &str = "io.github.registry-client.nonce";
/// How often a referrers tag update is tried again when a concurrent writer replaced the index in between.
const REFERRERS_TAG_ATTEMPTS: usize = 5;

/// A process-wide counter for placeholder nonces.
static PLACEHOLDERS: AtomicU64 = AtomicU64::new(0);

impl RemoteClient {
    /// See [`Client::put_manifest`](crate::Client::put_manifest): `reference` is a tag or the manifest's digest.
    pub(super) async fn put_manifest_at(&self, reference: &str, manifest: &Manifest) -> Result<Digest> {
        let target = push_reference(&self.repository()?, reference, manifest.digest())?;
        self.put_manifest_to(&target, manifest).await
    }

    /// PUT `manifest` at `target`; when it has a `subject` and the registry did not acknowledge it (no
    /// `OCI-Subject`: no referrers API), add it to the subject's referrers tag so `list_referrers` finds it there.
    pub(super) async fn put_manifest_to(&self, target: &Reference, manifest: &Manifest) -> Result<Digest> {
        let put = self.api.put_manifest_with_subject(target, manifest.media_type(), manifest.bytes().clone()).await?;
        if let (Some((subject, descriptor)), None) = (as_referrer(manifest)?, &put.subject) {
            update_referrers_tag(&self.api, target.repository(), &subject, |index| {
                add_to_referrers_index(index, &descriptor)
            })
            .await
            .map_err(|e| e.context(format!("pushed {target}, but updating the referrers tag failed")))?;
        }
        Ok(put.digest)
    }

    /// See [`Client::delete_tag`](crate::Client::delete_tag).
    pub(super) async fn remove_tag(&self, tag: &str) -> Result<()> {
        let repo = self.repository()?;
        let target = Reference::with_tag(repo.clone(), tag).map_err(Error::from)?;
        let api = &self.api;
        // A registry known to refuse DELETE by tag (the capabilities remember it) goes straight to the placeholder.
        if api.capabilities().snapshot().delete_by_tag != Some(false) {
            match api.delete_manifest(&target).await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    tracing::debug!(%target, error = %e, "DELETE by tag refused: deleting through a placeholder manifest");
                }
                Err(e) => return Err(e),
            }
        }
        // Never create a tag in order to delete it; keep what it points at, to put it back if the last step fails.
        let original = match api.get_manifest(&target).await {
            Ok(m) => Some(m),
            // A manifest this client cannot parse (or verify) can still be deleted, just not restored.
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::Protocol) => {
                api.head_manifest(&target).await?;
                None
            }
            Err(e) => return Err(e),
        };
        let placeholder = placeholder_manifest(&target)?;
        let by_digest = Reference::with_digest(repo.clone(), placeholder.digest().clone());
        // Deleting the placeholder before it exists tells whether deleting by digest works at all (404: yes; 405: the
        // registry has deletes disabled; 401/403: this account may not), before the tag is touched.
        match api.delete_manifest(&by_digest).await {
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(e.context(format!("delete {target}: cannot delete by digest either, tag left as it was")))
            }
            Ok(()) => {
                return Err(Error::protocol(format!("delete {target}: registry claims to have deleted {by_digest}")))
            }
        }
        ensure_blob(api, &repo, Bytes::from_static(EMPTY_JSON))
            .await
            .map_err(|e| e.context(format!("delete {target}")))?;
        api.put_manifest(&target, media_type::OCI_MANIFEST, placeholder.bytes().clone())
            .await
            .map_err(|e| e.context(format!("delete {target}: pointing it at a placeholder")))?;
        let Err(e) = api.delete_manifest(&by_digest).await else { return Ok(()) };
        // Put the tag back where it was rather than leave it on the placeholder.
        let restored = match &original {
            Some(m) => api.put_manifest(&target, m.media_type(), m.bytes().clone()).await.map(|_| m.digest().clone()),
            None => Err(Error::unsupported("its manifest could not be read")),
        };
        Err(match restored {
            Ok(d) => e.context(format!(
                "delete {target}: deleting placeholder {} failed, the tag was put back on {d}",
                placeholder.digest()
            )),
            Err(r) => e.context(format!(
                "delete {target}: deleting placeholder {} failed, and putting the tag back failed too ({r}); the tag \
             points at the placeholder",
                placeholder.digest()
            )),
        })
    }

    /// See [`Client::delete_by_digest`](crate::Client::delete_by_digest).
    pub(super) async fn remove_manifest(&self, digest: &str) -> Result<()> {
        let repo = self.repository()?;
        let target = digest_reference(&repo, digest)?;
        let api = &self.api;
        // Read it first: a referrer must leave its subject's referrers tag too. A manifest this client cannot parse
        // (a type it does not know) is deleted all the same.
        let subject = match api.get_manifest(&target).await {
            Ok(m) => m.as_image().and_then(|i| i.subject().as_ref()).map(descriptor_digest).transpose()?,
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::Protocol) => None,
            Err(e) => return Err(e.context("delete")),
        };
        api.delete_manifest(&target).await?;
        if let (Some(subject), Some(deleted)) = (subject, target.digest()) {
            update_referrers_tag(api, &repo, &subject, |index| remove_from_referrers_index(index, deleted))
                .await
                .map_err(|e| e.context(format!("deleted {target}, but removing it from the referrers tag failed")))?;
        }
        Ok(())
    }
}

/// A tiny image manifest no other tag points at: the empty config, no layers, and annotations naming the tag and
/// making it unique.
fn placeholder_manifest(target: &Reference) -> Result<Manifest> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = PLACEHOLDERS.fetch_add(1, Ordering::Relaxed);
    let empty = Digest::sha256(EMPTY_JSON);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty.as_str(), "size": EMPTY_JSON.len()},
        "layers": [],
        "annotations": {
            PLACEHOLDER_ANNOTATION: target.to_string(),
            NONCE_ANNOTATION: format!("{nanos}-{}-{n}", std::process::id()),
        },
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::invalid_input(format!("placeholder: {e}")))?;
    Manifest::parse(bytes, Some(media_type::OCI_MANIFEST))
}

/// Upload `data` to `repo` unless it is there.
async fn ensure_blob(api: &RegistryApi, repo: &Repository, data: Bytes) -> Result<()> {
    let digest = Digest::sha256(&data);
    if api.blob_exists(repo, &digest).await?.is_some() {
        return Ok(());
    }
    let size = data.len() as u64;
    api.upload_blob(repo, &digest, size, Box::pin(futures::stream::once(async move { Ok(data) }))).await
}

/// Read-modify-write the referrers tag of `subject` with `edit` (which returns `None` when nothing changes), then
/// read it back: when a concurrent writer replaced the index in between, start over.
async fn update_referrers_tag<F>(api: &RegistryApi, repo: &Repository, subject: &Digest, edit: F) -> Result<()>
where
    F: Fn(Option<&Manifest>) -> Result<Option<Manifest>>,
{
    let tag = Reference::with_tag(repo.clone(), &referrers_tag(subject)).map_err(Error::from)?;
    for _ in 0..REFERRERS_TAG_ATTEMPTS {
        let current = api.referrers_index(repo, subject).await?;
        let Some(updated) = edit(current.as_ref())? else { return Ok(()) };
        api.put_manifest(&tag, updated.media_type(), updated.bytes().clone()).await?;
        let now = api.referrers_index(repo, subject).await?;
        if now.as_ref().map(Manifest::digest) == Some(updated.digest()) {
            return Ok(());
        }
        tracing::debug!(%tag, "referrers tag changed under us: updating again");
    }
    Err(Error::new(
        ErrorKind::Server,
        format!("{tag} kept changing under concurrent writers ({REFERRERS_TAG_ATTEMPTS} attempts)"),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn placeholders_are_unique_and_tiny() {
        let target = Reference::parse("registry.example.com/app:v1").unwrap();
        let a = placeholder_manifest(&target).unwrap();
        let b = placeholder_manifest(&target).unwrap();
        assert_ne!(a.digest(), b.digest());
        let image = a.as_image().unwrap();
        assert!(image.layers().is_empty());
        assert_eq!(image.config().media_type().to_string(), EMPTY_MEDIA_TYPE);
        assert_eq!(
            image.annotations().as_ref().and_then(|m| m.get(PLACEHOLDER_ANNOTATION)).map(String::as_str),
            Some("registry.example.com/app:v1")
        );
        assert!(a.size() < 600, "{} bytes", a.size());
    }
}
