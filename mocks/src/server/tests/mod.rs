//! HTTP-level tests of the server, through `reqwest`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod blobs;
mod faults;
mod lists;
mod manifests;
mod upload_faults;
mod uploads;

use bytes::Bytes;
use registry_core::manifest::media_type;
use registry_core::Digest;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::RegistryServer;

/// A server and a client for it.
pub(super) struct Fixture {
    pub(super) server: RegistryServer,
    pub(super) http: reqwest::Client,
}

impl Fixture {
    pub(super) async fn new() -> Fixture {
        Fixture::with(RegistryServer::start().await.unwrap())
    }

    pub(super) fn with(server: RegistryServer) -> Fixture {
        Fixture { server, http: reqwest::Client::new() }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub(super) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Upload `data` to `repo` monolithically; its digest.
    pub(super) async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = Digest::sha256(data).to_string();
        let resp = self
            .request(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "push blob: {}", resp.text().await.unwrap_or_default());
        digest
    }

    /// PUT a manifest.
    pub(super) async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &Value) -> Response {
        self.request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// Push a config and a layer, then an OCI image manifest (with `extra` fields) under `reference`; the
    /// manifest and its digest.
    pub(super) async fn push_image(&self, repo: &str, reference: &str, seed: &str, extra: Value) -> (Value, String) {
        let config = self.push_blob(repo, format!("{{\"seed\":\"{seed}\"}}").as_bytes()).await;
        let layer = self.push_blob(repo, format!("layer of {seed}").as_bytes()).await;
        let mut manifest = image_manifest(&config, &layer);
        if let (Some(m), Some(extra)) = (manifest.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        let resp = self.put_manifest(repo, reference, media_type::OCI_MANIFEST, &manifest).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "push image: {}", resp.text().await.unwrap_or_default());
        let digest = Digest::sha256(&serde_json::to_vec(&manifest).unwrap()).to_string();
        (manifest, digest)
    }
}

/// An OCI image manifest of `config` and `layer` (both assumed to be sized as pushed by `push_image`).
pub(super) fn image_manifest(config: &str, layer: &str) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": config, "size": 1},
        "layers": [{"mediaType": media_type::OCI_LAYER_TAR, "digest": layer, "size": 1}],
    })
}

/// The first error code of an error answer.
pub(super) async fn error_code(resp: Response) -> String {
    let body: Value = body_json(resp).await;
    body["errors"][0]["code"].as_str().unwrap_or("<no code>").to_string()
}

/// The body as JSON (`null` when it is not JSON).
pub(super) async fn body_json(resp: Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or_default()
}

/// A header as text.
pub(super) fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The body as bytes.
pub(super) async fn bytes(resp: Response) -> Bytes {
    resp.bytes().await.unwrap()
}

#[tokio::test]
async fn base_endpoint_and_request_count() {
    let f = Fixture::new().await;
    let resp = f.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "docker-distribution-api-version").as_deref(), Some("registry/2.0"));
    assert_eq!(body_json(resp).await, json!({}));
    let resp = f.request(Method::GET, "/v2/a/unknown/thing").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = f.request(Method::POST, "/v2/a/manifests/v1").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = f.request(Method::GET, "/v2/Bad/Name/tags/list").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "NAME_INVALID");
    assert_eq!(f.server.request_count(), 4);
    assert_eq!(f.server.host(), f.server.addr().to_string());
    assert!(f.server.url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn handler_panic_is_answered_500_and_recorded() {
    let f = Fixture::new().await;
    let resp = f.request(Method::GET, "/__panic").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let panics = f.server.panics();
    assert_eq!(panics.len(), 1);
    assert!(panics[0].contains("panic requested by a test"), "{panics:?}");
    // Still serving.
    assert_eq!(f.request(Method::GET, "/v2/").send().await.unwrap().status(), StatusCode::OK);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(f)));
    let msg = dropped.err().and_then(|p| p.downcast_ref::<String>().cloned()).unwrap_or_default();
    assert!(msg.contains("panic requested by a test"), "dropping the server panics: {msg:?}");
}

#[tokio::test]
async fn drop_stops_the_server() {
    let f = Fixture::new().await;
    let url = f.url("/v2/");
    assert_eq!(f.http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let http = f.http.clone();
    drop(f);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err(), "nothing listens any more");
    drop(http);
}
