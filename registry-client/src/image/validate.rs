//! Validation, as `crane validate` and `regctl image check` do it: an image or an index from any source (a
//! registry, an OCI layout, an archive, memory) read whole and checked: every blob's digest and size (each blob
//! streamed and hashed once, never held in memory), every layer's `diff_id` (decompressed on the way), the config
//! against the manifest (media type, layer count, an index entry's platform), every index child present and
//! valid. Every problem found is reported, not only the first. The work is bounded: a visited set and limits on
//! the number of manifests and the nesting depth, so a hostile index with a cycle or thousands of children ends.

mod blob_check;
pub(crate) mod report;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use oci_spec::image::{Descriptor, ImageConfiguration};
use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::{Digest, ErrorKind, Result};

use crate::client::Client;
use crate::image::compression::{Compression, DecompressionLimits};
use crate::image::model::{BlobSource, Image, MAX_CONFIG_SIZE};
use crate::image::platform::Platform;
use crate::image::validate::blob_check::{check_blob, BlobOutcome, Reading};
use crate::image::validate::report::{Problem, ProblemKind, ValidationReport};

/// Limits and switches of a validation.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ValidateOptions {
    max_manifests: usize,
    max_depth: usize,
    limits: DecompressionLimits,
    diff_ids: bool,
    concurrency: usize,
}

impl Default for ValidateOptions {
    /// At most 10,000 manifests, indexes nested at most 8 deep, the default decompression limits, `diff_id`s
    /// checked, 4 blobs read at a time.
    fn default() -> ValidateOptions {
        ValidateOptions {
            max_manifests: 10_000,
            max_depth: 8,
            limits: DecompressionLimits::default(),
            diff_ids: true,
            concurrency: 4,
        }
    }
}

impl ValidateOptions {
    /// The defaults (see [`ValidateOptions::default`]).
    pub fn new() -> ValidateOptions {
        ValidateOptions::default()
    }

    /// Check at most `n` manifests (the top one included); past it, a [`ProblemKind::LimitReached`] problem.
    pub fn max_manifests(mut self, n: usize) -> ValidateOptions {
        self.max_manifests = n.max(1);
        self
    }

    /// Follow indexes at most `depth` levels below the top one; deeper, a [`ProblemKind::LimitReached`] problem.
    pub fn max_depth(mut self, depth: usize) -> ValidateOptions {
        self.max_depth = depth;
        self
    }

    /// The caps on each layer's decompression (a layer past them is [`ProblemKind::LayerCorrupt`]).
    pub fn decompression_limits(mut self, limits: DecompressionLimits) -> ValidateOptions {
        self.limits = limits;
        self
    }

    /// Whether to decompress layers and compare their `diff_id`s (on by default); off, layers are only hashed.
    pub fn diff_ids(mut self, on: bool) -> ValidateOptions {
        self.diff_ids = on;
        self
    }

    /// How many blobs are read at a time (at least 1).
    pub fn concurrency(mut self, n: usize) -> ValidateOptions {
        self.concurrency = n.max(1);
        self
    }
}

/// Validate the image or index `reference` (a tag or `@digest`, relative to the client's scope) of `client`,
/// with the default [`ValidateOptions`]. See [`validate_with`].
///
/// ```no_run
/// use registry_client::{validate, Client, ProblemKind, RemoteClient};
/// # async fn demo() -> registry_client::Result<()> {
/// let client = RemoteClient::builder("registry.example.com").build()?;
/// let report = validate(client.with_segment("org/app").as_ref(), "v1").await?;
/// for problem in report.problems() {
///     eprintln!("{problem}"); // e.g. "diff_id sha256:...: ... (in sha256:...)"
/// }
/// let missing = report.problems_of(ProblemKind::BlobMissing).count();
/// # let _ = missing;
/// # Ok(()) }
/// ```
pub async fn validate(client: &dyn Client, reference: &str) -> Result<ValidationReport> {
    validate_with(client, reference, ValidateOptions::default()).await
}

/// Validate the image or index `reference` of `client`: read its manifest, every child of an index (by digest),
/// every config and layer through [`Client::blobs`], and list every problem found in the report.
///
/// `Err` only when the top manifest cannot be read at all (the error of [`Client::get_manifest`]: `NotFound`,
/// `InvalidInput` for a malformed reference, a network error) or the client has no repository
/// (`InvalidInput`); everything else, a missing blob or child included, is a [`Problem`] in the report.
pub async fn validate_with(client: &dyn Client, reference: &str, options: ValidateOptions) -> Result<ValidationReport> {
    let top = client.get_manifest(reference).await?.into_manifest();
    let source = client.blobs()?;
    let mut walk = Walk::new(Some(client), source, options, &top);
    walk.run(top).await;
    Ok(walk.report)
}

