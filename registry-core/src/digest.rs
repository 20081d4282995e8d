//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and a stream wrapper that verifies them.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use sha2::Digest as _;

use crate::error::{Error, ErrorKind, Result};

/// A digest algorithm this client can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, 64 lowercase hex characters.
    Sha256,
    /// SHA-512, 128 lowercase hex characters.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name in a digest string.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content digest such as `sha256:e3b0c442...`, validated on construction.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// The whole digest string, `algorithm:hex`.
    value: String,
}

impl Digest {
    /// Parse `algorithm:hex`. A malformed digest is `InvalidInput`; a well-formed one of an algorithm other than
    /// sha256/sha512 is `Unsupported`.
    pub fn parse(s: &str) -> Result<Digest> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(Error::invalid_input(format!("invalid digest {s:?}: expected algorithm:hex")));
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ if is_algorithm_grammar(alg) && !hex.is_empty() => {
                return Err(Error::unsupported(format!(
                    "digest algorithm {alg:?} is not supported (only sha256 and sha512)"
                )))
            }
            _ => return Err(Error::invalid_input(format!("invalid digest {s:?}: bad algorithm {alg:?}"))),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(Error::invalid_input(format!(
                "invalid digest {s:?}: {} needs {} hex characters, got {}",
                algorithm.as_str(),
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Error::invalid_input(format!("invalid digest {s:?}: hex must be lowercase 0-9a-f")));
        }
        Ok(Digest { algorithm, value: s.to_string() })
    }

    /// The sha256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        let mut h = DigestHasher::new(Algorithm::Sha256);
        h.update(data);
        h.finish()
    }

    /// The digest of `data` computed with `algorithm`.
    pub fn compute(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut h = DigestHasher::new(algorithm);
        h.update(data);
        h.finish()
    }

    /// Whether `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        Digest::compute(self.algorithm, data) == *self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part, without `algorithm:`.
    pub fn hex(&self) -> &str {
        &self.value[self.algorithm.as_str().len() + 1..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// A hasher of this digest's algorithm, to verify content against it.
    pub fn hasher(&self) -> DigestHasher {
        DigestHasher::new(self.algorithm)
    }
}

fn is_algorithm_grammar(alg: &str) -> bool {
    // algorithm-component ([+._-] algorithm-component)*, component = [a-z0-9]+
    !alg.is_empty()
        && alg
            .split(['+', '.', '_', '-'])
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A descriptor's digest (`oci_spec`'s type, validated when the descriptor was parsed) as a [`Digest`], without
/// parsing it again. An algorithm other than sha256 and sha512 is [`ErrorKind::Unsupported`].
impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = Error;

    fn try_from(d: &oci_spec::image::Digest) -> Result<Digest> {
        let algorithm = match d.algorithm() {
            oci_spec::image::DigestAlgorithm::Sha256 => Algorithm::Sha256,
            oci_spec::image::DigestAlgorithm::Sha512 => Algorithm::Sha512,
            other => {
                return Err(Error::unsupported(format!(
                    "digest algorithm {:?} is not supported (only sha256 and sha512)",
                    other.as_ref()
                )))
            }
        };
        // oci_spec checked the length and the lowercase hex of sha256 and sha512 digests already.
        Ok(Digest { algorithm, value: d.as_ref().to_owned() })
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest> {
        Digest::parse(s)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.value)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher producing a [`Digest`].
#[derive(Clone)]
pub struct DigestHasher {
    inner: HasherInner,
}

#[derive(Clone)]
enum HasherInner {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.inner {
            HasherInner::Sha256(_) => Algorithm::Sha256,
            HasherInner::Sha512(_) => Algorithm::Sha512,
        };
        f.debug_struct("DigestHasher").field("algorithm", &alg).finish()
    }
}

impl DigestHasher {
    /// A new hasher.
    pub fn new(algorithm: Algorithm) -> DigestHasher {
        let inner = match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        };
        DigestHasher { inner }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            HasherInner::Sha256(h) => h.update(data),
            HasherInner::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.inner {
            HasherInner::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            HasherInner::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, value: format!("{}:{hex}", algorithm.as_str()) }
    }
}

