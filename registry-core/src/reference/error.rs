//! Why a reference, repository or registry name was rejected: [`ReferenceError`].

use crate::error::{Error, ErrorKind};

/// Longest input echoed in an error message.
const ECHO_MAX_LEN: usize = 300;

/// Why a reference, repository or registry name was rejected.
///
/// Every variant but [`Empty`](ReferenceError::Empty) carries the whole input (`input`) and the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The input is empty.
    #[error("invalid reference: empty string")]
    Empty,

    /// The full name, `registry/path`, is longer than 255 characters.
    #[error("invalid reference {}: name is {length} characters long, the maximum is 255", quoted(.input))]
    NameTooLong {
        /// The rejected input.
        input: String,
        /// Length of the full name, `registry/path` (Docker Hub names counted with `docker.io/` and `library/`).
        length: usize,
    },

    /// The registry domain (host part) is malformed.
    #[error("invalid reference {}: invalid registry domain {}: {reason}", quoted(.input), quoted(.domain))]
    InvalidDomain {
        /// The rejected input.
        input: String,
        /// The registry part, as written (`host[:port]`).
        domain: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The registry port is not a number from 1 to 65535.
    #[error(
        "invalid reference {}: invalid registry port {}: must be a number from 1 to 65535",
        quoted(.input),
        quoted(.port)
    )]
    InvalidPort {
        /// The rejected input.
        input: String,
        /// The port, as written.
        port: String,
    },

    /// The repository path contains uppercase letters.
    #[error("invalid reference {}: repository path must be lowercase ({})", quoted(.input), quoted(.path))]
    Uppercase {
        /// The rejected input.
        input: String,
        /// The repository path, as written.
        path: String,
    },

    /// A component of the repository path is malformed: empty (`a//b`, `/a`, `a/`), has a character other than
    /// lowercase letters, digits and separators, starts or ends with a separator, or has an invalid separator.
    #[error("invalid reference {}: invalid repository path component {}: {reason}", quoted(.input), quoted(.component))]
    InvalidPathComponent {
        /// The rejected input.
        input: String,
        /// The offending component (empty for an empty component or a missing path).
        component: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The input is a 64-character hex string, which looks like an image ID rather than a repository name.
    #[error(
        "invalid reference {}: a 64-character hexadecimal string is an image ID, not a repository name",
        quoted(.input)
    )]
    AmbiguousIdentifier {
        /// The rejected input.
        input: String,
    },

    /// The tag has a character outside `[A-Za-z0-9_.-]`, starts with `.` or `-`, or is empty.
    #[error("invalid reference {}: invalid tag {}: {}", quoted(.input), quoted(.tag), tag_rule(.tag))]
    InvalidTag {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
    },

    /// The tag is longer than 128 characters.
    #[error("invalid reference {}: tag is {length} characters long, the maximum is 128", quoted(.input))]
    TagTooLong {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
        /// Its length.
        length: usize,
    },

    /// The digest is malformed.
    #[error("invalid reference {}: invalid digest {}: {reason}", quoted(.input), quoted(.digest))]
    InvalidDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The digest is well formed but of an algorithm other than sha256 and sha512.
    #[error(
        "invalid reference {}: digest algorithm {} is not supported (only sha256 and sha512)",
        quoted(.input),
        quoted(.algorithm)
    )]
    UnsupportedDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
        /// Its algorithm.
        algorithm: String,
    },

    /// A repository name was expected but the input has a tag.
    #[error("invalid reference {}: a repository name cannot have a tag ({})", quoted(.input), quoted(.tag))]
    UnexpectedTag {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
    },

    /// A repository name was expected but the input has a digest.
    #[error("invalid reference {}: a repository name cannot have a digest ({})", quoted(.input), quoted(.digest))]
    UnexpectedDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
    },
}

impl ReferenceError {
    /// The rejected input (empty for [`Empty`](ReferenceError::Empty)).
    pub fn input(&self) -> &str {
        match self {
            ReferenceError::Empty => "",
            ReferenceError::NameTooLong { input, .. }
            | ReferenceError::InvalidDomain { input, .. }
            | ReferenceError::InvalidPort { input, .. }
            | ReferenceError::Uppercase { input, .. }
            | ReferenceError::InvalidPathComponent { input, .. }
            | ReferenceError::AmbiguousIdentifier { input }
            | ReferenceError::InvalidTag { input, .. }
            | ReferenceError::TagTooLong { input, .. }
            | ReferenceError::InvalidDigest { input, .. }
            | ReferenceError::UnsupportedDigest { input, .. }
            | ReferenceError::UnexpectedTag { input, .. }
            | ReferenceError::UnexpectedDigest { input, .. } => input,
        }
    }

    /// The [`ErrorKind`] this error converts to: `Unsupported` for an unsupported digest algorithm, else
    /// `InvalidInput`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReferenceError::UnsupportedDigest { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<ReferenceError> for Error {
    fn from(e: ReferenceError) -> Error {
        Error::new(e.kind(), e.to_string()).with_source(e)
    }
}

/// `s` quoted for an error message, cut if very long.
fn quoted(s: &str) -> String {
    format!("{:?}", crate::error::truncate(s, ECHO_MAX_LEN))
}

/// The tag rule, for [`ReferenceError::InvalidTag`].
fn tag_rule(tag: &str) -> &'static str {
    if tag.is_empty() {
        "a tag cannot be empty"
    } else {
        "a tag must start with a letter, digit or '_' and contain only letters, digits, '_', '.' and '-'"
    }
}
