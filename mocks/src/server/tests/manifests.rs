//! Manifest GET/HEAD/PUT/DELETE, validation on push, and the referrers API.

use registry_core::manifest::media_type;
use registry_core::Digest;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{body_json, bytes, error_code, header, image_manifest, Fixture};

#[tokio::test]
async fn push_then_read_by_tag_and_digest() {
    let f = Fixture::new().await;
    let repo = "org/manifests/app";
    let (manifest, digest) = f.push_image(repo, "v1", "read", json!({})).await;
    let raw = serde_json::to_vec(&manifest).unwrap();
    for reference in ["v1", digest.as_str()] {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let resp = f.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "content-type").as_deref(), Some(media_type::OCI_MANIFEST));
        assert_eq!(header(&resp, "docker-content-digest").as_deref(), Some(digest.as_str()));
        assert_eq!(bytes(resp).await, raw);
        let resp = f.request(Method::HEAD, &path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "content-length"), Some(raw.len().to_string()));
        assert_eq!(header(&resp, "docker-content-digest").as_deref(), Some(digest.as_str()));
    }
    // The type it was pushed with, when the body has no mediaType.
    let mut docker = manifest.clone();
    docker.as_object_mut().unwrap().remove("mediaType");
    let resp = f.put_manifest(repo, "docker", media_type::DOCKER_MANIFEST, &docker).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = f.request(Method::GET, &format!("/v2/{repo}/manifests/docker")).send().await.unwrap();
    assert_eq!(header(&resp, "content-type").as_deref(), Some(media_type::DOCKER_MANIFEST));
}

#[tokio::test]
async fn push_is_validated() {
    let f = Fixture::new().await;
    let (manifest, digest) = f.push_image("v", "ok", "valid", json!({})).await;
    let put = |reference: &'static str, body: Value| {
        let f = &f;
        async move { f.put_manifest("v", reference, media_type::OCI_MANIFEST, &body).await }
    };
    let resp = put("bad", json!({"schemaVersion": 2})).await;
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"));
    let missing = Digest::sha256(b"missing").to_string();
    let resp = put("bad", image_manifest(&missing, &missing)).await;
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
    let resp = put("bad:tag", manifest.clone()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = f.put_manifest("v", &missing, media_type::OCI_MANIFEST, &manifest).await;
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    let resp = f.put_manifest("v", &digest, media_type::OCI_MANIFEST, &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "by its own digest");
    assert_eq!(header(&resp, "location"), Some(format!("/v2/v/manifests/{digest}")));
    let resp = f
        .request(Method::PUT, "/v2/v/manifests/big")
        .header("content-type", media_type::OCI_MANIFEST)
        .body(vec![b' '; 4 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // An index needs its children in the repository.
    let size = serde_json::to_vec(&manifest).unwrap().len();
    let index = |child: &str| {
        json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": [
            {"mediaType": media_type::OCI_MANIFEST, "digest": child, "size": size,
             "platform": {"os": "linux", "architecture": "amd64"}}]})
    };
    let resp = f.put_manifest("v", "idx", media_type::OCI_INDEX, &index(&missing)).await;
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
    let resp = f.put_manifest("v", "idx", media_type::OCI_INDEX, &index(&digest)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = f.request(Method::GET, "/v2/v/manifests/idx").send().await.unwrap();
    assert_eq!(header(&resp, "content-type").as_deref(), Some(media_type::OCI_INDEX));
}

#[tokio::test]
async fn delete_by_tag_and_by_digest() {
    let f = Fixture::new().await;
    let (_, digest) = f.push_image("d", "v1", "del", json!({})).await;
    let (_, _) = f.push_image("d", "v2", "del", json!({})).await;
    let get = |reference: String| {
        let f = &f;
        async move { f.request(Method::GET, &format!("/v2/d/manifests/{reference}")).send().await.unwrap().status() }
    };
    let resp = f.request(Method::DELETE, "/v2/d/manifests/v1").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(get("v1".into()).await, StatusCode::NOT_FOUND);
    assert_eq!(get(digest.clone()).await, StatusCode::OK, "the manifest stays");
    assert_eq!(get("v2".into()).await, StatusCode::OK);
    let resp = f.request(Method::DELETE, &format!("/v2/d/manifests/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(get(digest.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(get("v2".into()).await, StatusCode::NOT_FOUND, "tags on it go too");
    let resp = f.request(Method::DELETE, &format!("/v2/d/manifests/{digest}")).send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"));
    let resp = f.request(Method::GET, "/v2/none/manifests/v1").send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "NAME_UNKNOWN"));
    let resp = f.request(Method::GET, "/v2/d/manifests/v9").send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"));
}

