//! `regcli login HOST`: credentials into docker's `config.json`.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Check credentials against HOST and store them in docker's config.json ($DOCKER_CONFIG/config.json, else
/// ~/.docker/config.json), through its credsStore / credHelpers when configured.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The registry host (host[:port]).
    pub(crate) host: String,
}

/// Run `regcli login`.
pub(crate) async fn run(args: LoginArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli login: not built yet"))
}
