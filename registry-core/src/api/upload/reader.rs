//! The source of a chunked upload: every byte is hashed once, in order, as it is first read.
//!
//! After a failed chunk the upload continues from the offset the registry reports, which may lie before what was
//! read. A reader that can open its source again at an offset ([`Reader::reopen`]) holds nothing: it reads the
//! bytes from that offset again (without hashing them twice). A reader of a one-time stream instead holds the
//! bytes the registry has not confirmed yet (at most one chunk) so it can send them again.
//!
//! A chunk goes out streamed: the request body reads straight from the source through [`lend`], so reading the
//! source and sending overlap. When the request ends, the reader is taken back, ready for the next chunk or for
//! sending the unconfirmed part again.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use crate::digest::{ByteStream, Digest, DigestHasher};
use crate::error::{Error, ErrorKind, Result};

/// A blob's bytes, read from its source.
pub(crate) struct Reader {
    source: ByteStream,
    /// Bytes taken from the source past the limit of the last read (an item crossing a chunk boundary); they start
    /// at `pos`.
    pending: Option<Bytes>,
    hasher: DigestHasher,
    /// The offset in the blob of the next byte the source gives.
    pos: u64,
    /// Bytes hashed so far: everything before it was read at least once (`pos <= read`; below while re-reading).
    read: u64,
    /// The declared size.
    size: u64,
    /// Whether to hold what the registry has not confirmed (a source that cannot be opened again).
    hold: bool,
    /// The bytes `[held_start, read)` when holding, kept until the registry confirms them.
    held: VecDeque<Bytes>,
    held_start: u64,
    digest: Digest,
    /// Whether the hash covers the blob from its first byte: false for an upload resumed in another process, whose
    /// first bytes the registry already had and this process never read.
    whole: bool,
}

impl Reader {
    /// A reader of `source`, which must hold `size` bytes hashing to `digest`; `hold` when the source cannot be
    /// opened again, so unconfirmed bytes must be kept.
    pub(crate) fn new(source: ByteStream, digest: &Digest, size: u64, hold: bool) -> Reader {
        Reader {
            source,
            pending: None,
            hasher: digest.hasher(),
            pos: 0,
            read: 0,
            size,
            hold,
            held: VecDeque::new(),
            held_start: 0,
            digest: digest.clone(),
            whole: true,
        }
    }

    /// A reader of `source`, which gives the blob from byte `offset` on: the registry already has the bytes before
    /// it (an upload resumed from a journal). What it reads is not the whole blob, so its hash proves nothing
    /// ([`Reader::hashes_whole`] is false): the registry checks the digest when the upload is closed.
    pub(crate) fn resumed(source: ByteStream, digest: &Digest, size: u64, hold: bool, offset: u64) -> Reader {
        let offset = offset.min(size);
        let mut reader = Reader::new(source, digest, size, hold);
        reader.pos = offset;
        reader.read = offset;
        reader.held_start = offset;
        reader.whole = offset == 0;
        reader
    }

    /// Whether the digest [`Reader::finish`] returns is of the whole blob (read from its first byte).
    pub(crate) fn hashes_whole(&self) -> bool {
        self.whole
    }

    /// The offset of the next byte the source gives.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// How many bytes were read (and hashed).
    pub(crate) fn read(&self) -> u64 {
        self.read
    }

    /// Whether the bytes from `offset` to what was read are held, so they can be sent again without the source.
    pub(crate) fn holds_from(&self, offset: u64) -> bool {
        self.hold && self.held_start <= offset && offset <= self.read
    }

    /// Read on from `source`, a fresh read of the blob from byte `offset` (at most what was read): the bytes up to
    /// what was read before are passed on again, not hashed twice.
    pub(crate) fn reopen(&mut self, source: ByteStream, offset: u64) {
        self.source = source;
        self.pending = None;
        self.pos = offset.min(self.read);
        self.held.clear();
        self.held_start = self.pos;
    }

