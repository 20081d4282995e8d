//! `regcli` reference forms end to end: a docker-archive's one name (as a source, as the name a docker-archive
//! destination takes), `ls docker-archive:FILE`, layouts holding digest tags, and what a path that is no layout
//! says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use registry_client::{Client, DockerArchiveWriter, Image, ImageBuilder, LayoutClient, Platform};
use registry_tests::{AuthMode, DockerRegistry};
use support::{client, fails, image, ok};

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// An image whose one layer is a tar holding `file` (a docker-archive's layers must be tars).
fn tar_image(file: &str) -> Image {
    ImageBuilder::new()
        .layer(registry_tests::layers::one_file_tar(file, file.as_bytes()))
        .platform(Platform::new("linux", "amd64"))
        .build()
        .unwrap()
}

/// A docker-archive at `path` holding `image` under `names`.
async fn docker_archive(path: &Path, image: &Image, names: &[&str]) {
    let mut writer = DockerArchiveWriter::create(path).await.unwrap();
    writer.add_image(image, names).await.unwrap();
    writer.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_archive_with_one_name_gives_its_repo_and_tag() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let img = tar_image("seven");
    let fe = dir.path().join("fe.tar");
    docker_archive(&fe, &img, &["demo/frontend:v1.2.0"]).await;
    let fe_ref = format!("docker-archive:{}", fe.display());

    // Into a registry without a tag: the archive's tag, not an untagged push.
    let repo = format!("{}/fromda", registry.host());
    ok(&["cp", &fe_ref, &repo]).await;
    assert_eq!(lines(&ok(&["ls", &repo]).await), ["v1.2.0"]);
    let pushed = client(&registry.host()).with_segment("fromda").get_image("v1.2.0", Default::default()).await;
    assert_eq!(pushed.unwrap().config_descriptor().digest(), img.config_descriptor().digest());

    // Archive to archive without a name: the source archive's own name.
    let copy = dir.path().join("b.tar");
    let copy_ref = format!("docker-archive:{}", copy.display());
    ok(&["cp", &fe_ref, &copy_ref]).await;
    assert_eq!(lines(&ok(&["ls", &copy_ref]).await), ["v1.2.0"], "one repository: its tags");
    assert!(ok(&["inspect", &format!("{copy_ref}:demo/frontend:v1.2.0")]).await.contains("sha256:"));

    // A source by digest has no name: the error says the destination needs one (exit 2), nothing is written.
    let digest = ok(&["digest", &format!("{repo}:v1.2.0")]).await.trim().to_string();
    let unnamed = dir.path().join("c.tar");
    let error = fails(2, &["cp", &format!("{repo}@{digest}"), &format!("docker-archive:{}", unnamed.display())]).await;
    assert!(error.contains(&format!("destination docker-archive:{}", unnamed.display())), "{error}");
    assert!(error.contains("repo:tag"), "{error}");
    assert!(!unnamed.exists());

    // An archive whose image has no name is read by digest.
    let none = dir.path().join("none.tar");
    docker_archive(&none, &img, &[]).await;
    let none_ref = format!("docker-archive:{}", none.display());
    assert!(ok(&["digest", &none_ref]).await.starts_with("sha256:"));
    assert!(lines(&ok(&["ls", &none_ref]).await).is_empty(), "no name, no tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_a_docker_archive_with_several_repositories_lists_repo_tag_names() {
    let dir = tempfile::tempdir().unwrap();
    let img = tar_image("eight");
    let two = dir.path().join("two.tar");
    docker_archive(&two, &img, &["b/web:v2.0", "a/api:v1.1", "a/api:dev"]).await;
    let two_ref = format!("docker-archive:{}", two.display());
    assert_eq!(lines(&ok(&["ls", &two_ref]).await), ["a/api:dev", "a/api:v1.1", "b/web:v2.0"]);
    assert_eq!(lines(&ok(&["ls", &two_ref, "--semver", ">=1"]).await), ["a/api:v1.1", "b/web:v2.0"]);
    assert_eq!(lines(&ok(&["ls", &two_ref, "-n", "1", "--last", "a/api:dev"]).await), ["a/api:v1.1"]);
    // Several names: a source must name one (exit 2), saying which it has.
    let error = fails(2, &["digest", &two_ref]).await;
    assert!(error.contains("3 names") && error.contains("b/web:v2.0"), "{error}");
    assert!(ok(&["digest", &format!("{two_ref}:a/api:dev")]).await.starts_with("sha256:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_with_digest_tags_still_has_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let layout = LayoutClient::open(dir.path()).await.unwrap();
    let img = image(9, Platform::new("linux", "amd64"));
    layout.push_image("v1", &img).await.unwrap();
    let hex = img.digest().hex().to_string();
    let sig = image(10, Platform::new("linux", "amd64"));
    for tag in [format!("sha256-{hex}"), format!("sha256-{hex}.sig")] {
        layout.push_image(&tag, &sig).await.unwrap();
    }
    let oci = format!("oci:{}", dir.path().display());
    assert_eq!(ok(&["digest", &oci]).await.trim(), img.digest().to_string());
    assert!(ok(&["inspect", &oci]).await.contains(&img.digest().to_string()));
    assert_eq!(
        lines(&ok(&["ls", &oci]).await),
        ["sha256-".to_string() + &hex, format!("sha256-{hex}.sig"), "v1".into()]
    );
    layout.push_image("v2", &img).await.unwrap();
    assert!(fails(2, &["digest", &oci]).await.contains("2 tags"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_are_no_layout_say_what_they_are_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missingdir");
    let missing_ref = format!("oci:{}", missing.display());
    for command in ["inspect", "ls", "digest"] {
        let error = fails(1, &[command, &missing_ref]).await;
        assert!(error.contains("does not exist") && error.contains(&missing_ref), "{command}: {error}");
    }
    assert!(!missing.exists(), "reading creates nothing");

    let plain = dir.path().join("notlayout");
    std::fs::create_dir(&plain).unwrap();
    let plain_ref = format!("oci:{}", plain.display());
    for command in ["inspect", "ls", "digest"] {
        let error = fails(1, &[command, &plain_ref]).await;
        assert!(error.contains("is not an OCI layout") && error.contains("oci-layout"), "{command}: {error}");
    }
    assert!(!plain.join("oci-layout").exists(), "reading writes no oci-layout file");

    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(fails(1, &["ls", &format!("oci:{}", file.display())]).await.contains("is not a directory"));
    let tar = format!("docker-archive:{}", dir.path().join("missing.tar").display());
    fails(1, &["ls", &tar]).await;

    // catalog takes a registry host, not a layout (exit 2).
    let error = fails(2, &["catalog", "oci:air"]).await;
    assert!(error.contains("registry host") && error.contains("regcli ls oci:DIR"), "{error}");
}
