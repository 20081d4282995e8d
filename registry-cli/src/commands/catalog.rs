//! `regcli catalog HOST[/PREFIX]`: the repositories of a registry, one per line.

use clap::Args;
use registry_client::ListOptions;

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
  regcli catalog registry.example.com -n 100 --last team/app"##;

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

/// Where a listing under `prefix` starts for `--last`: the part of `last` below the prefix, `Start::All` when
/// `last` sorts before the prefix's range, `Start::Past` when after it (nothing to list).
#[derive(Debug, PartialEq, Eq)]
enum Start {
    All,
    After(String),
    Past,
}

fn start(prefix: &str, last: Option<&str>) -> Start {
    let Some(last) = last.filter(|l| !l.is_empty()) else { return Start::All };
    if prefix.is_empty() {
        return Start::After(last.to_string());
    }
    let below = format!("{prefix}/");
    match last.strip_prefix(&below) {
        Some(rest) if !rest.is_empty() => Start::After(rest.to_string()),
        _ if last < below.as_str() => Start::All,
        _ => Start::Past,
    }
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
    let repositories = match start(&prefix, args.last.as_deref()) {
        Start::Past => Vec::new(),
        start => {
            if let Start::After(last) = start {
                opts = opts.last(last);
            }
            // A client scoped to the prefix lists the repositories below it, relative to it.
            let scoped = if prefix.is_empty() { root } else { root.with_segment(&prefix) };
            let found = scoped
                .list_repositories(opts)
                .await
                .map_err(|e| Failure::failed(format!("catalog {}: {e}", args.registry)))?;
            if prefix.is_empty() {
                found
            } else {
                found.into_iter().map(|r| format!("{prefix}/{r}")).collect()
            }
        }
    };
    if settings.json() {
        print_json(&RepositoriesJson { registry: &args.registry, repositories: &repositories })
    } else {
        print(&lines(&repositories))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_is_a_full_name() {
        assert_eq!(start("", None), Start::All);
        assert_eq!(start("", Some("a/b")), Start::After("a/b".into()));
        assert_eq!(start("team", Some("team/x")), Start::After("x".into()));
        assert_eq!(start("team", Some("alpha/x")), Start::All);
        assert_eq!(start("team", Some("team")), Start::All);
        assert_eq!(start("team", Some("teamster/x")), Start::Past);
        assert_eq!(start("team", Some("zeta")), Start::Past);
    }
}
