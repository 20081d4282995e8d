//! `regcli config REF`: the image configuration JSON.

use clap::Args;
use registry_client::ImageOptions;

use crate::commands::digest::{named, platform_arg};
use crate::failure::Failure;
use crate::output::reads::print_bytes;
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli config` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Print the image configuration of REF: the config blob's exact bytes (no newline added), never parsed, so
an artifact's config (`{}` or another type) prints too. From an index, the --platform given, else the host's
platform; when the index lacks it, the error lists the platforms it has. --format json prints the same bytes.

Examples:
  regcli config 127.0.0.1:5000/org/app:v1 | jq .config.Labels
  regcli config 127.0.0.1:5000/org/app:v1 --platform linux/arm64/v8
  regcli config docker-archive:app.tar"##;

/// Print an image's config JSON, byte for byte as stored.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ConfigArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli config`.
pub(crate) async fn run(args: ConfigArgs, settings: Settings) -> Result<(), Failure> {
    let platform = platform_arg(args.platform.as_deref())?;
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let opts = match platform {
        Some(p) => ImageOptions::default().platform(p),
        None => ImageOptions::default(),
    };
    // The blob raw, never parsed: an artifact's config (`{}`, a Helm chart's) prints as stored.
    let config = source.client.get_config_bytes(&reference, opts).await.map_err(|e| named(&args.reference, &e))?;
    print_bytes(&config)?;
    Ok(())
}
