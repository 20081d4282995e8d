//! Test content in a line: [`random_image`], [`multi_platform`], [`random_bytes`] and [`ImageSpec`], a builder
//! over [`ImageBuilder`] with random layers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use registry_client::{Image, ImageBuilder, Platform};
use registry_core::Result;

/// Counts the generators made, so two made in the same nanosecond still differ.
static SEEDS: AtomicU64 = AtomicU64::new(0);

/// The config label every generated image carries, with a value unique to the image.
pub const RANDOM_LABEL: &str = "dev.mocks.random";

/// A xorshift64* generator: fast, small, not cryptographic (test content only).
struct XorShift(u64);

impl XorShift {
    /// A generator seeded from a process-wide counter and the time.
    fn seeded() -> XorShift {
        let n = SEEDS.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        // splitmix64 of the mixed inputs: well spread, and never 0 (xorshift's fixed point) thanks to `| 1`.
        XorShift(splitmix(nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)) | 1)
    }

    /// A generator whose output depends only on `seed`.
    fn from_seed(seed: u64) -> XorShift {
        XorShift(splitmix(seed) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Bytes {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        Bytes::from(out)
    }
}

/// The splitmix64 finaliser: spreads any input (even 0, 1, 2...) over all bits.
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` deterministic, incompressible-looking bytes: the same for the same `seed`, different across seeds.
pub fn seeded_bytes(seed: u64, len: usize) -> Bytes {
    XorShift::from_seed(seed).bytes(len)
}

/// `len` random bytes (different on every call).
pub fn random_bytes(len: usize) -> Bytes {
    XorShift::seeded().bytes(len)
}

/// Builds a test image: layers from bytes or random, labels, platform. Every image also gets a
/// [`RANDOM_LABEL`] label with a unique value, so two specs never build the same image by accident.
///
/// ```
/// use mocks::ImageSpec;
/// use registry_client::Platform;
/// let image = ImageSpec::new()
///     .layer("layer one")
///     .random_layer(4096)
///     .label("org.opencontainers.image.title", "demo")
///     .platform(Platform::new("linux", "arm64"))
///     .build()?;
/// assert_eq!(image.layers().len(), 2);
/// assert_eq!(image.platform().to_string(), "linux/arm64");
/// # Ok::<(), registry_client::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ImageSpec {
    builder: ImageBuilder,
}

impl Default for ImageSpec {
    fn default() -> ImageSpec {
        ImageSpec::new()
    }
}

impl ImageSpec {
    /// An image without layers, for `linux/amd64`.
    pub fn new() -> ImageSpec {
        let unique = format!("{:016x}", XorShift::seeded().next_u64());
        ImageSpec { builder: ImageBuilder::new().label(RANDOM_LABEL, unique) }
    }

    /// Add an uncompressed tar layer with these bytes.
    pub fn layer(mut self, data: impl Into<Bytes>) -> ImageSpec {
        self.builder = self.builder.layer(data);
        self
    }

    /// Add a layer of `len` random bytes.
    pub fn random_layer(self, len: usize) -> ImageSpec {
        self.layer(random_bytes(len))
    }

    /// Set a config label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> ImageSpec {
        self.builder = self.builder.label(key, value);
        self
    }

    /// Set the platform.
    pub fn platform(mut self, platform: Platform) -> ImageSpec {
        self.builder = self.builder.platform(platform);
        self
    }

    /// Use Docker v2 media types instead of OCI ones.
    pub fn docker_media_types(mut self) -> ImageSpec {
        self.builder = self.builder.docker_media_types();
        self
    }

    /// The underlying [`ImageBuilder`], for what this spec does not offer.
    pub fn into_builder(self) -> ImageBuilder {
        self.builder
    }

    /// Build the image (its blobs are held in memory).
    pub fn build(self) -> Result<Image> {
        self.builder.build()
    }
}

/// Build an image from a spec known to be valid.
fn build(spec: ImageSpec, what: &str) -> Image {
    match spec.build() {
        Ok(image) => image,
        // ImageBuilder only fails on input it cannot serialise, and these specs hold plain strings and bytes.
        Err(e) => panic!("building {what}: {e}"),
    }
}

/// A `linux/amd64` image of `layers` layers of `layer_bytes` random bytes each, unique on every call.
///
/// # Panics
/// Never in practice: building an image from in-memory bytes cannot fail.
pub fn random_image(layers: usize, layer_bytes: usize) -> Image {
    let mut spec = ImageSpec::new();
    for _ in 0..layers {
        spec = spec.random_layer(layer_bytes);
    }
    build(spec, "a random image")
}

/// One image per platform, each with one small random layer, ready for
/// [`FakeClient::seed_index`](super::FakeClient::seed_index) (or [`registry_client::index_of`]).
///
/// # Panics
/// Never in practice: building an image from in-memory bytes cannot fail.
pub fn multi_platform(platforms: &[Platform]) -> Vec<Image> {
    platforms
        .iter()
        .map(|p| build(ImageSpec::new().random_layer(256).platform(p.clone()), "a platform image"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_content_differs_every_time() {
        let blobs: HashSet<Bytes> = (0..100).map(|_| random_bytes(32)).collect();
        assert_eq!(blobs.len(), 100);
        assert_eq!(random_bytes(13).len(), 13);
        assert!(random_bytes(0).is_empty());
        // Not degenerate: a 64 KiB sample uses every byte value.
        let sample = random_bytes(64 * 1024);
        assert_eq!(sample.iter().copied().collect::<HashSet<u8>>().len(), 256);
    }

    #[test]
    fn seeded_content_depends_only_on_the_seed() {
        assert_eq!(seeded_bytes(7, 1000), seeded_bytes(7, 1000));
        assert_eq!(seeded_bytes(7, 10), seeded_bytes(7, 1000).slice(..10));
        let distinct: HashSet<Bytes> = (0..100).map(|seed| seeded_bytes(seed, 32)).collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(seeded_bytes(0, 64 * 1024).iter().copied().collect::<HashSet<u8>>().len(), 256);
    }

    #[tokio::test]
    async fn random_images_are_unique_and_well_formed() {
        let a = random_image(3, 1000);
        let b = random_image(3, 1000);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.layers().len(), 3);
        assert!(a.layers().iter().all(|l| l.size() == 1000));
        assert_eq!(a.blob_bytes(&a.layers()[2]).await.unwrap().len(), 1000);
        assert_ne!(random_image(0, 0).digest(), random_image(0, 0).digest(), "unique even without layers");
    }

    #[test]
    fn specs_and_platforms() {
        let image = ImageSpec::new()
            .layer(&b"abc"[..])
            .label("k", "v")
            .platform(Platform::new("linux", "arm").with_variant("v7"))
            .docker_media_types()
            .build()
            .unwrap();
        assert_eq!(image.platform().to_string(), "linux/arm/v7");
        assert_eq!(image.media_type(), registry_core::manifest::media_type::DOCKER_MANIFEST);
        let labels = image.config().config().as_ref().and_then(|c| c.labels().clone()).unwrap();
        assert_eq!(labels.get("k").map(String::as_str), Some("v"));
        assert!(labels.contains_key(RANDOM_LABEL));
        let images = multi_platform(&[Platform::new("linux", "amd64"), Platform::new("linux", "arm64")]);
        let platforms: Vec<String> = images.iter().map(|i| i.platform().to_string()).collect();
        assert_eq!(platforms, vec!["linux/amd64", "linux/arm64"]);
    }
}
