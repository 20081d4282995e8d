//! `regcli digest REF`: the manifest digest of a reference.

use clap::Args;
use registry_client::{Client, Image, ImageOptions, Platform};

use crate::failure::Failure;
use crate::output::reads::DigestJson;
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli digest` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Print the digest of the manifest REF names (`sha256:<hex>`; an index's own digest, not a platform's, unless
--platform is given). `sha256sum` of `regcli manifest REF` gives the same hex.

Examples:
  regcli digest 127.0.0.1:5000/org/app:v1
  regcli digest 127.0.0.1:5000/org/app:v1 --platform linux/arm64
  regcli digest oci:/srv/layout:v1 --format json       # {"reference","digest"}"##;

/// Print the digest of a manifest.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct DigestArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// The digest of this platform's image manifest in an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// `--platform` parsed (exit 2 naming it when malformed).
pub(crate) fn platform_arg(given: Option<&str>) -> Result<Option<Platform>, Failure> {
    given
        .map(|p| Platform::parse(p).map_err(|e| Failure::usage(format!("--platform {p:?}: {}", e.message()))))
        .transpose()
}

/// The image `reference` of `client` names for `platform` (from an index: that entry; the host's when `None`), as
/// `Client::get_image` picks it; errors name `text`, the reference as given.
pub(crate) async fn image_of(
    client: &dyn Client,
    reference: &str,
    platform: Option<Platform>,
    text: &str,
) -> Result<Image, Failure> {
    let opts = match platform {
        Some(p) => ImageOptions::default().platform(p),
        None => ImageOptions::default(),
    };
    client.get_image(reference, opts).await.map_err(|e| named(text, &e))
}

/// A library error met reading `text`: exit 1, the message naming `text` (once).
pub(crate) fn named(text: &str, error: &registry_client::Error) -> Failure {
    let message = error.to_string();
    if message.contains(text) {
        Failure::failed(message)
    } else {
        Failure::failed(format!("{text}: {message}"))
    }
}

/// Run `regcli digest`.
pub(crate) async fn run(args: DigestArgs, settings: Settings) -> Result<(), Failure> {
    let platform = platform_arg(args.platform.as_deref())?;
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let shown = platform.as_ref().map(ToString::to_string);
    let digest = match platform {
        None => source.client.get_digest(&reference).await.map_err(|e| named(&args.reference, &e))?,
        Some(p) => image_of(&*source.client, &reference, Some(p), &args.reference).await?.digest().clone(),
    };
    if settings.json() {
        print_json(&DigestJson { reference: &args.reference, platform: shown, digest: &digest })
    } else {
        print(&format!("{digest}\n"))?;
        Ok(())
    }
}
