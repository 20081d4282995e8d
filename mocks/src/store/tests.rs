//! The store's rules, without HTTP: what `FakeClient` and the server both rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use registry_client::{index_of, ImageBuilder};
use registry_core::manifest::{descriptor_digest, Manifest};
use registry_core::{Digest, Error, ErrorKind, Reference, Repository};

use super::{Code, Store, StoreError};

fn repo(path: &str) -> Repository {
    Repository::parse(&format!("registry.example.com/{path}")).unwrap()
}

#[test]
fn manifests_need_their_content_and_tags_need_a_tag() {
    let mut store = Store::default();
    let app = repo("app");
    let image = ImageBuilder::new().layer(&b"one"[..]).build().unwrap();
    let tagged = Reference::with_tag(app.clone(), "v1").unwrap();
    let e = Error::from(store.put_manifest(&tagged, image.raw_manifest().clone()).unwrap_err());
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.has_code("MANIFEST_BLOB_UNKNOWN"), "{e}");
    let e = Error::from(store.tags(&app).unwrap_err());
    assert_eq!(
        (e.kind(), e.to_string().contains("repository registry.example.com/app not found")),
        (ErrorKind::NotFound, true)
    );

    let config = image.config_descriptor();
    store.put_blob(&app, descriptor_digest(config).unwrap(), image.config_bytes().clone());
    // The layer is on the host, but only in another repository: still missing here.
    store.put_blob(&repo("other"), descriptor_digest(&image.layers()[0]).unwrap(), Bytes::from_static(b"one"));
    assert!(store.put_manifest(&tagged, image.raw_manifest().clone()).is_err());
    store.put_blob(&app, descriptor_digest(&image.layers()[0]).unwrap(), Bytes::from_static(b"one"));
    assert_eq!(store.blob_count(), 2, "blobs are shared by the host");

    // By digest: stored, not tagged.
    let by_digest = Reference::with_digest(app.clone(), image.digest().clone());
    store.put_manifest(&by_digest, image.raw_manifest().clone()).unwrap();
    assert!(store.tags(&app).is_err());
    assert_eq!(store.catalog(), vec!["app"]);
    store.put_manifest(&tagged, image.raw_manifest().clone()).unwrap();
    assert_eq!(store.tags(&app).unwrap(), vec!["v1"]);
    assert_eq!(store.manifest(&tagged).unwrap().digest(), image.digest());
    assert_eq!(store.manifest_count(), 1);

    // An index needs its children in the same repository.
    let index = index_of(&[&image]).unwrap();
    let other = Reference::with_tag(repo("other"), "multi").unwrap();
    assert!(store.put_manifest(&other, index.clone()).is_err());
    store.put_manifest(&Reference::with_tag(app.clone(), "multi").unwrap(), index).unwrap();
    assert_eq!(store.tags(&app).unwrap(), vec!["multi", "v1"]);
    assert_eq!(store.manifest_count(), 2);
    assert_eq!(store.catalog(), vec!["app"], "a repository with only blobs is not in the catalog");
}

#[test]
fn lookups_that_fail_say_what_is_missing() {
    let mut store = Store::default();
    let app = repo("app");
    let missing = Reference::with_tag(app.clone(), "v9").unwrap();
    let e = Error::from(store.manifest(&missing).unwrap_err());
    assert_eq!(e.to_string(), "not found: manifest registry.example.com/app:v9 not found (HTTP 404; NAME_UNKNOWN: repository name not known to registry)");
    let d = Digest::sha256(b"x");
    store.put_blob(&app, d.clone(), Bytes::from_static(b"x"));
    let e = Error::from(store.manifest(&missing).unwrap_err());
    assert!(e.has_code("MANIFEST_UNKNOWN"), "{e}");
    assert_eq!(store.blob(&app, &d).unwrap(), Bytes::from_static(b"x"));
    let e = Error::from(store.blob(&repo("b"), &d).unwrap_err());
    assert_eq!(e.message(), format!("blob {d} not found in registry.example.com/b"));
    assert!(e.has_code("BLOB_UNKNOWN"));
}

const CFG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// An OCI image manifest of the config `CFG` and no layers, with `extra` fields.
fn image(extra: &str) -> Manifest {
    let json = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{{"mediaType":"application/x-test","digest":"{CFG}","size":2}},"layers":[]{extra}}}"#
    );
    Manifest::parse(json, None).unwrap()
}

/// A store whose repository `r` has the config `CFG`.
fn with_config() -> Store {
    let mut s = Store::default();
    s.put_blob(&repo("r"), Digest::parse(CFG).unwrap(), Bytes::from_static(b"{}"));
    s
}

