//! The bridge between async blob streams and the blocking tar and decompression code: a [`ByteStream`] read as a
//! `std::io::Read` on a blocking thread, and our [`Error`] carried through `std::io::Error` and back out unchanged.

use std::io;

use futures::TryStreamExt;
use registry_core::{ByteStream, Error, ErrorKind};
use tokio_util::io::{StreamReader, SyncIoBridge};

/// `stream` as a blocking reader. Call it inside the runtime (it captures the current handle; `Err` with
/// `ErrorKind::Unsupported` outside one) and read it only on a blocking thread (`tokio::task::spawn_blocking`).
/// A stream error reaches the reader as an `io::Error` carrying the stream's [`Error`] (see [`from_io`]).
pub(crate) fn stream_reader(stream: ByteStream) -> Result<impl io::Read + Send, Error> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::unsupported("image content must be read inside a tokio runtime (none is running)"))?;
    let reader = StreamReader::new(stream.map_err(io_error));
    Ok(SyncIoBridge::new_with_handle(reader, handle))
}

/// Run the blocking `f` on the runtime's blocking pool and return what it returns. A task that panicked or was
/// cancelled is `ErrorKind::Io` saying `what` (what the task was doing) and how it stopped (`what: <join error>`).
pub(crate) async fn run_blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorKind::Io, format!("{what}: {e}")))?
}

/// `e` inside an `io::Error`, to pass through `std::io` code; [`from_io`] takes it back out.
pub(crate) fn io_error(e: Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::NotFound => io::ErrorKind::NotFound,
        ErrorKind::InvalidInput | ErrorKind::DigestMismatch => io::ErrorKind::InvalidData,
        ErrorKind::Timeout => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// Whether `e` carries one of our errors (made by [`io_error`]).
pub(crate) fn carries_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Error>())
}

/// Our error back out of an `io::Error`: the carried [`Error`] unchanged when there is one, else an
/// `ErrorKind::Io` error saying `context` (what was being done) and the cause.
pub(crate) fn from_io(e: io::Error, context: &str) -> Error {
    if carries_error(&e) {
        if let Some(inner) = e.into_inner() {
            if let Ok(ours) = inner.downcast::<Error>() {
                return *ours;
            }
        }
        return Error::new(ErrorKind::Io, format!("{context}: lost error"));
    }
    let kind = match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => ErrorKind::InvalidInput,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("{context}: {e}")).with_source(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Read;

    use bytes::Bytes;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_cross_the_bridge_unchanged() {
        let stream: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(Error::new(ErrorKind::DigestMismatch, "blob sha256:1 does not match").with_status(200)),
        ]));
        let reader = stream_reader(stream).unwrap();
        let (data, err) = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut out = Vec::new();
            let e = reader.read_to_end(&mut out).unwrap_err();
            (out, e)
        })
        .await
        .unwrap();
        assert_eq!(data, b"abc");
        let e = from_io(err, "reading");
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        assert_eq!(e.status(), Some(200));
        let plain = from_io(io::Error::new(io::ErrorKind::InvalidData, "bad header"), "layer sha256:2");
        assert_eq!(plain.kind(), ErrorKind::InvalidInput);
        assert!(plain.to_string().contains("layer sha256:2: bad header"), "{plain}");
    }
}
