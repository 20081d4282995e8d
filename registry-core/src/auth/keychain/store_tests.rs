//! Unit tests of the credential store: the file written as docker writes it (other keys kept, atomic, modes,
//! symlinks, malformed files left alone) and credential helpers (fake scripts written by the tests) for store
//! and erase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use super::*;
use crate::auth::credentials::Secret;
use crate::error::ErrorKind;

/// A temporary directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("store-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A helper `docker-credential-<name>` logging `<action> <stdin>` lines to `log-<name>`, then running `body`.
    fn helper(&self, name: &str, body: &str) {
        let log = self.path(&format!("log-{name}"));
        let script =
            format!("#!/bin/sh\ninput=$(cat)\nprintf '%s %s\\n' \"$1\" \"$input\" >> '{}'\n{body}\n", log.display());
        let path = self.path(&format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("log-{name}"))).unwrap_or_default()
    }

    fn store(&self, file: &Path) -> CredentialStore {
        CredentialStore::new(file).helper_dirs([self.0.clone()])
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn registry(s: &str) -> Registry {
    Registry::parse(s).unwrap()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn a_new_file_is_0600_in_a_new_0700_directory_and_the_keychain_reads_it() {
    let dir = Dir::new("new");
    let file = dir.path("docker/config.json");
    let stored = dir.store(&file).store(&registry("r.io:5000"), "alice", &Secret::new("pa:ss")).await.unwrap();
    assert_eq!(stored, StoredIn::File(file.clone()));
    assert_eq!(read(&file), json!({"auths": {"r.io:5000": {"auth": b64("alice:pa:ss")}}}));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir.path("docker")), 0o700);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\n\t\"auths\""), "tab-indented as docker writes it: {text}");
    let found = Keychain::from_files([file.clone()]).resolve(&registry("r.io:5000")).await.unwrap();
    assert_eq!(found, Credentials::basic("alice", "pa:ss"));
    let names: Vec<String> = std::fs::read_dir(dir.path("docker"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, vec!["config.json".to_string()], "no temporary file left");

    // Docker Hub's key is docker's legacy URL.
    dir.store(&file).store(&Registry::docker_hub(), "hub", &Secret::new("x")).await.unwrap();
    assert_eq!(read(&file)["auths"][DOCKER_HUB_SERVER_URL], json!({"auth": b64("hub:x")}));
    assert!(read(&file)["auths"].get("r.io:5000").is_some());
}

