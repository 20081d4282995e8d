//! Credential helpers: finding `docker-credential-<name>`, running it with a time limit, and reading its answer
//! without ever quoting its standard output.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use super::files::describe;
use crate::auth::credentials::{Credentials, Secret};
use crate::error::{Error, ErrorKind, Result};

/// How long a credential helper may run unless [`Keychain::helper_timeout`](super::Keychain::helper_timeout) or
/// [`CredentialStore::helper_timeout`](super::CredentialStore::helper_timeout) says otherwise.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a credential helper may print on standard output.
const MAX_HELPER_STDOUT: usize = 1024 * 1024;
/// The most of a credential helper's standard error kept (only the start of it is ever shown).
const MAX_HELPER_STDERR: usize = 64 * 1024;
/// How much of a credential helper's standard error an error message shows.
const STDERR_IN_MESSAGE: usize = 200;

/// Ask `docker-credential-<name>` for the credentials of `server_url`: `None` when it has none.
pub(super) async fn run_helper(
    name: &str,
    server_url: &str,
    helper_dirs: Option<&[PathBuf]>,
    timeout: Duration,
) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let fail = |what: String| Error::new(ErrorKind::Unauthorized, format!("credential helper {program} {what}"));
    let answer = call_helper(name, "get", server_url.as_bytes(), server_url, helper_dirs, timeout).await?;
    parse_helper_answer(answer.status, &answer.stdout, &answer.stderr, server_url).map_err(fail)
}

/// What a credential helper answered: its exit status and what it printed (capped).
pub(super) struct HelperOutput {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

/// Run `docker-credential-<name> <action>` with `input` on its standard input, within `timeout`; `server_url`
/// names the call in errors ([`ErrorKind::Unauthorized`]: the helper is missing, cannot be started, times out or
/// prints more than 1 MiB). Its exit status is the caller's to judge.
pub(super) async fn call_helper(
    name: &str,
    action: &str,
    input: &[u8],
    server_url: &str,
    helper_dirs: Option<&[PathBuf]>,
    timeout: Duration,
) -> Result<HelperOutput> {
    let program = format!("docker-credential-{name}");
    let fail = |what: String| Error::new(ErrorKind::Unauthorized, format!("credential helper {program} {what}"));
    let Some(executable) = find_helper(&program, helper_dirs) else {
        let place = match helper_dirs {
            Some(dirs) => format!("in {}", join_paths(dirs)),
            None => "in PATH".to_string(),
        };
        return Err(fail(format!("not found {place}")));
    };
    let run = async {
        let mut child = spawn_helper(&executable, action)
            .await
            .map_err(|e| fail(format!("could not be started ({}): {e}", executable.display())))?;
        let stdin = child.stdin.take();
        let write = async move {
            if let Some(mut stdin) = stdin {
                // A helper that does not read its input is its own business: only its answer matters.
                let _ = stdin.write_all(input).await;
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
    let (status, (stdout, stdout_overflow), (stderr, _)) = match tokio::time::timeout(timeout, run).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(fail(format!("{action} did not answer for {server_url} within {timeout:?} and was killed")))
        }
    };
    if stdout_overflow {
        return Err(fail(format!("printed more than {MAX_HELPER_STDOUT} bytes for {server_url}")));
    }
    Ok(HelperOutput { status, stdout, stderr })
}

/// Whether a helper's output says it holds no credentials for the server (docker's helpers print
/// `credentials not found in native keychain` and exit 1).
pub(super) fn says_not_found(output: &[u8]) -> bool {
    String::from_utf8_lossy(output).to_ascii_lowercase().contains("credentials not found")
}

/// The error of a helper's `action` that exited with `status`: the status and the start of its standard error,
/// never its standard output (helpers print their errors there, and it may hold the secret).
pub(super) fn helper_failed(name: &str, action: &str, server_url: &str, output: &HelperOutput) -> Error {
    let mut message =
        format!("credential helper docker-credential-{name} {action} failed for {server_url} ({})", output.status);
    let stderr = excerpt(&output.stderr);
    if !stderr.is_empty() {
        let _ = write!(message, ": {stderr}");
    }
    Error::new(ErrorKind::Unauthorized, message)
}

/// The path of `program`: the first executable file of that name in the helper dirs, or in `PATH`.
fn find_helper(program: &str, helper_dirs: Option<&[PathBuf]>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match helper_dirs {
        Some(dirs) => dirs.to_vec(),
        // Empty PATH entries mean the current directory: never run a helper from there.
        None => std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()).collect())
            .unwrap_or_default(),
    };
    dirs.into_iter().map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

/// Start `executable <action>` with piped standard streams, killed when dropped.
async fn spawn_helper(executable: &Path, action: &str) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        let spawned = tokio::process::Command::new(executable)
            .arg(action)
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
pub(super) fn is_valid_helper_name(name: &str) -> bool {
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
pub(super) fn parse_helper_answer(
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    server_url: &str,
) -> std::result::Result<Option<Credentials>, String> {
    if !status.success() {
        if says_not_found(stdout) {
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
