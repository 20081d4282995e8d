//! Credentials from where users keep them: docker's `config.json` (with credential helpers) and podman's
//! `auth.json`.
//!
//! A [`Keychain`] reads a list of files in order ([`Keychain::from_env`] finds the ones docker and podman use).
//! In each file it looks for the registry the way `docker` does:
//!
//! 1. `credHelpers[host]`: run `docker-credential-<name> get`;
//! 2. else `credsStore`: run `docker-credential-<name> get`;
//! 3. the `auths` entry for the host (also when the helper of 1 or 2 answers "credentials not found": with
//!    `credsStore` the entry is often an empty placeholder, which means anonymous).
//!
//! The first file with an answer wins (a helper with nothing for the host and no `auths` entry is no answer); when
//! no file has one the result is [`Credentials::Anonymous`]. Helpers are asked for `https://index.docker.io/v1/`
//! for Docker Hub (as docker does), otherwise for the registry's `host[:port]`; a helper is
//! `docker-credential-<name>` in [`Keychain::helper_dirs`] or `PATH`, and `<name>` must be a plain name (letters,
//! digits, `-`, `_`, `.`; no path), so a config file cannot run an arbitrary program. An `auths`
//! entry is found by its host: `https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io` and
//! `docker.io` all mean Docker Hub, and a scheme or a path (`https://reg.example.com/v2/`, `http://localhost:5000`,
//! podman's `quay.io/namespace`) is ignored, so entries are per registry host, never per repository.
//!
//! Entries map to [`Credentials`]: `registrytoken` to [`Credentials::Bearer`], `identitytoken` to
//! [`Credentials::IdentityToken`], `auth` (base64 `user:password`) or `username`/`password` to
//! [`Credentials::Basic`], an empty entry to [`Credentials::Anonymous`].
//!
//! # Errors
//! Missing files are skipped. Otherwise failures are errors, and none of them ever carries a secret:
//! - a file that cannot be read: [`ErrorKind::Io`], naming the file;
//! - a malformed file (bad JSON, bad base64 in `auth`, an invalid helper name): [`ErrorKind::InvalidInput`],
//!   naming the file and where in it, never its content;
//! - a credential helper that is missing, fails, times out ([`Keychain::helper_timeout`]) or answers something
//!   that is not credentials: [`ErrorKind::Unauthorized`] (the credentials could not be had), naming the helper.
//!   Its standard output is never quoted (it may hold the secret); its standard error is, trimmed to 200
//!   characters.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use super::credentials::{Credentials, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Registry;

/// The key docker uses for Docker Hub, and the server URL its credential helpers are asked for.
pub const DOCKER_HUB_SERVER_URL: &str = "https://index.docker.io/v1/";

/// How long a credential helper may run unless [`Keychain::helper_timeout`] says otherwise.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The hosts that mean Docker Hub in a config file key.
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The largest config file read.
const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// The most a credential helper may print on standard output.
const MAX_HELPER_STDOUT: usize = 1024 * 1024;

/// The most of a credential helper's standard error kept (only the start of it is ever shown).
const MAX_HELPER_STDERR: usize = 64 * 1024;

/// How much of a credential helper's standard error an error message shows.
const STDERR_IN_MESSAGE: usize = 200;

/// Resolves credentials for a registry host the way docker and podman do; see the [module docs](self).
///
/// ```no_run
/// # async fn f() -> registry_core::Result<()> {
/// use registry_core::{auth::Keychain, Registry};
/// let keychain = Keychain::from_env();
/// let credentials = keychain.resolve(&Registry::parse("registry.example.com").unwrap()).await?;
/// # Ok(()) }
/// ```
///
/// It holds only paths and settings, so its `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keychain {
    files: Vec<PathBuf>,
    helper_dirs: Option<Vec<PathBuf>>,
    helper_timeout: Duration,
}

impl Keychain {
    /// The files docker and podman read, found from the environment: see [`Keychain::env_files`].
    pub fn from_env() -> Keychain {
        Keychain::from_files(Keychain::env_files(|name| std::env::var_os(name)))
    }

