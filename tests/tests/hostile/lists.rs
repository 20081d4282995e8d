//! Tag and catalog lists: pagination links that point to another host or loop, links that are fine to follow, and
//! list bodies that are garbage.

use std::time::Duration;

use registry_client::ListOptions;
use registry_core::ErrorKind;
use registry_tests::{TestResponse, TestServer};
use serde_json::json;

use crate::support::{assert_error, expect_err, repo_client, root_client, Routes, HTML_PAGE};

fn tags_page(tags: &[&str], link: Option<String>) -> TestResponse {
    let r = TestResponse::json(200, &json!({"name": "repo", "tags": tags}));
    match link {
        Some(l) => r.header("Link", format!("<{l}>; rel=\"next\"")),
        None => r,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn link_to_another_host_is_refused() {
    let elsewhere = TestServer::start_on("127.0.0.2:0".parse().unwrap(), |_| tags_page(&["stolen"], None));
    let same_ip_other_port = TestServer::start(|_| tags_page(&["stolen"], None));
    let targets = [
        "http://127.0.0.2:1/v2/repo/tags/list?n=1&last=a".to_string(),
        format!("{}/v2/repo/tags/list?n=1&last=a", elsewhere.url()),
        format!("{}/v2/repo/tags/list?n=1&last=a", same_ip_other_port.url()),
        "https://127.0.0.1/v2/repo/tags/list?n=1&last=a".to_string(),
        "//example.com/v2/repo/tags/list".to_string(),
    ];
    for target in targets {
        let link = target.clone();
        let server = TestServer::start(move |_| tags_page(&["a"], Some(link.clone())));
        let client = repo_client(server.addr());
        let e = expect_err(client.list_tags(ListOptions::default()).await, &target);
        assert_error(&e, ErrorKind::Protocol, &["another host"]);
        assert_eq!(server.requests().len(), 1, "{target}");
    }
    // The catalog follows the same rule.
    let link = format!("{}/v2/_catalog?n=1&last=a", elsewhere.url());
    let server = TestServer::start(move |_| {
        TestResponse::json(200, &json!({"repositories": ["a"]})).header("Link", format!("<{link}>; rel=\"next\""))
    });
    let e = expect_err(root_client(server.addr()).list_repositories(ListOptions::default()).await, "catalog link");
    assert_error(&e, ErrorKind::Protocol, &["another host"]);
    assert!(elsewhere.requests().is_empty(), "the other host was contacted: {:?}", elsewhere.requests());
    assert!(same_ip_other_port.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn link_repeating_itself_is_an_error_not_a_loop() {
    // Every page links to itself.
    let server = TestServer::start(|_| tags_page(&["a"], Some("/v2/repo/tags/list?n=1&last=a".to_string())));
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "self link");
    assert_error(&e, ErrorKind::Protocol, &["same next-page link"]);
    assert!(server.requests().len() <= 3, "{} requests", server.requests().len());

    // Two pages linking to each other.
    let server = TestServer::start(|req| match req.query_param("last").as_deref() {
        Some("a") => tags_page(&["b"], Some("/v2/repo/tags/list?last=b".to_string())),
        _ => tags_page(&["a"], Some("/v2/repo/tags/list?last=a".to_string())),
    });
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "link cycle");
    assert_error(&e, ErrorKind::Protocol, &["same next-page link"]);
    assert!(server.requests().len() <= 4, "{} requests", server.requests().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_that_repeat_their_items_under_ever_new_links_end_with_an_error() {
    // A registry that ignores `last` and invents a new link every time: the same two tags on every page.
    let server = TestServer::start(|req| {
        let i: u64 = req.query_param("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        tags_page(&["a", "b"], Some(format!("/v2/repo/tags/list?last=b&page={}", i + 1)))
    });
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "pages repeating their items");
    assert_error(&e, ErrorKind::Protocol, &["the same items", "does not advance"]);
    // The first page, then MAX_STALLED_PAGES pages that bring nothing new.
    assert_eq!(server.requests().len(), 1 + registry_core::api::MAX_STALLED_PAGES);

    // Empty pages that keep linking on.
    let server = TestServer::start(|req| {
        let i: u64 = req.query_param("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        tags_page(&[], Some(format!("/v2/repo/tags/list?page={}", i + 1)))
    });
    let client = repo_client(server.addr());
    let e = tokio::time::timeout(Duration::from_secs(20), client.list_tags(ListOptions::default()))
        .await
        .expect("list_tags looped");
    let e = expect_err(e, "empty pages");
    assert_error(&e, ErrorKind::Protocol, &["no items", "does not advance"]);
    assert_eq!(server.requests().len(), registry_core::api::MAX_STALLED_PAGES);
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_and_absolute_same_host_links_are_followed() {
    // Page 1 links relatively, page 2 absolutely (built from the Host header), page 3 ends.
    let server = TestServer::start(|req| {
        assert_eq!(req.path(), "/v2/repo/tags/list");
        let host = req.header("host").expect("Host header").to_string();
        match req.query_param("last").as_deref() {
            None => tags_page(&["a", "b"], Some("/v2/repo/tags/list?n=2&last=b".to_string())),
            Some("b") => tags_page(&["c", "d"], Some(format!("http://{host}/v2/repo/tags/list?n=2&last=d"))),
            Some("d") => tags_page(&["e"], None),
            Some(other) => panic!("unexpected last={other}"),
        }
    });
    let client = repo_client(server.addr());
    let tags = client.list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
    let asked: Vec<String> = server.requests().iter().map(|r| r.path_and_query.clone()).collect();
    assert_eq!(
        asked,
        ["/v2/repo/tags/list", "/v2/repo/tags/list?n=2&last=b", "/v2/repo/tags/list?n=2&last=d"],
        "pages fetched"
    );

    // A path-relative link (no leading slash) resolves against the current page.
    let server = TestServer::start(|req| match req.query_param("last").as_deref() {
        None => tags_page(&["a"], Some("list?last=a".to_string())),
        Some("a") => {
            assert_eq!(req.path(), "/v2/repo/tags/list");
            tags_page(&["b"], None)
        }
        Some(other) => panic!("unexpected last={other}"),
    });
    let tags = repo_client(server.addr()).list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags, ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_tag_list_is_a_protocol_error() {
    let bodies: [(&str, &str); 4] = [
        ("application/json", r#"{"name": "repo", "tags": ["a", "b""#),
        ("application/json", r#"{"name": "repo", "tags": 42}"#),
        ("text/html", HTML_PAGE),
        ("application/json", r#"{"tags": [1, 2]}"#),
    ];
    for (content_type, body) in bodies {
        let server = Routes::default()
            .with("/v2/repo/tags/list", TestResponse::new(200).header("Content-Type", content_type).body(body))
            .serve();
        let client = repo_client(server.addr());
        let e = expect_err(client.list_tags(ListOptions::default()).await, body);
        assert_error(&e, ErrorKind::Protocol, &["list", "JSON"]);
        let e = expect_err(client.list_tags(ListOptions::default().limit(1)).await, body);
        assert_error(&e, ErrorKind::Protocol, &["JSON"]);
    }
    let server = Routes::default()
        .with(
            "/v2/_catalog",
            TestResponse::new(200).header("Content-Type", "application/json").body("{\"repositories\":"),
        )
        .serve();
    let e = expect_err(root_client(server.addr()).list_repositories(ListOptions::default()).await, "garbage catalog");
    assert_error(&e, ErrorKind::Protocol, &["JSON"]);
}
