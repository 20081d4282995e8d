//! Smoke tests of the test support: the in-test HTTP server, the real
//! `docker-registry` harness in every auth mode, and the token issuer, whose
//! JWTs the real registry must accept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use registry_tests::{Access, AuthMode, DockerRegistry, TestResponse, TestServer, TokenIssuer, TokenServer};
use serde_json::{json, Value};

const SERVICE: &str = "registry.test";
const ISSUER: &str = "registry-tests-issuer";

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn token_server() -> TokenServer {
    TokenIssuer::new(SERVICE, ISSUER)
        .user("alice", "alice-secret", Access::All)
        .user("bob", "bob-secret", Access::Pull)
        .user("carol", "carol-secret", Access::PullPush)
        .start()
}

async fn fetch_token(ts: &TokenServer, user: Option<(&str, &str)>, scopes: &[&str]) -> String {
    let mut url = format!("{}?service={SERVICE}", ts.realm());
    for scope in scopes {
        url.push_str("&scope=");
        url.push_str(&registry_tests::http::percent_encode(scope));
    }
    let mut req = client().get(url);
    if let Some((name, password)) = user {
        req = req.basic_auth(name, Some(password));
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn test_server_records_requests_and_bodies() {
    let server = TestServer::start(|req| {
        TestResponse::json(201, &json!({"len": req.body.len(), "path": req.path()}))
            .header("X-Echo", req.method.clone())
    });
    let c = client();

    let resp =
        c.put(format!("{}/a/b?x=1%3A2", server.url())).header("X-Custom", "Value").body("hello").send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(header(&resp, "x-echo"), "PUT");
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body, json!({"len": 5, "path": "/a/b"}));

    // A streamed body goes out chunked.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"abc".to_vec()), Ok(vec![b'x'; 70_000]), Ok(b"end".to_vec())];
    let resp = c
        .post(format!("{}/stream", server.url()))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let head = c.head(format!("{}/h", server.url())).send().await.unwrap();
    assert_eq!(head.status(), 201);

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[0].path_and_query, "/a/b?x=1%3A2");
    assert_eq!(requests[0].query_param("x").as_deref(), Some("1:2"));
    assert_eq!(requests[0].header("x-custom"), Some("Value"));
    assert!(requests[0].headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(requests[0].body, b"hello");
    assert_eq!(requests[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(requests[1].body.len(), 70_006);
    assert!(requests[1].body.starts_with(b"abcxxx"));
    assert!(requests[1].body.ends_with(b"xxend"));
    assert_eq!(requests[2].method, "HEAD");
}

#[tokio::test]
async fn test_server_binds_other_loopback_address() {
    let server = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| TestResponse::new(204));
    assert_eq!(server.addr().ip().to_string(), "127.0.0.2");
    let resp = client().get(server.url()).send().await.unwrap();
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
#[should_panic(expected = "handler panicked: boom in handler")]
async fn test_server_handler_panic_fails_the_test() {
    let server = TestServer::start(|_| panic!("boom in handler"));
    let resp = client().get(server.url()).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    drop(server);
}

#[tokio::test]
async fn anonymous_registry_answers_v2() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    assert!(registry.url().starts_with("http://127.0.0.1:"));
    assert_eq!(registry.url(), format!("http://{}", registry.host()));
    let resp = client().get(format!("{}/v2/", registry.url())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(registry.data_dir().is_dir());
}

#[tokio::test]
async fn htpasswd_registry_requires_basic_auth() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("user", "pa ss:word")]));
    let url = format!("{}/v2/", registry.url());
    let c = client();

    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").starts_with("Basic "));

    let resp = c.get(&url).basic_auth("user", Some("wrong")).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let resp = c.get(&url).basic_auth("user", Some("pa ss:word")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn token_registry_accepts_issued_tokens() {
    let ts = token_server();
    let registry = DockerRegistry::start(AuthMode::from(&ts));
    let c = client();
    let catalog = format!("{}/v2/_catalog", registry.url());

    let resp = c.get(format!("{}/v2/", registry.url())).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = header(&resp, "www-authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(&format!("realm=\"{}\"", ts.realm())), "{challenge}");
    assert!(challenge.contains(&format!("service=\"{SERVICE}\"")), "{challenge}");

    // Access::All gets the catalog.
    let token = fetch_token(&ts, Some(("alice", "alice-secret")), &["registry:catalog:*"]).await;
    let resp = c.get(&catalog).bearer_auth(&token).send().await.unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", registry.log_tail(20));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"repositories": []}));

    // Access::Pull does not.
    let token = fetch_token(&ts, Some(("bob", "bob-secret")), &["registry:catalog:*"]).await;
    let resp = c.get(&catalog).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").contains("insufficient_scope"));

    // Anonymous gets nothing either.
    let token = fetch_token(&ts, None, &["registry:catalog:*"]).await;
    let resp = c.get(&catalog).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // Repository scopes: push needs PullPush.
    let uploads = format!("{}/v2/smoke/repo/blobs/uploads/", registry.url());
    let token = fetch_token(&ts, Some(("carol", "carol-secret")), &["repository:smoke/repo:pull,push"]).await;
    let resp = c.post(&uploads).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let token = fetch_token(&ts, Some(("bob", "bob-secret")), &["repository:smoke/repo:pull,push"]).await;
    let resp = c.post(&uploads).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // Tokens minted directly are accepted too.
    let token = ts.issuer().token_for(Some("alice"), &["registry:catalog:*"]);
    let resp = c.get(&catalog).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    assert_eq!(ts.request_count(), 5);
    let first = &ts.requests()[0];
    assert_eq!(first.query_param("scope").as_deref(), Some("registry:catalog:*"));
}

#[tokio::test]
async fn token_server_rejects_wrong_password() {
    let ts = token_server();
    let c = client();
    let url = format!("{}?service={SERVICE}&scope=registry:catalog:*", ts.realm());

    let resp = c.get(&url).basic_auth("alice", Some("nope")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    let resp = c.get(&url).basic_auth("mallory", Some("x")).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let resp = c
        .post(ts.realm())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username=alice&password=alice-secret&service={SERVICE}&scope=registry%3Acatalog%3A%2A&client_id=smoke"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(ts.request_count(), 3);
}
