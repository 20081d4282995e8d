//! Validation of images in memory, with sources that lie.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use bytes::Bytes;
use registry_core::manifest::media_type;
use registry_core::ByteStream;

use super::*;
use crate::image::builder::ImageBuilder;
use crate::image::model::{slices_from, MemoryBlobs};

fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A source that serves other bytes for some digests: `(digest, bytes)` replaced as given, unverified.
#[derive(Debug)]
struct Lying {
    real: Arc<dyn BlobSource>,
    replaced: Vec<(Digest, Bytes)>,
}

#[async_trait::async_trait]
impl BlobSource for Lying {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        match self.replaced.iter().find(|(d, _)| d == digest) {
            Some((_, data)) => Ok(slices_from(data, 0, 7)),
            None => self.real.open(digest, size).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_image_has_no_problems() {
    let a = tar_of("a", b"aaaa");
    let image = ImageBuilder::new()
        .layer(tar_of("plain", b"plain"))
        .compressed_layer(gzip(&a), media_type::OCI_LAYER_GZIP, Digest::sha256(&a))
        .build()
        .unwrap();
    let report = validate_image(&image).await;
    assert!(report.is_valid(), "{report}");
    assert_eq!((report.manifests_checked(), report.blobs_checked()), (1, 3), "{report}");
    assert_eq!(report.subject(), image.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_is_reported_in_one_report() {
    let good = tar_of("good", b"good");
    let lying = tar_of("lying", b"the diff_id lies");
    let corrupt = tar_of("corrupt", b"corrupt");
    let short = tar_of("short", b"short");
    let long = tar_of("long", b"long");
    let image = ImageBuilder::new()
        .layer(good.clone())
        .compressed_layer(gzip(&lying), media_type::OCI_LAYER_GZIP, Digest::sha256(b"something else"))
        .layer(corrupt.clone())
        .layer(short.clone())
        .layer(long.clone())
        .build()
        .unwrap();
    let mut flipped = corrupt.clone();
    flipped[600] ^= 0xff;
    let mut longer = long.clone();
    longer.extend_from_slice(&[0; 512]);
    let source = Lying {
        real: image.source().clone(),
        replaced: vec![
            (Digest::sha256(&corrupt), Bytes::from(flipped)),
            (Digest::sha256(&short), Bytes::copy_from_slice(&short[..1000])),
            (Digest::sha256(&long), Bytes::from(longer)),
        ],
    };
    let lied = Image::from_parts(image.raw_manifest().clone(), image.config_bytes().clone(), Arc::new(source)).unwrap();
    let report = validate_image(&lied).await;
    let kinds: Vec<(ProblemKind, String)> =
        report.problems().iter().map(|p| (p.kind(), p.subject().to_string())).collect();
    assert_eq!(
        kinds,
        vec![
            (ProblemKind::DiffId, image.layers()[1].digest().to_string()),
            (ProblemKind::BlobDigest, Digest::sha256(&corrupt).to_string()),
            (ProblemKind::BlobSize, Digest::sha256(&short).to_string()),
            (ProblemKind::BlobSize, Digest::sha256(&long).to_string()),
        ],
        "{report}"
    );
    assert!(report.problems()[0].message().contains("diff_id"), "{report}");
    assert!(report.problems()[2].message().contains("1000 bytes"), "{report}");
    assert!(report.problems()[3].message().contains("more than"), "{report}");
    assert_eq!(report.problems()[0].manifest(), Some(image.digest()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_manifest_disagreements() {
    // Two layers, one diff_id; a broken gzip; a missing blob; a layer type that is no tar.
    let a = tar_of("a", b"a");
    let mut blobs = MemoryBlobs::new();
    let a_digest = blobs.insert(Bytes::from(a.clone()));
    let bad_gz = Bytes::from_static(b"\x1f\x8b\x08\x00broken gzip");
    let bad_digest = blobs.insert(bad_gz.clone());
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [a_digest.to_string(), "sha256:nope"]}
    }))
    .unwrap();
    let config_digest = blobs.insert(Bytes::from(config.clone()));
    let missing = Digest::sha256(b"missing");
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::DOCKER_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": [
            {"mediaType": media_type::DOCKER_LAYER_TAR, "digest": a_digest.to_string(), "size": a.len()},
            {"mediaType": media_type::DOCKER_LAYER_GZIP, "digest": bad_digest.to_string(), "size": bad_gz.len()},
            {"mediaType": media_type::DOCKER_LAYER_GZIP, "digest": missing.to_string(), "size": 7},
            {"mediaType": "application/json", "digest": a_digest.to_string(), "size": a.len()},
        ]
    });
    let manifest = Manifest::parse(serde_json::to_vec(&manifest).unwrap(), Some(media_type::DOCKER_MANIFEST)).unwrap();
    let image = Image::from_parts(manifest, Bytes::from(config), Arc::new(blobs)).unwrap();
    let report = validate_image(&image).await;
    let kinds: Vec<ProblemKind> = report.problems().iter().map(|p| p.kind()).collect();
    for want in [
        ProblemKind::ConfigMediaType,
        ProblemKind::ConfigInvalid,
        ProblemKind::LayerCount,
        ProblemKind::LayerCorrupt,
        ProblemKind::BlobMissing,
        ProblemKind::LayerMediaType,
    ] {
        assert!(kinds.contains(&want), "{want} missing from {report}");
    }
}

