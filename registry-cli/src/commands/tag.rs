//! `regcli tag REF NEWTAG`: another tag on the same manifest.

use clap::Args;
use registry_client::Reference;

use crate::commands::digest::named;
use crate::failure::Failure;
use crate::output::reads::TaggedJson;
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli tag` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Put the manifest REF names under another tag of the same repository: its exact bytes are put again, so the
digest stays and no blob moves. An existing NEWTAG is moved. Prints `tagged REF as NEWTAG (sha256:..)`.

Examples:
  regcli tag 127.0.0.1:5000/org/app:v1.2.3 stable
  regcli tag 127.0.0.1:5000/org/app@sha256:<hex> v1
  regcli tag oci:/srv/layout:v1 latest"##;

/// Put another tag on a manifest (no blob moves).
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct TagArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The new tag (a tag alone, e.g. `stable`: up to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`).
    pub(crate) tag: String,
}

/// Run `regcli tag`.
pub(crate) async fn run(args: TagArgs, settings: Settings) -> Result<(), Failure> {
    Reference::check_tag(&args.tag).map_err(|e| Failure::usage(format!("new tag {:?}: {e}", args.tag)))?;
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    source.client.tag_image(&reference, &args.tag).await.map_err(|e| named(&args.reference, &e))?;
    let digest = source.client.get_digest(&args.tag).await.map_err(|e| named(&args.reference, &e))?;
    if settings.json() {
        print_json(&TaggedJson { reference: &args.reference, tag: &args.tag, digest: &digest })
    } else {
        print(&format!("tagged {} as {} ({digest})\n", args.reference, args.tag))?;
        Ok(())
    }
}
