//! `regcli extract REF DIR`: the flattened filesystem written safely to a directory (`unpack_tar_with_summary`
//! over `Image::extract_with`, the library's safe defaults), with counts of what was written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use registry_client::{unpack_tar_with_summary, ExtractOptions, ExtractSummary, Image};

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

DIR is created when missing (and removed again when the extraction fails). An existing DIR must be
empty unless --force is given: then the image's entries replace what is in their place and
everything else in DIR stays. Prints `extracted REF (DIGEST) into DIR: N files, ...`.

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
    /// The directory to write into (created if missing; must be empty unless --force).
    pub(crate) dir: String,
    /// The platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Write into DIR even when it is not empty: the image's entries replace files, links and empty directories
    /// in their place; nothing else in DIR is removed.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Whether `dir` is there, checked for use: `Ok(true)` when it exists (a directory, empty or `force`),
/// `Ok(false)` when missing. Exit 2 when it is no directory or not empty without `force`.
fn check_dir(dir: &Path, text: &str, force: bool) -> Result<bool, Failure> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::failed(format!("extract: {text}: {e}"))),
        Ok(_) if !dir.is_dir() => Err(Failure::usage(format!("extract: {text} exists and is not a directory"))),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(dir).map_err(|e| Failure::failed(format!("extract: cannot read {text}: {e}")))?;
            if entries.next().is_some() && !force {
                return Err(Failure::usage(format!(
                    "extract: {text} is not empty: extract into a new or empty directory, or add --force to write \
                     into it (the image's entries replace what is in their place)"
                )));
            }
            Ok(true)
        }
    }
}

/// Unpack `image` into `dir`, counting the tar bytes into a bar on a terminal.
async fn unpack(image: &Image, dir: PathBuf, settings: &Settings, what: &str) -> Result<ExtractSummary, String> {
    let bar = tar_progress::bar(settings, what);
    let tar = Counted::new(image.extract_with(ExtractOptions::default()), bar.clone());
    let mut reader = tokio_util::io::SyncIoBridge::new(tar);
    let options = ExtractOptions::default();
    let result = tokio::task::spawn_blocking(move || unpack_tar_with_summary(&mut reader, &dir, &options)).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(Ok(summary)) => Ok(summary),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the extraction task failed: {e}")),
    }
}

/// Run `regcli extract`.
pub(crate) async fn run(args: ExtractArgs, settings: Settings) -> Result<(), Failure> {
    let dir = PathBuf::from(&args.dir);
    let existed = check_dir(&dir, &args.dir, args.force)?;
    let started = Instant::now();
    let image = read_image("extract", &args.reference, args.platform.as_deref(), &settings).await?;
    if !existed {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::failed(format!("extract: cannot create {}: {e}", args.dir)))?;
    }
    let summary = match unpack(&image, dir.clone(), &settings, &format!("extract {}", args.reference)).await {
        Ok(summary) => summary,
        Err(why) => {
            let left = if existed {
                format!("what was written before the error is left in {}", args.dir)
            } else {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => format!("{} removed", args.dir),
                    Err(e) => format!("{} left half-written (cannot remove it: {e})", args.dir),
                }
            };
            return Err(Failure::failed(format!("extract {} into {}: {why} ({left})", args.reference, args.dir)));
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
