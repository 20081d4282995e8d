//! Giving up on an upload: the error that ends an upload out of recoveries.

use crate::error::{Error, ErrorKind};

/// The error that ends an upload after `attempts` tries that failed, the last with `cause`: its kind, message,
/// codes and status, with the count.
pub(crate) fn exhausted(cause: &Error, attempts: u32) -> Error {
    let e = Error::new(cause.kind(), cause.message().to_string())
        .with_codes(cause.codes().to_vec())
        .with_attempts(attempts);
    match cause.status() {
        Some(s) => e.with_status(s),
        None => e,
    }
}

/// Whether a failed upload request is worth recovering from: the connection broke, the registry failed or rate
/// limited, a token expired mid-upload (401 on a body that could not be replayed), a chunk came out of order (416),
/// or the registry refused a chunk's body as cut short (400 BLOB_UPLOAD_INVALID).
pub(crate) fn recoverable(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::TooManyRequests | ErrorKind::Unauthorized
    ) || e.status() == Some(416)
        || (e.status() == Some(400) && e.has_code("BLOB_UPLOAD_INVALID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_are_recovered() {
        assert!(recoverable(&Error::new(ErrorKind::Io, "reset")));
        assert!(recoverable(&Error::new(ErrorKind::Server, "503").with_status(503)));
        assert!(recoverable(&Error::new(ErrorKind::TooManyRequests, "429").with_status(429)));
        assert!(recoverable(&Error::new(ErrorKind::InvalidInput, "416").with_status(416)));
        assert!(!recoverable(&Error::new(ErrorKind::Denied, "403").with_status(403)));
        assert!(!recoverable(&Error::new(ErrorKind::InvalidInput, "400").with_status(400)));
        assert!(!recoverable(&Error::new(ErrorKind::DigestMismatch, "bad")));
    }
}
