//! A byte range of a file as a [`ByteStream`]: how a layout blob, an archive member and a mutation's layer file
//! are read. Read in pieces (memory stays flat), errors naming the file, a file cut short since it was measured
//! caught at its end. A leaf: it imports no other module of this crate.

use std::io::SeekFrom;

use futures::StreamExt;
use registry_core::{ByteStream, Error, ErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Bytes read from the file at a time.
const PIECE: usize = 256 * 1024;

/// The `len` bytes of `file` from byte `start` on, in pieces of at most 256 KiB. `what` says what is read (`read
/// /l/blobs/sha256/ab..`, `docker-archive:/x.tar: member "l.tar"`) in errors: `Io` with it and the cause for a
/// failed seek or read; `DigestMismatch` when the file ends before `len` bytes (it was cut short after it was
/// measured). Never more than `len` bytes, whatever the file holds past them.
pub(crate) async fn range_stream(mut file: tokio::fs::File, start: u64, len: u64, what: String) -> Result<ByteStream> {
    let io = |what: &str, e: std::io::Error| Error::new(ErrorKind::Io, format!("{what}: {e}")).with_source(e);
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await.map_err(|e| io(&what, e))?;
    }
    let pieces = ReaderStream::with_capacity(file.take(len), PIECE);
    // (the pieces, the bytes seen, done, what): done after an error or the end.
    let state = (pieces, 0u64, false, what);
    Ok(Box::pin(futures::stream::unfold(state, move |(mut pieces, seen, done, what)| async move {
        if done {
            return None;
        }
        match pieces.next().await {
            Some(Ok(piece)) => {
                let seen = seen.saturating_add(piece.len() as u64);
                Some((Ok(piece), (pieces, seen, false, what)))
            }
            Some(Err(e)) => Some((Err(io(&what, e)), (pieces, seen, true, what))),
            None if seen != len => {
                let short = Error::new(
                    ErrorKind::DigestMismatch,
                    format!("{what}: ended after {seen} of {len} bytes: truncated?"),
                );
                Some((Err(short), (pieces, seen, true, what)))
            }
            None => None,
        }
    })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use futures::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn a_range_is_read_exactly_and_a_short_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let open = || tokio::fs::File::open(&path);
        let all: Vec<Bytes> =
            range_stream(open().await.unwrap(), 6, 3, "f".into()).await.unwrap().try_collect().await.unwrap();
        assert_eq!(all.concat(), b"wor");
        let e = range_stream(open().await.unwrap(), 6, 9, "read f".into())
            .await
            .unwrap()
            .try_collect::<Vec<Bytes>>()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
        assert!(e.to_string().contains("read f: ended after 5 of 9 bytes"), "{e}");
    }
}
