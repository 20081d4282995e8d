//! [`DockerArchiveWriter`]: writes images into a docker-archive (the `docker save` format that `docker load` and
//! skopeo's `docker-archive:` read), streaming each layer into the tar as it arrives.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use registry_core::manifest::descriptor_digest;
use registry_core::{Digest, Error, Reference, Result};
use serde_json::{json, Map, Value};

use crate::image::archive::docker_read::ManifestItem;
use crate::image::archive::sink_slot::SinkSlot;
use crate::image::blocking::stream_reader;
use crate::image::compression::{Compression, DecompressionLimits, LayerReader, OutputBudget};
use crate::image::model::Image;
use crate::image::ref_names::split_name;

/// Writes a docker-archive: the `docker save` format (`docker load`, skopeo's `docker-archive:FILE`).
///
/// Layout, as containers/image writes it: each layer UNCOMPRESSED as `<diff_id hex>.tar` (a gzip or zstd layer is
/// decompressed on the way in, its `diff_id` checked, so the file's digest is the config's `diff_id`), each config
/// as `<config hex>.json`, the legacy per-layer directories `<id>/{VERSION,json,layer.tar}` (a symbolic link to
/// the layer file) that older `docker load` reads, and at [`finish`](Self::finish) `manifest.json`
/// (`[{"Config", "RepoTags", "Layers"}]`) and `repositories` (`{"repo": {"tag": "<top layer id>"}}`). Blobs
/// already written (same `diff_id`, same config) are not written again. The archive is written to a temporary
/// file beside `path` (a symbolic link's target) and renamed into place by `finish`: until then, or after any
/// error (which ends the writer), nothing is at `path`. Memory stays flat: every layer is streamed, its size
/// patched into its tar header once known (no spill file); into a stream ([`to_stream`](Self::to_stream), a FIFO)
/// a decompressed layer is spilled to an anonymous temporary file first. A docker-archive has no manifests: only the config digest and `diff_ids` survive a round
/// trip.
///
/// ```no_run
/// use registry_client::{DockerArchiveWriter, ImageBuilder};
/// # async fn demo() -> registry_client::Result<()> {
/// let image = ImageBuilder::new().layer(&b"..."[..]).build()?;
/// let mut writer = DockerArchiveWriter::create("/tmp/app.tar").await?;
/// writer.add_image(&image, &["example.com/app:v1", "app:latest"]).await?;
/// writer.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DockerArchiveWriter {
    slot: SinkSlot,
    layers: HashSet<Digest>,
    budget: OutputBudget,
    configs: HashSet<Digest>,
    legacy: HashSet<String>,
    items: Vec<ManifestItem>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
    limits: DecompressionLimits,
}

/// The `<hex>` of a sha256 digest, which names files in the archive; other algorithms are `Unsupported`.
fn hex_of(digest: &Digest, what: &str) -> Result<String> {
    if digest.algorithm().as_str() != "sha256" {
        return Err(Error::unsupported(format!("{what} {digest}: a docker-archive names files by sha256 only")));
    }
    Ok(digest.hex().to_string())
}

impl DockerArchiveWriter {
    /// Start a docker-archive to be put at `path` (its directory must exist; a file there is replaced at
    /// [`finish`](Self::finish)). As [`FileTarget::of`](crate::FileTarget::of) says: a symbolic link is followed
    /// and its target replaced (the link stays); a FIFO or character device is opened (a FIFO waits for its
    /// reader) and streamed into as [`to_stream`](Self::to_stream) does. Refused before anything is written:
    /// `InvalidInput` when `path` is (or links to) a directory, a socket or a block device, `NotFound` when its
    /// directory does not exist; `Io` when no temporary file can be made beside it or a FIFO cannot be opened.
    pub async fn create(path: impl AsRef<Path>) -> Result<DockerArchiveWriter> {
        let dest = path.as_ref().to_path_buf();
        let label = format!("docker-archive:{}", dest.display());
        Ok(DockerArchiveWriter::with_slot(SinkSlot::create(dest, label).await?))
    }

    /// Write the archive straight into `file`, an open stream (stdout, a pipe, a device), named `name` in
    /// errors: no temporary file and no rename, so a failure part way leaves a truncated archive in the stream
    /// (the reader must check the exit status). Layers that are decompressed on the way in are spilled to an
    /// anonymous temporary file first (their size goes before their data).
    pub fn to_stream(file: std::fs::File, name: &str) -> DockerArchiveWriter {
        let label = format!("docker-archive:{name}");
        DockerArchiveWriter::with_slot(SinkSlot::stream(file, label))
    }

