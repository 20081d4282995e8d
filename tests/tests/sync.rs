//! The sync engine (`registry_client::sync`) against docker-registry (and our in-process server where counting
//! requests is quicker): filters, prefixes by the catalog, layouts both ways, referrers, upload-once with mounts
//! counted at the registry, kill-and-resume with a journal, shards, failure reporting, overwrite: false, dry runs
//! and warm runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mocks::server::RegistryServer;
use registry_client::sync::{
    self, plan, run, Action, ConnectOptions, Connector, ImageStatus, RunOptions, Shard, SyncEvent, SyncReport, SyncSpec,
};
use registry_client::{Artifact, Client, Digest, Image, ImageBuilder, LayoutClient, ListOptions, RemoteClient};
use registry_tests::conformance::small_image;
use registry_tests::proxy::TestProxy;
use registry_tests::{AuthMode, DockerRegistry};

/// `registries:` making every host plain HTTP, then `body`.
fn spec(hosts: &[&str], body: &str) -> SyncSpec {
    let mut yaml = String::from("registries:\n");
    for h in hosts {
        yaml.push_str(&format!("  \"{h}\": {{ insecure: true }}\n"));
    }
    yaml.push_str(body);
    match SyncSpec::parse(&yaml) {
        Ok(s) => s,
        Err(e) => panic!("spec does not parse: {e}\n{yaml}"),
    }
}

fn client(host: &str, repo: &str) -> Arc<dyn Client> {
    let root: Arc<dyn Client> = Arc::new(RemoteClient::builder(host).insecure(true).build().unwrap());
    root.with_segment(repo)
}

async fn sync_with(spec: &SyncSpec, opts: RunOptions) -> SyncReport {
    let connector = Connector::new(spec, ConnectOptions::default());
    sync::sync(spec, &connector, opts).await.unwrap()
}

async fn tags(c: &dyn Client) -> Vec<String> {
    let mut t = c.list_tags(ListOptions::default()).await.unwrap_or_default();
    t.sort();
    t
}

fn count(report: &SyncReport, status: ImageStatus) -> usize {
    report.images.iter().filter(|i| i.status == status).count()
}

/// Every image of the report copied (or skipped), and the target's digest equal to the source's.
async fn assert_mirrored(source: &dyn Client, target: &dyn Client, tags: &[&str]) {
    for tag in tags {
        let want = source.get_digest(tag).await.unwrap();
        let got = target.get_digest(tag).await.unwrap_or_else(|e| panic!("{tag} on the target: {e}"));
        assert_eq!(got, want, "{tag}");
    }
}

#[tokio::test]
async fn filters_decide_exactly_which_tags_arrive() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let source = client(&a.host(), "org/app");
    for tag in ["v1.0.0", "v1.2.0", "v1.3.0-rc1", "v1.4.0", "v1.5.0", "v2.0.0", "latest", "x-v1.9.0"] {
        source.push_image(tag, &small_image(tag, 1)).await.unwrap();
    }
    let body = format!(
        "sync:\n  - source: {a}/org/app\n    target: {b}/one/app\n    tags: {{ allow: [\"^v1\\\\.\"], deny: [\"-rc\"], semver: \">=1.2, <2\" }}\n  - source: {a}/org/app\n    target: {b}/two/app\n    tags: {{ semver: \">=1\", latest: 2 }}\n  - source: {a}/org/app\n    target: {b}/three/app\n    tags: {{ allow: [\"v1\"] }}\n",
        a = a.host(),
        b = b.host()
    );
    let report = sync_with(&spec(&[&a.host(), &b.host()], &body), RunOptions::default()).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(tags(&*client(&b.host(), "one/app")).await, vec!["v1.2.0", "v1.4.0", "v1.5.0"]);
    assert_eq!(tags(&*client(&b.host(), "two/app")).await, vec!["v1.5.0", "v2.0.0"]);
    // Unanchored: matches anywhere in the tag.
    assert_eq!(
        tags(&*client(&b.host(), "three/app")).await,
        vec!["v1.0.0", "v1.2.0", "v1.3.0-rc1", "v1.4.0", "v1.5.0", "x-v1.9.0"]
    );
    assert_mirrored(&*source, &*client(&b.host(), "one/app"), &["v1.2.0", "v1.4.0", "v1.5.0"]).await;
}

#[tokio::test]
async fn a_prefix_is_listed_through_the_catalog() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    for (repo, tag) in [("team/a", "v1"), ("team/b/deep", "v2"), ("other/c", "v3"), ("teamster/d", "v4")] {
        client(&a.host(), repo).push_image(tag, &small_image(repo, 1)).await.unwrap();
    }
    let body = format!("sync:\n  - {{ source: \"{}/team/\", target: \"{}/mirror/team/\" }}\n", a.host(), b.host());
    let report = sync_with(&spec(&[&a.host(), &b.host()], &body), RunOptions::default()).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(count(&report, ImageStatus::Copied), 2, "{report:?}");
    let root: Arc<dyn Client> = Arc::new(RemoteClient::builder(b.host()).insecure(true).build().unwrap());
    let mut repos = root.list_repositories(ListOptions::default()).await.unwrap();
    repos.sort();
    assert_eq!(repos, vec!["mirror/team/a", "mirror/team/b/deep"]);
    assert_mirrored(&*client(&a.host(), "team/b/deep"), &*client(&b.host(), "mirror/team/b/deep"), &["v2"]).await;
}

