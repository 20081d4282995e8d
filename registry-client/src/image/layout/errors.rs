//! The errors a layout answers with: the kinds and distribution error codes docker-registry answers with for the
//! same situation (so code written against a registry handles a layout the same way), and I/O failures naming the
//! file. A leaf: it imports none of its siblings.
//!
//! The codes carry no registry wording: the message says what is missing in terms of the directory, and the code
//! is shown bare after it (`not found: no manifest oci:/srv/app:v9 in the layout (MANIFEST_UNKNOWN)`).

use std::io;
use std::path::Path;

use registry_core::{Digest, Error, ErrorKind, RegistryErrorCode};

/// `error` carrying the distribution error `code`, without a registry's message (shown as the bare code).
fn coded(error: Error, code: &str) -> Error {
    error.with_codes(vec![RegistryErrorCode { code: code.into(), message: String::new() }])
}

/// No such manifest or tag (`NotFound`, `MANIFEST_UNKNOWN`), whether or not the layout exists, as docker-registry
/// answers for a manifest of an unknown repository.
pub(crate) fn manifest_unknown(what: impl std::fmt::Display) -> Error {
    coded(Error::not_found(format!("no manifest {what} in the layout")), "MANIFEST_UNKNOWN")
}

/// No such layout, for a tag list (`NotFound`, `NAME_UNKNOWN`).
pub(crate) fn name_unknown(layout: &str) -> Error {
    coded(Error::not_found(format!("no OCI layout at {layout}: it has no oci-layout file")), "NAME_UNKNOWN")
}

/// No such blob (`NotFound`, `BLOB_UNKNOWN`).
pub(crate) fn blob_unknown(digest: &Digest, path: &Path) -> Error {
    coded(Error::not_found(format!("no blob {digest} in the layout: no file {}", path.display())), "BLOB_UNKNOWN")
}

/// A manifest put before what it references (`InvalidInput`, `MANIFEST_BLOB_UNKNOWN`).
pub(crate) fn manifest_blob_unknown(target: &str, digest: &Digest) -> Error {
    coded(
        Error::invalid_input(format!("put manifest {target}: it references {digest}, which the layout does not have")),
        "MANIFEST_BLOB_UNKNOWN",
    )
}

/// An I/O failure on `path` while doing `what`: `NotFound` when the file is missing, `Io` otherwise; the message
/// names the file.
pub(crate) fn io_at(what: &str, path: &Path, e: io::Error) -> Error {
    let kind = if e.kind() == io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Io };
    Error::new(kind, format!("{what} {}: {e}", path.display())).with_source(e)
}

/// A file of the layout that is not what the OCI image layout spec says it is (`Protocol`, naming the file).
pub(crate) fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::protocol(format!("{}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_a_directory_and_keep_the_codes() {
        let e = manifest_unknown("oci:/tmp/out/layout/trial/app:nope");
        assert_eq!(
            e.to_string(),
            "not found: no manifest oci:/tmp/out/layout/trial/app:nope in the layout (MANIFEST_UNKNOWN)"
        );
        assert!(e.is_not_found() && e.has_code("MANIFEST_UNKNOWN"));
        let e = name_unknown("oci:/tmp/out/layout/zzz");
        assert_eq!(
            e.to_string(),
            "not found: no OCI layout at oci:/tmp/out/layout/zzz: it has no oci-layout file (NAME_UNKNOWN)"
        );
        assert!(e.has_code("NAME_UNKNOWN"));
        let d = Digest::sha256(b"x");
        let e = blob_unknown(&d, Path::new("/l/blobs/sha256/abc"));
        assert_eq!(
            e.to_string(),
            format!("not found: no blob {d} in the layout: no file /l/blobs/sha256/abc (BLOB_UNKNOWN)")
        );
        assert!(e.has_code("BLOB_UNKNOWN"));
        for e in [
            manifest_unknown("x"),
            name_unknown("x"),
            blob_unknown(&d, Path::new("/x")),
            manifest_blob_unknown("x", &d),
        ] {
            assert!(!e.to_string().contains("registry") && e.to_string().matches("not found").count() <= 1, "{e}");
        }
    }
}