#[tokio::test]
async fn other_keys_and_the_mode_of_an_existing_file_are_kept_through_a_symlink() {
    let dir = Dir::new("keep");
    let target = dir.path("real.json");
    let before = json!({
        "auths": {"other.io": {"auth": b64("o:p")}, "r.io": {"auth": b64("old:old"), "email": "x@y"}},
        "psFormat": "table {{.ID}}",
        "HttpHeaders": {"X-Meta": "1"},
        "credHelpers": {"gcr.io": "gcloud"},
        "auths-like": [1, 2, 3]
    });
    std::fs::write(&target, serde_json::to_vec(&before).unwrap()).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path("config.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();

    let stored = dir.store(&link).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap();
    assert_eq!(stored, StoredIn::File(target.clone()), "the file written is the link's target");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    let mut expected = before.clone();
    expected["auths"]["r.io"] = json!({"auth": b64("u:p")});
    assert_eq!(read(&target), expected);
    assert_eq!(mode(&target), 0o640, "an existing file keeps its mode");
}

#[tokio::test]
async fn a_malformed_file_is_named_with_where_and_left_untouched() {
    let dir = Dir::new("bad");
    let file = dir.path("config.json");
    for bad in
        ["{\"auths\": {\"r.io\": {\"auth\": \"hunter2\"}", "[1, 2]", "{\"auths\": \"hunter2\"}", "{\"credsStore\": 7}"]
    {
        std::fs::write(&file, bad).unwrap();
        let e = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
        let text = e.to_string();
        assert!(text.contains(&file.display().to_string()) && text.contains("left unchanged"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), bad, "untouched");
        let e = dir.store(&file).erase(&registry("r.io")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
    }
    std::fs::write(&file, "{\"auths\": {\n").unwrap();
    let e = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = dir.store(&file).store(&registry("r.io"), "", &Secret::new("p")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // A directory where the file should be: an I/O error naming it.
    let e = dir.store(&dir.0).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

#[tokio::test]
async fn creds_store_gets_the_secret_and_the_file_a_placeholder_then_erase() {
    let dir = Dir::new("helper");
    dir.helper("fake", "case \"$1\" in store|erase) exit 0 ;; *) exit 1 ;; esac");
    let file = dir.path("config.json");
    std::fs::write(&file, r#"{"credsStore": "fake", "auths": {"r.io": {"auth": "b2xkOm9sZA=="}}}"#).unwrap();
    let stored = dir.store(&file).store(&registry("r.io"), "alice", &Secret::new("s3cret")).await.unwrap();
    assert_eq!(stored, StoredIn::Helper("fake".into()));
    assert_eq!(read(&file), json!({"credsStore": "fake", "auths": {"r.io": {}}}), "the plaintext entry is gone");
    let log = dir.log("fake");
    let (action, input) = log.trim().split_once(' ').unwrap();
    assert_eq!(action, "store");
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(input, json!({"ServerURL": "r.io", "Username": "alice", "Secret": "s3cret"}));

    let erased = dir.store(&file).erase(&registry("r.io")).await.unwrap();
    assert!(erased.was_logged_in());
    assert_eq!(erased.helper.as_deref(), Some("fake"));
    assert!(erased.helper_had_credentials);
    assert_eq!(erased.keys, vec!["r.io".to_string()]);
    assert!(dir.log("fake").ends_with("erase r.io\n"), "{}", dir.log("fake"));
    assert_eq!(read(&file), json!({"credsStore": "fake", "auths": {}}));
}

#[tokio::test]
async fn cred_helpers_win_over_creds_store() {
    let dir = Dir::new("helpers");
    dir.helper("one", "exit 0");
    dir.helper("two", "exit 0");
    let file = dir.path("config.json");
    std::fs::write(&file, r#"{"credsStore": "two", "credHelpers": {"r.io": "one"}}"#).unwrap();
    let stored = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap();
    assert_eq!(stored, StoredIn::Helper("one".into()));
    assert!(dir.log("one").starts_with("store "));
    assert_eq!(dir.log("two"), "");
    dir.store(&file).store(&registry("q.io"), "u", &Secret::new("p")).await.unwrap();
    assert!(dir.log("two").starts_with("store "), "another host goes to credsStore");
}

#[tokio::test]
async fn a_failing_helper_is_unauthorized_without_its_stdout_or_the_secret_and_the_file_stays() {
    let dir = Dir::new("failing");
    dir.helper("bad", "echo \"leaked $input\"; echo 'keychain locked' >&2; exit 3");
    let file = dir.path("config.json");
    let before = r#"{"credsStore": "bad", "auths": {"r.io": {}}}"#;
    std::fs::write(&file, before).unwrap();
    let e = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("hunter2")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    let text = format!("{e} {e:?}");
    assert!(text.contains("keychain locked") && text.contains("docker-credential-bad"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("leaked"), "{text}");
    let e = dir.store(&file).erase(&registry("r.io")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "untouched");

    std::fs::write(&file, r#"{"credsStore": "missing"}"#).unwrap();
    let e = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("hunter2")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(e.to_string().contains("not found"), "{e}");
    std::fs::write(&file, r#"{"credsStore": "../../bin/sh"}"#).unwrap();
    let e = dir.store(&file).store(&registry("r.io"), "u", &Secret::new("p")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn erase_removes_every_key_of_the_host_and_says_when_nothing_was_stored() {
    let dir = Dir::new("erase");
    let file = dir.path("config.json");
    let missing = dir.store(&file).erase(&registry("r.io")).await.unwrap();
    assert!(!missing.was_logged_in());
    assert!(!file.exists(), "no file is made to erase nothing");

    std::fs::write(
        &file,
        r#"{"auths": {"r.io": {}, "http://r.io": {}, "https://R.io/v2/": {}, "r.io:5000": {}, "other.io": {}}}"#,
    )
    .unwrap();
    let erased = dir.store(&file).erase(&registry("r.io")).await.unwrap();
    assert_eq!(erased.keys.len(), 3, "{erased:?}");
    assert_eq!(read(&file), json!({"auths": {"r.io:5000": {}, "other.io": {}}}));
    let again = dir.store(&file).erase(&registry("r.io")).await.unwrap();
    assert!(!again.was_logged_in());

    // A helper with nothing for the host: "credentials not found" is no error, and nothing was stored.
    dir.helper("empty", "echo 'credentials not found in native keychain'; exit 1");
    std::fs::write(&file, r#"{"credsStore": "empty"}"#).unwrap();
    let erased = dir.store(&file).erase(&registry("r.io")).await.unwrap();
    assert!(!erased.was_logged_in() && erased.helper.as_deref() == Some("empty"), "{erased:?}");
}

#[test]
fn the_file_comes_from_docker_config_else_home() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
    };
    let store = CredentialStore::from_env_with(env(&[("DOCKER_CONFIG", "/etc/d"), ("HOME", "/h")])).unwrap();
    assert_eq!(store.file(), Path::new("/etc/d/config.json"));
    let store = CredentialStore::from_env_with(env(&[("DOCKER_CONFIG", ""), ("HOME", "/h")])).unwrap();
    assert_eq!(store.file(), Path::new("/h/.docker/config.json"));
    let e = CredentialStore::from_env_with(env(&[])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