#[tokio::test]
async fn layouts_both_ways_keep_digests_and_tags() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("airgap");
    let (amd, arm) = registry_tests::conformance::two_platform_images();
    let index = registry_client::index_of(&[&amd, &arm]).unwrap();
    client(&a.host(), "base/os").push_index("12", &index, &[amd, arm]).await.unwrap();
    client(&a.host(), "base/os").push_image("13", &small_image("13", 2)).await.unwrap();
    client(&a.host(), "apps/web").push_image("v1", &small_image("web", 2)).await.unwrap();
    let pull = format!("sync:\n  - {{ source: \"{a}/\", target: \"oci:{d}\" }}\n", a = a.host(), d = disk.display());
    let report = sync_with(&spec(&[&a.host()], &pull), RunOptions::default()).await;
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 3), "{report:?}");
    let layout = LayoutClient::open(&disk).await.unwrap();
    assert_eq!(tags(&*layout.with_segment("base/os")).await, vec!["12", "13"]);
    assert_mirrored(&*client(&a.host(), "base/os"), &*layout.with_segment("base/os"), &["12", "13"]).await;

    let push =
        format!("sync:\n  - {{ source: \"oci:{d}\", target: \"{b}/mirror/\" }}\n", b = b.host(), d = disk.display());
    let report = sync_with(&spec(&[&b.host()], &push), RunOptions::default()).await;
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 3), "{report:?}");
    assert_mirrored(&*client(&a.host(), "base/os"), &*client(&b.host(), "mirror/base/os"), &["12", "13"]).await;
    assert_mirrored(&*client(&a.host(), "apps/web"), &*client(&b.host(), "mirror/apps/web"), &["v1"]).await;
    let whole = client(&b.host(), "mirror/base/os").get_manifest("12").await.unwrap();
    assert!(whole.is_index(), "the index travelled whole");
}

/// `v1` of `source` with an SBOM referrer (an OCI artifact whose subject is `v1`) and a cosign signature under
/// its digest tag `sha256-<hex>.sig`: the image, the SBOM, and that tag.
async fn seed_signed(source: &dyn Client) -> (Image, Artifact, String) {
    let image = small_image("signed", 1);
    source.push_image("v1", &image).await.unwrap();
    let sbom = Artifact::builder("application/spdx+json")
        .subject(image.raw_manifest().descriptor().unwrap())
        .layer(&b"{\"spdx\":1}"[..], "application/spdx+json")
        .build()
        .unwrap();
    source.push_artifact(&sbom).await.unwrap();
    let sig_tag = format!("sha256-{}.sig", image.digest().hex());
    source.push_image(&sig_tag, &small_image("a cosign signature", 1)).await.unwrap();
    (image, sbom, sig_tag)
}

#[tokio::test]
async fn referrers_and_cosign_tags_travel_with_their_image_whatever_the_filters() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let source = client(&a.host(), "org/app");
    let (image, sbom, sig_tag) = seed_signed(&*source).await;
    source.push_image("v2", &small_image("unsigned", 1)).await.unwrap();
    let other_sig = format!("sha256-{}.sig", Digest::sha256(b"not planned").hex());
    source.push_image(&other_sig, &small_image("another signature", 1)).await.unwrap();
    let body = format!(
        "sync:\n  - source: {a}/org/app\n    target: {b}/org/app\n    tags: {{ allow: [\"^v1$\"] }}\n    referrers: true\n",
        a = a.host(),
        b = b.host()
    );
    // Record the order images start and finish in.
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let opts = RunOptions::default().events(move |event| match event {
        SyncEvent::ImageStarted { source, .. } => seen.lock().unwrap().push(format!("start {source}")),
        SyncEvent::ImageFinished { report, .. } => seen.lock().unwrap().push(format!("finish {}", report.source)),
        _ => {}
    });
    let report = sync_with(&spec(&[&a.host(), &b.host()], &body), opts).await;
    assert_eq!(report.failed, 0, "{report:?}");
    // Digest tags start only once every other image finished: the subject's copy writes the same referrers, and
    // two writers of one manifest at once made docker-registry answer MANIFEST_BLOB_UNKNOWN.
    let events = events.lock().unwrap().clone();
    let is_digest_tag = |e: &str| e.contains(":sha256-");
    let last_other_finish = events.iter().rposition(|e| e.starts_with("finish") && !is_digest_tag(e)).unwrap();
    let first_tag_start = events.iter().position(|e| e.starts_with("start") && is_digest_tag(e)).unwrap();
    assert!(last_other_finish < first_tag_start, "{events:#?}");
    let target = client(&b.host(), "org/app");
    let got = tags(&*target).await;
    assert!(got.contains(&"v1".to_string()) && got.contains(&sig_tag), "{got:?}");
    assert!(!got.contains(&"v2".to_string()) && !got.contains(&other_sig), "{got:?}");
    assert_mirrored(&*source, &*target, &["v1", &sig_tag]).await;
    let listed = target.list_referrers(image.digest().as_str(), None).await.unwrap();
    assert_eq!(listed.iter().map(|d| d.digest().to_string()).collect::<Vec<_>>(), vec![sbom.digest().to_string()]);
}

