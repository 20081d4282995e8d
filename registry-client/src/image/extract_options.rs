//! [`ExtractOptions`]: how an image's filesystem is flattened and written to a directory.

use crate::image::compression::DecompressionLimits;

/// Options of `Image::extract_with` and `Image::extract_to_with`. The defaults are the safe ones: decompression
/// capped ([`DecompressionLimits::default`]), every layer's `diff_id` checked, device nodes and FIFOs skipped,
/// ownership not applied (files belong to the user extracting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct ExtractOptions {
    limits: DecompressionLimits,
    devices: bool,
    ownership: bool,
    verify_diff_ids: bool,
}

impl Default for ExtractOptions {
    fn default() -> ExtractOptions {
        ExtractOptions {
            limits: DecompressionLimits::default(),
            devices: false,
            ownership: false,
            verify_diff_ids: true,
        }
    }
}

impl ExtractOptions {
    /// The defaults.
    pub fn new() -> ExtractOptions {
        ExtractOptions::default()
    }

    /// Caps on decompressed output (total bytes, ratio).
    pub fn limits(mut self, limits: DecompressionLimits) -> ExtractOptions {
        self.limits = limits;
        self
    }

    /// Create character and block devices and FIFOs when writing to a directory (needs root for devices).
    /// Off by default: they are skipped.
    pub fn devices(mut self, yes: bool) -> ExtractOptions {
        self.devices = yes;
        self
    }

    /// Apply each entry's owner (uid/gid) when writing to a directory and running as root. Off by default.
    pub fn preserve_ownership(mut self, yes: bool) -> ExtractOptions {
        self.ownership = yes;
        self
    }

    /// Check each layer's uncompressed digest against the config's `rootfs.diff_ids` (on by default). Turn it
    /// off only for images known to carry wrong `diff_ids`.
    pub fn verify_diff_ids(mut self, yes: bool) -> ExtractOptions {
        self.verify_diff_ids = yes;
        self
    }

    /// The decompression caps.
    pub fn decompression_limits(&self) -> DecompressionLimits {
        self.limits
    }

    /// Whether device nodes and FIFOs are created.
    pub fn creates_devices(&self) -> bool {
        self.devices
    }

    /// Whether ownership is applied (when root).
    pub fn preserves_ownership(&self) -> bool {
        self.ownership
    }

    /// Whether `diff_ids` are checked.
    pub fn verifies_diff_ids(&self) -> bool {
        self.verify_diff_ids
    }
}
