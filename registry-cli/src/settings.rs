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

/// The global flags of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Every registry named is plain HTTP.
    pub(crate) insecure: bool,
    /// Skip TLS certificate verification everywhere.
    pub(crate) tls_skip_verify: bool,
    /// Text or JSON on stdout.
    pub(crate) format: Format,
    /// When to draw bars.
    pub(crate) progress: ProgressMode,
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
