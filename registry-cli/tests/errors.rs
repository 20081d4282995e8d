//! How `regcli` fails, whatever the command: one line on stderr in the CLI's words, the right exit status, no
//! noise. `regcli` alone shows the help (exit 2); an unreachable registry is one line after the retries; a
//! plain-HTTP registry without `--insecure` names the flag; a hostile password on stdin is refused by size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use registry_tests::{AuthMode, DockerRegistry};
use support::{regcli, regcli_with_stdin, shown};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn regcli_alone_prints_the_help_once_and_exits_2() {
    let out = regcli(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = stderr(&out);
    assert!(err.contains("Usage: regcli [OPTIONS] <COMMAND>"), "{err}");
    assert!(!err.contains("regcli: regcli"), "no doubled prefix: {err}");
}

#[test]
fn an_unreachable_registry_is_one_line_after_the_retries() {
    let out = regcli(&["ls", "127.0.0.1:1/app", "--insecure"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line, no retry warnings: {err}");
    assert!(err.starts_with("regcli: ") && err.contains("127.0.0.1:1") && err.contains("attempts"), "{err}");
    // -v shows the retries.
    let out = regcli(&["ls", "127.0.0.1:1/app", "--insecure", "-v"]);
    assert!(stderr(&out).contains("retrying"), "{}", shown(&out));
}

#[test]
fn a_plain_http_registry_without_insecure_names_the_flag() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let out = regcli(&["ls", &format!("{}/app", registry.host())]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let err = stderr(&out);
    assert!(err.contains("--insecure") && !err.contains("insecure(true)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_password_line_past_64_kib_is_refused_before_any_request() {
    // More than the cap and no newline; regcli stops reading at the cap, so the write may see a closed pipe.
    let out = regcli_with_stdin(
        &["ls", "127.0.0.1:1/app", "--insecure", "-u", "u", "--password-stdin"],
        &vec![b'x'; 200 * 1024],
    );
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr(&out).contains("longer than 65536 bytes"), "{}", shown(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_in_a_missing_directory_is_refused_and_nothing_is_made() {
    use registry_client::{Client, ImageBuilder, LayoutClient};
    let dir = tempfile::tempdir().unwrap();
    let layout = LayoutClient::open(dir.path().join("src")).await.unwrap();
    layout.push_image("v1", &ImageBuilder::new().layer(b"data".to_vec()).build().unwrap()).await.unwrap();
    let src = format!("oci:{}:v1", dir.path().join("src").display());
    let missing = dir.path().join("missing");
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a layout").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["cp".into(), src.clone(), format!("oci:{}", missing.join("lay").display())],
        vec!["cp".into(), src.clone(), format!("docker-archive:{}:a/b:c", missing.join("x.tar").display())],
        vec!["cp".into(), src.clone(), format!("oci-archive:{}", missing.join("x.tar").display())],
        vec!["export".into(), src.clone(), missing.join("x.tar").display().to_string()],
        vec!["extract".into(), src.clone(), missing.join("d").display().to_string()],
        vec![
            "mutate".into(),
            src.clone(),
            "-t".into(),
            format!("oci:{}:v2", missing.join("lay").display()),
            "--label".into(),
            "a=b".into(),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = support::regcli_async(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", shown(&out));
        assert!(stderr(&out).contains("does not exist (create it first)"), "{args:?}: {}", shown(&out));
        assert!(!missing.exists(), "{args:?} made {}", missing.display());
    }
    let out = support::regcli_async(&["cp", &src, &format!("oci:{}", file.display())]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr(&out).contains("exists and is not a directory"), "{}", shown(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"not a layout");
}