#[tokio::test]
async fn referrers_list_manifests_by_subject() {
    let f = Fixture::new().await;
    let (subject_manifest, subject) = f.push_image("ref", "v1", "subject", json!({})).await;
    let size = serde_json::to_vec(&subject_manifest).unwrap().len();
    let pointer = json!({"mediaType": media_type::OCI_MANIFEST, "digest": subject, "size": size});
    let (_, sig) = f
        .push_image("ref", "sig", "sig", json!({"subject": pointer, "artifactType": "application/vnd.example.sig"}))
        .await;
    let resp = f.put_manifest("ref", "sbom", media_type::OCI_MANIFEST, &json!(null)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (_, sbom) = f.push_image("ref", "sbom", "sbom", json!({"subject": pointer, "annotations": {"a": "b"}})).await;

    let resp = f.request(Method::GET, &format!("/v2/ref/referrers/{subject}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").as_deref(), Some(media_type::OCI_INDEX));
    assert_eq!(header(&resp, "oci-filters-applied"), None);
    let index: Value = body_json(resp).await;
    let mut digests: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().filter_map(|m| m["digest"].as_str()).collect();
    digests.sort();
    let mut expected = vec![sig.as_str(), sbom.as_str()];
    expected.sort();
    assert_eq!(digests, expected);

    let resp = f
        .request(Method::GET, &format!("/v2/ref/referrers/{subject}?artifactType=application/vnd.example.sig"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "oci-filters-applied").as_deref(), Some("artifactType"));
    let index: Value = body_json(resp).await;
    assert_eq!(index["manifests"].as_array().map(Vec::len), Some(1));
    assert_eq!(index["manifests"][0]["digest"], json!(sig));
    assert_eq!(index["manifests"][0]["artifactType"], "application/vnd.example.sig");

    // Unknown digest: an empty index, not 404. Malformed: 400.
    let none = Digest::sha256(b"none");
    let resp = f.request(Method::GET, &format!("/v2/ref/referrers/{none}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["manifests"], json!([]));
    let resp = f.request(Method::GET, "/v2/ref/referrers/sha256:zz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Pushing a manifest with a subject answers OCI-Subject.
    let resp = f
        .put_manifest("ref", "again", media_type::OCI_MANIFEST, &{
            let mut m = subject_manifest.clone();
            m["subject"] = pointer.clone();
            m
        })
        .await;
    assert_eq!(header(&resp, "oci-subject"), Some(subject.clone()));
}

#[tokio::test]
async fn manifests_are_addressed_by_their_sha256() {
    let f = Fixture::new().await;
    let (manifest, _) = f.push_image("s", "v1", "sha512", json!({})).await;
    let raw = serde_json::to_vec(&manifest).unwrap();
    let sha512 = Digest::compute(registry_core::Algorithm::Sha512, &raw);
    let resp = f.put_manifest("s", sha512.as_str(), media_type::OCI_MANIFEST, &manifest).await;
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    let resp = f.request(Method::GET, &format!("/v2/s/manifests/{sha512}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_index_with_a_subject_is_listed_as_a_referrer() {
    let f = Fixture::new().await;
    let (child, child_digest) = f.push_image("ix", "child", "child", json!({})).await;
    let size = serde_json::to_vec(&child).unwrap().len();
    let child_descriptor = json!({"mediaType": media_type::OCI_MANIFEST, "digest": child_digest, "size": size});
    let index = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX,
        "artifactType": "application/vnd.example.bundle", "manifests": [child_descriptor.clone()],
        "subject": child_descriptor});
    let resp = f.put_manifest("ix", "bundle", media_type::OCI_INDEX, &index).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "oci-subject"), Some(child_digest.clone()));
    let resp = f.request(Method::GET, &format!("/v2/ix/referrers/{child_digest}")).send().await.unwrap();
    let listed: Value = body_json(resp).await;
    assert_eq!(listed["manifests"][0]["mediaType"], media_type::OCI_INDEX);
    assert_eq!(listed["manifests"][0]["artifactType"], "application/vnd.example.bundle");
    assert_eq!(listed["manifests"].as_array().map(Vec::len), Some(1));
}
