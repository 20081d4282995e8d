//! Request bodies read frame by frame (plain or chunked), and response bodies: whole, or cut short on purpose.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{stream, StreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};

/// The error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response.
pub(crate) type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long a cut body waits between its last bytes and the failure, so the bytes are flushed first.
const FLUSH_PAUSE: Duration = Duration::from_millis(50);

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> ResponseBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// A body that sends `prefix`, then fails, which makes the server close the connection mid-body. With an empty
/// prefix it fails at once, before the head is flushed: the connection closes without an answer.
pub(crate) fn cut(prefix: Bytes) -> ResponseBody {
    if prefix.is_empty() {
        let failure = stream::once(async { Err::<Frame<Bytes>, BoxError>("connection dropped by a fault".into()) });
        return StreamBody::new(failure).boxed_unsync();
    }
    let data = stream::iter([Ok::<_, BoxError>(Frame::data(prefix))]);
    let failure = stream::once(async {
        tokio::time::sleep(FLUSH_PAUSE).await;
        Err::<Frame<Bytes>, BoxError>("connection dropped by the drop_after fault".into())
    });
    StreamBody::new(data.chain(failure)).boxed_unsync()
}

/// Append `body` to `buf` as it arrives. On a failure mid-body, what arrived stays in `buf`.
pub(crate) async fn read_into(body: &mut Incoming, buf: &mut BytesMut) -> Result<(), hyper::Error> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    Ok(())
}

/// Append up to `limit` bytes of `body` to `buf`; the rest is left unread.
pub(crate) async fn read_up_to(body: &mut Incoming, buf: &mut BytesMut, limit: usize) {
    while buf.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - buf.len();
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => return,
        }
    }
}

/// Why a capped read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body is longer than allowed.
    TooLarge,
    /// The connection failed.
    Io,
}

/// The whole body, when it is at most `max` bytes.
pub(crate) async fn read_capped(mut body: Incoming, max: usize) -> Result<Bytes, ReadError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(|_| ReadError::Io)?.into_data() {
            if buf.len() + data.len() > max {
                return Err(ReadError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Read and drop up to `limit` bytes of `body`, so an early answer does not break the connection under a client
/// still sending.
pub(crate) async fn drain(mut body: Incoming, limit: usize) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > limit {
                return;
            }
        }
    }
}