/// Four shared base layers and one unique layer.
fn layered(name: &str, base: &[Vec<u8>]) -> Image {
    let mut b = ImageBuilder::new().label("name", name);
    for layer in base {
        b = b.layer(layer.clone());
    }
    b.layer(format!("unique layer of {name}").into_bytes()).build().unwrap()
}

fn base_layers() -> Vec<Vec<u8>> {
    (0..4u8).map(|i| vec![i; 256 * 1024 + usize::from(i)]).collect()
}

#[tokio::test]
async fn each_shared_blob_is_uploaded_once_per_target_registry_and_mounted_after() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let base = base_layers();
    for i in 0..5 {
        client(&a.host(), &format!("team/app{i}")).push_image("v1", &layered(&format!("app{i}"), &base)).await.unwrap();
    }
    let body = format!("sync:\n  - {{ source: \"{}/team/\", target: \"{}/mirror/\" }}\n", a.host(), b.host());
    let s = spec(&[&a.host(), &b.host()], &body);
    // The target's requests go through a recording proxy: what reached docker-registry, counted.
    let proxy = TestProxy::start();
    let target: Arc<dyn Client> =
        Arc::new(RemoteClient::builder(b.host()).insecure(true).proxy(proxy.url()).build().unwrap());
    let connector = Connector::new(&s, ConnectOptions::default()).with_client(b.host(), target);
    let streamed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = streamed.clone();
    let opts = RunOptions::new().events(move |e: &SyncEvent| {
        if let SyncEvent::Bytes { bytes, .. } = e {
            counter.fetch_add(*bytes, Ordering::Relaxed);
        }
    });
    let report = sync::sync(&s, &connector, opts).await.unwrap();
    let reported: u64 = report.images.iter().map(|i| i.bytes).sum();
    assert_eq!(streamed.load(Ordering::Relaxed), reported, "Bytes events add up to the bytes reported");
    let base_bytes: u64 = base.iter().map(|l| l.len() as u64).sum();
    assert!(reported >= base_bytes && reported < 2 * base_bytes, "{reported} bytes for {base_bytes} of base layers");
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 5), "{report:?}");
    // 4 base layers once, 5 unique layers, 5 configs; the base layers mounted into the 4 other repositories.
    assert_eq!((report.blobs.uploaded, report.blobs.mounted, report.blobs.skipped), (14, 16, 0), "{report:?}");
    let requests = proxy.requests();
    for layer in &base {
        let hex = Digest::sha256(layer).hex().to_string();
        let with = |method: &str, part: &str| {
            requests.iter().filter(|r| r.method == method && r.target.contains(part) && r.target.contains(&hex)).count()
        };
        let uploads = with("PUT", "/blobs/uploads/");
        assert_eq!(uploads, 1, "base layer {hex} uploaded {uploads} times ({} requests)", requests.len());
        let mounts = with("POST", "mount=");
        assert_eq!(mounts, 4, "base layer {hex} mounted {mounts} times");
    }
    for i in 0..5 {
        let repo = format!("team/app{i}");
        assert_mirrored(&*client(&a.host(), &repo), &*client(&b.host(), &format!("mirror/app{i}")), &["v1"]).await;
    }
}

