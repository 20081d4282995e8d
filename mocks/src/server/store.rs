//! The registry's content, in memory: blobs by digest with per-repository links, manifests and tags per
//! repository, and upload sessions. Plain data, no I/O: the handlers lock it, read or change it, and unlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::{Bytes, BytesMut};
use registry_core::manifest::Manifest;
use serde_json::{json, Value};

/// A manifest as stored: its bytes, media type, digest, and what the referrers API needs.
#[derive(Debug, Clone)]
pub(crate) struct StoredManifest {
    pub(crate) bytes: Bytes,
    pub(crate) media_type: String,
    pub(crate) digest: String,
    /// The digest of the manifest's `subject`, if any.
    pub(crate) subject: Option<String>,
    /// `artifactType`, else (for an image) the config's media type.
    artifact_type: Option<String>,
    annotations: Option<Value>,
}

impl StoredManifest {
    /// What to store for `manifest`, kept under `digest` (its sha256, or the digest it was pushed by).
    pub(crate) fn new(manifest: &Manifest, digest: String) -> StoredManifest {
        let raw: Value = serde_json::from_slice(manifest.bytes()).unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_string);
        let artifact_type = text(&raw["artifactType"]).or_else(|| text(&raw["config"]["mediaType"]));
        StoredManifest {
            bytes: manifest.bytes().clone(),
            media_type: manifest.media_type().to_string(),
            digest,
            subject: text(&raw["subject"]["digest"]),
            artifact_type,
            annotations: raw.get("annotations").filter(|a| a.is_object()).cloned(),
        }
    }

    /// The descriptor the referrers API lists for this manifest.
    fn referrer_descriptor(&self) -> Value {
        let mut d = json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()});
        if let Some(t) = &self.artifact_type {
            d["artifactType"] = json!(t);
        }
        if let Some(a) = &self.annotations {
            d["annotations"] = a.clone();
        }
        d
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManifestRef {
    Tag(String),
    Digest(String),
}

#[derive(Debug, Default)]
struct Repo {
    blobs: BTreeSet<String>,
    manifests: HashMap<String, StoredManifest>,
    tags: BTreeMap<String, String>,
}

/// An upload session.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) repo: String,
    pub(crate) data: BytesMut,
}

/// Everything the registry holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    blobs: HashMap<String, Bytes>,
    repos: BTreeMap<String, Repo>,
    uploads: HashMap<String, Upload>,
}

impl Store {
    /// Whether repository `name` exists (something was pushed to it).
    pub(crate) fn has_repo(&self, name: &str) -> bool {
        self.repos.contains_key(name)
    }

    /// The blob `digest`, if it is linked in `name`.
    pub(crate) fn blob(&self, name: &str, digest: &str) -> Option<Bytes> {
        let repo = self.repos.get(name)?;
        if !repo.blobs.contains(digest) {
            return None;
        }
        self.blobs.get(digest).cloned()
    }

    /// Whether blob `digest` is linked in `name`.
    pub(crate) fn has_blob(&self, name: &str, digest: &str) -> bool {
        self.repos.get(name).is_some_and(|r| r.blobs.contains(digest))
    }

    /// Store `data` as blob `digest` and link it in `name`.
    pub(crate) fn put_blob(&mut self, name: &str, digest: &str, data: Bytes) {
        self.blobs.entry(digest.to_string()).or_insert(data);
        self.repos.entry(name.to_string()).or_default().blobs.insert(digest.to_string());
    }

    /// Link blob `digest` from `from` into `name` (a cross-repository mount). False when `from` lacks it.
    pub(crate) fn mount_blob(&mut self, name: &str, digest: &str, from: &str) -> bool {
        if !self.has_blob(from, digest) {
            return false;
        }
        self.repos.entry(name.to_string()).or_default().blobs.insert(digest.to_string());
        true
    }

