//! Tag lists and the catalog: order, `n`, `last`, `Link`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{body_json, error_code, header, Fixture};

async fn get(f: &Fixture, path: &str) -> (Value, Option<String>) {
    let resp = f.request(Method::GET, path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let link = header(&resp, "link");
    (body_json(resp).await, link)
}

#[tokio::test]
async fn tags_paginate_with_link() {
    let f = Fixture::new().await;
    let (_, digest) = f.push_image("t/app", "b", "tags", json!({})).await;
    for tag in ["c", "a", "B", "d", "a.b"] {
        let resp = f
            .request(Method::PUT, &format!("/v2/t/app/manifests/{tag}"))
            .header("content-type", registry_core::manifest::media_type::OCI_MANIFEST)
            .body(
                f.request(Method::GET, &format!("/v2/t/app/manifests/{digest}"))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let (all, link) = get(&f, "/v2/t/app/tags/list").await;
    assert_eq!(all, json!({"name": "t/app", "tags": ["B", "a", "a.b", "b", "c", "d"]}));
    assert_eq!(link, None);

    let (page, link) = get(&f, "/v2/t/app/tags/list?n=2").await;
    assert_eq!(page["tags"], json!(["B", "a"]));
    assert_eq!(link.as_deref(), Some(r#"</v2/t/app/tags/list?n=2&last=a>; rel="next""#));
    let (page, link) = get(&f, "/v2/t/app/tags/list?n=2&last=a").await;
    assert_eq!(page["tags"], json!(["a.b", "b"]));
    assert_eq!(link.as_deref(), Some(r#"</v2/t/app/tags/list?n=2&last=b>; rel="next""#));
    let (page, link) = get(&f, "/v2/t/app/tags/list?n=2&last=b").await;
    assert_eq!(page["tags"], json!(["c", "d"]));
    assert_eq!(link, None, "nothing after the last page");
    let (page, _) = get(&f, "/v2/t/app/tags/list?last=bb").await;
    assert_eq!(page["tags"], json!(["c", "d"]), "last need not exist");
    let (page, _) = get(&f, "/v2/t/app/tags/list?n=0").await;
    assert_eq!(page["tags"], json!([]));

    let resp = f.request(Method::GET, "/v2/t/app/tags/list?n=x").send().await.unwrap();
    assert_eq!(error_code(resp).await, "PAGINATION_NUMBER_INVALID");
    let resp = f.request(Method::GET, "/v2/t/none/tags/list").send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "NAME_UNKNOWN"));
}

#[tokio::test]
async fn catalog_lists_repositories_with_manifests() {
    let f = Fixture::new().await;
    for repo in ["b/two", "a/one", "a/two", "c"] {
        f.push_image(repo, "v1", repo, json!({})).await;
    }
    f.push_blob("blobs/only", b"x").await;
    let (all, link) = get(&f, "/v2/_catalog").await;
    assert_eq!(all, json!({"repositories": ["a/one", "a/two", "b/two", "c"]}));
    assert_eq!(link, None);
    let (page, link) = get(&f, "/v2/_catalog?n=2").await;
    assert_eq!(page["repositories"], json!(["a/one", "a/two"]));
    assert_eq!(link.as_deref(), Some(r#"</v2/_catalog?last=a%2Ftwo&n=2>; rel="next""#));
    let (page, link) = get(&f, "/v2/_catalog?last=a%2Ftwo&n=2").await;
    assert_eq!(page["repositories"], json!(["b/two", "c"]));
    assert_eq!(link, None);
    let (page, _) = get(&f, "/v2/_catalog?last=b").await;
    assert_eq!(page["repositories"], json!(["b/two", "c"]));
    let resp = f.request(Method::GET, "/v2/_catalog?n=1001").send().await.unwrap();
    assert_eq!(
        (resp.status(), error_code(resp).await.as_str()),
        (StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID")
    );
}

#[tokio::test]
async fn catalog_default_page_is_100() {
    let f = Fixture::new().await;
    for i in 0..101 {
        f.push_image(&format!("r{i:03}"), "v1", "same", json!({})).await;
    }
    let (page, link) = get(&f, "/v2/_catalog").await;
    assert_eq!(page["repositories"].as_array().map(Vec::len), Some(100));
    assert_eq!(link.as_deref(), Some(r#"</v2/_catalog?last=r099&n=100>; rel="next""#));
}

#[tokio::test]
async fn a_repository_has_a_tag_list_once_tagged() {
    let f = Fixture::new().await;
    f.push_blob("blobs/only", b"x").await;
    let resp = f.request(Method::GET, "/v2/blobs/only/tags/list").send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "NAME_UNKNOWN"));
    // Pushed by digest only: in the catalog, still no tag list (as docker-registry).
    let config = f.push_blob("untagged", b"{}").await;
    let layer = f.push_blob("untagged", b"layer").await;
    let manifest = super::image_manifest(&config, &layer);
    let digest = registry_core::Digest::sha256(&serde_json::to_vec(&manifest).unwrap());
    let resp =
        f.put_manifest("untagged", digest.as_str(), registry_core::manifest::media_type::OCI_MANIFEST, &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (catalog, _) = get(&f, "/v2/_catalog").await;
    assert_eq!(catalog["repositories"], json!(["untagged"]));
    let resp = f.request(Method::GET, "/v2/untagged/tags/list").send().await.unwrap();
    assert_eq!((resp.status(), error_code(resp).await.as_str()), (StatusCode::NOT_FOUND, "NAME_UNKNOWN"));
    // Tagged, then its manifest deleted: an empty list.
    let resp = f.put_manifest("untagged", "v1", registry_core::manifest::media_type::OCI_MANIFEST, &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = f.request(Method::DELETE, &format!("/v2/untagged/manifests/{digest}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let (page, _) = get(&f, "/v2/untagged/tags/list").await;
    assert_eq!(page["tags"], json!([]));
}
