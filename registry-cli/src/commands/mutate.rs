//! `regcli mutate REF -t NEWREF`: a changed image (`Image::mutate`, `Mutation::build`) pushed under a new
//! reference; the base's layers are never read, so a push to the same registry skips or mounts them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use clap::Args;
use registry_client::{parse_rfc3339, Digest, Image, Mutation, ProgressEvent, ProgressFn};

use crate::archives;
use crate::commands::export::image_options;
use crate::failure::Failure;
use crate::output::images::{mutate_text, MutateJson};
use crate::output::{print, print_json};
use crate::progress::CopyProgress;
use crate::refs::{self, Destination};
use crate::settings::Settings;

/// The text after the options in `--help`: what the command does, and examples.
const HELP: &str = r#"Change an image's config, annotations or layers and push the result as NEWREF. The source image is
not changed, but NEWREF may move a tag: naming the source's own tag points it at the new image.
NEWREF is any REF form that can be written: host/repo:tag, oci:DIR[:TAG], oci-archive:FILE[:TAG],
docker-archive:FILE[:repo:tag] (without a tag: the source's; FILE `-` is stdout). An archive is
written whole, so NEWREF cannot be the source's own archive file (refused: it would lose every other
image in it). At least one change is needed. The new config keeps the source's `created` time
unless --created is given, so the same change of the same image gives the same digest. Blobs the
target already has are not sent again: in the source's registry only the new layers and config move
(others are skipped or mounted). From an index, the --platform image (else the host's) is changed and
pushed alone: NEWREF names an image, not an index. Prints the new digest and what moved
(--format json: {"source","target","digest","source_digest","platform","layers_added",
"layers_uploaded","blobs_uploaded","blobs_mounted","blobs_skipped","bytes_uploaded","seconds"}).

Examples:
  regcli mutate 127.0.0.1:5000/org/app:v1 -t 127.0.0.1:5000/org/app:v1-debug --env DEBUG=1 --user 0
  regcli mutate 127.0.0.1:5000/org/app:v1 -t 127.0.0.1:5000/org/app:v2 --append ./dist --cmd /app/server
  regcli mutate oci:./layout:v1 -t oci:./layout:v1-labelled --label org.opencontainers.image.version=1.0
  regcli mutate 127.0.0.1:5000/org/app:v1 -t 127.0.0.1:5000/org/app:v1 --annotation team=core  # moves v1
  regcli mutate oci:./layout:v1 -t oci:./layout:v1-sh --entrypoint /bin/sh --entrypoint -c --cmd 'echo hi'"#;

/// Change an image (config, annotations, layers) and push it under a new reference.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct MutateArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// Where the changed image goes (any REF form that can be written).
    #[arg(short = 't', long = "tag", value_name = "NEWREF")]
    pub(crate) target: String,
    /// Set a config label (KEY=VALUE), repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
    /// Set an environment variable (KEY=VALUE, replacing the base's KEY), repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// Replace the entrypoint (repeat for each argument, which may start with `-`: `--entrypoint /bin/sh
    /// --entrypoint -c`); the base's command is cleared unless --cmd is given.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) entrypoint: Vec<String>,
    /// Replace the default command (repeat for each argument, which may start with `-`).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) cmd: Vec<String>,
    /// Set the user (name, uid or uid:gid).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Set the working directory.
    #[arg(long)]
    pub(crate) workdir: Option<String>,
    /// Set a manifest annotation (KEY=VALUE), repeatable (OCI images only: docker v2 manifests have none).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub(crate) annotations: Vec<String>,
    /// Append a layer, repeatable: a tar file (plain, gzip or zstd) as it is, or a directory's contents at the
    /// image root (`--append ./dist` puts ./dist/server at /server; owners become root).
    #[arg(long, value_name = "TAR_OR_DIR")]
    pub(crate) append: Vec<String>,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// The new config's `created` time: `now`, or an RFC 3339 time (2024-02-29T13:05:09Z). Default: the
    /// source's, so the same mutate gives the same digest.
    #[arg(long, value_name = "now|RFC3339")]
    pub(crate) created: Option<String>,
}