    /// The next piece of the source up to byte `end` (exclusive): hashed (unless read before) and held when
    /// holding. `None` once `end` is reached. A source that ends before its declared size is an
    /// [`ErrorKind::DigestMismatch`].
    fn poll_piece(&mut self, cx: &mut Context<'_>, end: u64) -> Poll<Option<Result<Bytes>>> {
        let end = end.min(self.size);
        loop {
            if self.pos >= end {
                return Poll::Ready(None);
            }
            let mut item = match self.pending.take() {
                Some(p) => p,
                None => match self.source.poll_next_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(b))) => b,
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {
                        return Poll::Ready(Some(Err(Error::new(
                            ErrorKind::DigestMismatch,
                            format!(
                                "the content of blob {} ended after {} bytes, {} expected",
                                self.digest, self.pos, self.size
                            ),
                        ))))
                    }
                },
            };
            if item.is_empty() {
                continue;
            }
            let want = end - self.pos;
            if item.len() as u64 > want {
                // `want` is below `item.len()`, a usize.
                self.pending = Some(item.split_off(want as usize));
            }
            let next = self.pos + item.len() as u64;
            if next > self.read {
                // `read - pos` is below `item.len()` here, a usize.
                let seen = self.read.saturating_sub(self.pos) as usize;
                self.hasher.update(&item[seen..]);
                self.read = next;
            }
            self.pos = next;
            if self.hold {
                self.held.push_back(item.clone());
            }
            return Poll::Ready(Some(Ok(item)));
        }
    }

    /// Read the source up to byte `end`.
    pub(crate) async fn fill_to(&mut self, end: u64) -> Result<()> {
        while let Some(piece) = poll_fn(|cx| self.poll_piece(cx, end)).await {
            piece?;
        }
        Ok(())
    }

    /// The registry has everything before `offset`: stop holding it.
    pub(crate) fn confirm(&mut self, offset: u64) {
        let offset = offset.clamp(self.held_start, self.read);
        while let Some(front) = self.held.front_mut() {
            let front_end = self.held_start + front.len() as u64;
            if front_end <= offset {
                self.held_start = front_end;
                self.held.pop_front();
            } else {
                // `offset - held_start` is below `front.len()`, a usize.
                let cut = (offset - self.held_start) as usize;
                *front = front.slice(cut..);
                self.held_start = offset;
                break;
            }
        }
        self.held_start = offset;
    }

    /// The held bytes `[held_start, read)` as one buffer (the pieces are replaced by it, so this holds no more).
    pub(crate) fn held_bytes(&mut self) -> Bytes {
        if self.held.len() > 1 {
            let mut all = BytesMut::with_capacity((self.read - self.held_start) as usize);
            for piece in self.held.drain(..) {
                all.extend_from_slice(&piece);
            }
            self.held.push_back(all.freeze());
        }
        self.held.front().cloned().unwrap_or_default()
    }

    /// After the declared size was read: check that the source ends there, and return the digest of what was read.
    pub(crate) async fn finish(&mut self) -> Result<Digest> {
        poll_fn(|cx| self.poll_finish(cx)).await
    }

    /// [`Reader::finish`] as a poll: the source is read on (at most until its first byte past the declared size,
    /// an [`ErrorKind::DigestMismatch`]) to check that it ends there.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<Digest>> {
        if self.read != self.size || self.pos != self.size {
            return Poll::Ready(Err(Error::protocol(format!(
                "blob {}: finishing the upload after {} of {} bytes",
                self.digest, self.pos, self.size
            ))));
        }
        let mut extra = self.pending.take().map_or(0, |p| p.len());
        while extra == 0 {
            match self.source.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => break,
                Poll::Ready(Some(Ok(b))) => extra += b.len(),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            }
        }
        if extra > 0 {
            return Poll::Ready(Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("the content of blob {} is longer than its declared size {}", self.digest, self.size),
            )));
        }
        Poll::Ready(Ok(self.hasher.clone().finish()))
    }

    /// The end check of the body of a closing request: [`Reader::poll_finish`], and the digest compared with the
    /// expected one when the reader hashed the whole blob (an upload resumed in another process leaves that to the
    /// registry).
    fn poll_verified(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let actual = match self.poll_finish(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(d)) => d,
        };
        if self.whole && actual != self.digest {
            return Poll::Ready(Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "the {} bytes read of blob {} hash to {actual}; upload cancelled, nothing committed",
                    self.size, self.digest
                ),
            )));
        }
        Poll::Ready(Ok(()))
    }
}

