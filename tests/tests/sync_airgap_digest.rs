//! Air gap by digest through an OCI layout with the sync engine and the real docker-registry: an image and a
//! whole index pinned by digest go into a layout untagged, travel from there to another registry by digest
//! (untagged there too), and a source that holds no image at all is a failed item saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use registry_client::sync::{self, ConnectOptions, Connector, ImageStatus, RunOptions, SyncReport, SyncSpec};
use registry_client::{Client, LayoutClient, ListOptions, RemoteClient};
use registry_tests::conformance::small_image;
use registry_tests::{AuthMode, DockerRegistry};

fn spec(hosts: &[&str], body: &str) -> SyncSpec {
    let mut yaml = String::from("registries:\n");
    for h in hosts {
        yaml.push_str(&format!("  \"{h}\": {{ insecure: true }}\n"));
    }
    yaml.push_str(body);
    SyncSpec::parse(&yaml).unwrap_or_else(|e| panic!("spec does not parse: {e}\n{yaml}"))
}

fn client(host: &str, repo: &str) -> Arc<dyn Client> {
    let root: Arc<dyn Client> = Arc::new(RemoteClient::builder(host).insecure(true).build().unwrap());
    root.with_segment(repo)
}

async fn run(hosts: &[&str], body: &str) -> SyncReport {
    let s = spec(hosts, body);
    sync::sync(&s, &Connector::new(&s, ConnectOptions::default()), RunOptions::default()).await.unwrap()
}

fn count(report: &SyncReport, status: ImageStatus) -> usize {
    report.images.iter().filter(|i| i.status == status).count()
}

#[tokio::test]
async fn images_pinned_by_digest_cross_a_layout_untagged() {
    let (a, b) = (DockerRegistry::start(AuthMode::Anonymous), DockerRegistry::start(AuthMode::Anonymous));
    let source = client(&a.host(), "org/app");
    source.push_image("v1", &small_image("pinned", 2)).await.unwrap();
    let (amd, arm) = registry_tests::conformance::two_platform_images();
    let index = registry_client::index_of(&[&amd, &arm]).unwrap();
    source.push_index("multi", &index, &[amd, arm]).await.unwrap();
    let image_digest = source.get_digest("v1").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("x");

    let pull = format!(
        "sync:\n  - {{ source: \"{a}/org/app@{image_digest}\", target: \"oci:{d}\" }}\n  - {{ source: \"{a}/org/app@{i}\", target: \"oci:{d}\" }}\n",
        a = a.host(),
        i = index.digest(),
        d = disk.display()
    );
    let report = run(&[&a.host()], &pull).await;
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 2), "{report:?}");
    let layout = LayoutClient::open(&disk).await.unwrap();
    assert!(layout.list_tags(ListOptions::default()).await.unwrap().is_empty(), "stored untagged");
    let mut untagged = layout.untagged_images().await.unwrap();
    untagged.sort();
    let mut want = vec![image_digest.clone(), index.digest().clone()];
    want.sort();
    assert_eq!(untagged, want, "the two roots are the untagged images; the index's children are not listed");

    let push = format!(
        "sync:\n  - {{ source: \"oci:{d}\", target: \"{b}/restore/app\" }}\n",
        b = b.host(),
        d = disk.display()
    );
    let report = run(&[&b.host()], &push).await;
    assert_eq!((report.failed, count(&report, ImageStatus::Copied)), (0, 2), "{report:?}");
    let restored = client(&b.host(), "restore/app");
    assert_eq!(restored.get_digest(&format!("@{image_digest}")).await.unwrap(), image_digest);
    let whole = restored.get_manifest(&format!("@{}", index.digest())).await.unwrap();
    assert!(whole.is_index() && whole.digest() == index.digest(), "the index travelled whole, by digest");
    assert!(restored.list_tags(ListOptions::default()).await.unwrap_or_default().is_empty(), "untagged there too");

    // Again: nothing to copy, nothing failed.
    let again = run(&[&b.host()], &push).await;
    assert_eq!((again.failed, count(&again, ImageStatus::Copied)), (0, 0), "{again:?}");
}

#[tokio::test]
async fn a_source_with_no_image_is_a_failed_item_saying_so() {
    let b = DockerRegistry::start(AuthMode::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(empty.join("index.json"), br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let body = format!(
        "sync:\n  - {{ source: \"oci:{d}\", target: \"{b}/restore/app\" }}\n",
        b = b.host(),
        d = empty.display()
    );
    let report = run(&[&b.host()], &body).await;
    assert_eq!((report.failed, report.images.len()), (1, 1), "{report:?}");
    let error = report.images[0].error.clone().unwrap_or_default();
    assert!(error.contains("no image") && error.contains("line 4"), "{error}");
}
