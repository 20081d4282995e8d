//! Running the `regcli` binary from tests, and seeding registries for it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use registry_client::{index_of, Client, Digest, Image, ImageBuilder, Platform, RemoteClient};

/// The binary under test.
pub(crate) fn regcli_path() -> &'static str {
    env!("CARGO_BIN_EXE_regcli")
}

/// Run `regcli ARGS` (stdin closed, no terminal, `RUST_LOG` unset) and return what it did.
pub(crate) fn regcli(args: &[&str]) -> Output {
    Command::new(regcli_path()).args(args).env_remove("RUST_LOG").stdin(Stdio::null()).output().expect("run regcli")
}

/// [`regcli`] on a blocking thread, so the runtime keeps serving in-process registries meanwhile.
pub(crate) async fn regcli_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        regcli(&refs)
    })
    .await
    .unwrap()
}

/// stdout and stderr, cut to a few KiB, for assertion messages.
pub(crate) fn shown(output: &Output) -> String {
    fn cut(bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes);
        let mut end = text.len().min(4000);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    }
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), cut(&output.stdout), cut(&output.stderr))
}

/// stdout as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The client of a registry's root, plain HTTP.
pub(crate) fn client(host: &str) -> Arc<dyn Client> {
    Arc::new(RemoteClient::builder(host).insecure(true).build().unwrap())
}

/// A small image of `platform` with one layer of its own (`seed` makes it distinct) and a shared base layer.
pub(crate) fn image(seed: u64, platform: Platform) -> Image {
    ImageBuilder::new()
        .layer(mocks::seeded_bytes(1, 64 * 1024).to_vec())
        .layer(mocks::seeded_bytes(seed, 16 * 1024).to_vec())
        .platform(platform)
        .build()
        .unwrap()
}

/// Push a three-platform index (amd64, arm64/v8, s390x) under `tag` of `repo`; its images and digest.
pub(crate) async fn seed_index(repo: &dyn Client, tag: &str, seed: u64) -> (Vec<Image>, Digest) {
    let images = vec![
        image(seed, Platform::new("linux", "amd64")),
        image(seed + 1, Platform::new("linux", "arm64").with_variant("v8")),
        image(seed + 2, Platform::new("linux", "s390x")),
    ];
    let refs: Vec<&Image> = images.iter().collect();
    let index = index_of(&refs).unwrap();
    repo.push_index(tag, &index, &images).await.unwrap();
    let digest = repo.get_digest(tag).await.unwrap();
    (images, digest)
}

/// Run `regcli ARGS` with `stdin` on its standard input (a write cut short because regcli stopped reading is fine).
pub(crate) fn regcli_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(regcli_path())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// `regcli --insecure ARGS`, which must succeed; its stdout.
pub(crate) async fn ok(args: &[&str]) -> String {
    let mut full = vec!["--insecure"];
    full.extend_from_slice(args);
    let out = regcli_async(&full).await;
    assert!(out.status.success(), "regcli {args:?}: {}", shown(&out));
    stdout(&out)
}

/// `regcli --insecure ARGS`, which must fail with exit `code` and one line on stderr starting `regcli: `, no
/// backtrace; that line.
pub(crate) async fn fails(code: i32, args: &[&str]) -> String {
    let mut full = vec!["--insecure"];
    full.extend_from_slice(args);
    let out: Output = regcli_async(&full).await;
    assert_eq!(out.status.code(), Some(code), "regcli {args:?}: {}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {}", shown(&out));
    assert!(stderr.starts_with("regcli: "), "{}", shown(&out));
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{}", shown(&out));
    stderr
}

/// A running `regcli serve`, killed when dropped (if still running).
pub(crate) struct Served {
    child: std::process::Child,
    /// `host:port`.
    pub(crate) addr: String,
}

impl Served {
    /// Start `regcli serve ARGS`, with `password` on stdin when given, and read the address from its first line.
    pub(crate) fn start(args: &[&str], password: Option<&str>) -> Served {
        let mut child = Command::new(regcli_path())
            .arg("serve")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(password) = password {
            stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
        }
        drop(stdin);
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut first).unwrap();
        let addr = first
            .strip_prefix("serving on http://")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("first line {first:?}"))
            .to_string();
        Served { child, addr }
    }

    /// Send SIGTERM and wait for the exit: its status and stderr.
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status.code(), err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
