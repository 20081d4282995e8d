//! [`Inspection`]: what a manifest is, as a value to print or serialise, in the spirit of `skopeo inspect`: the
//! manifest's digest, media type and size; for an index its entries with their platforms; for an image its
//! platform, creation time, config digest, labels, environment, entrypoint and command, and its layers with their
//! sizes (bytes) and total.
//!
//! A manifest whose config is not an image config (an artifact: a signature, an SBOM) is described with its
//! config's media type and its blobs instead ([`ArtifactDetails`]).
//!
//! Built by [`inspect`] from any [`Client`] (a registry, a layout, an archive, the fake), or from values already
//! fetched with [`Inspection::of_index`] and [`Inspection::of_image`]. Serialises with snake_case keys; fields that
//! do not apply (an image's fields for an index, entries for an image) are left out.

use std::collections::BTreeMap;

use oci_spec::image::Descriptor;
use registry_core::manifest::{descriptor_digest, media_type, Manifest};
use registry_core::{Digest, Error, Result};
use serde::Serialize;

use crate::client::Client;
use crate::conveniences::scoped_name;
use crate::image::model::Image;
use crate::image::platform::Platform;
use crate::options::ImageOptions;

/// A manifest described: an index (with [`Inspection::manifests`]) or an image (with [`Inspection::image`]).
///
/// JSON shape (`serde_json::to_value`), keys in this order:
/// `{"reference", "digest": "sha256:<hex>", "media_type", "size": <manifest bytes>, "artifact_type"?, "annotations"?,
/// "index_digest"?, "manifests"?: [IndexEntry..], ...ImageDetails (flattened, images only)}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Inspection {
    /// What was inspected, as one name: `host/repo:tag` or `host/repo@sha256:<hex>` (the client's scope plus the
    /// reference asked for).
    pub reference: String,
    /// The digest of the manifest described (`sha256:<hex>`): the image's own when it was picked from an index.
    pub digest: Digest,
    /// Its media type (OCI or Docker, image or index).
    pub media_type: String,
    /// Its size in bytes (the manifest's exact bytes).
    pub size: u64,
    /// Its `artifactType`, when it has one (an artifact rather than a runnable image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest's annotations, sorted by key (left out when there are none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The digest of the index the image was picked from by platform, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
    /// An index's entries, in the index's order; `None` for an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<IndexEntry>>,
    /// An image's details; `None` for an index.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageDetails>,
    /// An artifact's config and blobs (a manifest whose config is no image config); `None` otherwise.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactDetails>,
}

/// What an artifact holds: `{"config_media_type", "config_digest", "config_size", "layers": [Layer..],
/// "layers_size"}` (the keys an image has for the same things).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ArtifactDetails {
    /// The config descriptor's media type (`application/vnd.oci.empty.v1+json` for none).
    pub config_media_type: String,
    /// The config blob's digest (`sha256:<hex>`).
    pub config_digest: Digest,
    /// The config blob's size, in bytes.
    pub config_size: u64,
    /// The artifact's blobs (the manifest's `layers`), in order.
    pub layers: Vec<Layer>,
    /// The sum of their sizes, in bytes (saturating).
    pub layers_size: u64,
}

/// One entry of an index: `{"platform"?: "os/arch[/variant]", "digest", "media_type", "size", "artifact_type"?,
/// "annotations"?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct IndexEntry {
    /// Its platform as `os/arch[/variant]`, when the entry names one (attestations and artifacts often do not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The entry's manifest digest (`sha256:<hex>`).
    pub digest: Digest,
    /// The entry's media type.
    pub media_type: String,
    /// The entry's manifest size, in bytes.
    pub size: u64,
    /// Its `artifactType`, when the entry has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations, sorted by key (left out when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What an image is, from its config and manifest: `{"os", "architecture", "variant"?, "created"?,
