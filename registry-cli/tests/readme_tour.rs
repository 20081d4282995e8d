//! The README's "A short tour" runs as written: every command of its block, against `regcli serve --seed` on a
//! free port (the block's `127.0.0.1:5000` replaced by it), in a fresh directory, exits 0, and what the comments
//! promise holds (the catalog, the semver filter, the manifest's digest, the changed image).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};

use support::{regcli_path, Served};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The tour's commands: the ```sh block after "### A short tour", continuation lines joined, comments kept (the
/// shell drops them).
fn tour_commands() -> Vec<String> {
    let text = readme();
    let at = text.find("### A short tour").expect("a tour in the README");
    let rest = &text[at..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in rest[start..start + end].lines() {
        current.push_str(line.trim_end_matches('\\'));
        if line.ends_with('\\') {
            current.push(' ');
        } else {
            commands.push(std::mem::take(&mut current));
        }
    }
    commands
}

#[test]
fn the_readme_tour_runs_as_written() {
    let commands = tour_commands();
    assert!(commands.len() >= 15, "the tour has its commands: {commands:?}");
    assert!(commands[0].starts_with("regcli serve --seed --addr 127.0.0.1:5000 &"), "{}", commands[0]);
    assert_eq!(commands.last().map(String::as_str), Some("kill %1"));
    let served = Served::start(&["--seed", "--addr", "127.0.0.1:0"], None);
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(regcli_path()).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut outputs = Vec::new();
    // The block's first line starts the server and its last stops it: the test's own server stands in.
    let mut script = format!("R={}\n", served.addr);
    for command in &commands[1..commands.len() - 1] {
        if command.starts_with("R=") {
            continue;
        }
        let command = command.replace("127.0.0.1:5000", &served.addr);
        let out = Command::new("sh")
            .args(["-c", &format!("{script}{command}")])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("DOCKER_CONFIG", dir.path().join("docker-config"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "README tour: `{command}` failed: {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            stdout.chars().take(2000).collect::<String>(),
            String::from_utf8_lossy(&out.stderr).chars().take(2000).collect::<String>()
        );
        outputs.push((command.clone(), stdout));
        script = format!("R={}\n", served.addr);
    }
    let output_of = |prefix: &str| -> &str {
        outputs
            .iter()
            .find(|(c, _)| c.starts_with(prefix))
            .map(|(_, o)| o.as_str())
            .unwrap_or_else(|| panic!("no `{prefix}` in the tour"))
    };
    assert_eq!(output_of("regcli catalog"), "demo/backend\ndemo/frontend\ndemo/tools\n");
    assert_eq!(output_of("regcli ls"), "v1.1.0\nv1.2.0\n");
    let digest = output_of("regcli digest").trim().to_string();
    let sum = output_of("regcli manifest").split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(format!("sha256:{sum}"), digest, "the manifest's bytes hash to its digest");
    assert!(output_of("regcli inspect $R/demo/tools:1.1.0 --insecure").contains("linux/arm64/v8"));
    assert!(dir.path().join("fs.tar").is_file(), "export wrote fs.tar");
    assert!(dir.path().join("rootfs/app").is_dir(), "extract wrote rootfs/");
    assert!(dir.path().join("layout/index.json").is_file(), "cp wrote the layout");
    assert!(dir.path().join("fe.tar").is_file(), "cp wrote the docker-archive");
}
