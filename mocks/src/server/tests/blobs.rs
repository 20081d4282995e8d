//! Blob GET/HEAD/DELETE and byte ranges.

use reqwest::{Method, StatusCode};

use super::{bytes, error_code, header, Fixture};

#[tokio::test]
async fn get_head_and_ranges() {
    let f = Fixture::new().await;
    let data = b"0123456789";
    let digest = f.push_blob("r/blobs", data).await;
    let path = format!("/v2/r/blobs/blobs/{digest}");

    let resp = f.request(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // reqwest's content_length() is the body's size (0 for HEAD): read the header.
    assert_eq!(header(&resp, "content-length").as_deref(), Some("10"));
    assert_eq!(header(&resp, "docker-content-digest").as_deref(), Some(digest.as_str()));
    assert!(bytes(resp).await.is_empty());

    let resp = f.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("application/octet-stream"));
    assert_eq!(&bytes(resp).await[..], data);

    for (range, expect, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/10"),
        ("bytes=7-", &b"789"[..], "bytes 7-9/10"),
        ("bytes=-2", &b"89"[..], "bytes 8-9/10"),
        ("bytes=8-100", &b"89"[..], "bytes 8-9/10"),
    ] {
        let resp = f.request(Method::GET, &path).header("range", range).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(&resp, "content-range").as_deref(), Some(content_range), "{range}");
        assert_eq!(resp.content_length(), Some(expect.len() as u64));
        assert_eq!(&bytes(resp).await[..], expect, "{range}");
    }
    for range in ["bytes=10-", "bytes=5-2", "bytes=0-1,4-5", "lines=1-2"] {
        let resp = f.request(Method::GET, &path).header("range", range).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(header(&resp, "content-range").as_deref(), Some("bytes */10"), "{range}");
    }
}

#[tokio::test]
async fn unknown_blobs_repositories_and_digests() {
    let f = Fixture::new().await;
    let digest = f.push_blob("r", b"x").await;
    let other = registry_core::Digest::sha256(b"y");
    let resp = f.request(Method::GET, &format!("/v2/r/blobs/{other}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
    // docker-registry answers BLOB_UNKNOWN in a repository it does not know, too.
    let resp = f.request(Method::GET, &format!("/v2/nope/blobs/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
    let resp = f.request(Method::GET, "/v2/r/blobs/sha256:abc").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    let resp = f.request(Method::HEAD, &format!("/v2/r/blobs/{other}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blobs_are_per_repository_and_deletable() {
    let f = Fixture::new().await;
    let digest = f.push_blob("a", b"shared").await;
    f.push_blob("b", b"other").await;
    let resp = f.request(Method::HEAD, &format!("/v2/b/blobs/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "not linked in b");
    let resp = f.request(Method::DELETE, &format!("/v2/a/blobs/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = f.request(Method::GET, &format!("/v2/a/blobs/{digest}")).send().await.unwrap();
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
    let resp = f.request(Method::DELETE, &format!("/v2/a/blobs/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
