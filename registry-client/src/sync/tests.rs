//! Plan and run between OCI layouts (no server needed): copies, warm skips, dry runs, conflicts, cancellation.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::client::Client;
use crate::image::builder::ImageBuilder;
use crate::image::layout::client::LayoutClient;

fn entry(source: Endpoint, target: Endpoint, overwrite: bool) -> SyncEntry {
    SyncEntry {
        line: 3,
        source,
        target,
        tags: TagFilter::default(),
        platforms: Vec::new(),
        referrers: false,
        overwrite,
    }
}

fn spec(entries: Vec<SyncEntry>) -> SyncSpec {
    SyncSpec { registries: BTreeMap::new(), entries }
}

fn layout(dir: &Path) -> Endpoint {
    Endpoint::Layout { dir: dir.to_path_buf(), tag: None }
}

/// A layout at `dir` with `tags`, each a distinct image sharing one base layer.
async fn seed(dir: &Path, tags: &[&str]) -> LayoutClient {
    let client = LayoutClient::open(dir).await.unwrap();
    for tag in tags {
        let image = ImageBuilder::new().layer(vec![1u8; 4096]).layer(tag.as_bytes().to_vec()).build().unwrap();
        client.push_image(tag, &image).await.unwrap();
    }
    client
}

fn statuses(report: &SyncReport) -> Vec<(String, ImageStatus)> {
    report.images.iter().map(|i| (i.target.rsplit(':').next().unwrap().to_string(), i.status)).collect()
}