    /// The files docker and podman read, in the order they are searched, given a way to look up an environment
    /// variable (unset and empty variables count as unset):
    ///
    /// 1. `$DOCKER_CONFIG/config.json`, or `$HOME/.docker/config.json` when `DOCKER_CONFIG` is unset;
    /// 2. `$REGISTRY_AUTH_FILE` (podman);
    /// 3. `$XDG_RUNTIME_DIR/containers/auth.json` (podman's default);
    /// 4. `$XDG_CONFIG_HOME/containers/auth.json`, or `$HOME/.config/containers/auth.json` (podman's fallback).
    ///
    /// A path listed twice is kept once, at its first place.
    ///
    /// ```
    /// use registry_core::auth::Keychain;
    /// use std::path::PathBuf;
    /// let files = Keychain::env_files(|name| (name == "HOME").then(|| "/home/u".into()));
    /// assert_eq!(files[0], PathBuf::from("/home/u/.docker/config.json"));
    /// ```
    pub fn env_files(env: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let mut files = Vec::new();
        match (var("DOCKER_CONFIG"), &home) {
            (Some(dir), _) => files.push(dir.join("config.json")),
            (None, Some(home)) => files.push(home.join(".docker").join("config.json")),
            (None, None) => {}
        }
        files.extend(var("REGISTRY_AUTH_FILE"));
        files.extend(var("XDG_RUNTIME_DIR").map(|dir| dir.join("containers").join("auth.json")));
        match (var("XDG_CONFIG_HOME"), &home) {
            (Some(dir), _) => files.push(dir.join("containers").join("auth.json")),
            (None, Some(home)) => files.push(home.join(".config").join("containers").join("auth.json")),
            (None, None) => {}
        }
        let mut unique: Vec<PathBuf> = Vec::with_capacity(files.len());
        for file in files {
            if !unique.contains(&file) {
                unique.push(file);
            }
        }
        unique
    }

    /// A keychain reading exactly `files`, in order.
    pub fn from_files(files: impl IntoIterator<Item = PathBuf>) -> Keychain {
        Keychain { files: files.into_iter().collect(), helper_dirs: None, helper_timeout: DEFAULT_HELPER_TIMEOUT }
    }

    /// Look for `docker-credential-<name>` only in `dirs` instead of `PATH`.
    #[must_use]
    pub fn helper_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Keychain {
        self.helper_dirs = Some(dirs.into_iter().collect());
        self
    }

    /// How long a credential helper may run (default 30 s); it is killed after that.
    #[must_use]
    pub fn helper_timeout(mut self, timeout: Duration) -> Keychain {
        self.helper_timeout = timeout;
        self
    }

    /// The files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The credentials for `registry`: [`Credentials::Anonymous`] when no file has any. See the
    /// [module docs](self) for the search order and the errors.
    pub async fn resolve(&self, registry: &Registry) -> Result<Credentials> {
        for path in &self.files {
            let Some(config) = read_config(path)? else { continue };
            if let Some(credentials) = self.lookup(path, &config, registry).await? {
                return Ok(credentials);
            }
        }
        Ok(Credentials::Anonymous)
    }

    /// The answer of one file, `None` when it has nothing for `registry`.
    async fn lookup(&self, path: &Path, config: &ConfigFile, registry: &Registry) -> Result<Option<Credentials>> {
        let helper = find(&config.cred_helpers, registry)
            .map(|(_, name)| name)
            .filter(|name| !name.is_empty())
            .or(config.creds_store.as_ref().filter(|name| !name.is_empty()));
        if let Some(name) = helper {
            if !is_valid_helper_name(name) {
                return Err(Error::invalid_input(format!(
                    "{}: invalid credential helper name {name:?} (allowed: letters, digits, '-', '_', '.')",
                    path.display()
                )));
            }
            if let Some(credentials) = self.run_helper(name, server_url(registry)).await? {
                return Ok(Some(credentials));
            }
        }
        match find(&config.auths, registry) {
            Some((key, entry)) => entry.credentials(path, key).map(Some),
            None => Ok(None),
        }
    }