/// A boxed stream of blob bytes, as every blob read in the workspace returns.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// `stream` without its first `n` bytes (pieces wholly inside them are dropped, none is handed out empty).
pub fn skip_bytes(stream: ByteStream, n: u64) -> ByteStream {
    if n == 0 {
        return stream;
    }
    let mut left = n;
    Box::pin(futures::StreamExt::filter_map(stream, move |item| {
        let out = match item {
            Ok(mut piece) if left > 0 => {
                // `left` is below `piece.len()`, a usize, when it does not swallow the piece whole.
                let drop = left.min(piece.len() as u64);
                left -= drop;
                let rest = piece.split_off(drop as usize);
                (!rest.is_empty()).then_some(Ok(rest))
            }
            other => Some(other),
        };
        futures::future::ready(out)
    }))
}

/// Wraps a byte stream and checks its size and digest.
///
/// The last chunk is held back until the end of the stream: when the content does not match, the consumer gets an
/// [`ErrorKind::DigestMismatch`] error instead of it, so unverified data is never handed out as complete. A stream
/// longer than the expected size fails as soon as it passes the size, without reading the rest.
pub struct VerifyingStream<S> {
    inner: S,
    hasher: Option<DigestHasher>,
    expected: Digest,
    expected_size: Option<u64>,
    seen: u64,
    held: Option<Bytes>,
    finished: bool,
}

impl<S> fmt::Debug for VerifyingStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("expected", &self.expected)
            .field("expected_size", &self.expected_size)
            .field("seen", &self.seen)
            .finish()
    }
}

impl<S> VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes>> + Unpin,
{
    /// Verify `inner` against `expected`, and against `expected_size` when known.
    pub fn new(inner: S, expected: Digest, expected_size: Option<u64>) -> VerifyingStream<S> {
        VerifyingStream {
            inner,
            hasher: Some(expected.hasher()),
            expected,
            expected_size,
            seen: 0,
            held: None,
            finished: false,
        }
    }

    /// Continue verifying a blob of which `prefix` bytes were already hashed into `hasher` (a resumed download).
    pub fn resume(
        inner: S,
        expected: Digest,
        expected_size: Option<u64>,
        hasher: DigestHasher,
        prefix: u64,
    ) -> VerifyingStream<S> {
        VerifyingStream { hasher: Some(hasher), seen: prefix, ..VerifyingStream::new(inner, expected, expected_size) }
    }

