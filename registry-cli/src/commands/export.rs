//! `regcli export REF [FILE|-]`: the flattened filesystem as a tar.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Write the flattened filesystem of REF (every layer applied, whiteouts honoured) as one tar, to FILE or stdout.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// Where the tar goes (`-` or none: stdout).
    pub(crate) output: Option<String>,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli export`.
pub(crate) async fn run(args: ExportArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli export: not built yet"))
}
