//! `regcli extract REF DIR`: the flattened filesystem written safely to a directory.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Write the flattened filesystem of REF into DIR (created if missing), refusing entries that would escape it.
#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// The directory to write into.
    pub(crate) dir: String,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli extract`.
pub(crate) async fn run(args: ExtractArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli extract: not built yet"))
}
