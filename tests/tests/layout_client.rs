//! `LayoutClient` (an OCI image layout tree on disk) against the conformance suite every `Client` passes, plus what
//! only a layout has: its files (`oci-layout`, `index.json`, `blobs/`), atomic index writes, hostile content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use registry_client::{Client, ErrorKind, ImageOptions, LayoutClient, ListOptions};
use registry_tests::conformance;
use serde_json::Value;

async fn open(dir: &Path) -> Arc<dyn Client> {
    Arc::new(LayoutClient::open(dir).await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_layout() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(open(dir.path()).await).await;
}

/// The suite again with a root that is itself a layout tree below a scope, and with a copy from a layout tree to
/// another through `get_image` + `push_image`.
#[tokio::test(flavor = "multi_thread")]
async fn conformance_layout_nested_and_copies() {
    let dir = tempfile::tempdir().unwrap();
    let root = open(&dir.path().join("not/yet/there")).await;
    conformance::run_all(root.with_segment("team")).await;
    let other = tempfile::tempdir().unwrap();
    let target = open(other.path()).await;
    conformance::check_copy(&root, &target).await;
}