#[tokio::test]
async fn shards_are_disjoint_their_union_is_the_plan_and_running_them_all_mirrors_everything() {
    let (a, b, c) = (
        DockerRegistry::start(AuthMode::Anonymous),
        DockerRegistry::start(AuthMode::Anonymous),
        DockerRegistry::start(AuthMode::Anonymous),
    );
    let names: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    let source = client(&a.host(), "org/app");
    for tag in &names {
        source.push_image(tag, &small_image(tag, 1)).await.unwrap();
    }
    let body = |t: &str| format!("sync:\n  - {{ source: \"{}/org/app\", target: \"{t}/org/app\" }}\n", a.host());
    let sharded = spec(&[&a.host(), &b.host()], &body(&b.host()));
    let connector = Connector::new(&sharded, ConnectOptions::default());
    let whole = plan(&sharded, &connector).await.unwrap();
    let all: BTreeSet<String> = whole.items.iter().map(|i| i.target.to_string()).collect();
    assert_eq!(all.len(), 12);
    let mut union = BTreeSet::new();
    for k in 0..3 {
        let shard = Shard::parse(&format!("{k}/3")).unwrap();
        let part = whole.clone().shard(shard);
        for item in &part.items {
            assert!(union.insert(item.target.to_string()), "{} is in two shards", item.target);
        }
        let report = sync_with(&sharded, RunOptions::new().shard(shard)).await;
        assert_eq!(report.images.len(), part.items.len());
        assert_eq!(report.failed, 0, "{report:?}");
    }
    assert_eq!(union, all);
    let full = spec(&[&a.host(), &c.host()], &body(&c.host()));
    sync_with(&full, RunOptions::default()).await;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(tags(&*client(&b.host(), "org/app")).await, tags(&*client(&c.host(), "org/app")).await);
    assert_mirrored(&*client(&c.host(), "org/app"), &*client(&b.host(), "org/app"), &names).await;
}

#[tokio::test]
async fn one_missing_source_fails_alone_with_its_error() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    client(&a.host(), "org/app").push_image("v1", &small_image("v1", 1)).await.unwrap();
    client(&a.host(), "org/app").push_image("v2", &small_image("v2", 1)).await.unwrap();
    let body = format!(
        "sync:\n  - {{ source: \"{a}/org/missing:v9\", target: \"{b}/org/missing:v9\" }}\n  - {{ source: \"{a}/org/app\", target: \"{b}/org/app\" }}\n",
        a = a.host(),
        b = b.host()
    );
    let report = sync_with(&spec(&[&a.host(), &b.host()], &body), RunOptions::default()).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(report.is_failure());
    let failed = report.images.iter().find(|i| i.status == ImageStatus::Failed).unwrap();
    assert!(failed.source.contains("org/missing:v9"), "{failed:?}");
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(error.to_lowercase().contains("not"), "{failed:?}");
    // The image is named once at most in its error (the report line names it already).
    assert!(error.matches("org/missing:v9").count() <= 1, "{failed:?}");
    assert_eq!(count(&report, ImageStatus::Copied), 2, "{report:?}");
}

#[tokio::test]
async fn a_source_that_cannot_be_listed_is_one_failed_item_naming_its_line() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    client(&a.host(), "org/app").push_image("v1", &small_image("v1", 1)).await.unwrap();
    let body = format!(
        "sync:\n  - {{ source: \"{a}/org/app\", target: \"{b}/org/app\" }}\n  - {{ source: \"{a}/org/nothing\", target: \"{b}/org/nothing\" }}\n",
        a = a.host(),
        b = b.host()
    );
    let report = sync_with(&spec(&[&a.host(), &b.host()], &body), RunOptions::default()).await;
    assert_eq!((report.failed, report.images.len()), (1, 2), "{report:?}");
    let failed = &report.images[1];
    assert_eq!(failed.status, ImageStatus::Failed);
    // `registries:` and its two hosts are lines 1-3, `sync:` line 4: the second entry is on line 6.
    assert!(failed.error.as_deref().unwrap_or_default().contains("line 6"), "{failed:?}");
    // The entry's own forms, not `host/org/nothing:*`.
    assert_eq!(failed.source, format!("{}/org/nothing", a.host()), "{failed:?}");
    assert_eq!(failed.target, format!("{}/org/nothing", b.host()), "{failed:?}");
    assert_eq!(report.images[0].status, ImageStatus::Copied);
}

#[tokio::test]
async fn overwrite_false_leaves_a_different_target_tag_alone() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    client(&a.host(), "org/app").push_image("v1", &small_image("new", 1)).await.unwrap();
    client(&a.host(), "org/app").push_image("v2", &small_image("v2", 1)).await.unwrap();
    let target = client(&b.host(), "org/app");
    target.push_image("v1", &small_image("theirs", 1)).await.unwrap();
    let theirs = target.get_digest("v1").await.unwrap();
    let body = format!(
        "sync:\n  - {{ source: \"{}/org/app\", target: \"{}/org/app\", overwrite: false }}\n",
        a.host(),
        b.host()
    );
    let s = spec(&[&a.host(), &b.host()], &body);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    let actions: Vec<&Action> = planned.items.iter().map(|i| &i.action).collect();
    assert_eq!(actions, vec![&Action::Conflict, &Action::Copy]);
    // v2 is written by someone else between planning and the copy: re-checked before the PUT, left alone.
    target.push_image("v2", &small_image("theirs too", 1)).await.unwrap();
    let theirs_too = target.get_digest("v2").await.unwrap();
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(count(&report, ImageStatus::Conflict), 2, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(target.get_digest("v1").await.unwrap(), theirs);
    assert_eq!(target.get_digest("v2").await.unwrap(), theirs_too);
    // With overwrite (the default) the target follows the source.
    let mirror = format!("sync:\n  - {{ source: \"{}/org/app\", target: \"{}/org/app\" }}\n", a.host(), b.host());
    let report = sync_with(&spec(&[&a.host(), &b.host()], &mirror), RunOptions::default()).await;
    assert_eq!(count(&report, ImageStatus::Copied), 2, "{report:?}");
    assert_mirrored(&*client(&a.host(), "org/app"), &*target, &["v1", "v2"]).await;
}

