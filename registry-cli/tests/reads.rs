//! The read and small-write commands (`ls`, `catalog`, `digest`, `manifest`, `config`, `inspect`, `referrers`,
//! `tag`, `delete`) run as the built binary against the real docker-registry, checked against what skopeo reports
//! for the same images; and their errors (exit 1 naming the reference and the registry's words, exit 2 for bad
//! usage, never a backtrace).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use registry_client::{Artifact, Client, Digest, Image, ImageBuilder, LayoutClient, Platform};
use registry_tests::skopeo::{skopeo, skopeo_binary};
use registry_tests::{AuthMode, DockerRegistry};
use support::{client, fails, image, ok, regcli_async, seed_index, shown};

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// skopeo's `list-tags` of `repo` (docker://), sorted.
async fn skopeo_tags(repo: &str) -> Vec<String> {
    let out = skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{repo}")]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut tags: Vec<String> =
        listed["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    tags.sort();
    tags
}

/// Whether skopeo can read the manifest of `reference` (docker://).
async fn skopeo_reads(reference: &str) -> bool {
    let reference = format!("docker://{reference}");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(skopeo_binary())
            .args(["--command-timeout", "60s", "inspect", "--raw", "--tls-verify=false", &reference])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
            .status
            .success()
    })
    .await
    .unwrap()
}

/// An image with labels, a config and a fixed creation time.
fn labelled(seed: u64) -> Image {
    ImageBuilder::new()
        .layer(mocks::seeded_bytes(seed, 20 * 1024).to_vec())
        .layer(mocks::seeded_bytes(seed + 1, 3 * 1024).to_vec())
        .label("org.opencontainers.image.title", "reads test")
        .label("com.example.seed", seed.to_string())
        .created("2024-05-06T07:08:09Z")
        .platform(Platform::new("linux", "arm64"))
        .build()
        .unwrap()
}

