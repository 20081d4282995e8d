//! `regcli sync --config FILE`: mirror what a sync spec names, through `registry_client::sync` (plan, then copy
//! what differs), with progress, SIGTERM handling and a text or JSON report.

use std::path::PathBuf;

use clap::Args;
use registry_client::sync::{self, ConnectOptions, Connector, RunOptions, Shard, SyncReport, SyncSpec};
use tokio_util::sync::CancellationToken;

use crate::failure::Failure;
use crate::output::{print, print_json, sync_text};
use crate::progress::SyncProgress;
use crate::settings::Settings;
use crate::signals;

/// Mirror the images a sync spec names (YAML: registries, defaults, sync entries of source and target).
///
/// Exit status: 0 when no image failed (conflicts are reported, not failures), 1 when one failed or the run was
/// interrupted (SIGTERM, Ctrl-C), 2 for a spec or flag error (before any request).
#[derive(Debug, Args)]
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
        print(&sync_text(report, job.dry_run));
        Ok(())
    }
}

/// `Err` (exit 1) when an image failed or the run was interrupted.
pub(crate) fn check(report: &SyncReport) -> Result<(), Failure> {
    if report.interrupted {
        return Err(Failure::failed(format!(
            "sync interrupted by a signal: {} of {} images not started, {} failed",
            report.not_started,
            report.images.len(),
            report.failed
        )));
    }
    if report.is_failure() {
        return Err(Failure::failed(format!("sync: {} of {} images failed", report.failed, report.images.len())));
    }
    Ok(())
}
