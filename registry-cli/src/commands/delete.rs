//! `regcli delete REF`: delete a tag, or a manifest by digest.

use clap::Args;

use crate::commands::digest::named;
use crate::failure::Failure;
use crate::output::reads::DeletedJson;
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli delete` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"Delete a tag (the manifest stays, reachable by digest and its other tags), or a manifest by digest (every tag
on it goes too; blobs stay until the registry's garbage collection). REF must name the tag or digest: a
repository alone is refused rather than taken as `latest`. A registry with deletes disabled: exit 1 with its
words, nothing changed.

Examples:
  regcli delete 127.0.0.1:5000/org/app:old
  regcli delete 127.0.0.1:5000/org/app@sha256:<hex>
  regcli delete oci:/srv/layout:v1"##;

/// Delete a tag, or a manifest by digest.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct DeleteArgs {
    /// host/repo:tag, host/repo@sha256:<hex> or oci:DIR:TAG / oci:DIR@sha256:<hex>.
    pub(crate) reference: String,
}

/// Run `regcli delete`.
pub(crate) async fn run(args: DeleteArgs, settings: Settings) -> Result<(), Failure> {
    let text = &args.reference;
    let source = refs::source(text, &settings).await?;
    // Only what the user wrote is deleted: a tag or digest defaulted (`latest`, an archive's only image) is not.
    let reference = match source.reference {
        Some(r) if r.starts_with('@') && text.ends_with(&r) => r,
        Some(r) if !r.starts_with('@') && text.ends_with(&format!(":{r}")) => r,
        _ => {
            return Err(Failure::usage(format!(
                "reference {text:?}: name what to delete: a tag (REPO:TAG) or a digest (REPO@sha256:<hex>)"
            )))
        }
    };
    let digest = source.client.get_digest(&reference).await.map_err(|e| named(text, &e))?;
    let deleted = match reference.strip_prefix('@') {
        Some(by_digest) => {
            source.client.delete_by_digest(by_digest).await.map_err(|e| named(text, &e))?;
            "manifest"
        }
        None => {
            source.client.delete_tag(&reference).await.map_err(|e| named(text, &e))?;
            "tag"
        }
    };
    if settings.json() {
        print_json(&DeletedJson { reference: text, deleted, digest: &digest })
    } else if deleted == "tag" {
        print(&format!("deleted tag {text} (the manifest {digest} stays)\n"))?;
        Ok(())
    } else {
        print(&format!("deleted manifest {text} (and every tag on it)\n"))?;
        Ok(())
    }
}
