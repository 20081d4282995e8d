//! `registry_client::{list_matching_tags, matching_names, list_repositories_below}` against `mocks::FakeClient`:
//! a page of N matching tags reads only the list pages it needs and pages join end to end; repositories below a
//! prefix take `last` as a full name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mocks::{random_image, FakeClient, Method};
use registry_client::sync::TagFilter;
use registry_client::{list_matching_tags, list_repositories_below, Client, ListOptions, LIST_PAGE};

fn list_tag_calls(fake: &FakeClient) -> usize {
    fake.calls().iter().filter(|c| c.method == Method::ListTags).count()
}

/// `org/app` with 2,200 tags that are no versions (`t0000`..) and three versions after them.
async fn seeded() -> (FakeClient, FakeClient) {
    let fake = FakeClient::new("registry.example.com");
    let app = fake.scoped("org/app");
    let image = random_image(1, 64);
    for i in 0..2200 {
        app.push_image(&format!("t{i:04}"), &image).await.unwrap();
    }
    for tag in ["v1.0.0", "v2.0.0", "v9.9.9"] {
        app.push_image(tag, &image).await.unwrap();
    }
    fake.clear_calls();
    (fake, app)
}

#[tokio::test]
async fn a_page_of_matching_tags_reads_only_the_pages_it_needs() {
    let (fake, app) = seeded().await;
    let semver = TagFilter::new(&[], &[], Some(">=1, <5"), None).unwrap();

    let page = list_matching_tags(&app, &semver, ListOptions::default().limit(2)).await.unwrap();
    assert_eq!(page, ["v1.0.0", "v2.0.0"]);
    assert_eq!(list_tag_calls(&fake), 2200 / LIST_PAGE + 1, "every page up to the versions");
    let next = list_matching_tags(&app, &semver, ListOptions::default().limit(2).last("v2.0.0")).await.unwrap();
    assert!(next.is_empty(), "v9.9.9 is outside the range: {next:?}");

    fake.clear_calls();
    let early = TagFilter::new(&["^t000".to_string()], &[], None, None).unwrap();
    let page = list_matching_tags(&app, &early, ListOptions::default().limit(3).last("t0001")).await.unwrap();
    assert_eq!(page, ["t0002", "t0003", "t0004"]);
    assert_eq!(list_tag_calls(&fake), 1, "the first page holds them");

    // No filter: the registry's own page, one call.
    fake.clear_calls();
    let plain = list_matching_tags(&app, &TagFilter::default(), ListOptions::default().limit(5)).await.unwrap();
    assert_eq!(plain, app.list_tags(ListOptions::default().limit(5)).await.unwrap());
    assert_eq!(list_tag_calls(&fake), 2);

    // Pages of 7 matching tags, joined, are every matching tag once.
    let fives = TagFilter::new(&["5$".to_string()], &[], None, None).unwrap();
    let all = fives.apply(app.list_tags(ListOptions::default()).await.unwrap());
    assert_eq!(all.len(), 220);
    let mut joined: Vec<String> = Vec::new();
    for _ in 0..100 {
        let mut opts = ListOptions::default().limit(7);
        if let Some(last) = joined.last() {
            opts = opts.last(last.clone());
        }
        let page = list_matching_tags(&app, &fives, opts).await.unwrap();
        assert!(page.len() <= 7);
        if page.is_empty() {
            break;
        }
        joined.extend(page);
    }
    assert_eq!(joined, all);

    // latest ranks every version: the whole list is read, then cut.
    let latest = TagFilter::new(&[], &[], None, Some(2)).unwrap();
    assert_eq!(list_matching_tags(&app, &latest, ListOptions::default()).await.unwrap(), ["v2.0.0", "v9.9.9"]);

    // A repository that does not exist is the client's error.
    let missing = fake.scoped("org/none");
    let e = list_matching_tags(&missing, &semver, ListOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), registry_client::ErrorKind::NotFound);
}

#[tokio::test]
async fn repositories_below_a_prefix_take_last_as_a_full_name() {
    let fake = FakeClient::new("registry.example.com");
    let image = random_image(2, 64);
    for repo in ["alpha/x", "team/a", "team/sub/b", "teamster/c"] {
        fake.scoped(repo).push_image("v1", &image).await.unwrap();
    }
    let below = |prefix: &'static str, opts: ListOptions| {
        let fake = fake.clone();
        async move { list_repositories_below(&fake, prefix, opts).await.unwrap() }
    };
    assert_eq!(below("team", ListOptions::default()).await, ["team/a", "team/sub/b"]);
    assert_eq!(below("team", ListOptions::default().limit(1)).await, ["team/a"]);
    assert_eq!(below("team", ListOptions::default().last("team/a")).await, ["team/sub/b"]);
    assert_eq!(below("team", ListOptions::default().last("alpha/x")).await, ["team/a", "team/sub/b"]);
    fake.clear_calls();
    assert!(below("team", ListOptions::default().last("teamster/c")).await.is_empty());
    assert!(fake.calls().iter().all(|c| c.method != Method::ListRepositories), "past the prefix: no request");
    assert_eq!(below("", ListOptions::default().last("team/sub/b")).await, ["teamster/c"]);
}
