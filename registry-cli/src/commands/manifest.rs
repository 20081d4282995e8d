//! `regcli manifest REF`: the manifest's exact bytes.

use clap::Args;

use crate::commands::digest::{image_of, named, platform_arg};
use crate::failure::Failure;
use crate::output::reads::print_bytes;
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli manifest` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Print the manifest REF names, byte for byte as stored: no newline is added, so its sha256 is the digest
(`regcli manifest REF | sha256sum`). --format json prints the same bytes (a manifest is JSON already).

Examples:
  regcli manifest 127.0.0.1:5000/org/app:v1
  regcli manifest 127.0.0.1:5000/org/app:v1 --platform linux/arm64 | jq .layers
  regcli manifest oci:/srv/layout@sha256:<hex>"##;

/// Print a manifest, byte for byte as stored.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ManifestArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// This platform's image manifest from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli manifest`.
pub(crate) async fn run(args: ManifestArgs, settings: Settings) -> Result<(), Failure> {
    let platform = platform_arg(args.platform.as_deref())?;
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let bytes = match platform {
        None => source.client.get_manifest(&reference).await.map_err(|e| named(&args.reference, &e))?.into_manifest(),
        Some(p) => image_of(&*source.client, &reference, Some(p), &args.reference).await?.raw_manifest().clone(),
    };
    print_bytes(bytes.bytes())?;
    Ok(())
}