/// The change flags, for the message when none is given.
const CHANGE_FLAGS: &str = "--label, --env, --entrypoint, --cmd, --user, --workdir, --annotation, --append";

/// Exit 2 when no change flag is given: the result would be the source with a new time only.
fn check_some_change(args: &MutateArgs) -> Result<(), Failure> {
    let lists = [&args.labels, &args.env, &args.entrypoint, &args.cmd, &args.annotations, &args.append];
    if lists.iter().all(|l| l.is_empty()) && args.user.is_none() && args.workdir.is_none() {
        return Err(Failure::usage(format!(
            "mutate {}: nothing to change: give at least one of {CHANGE_FLAGS}",
            args.reference
        )));
    }
    Ok(())
}

/// `--created` as a time to set (`None`: keep the source's). Exit 2 naming the value when it does not parse.
fn created(given: Option<&str>) -> Result<Option<SystemTime>, Failure> {
    match given {
        None => Ok(None),
        Some("now") => Ok(Some(SystemTime::now())),
        Some(text) => parse_rfc3339(text).map(Some).map_err(|e| Failure::usage(format!("--created: {e}"))),
    }
}

/// `KEY=VALUE` values of `flag` (the value may hold `=`); exit 2 naming the flag and value for another form.
fn pairs(flag: &str, values: &[String]) -> Result<Vec<(String, String)>, Failure> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, value)) if !k.is_empty() => Ok((k.to_string(), value.to_string())),
            _ => Err(Failure::usage(format!("{flag} {v:?}: expected KEY=VALUE (a non-empty KEY, then =)"))),
        })
        .collect()
}

/// The mutation the flags ask for on `base`. Exit 2 for a malformed flag or an --append path that is neither a
/// file nor a directory.
fn mutation(base: &Image, args: &MutateArgs) -> Result<Mutation, Failure> {
    let mut m = match created(args.created.as_deref())? {
        Some(time) => base.mutate().created(time),
        None => base.mutate().keep_created(true),
    };
    for (k, v) in pairs("--label", &args.labels)? {
        m = m.label(k, v);
    }
    for (k, v) in pairs("--env", &args.env)? {
        m = m.env(k, v);
    }
    for (k, v) in pairs("--annotation", &args.annotations)? {
        m = m.annotation(k, v);
    }
    if !args.entrypoint.is_empty() {
        m = m.entrypoint(args.entrypoint.clone());
    }
    if !args.cmd.is_empty() {
        m = m.cmd(args.cmd.clone());
    }
    if let Some(user) = &args.user {
        m = m.user(user.clone());
    }
    if let Some(dir) = &args.workdir {
        m = m.working_dir(dir.clone());
    }
    for (path, directory) in appends(&args.append)? {
        m = if directory { m.append_directory(path) } else { m.append_layer_file(path) };
    }
    Ok(m)
}

/// The `--append` paths, each with whether it is a directory (else a file). Exit 2 naming a path that is
/// missing or neither.
fn appends(paths: &[String]) -> Result<Vec<(&str, bool)>, Failure> {
    paths
        .iter()
        .map(|path| match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok((path.as_str(), true)),
            Ok(meta) if meta.is_file() && meta.len() == 0 => {
                Err(Failure::usage(format!("--append {path:?}: the file is empty, not a tar layer")))
            }
            Ok(meta) if meta.is_file() => Ok((path.as_str(), false)),
            Ok(_) => Err(Failure::usage(format!("--append {path:?}: neither a tar file nor a directory"))),
            Err(e) => Err(Failure::usage(format!("--append {path:?}: {e}"))),
        })
        .collect()
}

/// Blobs counted from a push's progress events.
#[derive(Debug, Default, Clone)]
struct Moved {
    /// The blobs sent, in the order the target committed them.
    sent: Vec<Digest>,
    uploaded: usize,
    mounted: usize,
    skipped: usize,
    bytes: u64,
}

