//! The demo's sample images (also what `regcli serve --seed` holds): a few repositories under one prefix,
//! version tags sharing base layers, a multi-platform index, and tags a version filter leaves out. Every layer is
//! a real tar (a file of filler bytes, and a small text file), so the images export and extract like any other.

use std::sync::Arc;

use registry_client::{index_of, Client, Image, ImageBuilder, Platform, Result};

/// Where the samples live in the source registry (`demo/frontend`, ...).
pub(crate) const PREFIX: &str = "demo";

/// Base layer sizes shared by every image (an OS layer and a runtime layer), in bytes.
const BASE_LAYERS: [usize; 2] = [768 << 10, 256 << 10];
/// The size of each image's own layer, in bytes.
const APP_LAYER: usize = 96 << 10;

/// What was seeded.
#[derive(Debug, Default)]
pub(crate) struct Seeded {
    /// Repositories (below the registry root).
    pub(crate) repositories: usize,
    /// Tags in all.
    pub(crate) tags: usize,
    /// Tags of multi-platform indexes.
    pub(crate) indexes: usize,
}

/// The modification time of every sample file, in seconds since the epoch (2026-01-01T00:00:00Z).
const SAMPLE_MTIME: u64 = 1_767_225_600;

/// A layer: a tar holding `path` (`len` deterministic incompressible bytes of `seed`) and `path.txt` naming it.
fn filler(path: &str, seed: u64, len: usize) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| {
        registry_client::Error::new(registry_client::ErrorKind::Io, format!("sample layer {path}: {e}"))
    };
    let mut tar = tar::Builder::new(Vec::new());
    // Parent directories first, as image builders write them (0755).
    let mut parent = String::new();
    for part in path.split('/').take(path.split('/').count().saturating_sub(1)) {
        parent.push_str(part);
        parent.push('/');
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        header.set_mode(0o755);
        header.set_mtime(SAMPLE_MTIME);
        header.set_entry_type(tar::EntryType::Directory);
        tar.append_data(&mut header, &parent, std::io::empty()).map_err(io)?;
    }
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(SAMPLE_MTIME);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data)
    };
    add(path, &mocks::seeded_bytes(seed, len)).map_err(io)?;
    add(&format!("{path}.txt"), format!("{path}: {len} bytes of sample data (seed {seed})\n").as_bytes())
        .map_err(io)?;
    tar.into_inner().map_err(io)
}

fn image(base: &[Vec<u8>], app_seed: u64, platform: Platform) -> Result<Image> {
    let mut builder = ImageBuilder::new()
        .platform(platform)
        .label("org.opencontainers.image.revision", app_seed.to_string())
        .created("2026-01-01T00:00:00Z");
    for layer in base {
        builder = builder.layer(layer.clone());
    }
    builder.layer(filler(&format!("app/app-{app_seed}.bin"), app_seed, APP_LAYER)?).build()
}

/// Seed `root` (a client at the registry root).
pub(crate) async fn seed(root: &Arc<dyn Client>) -> Result<Seeded> {
    let amd64 = || Platform::new("linux", "amd64");
    let base = BASE_LAYERS
        .iter()
        .zip(1u64..)
        .map(|(size, seed)| filler(&format!("usr/lib/sample/base-{seed}.bin"), seed, *size))
        .collect::<Result<Vec<_>>>()?;
    let plain: [(&str, &[&str]); 2] = [
        ("frontend", &["v1.0.0", "v1.1.0", "v1.2.0", "nightly"]),
        ("backend", &["v2.0.0", "v2.1.0", "v2.2.0-rc.1", "dev"]),
    ];
    let mut seeded = Seeded::default();
    let mut app_seed = 100;
    for (repo, tags) in plain {
        let client = root.with_segment(&format!("{PREFIX}/{repo}"));
        for tag in tags {
            app_seed += 1;
            client.push_image(tag, &image(&base, app_seed, amd64())?).await?;
            seeded.tags += 1;
        }
        seeded.repositories += 1;
    }
    // A multi-platform tool: one index per version, three platforms, each platform its own base.
    let tools = root.with_segment(&format!("{PREFIX}/tools"));
    let platforms = [amd64(), Platform::new("linux", "arm64").with_variant("v8"), Platform::new("linux", "s390x")];
    for (version, seed) in [("1.0.0", 200u64), ("1.1.0", 300)] {
        let mut images = Vec::new();
        for (platform, n) in platforms.iter().zip(0u64..) {
            let own_base =
                vec![filler(&format!("usr/lib/sample/{}.bin", platform.architecture()), 10 + n, BASE_LAYERS[0])?];
            images.push(image(&own_base, seed + n, platform.clone())?);
        }
        let refs: Vec<&Image> = images.iter().collect();
        let index = index_of(&refs)?;
        tools.push_index(version, &index, &images).await?;
        seeded.tags += 1;
        seeded.indexes += 1;
    }
    seeded.repositories += 1;
    Ok(seeded)
}
