//! `regcli mutate` and `regcli validate` run as the built binary against the real docker-registry, with skopeo as
//! the independent reader: a mutated image carries what skopeo reports and moves only its new blobs; a good index
//! validates; a corrupted blob is named by its digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod images_support;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use images_support::{image_of, node, shown_tar_run, tree, two_layers};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::Value;
use support::{client, regcli_async, seed_index, shown, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_sets_config_and_annotations_appends_a_directory_and_moves_only_new_blobs() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry.host()).with_segment("org/app");
    let base = image_of(&two_layers());
    repo.push_image("v1", &base).await.unwrap();
    let source = format!("{}/org/app:v1", registry.host());
    let target = format!("{}/org/app:v2", registry.host());
    let tmp = tempfile::tempdir().unwrap();
    let add = tmp.path().join("add");
    fs::create_dir_all(add.join("sub")).unwrap();
    fs::write(add.join("hello.txt"), b"hi").unwrap();
    fs::write(add.join("sub/run.sh"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(add.join("sub/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();

    let out = regcli_async(&[
        "--insecure",
        "mutate",
        &source,
        "-t",
        &target,
        "--label",
        "a=1",
        "--label",
        "b=x=y",
        "--env",
        "MODE=prod",
        "--entrypoint",
        "/bin/app",
        "--entrypoint=-v",
        "--cmd",
        "serve",
        "--user",
        "1000:1000",
        "--workdir",
        "/srv",
        "--annotation",
        "team=core",
        "--append",
        add.to_str().unwrap(),
        "--format",
        "json",
    ])
    .await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    for key in ["source", "target", "digest", "source_digest", "layers_added", "blobs_uploaded", "bytes_uploaded"] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(json["source_digest"], base.digest().to_string(), "{json}");
    assert_eq!(json["layers_added"], 1, "{json}");
    assert_eq!(json["layers_uploaded"], 1, "the new layer only: {json}");
    assert_eq!(json["blobs_uploaded"], 2, "the new layer and the new config only: {json}");
    assert_eq!(json["blobs_mounted"].as_u64().unwrap() + json["blobs_skipped"].as_u64().unwrap(), 2, "{json}");
    let digest = json["digest"].as_str().unwrap().to_string();
    assert_eq!(repo.get_digest("v2").await.unwrap().to_string(), digest);
    assert_eq!(&repo.get_digest("v1").await.unwrap(), base.digest(), "the source is unchanged");

    let config: Value = serde_json::from_slice(
        &skopeo(&["inspect", "--config", "--tls-verify=false", &format!("docker://{target}")]).await,
    )
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["Labels"]["a"], "1", "{c}");
    assert_eq!(c["Labels"]["b"], "x=y", "{c}");
    assert_eq!(c["Labels"]["base"], "yes", "the base's labels are kept: {c}");
    assert!(c["Env"].as_array().unwrap().contains(&Value::from("MODE=prod")), "{c}");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/app", "-v"]), "{c}");
    assert_eq!(c["Cmd"], serde_json::json!(["serve"]), "{c}");
    assert_eq!(c["User"], "1000:1000", "{c}");
    assert_eq!(c["WorkingDir"], "/srv", "{c}");
    let inspect: Value =
        serde_json::from_slice(&skopeo(&["inspect", "--tls-verify=false", &format!("docker://{target}")]).await)
            .unwrap();
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3, "{inspect}");
    let raw: Value = serde_json::from_slice(
        &skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{target}")]).await,
    )
    .unwrap();
    assert_eq!(raw["annotations"]["team"], "core", "{raw}");

    // The appended files are in the new image's filesystem, over the base's.
    let out = regcli_async(&["--insecure", "export", &target, "-"]).await;
    assert!(out.status.success(), "{}", shown_tar_run(&String::from_utf8_lossy(&out.stderr)));
    let got = tree(&out.stdout);
    assert_eq!(node(&got, "hello.txt").data, b"hi");
    assert_eq!(node(&got, "sub/run.sh").mode, 0o755);
    assert_eq!(node(&got, "etc/a").data, b"two");

    // Text output names the new digest; to an OCI layout, then validated there.
    let layout = tmp.path().join("layout");
    let dest = format!("oci:{}:labelled", layout.display());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &dest, "--label", "c=3"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("mutated {source} -> {dest} sha256:")), "{}", shown(&out));
    assert!(text.contains("(0 layers added; blobs: "), "{}", shown(&out));
    let out = regcli_async(&["validate", &dest]).await;
    assert!(out.status.success(), "{}", shown(&out));

    // To a docker-archive, which skopeo reads with the new label.
    let archive = tmp.path().join("app.tar");
    let dest = format!("docker-archive:{}:app:v9", archive.display());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &dest, "--label", "d=4"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let inspect: Value =
        serde_json::from_slice(&skopeo(&["inspect", &format!("docker-archive:{}", archive.display())]).await).unwrap();
    assert_eq!(inspect["Labels"]["d"], "4", "{inspect}");
    assert_eq!(inspect["Labels"]["base"], "yes", "{inspect}");

    // Malformed KEY=VALUE: exit 2 naming the flag and the value; nothing pushed.
    for (flag, value) in [("--label", "novalue"), ("--annotation", "=x"), ("--env", "")] {
        let out = regcli_async(&["--insecure", "mutate", &source, "-t", &target, flag, value]).await;
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(&format!("{value:?}")), "{}", shown(&out));
    }
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &target, "--append", "/no/such/dir"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"), "{}", shown(&out));
    let by_digest = format!("{}/org/app@{}", registry.host(), base.digest());
    let out = regcli_async(&["--insecure", "mutate", &source, "-t", &by_digest, "--label", "x=1"]).await;
    assert_eq!(out.status.code(), Some(2), "a digest cannot name the changed image: {}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name a tag"), "{}", shown(&out));
    assert_eq!(repo.get_digest("v2").await.unwrap().to_string(), digest, "nothing pushed by a refused run");
}

