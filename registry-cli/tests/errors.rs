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
