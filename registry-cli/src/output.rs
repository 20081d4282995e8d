//! What goes to stdout: sync reports and copy reports here, each other command's shapes in a submodule; text for
//! people or one JSON document.

pub(crate) mod auth;
pub(crate) mod images;
pub(crate) mod reads;

use std::io::Write;

use registry_client::sync::{ImageReport, ImageStatus, SyncReport};
use registry_client::CopyReport;
use serde::Serialize;

use crate::archives::Written;
use crate::failure::Failure;

/// `1 manifest`, `2 manifests`: `n` and `noun`, plural when `n` is not 1.
pub(crate) fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `12.3 MiB` for a byte count.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The word of a status, padded so lines align (`copied  `).
fn status_word(status: ImageStatus) -> &'static str {
    match status {
        ImageStatus::Planned => "planned ",
        ImageStatus::Copied => "copied  ",
        ImageStatus::Skipped => "skipped ",
        ImageStatus::Conflict => "conflict",
        ImageStatus::Failed => "failed  ",
        ImageStatus::NotStarted => "not started",
        _ => "?       ",
    }
}

/// One finished image: `copied    src -> dst  sha256:...  12.3 MiB` (and the error of a failed or conflicting one).
pub(crate) fn image_line(image: &ImageReport) -> String {
    let mut line = format!("{}  {} -> {}", status_word(image.status), image.source, image.target);
    if let Some(digest) = &image.digest {
        line.push_str(&format!("  {digest}"));
    }
    if image.bytes > 0 {
        line.push_str(&format!("  {}", mib(image.bytes)));
    }
    if let Some(error) = &image.error {
        line.push_str(&format!(": {error}"));
    }
    line
}

/// How many images of `report` have `status`.
pub(crate) fn count(report: &SyncReport, status: ImageStatus) -> usize {
    report.images.iter().filter(|i| i.status == status).count()
}

/// `N copied, N skipped, N conflicts, N failed; blobs: N uploaded, N mounted, N skipped; X MiB in S s`
/// (`N planned` first in a dry run; `, N not started` when a signal left some), then what a signal did.
pub(crate) fn summary(report: &SyncReport, dry_run: bool) -> String {
    let bytes: u64 = report.images.iter().map(|i| i.bytes).fold(0, u64::saturating_add);
    let first = if dry_run {
        format!("{} planned", count(report, ImageStatus::Planned))
    } else {
        format!("{} copied", report.copied)
    };
    let not_started =
        if report.not_started > 0 { format!(", {} not started", report.not_started) } else { String::new() };
    let mut text = format!(
        "{first}, {} skipped, {} conflicts, {} failed{not_started}; blobs: {} uploaded, {} mounted, {} skipped; {} in {:.1} s",
        report.skipped,
        report.conflicts,
        report.failed,
        report.blobs.uploaded,
        report.blobs.mounted,
        report.blobs.skipped,
        mib(bytes),
        report.seconds,
    );
    if report.interrupted {
        text.push_str(&interrupted_words(report));
    }
    text
}

/// What a signal did to `report`'s run: ` (interrupted by a signal: N not started)`, or that it came when every
/// image had started.
pub(crate) fn interrupted_words(report: &SyncReport) -> String {
    if report.not_started > 0 {
        format!(" (interrupted by a signal: {} not started)", report.not_started)
    } else {
        " (a signal came after every image had started: they all ran)".to_string()
    }
}

/// The end of a sync in text: the summary, then each failure and conflict with its error.
pub(crate) fn sync_text(report: &SyncReport, dry_run: bool) -> String {
    let mut text = summary(report, dry_run);
    text.push('\n');
    for image in &report.images {
        if matches!(image.status, ImageStatus::Failed | ImageStatus::Conflict) {
            text.push_str(&format!(
                "{} {} -> {}: {}\n",
                status_word(image.status).trim_end(),
                image.source,
                image.target,
                image.error.as_deref().unwrap_or("(no error given)")
            ));
        }
    }
    text
}

/// Write `text` to stdout. A closed pipe (`| head`) is no error of the run; any other write error (a full disk,
/// `> /dev/full`) is a failure (exit 1), so a truncated output never exits 0.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    write_stdout(terminal_safe(text).as_bytes())
}

/// `text` with every control character but newline and tab shown as `?`: labels, annotations, artifact types and
/// tags come from registries and files, and an escape sequence among them must not drive the terminal. (JSON
/// output escapes them; `manifest` and `config` write their exact bytes through [`write_stdout`].)
pub(crate) fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '?' } else { c }).collect()
}

/// Write `bytes` to stdout exactly, as [`print`] does.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::failed(format!("writing to stdout: {e}"))),
    }
}

/// [`print`] for progress lines written while work runs: a write error is left for the final output to report.
pub(crate) fn print_progress_line(text: &str) {
    let _ = print(text);
}

/// `value` as one line of JSON on stdout.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string(value).map_err(|e| Failure::failed(format!("report as JSON: {e}")))?;
    text.push('\n');
    print(&text)
}

