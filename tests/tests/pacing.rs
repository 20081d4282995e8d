//! Pacing of the requests to one registry host: `RemoteClientBuilder::rate_limit` spaces them out (shared by the
//! client's clones and `with_segment` children), and a 429 pauses every request to the host until its
//! `Retry-After` has passed, not only the one that got it. Against our in-process server (which counts and logs the
//! requests it gets) and the real docker-registry (where a rate limit changes nothing but the pace).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use mocks::server::RegistryServer;
use registry_client::{copy_image, Client, CopyOptions, ErrorKind, ImageBuilder, ListOptions, RemoteClient};
use registry_tests::{AuthMode, DockerRegistry};

/// An anonymous client of `host` over plain HTTP, rate limited when `rate` is given.
fn client(host: &str, rate: Option<f64>) -> RemoteClient {
    let builder = RemoteClient::builder(host).insecure(true);
    match rate {
        Some(r) => builder.rate_limit(r).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// An image under tags `a` and `b` in `host/app`.
async fn seed(host: &str) {
    let image = ImageBuilder::new().layer(&b"paced layer"[..]).build().unwrap();
    let c = client(host, None).with_segment("app");
    c.push_image("a", &image).await.unwrap();
    c.tag_image("a", "b").await.unwrap();
}

/// `n` existence checks in `app`, alternating between two children of the client and a clone of one (they share
/// its limit); how long they took and how many requests the server got meanwhile.
async fn checks(server: &RegistryServer, root: &RemoteClient, n: usize) -> (Duration, usize) {
    let c = root.with_segment("app");
    let clone = c.clone();
    let child = root.clone().with_segment("app");
    let before = server.request_count();
    let start = Instant::now();
    for i in 0..n {
        match i % 3 {
            0 => c.check_image_exists("a").await.unwrap(),
            1 => clone.check_image_exists("a").await.unwrap(),
            _ => child.check_image_exists("a").await.unwrap(),
        }
    }
    (start.elapsed(), server.request_count() - before)
}

#[tokio::test]
async fn a_rate_limit_spaces_every_request_to_the_host() {
    let server = RegistryServer::start().await.unwrap();
    seed(&server.host()).await;

    let (fast, fast_requests) = checks(&server, &client(&server.host(), None), 11).await;
    assert_eq!(fast_requests, 11, "one HEAD per check");
    assert!(fast < Duration::from_millis(1000), "no pacing without a limit: {fast:?}");

    let paced = client(&server.host(), Some(5.0));
    let (slow, requests) = checks(&server, &paced, 11).await;
    assert_eq!(requests, 11, "pacing adds no request");
    // One request at once, then one every 200 ms: 10 intervals (a lower bound, not a timed test).
    assert!(slow >= Duration::from_millis(1900), "11 requests at 5/s took only {slow:?}");
    assert!(slow > fast * 2, "paced {slow:?}, unpaced {fast:?}");

    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = RemoteClient::builder(server.host()).insecure(true).rate_limit(bad).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(&bad.to_string()), "names the value: {e}");
    }
}

#[tokio::test]
async fn a_429_pauses_every_request_to_the_host_until_retry_after() {
    let server = RegistryServer::start().await.unwrap();
    seed(&server.host()).await;
    let root = client(&server.host(), None);
    let c = root.with_segment("app");
    let other = root.with_segment("app");
    server.faults().fail_next(1, "/manifests/a", 429, Some(1));
    let seeded = server.request_log().len();

    let start = Instant::now();
    let first = tokio::spawn({
        let c = c.clone();
        async move {
            c.check_image_exists("a").await.unwrap();
            Instant::now()
        }
    });
    // The 429 has come back well before this (a loopback round trip).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.request_count();
    assert!(
        server.request_log().iter().any(|r| r.contains("/manifests/a")),
        "the first request was answered: {:?}",
        server.request_log()
    );
    let second = tokio::spawn(async move {
        let sent = Instant::now();
        other.check_image_exists("b").await.unwrap();
        (sent, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.request_count(), before, "nothing reaches the host while the pause runs");
    let (second_sent, second_done) = second.await.unwrap();
    let first_done = first.await.unwrap();
    assert!(second_sent.duration_since(start) < Duration::from_millis(400));
    // The pause runs from the 429 (a few ms after `start`) for the 1 s it asked.
    assert!(
        second_done.duration_since(start) >= Duration::from_millis(950),
        "a request to another path waited for the pause: done after {:?}",
        second_done.duration_since(start)
    );
    assert!(first_done.duration_since(start) >= Duration::from_millis(950), "the refused one was retried after it");
    let log = server.request_log().split_off(seeded);
    let b = log.iter().filter(|r| r.contains("/manifests/b")).count();
    let a = log.iter().filter(|r| r.contains("/manifests/a")).count();
    assert_eq!((a, b), (2, 1), "the 429 retried once, the other sent once: {log:?}");
}

#[tokio::test]
async fn a_rate_limited_copy_against_docker_registry_works() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let host = registry.host();
    let paced =
        |path: &str| RemoteClient::builder(format!("{host}/{path}")).insecure(true).rate_limit(20.0).build().unwrap();
    let source = paced("src");
    let target = paced("mirror");
    let image = ImageBuilder::new().layer(&b"one"[..]).layer(&b"two"[..]).build().unwrap();
    source.push_image("v1", &image).await.unwrap();
    source.tag_image("v1", "v2").await.unwrap();
    let mut tags = source.list_tags(ListOptions::default()).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    let start = Instant::now();
    for tag in &tags {
        let report = copy_image(&source, tag, &target, tag, CopyOptions::default()).await.unwrap();
        assert_eq!(&report.target_digest, image.digest());
    }
    let copied = start.elapsed();
    assert_eq!(target.list_tags(ListOptions::default()).await.unwrap(), ["v1", "v2"]);
    assert_eq!(target.get_digest("v2").await.unwrap(), *image.digest());
    // The copies made at least 6 requests to the target (blob checks and uploads, manifest checks and PUT), one
    // every 50 ms at most.
    assert!(copied >= Duration::from_millis(250), "paced: {copied:?}");
}