    /// Unlink blob `digest` from `name`, dropping its data when no repository links it any more.
    pub(crate) fn delete_blob(&mut self, name: &str, digest: &str) -> bool {
        let removed = self.repos.get_mut(name).is_some_and(|r| r.blobs.remove(digest));
        if removed && !self.repos.values().any(|r| r.blobs.contains(digest)) {
            self.blobs.remove(digest);
        }
        removed
    }

    /// The manifest `reference` points to in `name`.
    pub(crate) fn manifest(&self, name: &str, reference: &ManifestRef) -> Option<StoredManifest> {
        let repo = self.repos.get(name)?;
        let digest = match reference {
            ManifestRef::Tag(t) => repo.tags.get(t)?,
            ManifestRef::Digest(d) => d,
        };
        repo.manifests.get(digest).cloned()
    }

    /// Whether manifest `digest` exists in `name`.
    pub(crate) fn has_manifest(&self, name: &str, digest: &str) -> bool {
        self.repos.get(name).is_some_and(|r| r.manifests.contains_key(digest))
    }

    /// Store `manifest` in `name`, and point `tag` at it when given.
    pub(crate) fn put_manifest(&mut self, name: &str, tag: Option<&str>, manifest: StoredManifest) {
        let repo = self.repos.entry(name.to_string()).or_default();
        if let Some(tag) = tag {
            repo.tags.insert(tag.to_string(), manifest.digest.clone());
        }
        repo.manifests.insert(manifest.digest.clone(), manifest);
    }

    /// Delete manifest `digest` from `name` and every tag pointing at it.
    pub(crate) fn delete_manifest(&mut self, name: &str, digest: &str) -> bool {
        let Some(repo) = self.repos.get_mut(name) else { return false };
        if repo.manifests.remove(digest).is_none() {
            return false;
        }
        repo.tags.retain(|_, d| d != digest);
        true
    }

    /// Delete tag `tag` of `name` (the manifest stays).
    pub(crate) fn delete_tag(&mut self, name: &str, tag: &str) -> bool {
        self.repos.get_mut(name).is_some_and(|r| r.tags.remove(tag).is_some())
    }

    /// The tags of `name` in lexical order; `None` when the repository does not exist.
    pub(crate) fn tags(&self, name: &str) -> Option<Vec<String>> {
        self.repos.get(name).map(|r| r.tags.keys().cloned().collect())
    }

    /// The repositories holding at least one manifest, in lexical order.
    pub(crate) fn catalog(&self) -> Vec<String> {
        self.repos.iter().filter(|(_, r)| !r.manifests.is_empty()).map(|(n, _)| n.clone()).collect()
    }

    /// Descriptors of the manifests of `name` whose subject is `digest`, with `artifact_type` when given,
    /// ordered by digest.
    pub(crate) fn referrers(&self, name: &str, digest: &str, artifact_type: Option<&str>) -> Vec<Value> {
        let Some(repo) = self.repos.get(name) else { return Vec::new() };
        let mut found: Vec<&StoredManifest> = repo
            .manifests
            .values()
            .filter(|m| m.subject.as_deref() == Some(digest))
            .filter(|m| artifact_type.is_none() || m.artifact_type.as_deref() == artifact_type)
            .collect();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        found.into_iter().map(StoredManifest::referrer_descriptor).collect()
    }

    /// Open an upload session `id` in `name`.
    pub(crate) fn start_upload(&mut self, name: &str, id: String) {
        self.uploads.insert(id, Upload { repo: name.to_string(), data: BytesMut::new() });
    }

    /// The upload `id` of `name`.
    pub(crate) fn upload_mut(&mut self, name: &str, id: &str) -> Option<&mut Upload> {
        self.uploads.get_mut(id).filter(|u| u.repo == name)
    }

    /// The size so far of upload `id` of `name`.
    pub(crate) fn upload_size(&self, name: &str, id: &str) -> Option<usize> {
        self.uploads.get(id).filter(|u| u.repo == name).map(|u| u.data.len())
    }

