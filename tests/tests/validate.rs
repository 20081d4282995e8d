//! Validation against the real `docker-registry`: a clean image and index have no problems; an index whose
//! children have a corrupted blob (overwritten in the registry's storage), a layer whose `diff_id` lies, a layer
//! descriptor with the wrong size, a platform entry that disagrees with the config, and a deleted child gets every
//! one of those problems in one report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;

use registry_client::core::manifest::{media_type, Manifest};
use registry_client::{
    index_of, validate, validate_with, Client, Digest, ImageBuilder, Platform, ProblemKind, RemoteClient,
    ValidateOptions,
};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::{json, Value};

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

fn client(registry: &DockerRegistry, repo: &str) -> Arc<dyn Client> {
    Arc::new(RemoteClient::builder(format!("{}/{repo}", registry.host())).insecure(true).build().unwrap())
}

/// A gzip layer of the tar holding `name` with `data`, its diff_id right.
fn gz_layer(builder: ImageBuilder, name: &str, data: &[u8]) -> ImageBuilder {
    let tar = tar_of(name, data);
    builder.compressed_layer(gzip(&tar), media_type::OCI_LAYER_GZIP, Digest::sha256(&tar))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_image_and_index_have_no_problems() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry, "clean/app");
    let amd = gz_layer(ImageBuilder::new(), "a", b"amd64").layer(tar_of("b", b"plain")).build().unwrap();
    let arm = gz_layer(ImageBuilder::new().platform(Platform::new("linux", "arm64").with_variant("v8")), "a", b"arm")
        .build()
        .unwrap();
    let index = index_of(&[&amd, &arm]).unwrap();
    repo.push_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    repo.push_image("single", &amd).await.unwrap();

    let report = validate(repo.as_ref(), "v1").await.unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.subject(), index.digest());
    assert_eq!((report.manifests_checked(), report.blobs_checked()), (3, 5), "{report}");
    let report = validate(repo.as_ref(), "single").await.unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.media_type(), media_type::OCI_MANIFEST);

    let e = validate(repo.as_ref(), "absent").await.unwrap_err();
    assert!(e.is_not_found(), "an unreadable top reference is an error: {e}");
    let capped = validate_with(repo.as_ref(), "v1", ValidateOptions::new().max_manifests(2)).await.unwrap();
    let limits: Vec<_> = capped.problems_of(ProblemKind::LimitReached).collect();
    assert_eq!(limits.len(), 1, "{capped}");
    assert_eq!(capped.manifests_checked(), 2, "{capped}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_problem_of_an_index_is_in_one_report() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let repo = client(&registry, "broken/app");

    // A: a layer whose stored bytes get corrupted in the registry's storage.
    let a = gz_layer(ImageBuilder::new().label("child", "a"), "a", b"to be corrupted").build().unwrap();
    // B: a layer whose config diff_id lies (the registry does not check diff_ids).
    let tar = tar_of("b", b"honest bytes");
    let b = ImageBuilder::new()
        .label("child", "b")
        .compressed_layer(gzip(&tar), media_type::OCI_LAYER_GZIP, Digest::sha256(b"a lie"))
        .build()
        .unwrap();
    // C: pushed, then deleted after the index is in place.
    let c = ImageBuilder::new().label("child", "c").layer(tar_of("c", b"c")).build().unwrap();
    // D: its index entry claims another platform than its config.
    let d = ImageBuilder::new().label("child", "d").layer(tar_of("d", b"d")).build().unwrap();
    // E: a manifest whose layer descriptor says one byte more than the blob has.
    let e_base = ImageBuilder::new().label("child", "e").layer(tar_of("e", b"e")).build().unwrap();
    for (tag, image) in [("a", &a), ("b", &b), ("c", &c), ("d", &d), ("e", &e_base)] {
        repo.push_image(tag, image).await.unwrap();
    }
    let mut e_json: Value = serde_json::from_slice(e_base.raw_manifest().bytes()).unwrap();
    let real_size = e_json["layers"][0]["size"].as_u64().unwrap();
    e_json["layers"][0]["size"] = json!(real_size + 1);
    let e_manifest = Manifest::parse(serde_json::to_vec(&e_json).unwrap(), Some(media_type::OCI_MANIFEST)).unwrap();
    repo.put_manifest("e-wrong", &e_manifest).await.unwrap();

    let mut index: Value = serde_json::from_slice(index_of(&[&a, &b, &c, &d]).unwrap().bytes()).unwrap();
    index["manifests"][3]["platform"] = json!({"os": "linux", "architecture": "s390x"});
    let mut entries = index["manifests"].as_array().unwrap().clone();
    entries.push(json!({
        "mediaType": media_type::OCI_MANIFEST, "digest": e_manifest.digest().to_string(),
        "size": e_manifest.size(), "platform": {"os": "linux", "architecture": "amd64"},
    }));
    index["manifests"] = json!(entries);
    let index = Manifest::parse(serde_json::to_vec(&index).unwrap(), Some(media_type::OCI_INDEX)).unwrap();
    repo.put_manifest("v1", &index).await.unwrap();
    repo.delete_by_digest(c.digest().as_ref()).await.unwrap();

    let corrupted = Digest::parse(a.layers()[0].digest().as_ref()).unwrap();
    let data = registry
        .data_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&corrupted.hex()[..2])
        .join(corrupted.hex())
        .join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    let report = validate(repo.as_ref(), "v1").await.unwrap();
    let found: Vec<(ProblemKind, String)> =
        report.problems().iter().map(|p| (p.kind(), p.subject().to_string())).collect();
    let want = [
        (ProblemKind::ChildMissing, c.digest().to_string()),
        (ProblemKind::BlobDigest, corrupted.to_string()),
        (ProblemKind::DiffId, b.layers()[0].digest().to_string()),
        (ProblemKind::PlatformMismatch, d.digest().to_string()),
        (ProblemKind::BlobSize, e_base.layers()[0].digest().to_string()),
    ];
    for w in &want {
        assert!(found.contains(w), "{w:?} not reported:\n{report}");
    }
    assert_eq!(found.len(), want.len(), "nothing else reported:\n{report}");
    let mismatch = report.problems_of(ProblemKind::PlatformMismatch).next().unwrap();
    assert!(mismatch.message().contains("linux/s390x") && mismatch.message().contains("linux/amd64"), "{report}");
    assert_eq!(report.problems_of(ProblemKind::ChildMissing).next().unwrap().manifest(), Some(index.digest()));
    assert_eq!(report.manifests_checked(), 5, "the top index and four children read: {report}");
}

/// The same checks on the in-memory fake: a clean index, then the same index with one child deleted.
#[tokio::test(flavor = "multi_thread")]
async fn the_fake_is_validated_the_same_way() {
    let fake = mocks::FakeClient::new("registry.example.com");
    let repo = fake.with_segment("team/app");
    let amd = gz_layer(ImageBuilder::new(), "a", b"amd64").build().unwrap();
    let arm = gz_layer(ImageBuilder::new().platform(Platform::new("linux", "arm64")), "a", b"arm").build().unwrap();
    let index = index_of(&[&amd, &arm]).unwrap();
    repo.push_index("v1", &index, &[amd.clone(), arm.clone()]).await.unwrap();
    let report = validate(repo.as_ref(), "v1").await.unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!((report.manifests_checked(), report.blobs_checked()), (3, 4), "{report}");

    repo.delete_by_digest(arm.digest().as_ref()).await.unwrap();
    let report = validate(repo.as_ref(), "v1").await.unwrap();
    let found: Vec<(ProblemKind, &Digest)> = report.problems().iter().map(|p| (p.kind(), p.subject())).collect();
    assert_eq!(found, [(ProblemKind::ChildMissing, arm.digest())], "{report}");
}
