//! Manifest media types and parsing.
//!
//! A [`Manifest`] keeps the exact bytes it was parsed from (its digest is over those bytes, never a
//! re-serialisation), its media type, and the parsed body as `oci-spec` types. Parsing refuses bodies over
//! [`MAX_MANIFEST_SIZE`], bodies whose `mediaType` contradicts the `Content-Type` they came with, bodies that are both
//! an index and an image, and Docker schema 1 manifests (recognised, refused with [`ErrorKind::Unsupported`]).

use bytes::Bytes;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// Media type constants.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker schema 1 manifest (unsupported).
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1 signed manifest (unsupported).
    pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// OCI image configuration.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image configuration.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// Whether `media_type` is a container image's config ([`OCI_CONFIG`] or [`DOCKER_CONFIG`]); a manifest whose
    /// config is of another type is an artifact's (OCI image spec, "Guidelines for Artifact Usage"). Never fails.
    pub fn is_image_config(media_type: &str) -> bool {
        media_type == OCI_CONFIG || media_type == DOCKER_CONFIG
    }
    /// OCI gzip-compressed layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// Docker gzip-compressed layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// OCI zstd-compressed layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker uncompressed layer (what skopeo and docker give the layers of a `docker-archive`).
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// Docker foreign (non-distributable) gzip layer, which registries may refuse to serve.
    pub const DOCKER_FOREIGN_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// The `Accept` header sent when fetching manifests: every type this client parses.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";

    /// Whether `mt` is one of the index types.
    pub fn is_index(mt: &str) -> bool {
        mt == OCI_INDEX || mt == DOCKER_LIST
    }

    /// Whether `mt` is one of the image manifest types.
    pub fn is_image(mt: &str) -> bool {
        mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
    }
}

/// The largest manifest accepted, in bytes (4 MiB, as distribution and containerd enforce).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// The parsed body of a manifest.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ManifestBody {
    /// An OCI image manifest or a Docker v2 manifest.
    Image(Box<ImageManifest>),
    /// An OCI image index or a Docker manifest list.
    Index(Box<ImageIndex>),
}

/// A manifest: its exact bytes, media type, digest, and parsed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    bytes: Bytes,
    media_type: String,
    digest: Digest,
    body: ManifestBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    manifests: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
    config: Option<IgnoredAny>,
    fs_layers: Option<IgnoredAny>,
    signatures: Option<IgnoredAny>,
}

/// Content types that carry no information about the manifest's kind.
fn is_generic_content_type(ct: &str) -> bool {
    matches!(ct, "" | "application/json" | "text/plain" | "application/octet-stream")
}

/// The media type part of a `Content-Type` value, without parameters.
pub fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

impl Manifest {
    /// Parse `bytes` that came with `content_type` (the HTTP `Content-Type`, or the media type the caller knows).
    pub fn parse(bytes: impl Into<Bytes>, content_type: Option<&str>) -> Result<Manifest> {
        let bytes: Bytes = bytes.into();
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(Error::unsupported(format!(
                "manifest is {} bytes, over the 4 MiB limit ({MAX_MANIFEST_SIZE} bytes)",
                bytes.len()
            )));
        }
        let content_type = content_type.map(essence).filter(|ct| !is_generic_content_type(ct));
        if let Some(ct) = content_type {
            if ct == media_type::DOCKER_SCHEMA1 || ct == media_type::DOCKER_SCHEMA1_SIGNED {
                return Err(schema1());
            }
        }
        let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| {
            Error::protocol(format!("manifest is not valid JSON ({})", describe_body(&bytes))).with_source(e)
        })?;
        let schema = probe.schema_version.as_ref().and_then(|v| v.as_u64());
        if schema == Some(1) || probe.fs_layers.is_some() || probe.signatures.is_some() {
            return Err(schema1());
        }
        if schema != Some(2) {
            return Err(Error::protocol(format!(
                "manifest has schemaVersion {}, expected 2",
                probe.schema_version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
            )));
        }
        if probe.manifests.is_some() && (probe.layers.is_some() || probe.config.is_some()) {
            return Err(Error::protocol(
                "manifest has both `manifests` and `layers`/`config`: it is neither a valid index nor a valid image",
            ));
        }
        let media_type = match (probe.media_type.as_deref(), content_type) {
            (Some(body), Some(ct)) if body != ct => {
                return Err(Error::protocol(format!("manifest mediaType {body:?} contradicts its Content-Type {ct:?}")))
            }
            (Some(mt), _) | (None, Some(mt)) => mt.to_string(),
            (None, None) if probe.manifests.is_some() => media_type::OCI_INDEX.to_string(),
            (None, None) => media_type::OCI_MANIFEST.to_string(),
        };
        let body = if media_type::is_index(&media_type) {
            if probe.manifests.is_none() {
                return Err(Error::protocol(format!("{media_type} manifest has no `manifests`")));
            }
            ManifestBody::Index(
                serde_json::from_slice(&bytes)
                    .map(Box::new)
                    .map_err(|e| Error::protocol(format!("invalid {media_type} manifest: {e}")).with_source(e))?,
            )
        } else if media_type::is_image(&media_type) {
            if probe.config.is_none() {
                return Err(Error::protocol(format!("{media_type} manifest has no `config`")));
            }
            ManifestBody::Image(
                serde_json::from_slice(&bytes)
                    .map(Box::new)
                    .map_err(|e| Error::protocol(format!("invalid {media_type} manifest: {e}")).with_source(e))?,
            )
        } else {
            return Err(Error::unsupported(format!("manifest media type {media_type:?} is not supported")));
        };
        let digest = Digest::sha256(&bytes);
        Ok(Manifest { bytes, media_type, digest, body })
    }

    /// Serialise an image manifest ([`canonical_json`]: the same manifest gives the same bytes and digest) and parse
    /// it back, so bytes, digest and body agree.
    pub fn from_image(manifest: &ImageManifest, media_type: &str) -> Result<Manifest> {
        Manifest::parse(canonical_json(manifest, "manifest")?, Some(media_type))
    }

    /// Serialise an index ([`canonical_json`]) and parse it back, so bytes, digest and body agree.
    pub fn from_index(index: &ImageIndex, media_type: &str) -> Result<Manifest> {
        Manifest::parse(canonical_json(index, "index")?, Some(media_type))
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The media type (from the body, else the Content-Type, else inferred).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The sha256 digest of the bytes.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The parsed body.
    pub fn body(&self) -> &ManifestBody {
        &self.body
    }

    /// Whether this is an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self.body, ManifestBody::Index(_))
    }

    /// The image manifest, if this is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.body {
            ManifestBody::Image(m) => Some(m),
            ManifestBody::Index(_) => None,
        }
    }

    /// The index, if this is one.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.body {
            ManifestBody::Index(i) => Some(i),
            ManifestBody::Image(_) => None,
        }
    }

    /// A descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Result<Descriptor> {
        descriptor(&self.media_type, &self.digest, self.size())
    }
}

