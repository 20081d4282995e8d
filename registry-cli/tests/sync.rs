//! `regcli sync` and `regcli demo` end to end: a spec file against the real docker-registry (prefixes, filters,
//! a layout target, warm runs), JSON reports, dry runs that write nothing, shards, bad specs that make no request,
//! failed images, and SIGTERM in the middle of a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mocks::server::RegistryServer;
use registry_client::{Client, LayoutClient, ListOptions, Platform};
use registry_tests::{AuthMode, DockerRegistry};
use support::{client, image, regcli_async, regcli_path, seed_index, shown, stdout};

/// Seed `root`: `org/app` with versions, a pre-release and a non-version tag; `org/tool` with a three-platform
/// index. Returns the tags a `semver: ">=1.0"` filter takes, as `repo:tag`.
async fn seed(root: &Arc<dyn Client>) -> Vec<String> {
    let app = root.with_segment("org/app");
    for (tag, seed) in [("v1.0.0", 1u64), ("v1.1.0", 2), ("v2.0.0-rc.1", 3), ("latest", 4)] {
        app.push_image(tag, &image(100 + seed, Platform::new("linux", "amd64"))).await.unwrap();
    }
    seed_index(&*root.with_segment("org/tool"), "1.0.0", 200).await;
    vec!["org/app:v1.0.0".into(), "org/app:v1.1.0".into(), "org/tool:1.0.0".into()]
}

fn write_spec(dir: &std::path::Path, yaml: &str) -> String {
    let path = dir.join("sync.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", shown(out)))
}