fn tagged(path: &str, tag: &str) -> Reference {
    Reference::with_tag(repo(path), tag).unwrap()
}

#[test]
fn blobs_are_visible_only_where_linked() {
    let mut s = Store::default();
    let (a, b) = (repo("a"), repo("b"));
    let (d1, d2) = (Digest::sha256(b"x"), Digest::sha256(b"y"));
    s.put_blob(&a, d1.clone(), Bytes::from_static(b"x"));
    assert_eq!(s.blob(&a, &d1).unwrap(), Bytes::from_static(b"x"));
    assert!(s.blob(&b, &d1).is_err());
    assert!(!s.mount_blob(&b, &d2, &a));
    assert!(s.mount_blob(&b, &d1, &a));
    assert!(s.has_blob(&b, &d1));
    s.delete_blob(&a, &d1).unwrap();
    assert_eq!(s.delete_blob(&a, &d1).unwrap_err().code(), Code::BlobUnknown);
    assert!(s.blob(&b, &d1).is_ok(), "still linked in b");
    s.delete_blob(&b, &d1).unwrap();
    assert_eq!(s.blob_count(), 0, "data dropped with the last link");
    assert!(s.has_repository(&a) && !s.has_repository(&repo("c")));
}

#[test]
fn blobs_are_stored_under_the_digest_of_their_content() {
    let mut s = Store::default();
    let e = s.put_verified_blob(&repo("a"), &Digest::sha256(b"y"), Bytes::from_static(b"x")).unwrap_err();
    assert!(matches!(e, StoreError::BlobDigestInvalid { size: 1, .. }), "{e:?}");
    assert_eq!((e.status(), e.code()), (400, Code::DigestInvalid));
    assert_eq!(Error::from(e).kind(), ErrorKind::DigestMismatch);
    let sha512 = Digest::compute(registry_core::Algorithm::Sha512, b"x");
    s.put_verified_blob(&repo("a"), &sha512, Bytes::from_static(b"x")).unwrap();
    assert!(s.has_blob(&repo("a"), &sha512));
}

#[test]
fn manifests_tags_and_catalog() {
    let mut s = with_config();
    let r = repo("r");
    let m = image("");
    let d = m.digest().clone();
    s.put_blob(&repo("blobs-only"), Digest::sha256(b""), Bytes::new());
    s.put_manifest(&tagged("r", "v2"), m.clone()).unwrap();
    s.put_manifest(&tagged("r", "v1"), m).unwrap();
    assert_eq!(s.tags(&r).unwrap(), vec!["v1".to_string(), "v2".to_string()]);
    assert_eq!(s.tags(&repo("none")).unwrap_err().code(), Code::NameUnknown);
    assert_eq!(s.tags(&repo("blobs-only")).unwrap_err().code(), Code::NameUnknown, "never tagged");
    assert_eq!(s.catalog(), vec!["r".to_string()]);
    assert!(s.manifest(&tagged("r", "v1")).is_ok());
    s.delete_tag(&tagged("r", "v1")).unwrap();
    assert!(s.manifest(&tagged("r", "v1")).is_err());
    assert!(s.manifest(&Reference::with_digest(r.clone(), d.clone())).is_ok());
    s.delete_manifest(&r, &d).unwrap();
    assert_eq!(s.tags(&r).unwrap(), Vec::<String>::new(), "tags on a deleted manifest go with it");
    assert_eq!(s.delete_manifest(&r, &d).unwrap_err().code(), Code::ManifestUnknown);
}

#[test]
fn manifests_are_addressed_by_their_sha256() {
    let mut s = with_config();
    let m = image("");
    let sha512 = Digest::compute(registry_core::Algorithm::Sha512, m.bytes());
    let by_sha512 = Reference::with_digest(repo("r"), sha512);
    let e = s.put_manifest(&by_sha512, m.clone()).unwrap_err();
    assert_eq!((e.status(), e.code()), (400, Code::DigestInvalid));
    let other = Reference::with_digest(repo("r"), Digest::sha256(b"other"));
    let e = Error::from(s.put_manifest(&other, m.clone()).unwrap_err());
    assert_eq!(e.kind(), ErrorKind::DigestMismatch);
    assert!(e.has_code("DIGEST_INVALID"), "{e}");
    s.put_manifest(&Reference::with_digest(repo("r"), m.digest().clone()), m).unwrap();
}

