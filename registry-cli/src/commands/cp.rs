//! `regcli cp SRC DST`: one image (a whole index by default) from anywhere to anywhere, through `copy_image`.

use std::time::Instant;

use clap::Args;
use registry_client::{copy_image, Client, CopyOptions, Platform};

use crate::archives::{self, Written};
use crate::failure::Failure;
use crate::output::{archive_text, copy_text, print, print_json, ArchiveJson, CopyJson};
use crate::progress::CopyProgress;
use crate::refs::{self, Destination};
use crate::settings::Settings;

/// Copy one image (a whole index by default) between registries, OCI layouts and archives.
///
/// References: host/repo:tag, host/repo@sha256:<hex>, oci:DIR[:TAG] (an OCI layout directory, either side),
/// oci-archive:FILE[:TAG] and docker-archive:FILE[:repo:tag] (a docker-archive holds one image: with an index,
/// the --platform given, else the host's). A DST without a tag keeps SRC's.
///
/// An archive FILE of `-` is stdout (then only the archive is written there, never to a terminal). A FILE that
/// is a symbolic link has its target replaced (written beside it and renamed when complete); a FIFO or device is
/// streamed into; a directory or socket is refused. The source archive cannot be the destination (writing it
/// would drop every other image in it): write another file.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  regcli cp registry.example.com/org/app:v1 127.0.0.1:5000/mirror/app --insecure
  regcli cp registry.example.com/org/app:v1 oci:/srv/layout --platform linux/amd64,linux/arm64
  regcli cp registry.example.com/org/app:v1 docker-archive:app.tar:org/app:v1   # crane pull
  regcli cp docker-archive:app.tar 127.0.0.1:5000/org/app:v1 --insecure         # crane push
  regcli cp 127.0.0.1:5000/org/app:v1 docker-archive:- --insecure | docker load")]
pub(crate) struct CpArgs {
    /// What to copy.
    source: String,
    /// Where to (a tag, or none to keep the source's).
    destination: String,
    /// Only these platforms of an index (os/arch[/variant], repeatable or comma-separated; `all`, the default,
    /// copies the index whole with its digest unchanged). One platform copies its image manifest alone.
    #[arg(long, value_delimiter = ',')]
    platform: Vec<String>,
    /// Also copy the referrers (signatures, SBOMs, attestations) and the cosign-style digest tags
    /// (`sha256-<hex>.sig`, `.att`, `.sbom`) of what is copied.
    #[arg(long)]
    referrers: bool,
}

/// `--platform` values: empty for `all`.
fn platforms(given: &[String]) -> Result<Vec<Platform>, Failure> {
    if given.iter().any(|p| p == "all") {
        if given.len() > 1 {
            return Err(Failure::usage("--platform all copies every platform: give it alone"));
        }
        return Ok(Vec::new());
    }
    given.iter().map(|p| Platform::parse(p).map_err(|e| Failure::usage(format!("--platform {p:?}: {e}")))).collect()
}

/// Run `regcli cp`.
pub(crate) async fn run(args: CpArgs, settings: Settings) -> Result<(), Failure> {
    let platforms = platforms(&args.platform)?;
    let progress = CopyProgress::new(&settings);
    let source = refs::source(&args.source, &settings).await?;
    let destination = refs::destination(&args.destination, &settings, progress.as_ref().map(|p| p.callback())).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    let started = Instant::now();
    let target = match destination {
        Destination::Client(target) => target,
        archive => {
            if args.referrers {
                return Err(Failure::usage(
                    "--referrers needs a registry or oci:DIR destination; an archive has no referrers",
                ));
            }
            let to_stdout = match &archive {
                Destination::OciArchive { file, .. } | Destination::DockerArchive { file, .. } => {
                    archives::refuse_same_file(&args.source, file)
                        .map_err(|f| Failure { message: cp_context(&args, &f.message), ..f })?;
                    archives::goes_to_stdout(file)
                }
                Destination::Client(_) => false,
            };
            let written = to_archive(&*source.client, &reference, &platforms, archive, &args.source).await;
            if let Some(progress) = &progress {
                progress.finish();
            }
            let written = written.map_err(|f| Failure { message: cp_context(&args, &f.message), ..f })?;
            // On stdout only the archive goes; a reader that went away (`| head`) ends the run quietly.
            let Some(written) = written.filter(|_| !to_stdout) else {
                return Ok(());
            };
            let seconds = started.elapsed().as_secs_f64();
            return if settings.json() {
                print_json(&ArchiveJson::new(&args.source, &args.destination, &written, seconds))
            } else {
                print(&archive_text(&args.source, &args.destination, &written, seconds))?;
                Ok(())
            };
        }
    };
    // A destination without a tag takes the source's; a source given by digest then goes by digest.
    let given = target.reference.is_some();
    let tag = target.reference.unwrap_or_else(|| reference.clone());
    let opts = CopyOptions::default().platforms(platforms).referrers(args.referrers);
    let result = copy_image(&*source.client, &reference, &*target.client, &tag, opts).await;
    if let Some(progress) = &progress {
        progress.finish();
    }
    let report = result.map_err(|e| Failure::failed(cp_context(&args, &e.to_string())))?;
    let seconds = started.elapsed().as_secs_f64();
    let written = written_name(&args.destination, given, &tag);
    if settings.json() {
        print_json(&CopyJson::new(&args.source, &written, &report, seconds))
    } else {
        print(&copy_text(&args.source, &written, &report, seconds))?;
        Ok(())
    }
}

fn cp_context(args: &CpArgs, message: &str) -> String {
    format!("cp {} -> {}: {message}", args.source, args.destination)
}

/// Write an archive destination (the tag or name defaults to the source's).
async fn to_archive(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    destination: Destination,
    source_text: &str,
) -> Result<Option<Written>, Failure> {
    match destination {
        Destination::OciArchive { file, tag } => {
            let tag = match tag {
                Some(tag) => tag,
                None if !reference.starts_with('@') => reference.to_string(),
                None => {
                    return Err(Failure::usage("the source is a digest: name the archive's tag (oci-archive:FILE:TAG)"))
                }
            };
            archives::oci_archive(source, reference, platforms, &file, &tag).await
        }
        Destination::DockerArchive { file, name } => {
            let name = refs::docker_archive_name(name, source_text, &file).await?;
            archives::docker_archive(source, reference, platforms, &file, &name).await
        }
        Destination::Client(_) => Err(Failure::failed("internal: a client destination is no archive")),
    }
}

/// The destination as written: with the tag (or digest) when the user gave none.
fn written_name(destination: &str, given: bool, tag: &str) -> String {
    if given {
        destination.to_string()
    } else if tag.starts_with('@') {
        format!("{destination}{tag}")
    } else {
        format!("{destination}:{tag}")
    }
}
