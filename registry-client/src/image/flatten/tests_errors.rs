//! What a failed flatten says: a layer that is no tar is `InvalidInput` naming the layer and its position.
#![allow(clippy::unwrap_used)]

use registry_core::ErrorKind;

use crate::image::extract_options::ExtractOptions;
use crate::image::flatten::tests::{image_of, layer, read_all, E};
use crate::image::model::Image;

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
