//! Mutation: a new [`Image`] from an image, with layers appended (a tar file, a directory, bytes) and config
//! fields, manifest annotations or the platform set, every digest computed (as go-containerregistry's `mutate`,
//! `crane append` and `crane mutate` do). The base image's layers are never read: they stay descriptors over the
//! base's blob source, so a push mounts or skips them; new layers live in temp files, never in memory.

mod blobs;
mod config_edit;
mod directory;
mod hashing;
mod layer_file;
pub(crate) mod time;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use registry_core::manifest::{media_type, Manifest};
use registry_core::{Error, Result};
use serde_json::{json, Value};

use crate::image::blocking::run_blocking;
use crate::image::compression::Compression;
use crate::image::model::Image;
use crate::image::mutate::blobs::MutatedBlobs;
use crate::image::mutate::config_edit::ConfigEdits;
use crate::image::mutate::directory::TreeOptions;
use crate::image::mutate::layer_file::LayerFile;
use crate::image::platform::Platform;

/// What the history entries of a mutation say made them.
const CREATED_BY: &str = "registry-client mutate";

/// A layer to append.
#[derive(Clone)]
enum LayerInput {
    File(PathBuf),
    /// A tree and where in the image its contents go (as given: checked at build).
    Directory(PathBuf, PathBuf),
    Bytes(Bytes),
}

/// Paths as they are; bytes as their count, never their content.
impl std::fmt::Debug for LayerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerInput::File(p) => f.debug_tuple("File").field(p).finish(),
            LayerInput::Directory(p, dest) => f.debug_tuple("Directory").field(p).field(dest).finish(),
            LayerInput::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl LayerInput {
    /// How the history shows it: the file or directory name only (a host path would leak into the image and make
    /// builds from different checkouts differ).
    fn describe(&self) -> String {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into());
        match self {
            LayerInput::File(p) => format!("append layer file {}", name(p)),
            LayerInput::Directory(p, dest) => {
                let dest = directory::normalise_dest(dest).unwrap_or_default();
                if dest.as_os_str().is_empty() {
                    format!("append directory {}", name(p))
                } else {
                    format!("append directory {} at /{}", name(p), dest.display())
                }
            }
            LayerInput::Bytes(b) => format!("append layer of {} bytes", b.len()),
        }
    }
}

/// A change to an image, made by [`Image::mutate`] and ended by [`Mutation::build`], which returns the new image
/// (the base is untouched).
///
/// The new config gets one history entry per appended layer and, when config fields change, one
/// `empty_layer` entry naming them (as a Dockerfile build records its instructions); `rootfs.diff_ids` grows by
/// the new layers; `created` is set to now (or the time given). When [`Mutation::reproducible`] is on, every
/// timestamp (config, history, tar entries) is the time given or else the Unix epoch, and the same inputs give the
/// same digests. The manifest keeps the base's media-type family: a
/// docker base gets docker layer types, an OCI base OCI ones.
///
/// ```no_run
/// use registry_client::{Client, ImageOptions, RemoteClient};
/// # async fn demo() -> registry_client::Result<()> {
/// let client = RemoteClient::builder("registry.example.com").build()?;
/// let app = client.with_segment("org/app");
/// let base = app.get_image("base", ImageOptions::default()).await?;
/// let image = base
///     .mutate()
///     .append_directory_at("./dist", "/app") // ./dist/server is /app/server in the image
///     .env("MODE", "production")
///     .entrypoint(["/app/server"])
///     .expose("8080/tcp")
///     .label("org.opencontainers.image.version", "1.2.0")
///     .build()
///     .await?;
/// app.push_image("1.2.0", &image).await?; // base layers are skipped: they are in the repository already
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Mutation {
    base: Image,
    layers: Vec<LayerInput>,
    edits: ConfigEdits,
    annotations: BTreeMap<String, String>,
    created: Option<SystemTime>,
    keep_created: bool,
    reproducible: bool,
    temp_dir: Option<PathBuf>,
}

