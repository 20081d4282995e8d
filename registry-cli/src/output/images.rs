//! What the image commands print (`export`, `extract`, `mutate`, `validate`): text and JSON shapes.

use registry_client::{ExtractSummary, Problem, ValidationReport};
use serde::Serialize;

use crate::output::mib;

/// `regcli export REF FILE --format json`: what was written where.
#[derive(Debug, Serialize)]
pub(crate) struct ExportJson<'a> {
    /// The image, as given.
    pub(crate) source: &'a str,
    /// The digest of the image manifest exported (`sha256:<hex>`; the platform's child of an index).
    pub(crate) digest: String,
    /// The image's platform (`os/arch[/variant]`).
    pub(crate) platform: String,
    /// The tar file written.
    pub(crate) file: &'a str,
    /// Its size, in bytes.
    pub(crate) bytes: u64,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

/// `exported REF (sha256:..., linux/amd64) to FILE: 12.3 MiB in 0.4 s`.
pub(crate) fn export_text(json: &ExportJson<'_>) -> String {
    format!(
        "exported {} ({}, {}) to {}: {} in {:.1} s\n",
        json.source,
        json.digest,
        json.platform,
        json.file,
        mib(json.bytes),
        json.seconds
    )
}

/// `regcli extract --format json`: what was written into the directory.
#[derive(Debug, Serialize)]
pub(crate) struct ExtractJson<'a> {
    /// The image, as given.
    pub(crate) source: &'a str,
    /// The digest of the image manifest extracted (`sha256:<hex>`).
    pub(crate) digest: String,
    /// The image's platform (`os/arch[/variant]`).
    pub(crate) platform: String,
    /// The directory, as given.
    pub(crate) dir: &'a str,
    /// Regular files written.
    pub(crate) files: u64,
    /// Directories.
    pub(crate) directories: u64,
    /// Symbolic links.
    pub(crate) symlinks: u64,
    /// Hard links.
    pub(crate) hard_links: u64,
    /// Device nodes and FIFOs skipped (never created by `regcli extract`).
    pub(crate) skipped: u64,
    /// Bytes of file contents written.
    pub(crate) bytes: u64,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

impl<'a> ExtractJson<'a> {
    /// The JSON shape of `summary`.
    pub(crate) fn new(
        source: &'a str,
        digest: String,
        platform: String,
        dir: &'a str,
        summary: &ExtractSummary,
        seconds: f64,
    ) -> ExtractJson<'a> {
        ExtractJson {
            source,
            digest,
            platform,
            dir,
            files: summary.files,
            directories: summary.directories,
            symlinks: summary.symlinks,
            hard_links: summary.hard_links,
            skipped: summary.skipped,
            bytes: summary.bytes,
            seconds,
        }
    }
}

/// `extracted REF (sha256:...) into DIR: N files (X MiB), N directories, N symlinks, N hard links` and, when
/// some were, `; N device nodes or FIFOs skipped`.
pub(crate) fn extract_text(json: &ExtractJson<'_>) -> String {
    let mut text = format!(
        "extracted {} ({}) into {}: {} files ({}), {} directories, {} symlinks, {} hard links",
        json.source,
        json.digest,
        json.dir,
        json.files,
        mib(json.bytes),
        json.directories,
        json.symlinks,
        json.hard_links
    );
    if json.skipped > 0 {
        text.push_str(&format!("; {} device nodes or FIFOs skipped", json.skipped));
    }
    text.push('\n');
    text
}

/// `regcli mutate --format json`: the image pushed and what moved.
#[derive(Debug, Serialize)]
pub(crate) struct MutateJson<'a> {
    /// The base image, as given (its manifest and blobs unchanged; a tag may be moved when NEWREF names it).
    pub(crate) source: &'a str,
    /// Where the new image went, as written (with the tag used).
    pub(crate) target: String,
    /// The new image's manifest digest (`sha256:<hex>`).
    pub(crate) digest: String,
    /// The base image's manifest digest (the platform's child of an index).
    pub(crate) source_digest: String,
    /// The image's platform (`os/arch[/variant]`).
    pub(crate) platform: String,
    /// Layers appended.
    pub(crate) layers_added: usize,
    /// Layers sent to the target (the new ones, and base layers it lacked).
    pub(crate) layers_uploaded: usize,
    /// Blobs (layers, config) sent to the target.
    pub(crate) blobs_uploaded: usize,
    /// Blobs the target linked from another repository of its own.
    pub(crate) blobs_mounted: usize,
    /// Blobs the target had already.
    pub(crate) blobs_skipped: usize,
    /// Bytes sent, by the blobs' sizes.
    pub(crate) bytes_uploaded: u64,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

