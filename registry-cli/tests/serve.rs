//! `regcli serve` as a child process (its first stdout line gives the address; `regcli cp` writes into it, skopeo
//! reads from it; SIGTERM stops it with exit 0; `--auth basic` demands credentials; a bad `--addr` is a usage
//! error) and `regcli completion` for bash, zsh and fish.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Output, Stdio};

use registry_client::{Client, LayoutClient, Platform};
use registry_tests::skopeo::{skopeo, skopeo_binary};
use serde_json::Value;
use support::{image, regcli, regcli_with_stdin, shown, stdout, Served};

/// An OCI layout holding one image under `v1`: `oci:DIR:v1` and the image's digest.
async fn layout(dir: &std::path::Path) -> (String, String) {
    let image = image(5, Platform::new("linux", "amd64"));
    LayoutClient::open(dir).await.unwrap().push_image("v1", &image).await.unwrap();
    (format!("oci:{}:v1", dir.display()), image.digest().to_string())
}

/// skopeo `ARGS` without panicking on failure.
fn skopeo_output(args: &[&str]) -> Output {
    Command::new(skopeo_binary()).args(args).stdin(Stdio::null()).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_a_copy_skopeo_reads_it_and_sigterm_stops_it() {
    let served = Served::start(&["--addr", "127.0.0.1:0"], None);
    let dir = tempfile::tempdir().unwrap();
    let (source, digest) = layout(dir.path()).await;
    let target = format!("{}/demo/app:v1", served.addr);
    let out = tokio::task::block_in_place(|| regcli(&["cp", "--insecure", &source, &target, "--progress", "never"]));
    assert!(out.status.success(), "{}", shown(&out));

    let inspected = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{target}")]).await;
    let inspected: Value = serde_json::from_slice(&inspected).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str(), "{inspected}");
    assert_eq!(inspected["Architecture"], "amd64", "{inspected}");

    let (code, err) = served.terminate();
    assert_eq!(code, Some(0), "SIGTERM ends it cleanly: {err}");
    assert!(err.contains("stopped after"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_basic_auth_demands_credentials() {
    let password = "serve-pw-41";
    let served =
        Served::start(&["--addr", "127.0.0.1:0", "-u", "admin", "--password-stdin", "--auth", "basic"], Some(password));
    let dir = tempfile::tempdir().unwrap();
    let (source, digest) = layout(dir.path()).await;
    let target = format!("{}/locked/app:v1", served.addr);

    let out = tokio::task::block_in_place(|| regcli(&["cp", "--insecure", &source, &target]));
    assert_eq!(out.status.code(), Some(1), "no credentials: {}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"), "{}", shown(&out));
    let out = tokio::task::block_in_place(|| {
        regcli_with_stdin(
            &["cp", "--insecure", &source, &target, "-u", "admin", "--password-stdin"],
            password.as_bytes(),
        )
    });
    assert!(out.status.success(), "{}", shown(&out));

    let reference = format!("docker://{target}");
    let creds = format!("admin:{password}");
    let with = skopeo_output(&["inspect", "--tls-verify=false", "--creds", &creds, &reference]);
    assert!(with.status.success(), "{}", shown(&with));
    let inspected: Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());
    let without = skopeo_output(&["inspect", "--tls-verify=false", "--no-creds", &reference]);
    assert!(!without.status.success(), "skopeo without credentials is refused: {}", shown(&without));
    let wrong = skopeo_output(&["inspect", "--tls-verify=false", "--creds", "admin:wrong", &reference]);
    assert!(!wrong.status.success(), "{}", shown(&wrong));

    let (code, _) = served.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn serve_usage_errors_exit_2() {
    let out = regcli(&["serve", "--addr", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--addr \"not-an-address\""), "{}", shown(&out));
    let out = regcli(&["serve", "--addr", "127.0.0.1:0", "--auth", "basic"]);
    assert_eq!(out.status.code(), Some(2), "basic needs credentials: {}", shown(&out));
    let out = regcli(&["serve", "--auth", "kerberos"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
}

#[test]
fn completion_scripts_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = regcli(&["completion", shell]);
        assert!(out.status.success(), "{shell}: {}", shown(&out));
        let script = stdout(&out);
        for command in ["inspect", "mutate", "login", "logout", "serve", "catalog", "sync", "cp", "completion"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
    let out = regcli(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"), "{}", shown(&out));
    assert!(out.stdout.is_empty());
}
