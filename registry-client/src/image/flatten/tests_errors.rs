//! What a failed flatten says: a layer that is no tar is `InvalidInput` naming the layer and its position; an error
//! of the blob source keeps its kind, status and codes and says which layer it was reading, and from where.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use registry_core::{ByteStream, Digest, Error, ErrorKind, RegistryErrorCode, Repository, Result};

use crate::image::extract_options::ExtractOptions;
use crate::image::flatten::tests::{image_of, layer, read_all, E};
use crate::image::model::{BlobSource, Image, MemoryBlobs};

fn digest_of(image: &Image, i: usize) -> String {
    image.layers()[i].digest().to_string()
}

#[tokio::test]
async fn a_layer_that_is_no_tar_is_invalid_input_naming_it() {
    let good = layer(&[E::File("a", "a")]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bytes that are no tar", b"layer one".to_vec(), "failed to read entire block"),
        (
            "a header with a bad checksum",
            {
                let mut t = layer(&[E::File("b", "b")]);
                t[0] ^= 0x55;
                t
            },
            "checksum",
        ),
        (
            "data cut short",
            {
                let mut t = layer(&[E::File("c", &"c".repeat(2000))]);
                t.truncate(1000);
                t
            },
            "(at entry c)",
        ),
    ];
    for (what, bad, detail) in cases {
        let image = image_of(&[good.clone(), bad]);
        let want = format!("layer {} (2 of 2) is not a valid tar", digest_of(&image, 1));
        let e = read_all(&image, ExtractOptions::default()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert!(e.to_string().contains(&want), "{what}: {e}");
        assert!(e.to_string().contains(detail), "{what}: {e}");
        assert_eq!(e.to_string().matches("(2 of 2)").count(), 1, "{what}: said once: {e}");
        // extract_to says the same, with the same kind.
        let dir = tempfile::tempdir().unwrap();
        let e = image.extract_to(dir.path().join("rootfs")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert!(e.to_string().contains(&want), "{what}: {e}");
    }
}

/// Blobs from memory, except `bad`, whose stream ends in the error `error` makes after its first 100 bytes.
#[derive(Debug)]
struct FailsOne {
    blobs: MemoryBlobs,
    bad: Digest,
    error: fn() -> Error,
    repository: Option<Repository>,
}

#[async_trait::async_trait]
impl BlobSource for FailsOne {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        let stream = self.blobs.open(digest, size).await?;
        if digest != &self.bad {
            return Ok(stream);
        }
        let head = self.blobs.get(digest).unwrap().slice(..100);
        Ok(Box::pin(futures::stream::iter(vec![Ok(head), Err((self.error)())])))
    }

    fn repository(&self) -> Option<&Repository> {
        self.repository.as_ref()
    }
}

/// A two-layer image whose lower layer's stream fails with `error`, and how that layer is named in errors.
fn failing(error: fn() -> Error, repository: Option<Repository>) -> (Image, String) {
    let layers = [layer(&[E::File("a", "a")]), layer(&[E::File("b", "b")])];
    let base = image_of(&layers);
    let mut blobs = MemoryBlobs::new();
    for l in &layers {
        blobs.insert(Bytes::from(l.clone()));
    }
    let bad = Digest::parse(&digest_of(&base, 0)).unwrap();
    let source = FailsOne { blobs, bad, error, repository };
    let image = Image::from_parts(base.raw_manifest().clone(), base.config_bytes().clone(), Arc::new(source)).unwrap();
    let name = format!("layer {} (1 of 2)", digest_of(&image, 0));
    (image, name)
}

fn mismatch() -> Error {
    Error::new(ErrorKind::DigestMismatch, "digest mismatch: content of sha256:0144 has digest sha256:92ec")
        .with_status(200)
        .with_codes(vec![RegistryErrorCode { code: "DIGEST_INVALID".into(), message: String::new() }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_error_names_the_layer_and_keeps_its_kind() {
    let (image, name) = failing(mismatch, None);
    let e = read_all(&image, ExtractOptions::default()).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::DigestMismatch, Some(200)), "{e}");
    assert!(e.has_code("DIGEST_INVALID"), "{e}");
    assert!(e.message().starts_with(&format!("{name}: digest mismatch: content of sha256:0144")), "{e}");

    let repository = Repository::parse("registry.example.com/org/app").unwrap();
    let (image, name) = failing(|| Error::new(ErrorKind::Timeout, "reading the body timed out"), Some(repository));
    let dir = tempfile::tempdir().unwrap();
    let e = image.extract_to(dir.path().join("rootfs")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().starts_with(&format!("{name} from registry.example.com/org/app: reading the body")), "{e}");
}

#[tokio::test]
async fn extract_to_leaves_what_it_wrote_before_an_error() {
    // Layers are read top first: the top one's file is written before the bad lower layer is met.
    let image = image_of(&[b"not a tar".to_vec(), layer(&[E::Dir("etc"), E::File("etc/top.txt", "top")])]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    let e = image.extract_to(&root).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("(1 of 2) is not a valid tar"), "{e}");
    assert_eq!(std::fs::read(root.join("etc/top.txt")).unwrap(), b"top", "half-written: the entry stays");
}