/// The reader while a request body has it.
struct Slot {
    reader: Option<Reader>,
    /// Why the source failed while lent, if it did.
    failure: Option<Error>,
}

/// A reader lent to one request body; [`Lent::take_back`] returns it when the request is over.
pub(crate) struct Lent {
    slot: Arc<Mutex<Slot>>,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lend `reader` to a request body that sends the source's bytes from where the reader is up to `end`.
pub(crate) fn lend(reader: Reader, end: u64) -> (Lent, ByteStream) {
    lend_body(reader, end, false)
}

/// Lend `reader` to the body of the closing request, which sends the rest of the blob (up to its declared size):
/// the body holds its last piece back until the source ended at the declared size and the digest matched (see
/// [`Reader::finish`]), and fails instead of sending it when not, so a wrong content never completes the request.
pub(crate) fn lend_closing(reader: Reader) -> (Lent, ByteStream) {
    let end = reader.size;
    lend_body(reader, end, true)
}

fn lend_body(reader: Reader, end: u64, closing: bool) -> (Lent, ByteStream) {
    let slot = Arc::new(Mutex::new(Slot { reader: Some(reader), failure: None }));
    (Lent { slot: slot.clone() }, Box::pin(LentBody { slot, end, closing, last: None, done: false }))
}

impl Lent {
    /// The reader back, and the source's failure if the body stopped because of one. After this, the body (should
    /// the HTTP stack still hold it) fails instead of reading.
    pub(crate) fn take_back(self) -> (Option<Reader>, Option<Error>) {
        let mut slot = lock(&self.slot);
        (slot.reader.take(), slot.failure.take())
    }
}

/// The body stream of a lent reader.
struct LentBody {
    slot: Arc<Mutex<Slot>>,
    end: u64,
    /// The body of the closing request: its last piece is held back until the blob is verified.
    closing: bool,
    /// The piece held back (closing only).
    last: Option<Bytes>,
    /// Ended (closing only: the end check is made once).
    done: bool,
}

impl Stream for LentBody {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let mut slot = lock(&this.slot);
        let Some(reader) = slot.reader.as_mut() else {
            return Poll::Ready(Some(Err(Error::new(ErrorKind::Io, "upload body read after its request ended"))));
        };
        let failed = loop {
            match reader.poll_piece(cx, this.end) {
                Poll::Ready(Some(Err(e))) => break e,
                Poll::Ready(Some(Ok(piece))) if this.closing => {
                    if let Some(previous) = this.last.replace(piece) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) if this.closing => match reader.poll_verified(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => break e,
                    Poll::Ready(Ok(())) => {
                        this.done = true;
                        return Poll::Ready(this.last.take().map(Ok));
                    }
                },
                other => return other,
            }
        };
        this.done = this.closing;
        let copy = Error::new(failed.kind(), failed.message().to_string());
        slot.failure = Some(failed);
        Poll::Ready(Some(Err(copy)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn source(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(stream::iter(items))
    }

    async fn drain(mut body: ByteStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(Ok(b)) = body.next().await {
            out.extend_from_slice(&b);
        }
        out
    }

    #[tokio::test]
    async fn chunks_split_items_and_hold_until_confirmed() {
        let data = b"0123456789abcdef";
        let d = Digest::sha256(data);
        let mut r = Reader::new(source(&[b"0123", b"456789abc", b"def"]), &d, 16, true);
        let (lent, body) = lend(r, 6);
        assert_eq!(drain(body).await, b"012345");
        let (back, failure) = lent.take_back();
        assert!(failure.is_none());
        r = back.unwrap_or_else(|| panic!("reader not returned"));
        assert_eq!((r.read(), r.position()), (6, 6));
        assert!(r.holds_from(0));
        // The registry kept only 4 bytes: resend from there, topped up to the next chunk end.
        r.confirm(4);
        r.fill_to(10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&r.held_bytes()[..], b"456789");
        r.confirm(10);
        assert_eq!(r.held_bytes().len(), 0);
        r.fill_to(16).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&r.held_bytes()[..], b"abcdef");
        assert_eq!(r.finish().await.ok(), Some(d));
    }

    #[tokio::test]
    async fn a_reopened_source_is_sent_again_but_hashed_once() {
        let data: &'static [u8] = b"0123456789abcdef";
        let d = Digest::sha256(data);
        let mut r = Reader::new(source(&[b"0123", b"456789abc", b"def"]), &d, 16, false);
        let (lent, body) = lend(r, 10);
        assert_eq!(drain(body).await, b"0123456789");
        r = lent.take_back().0.unwrap_or_else(|| panic!("reader not returned"));
        assert!(!r.holds_from(4), "nothing held when the source can be opened again");
        // The registry kept 4 bytes: read again from there, in other pieces.
        r.reopen(source(&[&data[4..7], &data[7..]]), 4);
        assert_eq!((r.position(), r.read()), (4, 10));
        let (lent, body) = lend(r, 12);
        assert_eq!(drain(body).await, b"456789ab");
        r = lent.take_back().0.unwrap_or_else(|| panic!("reader not returned"));
        r.fill_to(16).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.finish().await.ok(), Some(d), "each byte hashed exactly once");
    }