/// "config_digest", "config_size", "labels", "env", "entrypoint", "cmd", "user"?, "working_dir"?,
/// "layers": [Layer..], "layers_size"}`. Lists are empty (never absent) when the config has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImageDetails {
    /// The config's `os` (`linux`).
    pub os: String,
    /// The config's `architecture`, in Go's names (`amd64`, `arm64`).
    pub architecture: String,
    /// The config's CPU `variant` (`v8`), when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The config's `created` time as written there (RFC 3339), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The config blob's digest (`sha256:<hex>`).
    pub config_digest: Digest,
    /// The config blob's size, in bytes.
    pub config_size: u64,
    /// The config's labels, sorted by key.
    pub labels: BTreeMap<String, String>,
    /// The config's environment, `KEY=value` in order.
    pub env: Vec<String>,
    /// The config's entrypoint.
    pub entrypoint: Vec<String>,
    /// The config's command (arguments to the entrypoint).
    pub cmd: Vec<String>,
    /// The config's user, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The config's working directory, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// The layers, base first.
    pub layers: Vec<Layer>,
    /// The sum of the layers' sizes, in bytes (compressed, as stored; saturating).
    pub layers_size: u64,
}

/// One layer of an image: `{"digest", "media_type", "size"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Layer {
    /// The layer blob's digest (`sha256:<hex>`).
    pub digest: Digest,
    /// Its media type (gzip, zstd, uncompressed tar; OCI or Docker).
    pub media_type: String,
    /// Its size in bytes, as stored (compressed).
    pub size: u64,
}

impl Inspection {
    /// An index described: its entries, each with its platform when it names one. `name` is what it is called in
    /// the output. `InvalidInput` when `manifest` is not an index, or an entry's digest is malformed.
    pub fn of_index(name: impl Into<String>, manifest: &Manifest) -> Result<Inspection> {
        let index = manifest
            .as_index()
            .ok_or_else(|| Error::invalid_input(format!("{} is an image manifest, not an index", manifest.digest())))?;
        let manifests = index.manifests().iter().map(IndexEntry::of).collect::<Result<Vec<_>>>()?;
        Ok(Inspection {
            reference: name.into(),
            digest: manifest.digest().clone(),
            media_type: manifest.media_type().to_string(),
            size: manifest.size(),
            artifact_type: index.artifact_type().as_ref().map(ToString::to_string),
            annotations: sorted(index.annotations().as_ref()),
            index_digest: None,
            manifests: Some(manifests),
            image: None,
            artifact: None,
        })
    }

    /// An image described: its manifest, platform, config and layers. `index_digest` names the index it was
    /// picked from, when it was. `InvalidInput` when a layer's or the config's digest is malformed.
    pub fn of_image(name: impl Into<String>, image: &Image, index_digest: Option<Digest>) -> Result<Inspection> {
        let manifest = image.manifest();
        let config = image.config();
        let runtime = config.config().as_ref();
        let (layers, layers_size) = layers_of(image.layers())?;
        let details = ImageDetails {
            os: config.os().to_string(),
            architecture: config.architecture().to_string(),
            variant: config.variant().clone().filter(|v| !v.is_empty()),
            created: config.created().clone(),
            config_digest: descriptor_digest(image.config_descriptor())?,
            config_size: image.config_descriptor().size(),
            labels: sorted(runtime.and_then(|c| c.labels().as_ref())),
            env: runtime.and_then(|c| c.env().clone()).unwrap_or_default(),
            entrypoint: runtime.and_then(|c| c.entrypoint().clone()).unwrap_or_default(),
            cmd: runtime.and_then(|c| c.cmd().clone()).unwrap_or_default(),
            user: runtime.and_then(|c| c.user().clone()).filter(|u| !u.is_empty()),
            working_dir: runtime.and_then(|c| c.working_dir().clone()).filter(|w| !w.is_empty()),
            layers,
            layers_size,
        };
        Ok(Inspection {
            reference: name.into(),
            digest: image.digest().clone(),
            media_type: image.media_type().to_string(),
            size: image.raw_manifest().size(),
            artifact_type: manifest.artifact_type().as_ref().map(ToString::to_string),
            annotations: sorted(manifest.annotations().as_ref()),
            index_digest,
            manifests: None,
            image: Some(details),
            artifact: None,
        })
    }

    /// An artifact described from its manifest alone: its config's media type, digest and size, and its blobs.
    /// `InvalidInput` when `manifest` is an index, or a digest in it is malformed.
    pub fn of_artifact(name: impl Into<String>, manifest: &Manifest) -> Result<Inspection> {
        let image = manifest.as_image().ok_or_else(|| {
            Error::invalid_input(format!("{} is an index, not an artifact manifest", manifest.digest()))
        })?;
        let (layers, layers_size) = layers_of(image.layers())?;
        let config = image.config();
        let details = ArtifactDetails {
            config_media_type: config.media_type().to_string(),
            config_digest: descriptor_digest(config)?,
            config_size: config.size(),
            layers,
            layers_size,
        };
        Ok(Inspection {
            reference: name.into(),
            digest: manifest.digest().clone(),
            media_type: manifest.media_type().to_string(),
            size: manifest.size(),
            artifact_type: image.artifact_type().as_ref().map(ToString::to_string),
            annotations: sorted(image.annotations().as_ref()),
            index_digest: None,
            manifests: None,
            image: None,
            artifact: Some(details),
        })
    }

