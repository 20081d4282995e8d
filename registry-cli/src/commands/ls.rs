//! `regcli ls REPO`: the tags of a repository, one per line, in lexical order.

use clap::Args;
use registry_client::sync::TagFilter;
use registry_client::{list_matching_tags, matching_names, ListOptions};

use crate::commands::digest::named;
use crate::failure::Failure;
use crate::output::reads::{lines, TagsJson};
use crate::output::{print, print_json};
use crate::refs::{self, Listing};
use crate::settings::Settings;

/// The help text after the flags of `regcli ls` (clap shows the command's one-line about first): what it
/// prints, and examples.
const HELP: &str = r##"List the tags of a repository, one per line in lexical order.

REPO: host/repo, oci:DIR, oci-archive:FILE or docker-archive:FILE. A docker-archive with one repository lists
its tags; with several, every `repo:tag` name (--filter and --semver then read the tag of each, --last takes a
name). Digest tags (`sha256-<hex>`, `.sig`, `.att`, `.sbom`) are listed like any tag. `-n N` asks for one page of N tags
(server-side, `n`), `--last X` starts after tag X: pages joined end to end give every tag. With `--filter` or
`--semver`, `-n N` is a page of N *matching* tags after X. `--format json`: {"repository","tags":[..]}.

Examples:
  regcli ls 127.0.0.1:5000/org/app
  regcli ls 127.0.0.1:5000/org/app -n 100 --last v1.9
  regcli ls registry.example.com/app --semver '>=1.2, <2' --filter '^v'
  regcli ls docker-archive:images.tar"##;

/// List the tags of a repository, one per line.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct LsArgs {
    /// The repository.
    pub(crate) repository: String,
    /// Only tags matching this regular expression (matches anywhere unless anchored with ^ and $).
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Only tags that are versions in this semver range (e.g. ">=1.2, <2"; a leading `v` is allowed).
    #[arg(long)]
    pub(crate) semver: Option<String>,
    /// One page of at most N tags (the registry's `n`; at least 1).
    #[arg(short = 'n', long = "page-size", value_name = "N")]
    pub(crate) n: Option<usize>,
    /// Start after this tag (the registry's `last`).
    #[arg(long)]
    pub(crate) last: Option<String>,
}

/// The filter of `--filter` and `--semver` (`None` when neither is given); a bad one is a usage error naming the
/// flag.
fn tag_filter(args: &LsArgs) -> Result<Option<TagFilter>, Failure> {
    if let Some(regex) = &args.filter {
        TagFilter::new(std::slice::from_ref(regex), &[], None, None)
            .map_err(|e| Failure::usage(format!("--filter {regex:?}: {}", after_key(e.message()))))?;
    }
    if let Some(range) = &args.semver {
        TagFilter::new(&[], &[], Some(range), None)
            .map_err(|e| Failure::usage(format!("--semver {range:?}: {}", after_key(e.message()))))?;
    }
    if args.filter.is_none() && args.semver.is_none() {
        return Ok(None);
    }
    let allow: Vec<String> = args.filter.iter().cloned().collect();
    Ok(Some(TagFilter::new(&allow, &[], args.semver.as_deref(), None).map_err(Failure::from_input)?))
}

/// The filter's message on one line, without the sync spec's key (`tags.allow: `), which means nothing here.
fn after_key(message: &str) -> String {
    let message = message.split_once(": ").map_or(message, |(_, rest)| rest);
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Run `regcli ls`.
pub(crate) async fn run(args: LsArgs, settings: Settings) -> Result<(), Failure> {
    if args.n == Some(0) {
        return Err(Failure::usage("-n/--page-size 0 lists nothing: give at least 1"));
    }
    let filter = tag_filter(&args)?.unwrap_or_default();
    let mut opts = ListOptions::default();
    if let Some(last) = &args.last {
        opts = opts.last(last.clone());
    }
    if let Some(n) = args.n {
        opts = opts.limit(n);
    }
    // The library pages: N *matching* tags after --last (a repository that does not exist is `NotFound`).
    let tags = match refs::repository(&args.repository, &settings).await? {
        Listing::Tags(client) => {
            list_matching_tags(&*client, &filter, opts).await.map_err(|e| named(&args.repository, &e))?
        }
        Listing::Names(names) => matching_names(names, &filter, &opts),
    };
    if settings.json() {
        print_json(&TagsJson { repository: &args.repository, tags: &tags })
    } else {
        print(&lines(&tags))?;
        Ok(())
    }
}
