//! [`CopyOptions`]: what a copy takes along (platforms of an index, referrers).

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
    /// them too.
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
}