const TAGS: [&str; 8] = ["v1.0.0", "v1.2.0", "v2.0.0", "latest", "dev-1", "1.5.0", "v1.10.1", "v1.3.0-rc.1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_lists_what_skopeo_lists_in_pages_that_join_and_filters() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app = client(&registry.host()).with_segment("org/app");
    let img = image(1, Platform::new("linux", "amd64"));
    for tag in TAGS {
        app.push_image(tag, &img).await.unwrap();
    }
    let repo = format!("{}/org/app", registry.host());
    let mut all: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
    all.sort();

    let listed = lines(&ok(&["ls", &repo]).await);
    assert_eq!(listed, all);
    assert_eq!(listed, skopeo_tags(&repo).await, "the same tags as skopeo");

    // Pages of 3 after --last, joined, are the whole list; each is at most 3.
    let mut joined: Vec<String> = Vec::new();
    for _ in 0..10 {
        let mut args = vec!["ls", &repo, "-n", "3"];
        let last = joined.last().cloned();
        if let Some(last) = &last {
            args.extend(["--last", last.as_str()]);
        }
        let page = lines(&ok(&args).await);
        assert!(page.len() <= 3, "{page:?}");
        if page.is_empty() {
            break;
        }
        joined.extend(page);
    }
    assert_eq!(joined, all, "pages join to the whole");

    // Filters: a regex, a semver range, both; -n is then a page of matching tags.
    assert_eq!(lines(&ok(&["ls", &repo, "--filter", "^v1\\."]).await), ["v1.0.0", "v1.10.1", "v1.2.0", "v1.3.0-rc.1"]);
    assert_eq!(lines(&ok(&["ls", &repo, "--semver", ">=1.2, <2"]).await), ["1.5.0", "v1.10.1", "v1.2.0"]);
    assert_eq!(lines(&ok(&["ls", &repo, "--semver", ">=1.2, <2", "--filter", "^v"]).await), ["v1.10.1", "v1.2.0"]);
    assert_eq!(
        lines(&ok(&["ls", &repo, "--filter", "^v", "-n", "2", "--last", "v1.0.0"]).await),
        ["v1.10.1", "v1.2.0"]
    );

    let doc = json(&ok(&["ls", &repo, "--format", "json"]).await);
    assert_eq!(doc["repository"], repo.as_str());
    assert_eq!(doc["tags"], serde_json::json!(all));

    // Bad filters name the flag (exit 2); a repository that does not exist says so (exit 1).
    assert!(fails(2, &["ls", &repo, "--filter", "(unclosed"]).await.contains("--filter"));
    assert!(fails(2, &["ls", &repo, "--semver", "not a range"]).await.contains("--semver"));
    assert!(fails(2, &["ls", &format!("{repo}:v1")]).await.contains(&format!("{repo}:v1")));
    let missing = format!("{}/org/nothing", registry.host());
    let error = fails(1, &["ls", &missing]).await;
    assert!(error.contains(&missing) && error.contains("not found"), "{error}");

    // An OCI layout lists its tags the same way.
    let dir = tempfile::tempdir().unwrap();
    let layout = LayoutClient::open(dir.path()).await.unwrap();
    for tag in ["b", "a", "c"] {
        layout.push_image(tag, &img).await.unwrap();
    }
    let oci = format!("oci:{}", dir.path().display());
    assert_eq!(lines(&ok(&["ls", &oci]).await), ["a", "b", "c"]);
    assert_eq!(lines(&ok(&["ls", &oci, "-n", "1", "--last", "a"]).await), ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_keeps_a_prefix_and_pages_over_server_pages() {
    // Server pages of 2 repositories: every listing below walks several.
    let registry = DockerRegistry::builder().catalog_max_entries(2).start();
    let root = client(&registry.host());
    let img = image(2, Platform::new("linux", "amd64"));
    let repos = ["alpha/y", "team/a", "team/b", "team/sub/c", "team-x/d", "teamster/x", "zeta/z"];
    for repo in repos {
        root.with_segment(repo).push_image("v1", &img).await.unwrap();
    }
    let host = registry.host();
    let mut all: Vec<String> = repos.iter().map(|r| r.to_string()).collect();
    all.sort();
    assert_eq!(lines(&ok(&["catalog", &host]).await), all);
    assert_eq!(all[1], "team-x/d", "'-' sorts before '/'");

    let team = format!("{host}/team");
    let below = ["team/a", "team/b", "team/sub/c"];
    assert_eq!(lines(&ok(&["catalog", &team]).await), below, "not team-x nor teamster");
    assert_eq!(lines(&ok(&["catalog", &format!("{team}/")]).await), below);

    // A page of N is N repositories below the prefix; pages join to the whole.
    let mut joined: Vec<String> = Vec::new();
    for _ in 0..10 {
        let mut args = vec!["catalog", &team, "-n", "2"];
        let last = joined.last().cloned();
        if let Some(last) = &last {
            args.extend(["--last", last.as_str()]);
        }
        let page = lines(&ok(&args).await);
        assert!(page.len() <= 2, "{page:?}");
        if page.is_empty() {
            break;
        }
        joined.extend(page);
    }
    assert_eq!(joined, below);
    assert_eq!(lines(&ok(&["catalog", &team, "-n", "1", "--last", "team/a"]).await), ["team/b"]);
    assert_eq!(
        lines(&ok(&["catalog", &host, "-n", "3", "--last", "team/b"]).await),
        ["team/sub/c", "teamster/x", "zeta/z"]
    );
    assert_eq!(ok(&["catalog", &team, "--last", "teamster/x"]).await, "");

    let doc = json(&ok(&["catalog", &team, "--format", "json"]).await);
    assert_eq!(doc["registry"], team.as_str());
    assert_eq!(doc["repositories"], serde_json::json!(below));
    fails(2, &["catalog", "http://example.com"]).await;
    fails(2, &["catalog", &host, "-n", "0"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_manifest_and_config_are_skopeos_bytes() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app = client(&registry.host()).with_segment("org/app");
    let (images, index_digest) = seed_index(&*app, "v1", 30).await;
    let single = labelled(40);
    app.push_image("single", &single).await.unwrap();
    let index_ref = format!("{}/org/app:v1", registry.host());
    let single_ref = format!("{}/org/app:single", registry.host());

    for (reference, digest) in [(&index_ref, &index_digest), (&single_ref, single.digest())] {
        let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")]).await;
        let out = regcli_async(&["--insecure", "manifest", reference]).await;
        assert!(out.status.success(), "{}", shown(&out));
        assert!(out.stdout == raw, "manifest of {reference}: the bytes skopeo reads, nothing added");
        assert_eq!(&Digest::sha256(&out.stdout), digest);
        assert_eq!(ok(&["digest", reference]).await, format!("{digest}\n"));
        let json_bytes = regcli_async(&["--insecure", "manifest", reference, "--format", "json"]).await;
        assert!(json_bytes.stdout == raw, "--format json: the same bytes");
    }
    let by_digest = format!("{}/org/app@{index_digest}", registry.host());
    assert_eq!(ok(&["digest", &by_digest]).await, format!("{index_digest}\n"));

    // --platform: the child's digest and exact bytes.
    let arm = images[1].digest();
    assert_eq!(ok(&["digest", &index_ref, "--platform", "linux/arm64"]).await, format!("{arm}\n"));
    let out = regcli_async(&["--insecure", "manifest", &index_ref, "--platform", "linux/arm64/v8"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(&Digest::sha256(&out.stdout), arm);
    let doc = json(&ok(&["digest", &index_ref, "--platform", "linux/s390x", "--format", "json"]).await);
    assert_eq!(doc["reference"], index_ref.as_str());
    assert_eq!(doc["digest"], images[2].digest().to_string());

    // config: the blob's exact bytes, as skopeo reads them (from an index: the platform asked for).
    let want = skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &format!("docker://{single_ref}")]).await;
    let out = regcli_async(&["--insecure", "config", &single_ref]).await;
    assert!(out.status.success() && out.stdout == want, "config of {single_ref}: {}", shown(&out));
    let want = skopeo(&[
        "--override-arch",
        "s390x",
        "--override-os",
        "linux",
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{index_ref}"),
    ])
    .await;
    let out = regcli_async(&["--insecure", "config", &index_ref, "--platform", "linux/s390x"]).await;
    assert!(out.status.success() && out.stdout == want, "s390x config: {}", shown(&out));
    assert!(out.stdout == images[2].config_bytes().as_ref());

    // The same reads from a layout and an archive written by `regcli cp`.
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", dir.path().join("layout").display());
    ok(&["cp", &index_ref, &layout]).await;
    assert_eq!(ok(&["digest", &layout]).await, format!("{index_digest}\n"));
    assert_eq!(ok(&["digest", &layout, "--platform", "linux/s390x"]).await, format!("{}\n", images[2].digest()));
    let archive = format!("oci-archive:{}", dir.path().join("single.tar").display());
    ok(&["cp", &single_ref, &format!("{archive}:single")]).await;
    let out = regcli_async(&["config", &archive]).await;
    assert!(out.status.success() && out.stdout == single.config_bytes().as_ref(), "{}", shown(&out));
    let doc = json(&ok(&["inspect", &archive, "--format", "json"]).await);
    assert_eq!(doc["labels"]["com.example.seed"], "40", "{doc}");

    // No --platform: the host's (never a silent linux/amd64).
    let host = Platform::host();
    let out = regcli_async(&["--insecure", "config", &index_ref]).await;
    match images.iter().find(|i| host.matches(&i.platform())) {
        Some(mine) => assert!(out.status.success() && out.stdout == mine.config_bytes().as_ref(), "{}", shown(&out)),
        None => assert!(String::from_utf8_lossy(&out.stderr).contains(&host.to_string()), "{}", shown(&out)),
    }

    // A platform the index lacks: exit 1 naming it and listing what there is; a malformed one: exit 2.
    let error = fails(1, &["config", &index_ref, "--platform", "linux/ppc64le"]).await;
    assert!(error.contains("linux/ppc64le") && error.contains("linux/s390x"), "{error}");
    assert!(fails(2, &["digest", &index_ref, "--platform", "linux"]).await.contains("--platform"));
    // A single-platform image is not another platform's.
    let error = fails(1, &["config", &single_ref, "--platform", "linux/amd64"]).await;
    assert!(error.contains("linux/arm64"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_agrees_with_skopeo_inspect() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app = client(&registry.host()).with_segment("org/app");
    let (images, index_digest) = seed_index(&*app, "v1", 50).await;
    let single = labelled(60);
    app.push_image("single", &single).await.unwrap();
    let index_ref = format!("{}/org/app:v1", registry.host());
    let single_ref = format!("{}/org/app:single", registry.host());

    let theirs = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{single_ref}")]).await;
    let theirs: serde_json::Value = serde_json::from_slice(&theirs).unwrap();
    let ours = json(&ok(&["inspect", &single_ref, "--format", "json"]).await);
    assert_eq!(ours["reference"], single_ref.as_str());
    assert_eq!(ours["digest"], theirs["Digest"], "{ours}");
    assert_eq!(ours["architecture"], theirs["Architecture"]);
    assert_eq!(ours["os"], theirs["Os"]);
    assert_eq!(ours["labels"], theirs["Labels"]);
    assert_eq!(ours["created"], theirs["Created"]);
    let layers: Vec<&serde_json::Value> = ours["layers"].as_array().unwrap().iter().map(|l| &l["digest"]).collect();
    let their_layers: Vec<&serde_json::Value> = theirs["Layers"].as_array().unwrap().iter().collect();
    assert_eq!(layers, their_layers);
    let sizes: u64 = single.layers().iter().map(|l| l.size()).sum();
    assert_eq!(ours["layers_size"], sizes);
    assert_eq!(ours["config_digest"], single.config_descriptor().digest().to_string());
    assert!(ours.get("manifests").is_none(), "{ours}");

    let text = ok(&["inspect", &single_ref]).await;
    for needle in [
        single.digest().to_string(),
        "linux/arm64".to_string(),
        "2024-05-06T07:08:09Z".to_string(),
        "com.example.seed=60".to_string(),
        single.layers()[0].digest().to_string(),
        format!("{sizes} bytes"),
    ] {
        assert!(text.contains(&needle), "no {needle} in\n{text}");
    }

    // An index lists its entries; --platform describes that child and names the index.
    let text = ok(&["inspect", &index_ref]).await;
    assert!(text.contains(&index_digest.to_string()), "{text}");
    for (img, platform) in images.iter().zip(["linux/amd64", "linux/arm64/v8", "linux/s390x"]) {
        let line = text.lines().find(|l| l.contains(&img.digest().to_string())).unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(platform), "{line}");
    }
    let doc = json(&ok(&["inspect", &index_ref, "--format", "json"]).await);
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 3, "{doc}");
    assert!(doc.get("layers").is_none(), "{doc}");
    let doc = json(&ok(&["inspect", &index_ref, "--platform", "linux/s390x", "--format", "json"]).await);
    assert_eq!(doc["digest"], images[2].digest().to_string());
    assert_eq!(doc["index_digest"], index_digest.to_string());
    assert_eq!(doc["architecture"], "s390x");

    let missing = format!("{}/org/app:nope", registry.host());
    let error = fails(1, &["inspect", &missing]).await;
    assert!(error.contains(&missing), "{error}");
}

fn signature(subject: &Image, artifact_type: &str, note: &str) -> Artifact {
    Artifact::builder(artifact_type)
        .subject(subject.raw_manifest().descriptor().unwrap())
        .layer(note.as_bytes().to_vec(), "application/octet-stream")
        .annotation("com.example.note", note)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_lists_artifacts_and_filters_by_type() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app: Arc<dyn Client> = client(&registry.host()).with_segment("org/app");
    let img = labelled(70);
    app.push_image("v1", &img).await.unwrap();
    let sig = app.push_artifact(&signature(&img, "application/vnd.example.sig.v1", "signed")).await.unwrap();
    let sbom = app.push_artifact(&signature(&img, "application/spdx+json", "sbom")).await.unwrap();
    let reference = format!("{}/org/app:v1", registry.host());

    let text = ok(&["referrers", &reference]).await;
    assert_eq!(text.lines().count(), 2, "{text}");
    let line = text.lines().find(|l| l.contains(sig.as_str())).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("application/vnd.example.sig.v1") && line.contains("com.example.note=signed"), "{line}");
    assert!(text.contains(sbom.as_str()), "{text}");

    let text = ok(&["referrers", &reference, "--artifact-type", "application/spdx+json"]).await;
    assert_eq!(lines(&text).len(), 1, "{text}");
    assert!(text.starts_with(sbom.as_str()), "{text}");

    let doc = json(&ok(&["referrers", &reference, "--format", "json"]).await);
    assert_eq!(doc["subject"], img.digest().to_string());
    let mut digests: Vec<&str> =
        doc["referrers"].as_array().unwrap().iter().map(|d| d["digest"].as_str().unwrap()).collect();
    digests.sort();
    let mut want = vec![sig.as_str(), sbom.as_str()];
    want.sort();
    assert_eq!(digests, want);
    assert!(doc["referrers"][0]["artifactType"].is_string(), "OCI descriptors: {doc}");

    // A referrer is an artifact: inspect describes its type and blobs, not a platform.
    let doc = json(&ok(&["inspect", &format!("{}/org/app@{sbom}", registry.host()), "--format", "json"]).await);
    assert_eq!(doc["artifact_type"], "application/spdx+json", "{doc}");
    assert_eq!(doc["layers"].as_array().unwrap().len(), 1, "{doc}");
    assert!(doc.get("os").is_none(), "{doc}");

    let other = format!("{}/org/app:nope", registry.host());
    assert!(fails(1, &["referrers", &other]).await.contains(&other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_then_delete_a_tag_then_a_manifest() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app = client(&registry.host()).with_segment("org/app");
    let (_, digest) = seed_index(&*app, "v1", 80).await;
    let repo = format!("{}/org/app", registry.host());
    let v1 = format!("{repo}:v1");

    let text = ok(&["tag", &v1, "v2"]).await;
    assert_eq!(text, format!("tagged {v1} as v2 ({digest})\n"));
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{repo}:v2")]).await;
    assert_eq!(Digest::sha256(&raw), digest, "the new tag names the same manifest");
    let doc = json(&ok(&["tag", &format!("{repo}@{digest}"), "v3", "--format", "json"]).await);
    assert_eq!(doc["digest"], digest.to_string());
    assert_eq!(skopeo_tags(&repo).await, ["v1", "v2", "v3"]);
    assert!(fails(2, &["tag", &v1, ".bad"]).await.contains(".bad"));
    assert!(fails(2, &["tag", &v1, "other/repo:v1"]).await.contains("other/repo:v1"));

    // A tag: the others and the digest stay.
    let text = ok(&["delete", &v1]).await;
    assert!(text.starts_with(&format!("deleted tag {v1}")) && text.contains(&digest.to_string()), "{text}");
    assert_eq!(skopeo_tags(&repo).await, ["v2", "v3"]);
    assert!(skopeo_reads(&format!("{repo}@{digest}")).await, "the manifest stays");
    assert!(skopeo_reads(&format!("{repo}:v2")).await);
    let error = fails(1, &["delete", &v1]).await;
    assert!(error.contains(&v1), "deleting it again names it: {error}");

    // A repository alone is not taken as `latest`.
    assert!(fails(2, &["delete", &repo]).await.contains("name what to delete"));

    // By digest: every tag on it goes.
    let by_digest = format!("{repo}@{digest}");
    let doc = json(&ok(&["delete", &by_digest, "--format", "json"]).await);
    assert_eq!(doc["deleted"], "manifest");
    assert_eq!(doc["digest"], digest.to_string());
    assert!(!skopeo_reads(&format!("{repo}:v2")).await, "v2 is gone");
    assert!(!skopeo_reads(&format!("{repo}:v3")).await, "v3 is gone");
    assert!(!skopeo_reads(&by_digest).await, "the manifest is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_reference_and_the_registrys_words() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app = client(&registry.host()).with_segment("org/app");
    app.push_image("v1", &image(90, Platform::new("linux", "amd64"))).await.unwrap();
    let missing = format!("{}/org/app:nope", registry.host());
    for command in ["digest", "manifest", "config", "inspect"] {
        let error = fails(1, &[command, &missing]).await;
        assert!(error.contains(&missing), "{command}: {error}");
        assert!(
            error.contains("MANIFEST_UNKNOWN") || error.contains("404"),
            "{command}: the registry's words: {error}"
        );
    }
    for bad in ["host/Org/App:v1", "nohost", "oci:", "127.0.0.1:1/app:-v"] {
        for command in ["digest", "manifest", "config", "inspect", "referrers", "delete"] {
            let error = fails(2, &[command, bad]).await;
            assert!(error.contains(bad), "{command} {bad}: {error}");
        }
    }
    assert!(fails(2, &["tag", "nohost", "v2"]).await.contains("nohost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_a_registry_with_deletes_disabled_changes_nothing() {
    let registry = DockerRegistry::builder().deletes(false).start();
    let app = client(&registry.host()).with_segment("org/app");
    let img = image(95, Platform::new("linux", "amd64"));
    app.push_image("v1", &img).await.unwrap();
    let repo = format!("{}/org/app", registry.host());
    for reference in [format!("{repo}:v1"), format!("{repo}@{}", img.digest())] {
        let error = fails(1, &["delete", &reference]).await;
        assert!(error.contains(&reference), "{error}");
        assert!(error.to_lowercase().contains("unsupported") || error.contains("405"), "the registry's words: {error}");
    }
    assert_eq!(skopeo_tags(&repo).await, ["v1"], "the tag stays");
    assert!(skopeo_reads(&format!("{repo}:v1")).await);
}

/// `config` of an artifact (an SBOM whose config is the empty `{}`) prints the config blob's exact bytes, as crane
/// does, instead of failing to parse it as an image configuration; `export` and `extract` refuse it, saying it is
/// an artifact and of which config type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_of_an_artifact_prints_its_blob_and_export_says_it_is_no_image() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let app: Arc<dyn Client> = client(&registry.host()).with_segment("org/app");
    let img = labelled(71);
    app.push_image("v1", &img).await.unwrap();
    let sbom = app.push_artifact(&signature(&img, "application/spdx+json", "sbom")).await.unwrap();
    let manifest = app.get_manifest(&format!("@{sbom}")).await.unwrap().into_manifest();
    let descriptor = manifest.as_image().unwrap().config().clone();
    let config_type = descriptor.media_type().to_string();
    assert_ne!(config_type, "application/vnd.oci.image.config.v1+json", "the artifact is no image");
    let reference = format!("{}/org/app@{sbom}", registry.host());

    let out = regcli_async(&["--insecure", "config", &reference]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(out.stdout.len() as u64, descriptor.size(), "{}", shown(&out));
    assert_eq!(Digest::sha256(&out.stdout).to_string(), descriptor.digest().to_string(), "{}", shown(&out));
    // An image's config still prints as before.
    let image_config = ok(&["config", &format!("{}/org/app:v1", registry.host())]).await;
    assert_eq!(image_config.as_bytes(), img.config_bytes());

    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("out.tar");
    let error = fails(1, &["export", &reference, tar.to_str().unwrap()]).await;
    assert!(error.contains("is an artifact") && error.contains(&config_type), "{error}");
    let dir = tmp.path().join("rootfs");
    let error = fails(1, &["extract", &reference, dir.to_str().unwrap()]).await;
    assert!(error.contains("is an artifact") && error.contains(&config_type), "{error}");
    assert!(!dir.exists(), "extract of an artifact left {}", dir.display());
}
