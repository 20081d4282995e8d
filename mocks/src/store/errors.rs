//! What the store refuses ([`StoreError`]), and the registry error codes ([`Code`]) both the fake and the server
//! answer with: one mapping from a refusal to its HTTP status and code, so the two cannot disagree.

use registry_core::{Digest, Error, ErrorKind, Reference, RegistryErrorCode, Repository};

/// The error codes of the distribution spec (and distribution's extras) the fake and the server answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    PaginationNumberInvalid,
    RangeInvalid,
    TagInvalid,
    Unavailable,
    Unknown,
}

impl Code {
    /// The code as it appears in an error body.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::TagInvalid => "TAG_INVALID",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The code that best describes an arbitrary failure status (for injected faults).
    pub(crate) fn for_status(status: u16) -> Code {
        match status {
            401 => Code::Unauthorized,
            403 => Code::Denied,
            404 => Code::NameUnknown,
            405 => Code::Unsupported,
            416 => Code::RangeInvalid,
            429 => Code::TooManyRequests,
            502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

/// What the store refuses. The fake converts it into the public [`Error`] (kind, status, registry code) the way
/// `RemoteClient` reads a registry's answer; the server answers it with [`StoreError::status`] and
/// [`StoreError::code`].
#[derive(Debug)]
pub(crate) enum StoreError {
    /// No such repository (for tags/list: a repository that was never given a tag).
    RepositoryUnknown(Repository),
    /// No such manifest (or tag); `repository_known` tells whether the repository exists.
    ManifestUnknown { reference: Box<Reference>, repository_known: bool },
    /// No such blob in the repository.
    BlobUnknown { digest: Digest, repository: Repository },
    /// A pushed manifest references content the repository lacks: a blob of an image, a child of an index.
    ManifestBlobUnknown { reference: Box<Reference>, digest: Digest },
    /// A descriptor of a pushed manifest has an unusable digest, or the manifest is of a kind not stored.
    ManifestInvalid { reference: Box<Reference>, error: Error },
    /// A manifest pushed by digest whose content has another digest (manifests are addressed by their sha256,
    /// as docker-registry does: a push by a sha512 digest is refused too).
    ManifestDigestInvalid { reference: Box<Reference>, actual: Digest },
    /// A blob whose content does not have the digest it was pushed by.
    BlobDigestInvalid { expected: Digest, actual: Digest, size: usize },
    /// No such upload session in the repository.
    UploadUnknown { id: String },
}

impl StoreError {
    /// The HTTP status a registry answers.
    pub(crate) fn status(&self) -> u16 {
        match self {
            StoreError::RepositoryUnknown(_)
            | StoreError::ManifestUnknown { .. }
            | StoreError::BlobUnknown { .. }
            | StoreError::UploadUnknown { .. } => 404,
            StoreError::ManifestBlobUnknown { .. }
            | StoreError::ManifestInvalid { .. }
            | StoreError::ManifestDigestInvalid { .. }
            | StoreError::BlobDigestInvalid { .. } => 400,
        }
    }

    /// The registry error code a registry answers.
    pub(crate) fn code(&self) -> Code {
        match self {
            StoreError::RepositoryUnknown(_) => Code::NameUnknown,
            StoreError::ManifestUnknown { repository_known: false, .. } => Code::NameUnknown,
            StoreError::ManifestUnknown { repository_known: true, .. } => Code::ManifestUnknown,
            StoreError::BlobUnknown { .. } => Code::BlobUnknown,
            StoreError::ManifestBlobUnknown { .. } => Code::ManifestBlobUnknown,
            StoreError::ManifestInvalid { .. } => Code::ManifestInvalid,
            StoreError::ManifestDigestInvalid { .. } | StoreError::BlobDigestInvalid { .. } => Code::DigestInvalid,
            StoreError::UploadUnknown { .. } => Code::BlobUploadUnknown,
        }
    }

    /// The message of the registry error, as distribution words it.
    pub(crate) fn registry_message(&self) -> &'static str {
        match self.code() {
            Code::NameUnknown => "repository name not known to registry",
            Code::ManifestUnknown => "manifest unknown",
            Code::BlobUnknown | Code::ManifestBlobUnknown => "blob unknown to registry",
            Code::ManifestInvalid => "manifest invalid",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            _ => "unknown error",
        }
    }

    /// What the fake's error says happened (the registry code and message follow it).
    fn message(&self) -> String {
        match self {
            StoreError::RepositoryUnknown(repo) => format!("repository {repo} not found"),
            StoreError::ManifestUnknown { reference, .. } => format!("manifest {reference} not found"),
            StoreError::BlobUnknown { digest, repository } => format!("blob {digest} not found in {repository}"),
            StoreError::ManifestBlobUnknown { reference, digest } => {
                format!("push manifest {reference}: it references {digest}, which the repository does not have")
            }
            StoreError::ManifestInvalid { reference, error } => {
                format!("push manifest {reference}: {}", error.message())
            }
            StoreError::ManifestDigestInvalid { reference, actual } => {
                format!("pushing manifest to {reference} but its content has digest {actual}")
            }
            StoreError::BlobDigestInvalid { expected, actual, size } => {
                format!("blob pushed as {expected} has digest {actual} ({size} bytes)")
            }
            StoreError::UploadUnknown { id } => format!("upload {id} not found"),
        }
    }

    /// The kind of the fake's error.
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::RepositoryUnknown(_)
            | StoreError::ManifestUnknown { .. }
            | StoreError::BlobUnknown { .. }
            | StoreError::UploadUnknown { .. } => ErrorKind::NotFound,
            StoreError::ManifestBlobUnknown { .. } | StoreError::ManifestInvalid { .. } => ErrorKind::InvalidInput,
            StoreError::ManifestDigestInvalid { .. } | StoreError::BlobDigestInvalid { .. } => {
                ErrorKind::DigestMismatch
            }
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        let codes = vec![RegistryErrorCode { code: e.code().as_str().into(), message: e.registry_message().into() }];
        Error::new(e.kind(), e.message()).with_status(e.status()).with_codes(codes)
    }
}