/// A progress callback counting uploads, mounts and skips into `moved`, and passing every event on to `bars`.
fn counting(moved: Arc<Mutex<Moved>>, bars: Option<ProgressFn>) -> ProgressFn {
    Arc::new(move |event: &ProgressEvent| {
        {
            let mut m = moved.lock().unwrap_or_else(PoisonError::into_inner);
            match event {
                ProgressEvent::BlobDone { digest, size } => {
                    m.sent.push(digest.clone());
                    m.uploaded += 1;
                    m.bytes = m.bytes.saturating_add(*size);
                }
                ProgressEvent::BlobMounted { .. } => m.mounted += 1,
                ProgressEvent::BlobSkipped { .. } => m.skipped += 1,
                _ => {}
            }
        }
        if let Some(bars) = &bars {
            bars(event);
        }
    })
}

/// `reference` as a tag for the target: the one given, else the source's. Exit 2 for a digest.
fn target_tag(given: Option<String>, source_reference: &str, target: &str) -> Result<String, Failure> {
    match given {
        Some(tag) if !tag.starts_with('@') => Ok(tag),
        None if !source_reference.starts_with('@') => Ok(source_reference.to_string()),
        Some(_) => Err(Failure::usage(format!(
            "-t {target}: the changed image has a new digest: name a tag (host/repo:TAG, oci:DIR:TAG)"
        ))),
        None => Err(Failure::usage(format!("-t {target}: the source is a digest: name the tag (…:TAG)"))),
    }
}

/// Write `image` into an archive destination (tagged as given, else as `source_reference`); what was written,
/// counted as uploads (`None`: the archive went to stdout, or its reader went away, and no report is due).
async fn to_archive(
    image: &Image,
    destination: Destination,
    source: &str,
    source_reference: &str,
) -> Result<Option<Moved>, Failure> {
    let to_stdout = match &destination {
        Destination::OciArchive { file, .. } | Destination::DockerArchive { file, .. } => {
            archives::goes_to_stdout(file)
        }
        Destination::Client(_) => false,
    };
    let file = match destination {
        Destination::OciArchive { file, tag: given } => {
            let tag = target_tag(given, source_reference, &file.display().to_string())?;
            let mut writer = archives::oci_writer(&file).await?;
            let written = archives::wrote(&file, writer.add_image(&tag, image).await)?
                && archives::wrote(&file, writer.finish().await)?;
            written.then_some(file)
        }
        Destination::DockerArchive { file, name } => {
            let name = refs::docker_archive_name(name, source, &file).await?;
            let mut writer = archives::docker_writer(&file).await?;
            let written = archives::wrote(&file, writer.add_image(image, &[&name]).await)?
                && archives::wrote(&file, writer.finish().await)?;
            written.then_some(file)
        }
        Destination::Client(_) => return Err(Failure::failed("internal: a client destination is no archive")),
    };
    if file.is_none() || to_stdout {
        return Ok(None);
    }
    let bytes = image.layers().iter().map(|l| l.size()).fold(image.config_descriptor().size(), u64::saturating_add);
    let descriptors = image.layers().iter().chain(std::iter::once(image.config_descriptor()));
    let sent: Vec<Digest> = descriptors.filter_map(|d| Digest::parse(d.digest().as_ref()).ok()).collect();
    Ok(Some(Moved { uploaded: sent.len(), sent, bytes, ..Moved::default() }))
}

