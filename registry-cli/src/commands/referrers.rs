//! `regcli referrers REF`: the referrers of a manifest.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// List the referrers of the manifest REF names (signatures, SBOMs, attestations): through the referrers API,
/// else the `sha256-<hex>` tag schema.
#[derive(Debug, Args)]
pub(crate) struct ReferrersArgs {
    /// The subject image or index.
    pub(crate) reference: String,
    /// Only referrers of this artifact type.
    #[arg(long)]
    pub(crate) artifact_type: Option<String>,
}

/// Run `regcli referrers`.
pub(crate) async fn run(args: ReferrersArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli referrers: not built yet"))
}