/// Validate an image already read: its blobs through its own source (its config from memory, verified when the
/// image was made), the same checks as [`validate_with`] with the default options. Never fails: every problem is
/// in the report.
pub async fn validate_image(image: &Image) -> ValidationReport {
    validate_image_with(image, ValidateOptions::default()).await
}

/// [`validate_image`] with options (decompression caps, `diff_id` checks, concurrency). A layer that reaches a
/// decompression cap is reported as [`ProblemKind::LimitReached`] (what lies past the cap was not checked), not
/// as a corrupt layer.
pub async fn validate_image_with(image: &Image, options: ValidateOptions) -> ValidationReport {
    let source: Arc<dyn BlobSource> = Arc::new(image.clone());
    let mut walk = Walk::new(None, source, options, image.raw_manifest());
    walk.run(image.raw_manifest().clone()).await;
    walk.report
}

/// An index entry being followed: its descriptor, the index naming it, and the chain of indexes above.
struct Entry {
    descriptor: Descriptor,
    parent: Digest,
    ancestors: Vec<Digest>,
}

struct Walk<'a> {
    client: Option<&'a dyn Client>,
    source: Arc<dyn BlobSource>,
    options: ValidateOptions,
    seen_manifests: HashSet<Digest>,
    /// Blobs checked so far, with the `diff_id` they were checked against.
    seen_blobs: HashSet<(Digest, Option<Digest>)>,
    limit_reported: bool,
    report: ValidationReport,
}