/// Run `regcli mutate`.
pub(crate) async fn run(args: MutateArgs, settings: Settings) -> Result<(), Failure> {
    let options = image_options(args.platform.as_deref())?;
    // Every flag checked before any request.
    check_some_change(&args)?;
    created(args.created.as_deref())?;
    for (flag, values) in [("--label", &args.labels), ("--env", &args.env), ("--annotation", &args.annotations)] {
        pairs(flag, values)?;
    }
    appends(&args.append)?;
    let started = Instant::now();
    let source = refs::source(&args.reference, &settings).await?;
    let reference = source.reference.clone().unwrap_or_else(|| "latest".to_string());
    let bars = if args.append.is_empty() { None } else { CopyProgress::new(&settings) };
    let moved = Arc::new(Mutex::new(Moved::default()));
    let callback = counting(moved.clone(), bars.as_ref().map(|b| b.callback()));
    let destination = refs::destination(&args.target, &settings, Some(callback)).await?;
    if let Destination::OciArchive { file, .. } | Destination::DockerArchive { file, .. } = &destination {
        archives::refuse_same_file(&args.reference, file).map_err(|f| Failure {
            message: format!("mutate {} -> {}: {}", args.reference, args.target, f.message),
            ..f
        })?;
    }
    let tag = match &destination {
        Destination::Client(target) => Some(target_tag(target.reference.clone(), &reference, &args.target)?),
        _ => None,
    };
    let context = |message: String| format!("mutate {} -> {}: {message}", args.reference, args.target);
    let base = source
        .client
        .get_image(&reference, options)
        .await
        .map_err(|e| Failure { message: context(e.to_string()), ..Failure::from_input(e) })?;
    let image = mutation(&base, &args)?
        .build()
        .await
        .map_err(|e| Failure { message: context(e.to_string()), ..Failure::from_input(e) })?;
    let result = match (destination, tag) {
        (Destination::Client(target), Some(tag)) => {
            let given = target.reference.is_some();
            let pushed = target.client.push_image(&tag, &image).await;
            let written = if given { args.target.clone() } else { format!("{}:{tag}", args.target) };
            let moved = moved.lock().unwrap_or_else(PoisonError::into_inner).clone();
            pushed.map(|()| Some((written, moved))).map_err(Failure::from)
        }
        (archive, _) => {
            to_archive(&image, archive, &args.reference, &reference).await.map(|m| m.map(|m| (args.target.clone(), m)))
        }
    };
    if let Some(bars) = &bars {
        bars.finish();
    }
    let Some((target, moved)) = result.map_err(|f| Failure { message: context(f.message), ..f })? else {
        // The archive went to stdout: nothing else goes there.
        return Ok(());
    };
    let json = MutateJson {
        source: &args.reference,
        target,
        digest: image.digest().to_string(),
        source_digest: base.digest().to_string(),
        platform: image.platform().to_string(),
        layers_added: image.layers().len().saturating_sub(base.layers().len()),
        layers_uploaded: image
            .layers()
            .iter()
            .filter(|l| moved.sent.iter().any(|d| d.as_str() == l.digest().as_ref()))
            .count(),
        blobs_uploaded: moved.uploaded,
        blobs_mounted: moved.mounted,
        blobs_skipped: moved.skipped,
        bytes_uploaded: moved.bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    if settings.json() {
        print_json(&json)
    } else {
        print(&mutate_text(&json))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_append_file_is_refused_and_a_directory_or_tar_taken() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.tar");
        std::fs::write(&empty, b"").unwrap();
        let text = empty.display().to_string();
        let e = appends(std::slice::from_ref(&text)).unwrap_err();
        assert_eq!(e.code, crate::failure::EXIT_USAGE);
        assert!(e.message.contains("the file is empty"), "{}", e.message);
        let tar = dir.path().join("a.tar");
        std::fs::write(&tar, [0u8; 1024]).unwrap();
        let given = [dir.path().display().to_string(), tar.display().to_string()];
        let taken: Vec<bool> = appends(&given).unwrap().into_iter().map(|(_, is_dir)| is_dir).collect();
        assert_eq!(taken, [true, false]);
    }

    #[test]
    fn pairs_split_at_the_first_equals_and_refuse_a_missing_key_or_equals() {
        let ok = pairs("--env", &["A=b=c".to_string(), "E=".to_string()]).unwrap();
        assert_eq!(ok, [("A".to_string(), "b=c".to_string()), ("E".to_string(), String::new())]);
        for bad in ["novalue", "=v"] {
            let f = pairs("--label", &[bad.to_string()]).unwrap_err();
            assert_eq!(f.code, crate::failure::EXIT_USAGE);
            assert!(f.message.contains("--label") && f.message.contains(bad), "{}", f.message);
        }
    }

    #[test]
    fn the_target_tag_is_the_given_one_else_the_sources_never_a_digest() {
        assert_eq!(target_tag(Some("v2".into()), "v1", "t").unwrap(), "v2");
        assert_eq!(target_tag(None, "v1", "t").unwrap(), "v1");
        assert!(target_tag(Some("@sha256:00".into()), "v1", "t").is_err());
        assert!(target_tag(None, "@sha256:00", "t").is_err());
    }
}