impl Image {
    /// Start a change to this image: see [`Mutation`]. Nothing is read or written until [`Mutation::build`].
    pub fn mutate(&self) -> Mutation {
        Mutation {
            base: self.clone(),
            layers: Vec::new(),
            edits: ConfigEdits::default(),
            annotations: BTreeMap::new(),
            created: None,
            keep_created: false,
            reproducible: false,
            temp_dir: None,
        }
    }
}

impl Mutation {
    /// Append the tar file at `path` as a layer: plain, gzip or zstd, told by its first bytes, not its name. A
    /// compressed tar is kept as it is (its `diff_id` computed by decompressing it once); a plain one is
    /// gzip-compressed. A zstd tar on a docker-typed image is stored as gzip (docker has no zstd layer type). At
    /// build: `InvalidInput` naming the path when it is missing or not a valid (compressed) tar.
    pub fn append_layer_file(mut self, path: impl AsRef<Path>) -> Mutation {
        self.layers.push(LayerInput::File(path.as_ref().to_path_buf()));
        self
    }

    /// Append a layer holding the contents of the tree under `path` at the image root, as `tar -C path .` would:
    /// `./dist/server` becomes `/server`, not `/dist/server` (for that, see [`Mutation::append_directory_at`]).
    /// Regular files, directories and symlinks (stored, never followed) keep their permission bits and mtimes,
    /// each directory's entries sorted by name and a directory before its contents; hard links become copies.
    /// Every entry is owned by uid/gid 0 with no user or group name, as a Dockerfile `COPY` makes them (the
    /// numbers of the machine building the image mean nothing inside it). At build: `InvalidInput` naming the
    /// path when it is missing, not a directory, or holds a device, FIFO or socket; `Io` when a file cannot be
    /// read.
    pub fn append_directory(self, path: impl AsRef<Path>) -> Mutation {
        self.append_directory_at(path, "/")
    }

    /// Append a layer holding the contents of the tree under `path` inside the image directory `dest`, as a
    /// Dockerfile `COPY dist /app` does: `./dist/server` becomes `/app/server`. `dest` is absolute or relative to
    /// `/` (`app`, `/app` and `/app/` are the same; `/` is [`Mutation::append_directory`]). The layer holds `dest`
    /// and each of its parents as directories first (mode 0755, uid/gid 0, the fixed time when
    /// [`Mutation::reproducible`], else the mtime of `path`), then the tree's entries as `append_directory`
    /// stores them. At build: `InvalidInput` naming `dest` when it holds `..`, and the errors of
    /// `append_directory`.
    pub fn append_directory_at(mut self, path: impl AsRef<Path>, dest: impl AsRef<Path>) -> Mutation {
        self.layers.push(LayerInput::Directory(path.as_ref().to_path_buf(), dest.as_ref().to_path_buf()));
        self
    }

    /// Append a layer from a tar in memory (plain, gzip or zstd, as [`Mutation::append_layer_file`]).
    pub fn append_layer_bytes(mut self, bytes: impl Into<Bytes>) -> Mutation {
        self.layers.push(LayerInput::Bytes(bytes.into()));
        self
    }