/// What a server's log holds from `from` on, as `METHOD path`.
fn requests_since(server: &RegistryServer, from: usize) -> Vec<String> {
    server.request_log().into_iter().skip(from).collect()
}

fn is_write(r: &str) -> bool {
    ["PUT ", "POST ", "PATCH ", "DELETE "].iter().any(|m| r.starts_with(m))
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_a_warm_run_costs_one_head_per_side() {
    let a = RegistryServer::start().await.unwrap();
    let b = RegistryServer::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("not-created");
    let source = client(&a.host(), "org/app");
    for tag in ["v1", "v2", "v3"] {
        source.push_image(tag, &small_image(tag, 2)).await.unwrap();
    }
    let body = format!(
        "sync:\n  - {{ source: \"{a}/org/app\", target: \"{b}/org/app\" }}\n  - {{ source: \"{a}/org/app\", target: \"oci:{d}\" }}\n",
        a = a.host(),
        b = b.host(),
        d = disk.display()
    );
    let s = spec(&[&a.host(), &b.host()], &body);
    let (from_a, from_b) = (a.request_log().len(), b.request_log().len());
    let dry = sync_with(&s, RunOptions::new().dry_run(true)).await;
    assert_eq!(count(&dry, ImageStatus::Planned), 6, "{dry:?}");
    let writes: Vec<String> =
        requests_since(&a, from_a).into_iter().chain(requests_since(&b, from_b)).filter(|r| is_write(r)).collect();
    assert!(writes.is_empty(), "a dry run wrote: {writes:?}");
    assert!(!disk.exists(), "a dry run created the layout directory");

    let cold = sync_with(&s, RunOptions::default()).await;
    assert_eq!((cold.failed, count(&cold, ImageStatus::Copied)), (0, 6), "{cold:?}");
    let (from_a, from_b) = (a.request_log().len(), b.request_log().len());
    let warm = sync_with(&s, RunOptions::default()).await;
    assert_eq!(count(&warm, ImageStatus::Skipped), 6, "{warm:?}");
    assert_eq!((warm.blobs.uploaded, warm.blobs.mounted, warm.blobs.skipped), (0, 0, 0));
    let on_a = requests_since(&a, from_a);
    let on_b = requests_since(&b, from_b);
    assert!(on_a.iter().chain(&on_b).all(|r| !r.contains("/blobs/")), "a warm run asked for blobs: {on_a:?} {on_b:?}");
    let heads_a = on_a.iter().filter(|r| r.starts_with("HEAD ") && r.contains("/manifests/")).count();
    let heads_b = on_b.iter().filter(|r| r.starts_with("HEAD ") && r.contains("/manifests/")).count();
    assert_eq!((heads_a, heads_b), (6, 3), "one HEAD per image on each registry side: {on_a:?} {on_b:?}");
    assert!(on_b.iter().all(|r| r.starts_with("HEAD ")), "{on_b:?}");
}

/// Upload sessions the journal at `path` has open (recorded, not forgotten): (repository, digest).
fn open_sessions(path: &std::path::Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut open = BTreeSet::new();
    for line in text.lines().filter(|l| l.ends_with('}')) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let key = (v["repository"].as_str().unwrap_or("").to_string(), v["digest"].as_str().unwrap_or("").to_string());
        match v["record"].as_str() {
            Some("upload") => {
                open.insert(key);
            }
            Some("forget") => {
                open.remove(&key);
            }
            _ => {}
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_from_its_journal_without_resending_what_was_done() {
    let a = RegistryServer::start().await.unwrap();
    let b = RegistryServer::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("sync.journal");
    let base = base_layers();
    let mut total = 0u64;
    for i in 0..6u8 {
        let unique = vec![i; 1 << 20];
        let mut builder = ImageBuilder::new().label("name", format!("app{i}"));
        for layer in &base {
            builder = builder.layer(layer.clone());
        }
        let image = builder.layer(unique).build().unwrap();
        let layers = image.layers();
        total += if i == 0 { layers.iter().map(|l| l.size()).sum::<u64>() } else { layers[4].size() };
        total += image.config_descriptor().size();
        client(&a.host(), &format!("team/app{i}")).push_image("v1", &image).await.unwrap();
    }
    let body = format!("sync:\n  - {{ source: \"{}/team/\", target: \"{}/mirror/\" }}\n", a.host(), b.host());
    let s = Arc::new(spec(&[&a.host(), &b.host()], &body));
    // Chunked uploads (64 KiB), so each blob's session is in the journal while it goes; a slow target, so the
    // kill lands while uploads are in flight.
    let chunked = || {
        let blob = registry_client::core::api::TransferConfig::default().monolithic_threshold(0).chunk_size(64 << 10);
        ConnectOptions::new().transfer(registry_client::TransferOptions::new().blob_config(blob))
    };
    b.faults().latency(std::time::Duration::from_millis(15));
    let finished = Arc::new(AtomicUsize::new(0));
    let seen = finished.clone();
    let opts = RunOptions::new().journal(&journal).max_concurrent_images(2).events(move |e: &SyncEvent| {
        if let SyncEvent::ImageFinished { .. } = e {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let s2 = s.clone();
    let task = tokio::spawn(async move {
        let connector = Connector::new(&s2, chunked());
        sync::sync(&s2, &connector, opts).await.unwrap()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while finished.load(Ordering::SeqCst) < 2 || open_sessions(&journal).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no image finished with an upload in flight");
        assert!(!task.is_finished(), "the run ended before it could be killed");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    task.abort(); // as SIGKILL: nothing more runs, nothing is cleaned up
    assert!(task.await.unwrap_err().is_cancelled());
    let interrupted = open_sessions(&journal);
    assert!(!interrupted.is_empty());
    b.faults().clear();
    let from = b.request_log().len();

    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let again = RunOptions::new().journal(&journal).events(move |e: &SyncEvent| {
        if let SyncEvent::Bytes { bytes, .. } = e {
            counter.fetch_add(*bytes, Ordering::Relaxed);
        }
    });
    let resumed = sync::sync(&s, &Connector::new(&s, chunked()), again).await.unwrap();
    assert_eq!(resumed.failed, 0, "{resumed:?}");
    for i in 0..6 {
        let repo = format!("team/app{i}");
        assert_mirrored(&*client(&a.host(), &repo), &*client(&b.host(), &format!("mirror/app{i}")), &["v1"]).await;
    }
    assert!(count(&resumed, ImageStatus::Skipped) >= 2, "{resumed:?}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < total, "the second run read {sent} bytes to upload, a full run {total}");
    // Each image's bytes are what it sent: after a resumed upload only the rest, not the blob's size.
    let reported: u64 = resumed.images.iter().map(|i| i.bytes).sum();
    assert_eq!(reported, sent, "bytes in the report against bytes read for uploads");
    // The session the kill interrupted was asked how far it got (GET on its location), not started over.
    let asked: Vec<String> = requests_since(&b, from)
        .into_iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/blobs/uploads/"))
        .collect();
    assert!(!asked.is_empty(), "no recorded session was resumed; open at the kill: {interrupted:?}");
    assert!(open_sessions(&journal).is_empty(), "sessions left open: {:?}", open_sessions(&journal));
}

#[tokio::test]
async fn run_accepts_a_plan_made_earlier() {
    let a = RegistryServer::start().await.unwrap();
    let b = RegistryServer::start().await.unwrap();
    client(&a.host(), "org/app").push_image("v1", &small_image("v1", 1)).await.unwrap();
    let body = format!("sync:\n  - {{ source: \"{}/org/app\", target: \"{}/org/app\" }}\n", a.host(), b.host());
    let s = spec(&[&a.host(), &b.host()], &body);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    assert_eq!(planned.items.len(), 1);
    assert_eq!(planned.items[0].action, Action::Copy);
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(report.images[0].status, ImageStatus::Copied);
    let json = serde_json::to_value(&report).unwrap();
    for key in ["images", "blobs", "failed", "seconds"] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
}

#[tokio::test]
async fn fakes_given_per_host_are_used_and_a_platform_filter_compares_the_digest_the_copy_writes() {
    let src = mocks::FakeClient::new("src.example");
    let dst = src.host("dst.example");
    let (amd, arm) = registry_tests::conformance::two_platform_images();
    let index = src.scoped("org/app").seed_index("v1", &[&amd, &arm]).await.unwrap();
    let body = "sync:\n  - { source: src.example/org/app, target: dst.example/org/app, platforms: [linux/amd64] }\n";
    let s = SyncSpec::parse(body).unwrap();
    let connector = Connector::new(&s, ConnectOptions::default())
        .with_client("src.example", Arc::new(src.clone()))
        .with_client("dst.example", Arc::new(dst.clone()));
    let planned = plan(&s, &connector).await.unwrap();
    assert_eq!(planned.items[0].source_digest.as_deref(), Some(amd.digest().to_string().as_str()));
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(report.images[0].status, ImageStatus::Copied, "{report:?}");
    assert_eq!(dst.scoped("org/app").get_digest("v1").await.unwrap(), *amd.digest());
    assert_ne!(amd.digest(), &index);
    // Planned again: the target has the digest the filtered copy writes, so it is skipped.
    let again = plan(&s, &connector).await.unwrap();
    assert_eq!(again.items[0].action, Action::Skip, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_run_at_most_n_at_a_time_however_many_there_are() {
    let src = mocks::FakeClient::new("src.example");
    let dst = src.host("dst.example");
    let repo = src.scoped("org/app");
    for i in 0..300 {
        repo.seed_image(&format!("t{i}"), &small_image(&format!("t{i}"), 1)).await.unwrap();
    }
    let s = SyncSpec::parse("sync:\n  - { source: src.example/org/app, target: dst.example/org/app }\n").unwrap();
    let connector = Connector::new(&s, ConnectOptions::default())
        .with_client("src.example", Arc::new(src.clone()))
        .with_client("dst.example", Arc::new(dst.clone()));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    let opts = RunOptions::new().max_concurrent_images(4).events(move |e: &SyncEvent| match e {
        SyncEvent::ImageStarted { .. } => {
            let running = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(running, Ordering::SeqCst);
        }
        SyncEvent::ImageFinished { report, .. } if report.status == ImageStatus::Copied => {
            n.fetch_sub(1, Ordering::SeqCst);
        }
        _ => {}
    });
    let report = sync::sync(&s, &connector, opts).await.unwrap();
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 300));
    let most = most.load(Ordering::SeqCst);
    assert!((1..=4).contains(&most), "{most} images ran at once");
    assert_eq!(dst.tags("org/app").len(), 300);
}

#[tokio::test]
async fn a_cancelled_run_finishes_the_images_in_flight_and_starts_no_more() {
    let src = mocks::FakeClient::new("src.example");
    let dst = src.host("dst.example");
    for i in 0..5 {
        src.scoped("org/app").seed_image(&format!("t{i}"), &small_image(&format!("t{i}"), 2)).await.unwrap();
    }
    let s = SyncSpec::parse("sync:\n  - { source: src.example/org/app, target: dst.example/org/app }\n").unwrap();
    let connector = Connector::new(&s, ConnectOptions::default())
        .with_client("src.example", Arc::new(src.clone()))
        .with_client("dst.example", Arc::new(dst.clone()));
    let opts = RunOptions::new().max_concurrent_images(2);
    let sigterm = opts.cancel.clone();
    let opts = opts.events(move |e: &SyncEvent| {
        if let SyncEvent::ImageStarted { .. } = e {
            sigterm.cancel(); // SIGTERM as soon as the first image starts
        }
    });
    let report = sync::sync(&s, &connector, opts).await.unwrap();
    assert!(report.interrupted && report.is_failure(), "{report:?}");
    let copied = count(&report, ImageStatus::Copied);
    assert!((1..=2).contains(&copied), "the images in flight finish: {report:?}");
    assert_eq!(report.failed, 0, "not started is not failed: {report:?}");
    assert_eq!(report.not_started, 5 - copied);
    assert_eq!(count(&report, ImageStatus::NotStarted), 5 - copied);
    for image in report.images.iter().filter(|i| i.status == ImageStatus::NotStarted) {
        assert_eq!(image.error.as_deref(), Some("not started: the run was interrupted"));
    }
    assert_eq!(dst.tags("org/app").len(), copied, "only the images in flight were written");
}

#[tokio::test]
async fn platforms_are_a_filter_keeping_what_an_index_has_and_leaving_out_what_has_none() {
    let src = mocks::FakeClient::new("src.example");
    let dst = src.host("dst.example");
    let (amd, arm) = registry_tests::conformance::two_platform_images();
    let index = src.scoped("org/multi").seed_index("v1", &[&amd, &arm]).await.unwrap();
    src.scoped("org/single").seed_image("amd", &amd).await.unwrap();
    src.scoped("org/single").seed_image("arm", &arm).await.unwrap();
    let body = "sync:\n\
        \x20 - { source: src.example/org/multi, target: dst.example/arm/multi, platforms: [linux/arm64, linux/s390x] }\n\
        \x20 - { source: src.example/org/multi, target: dst.example/both/multi, platforms: [linux/arm64, linux/amd64] }\n\
        \x20 - { source: src.example/org/multi, target: dst.example/none/multi, platforms: [linux/s390x] }\n\
        \x20 - { source: src.example/org/single, target: dst.example/arm/single, platforms: [linux/arm64] }\n";
    let s = SyncSpec::parse(body).unwrap();
    let connector = Connector::new(&s, ConnectOptions::default())
        .with_client("src.example", Arc::new(src.clone()))
        .with_client("dst.example", Arc::new(dst.clone()));
    let planned = plan(&s, &connector).await.unwrap();
    let targets: Vec<String> = planned.items.iter().map(|i| i.target.to_string()).collect();
    // The index with none of its platforms and the amd64 single image are left out, not failed.
    assert_eq!(targets, ["dst.example/arm/multi:v1", "dst.example/both/multi:v1", "dst.example/arm/single:arm"]);
    assert!(planned.items.iter().all(|i| i.action == Action::Copy), "{planned:?}");
    assert_eq!(planned.items[0].source_digest.as_deref(), Some(arm.digest().to_string().as_str()));
    assert_eq!(planned.items[1].source_digest.as_deref(), Some(index.to_string().as_str()));
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(report.copied, 3, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(dst.scoped("arm/multi").get_digest("v1").await.unwrap(), *arm.digest());
    assert_eq!(dst.scoped("both/multi").get_digest("v1").await.unwrap(), index);
    assert_eq!(dst.scoped("arm/single").get_digest("arm").await.unwrap(), *arm.digest());
    assert!(dst.scoped("none/multi").get_digest("v1").await.is_err());
    assert!(dst.scoped("arm/single").get_digest("amd").await.is_err());
    // Planned again: every item has the digest the filtered copy wrote.
    let again = plan(&s, &connector).await.unwrap();
    assert!(again.items.iter().all(|i| i.action == Action::Skip), "{again:?}");
}

#[tokio::test]
async fn copy_with_a_platform_the_index_lacks_stays_an_error() {
    let src = mocks::FakeClient::new("src.example");
    let dst = src.host("dst.example");
    let (amd, arm) = registry_tests::conformance::two_platform_images();
    src.scoped("org/multi").seed_index("v1", &[&amd, &arm]).await.unwrap();
    let opts = registry_client::CopyOptions::default().platforms([
        registry_client::Platform::new("linux", "arm64"),
        registry_client::Platform::new("linux", "s390x"),
    ]);
    let e = registry_client::copy_image(&src.scoped("org/multi"), "v1", &dst.scoped("org/multi"), "v1", opts)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), registry_client::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("s390x"), "{e}");
}

/// A layout written by `copy_image` with referrers holds digest tags: the referrers index (`sha256-<hex>`), a
/// cosign signature (`sha256-<hex>.sig`), and here an orphan whose subject is gone. Synced from the layout they are
/// never images of their own: without referrers they stay behind; with them they travel with their subject, the
/// orphan never. Synced from a registry, a digest tag stays an ordinary tag when referrers are off.
#[tokio::test]
async fn a_layouts_digest_tags_travel_only_with_their_subject_and_only_with_referrers() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let source = client(&a.host(), "org/app");
    let (image, sbom, sig_tag) = seed_signed(&*source).await;

    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("airgap");
    let layout = LayoutClient::open(&disk).await.unwrap();
    let options = registry_client::CopyOptions::default().referrers(true);
    registry_client::copy_image(&*source, "v1", &layout, "v1", options).await.unwrap();
    let orphan = format!("sha256-{}.sig", Digest::sha256(b"a deleted subject").hex());
    layout.push_image(&orphan, &small_image("an orphaned signature", 1)).await.unwrap();
    let referrers_tag = format!("sha256-{}", image.digest().hex());
    let in_layout = tags(&layout).await;
    for t in [&sig_tag, &referrers_tag, &orphan] {
        assert!(in_layout.contains(t), "the layout lacks {t}: {in_layout:?}");
    }

    let hosts = [b.host()];
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let plain = format!("sync:\n  - {{ source: \"oci:{}\", target: \"{}/plain/app\" }}\n", disk.display(), b.host());
    let report = sync_with(&spec(&hosts, &plain), RunOptions::default()).await;
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 1), "{report:?}");
    assert_eq!(tags(&*client(&b.host(), "plain/app")).await, vec!["v1"]);

    let full = format!(
        "sync:\n  - {{ source: \"oci:{}\", target: \"{}/full/app\", referrers: true }}\n",
        disk.display(),
        b.host()
    );
    let report = sync_with(&spec(&hosts, &full), RunOptions::default()).await;
    assert_eq!(report.failed, 0, "{report:?}");
    let target = client(&b.host(), "full/app");
    let got = tags(&*target).await;
    assert!(got.contains(&"v1".to_string()) && got.contains(&sig_tag), "{got:?}");
    assert!(!got.contains(&orphan), "the orphaned signature travelled: {got:?}");
    assert_mirrored(&layout, &*target, &["v1", &sig_tag]).await;
    let listed = target.list_referrers(image.digest().as_str(), None).await.unwrap();
    assert!(listed.iter().any(|d| d.digest().to_string() == sbom.digest().to_string()), "{listed:?}");

    // The other way, from a registry without referrers: a digest tag is a tag like any other (as regsync has it).
    let back = tmp.path().join("back");
    let pull = format!("sync:\n  - {{ source: \"{}/full/app\", target: \"oci:{}\" }}\n", b.host(), back.display());
    let report = sync_with(&spec(&hosts, &pull), RunOptions::default()).await;
    assert_eq!(report.failed, 0, "{report:?}");
    let pulled = tags(&LayoutClient::open(&back).await.unwrap()).await;
    assert!(pulled.contains(&"v1".to_string()) && pulled.contains(&sig_tag), "{pulled:?}");
}
