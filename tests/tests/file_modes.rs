//! What the layout and archive writers leave on disk is readable by others, as skopeo leaves it (0644 less the
//! umask), not the 0600 of a private temporary file; a layout file being replaced keeps its mode.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use registry_client::{Client, DockerArchiveWriter, ImageBuilder, LayoutClient, OciArchiveWriter};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_below(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_below(&path, out);
        } else if !path.ends_with(".lock") {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn layouts_and_archives_are_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let image = ImageBuilder::new().layer(&b"not a tar, but a blob"[..]).build().unwrap();

    let layout = LayoutClient::open(dir.path().join("layout")).await.unwrap();
    layout.with_segment("org/app").push_image("v1", &image).await.unwrap();
    let mut files = Vec::new();
    files_below(&dir.path().join("layout/org/app"), &mut files);
    assert!(files.len() >= 5, "oci-layout, index.json, manifest, config, layer: {files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o644, "{} is {:o}", f.display(), mode(f));
    }

    // A mode the user chose for index.json survives the next write.
    let index = dir.path().join("layout/org/app/index.json");
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o640)).unwrap();
    layout.with_segment("org/app").tag_image("v1", "v2").await.unwrap();
    assert_eq!(mode(&index), 0o640);
    assert!(std::fs::read_to_string(&index).unwrap().contains("\"v2\""));

    let docker = dir.path().join("docker.tar");
    let mut w = DockerArchiveWriter::create(&docker).await.unwrap();
    w.add_image(&image, &["org/app:v1"]).await.unwrap();
    w.finish().await.unwrap();
    assert_eq!(mode(&docker), 0o644);
    let oci = dir.path().join("oci.tar");
    let mut w = OciArchiveWriter::create(&oci).await.unwrap();
    w.add_image("v1", &image).await.unwrap();
    w.finish().await.unwrap();
    assert_eq!(mode(&oci), 0o644);
}
