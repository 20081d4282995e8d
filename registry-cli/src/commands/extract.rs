//! `regcli extract REF DIR`: the flattened filesystem written safely to a directory (`unpack_tar_with_summary`
//! over `Image::extract_with`, the library's safe defaults), with counts of what was written.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use registry_client::{unpack_tar_with_summary, ExtractOptions, ExtractSummary, Image};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::commands::export::read_image;
use crate::commands::export::tar_progress::{self, Counted};
use crate::failure::Failure;
use crate::output::images::{extract_text, ExtractJson};
use crate::output::{print, print_json};
use crate::settings::Settings;

/// The text after the options in `--help`: what the command does, and examples.
const HELP: &str = r#"Write the flattened filesystem of REF (every layer applied, whiteouts honoured) into DIR, safely: no
entry writes outside DIR (`..` is refused, a leading `/` is read as relative to DIR, nothing is
written through a symlink, hard links must stay inside), device nodes and FIFOs are skipped, files
belong to you (owners are not applied), permission bits and mtimes are kept. A hostile layer fails
the run naming the entry.

A missing DIR (in a directory that exists) is written as a new directory beside it (.DIR.partial-XXXX)
renamed onto DIR when complete; an existing empty DIR (`.`, a mount point) is written in place and
emptied again; either way a failed or interrupted (SIGINT, SIGTERM) extraction leaves nothing in DIR. With --force a non-empty DIR is written in place: the image's
entries replace what is in their place, everything else in DIR stays, and a failure leaves what was
written so far. Prints `extracted REF (DIGEST) into DIR: N files, ...`.

Examples:
  regcli extract 127.0.0.1:5000/org/app:v1 ./rootfs
  regcli extract --platform linux/arm64 127.0.0.1:5000/org/app:v1 ./rootfs-arm64
  regcli extract --force oci:./layout:v2 ./rootfs      # over an earlier extraction"#;

/// Write an image's flattened filesystem into a directory, safely.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct ExtractArgs {
    /// The image (from an index: --platform, else the host's).
    pub(crate) reference: String,
    /// The directory to write (missing or empty; a non-empty one needs --force).
    pub(crate) dir: String,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Write into DIR even when it is not empty, in place (no rename, so a failure leaves what was written): the
    /// image's entries replace files, links and empty directories in their place; nothing else in DIR is
    /// removed.
    #[arg(long)]
    pub(crate) force: bool,
}

/// How DIR is written.
#[derive(Debug, PartialEq, Eq)]
enum Writing {
    /// Into a new sibling temporary directory renamed onto this missing path when complete.
    Renamed(PathBuf),
    /// Into this existing empty directory (its own mode, owner and mount kept: `.`, a mount point, a directory
    /// in a parent the user cannot write), emptied again on a failure or a signal.
    IntoEmpty,
    /// In place: a non-empty directory and --force.
    InPlace,
}

/// How `dir` is to be written. Exit 2 when it is no directory, or not empty without `force`.
fn check_dir(dir: &Path, text: &str, force: bool) -> Result<Writing, Failure> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Writing::Renamed(dir.to_path_buf())),
        Err(e) => Err(Failure::failed(format!("extract: {text}: {e}"))),
        Ok(_) if !dir.is_dir() => Err(Failure::usage(format!("extract: {text} exists and is not a directory"))),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(dir).map_err(|e| Failure::failed(format!("extract: cannot read {text}: {e}")))?;
            if entries.next().is_some() {
                if !force {
                    return Err(Failure::usage(format!(
                        "extract: {text} is not empty: extract into a new or empty directory, or add --force to \
                         write into it (the image's entries replace what is in their place)"
                    )));
                }
                return Ok(Writing::InPlace);
            }
            Ok(Writing::IntoEmpty)
        }
    }
}

/// A reader that fails once `stop` is set, so an unpack on a blocking thread ends at its next read.
struct Stoppable<R> {
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("stopped by a signal"));
        }
        self.inner.read(buf)
    }
}

/// SIGTERM and SIGINT, watched from the start of a run (so none ends the process while a partial directory
/// exists).
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn watch() -> Result<Signals, Failure> {
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(term), Ok(int)) => Ok(Signals { term, int }),
            (Err(e), _) | (_, Err(e)) => Err(Failure::failed(format!("extract: cannot watch SIGTERM / SIGINT: {e}"))),
        }
    }
}