/// The images of a JSON report as `(target, status)`.
fn statuses(report: &serde_json::Value) -> BTreeSet<(String, String)> {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["target"].as_str().unwrap().to_string(), i["status"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mirrors_a_spec_end_to_end_then_skips_everything() {
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let target = DockerRegistry::start(AuthMode::Anonymous);
    let src_root = client(&source.host());
    let dst_root = client(&target.host());
    let wanted = seed(&src_root).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("airgap");
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(
        dir.path(),
        &format!(
            "registries:\n  {s}: {{ insecure: true }}\n  {t}: {{ insecure: true }}\nsync:\n  \
             - source: {s}/org/\n    target: {t}/mirror/\n    tags: {{ semver: \">=1.0\" }}\n  \
             - {{ source: {s}/org/app:v1.0.0, target: \"oci:{}\" }}\n",
            layout.display()
        ),
    );

    let out = regcli_async(&["sync", "--config", &spec, "--progress", "never"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.starts_with("copied")).count(), 4, "{}", shown(&out));
    assert!(text.contains("4 copied, 0 skipped, 0 conflicts, 0 failed; blobs: "), "{}", shown(&out));
    for name in &wanted {
        let (repo, tag) = name.split_once(':').unwrap();
        let from = src_root.with_segment(repo).get_digest(tag).await.unwrap();
        let to = dst_root.with_segment(&format!("mirror/{}", repo.trim_start_matches("org/"))).get_digest(tag).await;
        assert_eq!(to.unwrap(), from, "{name}");
    }
    let mirrored = dst_root.list_repositories(ListOptions::default()).await.unwrap();
    assert_eq!(mirrored, vec!["mirror/app", "mirror/tool"]);
    let tags = dst_root.with_segment("mirror/app").list_tags(ListOptions::default()).await.unwrap();
    assert_eq!(tags, vec!["v1.0.0", "v1.1.0"], "the pre-release and `latest` are left out");
    let disk = LayoutClient::open(&layout).await.unwrap();
    assert_eq!(
        disk.get_digest("v1.0.0").await.unwrap(),
        src_root.with_segment("org/app").get_digest("v1.0.0").await.unwrap(),
        "the layout keeps the source tag"
    );

    // Warm, in JSON, the global flags after the command: every image skipped, nothing uploaded.
    let out = regcli_async(&["sync", "--config", &spec, "--format", "json", "--progress", "never"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let report = json(&out);
    for key in ["images", "blobs", "failed", "seconds"] {
        assert!(report.get(key).is_some(), "no {key}: {report}");
    }
    for key in ["uploaded", "mounted", "skipped"] {
        assert!(report["blobs"].get(key).is_some(), "no blobs.{key}: {report}");
    }
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 4, "{report}");
    for image in images {
        for key in ["source", "target", "digest", "status", "bytes", "error"] {
            assert!(image.get(key).is_some(), "no images[].{key}: {image}");
        }
        assert_eq!(image["status"], "skipped", "{image}");
        assert_eq!(image["bytes"], 0, "{image}");
    }
    assert_eq!(report["failed"], 0);
    assert_eq!(report["blobs"]["uploaded"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_and_shards_split_the_plan() {
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let target = RegistryServer::start().await.unwrap();
    seed(&client(&source.host())).await;
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(dir.path(), &format!("sync:\n  - source: {s}/org/\n    target: {t}/mirror/\n"));

    let out = regcli_async(&["--insecure", "--format", "json", "sync", "--config", &spec, "--dry-run"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let all = statuses(&json(&out));
    assert_eq!(all.len(), 5, "every tag, no filter: {all:?}");
    assert!(all.iter().all(|(_, status)| status == "planned"), "{all:?}");
    let log = target.request_log();
    assert!(log.iter().all(|r| r.starts_with("GET ") || r.starts_with("HEAD ")), "a dry run only reads: {log:?}");
    assert!(client(&t).list_repositories(ListOptions::default()).await.unwrap().is_empty());

    let mut union = BTreeSet::new();
    for shard in ["0/2", "1/2"] {
        let out =
            regcli_async(&["sync", "--config", &spec, "--dry-run", "--shard", shard, "--insecure", "--format", "json"])
                .await;
        assert!(out.status.success(), "{}", shown(&out));
        for item in statuses(&json(&out)) {
            assert!(union.insert(item.clone()), "{item:?} is in two shards");
        }
    }
    assert_eq!(union, all, "the shards together are the whole plan");

    let out = regcli_async(&["sync", "--config", &spec, "--shard", "2/2", "--insecure"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_spec_exits_2_naming_the_line_and_makes_no_request() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(
        dir.path(),
        &format!("sync:\n  - source: {s}/org/app\n    target: {t}/mirror/app\n    colour: blue\n"),
    );
    let out = regcli_async(&["sync", "--config", &spec, "--insecure"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("regcli: ") && err.contains("colour") && err.contains("line 4"), "{}", shown(&out));
    assert!(out.stdout.is_empty(), "{}", shown(&out));
    assert_eq!(source.request_count() + target.request_count(), 0);

    let bad_regex = write_spec(
        dir.path(),
        &format!("sync:\n  - source: {s}/org/app\n    target: {t}/mirror/app\n    tags: {{ allow: [\"(\"] }}\n"),
    );
    let out = regcli_async(&["sync", "--config", &bad_regex, "--insecure"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let out = regcli_async(&["sync", "--config", &dir.path().join("missing.yaml").display().to_string()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"), "{}", shown(&out));
    assert_eq!(source.request_count() + target.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_image_exits_1_with_its_error_in_the_report() {
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let target = DockerRegistry::start(AuthMode::Anonymous);
    seed(&client(&source.host())).await;
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(
        dir.path(),
        &format!(
            "sync:\n  - {{ source: {s}/org/app:v1.0.0, target: {t}/ok/app:v1.0.0 }}\n  \
             - {{ source: {s}/org/missing:v9, target: {t}/bad/app:v9 }}\n"
        ),
    );
    let out = regcli_async(&["sync", "--config", &spec, "--insecure", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let report = json(&out);
    assert_eq!(report["failed"], 1, "{report}");
    let images = report["images"].as_array().unwrap();
    let failed: Vec<_> = images.iter().filter(|i| i["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(failed[0]["source"].as_str().unwrap().contains("org/missing"), "{report}");
    assert!(failed[0]["error"].as_str().is_some_and(|e| !e.is_empty()), "{report}");
    assert!(images.iter().any(|i| i["status"] == "copied"), "the other image still ran: {report}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("regcli: sync: 1 of 2 images failed"), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_prints_the_report_and_exits_non_zero() {
    let source = RegistryServer::start().await.unwrap();
    let target = DockerRegistry::start(AuthMode::Anonymous);
    let root = client(&source.host());
    let app = root.with_segment("many/app");
    for n in 0..40u64 {
        app.push_image(&format!("v1.0.{n}"), &image(1000 + n, Platform::new("linux", "amd64"))).await.unwrap();
    }
    source.faults().latency(Duration::from_millis(60));
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(dir.path(), &format!("sync:\n  - {{ source: {s}/many/app, target: {t}/mirror/app }}\n"));

    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(regcli_path())
            .args(["sync", "--config", &spec, "--insecure", "--format", "json", "--progress", "never"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        // Lines of finished images go to stderr with --format json: signal after the first.
        for line in lines.by_ref() {
            let line = line.unwrap();
            let first = line.starts_with("copied");
            seen.push(line);
            if first {
                break;
            }
        }
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        seen.extend(lines.map_while(Result::ok));
        let output = child.wait_with_output().unwrap();
        (output, seen)
    })
    .await
    .unwrap();
    let (output, stderr) = out;
    assert_eq!(output.status.code(), Some(1), "stderr: {:?}", &stderr[..stderr.len().min(50)]);
    let report = json(&output);
    assert_eq!(report["interrupted"], true, "{}", shown(&output));
    let copied = report["images"].as_array().unwrap().iter().filter(|i| i["status"] == "copied").count();
    assert!((1..40).contains(&copied), "some, not all, images were copied: {copied}");
    let not_started = report["images"].as_array().unwrap().iter().filter(|i| i["status"] == "not_started").count();
    assert_eq!(report["not_started"], not_started, "{}", shown(&output));
    assert_eq!(copied + not_started, 40, "an image in flight at SIGTERM finishes: {}", shown(&output));
    assert!(stderr.iter().any(|l| l.contains("SIGTERM")), "{stderr:?}");
    assert!(stderr.iter().any(|l| l.contains("regcli: sync interrupted")), "{stderr:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_exits_0_and_prints_the_summary() {
    // `--progress always` with no terminal: indicatif cannot draw, so the lines come as with `never`.
    let out = regcli_async(&["demo", "--progress", "always"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.contains("== cold run"), "{}", shown(&out));
    assert!(text.lines().any(|l| l.starts_with("copied ") && l.contains("/mirror/tools:1.0.0")), "{}", shown(&out));
    assert!(text.contains(" copied, 0 skipped, 0 conflicts, 0 failed; blobs: "), "{}", shown(&out));
    assert!(text.contains("0 copied, "), "the warm run copies nothing: {}", shown(&out));
    assert!(text.contains("verified: each of the"), "{}", shown(&out));
    assert!(text.contains("regcli sync --config sync.yaml"), "{}", shown(&out));

    let out = regcli_async(&["demo", "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let doc = json(&out);
    assert_eq!(doc["cold"]["failed"], 0, "{doc}");
    assert!(doc["verified"].as_u64().unwrap() > 0, "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_is_written_and_a_second_run_with_it_skips_everything() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let wanted = seed(&client(&source.host())).await;
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(
        dir.path(),
        &format!("sync:\n  - {{ source: {s}/org/, target: {t}/mirror/, tags: {{ semver: \">=1\" }} }}\n"),
    );
    let journal = dir.path().join("journal");
    let journal_arg = journal.display().to_string();

    let out =
        regcli_async(&["sync", "--config", &spec, "--journal", &journal_arg, "--insecure", "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let first = statuses(&json(&out));
    assert_eq!(first.len(), wanted.len(), "{first:?}");
    assert!(first.iter().all(|(_, status)| status == "copied"), "{first:?}");
    assert!(std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0), "the journal is written");

    let out =
        regcli_async(&["sync", "--config", &spec, "--journal", &journal_arg, "--insecure", "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let report = json(&out);
    assert!(statuses(&report).iter().all(|(_, status)| status == "skipped"), "{report}");
    assert_eq!(report["blobs"]["uploaded"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_settings_are_checked_before_any_request_and_an_unused_host_is_warned_about() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let secret_path = dir.path().join("my-secret-pw");
    let body = format!("sync:\n  - {{ source: {s}/org/app, target: {t}/mirror/app }}\n");
    let spec = write_spec(
        dir.path(),
        &format!(
            "registries:\n  {t}:\n    username: u\n    password_file: {}\n  unused.example:5000: {{ insecure: true }}\n{body}",
            secret_path.display()
        ),
    );
    for dry in [true, false] {
        let mut args = vec!["sync", "--config", &spec, "--insecure"];
        if dry {
            args.push("--dry-run");
        }
        let out = regcli_async(&args).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("registries {t}: password_file cannot be read (not found)")), "{}", shown(&out));
        assert!(!err.contains("my-secret-pw"), "the path of a password file is never shown: {}", shown(&out));
    }
    assert_eq!(source.request_count() + target.request_count(), 0);

    std::fs::write(&secret_path, "\n").unwrap();
    let out = regcli_async(&["sync", "--config", &spec, "--insecure", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password_file is empty"), "{}", shown(&out));

    // A host no entry uses: a warning naming it, the run goes on.
    let spec = write_spec(dir.path(), &format!("registries:\n  unused.example:5000: {{ insecure: true }}\n{body}"));
    let out = regcli_async(&["sync", "--config", &spec, "--insecure", "--dry-run"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("registries unused.example:5000: no sync entry uses this host"), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_in_a_missing_directory_exits_2_before_any_request() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let spec = write_spec(dir.path(), &format!("sync:\n  - {{ source: {s}/org/app, target: {t}/mirror/app }}\n"));
    let journal = dir.path().join("nonexistent").join("j.json").display().to_string();
    for dry in [false, true] {
        let mut args = vec!["sync", "--config", &spec, "--insecure", "--journal", &journal];
        if dry {
            args.push("--dry-run");
        }
        let out = regcli_async(&args).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nonexistent") && err.contains("does not exist"), "{}", shown(&out));
    }
    assert_eq!(source.request_count() + target.request_count(), 0);
    assert!(!dir.path().join("nonexistent").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_the_plan_each_image_and_what_a_platform_filter_left_out() {
    let source = RegistryServer::start().await.unwrap();
    let target = RegistryServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (source.host(), target.host());
    let root = client(&s);
    root.with_segment("org/app").push_image("v1", &image(7, Platform::new("linux", "amd64"))).await.unwrap();
    root.with_segment("org/arm").push_image("v1", &image(8, Platform::new("linux", "arm64"))).await.unwrap();
    let spec = write_spec(
        dir.path(),
        &format!(
            "sync:\n  - {{ source: {s}/org/app, target: {t}/mirror/app, platforms: [linux/amd64] }}\n  - {{ source: {s}/org/arm, target: {t}/mirror/arm, platforms: [linux/amd64] }}\n"
        ),
    );
    let out = regcli_async(&["-v", "sync", "--config", &spec, "--insecure", "--progress", "never"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan: 1 images: 1 to copy, 0 skipped, 0 conflicts, 0 failed"), "{}", shown(&out));
    assert!(err.contains(&format!("started {s}/org/app:v1 -> {t}/mirror/app:v1")), "{}", shown(&out));
    assert!(err.contains(&format!("Copied {s}/org/app:v1 -> {t}/mirror/app:v1")), "{}", shown(&out));
    assert!(err.contains(&format!("{s}/org/arm:v1: left out by the platform filter")), "{}", shown(&out));
    let quiet = regcli_async(&["sync", "--config", &spec, "--insecure", "--progress", "never"]).await;
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("plan:"), "{}", shown(&quiet));
}
