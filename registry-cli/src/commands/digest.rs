//! `regcli digest REF`: the manifest digest of a reference.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Print the digest of the manifest REF names (`sha256:<hex>`; an index's own digest, not a platform's).
#[derive(Debug, Args)]
pub(crate) struct DigestArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The digest of this platform's image manifest in an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli digest`.
pub(crate) async fn run(args: DigestArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli digest: not built yet"))
}