/// A read-only client over manifests in memory, counting `get_manifest` calls; `lies` maps a digest asked for to
/// another manifest served instead.
#[derive(Debug, Default)]
struct MapClient {
    manifests: std::collections::HashMap<String, Manifest>,
    lies: std::collections::HashMap<String, Manifest>,
    calls: std::sync::atomic::AtomicUsize,
}

impl MapClient {
    fn add(&mut self, tag: &str, m: &Manifest) {
        self.manifests.insert(tag.to_string(), m.clone());
        self.manifests.insert(format!("@{}", m.digest()), m.clone());
    }
}

fn refused<T>() -> Result<T> {
    Err(registry_core::Error::unsupported("read-only test client"))
}

#[async_trait::async_trait]
impl Client for MapClient {
    fn with_segment(&self, _: &str) -> Arc<dyn Client> {
        Arc::new(MapClient::default())
    }
    fn get_registry(&self) -> String {
        "memory".into()
    }
    async fn get_manifest(&self, reference: &str) -> Result<crate::manifest_result::ManifestResult> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let m = self.lies.get(reference).or_else(|| self.manifests.get(reference));
        m.cloned()
            .map(crate::manifest_result::ManifestResult::new)
            .ok_or_else(|| registry_core::Error::not_found(format!("manifest {reference}")))
    }
    async fn put_manifest(&self, _: &str, _: &Manifest) -> Result<Digest> {
        refused()
    }
    fn blobs(&self) -> Result<Arc<dyn BlobSource>> {
        Ok(Arc::new(MemoryBlobs::new()))
    }
    async fn push_blob(
        &self,
        _: &Descriptor,
        _: &dyn BlobSource,
        _: Option<&registry_core::Repository>,
    ) -> Result<registry_core::api::BlobPushed> {
        refused()
    }
    async fn push_image(&self, _: &str, _: &Image) -> Result<()> {
        refused()
    }
    async fn list_tags(&self, _: crate::options::ListOptions) -> Result<Vec<String>> {
        refused()
    }
    async fn list_repositories(&self, _: crate::options::ListOptions) -> Result<Vec<String>> {
        refused()
    }
    async fn delete_tag(&self, _: &str) -> Result<()> {
        refused()
    }
    async fn delete_by_digest(&self, _: &str) -> Result<()> {
        refused()
    }
    async fn list_referrers(&self, _: &str, _: Option<&str>) -> Result<Vec<Descriptor>> {
        refused()
    }
    async fn push_artifact(&self, _: &crate::image::artifact::Artifact) -> Result<Digest> {
        refused()
    }
}

fn index(children: &[(String, u64)]) -> Manifest {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(d, size)| serde_json::json!({"mediaType": media_type::OCI_INDEX, "digest": d, "size": size}))
        .collect();
    let v = serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests});
    Manifest::parse(serde_json::to_vec(&v).unwrap(), Some(media_type::OCI_INDEX)).unwrap()
}

#[tokio::test]
async fn a_hostile_index_is_bounded() {
    // Thousands of children that do not exist: at most max_manifests requests.
    let children: Vec<(String, u64)> =
        (0..20_000u32).map(|i| (Digest::sha256(&i.to_be_bytes()).to_string(), 100)).collect();
    let mut client = MapClient::default();
    client.add("wide", &index(&children));
    let report = validate(&client, "wide").await.unwrap();
    let calls = client.calls.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(calls, 10_000, "the top and 9,999 children asked for");
    assert_eq!(report.problems_of(ProblemKind::LimitReached).count(), 1);
    assert_eq!(report.problems_of(ProblemKind::ChildMissing).count(), 9_999);

    // Indexes nested 12 deep: followed 8 levels down.
    let mut client = MapClient::default();
    let mut below = index(&[]);
    client.add("level12", &below);
    for level in (0..12).rev() {
        let m = index(&[(below.digest().to_string(), below.size())]);
        client.add(&format!("level{level}"), &m);
        below = m;
    }
    let report = validate(&client, "level0").await.unwrap();
    assert_eq!(report.manifests_checked(), 9, "{report}");
    assert_eq!(report.problems_of(ProblemKind::LimitReached).count(), 1, "{report}");

    // A source that serves the parent when asked for a child: a cycle in all but name, refused.
    let mut client = MapClient::default();
    let child = index(&[]);
    let top = index(&[(child.digest().to_string(), child.size())]);
    client.add("top", &top);
    client.lies.insert(format!("@{}", child.digest()), top.clone());
    let report = validate(&client, "top").await.unwrap();
    let kinds: Vec<ProblemKind> = report.problems().iter().map(|p| p.kind()).collect();
    assert_eq!(kinds, [ProblemKind::ChildUnreadable], "{report}");
    assert!(report.problems()[0].message().contains("served the manifest"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_cap_is_a_limit_not_corruption() {
    let big = tar_of("zeros", &[0u8; 64 << 10]);
    let image = ImageBuilder::new()
        .compressed_layer(gzip(&big), media_type::OCI_LAYER_GZIP, Digest::sha256(&big))
        .build()
        .unwrap();
    assert!(validate_image(&image).await.is_valid(), "under the default caps");
    let tight = ValidateOptions::new().decompression_limits(DecompressionLimits::new().max_bytes(4 << 10));
    let report = validate_image_with(&image, tight).await;
    let kinds: Vec<ProblemKind> = report.problems().iter().map(|p| p.kind()).collect();
    assert_eq!(kinds, vec![ProblemKind::LimitReached], "{report}");
    assert!(report.to_string().contains("cap of 4096 bytes"), "{report}");
}