    /// A writer with nothing written yet, into `slot`.
    fn with_slot(slot: SinkSlot) -> DockerArchiveWriter {
        DockerArchiveWriter {
            slot,
            layers: HashSet::new(),
            budget: OutputBudget::new(),
            configs: HashSet::new(),
            legacy: HashSet::new(),
            items: Vec::new(),
            repositories: BTreeMap::new(),
            limits: DecompressionLimits::default(),
        }
    }

    /// Caps on the decompression of compressed layers on their way in (default: [`DecompressionLimits::default`],
    /// whose ratio cap refuses layers that expand over 200 times: raise it, or turn it off with `max_ratio(0)`, for
    /// layers known to be that compressible). A layer past a cap is `Unsupported` and ends the writer. The total
    /// cap counts every layer written by this writer.
    #[must_use]
    pub fn decompression_limits(mut self, limits: DecompressionLimits) -> DockerArchiveWriter {
        self.limits = limits;
        self
    }

    /// Add `image` under `names` (each `repo:tag`, e.g. `app:v1` or `localhost:5000/org/app:v1`; none: untagged).
    /// A name given before to another image moves to this one (as `docker load` would leave it).
    ///
    /// Errors (`InvalidInput` before anything is written, naming what was wrong): a name that is no `repo:tag`,
    /// a config whose `diff_ids` disagree in number with the layers. While writing (the writer then ends):
    /// `Unsupported` for a layer that is no tar (its media type) or a non-sha256 digest; `DigestMismatch` when a
    /// layer's bytes do not match its digest or do not decompress to its `diff_id`; the source's own errors
    /// (network, `NotFound`); `Unsupported` when a layer passes the decompression caps
    /// ([`decompression_limits`](Self::decompression_limits)).
    pub async fn add_image(&mut self, image: &Image, names: &[&str]) -> Result<()> {
        let label = self.slot.label().to_string();
        let mut parsed = Vec::with_capacity(names.len());
        for name in names {
            let (repo, tag) = split_name(name);
            let valid = !repo.is_empty() && Reference::parse(name).is_ok_and(|r| r.tag().is_some());
            if !valid {
                return Err(Error::invalid_input(format!(
                    "{label}: {name:?} is not a repo:tag name (e.g. app:v1, localhost:5000/org/app:v1)"
                )));
            }
            parsed.push((name.to_string(), repo.to_string(), tag.to_string()));
        }
        let diff_ids = image.diff_ids().map_err(|e| e.context(&label))?;
        let mut layer_files = Vec::with_capacity(diff_ids.len());
        for (layer, diff_id) in image.layers().iter().zip(&diff_ids) {
            let file = format!("{}.tar", hex_of(diff_id, "layer diff_id")?);
            if !self.layers.contains(diff_id) {
                self.write_layer(image, layer, diff_id, &file).await?;
                self.layers.insert(diff_id.clone());
            }
            layer_files.push(file);
        }
        let config_digest = descriptor_digest(image.config_descriptor())?;
        let config_file = format!("{}.json", hex_of(&config_digest, "config")?);
        if !self.configs.contains(&config_digest) {
            let (file, bytes) = (config_file.clone(), image.config_bytes().clone());
            self.slot.run(move |sink| sink.append_bytes(&file, &bytes)).await?;
            self.configs.insert(config_digest.clone());
        }
        let top = self.write_legacy(image, &diff_ids, &layer_files, &config_digest).await?;
        for (name, repo, tag) in &parsed {
            for item in &mut self.items {
                if let Some(tags) = item.repo_tags.as_mut() {
                    tags.retain(|t| t != name);
                }
            }
            if let Some(top) = &top {
                self.repositories.entry(repo.clone()).or_default().insert(tag.clone(), top.clone());
            }
        }
        let names: Vec<String> = parsed.into_iter().map(|(name, _, _)| name).collect();
        match self.items.iter_mut().find(|i| i.config == config_file) {
            Some(item) => item.repo_tags.get_or_insert_with(Vec::new).extend(names),
            None => self.items.push(ManifestItem { config: config_file, repo_tags: Some(names), layers: layer_files }),
        }
        Ok(())
    }

