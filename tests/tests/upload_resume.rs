//! Chunked uploads that outlive the client: with an `UploadJournal`, a push whose source stops part way leaves its
//! session recorded, and a fresh client with the same journal asks the registry how far it got and sends only the
//! rest (the source reopened at that offset); a recorded session the registry no longer knows (cancelled, garbage,
//! another host) is forgotten and the blob uploaded in full. Against the real docker-registry and our server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{stream, StreamExt};
use mocks::server::RegistryServer;
use registry_client::{RemoteClient, TransferOptions};
use registry_core::api::{TransferConfig, UploadJournal};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Repository};
use registry_tests::{AuthMode, DockerRegistry};
use url::Url;

const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 6 * MIB;
/// The pieces the test source yields: a chunk is 16 of them.
const PIECE: u64 = 64 * 1024;

/// An in-memory upload journal, as a sync job's journal file would hold it.
#[derive(Debug, Default)]
struct MemJournal {
    sessions: Mutex<HashMap<(String, String), (Url, u64)>>,
    records: AtomicU64,
}

impl MemJournal {
    fn get(&self, repo: &Repository, digest: &Digest) -> Option<(Url, u64)> {
        self.sessions.lock().unwrap().get(&(repo.to_string(), digest.to_string())).cloned()
    }

    fn set(&self, repo: &Repository, digest: &Digest, location: Url) {
        self.sessions.lock().unwrap().insert((repo.to_string(), digest.to_string()), (location, 0));
    }
}

impl UploadJournal for MemJournal {
    fn record(&self, repository: &Repository, digest: &Digest, location: &Url, offset: u64) {
        self.records.fetch_add(1, Ordering::SeqCst);
        self.sessions.lock().unwrap().insert((repository.to_string(), digest.to_string()), (location.clone(), offset));
    }

    fn forget(&self, repository: &Repository, digest: &Digest) {
        self.sessions.lock().unwrap().remove(&(repository.to_string(), digest.to_string()));
    }

    fn recorded(&self, repository: &Repository, digest: &Digest) -> Option<Url> {
        self.get(repository, digest).map(|(location, _)| location)
    }
}

