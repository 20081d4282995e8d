//! Upload sessions: chunked with `Content-Range`, streamed, monolithic, mounts, digest checks.

use bytes::Bytes;
use registry_core::Digest;
use reqwest::{Method, StatusCode};

use super::{bytes, error_code, header, Fixture};

/// Start an upload in `repo`; its location.
async fn start(f: &Fixture, repo: &str) -> String {
    let resp = f.request(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-0"));
    let location = header(&resp, "location").unwrap();
    let uuid = header(&resp, "docker-upload-uuid").unwrap();
    assert_eq!(location, format!("/v2/{repo}/blobs/uploads/{uuid}"));
    location
}

async fn patch(f: &Fixture, location: &str, range: Option<&str>, data: &'static [u8]) -> reqwest::Response {
    let mut req = f.request(Method::PATCH, location).body(data);
    if let Some(r) = range {
        req = req.header("content-range", r);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn chunked_upload_with_content_range() {
    let f = Fixture::new().await;
    let location = start(&f, "a/b").await;
    let resp = patch(&f, &location, Some("0-4"), b"01234").await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-4"));
    assert_eq!(header(&resp, "location").as_deref(), Some(location.as_str()));

    // Out of order: 416, nothing appended, the current range told.
    let resp = patch(&f, &location, Some("3-6"), b"3456").await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-4"));
    // A chunk whose length contradicts its range: 400, nothing appended.
    let resp = patch(&f, &location, Some("5-9"), b"56").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_INVALID");
    let resp = patch(&f, &location, Some("five-nine"), b"56789").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "range").as_deref(), Some("0-4"));

    let resp = patch(&f, &location, Some("bytes 5-9/*"), b"56789").await;
    assert_eq!(header(&resp, "range").as_deref(), Some("0-9"));
    // The last chunk comes with the PUT.
    let digest = Digest::sha256(b"0123456789ab");
    let resp = f
        .request(Method::PUT, &format!("{location}?digest={digest}"))
        .header("content-range", "10-11")
        .body(&b"ab"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "location"), Some(format!("/v2/a/b/blobs/{digest}")));
    assert_eq!(header(&resp, "docker-content-digest"), Some(digest.to_string()));
    let resp = f.request(Method::GET, &format!("/v2/a/b/blobs/{digest}")).send().await.unwrap();
    assert_eq!(&bytes(resp).await[..], b"0123456789ab");
    // The session is over.
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn streamed_chunked_body() {
    let f = Fixture::new().await;
    let location = start(&f, "s").await;
    let parts: Vec<Result<Bytes, std::io::Error>> =
        (0..50).map(|i| Ok(Bytes::from(format!("chunk {i:02};").into_bytes()))).collect();
    let whole: Vec<u8> = (0..50).flat_map(|i| format!("chunk {i:02};").into_bytes()).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(parts));
    let resp = f.request(Method::PATCH, &location).body(body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&resp, "range"), Some(format!("0-{}", whole.len() - 1)));
    let next = header(&resp, "location").unwrap();
    let digest = Digest::sha256(&whole);
    let resp = f.request(Method::PUT, &format!("{next}?digest={digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = f.request(Method::GET, &format!("/v2/s/blobs/{digest}")).send().await.unwrap();
    assert_eq!(&bytes(resp).await[..], &whole[..]);
}

#[tokio::test]
async fn digest_mismatch_discards_the_upload() {
    let f = Fixture::new().await;
    let location = start(&f, "m").await;
    patch(&f, &location, None, b"actual content").await;
    let wrong = Digest::sha256(b"other content");
    let resp = f.request(Method::PUT, &format!("{location}?digest={wrong}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    let resp = f.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = f.request(Method::HEAD, &format!("/v2/m/blobs/{wrong}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Monolithic POST with a wrong digest, and a PUT without one.
    let resp = f
        .request(Method::POST, &format!("/v2/m/blobs/uploads/?digest={wrong}"))
        .body(&b"actual"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    let location = start(&f, "m").await;
    let resp = f.request(Method::PUT, &location).body(&b"x"[..]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    // sha512 digests are verified too.
    let d512 = Digest::compute(registry_core::Algorithm::Sha512, b"x");
    let resp = f.request(Method::PUT, &format!("{location}?digest={d512}")).body(&b"x"[..]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn cross_repository_mount() {
    let f = Fixture::new().await;
    let digest = f.push_blob("src/app", b"layer").await;
    let resp =
        f.request(Method::POST, &format!("/v2/dst/blobs/uploads/?mount={digest}&from=src/app")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "location"), Some(format!("/v2/dst/blobs/{digest}")));
    let resp = f.request(Method::GET, &format!("/v2/dst/blobs/{digest}")).send().await.unwrap();
    assert_eq!(&bytes(resp).await[..], b"layer");
    // Not in `from`: an upload session starts instead.
    let resp = f
        .request(Method::POST, &format!("/v2/dst2/blobs/uploads/?mount={digest}&from=elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(header(&resp, "location").unwrap().starts_with("/v2/dst2/blobs/uploads/"));
}

#[tokio::test]
async fn cancel_and_unknown_sessions() {
    let f = Fixture::new().await;
    let location = start(&f, "c").await;
    let resp = f.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = patch(&f, &location, None, b"late").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
    let resp = f.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // A session belongs to its repository.
    let location = start(&f, "c").await;
    let foreign = location.replace("/v2/c/", "/v2/d/");
    let resp = f.request(Method::GET, &foreign).send().await.unwrap();
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
}