/// `value` as compact JSON with every object's keys in sorted order, so equal values give equal bytes (and digests).
/// The OCI types keep annotations and labels in hash maps, whose order changes from one map to the next: serialised
/// directly, a manifest with two annotations could get another digest each time it is built. `what` names the value
/// in the error (`InvalidInput` when it cannot be serialised).
pub fn canonical_json(value: &impl serde::Serialize, what: &str) -> Result<Vec<u8>> {
    let tree =
        serde_json::to_value(value).map_err(|e| Error::invalid_input(format!("cannot serialise {what}: {e}")))?;
    serde_json::to_vec(&tree).map_err(|e| Error::invalid_input(format!("cannot serialise {what}: {e}")))
}

/// A descriptor for content of `media_type` with `digest` and `size`.
pub fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Result<Descriptor> {
    let d = oci_spec::image::Digest::try_from(digest.as_str())
        .map_err(|e| Error::invalid_input(format!("digest {digest} rejected by oci-spec: {e}")))?;
    Ok(Descriptor::new(media_type.into(), size, d))
}

/// Our [`Digest`] of an `oci-spec` descriptor, validated.
pub fn descriptor_digest(d: &Descriptor) -> Result<Digest> {
    Digest::try_from(d.digest()).map_err(|e| e.context("descriptor digest"))
}

fn schema1() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "Docker schema 1 manifests are deprecated and not supported; re-push the image with a current client \
         (schema 2 / OCI)",
    )
}

