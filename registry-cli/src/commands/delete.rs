//! `regcli delete REF`: delete a tag, or a manifest by digest.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Delete a tag (the manifest stays, reachable by digest), or a manifest by digest (every tag on it goes too).
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// host/repo:tag, host/repo@sha256:<hex> or oci:DIR:TAG / oci:DIR@sha256:<hex>.
    pub(crate) reference: String,
}

/// Run `regcli delete`.
pub(crate) async fn run(args: DeleteArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli delete: not built yet"))
}
