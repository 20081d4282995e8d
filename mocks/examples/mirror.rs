//! The main job: mirror every repository and tag of one registry into another.
//!
//! Starts two in-process registries on loopback, seeds the source with tagged images in several repositories and
//! a multi-platform index, then, through `RemoteClient` and the `Client` trait, lists the source, inspects each
//! tag, copies it to the target with `copy_image` (indexes whole; layers stream from source to target, never held whole), verifies the digest on
//! the target, and prints a summary.
//!
//! Run: `cargo run --example mirror`

use std::sync::Arc;
use std::time::Instant;

use mocks::server::RegistryServer;
use registry_client::{
    copy_image, index_of, Client, CopyOptions, Digest, ErrorKind, Image, ImageBuilder, ListOptions, Platform,
    RemoteClient, Result,
};

/// Deterministic filler bytes, so layers look like real, incompressible content.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    mocks::seeded_bytes(seed, len).to_vec()
}

fn image(seed: u64, platform: Platform, layer_sizes: &[usize]) -> Result<Image> {
    let mut b = ImageBuilder::new().platform(platform).label("org.opencontainers.image.revision", seed.to_string());
    for (i, size) in layer_sizes.iter().enumerate() {
        b = b.layer(filler(seed * 100 + i as u64, *size));
    }
    b.build()
}

/// Seed the source: plain tags in three repositories, and a two-platform index.
async fn seed(source: &RemoteClient) -> Result<()> {
    let root: Arc<dyn Client> = Arc::new(source.clone());
    let plain: [(&str, &[&str]); 3] = [
        ("apps/frontend", &["v1.0", "v1.1", "latest"]),
        ("apps/backend", &["v2.0", "v2.1"]),
        ("base/os", &["12", "13"]),
    ];
    let mut seed = 1;
    for (repo, tags) in plain {
        let client = root.with_segment(repo);
        for tag in tags {
            seed += 1;
            let linux = Platform::new("linux", "amd64");
            client.push_image(tag, &image(seed, linux, &[512 * 1024, 128 * 1024, 4096])?).await?;
        }
    }
    let amd = image(90, Platform::new("linux", "amd64"), &[256 * 1024, 8192])?;
    let arm = image(91, Platform::new("linux", "arm64").with_variant("v8"), &[256 * 1024, 8192])?;
    let index = index_of(&[&amd, &arm])?;
    let tools = RemoteClient::builder(format!("{}/tools/cli", source.api().registry())).insecure(true).build()?;
    tools.push_index("1.0", &index, &[amd, arm]).await?;
    Ok(())
}

/// What one copied tag amounted to.
struct Copied {
    name: String,
    digest: Digest,
    kind: &'static str,
    bytes: u64,
}

/// Copy one tag with `copy_image`: an index whole (every child, its digest unchanged), an image with its blobs;
/// blobs the target has are skipped. A tag already mirrored with the same digest moves nothing.
async fn copy_tag(src: &Arc<dyn Client>, dst: &Arc<dyn Client>, tag: &str) -> Result<Copied> {
    let name = format!("{}:{tag}", src.get_registry());
    let digest = src.get_digest(tag).await?;
    match dst.get_digest(tag).await {
        Ok(d) if d == digest => return Ok(Copied { name, digest: d, kind: "same", bytes: 0 }),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let report = copy_image(src.as_ref(), tag, dst.as_ref(), tag, CopyOptions::default()).await?;
    let kind = if report.manifests_copied > 1 { "index" } else { "image" };
    Ok(Copied { name, digest: report.target_digest, kind, bytes: report.bytes_uploaded })
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let source_server =
        RegistryServer::start().await.map_err(|e| registry_client::Error::new(ErrorKind::Io, e.to_string()))?;
    let target_server =
        RegistryServer::start().await.map_err(|e| registry_client::Error::new(ErrorKind::Io, e.to_string()))?;
    println!("source registry: http://{}", source_server.host());
    println!("target registry: http://{}", target_server.host());

    let source = RemoteClient::builder(source_server.host()).insecure(true).build()?;
    let target = RemoteClient::builder(target_server.host()).insecure(true).build()?;
    seed(&source).await?;
    println!("seeded the source in {:.2?}\n", started.elapsed());

    let src_root: Arc<dyn Client> = Arc::new(source);
    let dst_root: Arc<dyn Client> = Arc::new(target.clone());
    let copy_started = Instant::now();
    let mut copied = Vec::new();
    let repositories = src_root.list_repositories(ListOptions::default()).await?;
    for repo in &repositories {
        let src = src_root.with_segment(repo);
        let dst = dst_root.with_segment(repo);
        for tag in src.list_tags(ListOptions::default()).await? {
            let c = copy_tag(&src, &dst, &tag).await?;
            // Verify on the target: the digest must be the source's, byte for byte.
            let on_target = dst.get_digest(&tag).await?;
            if on_target != c.digest {
                return Err(registry_client::Error::new(
                    ErrorKind::DigestMismatch,
                    format!("{} copied as {on_target}, source has {}", c.name, c.digest),
                ));
            }
            println!(
                "  {:<5} {:<32} {}  {:>9} bytes  verified",
                c.kind,
                c.name.split_once('/').map_or(c.name.as_str(), |x| x.1),
                short(&c.digest),
                c.bytes
            );
            copied.push(c);
        }
    }
    let elapsed = copy_started.elapsed();
    let total: u64 = copied.iter().map(|c| c.bytes).sum();
    let target_repos = dst_root.list_repositories(ListOptions::default()).await?;
    println!(
        "\nmirrored {} tags ({} indexes) in {} repositories, {:.1} MiB, in {:.2?} ({:.1} MiB/s); target lists {} repositories",
        copied.len(),
        copied.iter().filter(|c| c.kind == "index").count(),
        repositories.len(),
        total as f64 / (1024.0 * 1024.0),
        elapsed,
        total as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9),
        target_repos.len(),
    );
    if target_repos != repositories {
        return Err(registry_client::Error::new(ErrorKind::Protocol, "target repositories differ from the source's"));
    }
    Ok(())
}

fn short(d: &Digest) -> String {
    format!("{}:{}", d.algorithm().as_str(), &d.hex()[..12])
}