impl<'a> Walk<'a> {
    fn new(
        client: Option<&'a dyn Client>,
        source: Arc<dyn BlobSource>,
        options: ValidateOptions,
        top: &Manifest,
    ) -> Walk<'a> {
        Walk {
            client,
            source,
            options,
            seen_manifests: HashSet::from([top.digest().clone()]),
            seen_blobs: HashSet::new(),
            limit_reported: false,
            report: ValidationReport::new(top.digest().clone(), top.media_type()),
        }
    }

    fn problem(&mut self, kind: ProblemKind, subject: &Digest, manifest: Option<&Digest>, message: impl Into<String>) {
        self.report.problems.push(Problem::new(kind, subject.clone(), manifest.cloned(), message));
    }

    fn limit(&mut self, subject: &Digest, manifest: &Digest, message: String) {
        if !self.limit_reported {
            self.limit_reported = true;
            self.problem(ProblemKind::LimitReached, subject, Some(manifest), message);
        }
    }

    /// Breadth first from the top manifest; each manifest checked once.
    async fn run(&mut self, top: Manifest) {
        let mut queue: VecDeque<(Manifest, Option<Entry>)> = VecDeque::from([(top, None)]);
        while let Some((manifest, entry)) = queue.pop_front() {
            self.report.manifests = self.report.manifests.saturating_add(1);
            if let Some(entry) = &entry {
                self.check_entry(&manifest, entry);
            }
            let ancestors = entry.as_ref().map(|e| e.ancestors.clone()).unwrap_or_default();
            if let Some(index) = manifest.as_index() {
                let mut chain = ancestors;
                chain.push(manifest.digest().clone());
                for child in index.manifests() {
                    if let Some(next) = self.follow(child, manifest.digest(), &chain).await {
                        queue.push_back(next);
                    }
                }
            } else {
                let platform = entry.as_ref().and_then(|e| Platform::of_descriptor(&e.descriptor));
                self.check_image(&manifest, platform).await;
            }
        }
    }

    /// Fetch the child `child` of the index `parent` (reached through `chain`), unless it was seen, forms a
    /// cycle, or passes a limit.
    async fn follow(
        &mut self,
        child: &Descriptor,
        parent: &Digest,
        chain: &[Digest],
    ) -> Option<(Manifest, Option<Entry>)> {
        let digest = match descriptor_digest(child) {
            Ok(d) => d,
            Err(e) => {
                self.problem(ProblemKind::ChildDescriptor, parent, Some(parent), e.to_string());
                return None;
            }
        };
        if chain.contains(&digest) {
            self.problem(ProblemKind::Cycle, &digest, Some(parent), "the index names itself or an index above it");
            return None;
        }
        if self.seen_manifests.contains(&digest) {
            return None; // a child shared with another index: checked once
        }
        if chain.len() > self.options.max_depth {
            let msg = format!("indexes nested deeper than {} levels are not followed", self.options.max_depth);
            self.limit(&digest, parent, msg);
            return None;
        }
        if self.seen_manifests.len() >= self.options.max_manifests {
            let msg = format!("more than {} manifests: the rest are not checked", self.options.max_manifests);
            self.limit(&digest, parent, msg);
            return None;
        }
        self.seen_manifests.insert(digest.clone());
        let client = self.client?;
        match client.get_manifest(&format!("@{digest}")).await {
            Ok(m) if m.digest() != &digest => {
                let msg = format!("the source served the manifest {} when asked for this one", m.digest());
                self.problem(ProblemKind::ChildUnreadable, &digest, Some(parent), msg);
                None
            }
            Ok(m) => {
                let entry = Entry { descriptor: child.clone(), parent: parent.clone(), ancestors: chain.to_vec() };
                Some((m.into_manifest(), Some(entry)))
            }
            Err(e) => {
                let kind = if e.kind() == ErrorKind::NotFound {
                    ProblemKind::ChildMissing
                } else {
                    ProblemKind::ChildUnreadable
                };
                self.problem(kind, &digest, Some(parent), e.to_string());
                None
            }
        }
    }

    /// The index entry against the manifest it names: size and media type.
    fn check_entry(&mut self, manifest: &Manifest, entry: &Entry) {
        let d = &entry.descriptor;
        if d.size() != manifest.size() {
            let msg = format!("the index says {} bytes, the manifest is {}", d.size(), manifest.size());
            self.problem(ProblemKind::ChildDescriptor, manifest.digest(), Some(&entry.parent), msg);
        }
        let said = d.media_type().to_string();
        if said != manifest.media_type() {
            let msg = format!("the index says media type {said}, the manifest is {}", manifest.media_type());
            self.problem(ProblemKind::ChildDescriptor, manifest.digest(), Some(&entry.parent), msg);
        }
    }

    /// An image manifest: its config, its layers, and the platform its index entry gives.
    async fn check_image(&mut self, manifest: &Manifest, platform: Option<Platform>) {
        let Some(image) = manifest.as_image() else { return };
        let me = manifest.digest().clone();
        let config_mt = image.config().media_type().to_string();
        let docker = manifest.media_type() == media_type::DOCKER_MANIFEST;
        let is_image_config = media_type::is_image_config(&config_mt);
        let fits = if docker { config_mt == media_type::DOCKER_CONFIG } else { config_mt != media_type::DOCKER_CONFIG };
        let config_digest = match descriptor_digest(image.config()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(ProblemKind::ConfigInvalid, &me, None, e.to_string());
                None
            }
        };
        if let (Some(cd), false) = (&config_digest, fits) {
            let msg = format!("a {} manifest with a config of media type {config_mt}", manifest.media_type());
            self.problem(ProblemKind::ConfigMediaType, cd, Some(&me), msg);
        }
        let mut diff_ids: Vec<Option<Digest>> = Vec::new();
        let mut attestation = false;
        if let Some(cd) = config_digest {
            let reading = if is_image_config { Reading::Keep(MAX_CONFIG_SIZE) } else { Reading::Plain };
            let outcome = self.read_blob(&cd, image.config().size(), &me, reading).await;
            if let Some(config) = outcome.and_then(|o| o.content) {
                (diff_ids, attestation) = self.check_config(&config, &cd, &me, image.layers().len(), platform);
            }
        }
        let mut checks = Vec::new();
        for (i, layer) in image.layers().iter().enumerate() {
            let digest = match descriptor_digest(layer) {
                Ok(d) => d,
                Err(e) => {
                    self.problem(ProblemKind::BlobUnreadable, &me, None, format!("layer {i}: {e}"));
                    continue;
                }
            };
            let mt = layer.media_type().to_string();
            let reading = match (is_image_config, Compression::from_media_type(&mt)) {
                (false, _) => Reading::Plain,
                (true, _) if !self.options.diff_ids => Reading::Plain,
                (true, None) => {
                    // BuildKit's attestation manifests (config os "unknown") carry in-toto statements as layers,
                    // their diff_ids the blobs' own digests; anywhere else a non-tar layer is an error.
                    if !attestation {
                        let msg = format!("{mt} is no tar layer type");
                        self.problem(ProblemKind::LayerMediaType, &digest, Some(&me), msg);
                    }
                    Reading::Layer(Compression::None, diff_ids.get(i).cloned().flatten())
                }
                (true, Some(c)) => Reading::Layer(c, diff_ids.get(i).cloned().flatten()),
            };
            let key = (
                digest.clone(),
                match &reading {
                    Reading::Layer(_, d) => d.clone(),
                    _ => None,
                },
            );
            if self.seen_blobs.insert(key) {
                let foreign = mt.contains("foreign") || mt.contains("nondistributable");
                checks.push((digest, layer.size(), reading, foreign));
            }
        }
        let source = self.source.clone();
        let limits = self.options.limits;
        let me2 = me.clone();
        let outcomes: Vec<(bool, BlobOutcome)> = futures::stream::iter(checks)
            .map(|(digest, size, reading, foreign)| {
                let source = source.clone();
                let me = me2.clone();
                async move { (foreign, check_blob(&source, &digest, size, &me, reading, limits).await) }
            })
            .buffered(self.options.concurrency)
            .collect()
            .await;
        for (foreign, mut outcome) in outcomes {
            // A foreign (non-distributable) layer lives elsewhere: its absence from the source is expected.
            if foreign {
                outcome.problems.retain(|p| p.kind() != ProblemKind::BlobMissing);
            }
            self.count(&outcome);
            self.report.problems.extend(outcome.problems);
        }
    }

    fn count(&mut self, outcome: &BlobOutcome) {
        self.report.blobs = self.report.blobs.saturating_add(1);
        self.report.bytes = self.report.bytes.saturating_add(outcome.bytes_read);
    }

    /// Read one blob (unless it was read before), recording its problems; the outcome when it was read now.
    async fn read_blob(
        &mut self,
        digest: &Digest,
        size: u64,
        manifest: &Digest,
        reading: Reading,
    ) -> Option<BlobOutcome> {
        if !self.seen_blobs.insert((digest.clone(), None)) && !matches!(reading, Reading::Keep(_)) {
            return None;
        }
        let mut outcome = check_blob(&self.source, digest, size, manifest, reading, self.options.limits).await;
        self.count(&outcome);
        self.report.problems.append(&mut outcome.problems);
        Some(outcome)
    }

    /// The config against its manifest: parsed, layer count, platform. Returns the parsed `diff_ids` (`None` for
    /// one that is no digest) and whether the config's os is `unknown` (an attestation manifest).
    fn check_config(
        &mut self,
        bytes: &[u8],
        digest: &Digest,
        manifest: &Digest,
        layers: usize,
        platform: Option<Platform>,
    ) -> (Vec<Option<Digest>>, bool) {
        let config: ImageConfiguration = match serde_json::from_slice(bytes) {
            Ok(c) => c,
            Err(e) => {
                self.problem(ProblemKind::ConfigInvalid, digest, Some(manifest), format!("not an image config: {e}"));
                return (Vec::new(), false);
            }
        };
        if config.rootfs().typ() != "layers" {
            let msg = format!("rootfs.type is {:?}, not \"layers\"", config.rootfs().typ());
            self.problem(ProblemKind::ConfigInvalid, digest, Some(manifest), msg);
        }
        let mut diff_ids = Vec::new();
        for (i, d) in config.rootfs().diff_ids().iter().enumerate() {
            match Digest::parse(d) {
                Ok(d) => diff_ids.push(Some(d)),
                Err(e) => {
                    self.problem(ProblemKind::ConfigInvalid, digest, Some(manifest), format!("diff_ids[{i}]: {e}"));
                    diff_ids.push(None);
                }
            }
        }
        if diff_ids.len() != layers {
            let msg = format!("the manifest has {layers} layers, the config {} diff_ids", diff_ids.len());
            self.problem(ProblemKind::LayerCount, digest, Some(manifest), msg);
        }
        if let Some(said) = platform.filter(|p| p.os() != "unknown") {
            let mut actual = Platform::new(config.os().to_string(), config.architecture().to_string());
            if let Some(v) = config.variant() {
                actual = actual.with_variant(v.clone());
            }
            if !(said.matches(&actual) && actual.matches(&said)) {
                let msg = format!("the index entry says {said}, the config says {actual}");
                self.problem(ProblemKind::PlatformMismatch, manifest, None, msg);
            }
        }
        (diff_ids, config.os().to_string() == "unknown")
    }
}

#[cfg(test)]
mod tests;