/// A [`CopyReport`] with its ends, as `regcli cp --format json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct CopyJson<'a> {
    /// What was copied, as given.
    pub(crate) source: &'a str,
    /// Where to, with the tag written.
    pub(crate) target: &'a str,
    /// The source manifest's digest.
    pub(crate) source_digest: String,
    /// The digest written on the target.
    pub(crate) target_digest: String,
    /// Why the digests differ (a platform filter), if they do.
    pub(crate) digest_changed: Option<&'a str>,
    /// Manifests put on the target.
    pub(crate) manifests_copied: usize,
    /// Blobs uploaded.
    pub(crate) blobs_uploaded: usize,
    /// Blobs mounted from another repository.
    pub(crate) blobs_mounted: usize,
    /// Blobs the target had.
    pub(crate) blobs_skipped: usize,
    /// Bytes uploaded.
    pub(crate) bytes_uploaded: u64,
    /// Referrers copied.
    pub(crate) referrers_copied: usize,
    /// Cosign-style digest tags copied (`sha256-<hex>.sig`, `.att`, `.sbom`).
    pub(crate) digest_tags_copied: usize,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

impl<'a> CopyJson<'a> {
    /// The JSON shape of `report`.
    pub(crate) fn new(source: &'a str, target: &'a str, report: &'a CopyReport, seconds: f64) -> CopyJson<'a> {
        CopyJson {
            source,
            target,
            source_digest: report.source_digest.to_string(),
            target_digest: report.target_digest.to_string(),
            digest_changed: report.digest_changed.as_deref(),
            manifests_copied: report.manifests_copied,
            blobs_uploaded: report.blobs_uploaded,
            blobs_mounted: report.blobs_mounted,
            blobs_skipped: report.blobs_skipped,
            bytes_uploaded: report.bytes_uploaded,
            referrers_copied: report.referrers_copied,
            digest_tags_copied: report.digest_tags_copied,
            seconds,
        }
    }
}

/// `copied SRC -> DST sha256:.. (N blobs uploaded, N mounted, N skipped, X MiB)` and the reason when the digest
/// changed.
pub(crate) fn copy_text(source: &str, target: &str, report: &CopyReport, seconds: f64) -> String {
    let mut text = format!(
        "copied {source} -> {target} {} ({} blobs uploaded, {} mounted, {} skipped, {} in {seconds:.1} s)\n",
        report.target_digest,
        report.blobs_uploaded,
        report.blobs_mounted,
        report.blobs_skipped,
        mib(report.bytes_uploaded),
    );
    if report.referrers_copied > 0 {
        text.push_str(&format!("  {} copied\n", counted(report.referrers_copied, "referrer")));
    }
    if report.digest_tags_copied > 0 {
        text.push_str(&format!("  {} digest tags copied (sha256-<hex>.sig, .att, .sbom)\n", report.digest_tags_copied));
    }
    if let Some(why) = &report.digest_changed {
        text.push_str(&format!("  digest changed from {}: {why}\n", report.source_digest));
    }
    text
}

/// An archive written by `regcli cp`, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct ArchiveJson<'a> {
    /// What was copied, as given.
    pub(crate) source: &'a str,
    /// The archive, as given.
    pub(crate) target: &'a str,
    /// The digest of the manifest written (an index or an image).
    pub(crate) target_digest: String,
    /// The platform chosen from an index, when one was.
    pub(crate) platform: Option<&'a str>,
    /// Blobs written.
    pub(crate) blobs_written: usize,
    /// Their bytes.
    pub(crate) bytes_written: u64,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

impl<'a> ArchiveJson<'a> {
    /// The JSON shape of `written`.
    pub(crate) fn new(source: &'a str, target: &'a str, written: &'a Written, seconds: f64) -> ArchiveJson<'a> {
        ArchiveJson {
            source,
            target,
            target_digest: written.digest.to_string(),
            platform: written.platform.as_deref(),
            blobs_written: written.blobs,
            bytes_written: written.bytes,
            seconds,
        }
    }
}

/// `copied SRC -> ARCHIVE sha256:.. (platform P, N blobs, X MiB written in S s)`.
pub(crate) fn archive_text(source: &str, target: &str, written: &Written, seconds: f64) -> String {
    let platform = written.platform.as_deref().map(|p| format!("platform {p}, ")).unwrap_or_default();
    format!(
        "copied {source} -> {target} {} ({platform}{} blobs, {} written in {seconds:.1} s)\n",
        written.digest,
        written.blobs,
        mib(written.bytes)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_output_never_carries_escape_sequences() {
        assert_eq!(super::terminal_safe("label evil=a\u{1b}[31mRED\u{7}\tx\n"), "label evil=a?[31mRED?\tx\n");
        assert!(matches!(super::terminal_safe("plain\n"), std::borrow::Cow::Borrowed(_)));
    }
}