#[tokio::test]
async fn a_layout_syncs_to_another_then_a_second_run_skips_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let source = seed(&src, &["v1", "v2"]).await;
    let s = spec(vec![entry(layout(&src), layout(&dst), true)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    assert_eq!(planned.items.iter().map(|i| &i.action).collect::<Vec<_>>(), vec![&Action::Copy, &Action::Copy]);
    assert!(!dst.exists(), "planning created the target layout");
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(statuses(&report), vec![("v1".into(), ImageStatus::Copied), ("v2".into(), ImageStatus::Copied)]);
    assert_eq!(report.failed, 0);
    assert!(report.blobs.uploaded >= 3, "{:?}", report.blobs);
    let target = LayoutClient::open(&dst).await.unwrap();
    for tag in ["v1", "v2"] {
        assert_eq!(target.get_digest(tag).await.unwrap(), source.get_digest(tag).await.unwrap());
    }
    let again = sync(&s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(statuses(&again), vec![("v1".into(), ImageStatus::Skipped), ("v2".into(), ImageStatus::Skipped)]);
    assert_eq!(again.blobs, BlobCounts::default());
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, journal) = (tmp.path().join("src"), tmp.path().join("dst"), tmp.path().join("journal"));
    seed(&src, &["v1"]).await;
    let s = spec(vec![entry(layout(&src), layout(&dst), true)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let opts = RunOptions { dry_run: true, journal: Some(journal.clone()), ..RunOptions::default() };
    let report = sync(&s, &connector, opts).await.unwrap();
    assert_eq!(statuses(&report), vec![("v1".into(), ImageStatus::Planned)]);
    assert!(!dst.exists() && !journal.exists(), "a dry run wrote something");
}

#[tokio::test]
async fn overwrite_false_leaves_a_moved_tag_alone_as_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    seed(&src, &["v1", "v2"]).await;
    let target = seed(&dst, &["other"]).await;
    target.tag_image("other", "v1").await.unwrap();
    let s = spec(vec![entry(layout(&src), layout(&dst), false)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let report = sync(&s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(statuses(&report), vec![("v1".into(), ImageStatus::Conflict), ("v2".into(), ImageStatus::Copied)]);
    assert_eq!(target.get_digest("v1").await.unwrap(), target.get_digest("other").await.unwrap());
    assert!(report.images[0].error.as_deref().unwrap().contains("overwrite is false"), "{report:?}");
}

#[tokio::test]
async fn a_tag_moved_after_planning_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    seed(&src, &["v1"]).await;
    let s = spec(vec![entry(layout(&src), layout(&dst), false)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    assert_eq!(planned.items[0].action, Action::Copy);
    // Someone writes the tag between planning and the copy.
    let target = seed(&dst, &["meanwhile"]).await;
    target.tag_image("meanwhile", "v1").await.unwrap();
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(statuses(&report), vec![("v1".into(), ImageStatus::Conflict)]);
    assert_eq!(target.get_digest("v1").await.unwrap(), target.get_digest("meanwhile").await.unwrap());
}

#[tokio::test]
async fn a_cancelled_run_starts_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    seed(&src, &["v1", "v2"]).await;
    let s = spec(vec![entry(layout(&src), layout(&dst), true)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let opts = RunOptions::default();
    opts.cancel.cancel();
    let report = sync(&s, &connector, opts).await.unwrap();
    assert!(report.interrupted && report.is_failure());
    assert_eq!((report.failed, report.not_started), (0, 2));
    assert_eq!(report.images[0].status, ImageStatus::NotStarted);
    assert_eq!(report.images[0].error.as_deref(), Some("not started: the run was interrupted"));
}

#[tokio::test]
async fn a_missing_source_is_one_failed_item_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, missing) = (tmp.path().join("src"), tmp.path().join("dst"), tmp.path().join("nowhere"));
    seed(&src, &["v1"]).await;
    let s = spec(vec![entry(layout(&missing), layout(&dst), true), entry(layout(&src), layout(&dst), true)]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let report = sync(&s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = report.images.iter().find(|i| i.status == ImageStatus::Failed).unwrap();
    assert!(failed.error.as_deref().unwrap().contains("line 3"), "{failed:?}");
    assert!(report.images.iter().any(|i| i.status == ImageStatus::Copied));
    assert!(!missing.exists(), "a source layout was created");
}

#[tokio::test]
async fn the_same_target_twice_fails_the_later_item_naming_the_first_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, dst) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("dst"));
    seed(&a, &["v1"]).await;
    seed(&b, &["v1", "v2"]).await;
    let mut second = entry(layout(&b), layout(&dst), true);
    second.line = 9;
    let s = spec(vec![entry(layout(&a), layout(&dst), true), second]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    let actions: Vec<&Action> = planned.items.iter().map(|i| &i.action).collect();
    assert_eq!(actions.len(), 3);
    assert_eq!(actions[0], &Action::Copy);
    assert!(matches!(actions[1], Action::Failed(e) if e.contains("also the target of entry at line 3")), "{actions:?}");
    assert_eq!(actions[2], &Action::Copy);
}

#[test]
fn digest_tags_are_recognised() {
    use crate::digest_tag::digest_tag_subject as subject;
    let hex = "a".repeat(64);
    assert_eq!(subject(&format!("sha256-{hex}.sig")), Some(format!("sha256:{hex}")));
    assert_eq!(subject(&format!("sha256-{hex}")), Some(format!("sha256:{hex}")));
    assert_eq!(subject(&format!("sha256-{hex}.att")), Some(format!("sha256:{hex}")));
    assert_eq!(subject(&format!("sha256-{hex}.txt")), None);
    assert_eq!(subject("sha256-abc.sig"), None);
    assert_eq!(subject(&format!("sha256-{}.sig", "A".repeat(64))), None);
    assert_eq!(subject("v1"), None);
}

#[tokio::test]
async fn an_untagged_index_narrowed_by_a_platform_filter_goes_by_the_digest_the_copy_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let source = LayoutClient::open(&src).await.unwrap();
    let mut images = Vec::new();
    for (arch, byte) in [("amd64", 1u8), ("arm64", 2), ("s390x", 3)] {
        let platform = crate::image::platform::Platform::new("linux", arch);
        images.push(ImageBuilder::new().platform(platform).layer(vec![byte; 512]).build().unwrap());
    }
    let refs: Vec<&crate::image::model::Image> = images.iter().collect();
    let index = crate::image::builder::index_of(&refs).unwrap();
    for image in &images {
        source.push_image(&format!("@{}", image.digest()), image).await.unwrap();
    }
    source.put_manifest(&format!("@{}", index.digest()), &index).await.unwrap();
    let mut e = entry(layout(&src), layout(&dst), true);
    e.platforms = vec![
        crate::image::platform::Platform::new("linux", "amd64"),
        crate::image::platform::Platform::new("linux", "arm64"),
    ];
    let s = spec(vec![e]);
    let connector = Connector::new(&s, ConnectOptions::default());
    let planned = plan(&s, &connector).await.unwrap();
    let [item] = planned.items.as_slice() else { panic!("one untagged index: {planned:?}") };
    let written = item.source_digest.clone().unwrap();
    assert_ne!(written, index.digest().to_string(), "two of three platforms make a new index");
    assert_eq!(item.target.reference, format!("@{written}"), "the target is the digest the copy writes");
    let report = run(&planned, &s, &connector, RunOptions::default()).await.unwrap();
    assert_eq!((report.copied, report.failed), (1, 0), "{report:?}");
    let again = plan(&s, &connector).await.unwrap();
    assert_eq!(again.items.iter().map(|i| &i.action).collect::<Vec<_>>(), vec![&Action::Skip], "{again:?}");
}
