//! `regcli export REF [FILE|-]`: the flattened filesystem as a tar, streamed (`Image::extract`), to a file
//! written under a temporary name and renamed when complete (a symbolic link's target), streamed into a FIFO or
//! device, or to stdout.

pub(crate) mod tar_progress;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use clap::Args;
use registry_client::{FileTarget, Image, ImageOptions, Platform};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

use crate::commands::export::tar_progress::Counted;
use crate::failure::Failure;
use crate::output::images::{export_text, ExportJson};
use crate::output::{print, print_json};
use crate::refs;
use crate::settings::Settings;

/// The text after the options in `--help`: what the command does, and examples.
const HELP: &str = r#"Write the flattened filesystem of REF (every layer applied base first, whiteouts honoured, as `crane
export` does) as one tar, to FILE or stdout. Layers are streamed, never held in memory; each is
checked against its digest and the config's diff_id. FILE is written under a temporary name beside
it and renamed when the tar is complete, so a failed or interrupted (SIGINT, SIGTERM) export never
leaves a partial FILE (an existing FILE is replaced only on success). A FILE that is a symbolic link
has its target written that way (the link stays); a FIFO or device (/dev/stdout) is written
directly, streamed; a directory or socket is refused. Then `exported REF (DIGEST,
PLATFORM) to FILE: SIZE` is printed (--format json: {"source","digest","platform","file","bytes"}).
On stdout only the tar is written, and never to a terminal: redirect stdout or name a FILE. A reader
that stops early (`| tar -t | head`) ends the export quietly, as with `cat`.

Examples:
  regcli export 127.0.0.1:5000/org/app:v1 app.tar
  regcli export --platform linux/arm64 127.0.0.1:5000/org/app:v1 - | tar -t
  regcli export oci:./layout:v1 rootfs.tar"#;

/// Write an image's flattened filesystem as a tar.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ExportArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// Where the tar goes (`-` or none: stdout).
    pub(crate) output: Option<String>,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
}

/// `--platform` as image options (exit 2 when it does not parse).
pub(crate) fn image_options(platform: Option<&str>) -> Result<ImageOptions, Failure> {
    match platform {
        None => Ok(ImageOptions::default()),
        Some(p) => {
            let parsed = Platform::parse(p).map_err(|e| Failure::usage(format!("--platform {p:?}: {e}")))?;
            Ok(ImageOptions::default().platform(parsed))
        }
    }
}

/// The image `text` names (the `--platform` one of an index). Errors name `text`: a bad reference (exit 2), an
/// image that cannot be read (exit 1).
pub(crate) async fn read_image(
    command: &str,
    text: &str,
    platform: Option<&str>,
    settings: &Settings,
) -> Result<Image, Failure> {
    let options = image_options(platform)?;
    let source = refs::source(text, settings).await?;
    let reference = source.reference.unwrap_or_else(|| "latest".to_string());
    source
        .client
        .get_image(&reference, options)
        .await
        .map_err(|e| Failure { message: format!("{command} {text}: {e}"), ..Failure::from_input(e) })
}

/// Run `regcli export`.
pub(crate) async fn run(args: ExportArgs, settings: Settings) -> Result<(), Failure> {
    let file = args.output.as_deref().filter(|o| *o != "-");
    if file.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::usage(format!(
            "export {}: stdout is a terminal: not writing a tar there; give a FILE \
             (regcli export {} app.tar) or redirect (regcli export {} - > app.tar)",
            args.reference, args.reference, args.reference
        )));
    }
    if let Some(file) = file {
        crate::refs::refuse_terminal(&format!("export to {file}"), Path::new(file))?;
    }
    let target = match file {
        Some(file) => Some(
            FileTarget::of(Path::new(file))
                .map_err(|e| Failure { message: format!("export to {file}: {e}"), ..Failure::from_input(e) })?,
        ),
        None => None,
    };
    if let Some(FileTarget::Replace(path)) = &target {
        check_file(path).map_err(|why| Failure::usage(format!("export to {file:?}: {why}", file = path)))?;
    }
    let started = Instant::now();
    let image = read_image("export", &args.reference, args.platform.as_deref(), &settings).await?;
    let (Some(file), Some(target)) = (file, target) else {
        return match to_stdout(image.extract()).await {
            Ok(()) => Ok(()),
            // The reader went away (`| head`): as `cat`, no message and no failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::failed(format!("export {} to stdout: {e}", args.reference))),
        };
    };
    let bar = tar_progress::bar(&settings, &format!("export {}", args.reference));
    let tar = Counted::new(image.extract(), bar.clone());
    let (written, to_stdout) = match &target {
        FileTarget::Replace(path) => (to_file(tar, path).await, false),
        FileTarget::Stream(path) => {
            let to_stdout = crate::archives::goes_to_stdout(path);
            match to_stream(tar, path).await {
                // The reader of stdout went away (`| head`): quietly, as `cat`.
                Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                written => (written.map_err(|e| e.to_string()), to_stdout),
            }
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let bytes = written.map_err(|why| Failure::failed(format!("export {} to {file}: {why}", args.reference)))?;
    if to_stdout {
        // FILE is stdout (/dev/stdout): only the tar goes there.
        return Ok(());
    }
    let json = ExportJson {
        source: &args.reference,
        digest: image.digest().to_string(),
        platform: image.platform().to_string(),
        file,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    if settings.json() {
        print_json(&json)
    } else {
        print(&export_text(&json))?;
        Ok(())
    }
}

/// The write buffer of a tar going to a file, in bytes.
const WRITE_BUFFER: usize = 1 << 20;

/// The directory `path` goes in, when `path` can be a file there: not a directory, its directory existing.
fn check_file(path: &Path) -> Result<&Path, String> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() || path.file_name().is_none() {
        return Err("is a directory: name a file (e.g. app.tar)".to_string());
    }
    match crate::refs::missing_parent(path) {
        Some(why) => Err(why),
        None => Ok(parent),
    }
}

/// Copy `tar` to stdout (on a blocking thread: stdout is a plain blocking handle), flushed. The error is the
/// write's (`BrokenPipe` when the reader went away) or the read's.
async fn to_stdout(tar: impl AsyncRead + Send + Unpin + 'static) -> std::io::Result<()> {
    let mut reader = tokio_util::io::SyncIoBridge::new(tar);
    let copied = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut reader, &mut out)?;
        out.flush()
    })
    .await;
    copied.unwrap_or_else(|e| Err(std::io::Error::other(format!("the copy task failed: {e}"))))
}

/// Copy `tar` into the FIFO or device `path`, opened for writing (a FIFO waits for its reader), no temporary
/// file and no rename; the bytes written. SIGINT or SIGTERM stops it (what was sent stays sent). The error is the
/// write's (`BrokenPipe` when the reader went away), the read's, or the signal's (`Interrupted`).
async fn to_stream(mut tar: impl AsyncRead + Unpin, path: &Path) -> std::io::Result<u64> {
    let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    let stopped = |name: &str| std::io::Error::new(std::io::ErrorKind::Interrupted, format!("interrupted by {name}"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true);
    let open = options.open(path);
    let file = tokio::select! {
        file = open => file.map_err(|e| std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?,
        _ = term.recv() => return Err(stopped("SIGTERM")),
        _ = int.recv() => return Err(stopped("SIGINT")),
    };
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let bytes = tokio::select! {
        copied = tokio::io::copy(&mut tar, &mut out) => copied?,
        _ = term.recv() => return Err(stopped("SIGTERM")),
        _ = int.recv() => return Err(stopped("SIGINT")),
    };
    out.flush().await?;
    Ok(bytes)
}

/// Copy `tar` into a temporary file beside `path`, flushed to disk, then rename it to `path`; the bytes written.
/// On any error, SIGINT or SIGTERM the temporary file is removed and `path` is untouched.
async fn to_file(mut tar: impl AsyncRead + Unpin, path: &Path) -> Result<u64, String> {
    let parent = check_file(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        // As a file made with `>` would be: 0666 less the umask (a temp file's default is 0600).
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(parent)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", parent.display()))?;
    let std_file = temp.as_file().try_clone().map_err(|e| format!("cannot open the temporary file: {e}"))?;
    // Large writes: each write of a tokio file is a trip to the blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(std_file));
    // A signal ends the copy here, so the temporary file is removed (dropped) rather than left behind.
    let (mut term, mut int) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => return Err(format!("cannot watch SIGTERM / SIGINT: {e}")),
    };
    let bytes = tokio::select! {
        copied = tokio::io::copy(&mut tar, &mut out) => copied.map_err(|e| e.to_string())?,
        _ = term.recv() => return Err("interrupted by SIGTERM: nothing written".to_string()),
        _ = int.recv() => return Err("interrupted by SIGINT: nothing written".to_string()),
    };
    out.flush().await.map_err(|e| e.to_string())?;
    out.get_ref().sync_all().await.map_err(|e| format!("cannot flush the tar to disk: {e}"))?;
    drop(out);
    temp.persist(path).map_err(|e| format!("cannot rename the finished tar into place: {}", e.error))?;
    Ok(bytes)
}
