//! `regcli validate REF`: every digest, size and diff_id checked.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Read every manifest and blob of REF and check digests, sizes and diff_ids; list the problems found.
/// Exit status 1 when there is any.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The image or index (an index: every child).
    pub(crate) reference: String,
    /// Skip decompressing layers to check diff_ids (digests and sizes are still checked).
    #[arg(long)]
    pub(crate) no_diff_ids: bool,
}

/// Run `regcli validate`.
pub(crate) async fn run(args: ValidateArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli validate: not built yet"))
}
