//! `regcli mutate REF -t NEWREF`: a changed image pushed under a new reference.

use clap::Args;

use crate::failure::Failure;
use crate::settings::Settings;

/// Change an image's config, annotations or layers and push the result as NEWREF (the source is unchanged).
#[derive(Debug, Args)]
pub(crate) struct MutateArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// Where the changed image goes (any REF form that can be written).
    #[arg(short = 't', long = "tag", value_name = "NEWREF")]
    pub(crate) target: String,
    /// Set a label (key=value), repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
    /// Set an environment variable (KEY=VALUE), repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// Replace the entrypoint (repeat for each argument).
    #[arg(long, value_name = "ARG")]
    pub(crate) entrypoint: Vec<String>,
    /// Replace the default command (repeat for each argument).
    #[arg(long, value_name = "ARG")]
    pub(crate) cmd: Vec<String>,
    /// Set the user (name, uid or uid:gid).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Set the working directory.
    #[arg(long)]
    pub(crate) workdir: Option<String>,
    /// Set a manifest annotation (key=value), repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub(crate) annotations: Vec<String>,
    /// Append a layer: a tar file (plain or gzip) or a directory, repeatable.
    #[arg(long, value_name = "TAR_OR_DIR")]
    pub(crate) append: Vec<String>,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// Run `regcli mutate`.
pub(crate) async fn run(args: MutateArgs, settings: Settings) -> Result<(), Failure> {
    let _ = (args, settings);
    Err(Failure::failed("regcli mutate: not built yet"))
}
