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

/// Credentials given on the command line (`--username` with `--password-stdin`): used for every registry the
/// command names, instead of the docker / podman config files. `Debug` shows the username only.
#[derive(Clone)]
pub(crate) struct Login {
    /// The username.
    pub(crate) username: String,
    /// The password or token, as read from stdin (one trailing newline removed).
    pub(crate) password: String,
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