/// `mutated SRC -> TARGET sha256:... (N layer(s) added; blobs: N uploaded (X MiB), N mounted, N skipped)`.
pub(crate) fn mutate_text(json: &MutateJson<'_>) -> String {
    format!(
        "mutated {} -> {} {} ({} layer{} added; blobs: {} uploaded ({}), {} mounted, {} skipped)\n",
        json.source,
        json.target,
        json.digest,
        json.layers_added,
        if json.layers_added == 1 { "" } else { "s" },
        json.blobs_uploaded,
        mib(json.bytes_uploaded),
        json.blobs_mounted,
        json.blobs_skipped
    )
}

/// One problem of `regcli validate --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct ProblemJson {
    /// What is wrong (`blob_digest`, `diff_id`, `blob_missing`, ...).
    pub(crate) kind: &'static str,
    /// The digest of the object at fault (a blob or a manifest).
    pub(crate) subject: String,
    /// The manifest naming it (`null` for the top manifest itself).
    pub(crate) manifest: Option<String>,
    /// What was expected and what was found.
    pub(crate) message: String,
}

impl ProblemJson {
    fn new(problem: &Problem) -> ProblemJson {
        ProblemJson {
            kind: problem.kind().as_str(),
            subject: problem.subject().to_string(),
            manifest: problem.manifest().map(ToString::to_string),
            message: problem.message().to_string(),
        }
    }
}

/// `regcli validate --format json`: the report.
#[derive(Debug, Serialize)]
pub(crate) struct ValidateJson<'a> {
    /// The image or index, as given.
    pub(crate) source: &'a str,
    /// The top manifest's digest (`sha256:<hex>`).
    pub(crate) digest: String,
    /// The top manifest's media type.
    pub(crate) media_type: String,
    /// Whether no problem was found.
    pub(crate) valid: bool,
    /// Every problem, in the order found.
    pub(crate) problems: Vec<ProblemJson>,
    /// Manifests checked (the top one included).
    pub(crate) manifests_checked: usize,
    /// Distinct blobs read (configs and layers).
    pub(crate) blobs_checked: usize,
    /// Blob bytes read, as stored (compressed).
    pub(crate) bytes_read: u64,
    /// Wall time, in seconds.
    pub(crate) seconds: f64,
}

impl<'a> ValidateJson<'a> {
    /// The JSON shape of `report`.
    pub(crate) fn new(source: &'a str, report: &ValidationReport, seconds: f64) -> ValidateJson<'a> {
        ValidateJson {
            source,
            digest: report.subject().to_string(),
            media_type: report.media_type().to_string(),
            valid: report.is_valid(),
            problems: report.problems().iter().map(ProblemJson::new).collect(),
            manifests_checked: report.manifests_checked(),
            blobs_checked: report.blobs_checked(),
            bytes_read: report.bytes_read(),
            seconds,
        }
    }
}

/// One line per problem (`KIND SUBJECT: MESSAGE (in MANIFEST)`), then
/// `valid REF (sha256:...): N manifests, N blobs, X MiB checked` or `invalid REF (...): N problems; ...`.
pub(crate) fn validate_text(source: &str, report: &ValidationReport) -> String {
    let mut text = String::new();
    for problem in report.problems() {
        text.push_str(&format!("{problem}\n"));
    }
    let verdict = if report.is_valid() {
        "valid".to_string()
    } else {
        let n = report.problems().len();
        format!("invalid ({n} problem{})", if n == 1 { "" } else { "s" })
    };
    text.push_str(&format!(
        "{verdict}: {source} ({}, {}): {}, {}, {} checked\n",
        report.subject(),
        report.media_type(),
        super::counted(report.manifests_checked(), "manifest"),
        super::counted(report.blobs_checked(), "blob"),
        mib(report.bytes_read())
    ));
    text
}