    /// Stream `layer` of `image` into member `file`, uncompressed, its `diff_id` checked.
    async fn write_layer(
        &mut self,
        image: &Image,
        layer: &oci_spec::image::Descriptor,
        diff_id: &Digest,
        file: &str,
    ) -> Result<()> {
        let label = self.slot.label().to_string();
        let media_type = layer.media_type().to_string();
        let compression = Compression::from_media_type(&media_type).ok_or_else(|| {
            Error::unsupported(format!(
                "{label}: layer {} has media type {media_type:?}, not a tar layer: a docker-archive holds tar layers \
                 only",
                layer.digest()
            ))
        })?;
        let reader = stream_reader(image.open_blob(layer).await?)?;
        let (file, size, diff_id) = (file.to_string(), layer.size(), diff_id.clone());
        let name = format!("{} of image {}", layer.digest(), image.digest());
        let (limits, budget) = (self.limits, self.budget.clone());
        self.slot
            .run(move |sink| {
                let reader = LayerReader::new(compression, reader, name, Some(diff_id), limits, budget);
                match compression {
                    Compression::None => sink.append_exact(&file, size, reader),
                    _ => sink.append_streamed(&file, reader).map(|_| ()),
                }
            })
            .await
    }

    /// The legacy layer directories of `image` not written yet; returns the top layer's id (none without layers).
    async fn write_legacy(
        &mut self,
        image: &Image,
        diff_ids: &[Digest],
        layer_files: &[String],
        config_digest: &Digest,
    ) -> Result<Option<String>> {
        let mut parent: Option<String> = None;
        let mut chain: Option<Digest> = None;
        for (i, (diff_id, file)) in diff_ids.iter().zip(layer_files).enumerate() {
            let link = match &chain {
                None => diff_id.clone(),
                Some(c) => Digest::sha256(format!("{c} {diff_id}").as_bytes()),
            };
            let is_top = i + 1 == diff_ids.len();
            let seed = match (&parent, is_top) {
                (p, true) => format!("{} {link} {config_digest}", p.as_deref().unwrap_or("")),
                (p, false) => format!("{} {link}", p.as_deref().unwrap_or("")),
            };
            let id = Digest::sha256(seed.as_bytes()).hex().to_string();
            if !self.legacy.contains(&id) {
                let mut json = Map::new();
                json.insert("id".into(), json!(id));
                if let Some(p) = &parent {
                    json.insert("parent".into(), json!(p));
                }
                json.insert("created".into(), json!("1970-01-01T00:00:00Z"));
                if is_top {
                    let config: Value = serde_json::from_slice(image.config_bytes()).unwrap_or(Value::Null);
                    for key in
                        ["architecture", "config", "container", "container_config", "created", "docker_version", "os"]
                    {
                        if let Some(v) = config.get(key) {
                            json.insert(key.into(), v.clone());
                        }
                    }
                }
                let json = serde_json::to_vec(&Value::Object(json))
                    .map_err(|e| Error::invalid_input(format!("legacy layer json: {e}")))?;
                let (dir, target) = (id.clone(), format!("../{file}"));
                self.slot
                    .run(move |sink| {
                        sink.append_bytes(&format!("{dir}/VERSION"), b"1.0")?;
                        sink.append_bytes(&format!("{dir}/json"), &json)?;
                        sink.append_symlink(&format!("{dir}/layer.tar"), &target)
                    })
                    .await?;
                self.legacy.insert(id.clone());
            }
            chain = Some(link);
            parent = Some(id);
        }
        Ok(parent)
    }

    /// Write `manifest.json` and `repositories`, end the tar and move it to its path. `Io` when the file cannot
    /// be written or renamed; `InvalidInput` when an earlier call failed (nothing is at the path then).
    pub async fn finish(mut self) -> Result<()> {
        let label = self.slot.label().to_string();
        let bad = |e: serde_json::Error| Error::invalid_input(format!("{label}: cannot serialise: {e}"));
        let manifest = serde_json::to_vec(&self.items).map_err(bad)?;
        let repositories = serde_json::to_vec(&self.repositories).map_err(bad)?;
        self.slot
            .run(move |sink| {
                sink.append_bytes("manifest.json", &manifest)?;
                sink.append_bytes("repositories", &repositories)
            })
            .await?;
        self.slot.finish().await
    }
}
