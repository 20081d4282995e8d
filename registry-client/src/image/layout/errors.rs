//! The errors a layout answers with: the kinds and distribution error codes docker-registry answers with for the
//! same situation (so code written against a registry handles a layout the same way), and I/O failures naming the
//! file. A leaf: it imports none of its siblings.

use std::io;
use std::path::Path;

use registry_core::{Digest, Error, ErrorKind, RegistryErrorCode};

/// `error` carrying the distribution error `code` with distribution's wording `message`.
fn coded(error: Error, code: &str, message: &str) -> Error {
    error.with_codes(vec![RegistryErrorCode { code: code.into(), message: message.into() }])
}

/// No such manifest or tag (`NotFound`, `MANIFEST_UNKNOWN`), whether or not the layout exists, as docker-registry
/// answers for a manifest of an unknown repository.
pub(crate) fn manifest_unknown(what: impl std::fmt::Display) -> Error {
    coded(Error::not_found(format!("manifest {what} not found")), "MANIFEST_UNKNOWN", "manifest unknown")
}

/// No such layout, for a tag list (`NotFound`, `NAME_UNKNOWN`).
pub(crate) fn name_unknown(layout: &str) -> Error {
    coded(
        Error::not_found(format!("layout {layout} not found (no oci-layout file)")),
        "NAME_UNKNOWN",
        "repository name not known to registry",
    )
}

/// No such blob (`NotFound`, `BLOB_UNKNOWN`).
pub(crate) fn blob_unknown(digest: &Digest, path: &Path) -> Error {
    coded(
        Error::not_found(format!("blob {digest} not found ({} does not exist)", path.display())),
        "BLOB_UNKNOWN",
        "blob unknown to registry",
    )
}

/// A manifest put before what it references (`InvalidInput`, `MANIFEST_BLOB_UNKNOWN`).
pub(crate) fn manifest_blob_unknown(target: &str, digest: &Digest) -> Error {
    coded(
        Error::invalid_input(format!("put manifest {target}: it references {digest}, which the layout does not have")),
        "MANIFEST_BLOB_UNKNOWN",
        "blob unknown to registry",
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
