//! Unit tests of the keychain: environment files, key matching, entries, helper answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::ffi::OsString;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::ExitStatus;

use base64::Engine as _;

use super::files::{describe, parse_config, AuthEntry, ConfigFile};
use super::helpers::{is_valid_helper_name, parse_helper_answer};
use super::matching::{find, key_host, server_url};
use super::*;
use crate::auth::credentials::Secret;
use crate::error::{Error, ErrorKind};

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
}

fn registry(s: &str) -> Registry {
    Registry::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn config(json: &str) -> ConfigFile {
    parse_config(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn entry_of(json: &str, host: &str) -> Result<Credentials> {
    let config = config(json);
    let (key, entry) = find(&config.auths, &registry(host)).ok_or_else(|| Error::not_found(host))?;
    entry.credentials(Path::new("/c.json"), key)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn env_files_docker_then_podman() {
    let all = [
        ("HOME", "/home/u"),
        ("DOCKER_CONFIG", "/etc/docker-u"),
        ("REGISTRY_AUTH_FILE", "/tmp/auth.json"),
        ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ("XDG_CONFIG_HOME", "/home/u/.cfg"),
    ];
    let files = Keychain::env_files(env(&all));
    let expected: Vec<PathBuf> = [
        "/etc/docker-u/config.json",
        "/tmp/auth.json",
        "/run/user/1000/containers/auth.json",
        "/home/u/.cfg/containers/auth.json",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(files, expected);
}

#[test]
fn env_files_home_only_empty_and_duplicates() {
    let files = Keychain::env_files(env(&[("HOME", "/home/u"), ("DOCKER_CONFIG", ""), ("XDG_RUNTIME_DIR", "")]));
    assert_eq!(
        files,
        vec![PathBuf::from("/home/u/.docker/config.json"), PathBuf::from("/home/u/.config/containers/auth.json")]
    );
    assert!(Keychain::env_files(env(&[])).is_empty());
    let same = [("REGISTRY_AUTH_FILE", "/run/u/containers/auth.json"), ("XDG_RUNTIME_DIR", "/run/u")];
    assert_eq!(Keychain::env_files(env(&same)), vec![PathBuf::from("/run/u/containers/auth.json")]);
    assert_eq!(Keychain::from_files([PathBuf::from("/a")]).files(), &[PathBuf::from("/a")]);
}

#[test]
fn keys_match_by_host() {
    assert_eq!(key_host("https://index.docker.io/v1/"), "docker.io");
    assert_eq!(key_host("registry-1.docker.io"), "docker.io");
    assert_eq!(key_host("INDEX.docker.io"), "docker.io");
    assert_eq!(key_host("https://reg.example.com/v2/"), "reg.example.com");
    assert_eq!(key_host("http://localhost:5000"), "localhost:5000");
    assert_eq!(key_host("quay.io/org/repo"), "quay.io");
    assert_eq!(key_host("[::1]:5000"), "[::1]:5000");

    let c = config(r#"{"auths":{"http://localhost:5000":{},"https://reg.example.com/v2/":{},"Reg.Example.com":{}}}"#);
    assert_eq!(find(&c.auths, &registry("localhost:5000")).map(|(k, _)| k), Some("http://localhost:5000"));
    assert_eq!(find(&c.auths, &registry("reg.example.com")).map(|(k, _)| k), Some("Reg.Example.com"));
    assert!(find(&c.auths, &registry("localhost")).is_none(), "the port is part of the host");
    assert!(find(&c.auths, &registry("localhost:5001")).is_none());
    // The exact key wins over another key naming the same host.
    let c = config(r#"{"auths":{"https://reg.example.com/v2/":{},"reg.example.com":{}}}"#);
    assert_eq!(find(&c.auths, &registry("reg.example.com")).map(|(k, _)| k), Some("reg.example.com"));
}

#[test]
fn docker_hub_aliases() {
    for key in ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"] {
        let c = config(&format!(r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#, b64("hub:pw")));
        for host in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(find(&c.auths, &registry(host)).map(|(k, _)| k), Some(key), "{key} for {host}");
        }
    }
    let c = config(r#"{"auths":{"docker.io":{},"https://index.docker.io/v1/":{}}}"#);
    assert_eq!(find(&c.auths, &Registry::docker_hub()).map(|(k, _)| k), Some(DOCKER_HUB_SERVER_URL));
    assert_eq!(server_url(&Registry::docker_hub()), DOCKER_HUB_SERVER_URL);
    assert_eq!(server_url(&registry("localhost:5000")), "localhost:5000");
}

#[test]
fn entries_map_to_credentials() {
    let basic = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("alice:pa:ss"));
    assert_eq!(entry_of(&basic, "r.io").ok(), Some(Credentials::basic("alice", "pa:ss")));
    let unpadded = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("bob:x").trim_end_matches('='));
    assert_eq!(entry_of(&unpadded, "r.io").ok(), Some(Credentials::basic("bob", "x")));
    let fields = r#"{"auths":{"r.io":{"username":"carol","password":"pw","email":"c@x"}}}"#;
    assert_eq!(entry_of(fields, "r.io").ok(), Some(Credentials::basic("carol", "pw")));
    let identity = r#"{"auths":{"r.io":{"username":"<token>","identitytoken":"refresh-1"}}}"#;
    assert_eq!(
        entry_of(identity, "r.io").ok(),
        Some(Credentials::IdentityToken { username: "<token>".into(), token: Secret::new("refresh-1") })
    );
    let registry_token = r#"{"auths":{"r.io":{"registrytoken":"reg-tok"}}}"#;
    assert_eq!(entry_of(registry_token, "r.io").ok(), Some(Credentials::Bearer(Secret::new("reg-tok"))));
    assert_eq!(entry_of(r#"{"auths":{"r.io":{}}}"#, "r.io").ok(), Some(Credentials::Anonymous));
    assert_eq!(entry_of(r#"{"auths":{"r.io":{"auth":""}}}"#, "r.io").ok(), Some(Credentials::Anonymous));
}

#[test]
fn bad_auth_names_file_and_key_not_content() {
    for auth in ["!!not-base64-hunter2!!".to_string(), b64("no-colon-hunter2")] {
        let json = format!(r#"{{"auths":{{"r.io":{{"auth":"{auth}"}}}}}}"#);
        let e = entry_of(&json, "r.io").err().unwrap_or_else(|| panic!("{auth} accepted"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let text = format!("{e} {e:?}");
        assert!(text.contains("/c.json") && text.contains("r.io"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains(&auth), "{text}");
    }
}

#[test]
fn config_shapes() {
    let c = config(r#"{"auths":null,"credHelpers":null,"credsStore":"desktop","psFormat":"x","experimental":1}"#);
    assert!(c.auths.is_empty() && c.cred_helpers.is_empty());
    assert_eq!(c.creds_store.as_deref(), Some("desktop"));
    let c = config(r#"{"credHelpers":{"gcr.io":"gcloud","https://index.docker.io/v1/":"desktop"}}"#);
    assert_eq!(find(&c.cred_helpers, &registry("gcr.io")).map(|(_, h)| h.as_str()), Some("gcloud"));
    assert_eq!(find(&c.cred_helpers, &Registry::docker_hub()).map(|(_, h)| h.as_str()), Some("desktop"));
    assert!(config("  \n").auths.is_empty(), "an empty file is an empty config");
}

#[test]
fn json_errors_never_quote_the_input() {
    let Err(e) = parse_config(br#"{"auths":{"r.io":"hunter2"}}"#) else { panic!("accepted") };
    let text = describe(&e);
    assert!(text.starts_with("unexpected value at line 1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(e.to_string().contains("hunter2"), "serde's own message would have leaked it: {e}");
    let Err(e) = parse_config(b"{\"auths\": {") else { panic!("accepted") };
    assert!(describe(&e).starts_with("unexpected end"), "{}", describe(&e));
}

#[test]
fn helper_names() {
    for ok in ["desktop", "osxkeychain", "ecr-login", "acr_env", "pass.v2"] {
        assert!(is_valid_helper_name(ok), "{ok}");
    }
    for bad in ["", "../../bin/sh", "/bin/sh", "a/b", "..", ".hidden", "a..b", "a b", "x\\y", "é", &"a".repeat(65)] {
        assert!(!is_valid_helper_name(bad), "{bad:?}");
    }
}

#[cfg(unix)]
#[test]
fn helper_answers() {
    use std::os::unix::process::ExitStatusExt as _;
    let (ok, failed) = (ExitStatus::from_raw(0), ExitStatus::from_raw(1 << 8));
    let answer = |status, out: &str, err: &str| parse_helper_answer(status, out.as_bytes(), err.as_bytes(), "r.io");
    let json = r#"{"ServerURL":"r.io","Username":"u","Secret":"s3"}"#;
    assert_eq!(answer(ok, json, ""), Ok(Some(Credentials::basic("u", "s3"))));
    let token = r#"{"ServerURL":"r.io","Username":"<token>","Secret":"refresh"}"#;
    assert_eq!(
        answer(ok, token, ""),
        Ok(Some(Credentials::IdentityToken { username: "<token>".into(), token: Secret::new("refresh") }))
    );
    assert_eq!(answer(ok, r#"{"Username":"","Secret":""}"#, ""), Ok(None));
    assert_eq!(answer(failed, "credentials not found in native keychain\n", ""), Ok(None));

    let garbage = answer(ok, "password=hunter2", "").err().unwrap_or_default();
    assert!(garbage.contains("not credentials JSON") && !garbage.contains("hunter2"), "{garbage}");
    let failure = answer(failed, "hunter2", &format!("  boom\n{}", "x".repeat(500))).err().unwrap_or_default();
    assert!(failure.contains("boom") && !failure.contains("hunter2"), "{failure}");
    assert!(failure.len() < 300 && failure.ends_with('…'), "{failure}");
}

#[test]
fn debug_shows_no_secret() {
    let entry =
        AuthEntry { password: Some("hunter2".into()), identitytoken: Some("hunter3".into()), ..Default::default() };
    let text = format!("{entry:?} {:?}", Credentials::basic("u", "hunter4"));
    assert!(!text.contains("hunter"), "{text}");
}

#[test]
fn resolve_is_send() {
    fn send<T: Send>(_: &T) {}
    let keychain = Keychain::from_files([]);
    let r = registry("r.io");
    send(&keychain.resolve(&r));
    send(&keychain);
}

#[tokio::test]
async fn resolve_skips_missing_files_and_names_bad_ones() {
    let dir = std::env::temp_dir().join(format!("keychain-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (missing, bad, good) = (dir.join("missing.json"), dir.join("bad.json"), dir.join("good.json"));
    std::fs::write(&bad, r#"{"auths": "hunter2"}"#).unwrap_or_else(|e| panic!("{e}"));
    let json = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("u:p"));
    std::fs::write(&good, json).unwrap_or_else(|e| panic!("{e}"));

    let keychain = Keychain::from_files([missing.clone(), good.clone(), bad.clone()]);
    assert_eq!(keychain.resolve(&registry("r.io")).await.ok(), Some(Credentials::basic("u", "p")));
    let e = keychain.resolve(&registry("other.io")).await.err().unwrap_or_else(|| panic!("bad file accepted"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("bad.json") && !e.to_string().contains("hunter2"), "{e}");
    let none = Keychain::from_files([missing]).resolve(&registry("r.io")).await.ok();
    assert_eq!(none, Some(Credentials::Anonymous));
    let e = Keychain::from_files([dir.clone()]).resolve(&registry("r.io")).await.err();
    assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::Io), "a directory is unreadable");
    let _ = std::fs::remove_dir_all(&dir);
}