/// How long a stopped unpack is waited for before its directory is cleaned up anyway: 5 seconds.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Unpack `image` into `dir`, counting the tar bytes into a bar on a terminal. SIGINT or SIGTERM stops it (the
/// unpack ends at its next read) and is the error.
async fn unpack(
    image: &Image,
    dir: PathBuf,
    settings: &Settings,
    what: &str,
    signals: &mut Signals,
) -> Result<ExtractSummary, String> {
    let bar = tar_progress::bar(settings, what);
    let tar = Counted::new(image.extract_with(ExtractOptions::default()), bar.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let mut reader = Stoppable { inner: tokio_util::io::SyncIoBridge::new(tar), stop: stop.clone() };
    let options = ExtractOptions::default();
    let mut task = tokio::task::spawn_blocking(move || unpack_tar_with_summary(&mut reader, &dir, &options));
    let signalled = tokio::select! {
        result = &mut task => Ok(result),
        _ = signals.term.recv() => Err("interrupted by SIGTERM"),
        _ = signals.int.recv() => Err("interrupted by SIGINT"),
    };
    let result = match signalled {
        Ok(result) => result,
        Err(why) => {
            // Let the unpack end before its directory is removed: at its next read, which a stalled registry can
            // hold up to the read timeout; so at most STOP_WAIT, or until a second signal.
            stop.store(true, Ordering::Relaxed);
            tokio::select! {
                _ = &mut task => {}
                () = tokio::time::sleep(STOP_WAIT) => {}
                _ = signals.term.recv() => {}
                _ = signals.int.recv() => {}
            }
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Err(why.to_string());
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(Ok(summary)) => Ok(summary),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the extraction task failed: {e}")),
    }
}

/// A new empty directory beside `dir` (`.NAME.partial-XXXX`, same parent, so a rename moves it onto `dir`),
/// with the mode a new directory gets (0777 less the umask). The parent exists (checked with `refs::check_parent`).
fn partial_dir(dir: &Path, text: &str) -> Result<tempfile::TempDir, Failure> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "extract".to_string());
    tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(parent)
        .map_err(|e| Failure::failed(format!("extract: cannot create a directory beside {text}: {e}")))
}

/// A run stopped by `signal` before anything was written.
fn interrupted(reference: &str, signal: &str) -> Failure {
    Failure::failed(format!("extract {reference}: interrupted by {signal}: nothing written"))
}

/// Remove everything in `dir` (which was empty before the run), keeping `dir` itself.
fn empty_again(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Run `regcli extract`.
pub(crate) async fn run(args: ExtractArgs, settings: Settings) -> Result<(), Failure> {
    let mut signals = Signals::watch()?;
    let dir = PathBuf::from(&args.dir);
    crate::refs::check_parent(&format!("extract: {}", args.dir), &dir)?;
    let into = check_dir(&dir, &args.dir, args.force)?;
    let started = Instant::now();
    // Watched from here on, a signal must still end the run while the image is read (nothing written yet).
    let image = tokio::select! {
        image = read_image("extract", &args.reference, args.platform.as_deref(), &settings) => image?,
        _ = signals.term.recv() => return Err(interrupted(&args.reference, "SIGTERM")),
        _ = signals.int.recv() => return Err(interrupted(&args.reference, "SIGINT")),
    };
    let what = format!("extract {}", args.reference);
    let fail = |why: String, left: &str| {
        Failure::failed(format!("extract {} into {}: {why} ({left})", args.reference, args.dir))
    };
    let summary = match into {
        Writing::InPlace => unpack(&image, dir.clone(), &settings, &what, &mut signals)
            .await
            .map_err(|why| fail(why, &format!("what was written before the error is left in {}", args.dir)))?,
        Writing::IntoEmpty => match unpack(&image, dir.clone(), &settings, &what, &mut signals).await {
            Ok(summary) => summary,
            Err(why) => {
                let left = match empty_again(&dir) {
                    Ok(()) => format!("{} is empty again", args.dir),
                    Err(e) => format!("{} could not be emptied again: {e}", args.dir),
                };
                return Err(fail(why, &left));
            }
        },
        Writing::Renamed(final_dir) => {
            let partial = partial_dir(&final_dir, &args.dir)?;
            // On an error or a signal the partial directory is removed (dropped); DIR is never touched.
            let summary = unpack(&image, partial.path().to_path_buf(), &settings, &what, &mut signals)
                .await
                .map_err(|why| fail(why, &format!("nothing written to {}", args.dir)))?;
            // rename(2) puts a directory onto a missing path or an empty directory, and fails on anything else
            // (someone wrote there meanwhile): then nothing of theirs is touched.
            std::fs::rename(partial.path(), &final_dir).map_err(|e| {
                fail(format!("cannot rename the finished tree into place: {e}"), &format!("{} untouched", args.dir))
            })?;
            // Renamed: nothing is left to remove.
            let _ = partial.keep();
            summary
        }
    };
    let json = ExtractJson::new(
        &args.reference,
        image.digest().to_string(),
        image.platform().to_string(),
        &args.dir,
        &summary,
        started.elapsed().as_secs_f64(),
    );
    if settings.json() {
        print_json(&json)
    } else {
        print(&extract_text(&json))?;
        Ok(())
    }
}