    /// Whether this describes an index (its entries in [`Inspection::manifests`]).
    pub fn is_index(&self) -> bool {
        self.manifests.is_some()
    }
}

impl IndexEntry {
    /// The entry `d` of an index. `InvalidInput` when its digest is malformed.
    pub fn of(d: &Descriptor) -> Result<IndexEntry> {
        Ok(IndexEntry {
            platform: Platform::of_descriptor(d).map(|p| p.to_string()),
            digest: descriptor_digest(d)?,
            media_type: d.media_type().to_string(),
            size: d.size(),
            artifact_type: d.artifact_type().as_ref().map(ToString::to_string),
            annotations: sorted(d.annotations().as_ref()),
        })
    }
}

/// Whether `manifest` is an image manifest whose config is no image config (an artifact's).
fn is_artifact(manifest: &Manifest) -> bool {
    manifest.as_image().is_some_and(|m| !media_type::is_image_config(m.config().media_type().as_ref()))
}

/// Layers as described, and their total size in bytes (saturating).
fn layers_of(descriptors: &[Descriptor]) -> Result<(Vec<Layer>, u64)> {
    let layers = descriptors
        .iter()
        .map(|d| Ok(Layer { digest: descriptor_digest(d)?, media_type: d.media_type().to_string(), size: d.size() }))
        .collect::<Result<Vec<_>>>()?;
    let total = layers.iter().map(|l| l.size).fold(0, u64::saturating_add);
    Ok((layers, total))
}

