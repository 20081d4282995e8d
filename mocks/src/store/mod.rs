//! One typed in-memory registry, behind both `FakeClient` and the in-process
//! `RegistryServer`: content-addressed blobs, repositories that link blobs and hold
//! manifests and tags, upload sessions and the referrers of a digest, with the rules docker-registry
//! (distribution 2.8.2) and the OCI distribution spec enforce:
//!
//! - a blob is shared by the registry but readable only from repositories it was pushed or mounted to (linked);
//!   a blob is stored only under the digest of its content;
//! - a manifest is addressed by the sha256 of its bytes (a push by another digest is `DIGEST_INVALID`), and is
//!   accepted only when the repository has what it references: the config and layers of an image (layers with
//!   URLs excepted), the child manifests of an index (else `MANIFEST_BLOB_UNKNOWN`);
//! - a repository exists once something was pushed to it, is in the catalog once it holds a manifest, and has a
//!   tag list once it was given a tag (before that, tags/list is `NAME_UNKNOWN`);
//! - a reference with a digest resolves by the digest (a tag next to it is ignored), and a push to such a
//!   reference stores the manifest without tagging it;
//! - deleting a tag removes that tag only; deleting a manifest by digest removes it and every tag on it; deleting
//!   a blob unlinks it from one repository (its bytes go with the last link);
//! - an upload session belongs to the repository it was started in;
//! - the referrers of a digest are the repository's manifests (images and indexes) whose `subject` is that digest
//!   (the referrers API of a spec registry, always up to date).
//!
//! Files: `content` ([`Store`]), `errors` ([`StoreError`] and the registry error [`Code`]s), `uploads` (sessions),
//! `referrers` (the referrers of a digest).

mod content;
mod errors;
mod referrers;
mod uploads;

#[cfg(test)]
mod tests;

pub(crate) use content::Store;
pub(crate) use errors::{Code, StoreError};
