//! `regcli logout HOST`: credentials removed from docker's `config.json`.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Remove HOST's credentials from docker's config.json (and its credential helper when configured).
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The registry host (host[:port]).
    pub(crate) host: String,
}

/// Run `regcli logout`.
pub(crate) async fn run(args: LogoutArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli logout: not built yet"))
}
