//! Blobs in and out of the fake: [`FakeBlobs`], the blob source of images read from it, and the verified read of
//! blobs pushed to it.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use registry_client::{BlobPushed, BlobSource, Descriptor};
use registry_core::manifest::descriptor_digest;
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository, Result, VerifyingStream};

use super::shared::Host;

/// Size of the chunks blobs are streamed in (small, so consumers see several chunks as from a network).
const CHUNK: usize = 64 * 1024;

/// The blobs of one repository of a fake host: the [`BlobSource`] of every [`Image`](registry_client::Image)
/// a [`FakeClient`](super::FakeClient) returns. Reads see the host's current content.
#[derive(Clone)]
pub struct FakeBlobs {
    host: Arc<Host>,
    repository: Repository,
}

impl FakeBlobs {
    pub(crate) fn new(host: Arc<Host>, repository: Repository) -> FakeBlobs {
        FakeBlobs { host, repository }
    }

    /// The repository the blobs are read from.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }
}

impl fmt::Debug for FakeBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FakeBlobs").field(&self.repository.to_string()).finish()
    }
}

#[async_trait::async_trait]
impl BlobSource for FakeBlobs {
    async fn open(&self, digest: &Digest, size: u64) -> Result<ByteStream> {
        self.open_unverified(digest, size, 0).await
    }

    /// The fake's blobs were verified when pushed: reads are the same either way.
    async fn open_unverified(&self, digest: &Digest, size: u64, offset: u64) -> Result<ByteStream> {
        let data = self.host.read().blob(&self.repository, digest)?;
        if data.len() as u64 != size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("blob {digest} in {}: registry sends {} bytes, expected {size}", self.repository, data.len()),
            ));
        }
        Ok(registry_client::slices_from(&data, offset, CHUNK))
    }

    /// The repository: a push of these blobs to another repository of the same host links them from here.
    fn repository(&self) -> Option<&Repository> {
        Some(&self.repository)
    }
}

/// Get the blob `desc` into `repo` of `host`, as a registry does for
/// [`Client::push_blob`](registry_client::Client::push_blob): nothing when `repo` has it (`AlreadyPresent`); linked
/// from `mount_from` when that is another repository of the same host holding it (`Mounted`); else read from
/// `source`, verified against the digest and size, and stored (`Uploaded`; nothing stored when it does not match).
pub(crate) async fn store_blob(
    host: &Host,
    repo: &Repository,
    desc: &Descriptor,
    source: &dyn BlobSource,
    mount_from: Option<&Repository>,
) -> Result<BlobPushed> {
    let digest = descriptor_digest(desc)?;
    if host.read().has_blob(repo, &digest) {
        return Ok(BlobPushed::AlreadyPresent);
    }
    let mount_from = mount_from.filter(|from| from.registry() == repo.registry() && *from != repo);
    let mounted = mount_from.and_then(|from| host.read().blob(from, &digest).ok());
    if let Some(data) = mounted.filter(|d| d.len() as u64 == desc.size()) {
        host.write().put_blob(repo, digest, data);
        return Ok(BlobPushed::Mounted);
    }
    let data = read_verified(source.open(&digest, desc.size()).await?, &digest, desc.size()).await?;
    host.write().put_blob(repo, digest, data);
    Ok(BlobPushed::Uploaded)
}

/// Read a pushed blob whole, verified against `digest` and `size` as a registry verifies an upload.
pub(crate) async fn read_verified(stream: ByteStream, digest: &Digest, size: u64) -> Result<Bytes> {
    let mut verified = VerifyingStream::new(stream, digest.clone(), Some(size));
    let mut out = BytesMut::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
    while let Some(chunk) = verified.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use futures::TryStreamExt;

    fn stream(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))))
    }

    #[tokio::test]
    async fn pushed_blobs_are_verified() {
        let d = Digest::sha256(b"hello world");
        assert_eq!(&read_verified(stream(vec![b"hello", b" world"]), &d, 11).await.unwrap()[..], b"hello world");
        let e = read_verified(stream(vec![b"hello", b" wurld"]), &d, 11).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch);
        let e = read_verified(stream(vec![b"hello world"]), &d, 12).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch);
    }

    #[tokio::test]
    async fn blobs_stream_in_chunks_from_their_repository_only() {
        let host = Arc::new(Host::default());
        let app = Repository::parse("registry.example.com/app").unwrap();
        let data = Bytes::from(vec![3u8; CHUNK * 2 + 5]);
        let d = Digest::sha256(&data);
        host.write().put_blob(&app, d.clone(), data.clone());
        let blobs = FakeBlobs::new(Arc::clone(&host), app.clone());
        let chunks: Vec<Bytes> = blobs.open(&d, data.len() as u64).await.unwrap().try_collect().await.unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), data.to_vec());
        let e = blobs.open(&d, 1).await.err().unwrap();
        assert_eq!(e.kind(), ErrorKind::DigestMismatch);
        let other = FakeBlobs::new(host, Repository::parse("registry.example.com/other").unwrap());
        assert_eq!(other.open(&d, data.len() as u64).await.err().unwrap().kind(), ErrorKind::NotFound);
        assert_eq!(format!("{other:?}"), "FakeBlobs(\"registry.example.com/other\")");
    }
}
