//! Pushes whose upload location points to another host, or is missing.

use registry_client::ImageBuilder;
use registry_core::ErrorKind;
use registry_tests::{TestResponse, TestServer};

use crate::support::{assert_error, expect_err, repo_client};

#[tokio::test(flavor = "multi_thread")]
async fn upload_location_on_another_host_is_refused() {
    let elsewhere = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| TestResponse::new(201));
    let location = format!("{}/v2/repo/blobs/uploads/stolen", elsewhere.url());
    let server = TestServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("HEAD", _) => TestResponse::new(404),
        ("POST", "/v2/repo/blobs/uploads/") => TestResponse::new(202).header("Location", location.clone()),
        (m, p) => panic!("unexpected {m} {p}"),
    });
    let client = repo_client(server.addr());
    let image = ImageBuilder::new().layer(&b"layer"[..]).build().unwrap();
    let e = expect_err(client.push_image("v1", &image).await, "upload location elsewhere");
    assert_error(&e, ErrorKind::Protocol, &["another host", "127.0.0.2"]);
    assert!(elsewhere.requests().is_empty(), "the other host was contacted: {:?}", elsewhere.requests());
    assert!(server.requests().iter().all(|r| r.method != "PUT" && r.method != "PATCH"));

    // Without any Location at all.
    let server = TestServer::start(|req| match req.method.as_str() {
        "HEAD" => TestResponse::new(404),
        "POST" => TestResponse::new(202),
        m => panic!("unexpected {m}"),
    });
    let e = expect_err(repo_client(server.addr()).push_image("v1", &image).await, "no Location");
    assert_error(&e, ErrorKind::Protocol, &["Location"]);
}
