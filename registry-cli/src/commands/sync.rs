//! `regcli sync --config FILE`: mirror what a sync spec names, through `registry_client::sync` (plan, then copy
//! what differs), with progress, SIGTERM handling and a text or JSON report.

use std::path::PathBuf;

use clap::Args;
use registry_client::sync::{
    self, ConnectOptions, Connector, ImageReport, ImageStatus, RunOptions, Shard, SyncReport, SyncSpec,
};
use tokio_util::sync::CancellationToken;

use crate::failure::Failure;
use crate::output::{print, print_json, sync_text};
use crate::progress::SyncProgress;
use crate::settings::Settings;
use crate::signals;

/// Mirror the images a sync spec (YAML) names: plan, then copy what differs.
///
/// The spec has `registries` (per-host settings), `defaults` and `sync` entries of source and target; see the
/// README. Exit status: 0 when no image failed (conflicts are reported, not failures), 1 when one failed or the run was
/// interrupted (SIGTERM, Ctrl-C), 2 for a spec or flag error (before any request).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  regcli sync --config sync.yaml --dry-run        # the plan: what would be copied, what is in place
  regcli sync --config sync.yaml --journal /var/lib/regcli/journal
  regcli sync --config sync.yaml --shard \"$JOB_COMPLETION_INDEX/4\" --format json")]
pub(crate) struct SyncArgs {
    /// The sync spec (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Print the plan only (status `planned` or `skipped`); nothing is written anywhere.
    #[arg(long)]
    dry_run: bool,
    /// Record what is done and open uploads here, so a killed run started again resumes.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Only shard K of N (K from 0, as Kubernetes' JOB_COMPLETION_INDEX): images by their target's SHA-256.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
}

/// How one sync is run, beside its spec.
#[derive(Debug, Clone, Default)]
pub(crate) struct Job {
    /// `--dry-run`.
    pub(crate) dry_run: bool,
    /// `--journal`.
    pub(crate) journal: Option<PathBuf>,
    /// `--shard`.
    pub(crate) shard: Option<Shard>,
}

/// Run `regcli sync`.
pub(crate) async fn run(args: SyncArgs, settings: Settings) -> Result<(), Failure> {
    if settings.login.is_some() {
        return Err(Failure::usage(
            "-u/--password-stdin are not used by sync: a sync spec names each registry's credentials (username with \
             password_file or password_env), else docker's config.json is read",
        ));
    }
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(|e| Failure::usage(format!("--shard {text}: {e}")))?),
        None => None,
    };
    let spec = SyncSpec::read(&args.config).await.map_err(|e| Failure::usage(e.to_string()))?;
    let connector = connector(&spec, &settings);
    let job = Job { dry_run: args.dry_run, journal: args.journal, shard };
    let report = execute(&spec, &connector, &job, &settings).await?;
    print_report(&report, &job, &settings)?;
    check(&report)
}

/// The connector of a run: the spec's per-host settings with the global flags.
pub(crate) fn connector(spec: &SyncSpec, settings: &Settings) -> Connector {
    let mut options = ConnectOptions::default();
    options.insecure = settings.insecure;
    options.tls_skip_verify = settings.tls_skip_verify;
    Connector::new(spec, options)
}

/// Plan and run `spec` with progress on stderr and SIGTERM / Ctrl-C cancelling it; the report (not printed).
pub(crate) async fn execute(
    spec: &SyncSpec,
    connector: &Connector,
    job: &Job,
    settings: &Settings,
) -> Result<SyncReport, Failure> {
    let progress = SyncProgress::new(settings);
    let cancel = CancellationToken::new();
    let watcher = signals::watch(cancel.clone());
    let mut options = RunOptions::default();
    options.dry_run = job.dry_run;
    options.journal = job.journal.clone();
    options.shard = job.shard;
    options.cancel = cancel;
    options.events = Some(progress.callback());
    let result = sync::sync(spec, connector, options).await;
    watcher.abort();
    let report = result.map_err(|e| {
        progress.clear();
        Failure::from_input(e.context("sync"))
    })?;
    progress.finish(&report);
    Ok(report)
}