fn sorted(map: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// Describe what `reference` (a tag or `@sha256:<hex>`, in `client`'s scope) points to.
///
/// - An index with `platform` `None`: the index and its entries.
/// - An index with a `platform`: that platform's image ([`Client::get_image`] picks it), with
///   [`Inspection::index_digest`] naming the index.
/// - An image: the image; with a `platform`, it must be for that platform (as [`Client::get_image`] checks).
/// - An artifact (an image manifest whose config is no image config): its config and blobs, from the manifest
///   alone; with a `platform`, `NotFound` (an artifact is no platform's image).
///
/// The manifest is read once by tag, then by its digest, so a tag moved meanwhile cannot mix two manifests.
///
/// Errors: those of [`Client::get_manifest`] (`NotFound` when the reference does not exist, `InvalidInput` when it
/// is malformed) and [`Client::get_image`] (`NotFound` naming the platforms an index has when it lacks the one
/// asked, or the platform of a single-platform image of another; `Unsupported` for a nested index; `Protocol` for
/// an image config that is not a valid image configuration).
///
/// ```no_run
/// use registry_client::{inspect, Client, Platform, RemoteClient};
/// # async fn demo() -> registry_client::Result<()> {
/// let app = RemoteClient::builder("registry.example.com").build()?.with_segment("org/app");
/// let whole = inspect(&*app, "v1", None).await?;
/// for entry in whole.manifests.iter().flatten() {
///     println!("{} {}", entry.platform.as_deref().unwrap_or("-"), entry.digest);
/// }
/// let arm = inspect(&*app, "v1", Some(&Platform::new("linux", "arm64"))).await?;
/// println!("{:?}", arm.image.map(|i| i.layers_size));
/// # Ok(()) }
/// ```
pub async fn inspect(client: &dyn Client, reference: &str, platform: Option<&Platform>) -> Result<Inspection> {
    let name = scoped_name(&client.get_registry(), reference);
    let top = client.get_manifest(reference).await?.into_manifest();
    if top.is_index() && platform.is_none() {
        return Inspection::of_index(name, &top);
    }
    if is_artifact(&top) {
        if let Some(p) = platform {
            return Err(Error::not_found(format!("{name} is an artifact, not an image for platform {p}")));
        }
        return Inspection::of_artifact(name, &top);
    }
    let by_digest = format!("@{}", top.digest());
    let opts = match platform {
        Some(p) => ImageOptions::default().platform(p.clone()),
        None => ImageOptions::default(),
    };
    let image = client.get_image(&by_digest, opts).await.map_err(|e| e.context(&name))?;
    let index_digest = top.is_index().then(|| top.digest().clone());
    Inspection::of_image(name, &image, index_digest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::image::builder::{index_of, ImageBuilder};

    fn image(seed: u8, platform: Platform) -> Image {
        ImageBuilder::new()
            .layer(vec![seed; 100])
            .layer(vec![seed.wrapping_add(1); 50])
            .label("org.opencontainers.image.title", format!("app{seed}"))
            .label("a", "1")
            .created("2024-05-06T07:08:09Z")
            .platform(platform)
            .build()
            .unwrap()
    }

    #[test]
    fn an_image_lists_its_platform_config_and_layers_with_their_total() {
        let img = image(1, Platform::new("linux", "arm64").with_variant("v8"));
        let seen = Inspection::of_image("h/app:v1", &img, None).unwrap();
        assert!(!seen.is_index());
        assert_eq!(seen.digest, *img.digest());
        assert_eq!(seen.size, img.raw_manifest().bytes().len() as u64);
        let details = seen.image.as_ref().unwrap();
        assert_eq!((details.os.as_str(), details.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(details.variant.as_deref(), Some("v8"));
        assert_eq!(details.created.as_deref(), Some("2024-05-06T07:08:09Z"));
        assert_eq!(details.labels.keys().collect::<Vec<_>>(), ["a", "org.opencontainers.image.title"]);
        assert_eq!(details.layers.len(), 2);
        assert_eq!(details.layers_size, img.layers().iter().map(|l| l.size()).sum::<u64>());
        assert_eq!(details.config_digest, descriptor_digest(img.config_descriptor()).unwrap());

        let json = serde_json::to_value(&seen).unwrap();
        assert_eq!(json["architecture"], "arm64", "image details are flattened: {json}");
        assert_eq!(json["layers"][1]["size"], img.layers()[1].size());
        assert!(json.get("manifests").is_none() && json.get("index_digest").is_none(), "{json}");
        assert_eq!(json["env"], serde_json::json!([]), "empty lists are present: {json}");
    }

    #[test]
    fn an_index_lists_its_entries_with_platforms() {
        let a = image(1, Platform::new("linux", "amd64"));
        let b = image(2, Platform::new("linux", "arm").with_variant("v7"));
        let index = index_of(&[&a, &b]).unwrap();
        let seen = Inspection::of_index("h/app:v1", &index).unwrap();
        assert!(seen.is_index());
        assert_eq!(seen.digest, *index.digest());
        let entries = seen.manifests.as_ref().unwrap();
        let platforms: Vec<_> = entries.iter().map(|e| e.platform.as_deref().unwrap()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm/v7"]);
        assert_eq!(entries[1].digest, *b.digest());
        assert_eq!(entries[1].size, b.raw_manifest().bytes().len() as u64);
        let json = serde_json::to_value(&seen).unwrap();
        assert!(json.get("layers").is_none() && json.get("os").is_none(), "{json}");
        assert!(Inspection::of_index("x", a.raw_manifest()).is_err(), "an image is no index");
        assert!(Inspection::of_artifact("x", &index).is_err(), "an index is no artifact");
    }

    #[test]
    fn an_artifact_lists_its_config_type_and_blobs() {
        let subject = image(3, Platform::new("linux", "amd64"));
        let artifact = crate::Artifact::builder("application/spdx+json")
            .subject(subject.raw_manifest().descriptor().unwrap())
            .layer(&b"sbom"[..], "application/spdx+json")
            .annotation("k", "v")
            .build()
            .unwrap();
        assert!(is_artifact(artifact.raw_manifest()));
        assert!(!is_artifact(subject.raw_manifest()));
        let seen = Inspection::of_artifact("h/app@x", artifact.raw_manifest()).unwrap();
        assert_eq!(seen.artifact_type.as_deref(), Some("application/spdx+json"));
        assert_eq!(seen.annotations.get("k").map(String::as_str), Some("v"));
        let details = seen.artifact.as_ref().unwrap();
        assert_eq!(details.config_media_type, crate::EMPTY_MEDIA_TYPE);
        assert_eq!((details.layers.len(), details.layers_size), (1, 4));
        let json = serde_json::to_value(&seen).unwrap();
        assert_eq!(json["layers"][0]["size"], 4, "{json}");
        assert!(json.get("os").is_none() && json.get("manifests").is_none(), "{json}");
    }
}
