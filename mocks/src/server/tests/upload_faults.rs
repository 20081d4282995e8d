//! The upload and range hooks of the fault set over HTTP: cut requests, method failures, forgotten sessions,
//! minimum chunk lengths, refused mounts, wrong ranges.

use registry_core::Digest;
use reqwest::{Method, StatusCode};

use super::{bytes, error_code, header, Fixture};

async fn start(f: &Fixture, repo: &str) -> (String, reqwest::Response) {
    let resp = f.request(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    (header(&resp, "location").unwrap(), resp)
}

async fn patch(f: &Fixture, location: &str, range: &str, data: Vec<u8>) -> reqwest::Result<reqwest::Response> {
    f.request(Method::PATCH, location).header("content-range", range).body(data).send().await
}

#[tokio::test]
async fn a_cut_request_keeps_what_arrived_and_gets_no_answer() {
    let f = Fixture::new().await;
    let (location, _) = start(&f, "cut").await;
    f.server.faults().drop_request_after(1000, "PATCH", "/blobs/uploads/");
    let e = patch(&f, &location, "0-99999", vec![7u8; 100_000]).await.unwrap_err();
    assert!(!e.is_status(), "no answer at all: {e}");
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-999"), "the first 1000 bytes were kept");
    // Used once: the rest goes through from where the registry is.
    let resp = patch(&f, &location, "1000-1999", vec![7u8; 1000]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-1999"));
}

#[tokio::test]
async fn method_failures_and_forgotten_sessions() {
    let f = Fixture::new().await;
    let (location, _) = start(&f, "m").await;
    f.server.faults().fail_next_method(1, "PATCH", "/blobs/uploads/", 429, Some(3));
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "GET is not PATCH");
    let resp = patch(&f, &location, "0-2", b"abc".to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("3"));
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(header(&resp, "range").as_deref(), Some("0-0"), "nothing appended");
    f.server.faults().forget_upload_next(1, "GET", "/blobs/uploads/");
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_INVALID");
    let resp = patch(&f, &location, "0-2", b"abc".to_vec()).await.unwrap();
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN", "the session is gone for good");
}

#[tokio::test]
async fn minimum_chunk_length_is_announced_and_enforced() {
    let f = Fixture::new().await;
    f.server.faults().chunk_min_length(Some(4));
    let (location, resp) = start(&f, "min").await;
    assert_eq!(header(&resp, "oci-chunk-min-length").as_deref(), Some("4"));
    assert_eq!(patch(&f, &location, "0-4", b"01234".to_vec()).await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(patch(&f, &location, "5-6", b"56".to_vec()).await.unwrap().status(), StatusCode::ACCEPTED);
    let resp = patch(&f, &location, "7-11", b"789ab".to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "a short chunk must be the last");
    let digest = Digest::sha256(b"0123456");
    let resp = f.request(Method::PUT, &format!("{location}?digest={digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn refused_mounts_open_a_session() {
    let f = Fixture::new().await;
    let digest = f.push_blob("src", b"layer").await;
    f.server.faults().refuse_mounts(true);
    let resp =
        f.request(Method::POST, &format!("/v2/dst/blobs/uploads/?mount={digest}&from=src")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(header(&resp, "location").unwrap().starts_with("/v2/dst/blobs/uploads/"));
    let resp = f.request(Method::GET, &format!("/v2/dst/blobs/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "not mounted");
}

#[tokio::test]
async fn range_faults() {
    let f = Fixture::new().await;
    let digest = f.push_blob("r", b"0123456789").await;
    let path = format!("/v2/r/blobs/{digest}");
    f.server.faults().ignore_range_next(1, "/blobs/");
    f.server.faults().shift_range_next(1, "/blobs/");
    let resp = f.request(Method::GET, &path).header("range", "bytes=4-").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(&bytes(resp).await[..], b"0123456789");
    let resp = f.request(Method::GET, &path).header("range", "bytes=4-").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "content-range").as_deref(), Some("bytes 5-9/10"));
    assert_eq!(&bytes(resp).await[..], b"56789");
    let resp = f.request(Method::GET, &path).header("range", "bytes=4-").send().await.unwrap();
    assert_eq!(header(&resp, "content-range").as_deref(), Some("bytes 4-9/10"), "back to normal");
}
