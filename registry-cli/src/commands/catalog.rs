//! `regcli catalog HOST[/PREFIX]`: the repositories of a registry, one per line.

use clap::Args;
use registry_client::{list_repositories_below, ListOptions};

use crate::failure::Failure;
use crate::output::reads::{lines, RepositoriesJson};
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The help text after the flags of `regcli catalog` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"List the repositories of a registry, one per line in lexical order (full names); with /PREFIX only those below
it (`team` lists `team/app` and `team/sub/app`, not `teamster`).

`-n N` prints one page of at most N repositories (below the prefix, when one is given: the registry's catalog
pages are walked, within bounds, until N are found or it ends); `--last X` starts after repository X (a full
name as printed): pages joined end to end give every repository. `--format json`: {"registry","repositories"}.

Examples:
  regcli catalog 127.0.0.1:5000
  regcli catalog 127.0.0.1:5000/team
  regcli catalog registry.example.com -n 100 --last team/app
  regcli catalog registry:5000            # a host without a dot is a host here

For a layout or archive, list its tags with regcli ls oci:DIR."##;

/// List the repositories of a registry, one per line.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct CatalogArgs {
    /// The registry, with an optional repository prefix.
    pub(crate) registry: String,
    /// One page of at most N repositories (at least 1).
    #[arg(short = 'n', long = "page-size", value_name = "N")]
    pub(crate) n: Option<usize>,
    /// Start after this repository (a full name, as printed).
    #[arg(long)]
    pub(crate) last: Option<String>,
}

/// Run `regcli catalog`.
pub(crate) async fn run(args: CatalogArgs, settings: Settings) -> Result<(), Failure> {
    if args.n == Some(0) {
        return Err(Failure::usage("-n/--page-size 0 lists nothing: give at least 1"));
    }
    let (root, prefix) = refs::registry_root(&args.registry, &settings)?;
    let mut opts = ListOptions::default();
    if let Some(n) = args.n {
        opts = opts.limit(n);
    }
    if let Some(last) = &args.last {
        opts = opts.last(last.clone());
    }
    // The library reads --last as a full name and keeps to the prefix.
    let repositories = list_repositories_below(&*root, &prefix, opts)
        .await
        .map_err(|e| Failure::failed(format!("catalog {}: {e}", args.registry)))?;
    if settings.json() {
        print_json(&RepositoriesJson { registry: &args.registry, repositories: &repositories })
    } else {
        print(&lines(&repositories))?;
        Ok(())
    }
}
