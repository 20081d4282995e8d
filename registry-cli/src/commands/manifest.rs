//! `regcli manifest REF`: the manifest's exact bytes.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Print the manifest REF names, byte for byte as stored (its digest is the digest of these bytes).
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// This platform's image manifest from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli manifest`.
pub(crate) async fn run(args: ManifestArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli manifest: not built yet"))
}