    /// Set the config label `key` (replacing the base's value).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Mutation {
        self.edits.labels.insert(key.into(), value.into());
        self
    }

    /// Set the environment variable `key` to `value`, replacing the base's `key=...` where it has one, else added
    /// at the end. At build: `InvalidInput` for an empty key or one holding `=`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Mutation {
        self.edits.env.push((key.into(), value.into()));
        self
    }

    /// Set the entrypoint. Unless [`Mutation::cmd`] is also set, the base's command is cleared (as a Dockerfile
    /// `ENTRYPOINT` does).
    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Mutation {
        self.edits.entrypoint = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Set the command (the entrypoint's default arguments).
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Mutation {
        self.edits.cmd = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Set the user (`name`, `uid`, `uid:gid`).
    pub fn user(mut self, user: impl Into<String>) -> Mutation {
        self.edits.user = Some(user.into());
        self
    }

    /// Set the working directory.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Mutation {
        self.edits.working_dir = Some(dir.into());
        self
    }

    /// Add an exposed port: `8080` (TCP), `8080/tcp`, `53/udp` or `9/sctp`. At build: `InvalidInput` naming it
    /// for another form or a port outside 1 to 65535.
    pub fn expose(mut self, port: impl Into<String>) -> Mutation {
        self.edits.expose.push(port.into());
        self
    }

    /// The time recorded as `created` (config and new history entries), instead of now; with
    /// [`Mutation::reproducible`], also the tar entries' mtime. At build: `InvalidInput` for a time before 1970.
    pub fn created(mut self, time: SystemTime) -> Mutation {
        self.created = Some(time);
        self
    }

    /// Without a [`Mutation::created`] time, record the base config's `created` (RFC 3339) rather than now, so the
    /// same change of the same base gives the same digest (appended directories' entries keep their files'
    /// mtimes unless [`Mutation::reproducible`]). A base without a readable `created` gets now (the epoch when
    /// reproducible), as without this.
    pub fn keep_created(mut self, on: bool) -> Mutation {
        self.keep_created = on;
        self
    }

    /// Set the manifest annotation `key` (the base's other annotations are kept).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Mutation {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Set the config's `os`, `architecture` and `variant` (removed when `platform` has none). This only relabels
    /// the image: the layers' binaries are what they are.
    pub fn platform(mut self, platform: Platform) -> Mutation {
        self.edits.platform = Some(platform);
        self
    }

    /// Make the result depend only on the inputs: every timestamp (config, history, a directory's tar entries) the
    /// [`Mutation::created`] time or the Unix epoch (gzip headers never carry a name or time, entries are always
    /// sorted and owned by uid/gid 0). A tar file or bytes given
    /// as a layer are stored as given.
    pub fn reproducible(mut self, on: bool) -> Mutation {
        self.reproducible = on;
        self
    }

    /// Where the new layers' temp files go (default: the system's temp directory). They are deleted when the last
    /// clone of the built image is dropped.
    pub fn temp_dir(mut self, dir: impl AsRef<Path>) -> Mutation {
        self.temp_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Build the new image: each new layer written once to a temp file (on a blocking thread) while its digest
    /// and `diff_id` are computed, then the new config and manifest. The base's layers are not read.
    ///
    /// Errors: `InvalidInput` for a bad setting (env key, port, a time before 1970, a destination holding `..`),
    /// a missing layer path, an input that is no tar, a special file in a directory, each naming it; `Io` when a
    /// temp file cannot be written or an input file read; `Protocol` when the base config is no JSON object.
    pub async fn build(self) -> Result<Image> {
        self.edits.check()?;
        let mut dests = Vec::with_capacity(self.layers.len());
        for input in &self.layers {
            dests.push(match input {
                LayerInput::Directory(_, dest) => directory::normalise_dest(dest)?,
                _ => PathBuf::new(),
            });
        }
        let base_created = if self.keep_created && self.created.is_none() {
            self.base.config().created().as_deref().and_then(|t| time::parse_rfc3339(t).ok())
        } else {
            None
        };
        let created = match self.created.or(base_created) {
            Some(t) => time::unix_seconds(t)?,
            None if self.reproducible => 0,
            None => time::unix_seconds(SystemTime::now()).unwrap_or(0),
        };
        let created_text = time::rfc3339(created);
        let docker = self.base.media_type() == media_type::DOCKER_MANIFEST;
        let tree = TreeOptions { mtime: self.reproducible.then_some(created), zero_owners: true };
        let temp_dir = layer_file::temp_dir_or_default(self.temp_dir.as_ref());
        let mut added: Vec<Arc<LayerFile>> = Vec::with_capacity(self.layers.len());
        for (input, dest) in self.layers.iter().zip(dests) {
            let input2 = input.clone();
            let dir = temp_dir.clone();
            let layer = run_blocking("building a layer failed", move || match input2 {
                LayerInput::File(p) => layer_file::from_file(&p, !docker, &dir),
                LayerInput::Directory(p, _) => layer_file::from_directory(&p, &dest, &tree, &dir),
                LayerInput::Bytes(b) => layer_file::from_reader(&b[..], "layer bytes", !docker, &dir),
            })
            .await?;
            added.push(Arc::new(layer));
        }
        let config = self.new_config(&added, &created_text)?;
        let manifest = self.new_manifest(&added, &config, docker)?;
        let source = Arc::new(MutatedBlobs::new(added, self.base.source().clone()));
        Image::from_parts(manifest, config, source)
    }

    /// The base config with the edits, the new `diff_ids`, history and `created`.
    fn new_config(&self, added: &[Arc<LayerFile>], created: &str) -> Result<Bytes> {
        let mut config: Value = serde_json::from_slice(self.base.config_bytes())
            .map_err(|e| Error::protocol(format!("the base image config is no JSON: {e}")))?;
        self.edits.apply(&mut config)?;
        let root = config.as_object_mut().ok_or_else(|| Error::protocol("the image config is no JSON object"))?;
        root.insert("created".into(), json!(created));
        let rootfs = root.entry("rootfs").or_insert_with(|| json!({"type": "layers"}));
        if !rootfs.is_object() {
            *rootfs = json!({"type": "layers"});
        }
        let base_layers = self.base.layers().len();
        let mut diff_ids: Vec<Value> = match rootfs.get("diff_ids") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        diff_ids.extend(added.iter().map(|l| json!(l.diff_id().to_string())));
        rootfs["diff_ids"] = json!(diff_ids);
        let mut history: Vec<Value> = match root.get("history") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        // Runtimes pair each non-empty history entry with a layer: where the base recorded fewer than it has
        // layers, fill in, so the new entries line up with the new layers.
        let recorded = history.iter().filter(|h| h.get("empty_layer") != Some(&json!(true))).count();
        for _ in recorded..base_layers {
            history.push(json!({"created_by": format!("{CREATED_BY}: base layer without history")}));
        }
        if !self.edits.is_empty() {
            history.push(json!({
                "created": created,
                "created_by": format!("{CREATED_BY}: {}", self.edits.summary()),
                "empty_layer": true,
            }));
        }
        for input in &self.layers {
            history.push(json!({"created": created, "created_by": format!("{CREATED_BY}: {}", input.describe())}));
        }
        root.insert("history".into(), json!(history));
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::invalid_input(format!("cannot serialise the new config: {e}")))?;
        Ok(Bytes::from(bytes))
    }

    /// The base manifest (unknown fields kept) with the new config descriptor, the new layers and annotations.
    fn new_manifest(&self, added: &[Arc<LayerFile>], config: &Bytes, docker: bool) -> Result<Manifest> {
        let mut manifest: Value = serde_json::from_slice(self.base.raw_manifest().bytes())
            .map_err(|e| Error::protocol(format!("the base manifest is no JSON: {e}")))?;
        let config_digest = registry_core::Digest::sha256(config);
        manifest["config"]["digest"] = json!(config_digest.to_string());
        manifest["config"]["size"] = json!(config.len());
        let mut layers: Vec<Value> = match manifest.get("layers") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        for layer in added {
            let mt = match (layer.compression(), docker) {
                (Compression::Zstd, _) => media_type::OCI_LAYER_ZSTD,
                (_, true) => media_type::DOCKER_LAYER_GZIP,
                (_, false) => media_type::OCI_LAYER_GZIP,
            };
            layers.push(json!({"mediaType": mt, "digest": layer.digest().to_string(), "size": layer.size()}));
        }
        manifest["layers"] = json!(layers);
        if !self.annotations.is_empty() {
            if docker {
                return Err(Error::invalid_input(
                    "docker v2 manifests have no annotations: annotate an OCI image (convert it first)",
                ));
            }
            let mut all: BTreeMap<String, Value> = match manifest.get("annotations") {
                Some(Value::Object(m)) => m.clone().into_iter().collect(),
                _ => BTreeMap::new(),
            };
            for (k, v) in &self.annotations {
                all.insert(k.clone(), json!(v));
            }
            manifest["annotations"] = json!(all);
        }
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::invalid_input(format!("cannot serialise the new manifest: {e}")))?;
        Manifest::parse(bytes, Some(self.base.media_type()))
    }
}

#[cfg(test)]
mod tests;
