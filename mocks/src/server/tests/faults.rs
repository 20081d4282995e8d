//! Fault hooks over HTTP.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::{Method, StatusCode};

use super::{error_code, header, Fixture};

#[tokio::test]
async fn fail_next_answers_the_status_then_recovers() {
    let f = Fixture::new().await;
    f.server.faults().fail_next(2, "/tags/", 503, Some(7));
    f.server.faults().fail_next(1, "_catalog", 429, None);
    for _ in 0..2 {
        let resp = f.request(Method::GET, "/v2/x/tags/list").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&resp, "retry-after").as_deref(), Some("7"));
        assert_eq!(error_code(resp).await, "UNAVAILABLE");
    }
    let resp = f.request(Method::GET, "/v2/x/tags/list").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "back to normal: the repository does not exist");
    let resp = f.request(Method::GET, "/v2/_catalog").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "retry-after"), None);
    assert_eq!(error_code(resp).await, "TOOMANYREQUESTS");
    assert_eq!(f.request(Method::GET, "/v2/_catalog").send().await.unwrap().status(), StatusCode::OK);
    // A failed request with a body keeps the connection usable.
    f.server.faults().fail_next(1, "/blobs/uploads/", 500, None);
    let resp = f.request(Method::POST, "/v2/x/blobs/uploads/?digest=sha256:0").body(vec![0u8; 100_000]).send().await;
    assert_eq!(resp.unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn latency_delays_every_request() {
    let f = Fixture::new().await;
    f.server.faults().latency(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(f.request(Method::GET, "/v2/").send().await.unwrap().status(), StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
    f.server.faults().latency(Duration::ZERO);
    let start = Instant::now();
    f.request(Method::GET, "/v2/").send().await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn drop_after_truncates_the_next_matching_body() {
    let f = Fixture::new().await;
    let data = vec![9u8; 1000];
    let digest = f.push_blob("cut", &data).await;
    let path = format!("/v2/cut/blobs/{digest}");
    f.server.faults().drop_after(100, "/blobs/sha256:");
    let resp = f.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.content_length(), Some(1000), "the full length is announced");
    let mut stream = resp.bytes_stream();
    let mut got = 0usize;
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => got += c.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert_eq!(got, 100, "exactly the bytes before the cut arrive");
    assert!(failed, "the body ends in an error, not a clean end");
    // Used once: the next read is whole.
    let resp = f.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().len(), 1000);
}
