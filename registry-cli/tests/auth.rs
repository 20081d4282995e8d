//! `regcli login` / `regcli logout` end to end, every run of the binary with `DOCKER_CONFIG` (and `HOME`) in a temp
//! dir: against docker-registry with htpasswd (skopeo reads the file written), against the in-process server with
//! bearer tokens, through a fake credential helper (credsStore and credHelpers), and `-u/--password-stdin` on
//! another command without any config file. The password never shows in any output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mocks::server::RegistryServer;
use registry_client::{Client, Platform, RemoteClient};
use registry_tests::skopeo::skopeo;
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::{json, Value};
use support::{image, regcli_path, shown, stdout};

/// The password of every test: it must never show in any output.
const PASSWORD: &str = "pw-Zq8xK3-secret";

/// A sandbox for runs of the binary: `DOCKER_CONFIG` and `HOME` in a temp dir, podman's files out of reach, and a
/// directory for fake credential helpers first on `PATH`.
struct Sandbox {
    dir: tempfile::TempDir,
    /// Every output seen, to check that the password never shows.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        Sandbox { dir, seen: std::sync::Mutex::new(Vec::new()) }
    }

    fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    fn config_file(&self) -> PathBuf {
        self.docker_config().join("config.json")
    }

    fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.config_file()).unwrap()).unwrap()
    }

    fn write_config(&self, value: &Value) {
        std::fs::create_dir_all(self.docker_config()).unwrap();
        std::fs::write(self.config_file(), serde_json::to_vec_pretty(value).unwrap()).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `regcli ARGS` with `stdin` on its standard input.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let path = format!("{}:{}", self.path("bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new(regcli_path())
            .args(args)
            .env("DOCKER_CONFIG", self.docker_config())
            .env("HOME", self.dir.path())
            .env("PATH", path)
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(PASSWORD), "the password shows in regcli {args:?}: {}", shown(&out));
        self.seen.lock().unwrap().push(text);
        out
    }

    /// [`Sandbox::run`] on a blocking thread, so in-process registries keep serving.
    async fn run_async(&self, args: &[&str], stdin: Option<&str>) -> Output {
        tokio::task::block_in_place(|| self.run(args, stdin))
    }

    /// Install `docker-credential-<name>`: a fake store keeping one credential in `store-<name>.json` and logging
    /// each call as `<action> <stdin>` in `log-<name>`.
    fn helper(&self, name: &str) {
        let store = self.path(&format!("store-{name}.json"));
        let log = self.path(&format!("log-{name}"));
        let script = format!(
            "#!/bin/sh\ninput=$(cat)\nprintf '%s %s\\n' \"$1\" \"$input\" >> '{log}'\ncase \"$1\" in\n\
             store) printf '%s' \"$input\" > '{store}' ;;\n\
             get) if [ -f '{store}' ]; then cat '{store}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
             erase) if [ -f '{store}' ]; then rm '{store}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
             *) exit 64 ;;\nesac\n",
            log = log.display(),
            store = store.display()
        );
        let path = self.path(&format!("bin/docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The actions helper `name` was called for, in order.
    fn helper_calls(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("log-{name}")))
            .unwrap_or_default()
            .lines()
            .map(|line| line.split(' ').next().unwrap_or_default().to_string())
            .collect()
    }

    fn helper_store(&self, name: &str) -> Option<Value> {
        std::fs::read(self.path(&format!("store-{name}.json"))).ok().map(|b| serde_json::from_slice(&b).unwrap())
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Push a small image to `host`/`repo`:v1 with Basic credentials.
async fn seed(host: &str, repo: &str, user: &str, password: &str) {
    let client = RemoteClient::builder(host).insecure(true).basic_auth(user, password).build().unwrap();
    client.with_segment(repo).push_image("v1", &image(1, Platform::new("linux", "amd64"))).await.unwrap();
}

/// `regcli --insecure ls HOST/repo` with no `-u`: the stored credentials (or none) are used; on success it lists the seeded `v1`.
async fn read_back(sandbox: &Sandbox, host: &str, repo: &str) -> Output {
    let out = sandbox.run_async(&["--insecure", "ls", &format!("{host}/{repo}")], None).await;
    if out.status.success() {
        assert_eq!(stdout(&out), "v1\n", "the seeded tag, read with the stored credentials: {}", shown(&out));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_against_htpasswd_docker_registry_then_commands_and_skopeo_use_it_until_logout() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("alice", PASSWORD)]));
    let host = registry.host();
    seed(&host, "org/app", "alice", PASSWORD).await;
    let sandbox = Sandbox::new();

    // Wrong password: exit 1 naming the refusal; no config file made.
    let out =
        sandbox.run_async(&["login", "--insecure", &host, "-u", "alice", "--password-stdin"], Some("nope\n")).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("unauthorized") && stderr(&out).contains("alice"), "{}", shown(&out));
    assert!(!sandbox.config_file().exists(), "nothing written for wrong credentials");

    // Right: stored in a new 0600 file, in a 0700 directory.
    let login = ["login", "--insecure", &host, "-u", "alice", "--password-stdin", "-vv"];
    let out = sandbox.run_async(&login, Some(&format!("{PASSWORD}\n"))).await;
    assert!(out.status.success(), "{}", shown(&out));
    let expected = format!("login succeeded for {host} (stored in {})\n", sandbox.config_file().display());
    assert_eq!(stdout(&out), expected, "{}", shown(&out));
    assert_eq!(mode(&sandbox.config_file()), 0o600);
    assert_eq!(mode(&sandbox.docker_config()), 0o700);
    let auth = sandbox.config()["auths"][&host]["auth"].as_str().unwrap().to_string();
    assert_eq!(auth, base64_of(&format!("alice:{PASSWORD}")));

    // Other keys of an existing file are kept; a wrong password leaves the file byte for byte.
    let mut config = sandbox.config();
    config["psFormat"] = json!("table {{.ID}}");
    config["auths"]["other.example.com"] = json!({"auth": base64_of("o:p")});
    sandbox.write_config(&config);
    let before = std::fs::read(sandbox.config_file()).unwrap();
    let out = sandbox.run_async(&["login", "--insecure", &host, "-u", "alice", "--password-stdin"], Some("nope")).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(std::fs::read(sandbox.config_file()).unwrap(), before, "untouched by a failed login");
    let out = sandbox.run_async(&login, Some(PASSWORD)).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(sandbox.config(), config, "only auths[{host}] changed (to the same value)");

    // Another command uses the stored credentials; so does skopeo reading our file.
    let out = read_back(&sandbox, &host, "org/app").await;
    assert!(out.status.success(), "{}", shown(&out));
    let listed = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--authfile",
        &sandbox.config_file().display().to_string(),
        &format!("docker://{host}/org/app"),
    ])
    .await;
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(listed["Tags"], json!(["v1"]), "{listed}");

    // Logout: the entry is gone (the other kept), and the registry refuses us again.
    let out = sandbox.run_async(&["logout", &host], None).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).starts_with(&format!("removed credentials for {host}")), "{}", shown(&out));
    let after = sandbox.config();
    assert!(after["auths"].get(&host).is_none(), "{after}");
    assert_eq!(after["auths"]["other.example.com"], config["auths"]["other.example.com"]);
    assert_eq!(after["psFormat"], config["psFormat"]);
    let out = read_back(&sandbox, &host, "org/app").await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("unauthorized"), "{}", shown(&out));
    assert!(stderr(&out).contains(&format!("{host}/org/app")), "names what failed: {}", shown(&out));

    // Logout again: nothing stored, said, exit 0.
    let out = sandbox.run_async(&["logout", &host, "--format", "json"], None).await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["was_logged_in"], false, "{json}");
    let out = sandbox.run_async(&["logout", &host], None).await;
    assert_eq!(
        stdout(&out),
        format!("not logged in to {host} (nothing stored in {})\n", sandbox.config_file().display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_bearer_tokens_of_our_server() {
    let server = RegistryServer::builder().bearer_auth("bob", PASSWORD).build_and_start().await.unwrap();
    let host = server.host();
    seed(&host, "team/app", "bob", PASSWORD).await;
    let sandbox = Sandbox::new();

    let out = sandbox.run_async(&["--insecure", "login", &host, "-u", "bob", "--password-stdin"], Some("bad")).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("token server rejected the credentials"), "{}", shown(&out));
    assert!(!sandbox.config_file().exists());

    let out = sandbox
        .run_async(&["--insecure", "login", &host, "-u", "bob", "--password-stdin", "--format", "json"], Some(PASSWORD))
        .await;
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["registry"], host.as_str());
    assert_eq!(json["username"], "bob");
    assert_eq!(json["stored_in"], "file");
    assert_eq!(json["helper"], Value::Null);
    assert_eq!(json["file"], sandbox.config_file().display().to_string());

    let out = read_back(&sandbox, &host, "team/app").await;
    assert!(out.status.success(), "{}", shown(&out));
    let out = sandbox.run_async(&["logout", &host, "--format", "json"], None).await;
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    assert_eq!(json["was_logged_in"], true, "{json}");
    assert_eq!(json["keys_removed"], json!([host]), "{json}");
    let out = read_back(&sandbox, &host, "team/app").await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("unauthorized"), "{}", shown(&out));
    assert!(
        stderr(&out).contains("requires authentication (Bearer) and no credentials were given"),
        "an anonymous refusal does not blame credentials never given: {}",
        shown(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creds_store_and_cred_helpers_hold_the_secret_and_leave_a_placeholder() {
    let server = RegistryServer::builder().basic_auth("carol", PASSWORD).build_and_start().await.unwrap();
    let host = server.host();
    seed(&host, "app", "carol", PASSWORD).await;
    let sandbox = Sandbox::new();
    sandbox.helper("fake");
    sandbox.write_config(&json!({"credsStore": "fake", "detachKeys": "ctrl-e,e"}));

    let login = ["--insecure", "login", &host, "-u", "carol", "--password-stdin"];
    let out = sandbox.run_async(&login, Some(PASSWORD)).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(stdout(&out), format!("login succeeded for {host} (in credential helper fake)\n"));
    assert_eq!(sandbox.config(), json!({"credsStore": "fake", "detachKeys": "ctrl-e,e", "auths": {&host: {}}}));
    assert_eq!(sandbox.helper_calls("fake"), ["store"]);
    assert_eq!(
        sandbox.helper_store("fake"),
        Some(json!({"ServerURL": &host, "Username": "carol", "Secret": PASSWORD})),
        "the helper got the secret"
    );

    // Read back through the helper's `get`.
    let out = read_back(&sandbox, &host, "app").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(sandbox.helper_calls("fake"), ["store", "get"]);

    let out = sandbox.run_async(&["logout", &host], None).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains("and credential helper fake"), "{}", shown(&out));
    assert_eq!(sandbox.helper_calls("fake"), ["store", "get", "erase"]);
    assert_eq!(sandbox.helper_store("fake"), None, "erased from the helper");
    assert_eq!(sandbox.config()["auths"], json!({}));
    let out = read_back(&sandbox, &host, "app").await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(sandbox.helper_calls("fake"), ["store", "get", "erase", "get"], "asked, and it had nothing");

    // credHelpers for the host wins over credsStore.
    sandbox.helper("other");
    sandbox.write_config(&json!({"credsStore": "fake", "credHelpers": {&host: "other"}}));
    let out = sandbox.run_async(&login, Some(PASSWORD)).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(stdout(&out).contains("in credential helper other"), "{}", shown(&out));
    assert_eq!(sandbox.helper_calls("other"), ["store"]);
    assert_eq!(sandbox.helper_calls("fake"), ["store", "get", "erase", "get"], "credsStore not asked");
    let out = read_back(&sandbox, &host, "app").await;
    assert!(out.status.success(), "{}", shown(&out));

    // A helper that is missing: exit 1 naming it, the file untouched.
    sandbox.write_config(&json!({"credsStore": "absent"}));
    let before = std::fs::read(sandbox.config_file()).unwrap();
    let out = sandbox.run_async(&login, Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("docker-credential-absent"), "{}", shown(&out));
    assert_eq!(std::fs::read(sandbox.config_file()).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_password_stdin_on_another_command_need_no_config_file() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("dave", PASSWORD)]));
    let host = registry.host();
    seed(&host, "lib/app", "dave", PASSWORD).await;
    let sandbox = Sandbox::new();
    let layout = format!("oci:{}", sandbox.path("layout").display());
    let src = format!("{host}/lib/app:v1");
    let out = sandbox
        .run_async(&["cp", "--insecure", &src, &layout, "-u", "dave", "--password-stdin", "-vv"], Some(PASSWORD))
        .await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!sandbox.docker_config().exists(), "no config file read or made");
    let out =
        sandbox.run_async(&["cp", "--insecure", &src, &layout, "-u", "dave", "--password-stdin"], Some("x")).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("unauthorized"), "{}", shown(&out));

    // A second registry never gets them: refused before any request, with both hosts named.
    let other = DockerRegistry::builder().access_log(true).start();
    let dst = format!("{}/copy/app:v1", other.host());
    let out =
        sandbox.run_async(&["cp", "--insecure", &src, &dst, "-u", "dave", "--password-stdin"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr(&out).contains(&format!("{host} and {}", other.host())), "{}", shown(&out));
    let logs = other.logs();
    let ours: Vec<&str> = logs.lines().filter(|l| l.contains("HTTP/1.1\"") && !l.ends_with("\"\" \"\"")).collect();
    assert!(ours.is_empty(), "no request of ours (only the harness's readiness probe) reached it: {ours:?}");
    for command in [["sync", "--config", "x.yaml"], ["demo", "--progress", "never"]] {
        let mut args = command.to_vec();
        args.extend(["-u", "dave", "--password-stdin"]);
        let out = sandbox.run_async(&args, Some(PASSWORD)).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        assert!(stderr(&out).contains("-u/--password-stdin are not used by"), "{}", shown(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_usage_errors_and_a_malformed_config_file() {
    let server = RegistryServer::builder().basic_auth("erin", PASSWORD).build_and_start().await.unwrap();
    let host = server.host();
    let sandbox = Sandbox::new();

    let out = sandbox.run_async(&["login", &host], None).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert_eq!(stderr(&out), "regcli: login needs -u USER --password-stdin\n");
    let out = sandbox.run_async(&["login", "not a host", "-u", "erin", "--password-stdin"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr(&out).contains("not a host"), "{}", shown(&out));
    let out = sandbox.run_async(&["logout", "bad host"], None).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));

    // A config file that does not parse: named with the line, exit 1, untouched; logout too.
    std::fs::create_dir_all(sandbox.docker_config()).unwrap();
    let broken = "{\n  \"auths\": {\n    \"x\": \n";
    std::fs::write(sandbox.config_file(), broken).unwrap();
    let out =
        sandbox.run_async(&["--insecure", "login", &host, "-u", "erin", "--password-stdin"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let err = stderr(&out);
    assert!(err.contains(&sandbox.config_file().display().to_string()) && err.contains("line 4"), "{}", shown(&out));
    assert_eq!(std::fs::read_to_string(sandbox.config_file()).unwrap(), broken);
    let out = sandbox.run_async(&["logout", &host], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(std::fs::read_to_string(sandbox.config_file()).unwrap(), broken);

    // `https://HOST/` as docker login takes it is the same registry.
    std::fs::remove_file(sandbox.config_file()).unwrap();
    let url = format!("https://{host}/");
    let out = sandbox.run_async(&["--insecure", "login", &url, "-u", "erin", "--password-stdin"], Some(PASSWORD)).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(sandbox.config()["auths"].get(&host).is_some(), "{}", sandbox.config());
}

fn base64_of(text: &str) -> String {
    // A tiny standard base64 encoder, so the test does not depend on the crate the code under test uses.
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