    /// Close upload `id` of `name`, returning it.
    pub(crate) fn take_upload(&mut self, name: &str, id: &str) -> Option<Upload> {
        self.upload_size(name, id)?;
        self.uploads.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(json: &str) -> StoredManifest {
        let m = Manifest::parse(json.to_string(), None).map_err(|e| e.to_string());
        match m {
            Ok(m) => StoredManifest::new(&m, m.digest().to_string()),
            Err(e) => panic!("{e}"),
        }
    }

    const CFG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/x-test","digest":"{CFG}","size":2}},"layers":[]{extra}}}"#
        )
    }

    #[test]
    fn blobs_are_visible_only_where_linked() {
        let mut s = Store::default();
        s.put_blob("a", "d1", Bytes::from_static(b"x"));
        assert_eq!(s.blob("a", "d1").as_deref(), Some(&b"x"[..]));
        assert!(s.blob("b", "d1").is_none());
        assert!(!s.mount_blob("b", "d2", "a"));
        assert!(s.mount_blob("b", "d1", "a"));
        assert!(s.has_blob("b", "d1"));
        assert!(s.delete_blob("a", "d1"));
        assert!(!s.delete_blob("a", "d1"));
        assert!(s.blob("b", "d1").is_some(), "still linked in b");
        assert!(s.delete_blob("b", "d1"));
        assert!(s.blobs.is_empty(), "data dropped with the last link");
    }

    #[test]
    fn manifests_tags_and_catalog() {
        let mut s = Store::default();
        let m = stored(&image(""));
        let d = m.digest.clone();
        s.put_blob("blobs-only", "d", Bytes::new());
        s.put_manifest("r", Some("v2"), m.clone());
        s.put_manifest("r", Some("v1"), m);
        assert_eq!(s.tags("r"), Some(vec!["v1".to_string(), "v2".to_string()]));
        assert_eq!(s.tags("none"), None);
        assert_eq!(s.tags("blobs-only"), Some(vec![]));
        assert_eq!(s.catalog(), vec!["r".to_string()]);
        assert!(s.manifest("r", &ManifestRef::Tag("v1".into())).is_some());
        assert!(s.delete_tag("r", "v1"));
        assert!(s.manifest("r", &ManifestRef::Tag("v1".into())).is_none());
        assert!(s.manifest("r", &ManifestRef::Digest(d.clone())).is_some());
        assert!(s.delete_manifest("r", &d));
        assert_eq!(s.tags("r"), Some(vec![]), "tags on a deleted manifest go with it");
        assert!(!s.delete_manifest("r", &d));
    }

    #[test]
    fn referrers_by_subject_and_type() {
        let mut s = Store::default();
        let subject = format!(r#","subject":{{"mediaType":"x","digest":"{CFG}","size":2}}"#);
        let sig = stored(&image(&format!(r#"{subject},"artifactType":"application/sig","annotations":{{"k":"v"}}"#)));
        let sbom = stored(&image(&subject));
        s.put_manifest("r", None, sig.clone());
        s.put_manifest("r", None, sbom);
        s.put_manifest("r", None, stored(&image("")));
        assert_eq!(s.referrers("r", CFG, None).len(), 2);
        let only = s.referrers("r", CFG, Some("application/sig"));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0]["digest"], json!(sig.digest));
        assert_eq!(only[0]["annotations"]["k"], "v");
        assert_eq!(s.referrers("r", CFG, Some("application/x-test"))[0]["artifactType"], "application/x-test");
        assert!(s.referrers("other", CFG, None).is_empty());
    }

    #[test]
    fn uploads_belong_to_their_repository() {
        let mut s = Store::default();
        s.start_upload("r", "u1".into());
        assert_eq!(s.upload_size("r", "u1"), Some(0));
        assert_eq!(s.upload_size("other", "u1"), None);
        if let Some(u) = s.upload_mut("r", "u1") {
            u.data.extend_from_slice(b"abc");
        }
        assert!(s.take_upload("other", "u1").is_none());
        assert_eq!(s.take_upload("r", "u1").map(|u| u.data.len()), Some(3));
        assert!(s.take_upload("r", "u1").is_none());
    }
}