/// The file docker-registry keeps `digest`'s blob in.
fn blob_file(registry: &DockerRegistry, digest: &registry_client::Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    registry.data_dir().join("docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_passes_a_good_index_and_names_a_corrupted_blob() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry.host()).with_segment("org/app");
    let (images, digest) = seed_index(&*repo, "v1", 40).await;
    let reference = format!("{}/org/app:v1", registry.host());

    let out = regcli_async(&["--insecure", "validate", &reference]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("valid: {reference} ({digest}")), "{}", shown(&out));
    assert!(text.contains("4 manifests"), "{}", shown(&out));
    let out = regcli_async(&["--insecure", "validate", &reference, "--format", "json"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["valid"], true, "{json}");
    assert_eq!(json["problems"], serde_json::json!([]), "{json}");
    assert_eq!(json["manifests_checked"], 4, "{json}");
    // Three configs, the shared base layer once, three layers of their own.
    assert_eq!(json["blobs_checked"], 7, "{json}");
    assert!(json["bytes_read"].as_u64().unwrap() > 64 * 1024, "{json}");

    // One byte of the amd64 image's own layer changed on disk (same size): its digest no longer matches.
    let victim = &images[0];
    let layer = registry_client::Digest::parse(victim.layers()[1].digest().as_ref()).unwrap();
    let path = blob_file(&registry, &layer);
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let out = regcli_async(&["--insecure", "validate", &reference]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with(&format!("blob_digest {layer}: "))), "{}", shown(&out));
    assert!(text.lines().last().unwrap().starts_with("invalid (1 problem)"), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 problem found"), "{}", shown(&out));

    let out = regcli_async(&["--insecure", "validate", &reference, "--format", "json", "--no-diff-ids"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["valid"], false, "{json}");
    let problems = json["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{json}");
    assert_eq!(problems[0]["kind"], "blob_digest", "{json}");
    assert_eq!(problems[0]["subject"], layer.to_string(), "{json}");
    assert_eq!(problems[0]["manifest"], victim.digest().to_string(), "{json}");
    assert!(problems[0]["message"].as_str().unwrap().contains("hashes to"), "{json}");

    // An unknown tag: exit 1 naming it.
    let out = regcli_async(&["--insecure", "validate", &format!("{}/org/app:nope", registry.host())]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("org/app:nope"), "{}", shown(&out));
}