#[test]
fn an_index_needs_its_children_and_says_which_is_missing() {
    let mut store = Store::default();
    let app = repo("app");
    let image = ImageBuilder::new().layer(&b"one"[..]).build().unwrap();
    let index = index_of(&[&image]).unwrap();
    let e = store.put_manifest(&tagged("app", "multi"), index).unwrap_err();
    assert_eq!((e.status(), e.code()), (400, Code::ManifestBlobUnknown));
    assert!(matches!(&e, StoreError::ManifestBlobUnknown { digest, .. } if digest == image.digest()), "{e:?}");
    assert!(!store.has_repository(&app), "a refused push leaves nothing behind");
}

#[test]
fn layers_with_urls_need_not_be_in_the_repository() {
    let mut s = with_config();
    let missing = Digest::sha256(b"missing");
    let with_layer = |urls: &str| {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/x-test","digest":"{CFG}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest":"{missing}","size":7{urls}}}]}}"#
        );
        Manifest::parse(json, None).unwrap()
    };
    let e = s.put_manifest(&tagged("r", "local"), with_layer("")).unwrap_err();
    assert_eq!(e.code(), Code::ManifestBlobUnknown, "no URLs: the registry must have it");
    s.put_manifest(&tagged("r", "foreign"), with_layer(r#","urls":["https://example.com/layer"]"#)).unwrap();
}

#[test]
fn referrers_by_subject_and_type() {
    let mut s = with_config();
    let r = repo("r");
    let subject = format!(r#","subject":{{"mediaType":"x","digest":"{CFG}","size":2}}"#);
    let sig = image(&format!(r#"{subject},"artifactType":"application/sig","annotations":{{"k":"v"}}"#));
    let sbom = image(&subject);
    s.put_manifest(&Reference::with_digest(r.clone(), sig.digest().clone()), sig.clone()).unwrap();
    s.put_manifest(&Reference::with_digest(r.clone(), sbom.digest().clone()), sbom).unwrap();
    s.put_manifest(&tagged("r", "plain"), image("")).unwrap();
    let cfg = Digest::parse(CFG).unwrap();
    assert_eq!(s.referrers(&r, &cfg, None).unwrap().len(), 2);
    let only = s.referrers(&r, &cfg, Some("application/sig")).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].digest().to_string(), sig.digest().to_string());
    assert_eq!(only[0].annotations().as_ref().and_then(|a| a.get("k")).map(String::as_str), Some("v"));
    let typed = s.referrers(&r, &cfg, Some("application/x-test")).unwrap();
    assert_eq!(typed[0].artifact_type().as_ref().map(ToString::to_string).as_deref(), Some("application/x-test"));
    assert!(s.referrers(&repo("other"), &cfg, None).unwrap().is_empty());
}

#[test]
fn an_index_with_a_subject_is_a_referrer() {
    let mut s = with_config();
    let r = repo("r");
    let child = image("");
    s.put_manifest(&Reference::with_digest(r.clone(), child.digest().clone()), child.clone()).unwrap();
    let json = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
        "artifactType":"application/vnd.example.bundle",
        "manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}],
        "subject":{{"mediaType":"x","digest":"{CFG}","size":2}}}}"#,
        child.digest(),
        child.size()
    );
    let index = Manifest::parse(json, None).unwrap();
    s.put_manifest(&tagged("r", "bundle"), index.clone()).unwrap();
    let found = s.referrers(&r, &Digest::parse(CFG).unwrap(), None).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].digest().to_string(), index.digest().to_string());
    assert_eq!(
        found[0].artifact_type().as_ref().map(ToString::to_string).as_deref(),
        Some("application/vnd.example.bundle")
    );
}

#[test]
fn uploads_belong_to_their_repository() {
    let mut s = Store::default();
    let (r, other) = (repo("r"), repo("other"));
    s.start_upload(&r, "u1".into());
    assert_eq!(s.upload_size(&r, "u1").unwrap(), 0);
    assert_eq!(s.upload_size(&other, "u1").unwrap_err().code(), Code::BlobUploadUnknown);
    s.upload_mut(&r, "u1").unwrap().append(b"abc");
    assert!(s.cancel_upload(&other, "u1").is_err());
    assert_eq!(s.upload_size(&r, "u1").unwrap(), 3);
    let wrong = Digest::sha256(b"abd");
    assert_eq!(s.finish_upload(&r, "u1", &wrong).unwrap_err().code(), Code::DigestInvalid);
    assert_eq!(s.upload_count(), 0, "the session ends either way");
    s.start_upload(&r, "u2".into());
    s.upload_mut(&r, "u2").unwrap().append(b"abc");
    s.finish_upload(&r, "u2", &Digest::sha256(b"abc")).unwrap();
    assert_eq!(s.blob(&r, &Digest::sha256(b"abc")).unwrap(), Bytes::from_static(b"abc"));
    assert!(s.cancel_upload(&r, "u2").is_err());
}
