//! `regcli inspect REF`: what an image or index is, for people (or JSON), from `registry_client::inspect`.

use clap::Args;

use crate::commands::digest::{named, platform_arg};
use crate::failure::Failure;
use crate::output::reads::inspect_text;
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli inspect` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Describe REF: reference, digest, media type and size; an index lists each entry (platform, digest, size); an
image (or an index's --platform) shows os/architecture/variant, created, config digest, labels, env,
entrypoint/cmd, user, workdir, and its layers (digest, media type, size in bytes and for people) with the total.

--format json prints one object with snake_case keys: "reference", "digest", "media_type", "size" (bytes),
"artifact_type"?, "annotations"?, "index_digest"? (the index an image was picked from); an index adds
"manifests": [{"platform"?, "digest", "media_type", "size", "artifact_type"?, "annotations"?}]; an image adds
"os", "architecture", "variant"?, "created"?, "config_digest", "config_size", "labels", "env", "entrypoint",
"cmd", "user"?, "working_dir"?, "layers": [{"digest", "media_type", "size"}], "layers_size" (bytes); an
artifact (a signature, an SBOM: its config is no image config) adds "config_media_type", "config_digest",
"config_size", "layers", "layers_size".

Examples:
  regcli inspect 127.0.0.1:5000/org/app:v1
  regcli inspect 127.0.0.1:5000/org/app:v1 --platform linux/arm64 --format json | jq .layers_size
  regcli inspect oci-archive:app.tar"##;

/// Describe an image or index: platforms, layers, labels, created.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct InspectArgs {
    /// The image or index.
    pub(crate) reference: String,
    /// Describe this platform's image of an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli inspect`.
pub(crate) async fn run(args: InspectArgs, settings: Settings) -> Result<(), Failure> {
    let platform = platform_arg(args.platform.as_deref())?;
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let seen = registry_client::inspect(&*source.client, &reference, platform.as_ref())
        .await
        .map_err(|e| named(&args.reference, &e))?;
    if settings.json() {
        print_json(&seen)
    } else {
        print(&inspect_text(&seen))?;
        Ok(())
    }
}
