//! The keychain: docker `config.json` / podman `auth.json` files and credential helpers (fake helper scripts
//! written by the tests), then pushes and pulls through the real docker-registry with token auth, the client's
//! credentials coming from a keychain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use registry_client::core::auth::{Credentials, Keychain, Secret};
use registry_client::core::Registry;
use registry_client::{ErrorKind, ImageOptions, ListOptions, RemoteClient};
use registry_tests::conformance::{root, small_image};
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer};
use serde_json::{json, Value};
use tempfile::TempDir;

/// A directory holding config files and helper scripts.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a config file named `name` holding `config`.
    fn config(&self, name: &str, config: Value) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        path
    }

    /// Install `docker-credential-<name>` running `body` after it saved its standard input to `stdin-<name>`
    /// (one line per call) and put it in `$input`.
    fn helper(&self, name: &str, body: &str) {
        let log = self.stdin_log_path(name);
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 64\ninput=$(cat)\nprintf '%s\\n' \"$input\" >> '{}'\n{body}\n",
            log.display()
        );
        let path = self.path(&format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A helper answering `username`/`secret` for `host` only, "credentials not found" (exit 1) for any other.
    fn answering_helper(&self, name: &str, host: &str, username: &str, secret: &str) {
        let answer = json!({"ServerURL": host, "Username": username, "Secret": secret}).to_string();
        self.helper(
            name,
            &format!(
                "case \"$input\" in\n  '{host}') printf '%s' '{answer}' ;;\n  \
                 *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac"
            ),
        );
    }

    fn stdin_log_path(&self, name: &str) -> PathBuf {
        self.path(&format!("stdin-{name}"))
    }

    /// What helper `name` received on standard input, one call per line.
    fn stdin_log(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.stdin_log_path(name))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// A keychain over `files` whose helpers are looked for in this directory only.
    fn keychain(&self, files: &[&Path]) -> Keychain {
        Keychain::from_files(files.iter().map(|f| f.to_path_buf())).helper_dirs([self.dir.path().to_path_buf()])
    }
}