/// A short description of a body that failed to parse, safe to put in an error.
pub(crate) fn describe_body(bytes: &[u8]) -> String {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]);
    let head: String = head.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if head.trim_start().starts_with('<') {
        format!("looks like HTML: {:?}", head.trim())
    } else {
        format!("{} bytes starting {:?}", bytes.len(), head.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn an_index_with_annotations_serialises_to_the_same_bytes_every_time() {
        let d = format!("sha256:{}", "a".repeat(64));
        let raw = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1,"annotations":{{"k1":"1","k2":"2","k3":"3","k4":"4"}}}}],"annotations":{{"a":"1","b":"2","c":"3","d":"4","e":"5"}}}}"#,
            OCI_INDEX = media_type::OCI_INDEX,
            OCI_MANIFEST = media_type::OCI_MANIFEST,
        );
        let digests: std::collections::HashSet<Digest> = (0..32)
            .map(|_| {
                let index: ImageIndex = serde_json::from_str(&raw).unwrap();
                Manifest::from_index(&index, media_type::OCI_INDEX).unwrap().digest().clone()
            })
            .collect();
        assert_eq!(digests.len(), 1, "one index, one digest (a set this large is not printed)");
    }

    const CFG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn image_json(media_type: Option<&str>) -> String {
        let mt = media_type.map(|m| format!(r#""mediaType":"{m}","#)).unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[]}}"#,
            media_type::OCI_CONFIG
        )
    }

    fn index_json(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{{"mediaType":"{}","digest":"{CFG}","size":2,"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
            media_type::OCI_MANIFEST
        )
    }

    #[test]
    fn parses_the_four_kinds() {
        let cases = [
            (image_json(Some(media_type::OCI_MANIFEST)), Some(media_type::OCI_MANIFEST), false),
            (image_json(Some(media_type::DOCKER_MANIFEST)), Some(media_type::DOCKER_MANIFEST), false),
            (image_json(None), Some(media_type::OCI_MANIFEST), false),
            (image_json(None), None, false),
            (index_json(media_type::OCI_INDEX), Some(media_type::OCI_INDEX), true),
            (
                index_json(media_type::DOCKER_LIST),
                Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
                true,
            ),
            (index_json(media_type::OCI_INDEX), Some("application/json"), true),
        ];
        for (body, ct, is_index) in cases {
            let m = match Manifest::parse(body.clone(), ct) {
                Ok(m) => m,
                Err(e) => panic!("{body} / {ct:?}: {e}"),
            };
            assert_eq!(m.is_index(), is_index, "{body}");
            assert_eq!(m.digest(), &Digest::sha256(body.as_bytes()));
            assert_eq!(m.bytes().as_ref(), body.as_bytes());
        }
    }

    fn kind_of(body: &str, ct: Option<&str>) -> ErrorKind {
        match Manifest::parse(body.to_string(), ct) {
            Ok(m) => panic!("{body:?} parsed: {m:?}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn rejects_confusion_schema1_and_garbage() {
        // mediaType contradicts Content-Type
        assert_eq!(
            kind_of(&image_json(Some(media_type::OCI_MANIFEST)), Some(media_type::OCI_INDEX)),
            ErrorKind::Protocol
        );
        assert_eq!(
            kind_of(&image_json(Some(media_type::DOCKER_MANIFEST)), Some(media_type::OCI_MANIFEST)),
            ErrorKind::Protocol
        );
        // index media type with image structure
        assert_eq!(kind_of(&image_json(Some(media_type::OCI_INDEX)), None), ErrorKind::Protocol);
        // both manifests and layers
        let both = format!(
            r#"{{"schemaVersion":2,"manifests":[],"config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[]}}"#,
            media_type::OCI_CONFIG
        );
        assert_eq!(kind_of(&both, None), ErrorKind::Protocol);
        // schema 1, by body and by content type
        assert_eq!(kind_of(r#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"#, None), ErrorKind::Unsupported);
        assert_eq!(kind_of("{}", Some(media_type::DOCKER_SCHEMA1_SIGNED)), ErrorKind::Unsupported);
        // garbage and HTML
        assert_eq!(kind_of("<html><body>Bad gateway</body></html>", Some("text/html")), ErrorKind::Protocol);
        assert_eq!(kind_of("{\"schemaVersion\":2,", None), ErrorKind::Protocol);
        assert_eq!(kind_of("[]", None), ErrorKind::Protocol);
        assert_eq!(kind_of(r#"{"schemaVersion":3,"layers":[]}"#, None), ErrorKind::Protocol);
        // unknown media type
        assert_eq!(kind_of(&image_json(Some("application/vnd.example+json")), None), ErrorKind::Unsupported);
        // a descriptor with a bad digest
        let bad = image_json(None).replace(CFG, "sha256:abc");
        assert_eq!(kind_of(&bad, None), ErrorKind::Protocol);
    }

    #[test]
    fn rejects_oversized() {
        let big = format!("{{\"schemaVersion\":2,\"pad\":\"{}\"}}", "x".repeat(MAX_MANIFEST_SIZE));
        assert_eq!(kind_of(&big, None), ErrorKind::Unsupported);
    }

    #[test]
    fn html_is_described() {
        let err = Manifest::parse("<!DOCTYPE html><html>", None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("looks like HTML"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_manifest_body_parses_without_panic(
            body in proptest::prelude::any::<Vec<u8>>(),
            content_type in proptest::option::of("\\PC{0,40}|application/vnd\\.oci\\.image\\.(manifest|index)\\.v1\\+json"),
        ) {
            let _ = Manifest::parse(body, content_type.as_deref());
        }

        #[test]
        fn any_descriptor_size_round_trips_or_is_refused(size: u64, signed: i64, float: f64) {
            let with = |size: &str| {
                let json = image_json(Some(media_type::OCI_MANIFEST))
                    .replace(r#""layers":[]"#, &format!(r#""layers":[{{"mediaType":"{}","digest":"{CFG}","size":{size}}}]"#, media_type::OCI_LAYER_GZIP));
                Manifest::parse(json, None)
            };
            let parsed = with(&size.to_string());
            let got = parsed.as_ref().ok().and_then(Manifest::as_image).map(|m| m.layers()[0].size());
            proptest::prop_assert_eq!(got, Some(size));
            // A negative or fractional size is refused with a Protocol error, never wrapped.
            if signed < 0 {
                proptest::prop_assert_eq!(with(&signed.to_string()).err().map(|e| e.kind()), Some(ErrorKind::Protocol));
            }
            if float.is_finite() && float.fract() != 0.0 {
                proptest::prop_assert_eq!(with(&format!("{float:?}")).err().map(|e| e.kind()), Some(ErrorKind::Protocol));
            }
        }
    }
}
