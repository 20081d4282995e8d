//! `regcli validate REF`: every manifest, digest, size and diff_id checked (`validate_with`), problems listed.

use std::time::Instant;

use clap::Args;
use registry_client::{validate_with, ValidateOptions};

use crate::failure::Failure;
use crate::output::images::{validate_text, ValidateJson};
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The text after the options in `--help`: what the command does, and examples.
const HELP: &str = r#"Read every manifest and blob of REF (an index: every child) and check each blob's digest and size,
each layer's diff_id (decompressed on the way), each config against its manifest and each index
entry against its child, as `crane validate` does. Blobs are streamed, never held in memory. Every
problem is listed, one per line (`KIND SUBJECT: MESSAGE (in MANIFEST)`), then a verdict line; with
--format json, the report (`valid`, `problems[{kind,subject,manifest,message}]`,
`manifests_checked`, `blobs_checked`, `bytes_read`).

Exit status: 0 when valid, 1 when any problem was found (or REF cannot be read at all), 2 for bad
usage.

Examples:
  regcli validate 127.0.0.1:5000/org/app:v1
  regcli validate --no-diff-ids 127.0.0.1:5000/org/app@sha256:...   # digests and sizes only, faster
  regcli validate oci:./layout:v1 --format json"#;

/// Check every digest, size and diff_id of an image or index.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ValidateArgs {
    /// The image or index (an index: every child).
    pub(crate) reference: String,
    /// Skip decompressing layers to check diff_ids (digests and sizes are still checked).
    #[arg(long)]
    pub(crate) no_diff_ids: bool,
}

/// Run `regcli validate`.
pub(crate) async fn run(args: ValidateArgs, settings: Settings) -> Result<(), Failure> {
    let started = Instant::now();
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let options = ValidateOptions::default().diff_ids(!args.no_diff_ids);
    let report = validate_with(&*source.client, &reference, options)
        .await
        .map_err(|e| Failure { message: format!("validate {}: {e}", args.reference), ..Failure::from_input(e) })?;
    if settings.json() {
        print_json(&ValidateJson::new(&args.reference, &report, started.elapsed().as_secs_f64()))?;
    } else {
        print(&validate_text(&args.reference, &report))?;
    }
    if report.is_valid() {
        Ok(())
    } else {
        let n = report.problems().len();
        Err(Failure::failed(format!("validate {}: {n} problem{} found", args.reference, if n == 1 { "" } else { "s" })))
    }
}