    /// Ask `docker-credential-<name>` for the credentials of `server_url`: `None` when it has none.
    async fn run_helper(&self, name: &str, server_url: &str) -> Result<Option<Credentials>> {
        let program = format!("docker-credential-{name}");
        let fail = |what: String| Error::new(ErrorKind::Unauthorized, format!("credential helper {program} {what}"));
        let Some(executable) = self.find_helper(&program) else {
            let place = match &self.helper_dirs {
                Some(dirs) => format!("in {}", join_paths(dirs)),
                None => "in PATH".to_string(),
            };
            return Err(fail(format!("not found {place}")));
        };
        let run = async {
            let mut child = spawn_helper(&executable)
                .await
                .map_err(|e| fail(format!("could not be started ({}): {e}", executable.display())))?;
            let stdin = child.stdin.take();
            let write = async move {
                if let Some(mut stdin) = stdin {
                    // A helper that does not read its input is its own business: only its answer matters.
                    let _ = stdin.write_all(server_url.as_bytes()).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let (_, out, err) = tokio::join!(
                write,
                read_capped(child.stdout.take(), MAX_HELPER_STDOUT),
                read_capped(child.stderr.take(), MAX_HELPER_STDERR)
            );
            let status = child.wait().await.map_err(|e| fail(format!("could not be waited for: {e}")))?;
            Ok::<_, Error>((status, out, err))
        };
        let (status, (stdout, stdout_overflow), (stderr, _)) =
            match tokio::time::timeout(self.helper_timeout, run).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(fail(format!(
                        "did not answer for {server_url} within {:?} and was killed",
                        self.helper_timeout
                    )))
                }
            };
        if stdout_overflow {
            return Err(fail(format!("printed more than {MAX_HELPER_STDOUT} bytes for {server_url}")));
        }
        parse_helper_answer(status, &stdout, &stderr, server_url).map_err(fail)
    }

    /// The path of `program`: the first executable file of that name in the helper dirs, or in `PATH`.
    fn find_helper(&self, program: &str) -> Option<PathBuf> {
        let dirs: Vec<PathBuf> = match &self.helper_dirs {
            Some(dirs) => dirs.clone(),
            // Empty PATH entries mean the current directory: never run a helper from there.
            None => std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()).collect())
                .unwrap_or_default(),
        };
        dirs.into_iter().map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
    }
}

/// Start `executable get` with piped standard streams, killed when dropped.
async fn spawn_helper(executable: &Path) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        let spawned = tokio::process::Command::new(executable)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            // A helper just installed may still be open for writing in a process forked meanwhile (ETXTBSY):
            // that passes as soon as that process execs.
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// The server URL a credential helper is asked for: docker's legacy one for Docker Hub, else `host[:port]`.
fn server_url(registry: &Registry) -> &str {
    if registry.is_docker_hub() {
        DOCKER_HUB_SERVER_URL
    } else {
        registry.as_str()
    }
}

/// Whether `path` is a file that can be executed.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if shown.is_empty() {
        "no directory".to_string()
    } else {
        shown.join(", ")
    }
}

/// A helper name `config.json` may give: `desktop`, `ecr-login`, `osxkeychain`... never a path.
fn is_valid_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.contains("..")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read all of `reader`, keeping at most `cap` bytes: the bytes kept and whether there were more.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut overflow = false;
    let Some(mut reader) = reader else { return (kept, overflow) };
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap - kept.len();
                overflow |= n > room;
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, overflow)
}

/// What a credential helper answers to `get`.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", alias = "username", default)]
    username: String,
    #[serde(rename = "Secret", alias = "secret", default)]
    secret: String,
}

/// The credentials in a helper's answer, `None` for "credentials not found", or what went wrong (never quoting
/// standard output, which may hold the secret).
fn parse_helper_answer(
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    server_url: &str,
) -> std::result::Result<Option<Credentials>, String> {
    if !status.success() {
        let not_found =
            |bytes: &[u8]| String::from_utf8_lossy(bytes).to_ascii_lowercase().contains("credentials not found");
        if not_found(stdout) {
            return Ok(None);
        }
        let mut message = format!("failed for {server_url} ({status})");
        let stderr = excerpt(stderr);
        if !stderr.is_empty() {
            let _ = write!(message, ": {stderr}");
        }
        return Err(message);
    }
    let answer: HelperAnswer = serde_json::from_slice(stdout).map_err(|e| {
        format!("answered for {server_url} with something that is not credentials JSON ({})", describe(&e))
    })?;
    Ok(match (answer.username.as_str(), answer.secret) {
        (_, secret) if secret.is_empty() => None,
        ("<token>", secret) => {
            Some(Credentials::IdentityToken { username: answer.username, token: Secret::new(secret) })
        }
        (_, secret) => Some(Credentials::Basic { username: answer.username, password: Secret::new(secret) }),
    })
}

