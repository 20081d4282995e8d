//! Basic and Bearer authentication over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{body_json, error_code, header, Fixture};
use crate::server::RegistryServer;

#[tokio::test]
async fn basic_auth_on_every_request() {
    let f = Fixture::with(RegistryServer::builder().basic_auth("alice", "pw").build_and_start().await.unwrap());
    let resp = f.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "www-authenticate").as_deref(), Some(r#"Basic realm="mocks""#));
    assert_eq!(error_code(resp).await, "UNAUTHORIZED");
    let resp = f.request(Method::GET, "/v2/").basic_auth("alice", Some("bad")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = f.request(Method::GET, "/v2/").basic_auth("alice", Some("pw")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = f.request(Method::GET, "/v2/_catalog").basic_auth("alice", Some("pw")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = f.request(Method::GET, "/token").basic_auth("alice", Some("pw")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no token endpoint in basic mode");
}

#[tokio::test]
async fn bearer_tokens_from_the_token_endpoint() {
    let f = Fixture::with(RegistryServer::builder().bearer_auth("bob", "pw").build_and_start().await.unwrap());
    let resp = f.request(Method::GET, "/v2/a/b/tags/list").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let expected = format!(r#"Bearer realm="{}/token",service="mocks",scope="repository:a/b:pull""#, f.server.url());
    assert_eq!(header(&resp, "www-authenticate"), Some(expected));
    let resp = f.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(
        header(&resp, "www-authenticate"),
        Some(format!(r#"Bearer realm="{}/token",service="mocks""#, f.server.url()))
    );

    let token_url = "/token?service=mocks&scope=repository:a/b:pull";
    let resp = f.request(Method::GET, token_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no credentials");
    let resp = f.request(Method::GET, token_url).basic_auth("bob", Some("nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "wrong credentials");
    let resp = f.request(Method::GET, token_url).basic_auth("bob", Some("pw")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = body_json(resp).await;
    assert_eq!(body["expires_in"], 300);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["access_token"].as_str(), Some(token.as_str()));

    let resp = f.request(Method::GET, "/v2/").bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = f.request(Method::GET, "/v2/").bearer_auth("forged").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&resp, "www-authenticate").unwrap().contains(r#"error="invalid_token""#));
    let resp = f.request(Method::GET, "/v2/").basic_auth("bob", Some("pw")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "Basic is not accepted by a bearer registry");
}
