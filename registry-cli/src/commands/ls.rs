//! `regcli ls REPO`: the tags of a repository, one per line, in lexical order.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// List the tags of a repository, one per line in lexical order (`regcli ls 127.0.0.1:5000/org/app`).
///
/// REPO: host/repo, oci:DIR, oci-archive:FILE or docker-archive:FILE. `-n N` asks for one page of N tags
/// (server-side, `n`), `--last X` starts after tag X; `--filter` and `--semver` narrow what is printed.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// The repository.
    pub(crate) repository: String,
    /// Only tags matching this regular expression (matches anywhere unless anchored with ^ and $).
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Only tags that are versions in this semver range (e.g. ">=1.2, <2"; a leading `v` is allowed).
    #[arg(long)]
    pub(crate) semver: Option<String>,
    /// One page of at most N tags (the registry's `n`).
    #[arg(short = 'n', long = "page-size", value_name = "N")]
    pub(crate) n: Option<usize>,
    /// Start after this tag (the registry's `last`).
    #[arg(long)]
    pub(crate) last: Option<String>,
}

/// Run `regcli ls`.
pub(crate) async fn run(args: LsArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli ls: not built yet"))
}