/// The start of a helper's standard error for a message: one line of printable text, at most 200 characters.
fn excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text: String = text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut shown: String = text.chars().take(STDERR_IN_MESSAGE).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// Where and what kind a JSON error is, without serde's message (which can quote the input).
fn describe(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "unexpected end",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// The parts of a docker `config.json` / podman `auth.json` the keychain uses.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default, deserialize_with = "null_as_default")]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default, deserialize_with = "null_as_default")]
    cred_helpers: BTreeMap<String, String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One `auths` entry. `Debug` is written by hand: it never shows a secret.
#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, alias = "identityToken")]
    identitytoken: Option<String>,
    #[serde(default, alias = "registryToken")]
    registrytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry").field("username", &self.username).finish_non_exhaustive()
    }
}

impl AuthEntry {
    /// The credentials of the entry with key `key` in file `path`.
    fn credentials(&self, path: &Path, key: &str) -> Result<Credentials> {
        let present = |v: &Option<String>| v.as_ref().filter(|v| !v.is_empty()).cloned();
        let (mut username, mut password) = (present(&self.username), present(&self.password));
        if let Some(auth) = present(&self.auth) {
            let invalid = |what: &str| Error::invalid_input(format!("{}: auths entry {key:?}: {what}", path.display()));
            let engine = GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
            );
            let decoded = engine.decode(auth.trim()).map_err(|_| invalid("`auth` is not valid base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid("`auth` is not UTF-8 once decoded"))?;
            let Some((user, pass)) = decoded.split_once(':') else {
                return Err(invalid("`auth` is not base64 of \"username:password\""));
            };
            (username, password) = (Some(user.to_string()), Some(pass.to_string()));
        }
        if let Some(token) = present(&self.registrytoken) {
            return Ok(Credentials::Bearer(Secret::new(token)));
        }
        if let Some(token) = present(&self.identitytoken) {
            return Ok(Credentials::IdentityToken {
                username: username.unwrap_or_default(),
                token: Secret::new(token),
            });
        }
        Ok(match (username, password) {
            (None, None) => Credentials::Anonymous,
            (username, password) => Credentials::Basic {
                username: username.unwrap_or_default(),
                password: Secret::new(password.unwrap_or_default()),
            },
        })
    }
}

/// Read and parse `path`: `None` when it does not exist.
fn read_config(path: &Path) -> Result<Option<ConfigFile>> {
    let unreadable =
        |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot read credentials file {}: {e}", path.display()));
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(None)
        }
        Err(e) => return Err(unreadable(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Error::invalid_input(format!(
            "credentials file {} is larger than {MAX_FILE_SIZE} bytes",
            path.display()
        )));
    }
    parse_config(&bytes).map(Some).map_err(|e| {
        Error::invalid_input(format!("credentials file {} is not valid: {}", path.display(), describe(&e)))
    })
}

fn parse_config(bytes: &[u8]) -> std::result::Result<ConfigFile, serde_json::Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // docker treats an empty file as an empty configuration.
        return Ok(ConfigFile::default());
    }
    serde_json::from_slice(bytes)
}

/// The host (`host[:port]`, lowercase, `docker.io` for Docker Hub) a config key names: without a scheme or path.
fn key_host(key: &str) -> String {
    let key = key.trim().to_ascii_lowercase();
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(&key);
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    if DOCKER_HUB_HOSTS.contains(&host) {
        "docker.io".to_string()
    } else {
        host.to_string()
    }
}

/// The entry of `map` for `registry`: the key written as docker writes it first (`https://index.docker.io/v1/`
/// for Docker Hub, `host[:port]` otherwise), then any key naming the same host, in key order.
fn find<'a, T>(map: &'a BTreeMap<String, T>, registry: &Registry) -> Option<(&'a str, &'a T)> {
    if let Some((key, value)) = map.get_key_value(server_url(registry)) {
        return Some((key.as_str(), value));
    }
    let host = registry.as_str().to_ascii_lowercase();
    map.iter().find(|(key, _)| key_host(key) == host).map(|(key, value)| (key.as_str(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let c =
            config(r#"{"auths":{"http://localhost:5000":{},"https://reg.example.com/v2/":{},"Reg.Example.com":{}}}"#);
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
        for bad in ["", "../../bin/sh", "/bin/sh", "a/b", "..", ".hidden", "a..b", "a b", "x\\y", "é", &"a".repeat(65)]
        {
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
}