/// The blob: `SIZE` bytes of a pattern.
fn blob() -> Bytes {
    Bytes::from((0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// A source of `data` that counts the offsets it is opened at and the bytes it gives, and when it reaches
/// `stop_at` (if given) fails (a temporary I/O error, like a source registry dropping the connection) or, with
/// `hang`, gives nothing more (so the push is dropped there, as a killed process's would stop).
#[derive(Clone)]
struct Source {
    data: Bytes,
    stop_at: Option<u64>,
    hang: bool,
    /// Stop only the first time it is opened.
    once: bool,
    opened: Arc<Mutex<Vec<u64>>>,
    given: Arc<AtomicU64>,
}

impl Source {
    fn new(data: &Bytes, stop_at: Option<u64>) -> Source {
        Source { data: data.clone(), stop_at, hang: false, once: false, opened: Arc::default(), given: Arc::default() }
    }

    fn open(&self, offset: u64) -> ByteStream {
        let first = {
            let mut opened = self.opened.lock().unwrap();
            opened.push(offset);
            opened.len() == 1
        };
        let stop_at = if self.once && !first { None } else { self.stop_at };
        let end = stop_at.unwrap_or(SIZE);
        let mut items: Vec<registry_core::Result<Bytes>> = Vec::new();
        let mut at = offset;
        while at < end {
            let to = (at + PIECE).min(end);
            items.push(Ok(self.data.slice(at as usize..to as usize)));
            at = to;
        }
        if stop_at.is_some() && !self.hang {
            items.push(Err(Error::new(ErrorKind::Io, "the source connection was reset")));
        }
        let given = self.given.clone();
        let counted = stream::iter(items).map(move |item| {
            if let Ok(b) = &item {
                given.fetch_add(b.len() as u64, Ordering::SeqCst);
            }
            item
        });
        if self.hang && stop_at.is_some() {
            Box::pin(counted.chain(stream::pending()))
        } else {
            Box::pin(counted)
        }
    }

    fn opened(&self) -> Vec<u64> {
        self.opened.lock().unwrap().clone()
    }

    fn given(&self) -> u64 {
        self.given.load(Ordering::SeqCst)
    }
}

/// A fresh client of `host` (plain HTTP) uploading in 1 MiB chunks, recording in `journal`.
fn client(host: &str, journal: &Arc<MemJournal>) -> RemoteClient {
    let config = TransferConfig::default().monolithic_threshold(0).chunk_size(MIB).upload_retries(2);
    RemoteClient::builder(host)
        .insecure(true)
        .transfer(TransferOptions::new().blob_config(config))
        .upload_journal(journal.clone() as Arc<dyn UploadJournal>)
        .build()
        .unwrap()
}

async fn push(client: &RemoteClient, repo: &Repository, digest: &Digest, source: &Source) -> registry_core::Result<()> {
    let s = source.clone();
    let open = move |offset: u64| {
        let stream = s.open(offset);
        async move { Ok(stream) }
    };
    client.api().upload_blob_from(repo, digest, SIZE, open).await.map(|_| ())
}

/// The blob is in `repo` with the right content.
async fn assert_present(client: &RemoteClient, repo: &Repository, digest: &Digest) {
    assert_eq!(client.api().blob_exists(repo, digest).await.unwrap(), Some(SIZE), "{digest} in {repo}");
    let mut body = client.api().get_blob(repo, digest, Some(SIZE)).await.unwrap();
    let mut read = 0u64;
    while let Some(piece) = body.next().await {
        read += piece.unwrap().len() as u64;
    }
    assert_eq!(read, SIZE, "the blob reads back whole, its digest verified");
}

/// A push stopped after 3 chunks (its source failing, or with `hang` the push dropped while the source gives
/// nothing), resumed by a fresh client with the same journal: only the rest is read and sent.
async fn check_resume(host: &str, hang: bool, count_patches: Option<&(dyn Fn() -> usize + Sync)>) {
    let data = blob();
    let digest = Digest::sha256(&data);
    let repo = Repository::parse(&format!("{host}/resume/app-{hang}")).unwrap();
    let journal = Arc::new(MemJournal::default());

    let mut stopping = Source::new(&data, Some(3 * MIB));
    stopping.hang = hang;
    let first = client(host, &journal);
    if hang {
        let pushing = push(&first, &repo, &digest, &stopping);
        let cut = tokio::time::timeout(std::time::Duration::from_secs(2), pushing).await;
        assert!(cut.is_err(), "the push was still waiting for its source");
    } else {
        let e = push(&first, &repo, &digest, &stopping).await.unwrap_err();
        assert!(e.to_string().contains("journal"), "says the session stays recorded: {e}");
    }
    let reopened = stopping.opened();
    assert_eq!(reopened[0], 0);
    if !hang {
        // upload_retries(2): the source reopened twice at the registry's offset before giving up.
        assert_eq!(&reopened[1..], [3 * MIB, 3 * MIB], "recovered in process from the registry's offset first");
    }
    assert_eq!(stopping.given(), 3 * MIB, "no byte read twice");
    let (location, offset) = journal.get(&repo, &digest).expect("the session stays recorded");
    assert_eq!(offset, 3 * MIB, "recorded after each confirmed chunk");
    assert!(journal.records.load(Ordering::SeqCst) >= 4, "recorded when opened and after each chunk");
    assert!(location.as_str().starts_with(&format!("http://{host}/")), "an absolute location");
    assert_eq!(first.api().blob_exists(&repo, &digest).await.unwrap(), None, "not committed");
    drop(first);

    let patches_before = count_patches.map(|c| c());
    let full = Source::new(&data, None);
    let second = client(host, &journal);
    push(&second, &repo, &digest, &full).await.unwrap();
    let opened = full.opened();
    assert_eq!(opened.len(), 1, "opened once: {opened:?}");
    assert!(opened[0] >= 3 * MIB, "reopened at the registry's offset, not from the start: {opened:?}");
    assert_eq!(full.given(), SIZE - opened[0], "only the rest was read");
    if let (Some(count), Some(before)) = (count_patches, patches_before) {
        assert_eq!(count() - before, 3, "three chunks sent, not six");
    }
    assert_present(&second, &repo, &digest).await;
    assert_eq!(journal.get(&repo, &digest), None, "forgotten once committed");
}

/// Recorded sessions the registry does not know lead to a fresh, full upload that succeeds.
async fn check_unknown_sessions(host: &str) {
    let data = blob();
    let digest = Digest::sha256(&data);
    let journal = Arc::new(MemJournal::default());
    let c = client(host, &journal);

    // Garbage: a session id the registry never gave.
    let garbage = Repository::parse(&format!("{host}/resume/garbage")).unwrap();
    journal.set(&garbage, &digest, Url::parse(&format!("http://{host}/v2/resume/garbage/blobs/uploads/nope")).unwrap());
    let full = Source::new(&data, None);
    push(&c, &garbage, &digest, &full).await.unwrap();
    assert_eq!((full.opened(), full.given()), (vec![0], SIZE), "a fresh upload from the first byte");
    assert_present(&c, &garbage, &digest).await;
    assert_eq!(journal.get(&garbage, &digest), None);

    // Cancelled: a real session, stopped after 3 chunks, then cancelled behind the journal's back.
    let cancelled = Repository::parse(&format!("{host}/resume/cancelled")).unwrap();
    let stopping = Source::new(&data, Some(3 * MIB));
    push(&c, &cancelled, &digest, &stopping).await.unwrap_err();
    let (location, _) = journal.get(&cancelled, &digest).expect("recorded");
    let answer = reqwest::Client::new().delete(location.clone()).send().await.unwrap();
    assert!(answer.status().is_success(), "cancelled: {}", answer.status());
    let full = Source::new(&data, None);
    push(&client(host, &journal), &cancelled, &digest, &full).await.unwrap();
    assert_eq!((full.opened(), full.given()), (vec![0], SIZE), "a fresh upload from the first byte");
    assert_present(&c, &cancelled, &digest).await;
    assert_eq!(journal.get(&cancelled, &digest), None);

    // Another host: never asked (the registry's credentials stay with it); forgotten.
    let elsewhere = Repository::parse(&format!("{host}/resume/elsewhere")).unwrap();
    journal.set(&elsewhere, &digest, Url::parse("http://192.0.2.1:1/v2/resume/elsewhere/blobs/uploads/x").unwrap());
    let full = Source::new(&data, None);
    push(&c, &elsewhere, &digest, &full).await.unwrap();
    assert_eq!((full.opened(), full.given()), (vec![0], SIZE));
    assert_eq!(journal.get(&elsewhere, &digest), None);
}

#[tokio::test]
async fn a_chunked_upload_resumes_in_a_fresh_client_on_docker_registry() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    check_resume(&registry.host(), false, None).await;
}

#[tokio::test]
async fn a_dropped_push_resumes_in_a_fresh_client_on_docker_registry() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    check_resume(&registry.host(), true, None).await;
}

#[tokio::test]
async fn a_chunked_upload_resumes_in_a_fresh_client_on_our_server() {
    let server = RegistryServer::start().await.unwrap();
    let patches = || server.request_log().iter().filter(|r| r.starts_with("PATCH ")).count();
    check_resume(&server.host(), false, Some(&patches)).await;
    check_resume(&server.host(), true, Some(&patches)).await;
}

#[tokio::test]
async fn unknown_recorded_sessions_start_over_on_docker_registry() {
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    check_unknown_sessions(&registry.host()).await;
}

#[tokio::test]
async fn unknown_recorded_sessions_start_over_on_our_server() {
    let server = RegistryServer::start().await.unwrap();
    check_unknown_sessions(&server.host()).await;
}

#[tokio::test]
async fn one_request_uploads_record_nothing() {
    let server = RegistryServer::start().await.unwrap();
    let journal = Arc::new(MemJournal::default());
    let host = server.host();
    let c = RemoteClient::builder(&host)
        .insecure(true)
        .upload_journal(journal.clone() as Arc<dyn UploadJournal>)
        .build()
        .unwrap();
    let data = blob();
    let digest = Digest::sha256(&data);
    let repo = Repository::parse(&format!("{host}/resume/small")).unwrap();
    let source = Source::new(&data, None);
    push(&c, &repo, &digest, &source).await.unwrap();
    assert_eq!(journal.records.load(Ordering::SeqCst), 0, "a one-PUT upload has no session to resume");
    assert_present(&c, &repo, &digest).await;
}

#[tokio::test]
async fn with_a_journal_a_source_failing_once_is_recovered_from_the_registrys_offset() {
    let server = RegistryServer::start().await.unwrap();
    let host = server.host();
    let journal = Arc::new(MemJournal::default());
    let data = blob();
    let digest = Digest::sha256(&data);
    let repo = Repository::parse(&format!("{host}/resume/glitch")).unwrap();
    let mut source = Source::new(&data, Some(3 * MIB));
    source.once = true;
    let c = client(&host, &journal);
    push(&c, &repo, &digest, &source).await.unwrap();
    assert_eq!(source.opened(), [0, 3 * MIB], "reopened where the registry got to, not from the start");
    assert_eq!(source.given(), SIZE, "each byte read once");
    let patches = server.request_log().iter().filter(|r| r.starts_with("PATCH ")).count();
    // The fourth chunk's first try, broken by the source before its body, may or may not have reached the server.
    assert!((6..=7).contains(&patches), "six chunks, not the first three again: {patches} PATCHes");
    assert_present(&c, &repo, &digest).await;
    assert_eq!(journal.get(&repo, &digest), None);
}
