//! `regcli config REF`: the image configuration JSON.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Print the image configuration (the config blob's exact bytes) of REF; from an index, the --platform given,
/// else the host's.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli config`.
pub(crate) async fn run(args: ConfigArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli config: not built yet"))
}