fn registry(s: &str) -> Registry {
    Registry::parse(s).unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn basic(user: &str, password: &str) -> Credentials {
    Credentials::basic(user, password)
}

#[tokio::test]
async fn auths_entries_of_every_shape() {
    let s = Setup::new();
    let config = s.config(
        "config.json",
        json!({"auths": {
            "https://index.docker.io/v1/": {"auth": b64("hub-user:hub-pw")},
            "https://reg.example.com/v2/": {"auth": b64("alice:a:b")},
            "http://localhost:5000": {"username": "bob", "password": "bob-pw"},
            "id.example.com": {"auth": b64("<token>:"), "identitytoken": "refresh-tok"},
            "tok.example.com": {"registrytoken": "reg-tok"},
            "empty.example.com": {},
        }}),
    );
    let k = s.keychain(&[&config]);
    for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        assert_eq!(k.resolve(&registry(hub)).await.unwrap(), basic("hub-user", "hub-pw"), "{hub}");
    }
    assert_eq!(k.resolve(&registry("reg.example.com")).await.unwrap(), basic("alice", "a:b"));
    assert_eq!(k.resolve(&registry("localhost:5000")).await.unwrap(), basic("bob", "bob-pw"));
    assert_eq!(k.resolve(&registry("localhost:5001")).await.unwrap(), Credentials::Anonymous, "port matters");
    assert_eq!(
        k.resolve(&registry("id.example.com")).await.unwrap(),
        Credentials::IdentityToken { username: "<token>".into(), token: Secret::new("refresh-tok") }
    );
    assert_eq!(k.resolve(&registry("tok.example.com")).await.unwrap(), Credentials::Bearer(Secret::new("reg-tok")));
    assert_eq!(k.resolve(&registry("empty.example.com")).await.unwrap(), Credentials::Anonymous);
    assert_eq!(k.resolve(&registry("other.example.com")).await.unwrap(), Credentials::Anonymous);
    let debug = format!("{k:?}");
    // The secrets themselves, not fragments: the temp dir's random name may hold "pw" or "tok" (".tmpwQgxQx" did).
    for secret in ["hub-pw", "a:b", "bob-pw", "refresh-tok", "reg-tok", &b64("hub-user:hub-pw")] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[tokio::test]
async fn first_file_with_an_entry_wins_and_missing_files_are_skipped() {
    let s = Setup::new();
    let docker = s.config("config.json", json!({"auths": {"a.example.com": {"auth": b64("docker:1")}}}));
    let podman = s.config(
        "auth.json",
        json!({"auths": {"a.example.com": {"auth": b64("podman:1")}, "b.example.com": {"auth": b64("podman:2")}}}),
    );
    let k = s.keychain(&[&s.path("missing.json"), &docker, &podman]);
    assert_eq!(k.resolve(&registry("a.example.com")).await.unwrap(), basic("docker", "1"));
    assert_eq!(k.resolve(&registry("b.example.com")).await.unwrap(), basic("podman", "2"));
    assert_eq!(k.resolve(&registry("c.example.com")).await.unwrap(), Credentials::Anonymous);
    assert_eq!(s.keychain(&[&s.path("missing.json")]).resolve(&registry("a.example.com")).await.unwrap(), {
        Credentials::Anonymous
    });
}

#[tokio::test]
async fn malformed_file_is_an_error_naming_it_not_its_content() {
    let s = Setup::new();
    let bad = s.path("broken.json");
    std::fs::write(&bad, r#"{"auths": {"r.example.com": {"auth": 42, "password": "hunter2-secret"}"#).unwrap();
    let e = s.keychain(&[&bad]).resolve(&registry("r.example.com")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("broken.json"), "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");

    let bad_b64 = s.config("b64.json", json!({"auths": {"r.example.com": {"auth": "%%hunter2-secret%%"}}}));
    let e = s.keychain(&[&bad_b64]).resolve(&registry("r.example.com")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("b64.json") && e.to_string().contains("r.example.com"), "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
}

#[tokio::test]
async fn cred_helper_answers_its_host_and_gets_the_server_url_on_stdin() {
    let s = Setup::new();
    s.answering_helper("test", "reg.example.com:5000", "helper-user", "helper-pw");
    s.answering_helper("hub", "https://index.docker.io/v1/", "hub-user", "hub-pw");
    let config = s.config(
        "config.json",
        json!({
            "credHelpers": {"reg.example.com:5000": "test", "other.example.com": "test", "docker.io": "hub"},
            "auths": {"other.example.com": {"auth": b64("file-user:file-pw")}},
        }),
    );
    let k = s.keychain(&[&config]);
    assert_eq!(k.resolve(&registry("reg.example.com:5000")).await.unwrap(), basic("helper-user", "helper-pw"));
    // The helper has nothing for this host: the file's own entry answers.
    assert_eq!(k.resolve(&registry("other.example.com")).await.unwrap(), basic("file-user", "file-pw"));
    // Docker Hub's helper is asked for docker's legacy server URL, whichever alias was written.
    assert_eq!(k.resolve(&registry("index.docker.io")).await.unwrap(), basic("hub-user", "hub-pw"));
    // No helper for this host, no entry: anonymous, and no helper ran.
    assert_eq!(k.resolve(&registry("none.example.com")).await.unwrap(), Credentials::Anonymous);
    assert_eq!(s.stdin_log("test"), ["reg.example.com:5000", "other.example.com"]);
    assert_eq!(s.stdin_log("hub"), ["https://index.docker.io/v1/"]);
}

#[tokio::test]
async fn helper_token_answer_is_an_identity_token() {
    let s = Setup::new();
    s.answering_helper("tok", "r.example.com", "<token>", "refresh-123");
    let config = s.config("config.json", json!({"credHelpers": {"r.example.com": "tok"}}));
    assert_eq!(
        s.keychain(&[&config]).resolve(&registry("r.example.com")).await.unwrap(),
        Credentials::IdentityToken { username: "<token>".into(), token: Secret::new("refresh-123") }
    );
}

#[tokio::test]
async fn creds_store_then_auths_then_next_file() {
    let s = Setup::new();
    s.answering_helper("store", "stored.example.com", "store-user", "store-pw");
    s.answering_helper("special", "special.example.com", "special-user", "special-pw");
    let docker = s.config(
        "config.json",
        json!({
            "credsStore": "store",
            "credHelpers": {"special.example.com": "special"},
            "auths": {
                "stored.example.com": {},
                "special.example.com": {},
                "placeholder.example.com": {},
                "file.example.com": {"auth": b64("file-user:file-pw")},
            },
        }),
    );
    let podman = s.config("auth.json", json!({"auths": {"podman.example.com": {"auth": b64("pod:pw")}}}));
    let k = s.keychain(&[&docker, &podman]);
    assert_eq!(k.resolve(&registry("stored.example.com")).await.unwrap(), basic("store-user", "store-pw"));
    // credHelpers wins over credsStore.
    assert_eq!(k.resolve(&registry("special.example.com")).await.unwrap(), basic("special-user", "special-pw"));
    // The store has nothing: the file's entry answers (a placeholder `{}` is anonymous).
    assert_eq!(k.resolve(&registry("file.example.com")).await.unwrap(), basic("file-user", "file-pw"));
    assert_eq!(k.resolve(&registry("placeholder.example.com")).await.unwrap(), Credentials::Anonymous);
    // Neither the store nor the file has anything: the next file answers.
    assert_eq!(k.resolve(&registry("podman.example.com")).await.unwrap(), basic("pod", "pw"));
    assert_eq!(
        s.stdin_log("store"),
        ["stored.example.com", "file.example.com", "placeholder.example.com", "podman.example.com"]
    );
    assert_eq!(s.stdin_log("special"), ["special.example.com"]);
}

#[tokio::test]
async fn helper_printing_garbage_is_an_error_naming_it_without_the_output() {
    let s = Setup::new();
    s.helper("garbage", "echo 'oops {\"Secret\": \"SuperSecret-42\"' ; echo 'password=SuperSecret-42'");
    let config = s.config("config.json", json!({"credHelpers": {"r.example.com": "garbage"}}));
    let e = s.keychain(&[&config]).resolve(&registry("r.example.com")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("docker-credential-garbage"), "{e}");
    assert!(!format!("{e} {e:?}").contains("SuperSecret"), "{e:?}");
}

#[tokio::test]
async fn failing_helper_shows_its_stderr_but_never_its_stdout() {
    let s = Setup::new();
    s.helper("fails", "echo 'user=x secret=SuperSecret-43'\necho 'keyring locked' >&2\nexit 3");
    let config = s.config("config.json", json!({"credsStore": "fails"}));
    let e = s.keychain(&[&config]).resolve(&registry("r.example.com")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    let text = e.to_string();
    assert!(text.contains("docker-credential-fails") && text.contains("keyring locked"), "{text}");
    assert!(!format!("{e} {e:?}").contains("SuperSecret"), "{e:?}");
}

#[tokio::test]
async fn hanging_helper_times_out_naming_it() {
    let s = Setup::new();
    s.helper("hangs", "exec sleep 600");
    let config = s.config("config.json", json!({"credHelpers": {"r.example.com": "hangs"}}));
    let k = s.keychain(&[&config]).helper_timeout(Duration::from_millis(500));
    let start = Instant::now();
    let e = k.resolve(&registry("r.example.com")).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("docker-credential-hangs"), "{e}");
    assert_eq!(s.stdin_log("hangs"), ["r.example.com"]);
}

#[tokio::test]
async fn missing_helper_is_an_error_naming_it() {
    let s = Setup::new();
    let config = s.config("config.json", json!({"credHelpers": {"r.example.com": "nosuch"}}));
    let e = s.keychain(&[&config]).resolve(&registry("r.example.com")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("docker-credential-nosuch") && e.to_string().contains("not found"), "{e}");
    // A host the helper is not configured for does not need it.
    assert_eq!(s.keychain(&[&config]).resolve(&registry("x.example.com")).await.unwrap(), Credentials::Anonymous);
}

#[tokio::test]
async fn helper_names_cannot_be_paths() {
    let s = Setup::new();
    // Were the name used as a path, this script would run.
    let sub = s.path("sub");
    std::fs::create_dir(&sub).unwrap();
    s.helper("x", "printf '%s' '{\"Username\":\"u\",\"Secret\":\"s\"}'");
    std::fs::rename(s.path("docker-credential-x"), sub.join("docker-credential-x")).unwrap();
    for name in ["x/../sub/x", "../sub/docker-credential-x", "/bin/sh", ".."] {
        let config = s.config("config.json", json!({"credHelpers": {"r.example.com": name}}));
        let e = s.keychain(&[&config]).resolve(&registry("r.example.com")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        assert!(e.to_string().contains("config.json") && e.to_string().contains("invalid credential helper"), "{e}");
    }
    assert!(s.stdin_log("x").is_empty(), "no helper ran");
}

// ---- Against the real docker-registry with token auth ----

fn token_registry() -> (registry_tests::TokenServer, DockerRegistry) {
    let tokens = TokenIssuer::new("test-registry", "test-issuer").user("alice", "tok-pw", Access::All).start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    (tokens, registry)
}

async fn push_and_pull(client: RemoteClient, seed: &str) {
    let repo = root(client, "kc").with_segment(seed);
    let image = small_image(seed, 2);
    repo.push_image("v1", &image).await.unwrap();
    let pulled = repo.get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(pulled.digest(), image.digest());
    assert_eq!(repo.list_tags(ListOptions::default()).await.unwrap(), ["v1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_registry_with_keychain_auths_entry() {
    let (tokens, registry) = token_registry();
    let s = Setup::new();
    let config = s.config(
        "config.json",
        json!({"auths": {format!("http://{}", registry.host()): {"auth": b64("alice:tok-pw")}}}),
    );
    let client =
        RemoteClient::builder(registry.host()).insecure(true).keychain(s.keychain(&[&config])).build().unwrap();
    push_and_pull(client, "auths").await;
    assert!(tokens.request_count() > 0, "tokens were fetched with the keychain's credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_registry_with_keychain_registry_token_and_identity_token() {
    let tokens = TokenIssuer::new("test-registry", "test-issuer")
        .user("alice", "tok-pw", Access::All)
        .identity_token("alice", "kc-identity-token")
        .start();
    let registry = DockerRegistry::start(AuthMode::token(&tokens));
    let s = Setup::new();

    // `registrytoken`: sent as is once the registry asks, never exchanged.
    let minted = tokens.issuer().token_for(Some("alice"), &["repository:kc/registrytoken:pull,push"]);
    let config = s.config("config.json", json!({"auths": {registry.host(): {"registrytoken": minted}}}));
    let client =
        RemoteClient::builder(registry.host()).insecure(true).keychain(s.keychain(&[&config])).build().unwrap();
    push_and_pull(client, "registrytoken").await;
    assert_eq!(tokens.request_count(), 0, "a registry token is used as is");

    // `identitytoken`: exchanged with the OAuth2 refresh-token grant.
    let config = s.config("idt.json", json!({"auths": {registry.host(): {"identitytoken": "kc-identity-token"}}}));
    let client =
        RemoteClient::builder(registry.host()).insecure(true).keychain(s.keychain(&[&config])).build().unwrap();
    push_and_pull(client, "identitytoken").await;
    let requests = tokens.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.method == "POST" && r.body_text().contains("grant_type=refresh_token")));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_registry_with_keychain_cred_helper() {
    let (_tokens, registry) = token_registry();
    let s = Setup::new();
    s.answering_helper("test", &registry.host(), "alice", "tok-pw");
    let config = s.config(
        "config.json",
        json!({
            "credHelpers": {registry.host(): "test"},
            "auths": {registry.host(): {"auth": b64("alice:wrong-pw")}},
        }),
    );
    let client =
        RemoteClient::builder(registry.host()).insecure(true).keychain(s.keychain(&[&config])).build().unwrap();
    push_and_pull(client, "helper").await;
    let asked = s.stdin_log("test");
    assert!(!asked.is_empty() && asked.iter().all(|url| *url == registry.host()), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_credentials_win_over_the_keychain() {
    let (_tokens, registry) = token_registry();
    let s = Setup::new();
    s.helper("never", "echo 'must not run' >&2; exit 1");
    let config = s.config(
        "config.json",
        json!({
            "credHelpers": {registry.host(): "never"},
            "auths": {registry.host(): {"auth": b64("alice:wrong-pw")}},
        }),
    );
    let wrong_only =
        s.keychain(&[&s.config("wrong.json", json!({"auths": {registry.host(): {"auth": b64("alice:wrong-pw")}}}))]);

    let client = RemoteClient::builder(registry.host())
        .insecure(true)
        .keychain(s.keychain(&[&config]))
        .basic_auth("alice", "tok-pw")
        .build()
        .unwrap();
    push_and_pull(client, "explicit").await;
    assert!(s.stdin_log("never").is_empty(), "the keychain was not consulted");

    // The keychain's wrong password alone is refused, without showing it.
    let client = RemoteClient::builder(registry.host()).insecure(true).keychain(wrong_only).build().unwrap();
    let e = root(client, "kc").with_segment("explicit").get_digest("v1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keychain_is_not_consulted_when_the_registry_asks_for_no_auth() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let s = Setup::new();
    s.helper("hangs", "exec sleep 600");
    let config = s.config("config.json", json!({"credsStore": "hangs"}));
    let keychain = s.keychain(&[&config]).helper_timeout(Duration::from_secs(60));
    let client = RemoteClient::builder(registry.host()).insecure(true).keychain(keychain).build().unwrap();
    let start = Instant::now();
    push_and_pull(client, "lazy").await;
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    assert!(s.stdin_log("hangs").is_empty(), "the helper never ran");
}