/// The report on stdout: the summary and each failure (text), or the report's JSON alone.
pub(crate) fn print_report(report: &SyncReport, job: &Job, settings: &Settings) -> Result<(), Failure> {
    if settings.json() {
        print_json(report)
    } else {
        print(&sync_text(report, job.dry_run))?;
        Ok(())
    }
}

/// `Err` (exit 1) when an image failed or the run was interrupted (even when every image had started).
pub(crate) fn check(report: &SyncReport) -> Result<(), Failure> {
    let entries_failed = report.images.iter().filter(|i| i.status == ImageStatus::Failed && is_entry(i)).count();
    let images_failed = report.failed.saturating_sub(entries_failed);
    let mut what = Vec::new();
    if images_failed > 0 {
        what.push(format!("{images_failed} of {} images failed", report.images.len().saturating_sub(entries_failed)));
    }
    if entries_failed > 0 {
        let entries = if entries_failed == 1 { "spec entry" } else { "spec entries" };
        what.push(format!("{entries_failed} {entries} could not be listed"));
    }
    if report.interrupted {
        let signal = if report.not_started > 0 {
            format!("interrupted by a signal: {} of {} images not started", report.not_started, report.images.len())
        } else {
            "a signal came after every image had started (they all ran)".to_string()
        };
        what.insert(0, signal);
        return Err(Failure::failed(format!("sync {}", what.join("; "))));
    }
    if report.is_failure() {
        return Err(Failure::failed(format!("sync: {}", what.join("; "))));
    }
    Ok(())
}

/// Whether a failed report line is a whole entry (its source could not be listed), not an image: its source is
/// written as the spec's entry, with no tag (`host/org/app`, `host/team/`, `oci:DIR`).
fn is_entry(image: &ImageReport) -> bool {
    image.digest.is_none() && (image.source.ends_with('/') || !has_reference(&image.source))
}

/// Whether `text` (`host/repo:tag`, `host/repo@sha256:..`, `oci:DIR/repo:tag`) ends with a tag or digest.
fn has_reference(text: &str) -> bool {
    let last = text.rsplit('/').next().unwrap_or(text);
    last.contains(':') || last.contains('@')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(images: &str, interrupted: bool) -> SyncReport {
        let mut r: SyncReport = serde_json::from_str(images).unwrap();
        r.interrupted = interrupted;
        r
    }

    fn image(source: &str, status: &str, digest: bool) -> String {
        let digest = if digest { "\"sha256:00\"" } else { "null" };
        format!(r#"{{"source":"{source}","target":"t","digest":{digest},"status":"{status}","bytes":0,"error":null}}"#)
    }

    fn with(images: &[String], counts: &str) -> String {
        format!(
            r#"{{"images":[{}],"blobs":{{"uploaded":0,"mounted":0,"skipped":0}},{counts},"seconds":0.0,"interrupted":false}}"#,
            images.join(",")
        )
    }

    #[test]
    fn messages_say_what_failed_and_what_a_signal_did() {
        let all_ran = with(
            &[image("h/a:1", "copied", true), image("h/a:2", "copied", true)],
            r#""copied":2,"skipped":0,"conflicts":0,"failed":0,"not_started":0"#,
        );
        let e = check(&report(&all_ran, true)).unwrap_err().to_string();
        assert!(e.contains("after every image had started") && !e.contains("not started"), "{e}");
        assert!(crate::output::summary(&report(&all_ran, true), false).contains("they all ran"));

        let stopped = with(
            &[image("h/a:1", "copied", true), image("h/a:2", "not_started", false)],
            r#""copied":1,"skipped":0,"conflicts":0,"failed":0,"not_started":1"#,
        );
        let e = check(&report(&stopped, true)).unwrap_err().to_string();
        assert!(e.contains("1 of 2 images not started"), "{e}");
        assert!(crate::output::summary(&report(&stopped, true), false).contains("1 not started"));

        let entry = with(
            &[image("h/a:1", "copied", true), image("h/team/", "failed", false)],
            r#""copied":1,"skipped":0,"conflicts":0,"failed":1,"not_started":0"#,
        );
        let e = check(&report(&entry, false)).unwrap_err().to_string();
        assert!(e.contains("1 spec entry could not be listed") && !e.contains("images failed"), "{e}");
        assert!(check(&report(&all_ran, false)).is_ok());
    }
}
