//! What a validation found: a [`ValidationReport`] listing every [`Problem`], each with a typed [`ProblemKind`],
//! the digest of the object at fault and a message.

use std::fmt;

use registry_core::Digest;

/// What is wrong with one object of an image or index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A blob (config or layer) the manifest names is not in the source.
    BlobMissing,
    /// A blob could not be read (network, permission, a source error other than absence).
    BlobUnreadable,
    /// A blob's bytes hash to another digest than its descriptor's.
    BlobDigest,
    /// A blob's length differs from its descriptor's size.
    BlobSize,
    /// A layer's uncompressed content hashes to another digest than the config's `rootfs.diff_ids` entry.
    DiffId,
    /// A layer does not decompress (broken gzip or zstd), or passes the decompression limits.
    LayerCorrupt,
    /// A layer's media type is no tar layer type (in an image whose config is an image config).
    LayerMediaType,
    /// The config is no valid image configuration (not JSON, a bad `rootfs`, a malformed `diff_id`, too big).
    ConfigInvalid,
    /// The config's media type does not fit the manifest (a docker manifest with an OCI config, or the reverse).
    ConfigMediaType,
    /// The manifest's layer count differs from the config's `rootfs.diff_ids` count.
    LayerCount,
    /// An index names a manifest the source does not have.
    ChildMissing,
    /// An index's child could not be read (network, a bad manifest, a digest mismatch).
    ChildUnreadable,
    /// An index's descriptor does not describe its child: another size or media type.
    ChildDescriptor,
    /// An index entry's platform differs from the child's config (`os`, `architecture`, `variant`).
    PlatformMismatch,
    /// An index names itself or one of the indexes that lead to it.
    Cycle,
    /// The validation stopped at a limit (manifests, depth, or a layer's decompression caps): what lies beyond was
    /// not checked.
    LimitReached,
}

impl ProblemKind {
    /// A stable snake_case name (`blob_digest`, `diff_id`, ...), for JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::BlobMissing => "blob_missing",
            ProblemKind::BlobUnreadable => "blob_unreadable",
            ProblemKind::BlobDigest => "blob_digest",
            ProblemKind::BlobSize => "blob_size",
            ProblemKind::DiffId => "diff_id",
            ProblemKind::LayerCorrupt => "layer_corrupt",
            ProblemKind::LayerMediaType => "layer_media_type",
            ProblemKind::ConfigInvalid => "config_invalid",
            ProblemKind::ConfigMediaType => "config_media_type",
            ProblemKind::LayerCount => "layer_count",
            ProblemKind::ChildMissing => "child_missing",
            ProblemKind::ChildUnreadable => "child_unreadable",
            ProblemKind::ChildDescriptor => "child_descriptor",
            ProblemKind::PlatformMismatch => "platform_mismatch",
            ProblemKind::Cycle => "cycle",
            ProblemKind::LimitReached => "limit_reached",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem: what kind, which object (a blob's or manifest's digest), in which manifest, and a message
/// saying what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    kind: ProblemKind,
    subject: Digest,
    manifest: Option<Digest>,
    message: String,
}

impl Problem {
    pub(crate) fn new(
        kind: ProblemKind,
        subject: Digest,
        manifest: Option<Digest>,
        message: impl Into<String>,
    ) -> Problem {
        Problem { kind, subject, manifest, message: message.into() }
    }

    /// What is wrong.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The digest of the object at fault: a blob, or a manifest (an index child, an image).
    pub fn subject(&self) -> &Digest {
        &self.subject
    }

    /// The manifest that names the subject (`None` for the top manifest itself).
    pub fn manifest(&self) -> Option<&Digest> {
        self.manifest.as_ref()
    }

    /// What was expected and what was found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.subject, self.message)?;
        if let Some(m) = &self.manifest {
            write!(f, " (in {m})")?;
        }
        Ok(())
    }
}

/// The result of validating an image or an index: the top manifest's digest, how much was checked, and every
/// problem found (empty when all is well), in the order met.
#[derive(Debug, Clone)]
pub struct ValidationReport {
    subject: Digest,
    media_type: String,
    pub(crate) manifests: usize,
    pub(crate) blobs: usize,
    pub(crate) bytes: u64,
    pub(crate) problems: Vec<Problem>,
}

impl ValidationReport {
    pub(crate) fn new(subject: Digest, media_type: impl Into<String>) -> ValidationReport {
        ValidationReport {
            subject,
            media_type: media_type.into(),
            manifests: 0,
            blobs: 0,
            bytes: 0,
            problems: Vec::new(),
        }
    }

    /// Whether nothing was found wrong.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// The top manifest's digest.
    pub fn subject(&self) -> &Digest {
        &self.subject
    }

    /// The top manifest's media type.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// Every problem found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems of one kind.
    pub fn problems_of(&self, kind: ProblemKind) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(move |p| p.kind == kind)
    }

    /// How many manifests were checked (the top one included).
    pub fn manifests_checked(&self) -> usize {
        self.manifests
    }

    /// How many distinct blobs were read (configs and layers).
    pub fn blobs_checked(&self) -> usize {
        self.blobs
    }

    /// How many blob bytes were read, as stored (compressed).
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} manifests, {} blobs, {} bytes checked; ",
            self.subject, self.media_type, self.manifests, self.blobs, self.bytes
        )?;
        if self.problems.is_empty() {
            return f.write_str("no problems");
        }
        write!(f, "{} problems", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}
