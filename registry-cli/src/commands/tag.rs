//! `regcli tag REF NEWTAG`: another tag on the same manifest.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Put the manifest REF names under another tag of the same repository; no blob moves.
#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The new tag.
    pub(crate) tag: String,
}

/// Run `regcli tag`.
pub(crate) async fn run(args: TagArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli tag: not built yet"))
}
