//! `regcli inspect REF`: what an image or index is, for people (or JSON).

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Describe REF: media type, digest, platforms of an index, and for an image its layers with sizes, labels,
/// created, os/architecture (`--format json`: snake_case keys).
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// Describe this platform's image of an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli inspect`.
pub(crate) async fn run(args: InspectArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli inspect: not built yet"))
}
