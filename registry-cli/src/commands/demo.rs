//! `regcli demo`: the main job with no external server. Two in-process registries on loopback, the source
//! seeded with sample images, a sync spec written and shown, then run through the same code as `regcli sync`
//! (cold, then warm), every target digest checked against the source's.

use std::sync::Arc;

use clap::Args;
use mocks::server::RegistryServer;
use registry_client::sync::{ImageStatus, SyncReport, SyncSpec};
use registry_client::{Client, Reference, RemoteClient};
use serde::Serialize;

use super::sync::{check, connector, execute, print_report, Job};
use crate::failure::Failure;
use crate::output::{count, print_json, print_progress_line};
use crate::sample::{seed, PREFIX};
use crate::settings::Settings;

/// The main job on two embedded registries: seed one, sync it into the other (cold, then warm).
///
/// Both registries run in-process on loopback: the source is seeded with sample images, a sync spec is written
/// and shown, run twice through the same code as `regcli sync`, every target digest is checked against the
/// source's, and the command for real registries is printed.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  regcli demo
  regcli demo --format json | jq .warm.skipped")]
pub(crate) struct DemoArgs {}

/// `regcli demo --format json`: both reports in one document.
#[derive(Debug, Serialize)]
struct DemoJson<'a> {
    spec: &'a str,
    cold: &'a SyncReport,
    warm: &'a SyncReport,
    verified: usize,
}

/// Narration: stdout for text, stderr when stdout holds the JSON document.
fn say(settings: &Settings, text: &str) {
    if settings.json() {
        eprint!("{text}");
    } else {
        print_progress_line(text);
    }
}

/// The spec the demo runs: every repository under the prefix (versions only), and the newest two frontends
/// into a second repository of the same target (whose blobs are then mounted, not sent again).
fn spec_text(source: &str, target: &str) -> String {
    format!(
        r#"# regcli demo: mirror every repository under {PREFIX}/ into mirror/, versions only.
registries:
  {source}: {{ insecure: true }}
  {target}: {{ insecure: true }}
defaults: {{ platforms: all, referrers: false }}
sync:
  # A prefix: every repository below it, found through the catalog; tags that are versions, no pre-releases.
  - source: {source}/{PREFIX}/
    target: {target}/mirror/
    tags: {{ semver: ">=1.0", deny: ["-rc"] }}
  # One repository: its two highest versions, into another repository of the same target registry.
  - source: {source}/{PREFIX}/frontend
    target: {target}/stable/frontend
    tags: {{ latest: 2 }}
"#
    )
}

fn io(e: std::io::Error) -> Failure {
    Failure::failed(format!("demo: {e}"))
}

/// Run `regcli demo`.
pub(crate) async fn run(_args: DemoArgs, settings: Settings) -> Result<(), Failure> {
    if settings.login.is_some() {
        return Err(Failure::usage("-u/--password-stdin are not used by demo: its registries are its own"));
    }
    let source_server = RegistryServer::start().await.map_err(io)?;
    let target_server = RegistryServer::start().await.map_err(io)?;
    let (source_host, target_host) = (source_server.host(), target_server.host());
    let source: Arc<dyn Client> = Arc::new(RemoteClient::builder(&source_host).insecure(true).build()?);
    let target: Arc<dyn Client> = Arc::new(RemoteClient::builder(&target_host).insecure(true).build()?);
    let seeded = seed(&source).await.map_err(|e| Failure::failed(format!("demo: seeding the source: {e}")))?;
    say(
        &settings,
        &format!(
            "regcli demo: two registries in this process, on loopback (no external server)\n  \
             source  http://{source_host}  seeded: {} repositories under {PREFIX}/, {} tags ({} multi-platform \
             indexes of 3 platforms), base layers shared\n  target  http://{target_host}  empty\n\n",
            seeded.repositories, seeded.tags, seeded.indexes
        ),
    );

    let dir = tempfile::tempdir().map_err(io)?;
    let spec_path = dir.path().join("sync.yaml");
    let yaml = spec_text(&source_host, &target_host);
    tokio::fs::write(&spec_path, &yaml).await.map_err(io)?;
    say(&settings, &format!("The sync spec ({}):\n\n{yaml}\n", spec_path.display()));
    let spec = SyncSpec::read(&spec_path).await.map_err(|e| Failure::usage(e.to_string()))?;
    let connector = connector(&spec, &settings);
    let job = Job::default();

    say(&settings, &format!("== cold run: regcli sync --config {}\n", spec_path.display()));
    let cold = execute(&spec, &connector, &job, &settings).await?;
    if !settings.json() {
        print_report(&cold, &job, &settings)?;
    }
    check(&cold)?;
    say(&settings, "\n== warm run: the same spec again (every tag is there with its digest: nothing moves)\n");
    let warm = execute(&spec, &connector, &job, &settings).await?;
    if !settings.json() {
        print_report(&warm, &job, &settings)?;
    }
    check(&warm)?;
    if count(&warm, ImageStatus::Copied) > 0 {
        return Err(Failure::failed("demo: the warm run copied images the cold run had copied"));
    }

    let verified = verify(&cold, &source_host, &source, &target).await?;
    say(
        &settings,
        &format!(
            "\nverified: each of the {verified} target tags has its source's digest\n\n\
             The same against real registries: put your hosts in a spec (registries: credentials with \
             password_file or password_env, ca, rate) and run\n  \
             cargo install --path registry-cli\n  \
             regcli sync --config sync.yaml            # --dry-run first, --journal FILE to resume, --shard K/N to scale out\n"
        ),
    );
    if settings.json() {
        print_json(&DemoJson { spec: &yaml, cold: &cold, warm: &warm, verified })?;
    }
    Ok(())
}

/// Check every image of `report` on both registries: the target's digest is the source's (and the report's).
async fn verify(
    report: &SyncReport,
    source_host: &str,
    source: &Arc<dyn Client>,
    target: &Arc<dyn Client>,
) -> Result<usize, Failure> {
    if report.images.is_empty() {
        return Err(Failure::failed("demo: the sync planned no image"));
    }
    let mut verified = 0;
    for image in &report.images {
        let from = digest_of(&image.source, source_host, source, target).await?;
        let to = digest_of(&image.target, source_host, source, target).await?;
        if from != to || image.digest.as_deref().is_some_and(|d| d != from) {
            return Err(Failure::failed(format!(
                "demo: {} is {to} on the target, {from} on the source (report: {:?})",
                image.target, image.digest
            )));
        }
        verified += 1;
    }
    Ok(verified)
}

/// The digest `name` (`host/repo:tag`) has, read from whichever of the two registries it names.
async fn digest_of(
    name: &str,
    source_host: &str,
    source: &Arc<dyn Client>,
    target: &Arc<dyn Client>,
) -> Result<String, Failure> {
    let reference = Reference::parse(name).map_err(|e| Failure::failed(format!("demo: report names {name}: {e}")))?;
    let repository = reference.repository();
    let root = if repository.registry().as_str() == source_host { source } else { target };
    let id = match (reference.digest(), reference.tag()) {
        (Some(d), _) => format!("@{d}"),
        (None, Some(t)) => t.to_string(),
        (None, None) => return Err(Failure::failed(format!("demo: report names {name} without tag"))),
    };
    let digest = root.with_segment(repository.path()).get_digest(&id).await?;
    Ok(digest.to_string())
}
