//! Giving up on an upload: the error that ends an upload out of recoveries.

use crate::error::Error;

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
