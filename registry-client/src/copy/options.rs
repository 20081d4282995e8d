//! [`CopyOptions`]: what a copy takes along (platforms of an index, referrers).

use super::platforms::PlatformMode;
use crate::image::platform::Platform;

/// What [`copy_image`](crate::copy_image) copies: by default the whole manifest `reference` points to (every child
/// of an index), without referrers.
///
/// ```
/// use registry_client::{CopyOptions, Platform};
/// let opts = CopyOptions::default().platforms([Platform::new("linux", "arm64")]).referrers(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CopyOptions {
    platforms: Vec<Platform>,
    referrers: bool,
    /// How `platforms` is applied (the sync engine uses it as a filter).
    platform_mode: PlatformMode,
    /// Whether `referrers` also brings digest tags; `None`: as `referrers` says (the sync engine plans them itself).
    digest_tags: Option<bool>,
}

impl CopyOptions {
    /// Copy only these platforms of an index: one platform copies that platform's image manifest alone (its own
    /// digest); several copy a new index holding only their entries (new bytes, so a new digest). Empty (the
    /// default) copies everything. A platform the index lacks makes [`copy_image`](crate::copy_image) fail with
    /// `NotFound`.
    pub fn platforms(mut self, platforms: impl IntoIterator<Item = Platform>) -> CopyOptions {
        self.platforms = platforms.into_iter().collect();
        self
    }

    /// Also copy the referrers (signatures, SBOMs, attestations: manifests whose `subject` is a copied manifest,
    /// as [`Client::list_referrers`](crate::Client::list_referrers) lists them), and theirs, so the target lists
    /// them too; and the cosign-style digest tags of each copied manifest (`sha256-<hex>.sig`, `.att`, `.sbom`,
    /// found with one `list_tags` of the source repository; a source that cannot list tags has none), each under
    /// its own tag on the target.
    pub fn referrers(mut self, on: bool) -> CopyOptions {
        self.referrers = on;
        self
    }

    /// The platforms asked (empty: all).
    pub fn get_platforms(&self) -> &[Platform] {
        &self.platforms
    }

    /// Whether referrers are copied.
    pub fn get_referrers(&self) -> bool {
        self.referrers
    }

    /// Apply the platforms in `mode` (the sync engine: [`PlatformMode::Present`]).
    pub(crate) fn platform_mode(mut self, mode: PlatformMode) -> CopyOptions {
        self.platform_mode = mode;
        self
    }

    /// How the platforms are applied.
    pub(crate) fn get_platform_mode(&self) -> PlatformMode {
        self.platform_mode
    }

    /// Whether digest tags (`sha256-<hex>.sig`, ...) come with the referrers (default: when referrers do).
    pub(crate) fn digest_tags(mut self, on: bool) -> CopyOptions {
        self.digest_tags = Some(on);
        self
    }

    /// Whether digest tags are copied.
    pub(crate) fn get_digest_tags(&self) -> bool {
        self.digest_tags.unwrap_or(self.referrers)
    }
}