    #[tokio::test]
    async fn a_resumed_reader_starts_at_its_offset_and_hashes_only_the_rest() {
        let data: &'static [u8] = b"0123456789";
        let d = Digest::sha256(data);
        let mut r = Reader::resumed(source(&[&data[6..]]), &d, 10, false, 6);
        assert_eq!((r.position(), r.read()), (6, 6));
        assert!(!r.hashes_whole());
        let (lent, body) = lend(r, 10);
        assert_eq!(drain(body).await, b"6789");
        r = lent.take_back().0.unwrap_or_else(|| panic!("reader not returned"));
        let got = r.finish().await.ok();
        assert!(got.is_some() && got != Some(d), "the hash of the rest is not the blob's digest");
        assert!(Reader::resumed(source(&[data]), &Digest::sha256(data), 10, false, 0).hashes_whole());
    }

    #[tokio::test]
    async fn short_and_long_sources_are_mismatches() {
        let d = Digest::sha256(b"0123");
        let mut short = Reader::new(source(&[b"01"]), &d, 4, true);
        let e = short.fill_to(4).await.err().map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::DigestMismatch));
        let mut long = Reader::new(source(&[b"012", b"34"]), &d, 4, true);
        long.fill_to(4).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(long.finish().await.err().map(|e| e.kind()), Some(ErrorKind::DigestMismatch));
    }

    #[tokio::test]
    async fn a_source_failure_is_recorded_and_the_body_ends_with_an_error() {
        let d = Digest::sha256(b"xy");
        let items: Vec<Result<Bytes>> =
            vec![Ok(Bytes::from_static(b"x")), Err(Error::new(ErrorKind::Io, "source connection reset"))];
        let r = Reader::new(Box::pin(stream::iter(items)), &d, 2, true);
        let (lent, mut body) = lend(r, 2);
        assert!(matches!(body.next().await, Some(Ok(_))));
        assert!(matches!(body.next().await, Some(Err(e)) if e.kind() == ErrorKind::Io));
        let (back, failure) = lent.take_back();
        assert!(back.is_some());
        assert_eq!(failure.map(|e| e.message().to_string()).as_deref(), Some("source connection reset"));
        // Taken back: a late poll fails instead of reading.
        assert!(matches!(body.next().await, Some(Err(_))));
    }
}