    fn check_end(&mut self) -> Result<()> {
        if let Some(size) = self.expected_size {
            if self.seen != size {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("blob {} ended after {} bytes, expected {size}", self.expected, self.seen),
                ));
            }
        }
        let Some(hasher) = self.hasher.take() else {
            return Err(Error::protocol("verifying stream polled after completion"));
        };
        let actual = hasher.finish();
        if actual != self.expected {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("content of {} has digest {actual}", self.expected),
            ));
        }
        Ok(())
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes>> + Unpin,
{
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    this.seen += chunk.len() as u64;
                    if let Some(size) = this.expected_size {
                        if this.seen > size {
                            this.finished = true;
                            return Poll::Ready(Some(Err(Error::new(
                                ErrorKind::DigestMismatch,
                                format!("blob {} is longer than its declared size {size}", this.expected),
                            ))));
                        }
                    }
                    if let Some(h) = this.hasher.as_mut() {
                        h.update(&chunk);
                    }
                    if let Some(prev) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(prev)));
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(match this.check_end() {
                        Err(e) => Some(Err(e)),
                        Ok(()) => this.held.take().map(Ok),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{stream, StreamExt};

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn algorithm_displays_its_name() {
        assert_eq!(Algorithm::Sha256.to_string(), "sha256");
        assert_eq!(format!("{}", Algorithm::Sha512), "sha512");
    }

    #[test]
    fn descriptor_digests_convert_without_parsing() {
        let oci = |s: &str| s.parse::<oci_spec::image::Digest>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let sha256 = Digest::try_from(&oci(EMPTY)).ok();
        assert_eq!(sha256, Digest::parse(EMPTY).ok());
        assert_eq!(sha256.map(|d| d.algorithm()), Some(Algorithm::Sha256));
        let long = format!("sha512:{}", "ab".repeat(64));
        let sha512 = Digest::try_from(&oci(&long)).ok();
        assert_eq!(sha512.as_ref().map(Digest::as_str), Some(long.as_str()));
        assert_eq!(sha512.map(|d| d.algorithm()), Some(Algorithm::Sha512));
        for other in [format!("sha384:{}", "a".repeat(96)), "blake3:abcdef".to_string()] {
            let e = Digest::try_from(&oci(&other)).err().map(|e| e.kind());
            assert_eq!(e, Some(ErrorKind::Unsupported), "{other}");
        }
    }

    #[test]
    fn parse_and_compute() {
        assert_eq!(Digest::sha256(b"").as_str(), EMPTY);
        let d = Digest::parse(EMPTY).map_err(|e| e.to_string());
        assert_eq!(d.as_ref().map(|d| d.hex().len()), Ok(64));
        assert!(Digest::sha256(b"abc").matches(b"abc"));
        let d512 = Digest::compute(Algorithm::Sha512, b"abc");
        assert_eq!(Digest::parse(d512.as_str()).ok(), Some(d512.clone()));
        assert_eq!(d512.hex().len(), 128);
    }

    #[test]
    fn parse_rejects_malformed() {
        let cases = [
            ("", ErrorKind::InvalidInput),
            ("sha256", ErrorKind::InvalidInput),
            ("sha256:", ErrorKind::InvalidInput),
            ("sha256:abc", ErrorKind::InvalidInput),
            (&EMPTY.to_uppercase(), ErrorKind::InvalidInput),
            ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g", ErrorKind::InvalidInput),
            ("blake3:abcd", ErrorKind::Unsupported),
            ("sha384:abcd", ErrorKind::Unsupported),
            (":abcd", ErrorKind::InvalidInput),
        ];
        for (input, kind) in cases {
            match Digest::parse(input) {
                Ok(d) => panic!("{input:?} parsed as {d}"),
                Err(e) => assert_eq!(e.kind(), kind, "{input:?}: {e}"),
            }
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes>> + Unpin {
        stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn verifying_stream_passes_good_content() {
        let d = Digest::sha256(b"hello world");
        let s = VerifyingStream::new(chunks(&[b"hello", b" ", b"world"]), d, Some(11));
        let out: Vec<Result<Bytes>> = s.collect().await;
        assert_eq!(out.len(), 3);
        let joined: Vec<u8> = out.into_iter().flat_map(|r| r.map(|b| b.to_vec()).unwrap_or_default()).collect();
        assert_eq!(joined, b"hello world");
    }

    #[tokio::test]
    async fn verifying_stream_replaces_last_chunk_with_error() {
        let d = Digest::sha256(b"hello world");
        let s = VerifyingStream::new(chunks(&[b"hello", b" ", b"wurld"]), d, Some(11));
        let out: Vec<Result<Bytes>> = s.collect().await;
        assert_eq!(out.len(), 3);
        assert!(out[0].is_ok() && out[1].is_ok());
        match &out[2] {
            Err(e) => assert_eq!(e.kind(), ErrorKind::DigestMismatch),
            Ok(b) => panic!("last chunk {b:?} handed out despite mismatch"),
        }
    }

    #[tokio::test]
    async fn verifying_stream_checks_size() {
        let d = Digest::sha256(b"hello");
        let short: Vec<Result<Bytes>> = VerifyingStream::new(chunks(&[b"hello"]), d.clone(), Some(6)).collect().await;
        assert!(matches!(short.last(), Some(Err(e)) if e.kind() == ErrorKind::DigestMismatch));
        let long: Vec<Result<Bytes>> =
            VerifyingStream::new(chunks(&[b"hel", b"lo", b"!!!"]), d, Some(5)).collect().await;
        assert!(matches!(long.last(), Some(Err(e)) if e.kind() == ErrorKind::DigestMismatch));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_digest_text_parses_without_panic(text in "\\PC*|sha(256|512):[0-9a-fA-F]{0,130}") {
            if let Ok(d) = Digest::parse(&text) {
                proptest::prop_assert_eq!(d.as_str(), text.as_str());
            }
        }

        #[test]
        fn digests_round_trip(hex in "[0-9a-f]{64}") {
            let text = format!("sha256:{hex}");
            let d = Digest::parse(&text);
            proptest::prop_assert_eq!(d.as_ref().map(Digest::as_str).ok(), Some(text.as_str()));
            proptest::prop_assert_eq!(d.ok().map(|d| d.hex().to_string()), Some(hex));
        }
    }
}
