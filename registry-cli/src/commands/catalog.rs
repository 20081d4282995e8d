//! `regcli catalog HOST[/PREFIX]`: the repositories of a registry, one per line.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// List the repositories of a registry (`regcli catalog 127.0.0.1:5000`), one per line; with /PREFIX only those
/// below it (`regcli catalog 127.0.0.1:5000/team`).
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    /// The registry, with an optional repository prefix.
    pub(crate) registry: String,
    /// One page of at most N repositories (the registry's `n`).
    #[arg(short = 'n', long = "page-size", value_name = "N")]
    pub(crate) n: Option<usize>,
    /// Start after this repository (the registry's `last`).
    #[arg(long)]
    pub(crate) last: Option<String>,
}

/// Run `regcli catalog`.
pub(crate) async fn run(args: CatalogArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli catalog: not built yet"))
}
