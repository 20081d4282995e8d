//! `regcli cp` into archive files: an oci-archive (an image, or an index whole with its children, digests
//! unchanged) or a docker-archive (one image, as `docker load` takes it), through the library's streaming writers.

use std::path::Path;

use registry_client::{Client, Digest, DockerArchiveWriter, Image, ImageOptions, OciArchiveWriter, Platform};

use crate::failure::Failure;

/// What was written.
#[derive(Debug)]
pub(crate) struct Written {
    /// The digest of the manifest written under the tag (an index or an image).
    pub(crate) digest: Digest,
    /// The platform chosen from an index, when one was.
    pub(crate) platform: Option<String>,
    /// Blobs written (configs and layers, each image's counted).
    pub(crate) blobs: usize,
    /// Their bytes, by their descriptors' sizes.
    pub(crate) bytes: u64,
}

fn add_up(images: &[Image]) -> (usize, u64) {
    images.iter().fold((0, 0u64), |(blobs, bytes), image| {
        let sizes = image.layers().iter().map(|l| l.size()).fold(image.config_descriptor().size(), u64::saturating_add);
        (blobs + 1 + image.layers().len(), bytes.saturating_add(sizes))
    })
}

/// The one image `platforms` (none or one) picks of `reference` (an index gives the host's platform without one).
async fn one_image(source: &dyn Client, reference: &str, platforms: &[Platform]) -> Result<Image, Failure> {
    let options =
        match platforms {
            [] => ImageOptions::default(),
            [one] => ImageOptions::default().platform(one.clone()),
            _ => return Err(Failure::usage(
                "several platforms go into an oci-archive whole (no --platform) or into oci:DIR; an archive takes one",
            )),
        };
    Ok(source.get_image(reference, options).await?)
}

/// Write `reference` of `source` to the oci-archive `file` under `tag`: an index whole when no platform is asked
/// for, else the one platform's image.
pub(crate) async fn oci_archive(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    file: &Path,
    tag: &str,
) -> Result<Written, Failure> {
    let mut writer = OciArchiveWriter::create(file).await?;
    let top = source.get_manifest(reference).await?.into_manifest();
    let written = match (top.as_index(), platforms.is_empty()) {
        (Some(index), true) => {
            let mut children = Vec::with_capacity(index.manifests().len());
            for entry in index.manifests() {
                children.push(source.get_image(&format!("@{}", entry.digest()), ImageOptions::default()).await?);
            }
            writer.add_index(tag, &top, &children).await?;
            let (blobs, bytes) = add_up(&children);
            Written { digest: top.digest().clone(), platform: None, blobs, bytes }
        }
        (index, _) => {
            let image = one_image(source, reference, platforms).await?;
            writer.add_image(tag, &image).await?;
            let (blobs, bytes) = add_up(std::slice::from_ref(&image));
            let platform = index.map(|_| image.platform().to_string());
            Written { digest: image.digest().clone(), platform, blobs, bytes }
        }
    };
    writer.finish().await?;
    Ok(written)
}

/// Write one image of `reference` (the platform asked for, else the host's from an index) to the docker-archive
/// `file` named `name` (`repo:tag`).
pub(crate) async fn docker_archive(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    file: &Path,
    name: &str,
) -> Result<Written, Failure> {
    let image = one_image(source, reference, platforms).await?;
    let mut writer = DockerArchiveWriter::create(file).await?;
    writer.add_image(&image, &[name]).await?;
    writer.finish().await?;
    let (blobs, bytes) = add_up(std::slice::from_ref(&image));
    Ok(Written { digest: image.digest().clone(), platform: Some(image.platform().to_string()), blobs, bytes })
}
