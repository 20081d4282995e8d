//! The global flags every command reads, as plain values (no clap types past `main.rs`).

use std::io::IsTerminal;

/// How results are printed on stdout (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Lines for people.
    Text,
    /// One JSON document, nothing else on stdout.
    Json,
}

/// When progress bars are drawn on stderr (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProgressMode {
    /// Bars when stderr is a terminal, one line per finished image otherwise.
    Auto,
    /// Always bars.
    Always,
    /// Never bars: one line per finished image.
    Never,
}

/// Credentials given on the command line (`--username` with `--password-stdin`), instead of the docker / podman
/// config files. They belong to one registry: the first host a command opens a client for claims them, and a
/// second, different host is refused ([`Login::claim`]), so `cp a.example/x b.example/y -u ..` never sends a.example's
/// password to b.example. `Debug` shows the username only.
#[derive(Clone)]
pub(crate) struct Login {
    /// The username.
    pub(crate) username: String,
    /// The password or token, as read from stdin (one trailing newline removed).
    pub(crate) password: String,
    /// The registry host the credentials went to, once one did (shared by clones).
    pub(crate) host: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Login {
    /// Credentials read from the command line, for no host yet.
    pub(crate) fn new(username: String, password: String) -> Login {
        Login { username, password, host: Default::default() }
    }

    /// Give the credentials to `host` (`host[:port]`): the first host claims them; the same host again is fine;
    /// another host is a usage error (exit 2) naming both, before any request is sent to it.
    pub(crate) fn claim(&self, host: &str) -> Result<(), crate::failure::Failure> {
        let mut claimed = self.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match claimed.as_deref() {
            None => {
                *claimed = Some(host.to_string());
                Ok(())
            }
            Some(first) if first == host => Ok(()),
            Some(first) => Err(crate::failure::Failure::usage(format!(
                "-u/--password-stdin give one registry's credentials, and this command names two: {first} and {host}; \
                 store each registry's with `regcli login HOST` instead"
            ))),
        }
    }
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// The global flags of a run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Every registry named is plain HTTP.
    pub(crate) insecure: bool,
    /// Skip TLS certificate verification everywhere.
    pub(crate) tls_skip_verify: bool,
    /// Text or JSON on stdout.
    pub(crate) format: Format,
    /// When to draw bars.
    pub(crate) progress: ProgressMode,
    /// `--username` + `--password-stdin`, when given.
    pub(crate) login: Option<Login>,
}

impl Settings {
    /// Whether progress bars are drawn (on stderr).
    pub(crate) fn bars(&self) -> bool {
        match self.progress {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        }
    }

    /// Whether the output is JSON.
    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_credentials_go_to_one_host_only() {
        let login = Login::new("ci".into(), "secret".into());
        let clone = login.clone();
        assert!(login.claim("a.example").is_ok());
        assert!(clone.claim("a.example").is_ok(), "clones share the claim; the same host again is fine");
        let refused = clone.claim("b.example").err().map(|f| (f.code, f.message)).unwrap_or_default();
        assert_eq!(refused.0, crate::failure::EXIT_USAGE);
        assert!(refused.1.contains("a.example and b.example"), "{}", refused.1);
        assert!(!refused.1.contains("secret") && !format!("{login:?}").contains("secret"));
    }
}
