//! `regcli referrers REF`: the referrers of a manifest.

use clap::Args;

use crate::commands::digest::named;
use crate::failure::Failure;
use crate::output::reads::{referrers_text, ReferrersJson};
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli referrers` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"List the referrers of the manifest REF names (signatures, SBOMs, attestations: manifests whose `subject` is
it), through the referrers API, else the `sha256-<hex>` tag schema. One line each: digest, artifact type, size,
annotations. --format json: {"reference","subject","referrers":[OCI descriptors]}.

Examples:
  regcli referrers 127.0.0.1:5000/org/app:v1
  regcli referrers 127.0.0.1:5000/org/app@sha256:<hex> --artifact-type application/spdx+json
  regcli referrers 127.0.0.1:5000/org/app:v1 --format json | jq -r '.referrers[].digest'"##;

/// List the referrers (signatures, SBOMs, attestations) of a manifest.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ReferrersArgs {
    /// The subject image or index.
    pub(crate) reference: String,
    /// Only referrers of this artifact type (a media type).
    #[arg(long)]
    pub(crate) artifact_type: Option<String>,
}

/// Run `regcli referrers`.
pub(crate) async fn run(args: ReferrersArgs, settings: Settings) -> Result<(), Failure> {
    if args.artifact_type.as_deref() == Some("") {
        return Err(Failure::usage("--artifact-type is empty: give a media type, or leave the flag out"));
    }
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let subject = source.client.get_digest(&reference).await.map_err(|e| named(&args.reference, &e))?;
    let referrers = source
        .client
        .list_referrers(subject.as_str(), args.artifact_type.as_deref())
        .await
        .map_err(|e| named(&args.reference, &e))?;
    if settings.json() {
        print_json(&ReferrersJson { reference: &args.reference, subject: &subject, referrers: &referrers })
    } else {
        print(&referrers_text(&referrers))?;
        Ok(())
    }
}
