//! A chunked blob upload outlives its token, against the real docker-registry 2.8.2 with token auth.
//!
//! The token server tells the client its tokens live 300 s (`expires_in`), but signs JWTs whose `exp` makes the
//! registry refuse them 1 to 2 s after they were issued ([`TokenIssuer::jwt_exp_offset`]), so the client has no
//! reason to refresh proactively. The source pauses in the middle of the second chunk: that `PATCH` was authorized
//! when it started and completes, but the next `PATCH` goes out with the now expired token and is answered `401`.
//! Its body was a one-time stream, so the transport cannot send it again; it fetches a new token and the upload job
//! asks the registry how far the upload got (`GET <location>`, authorized with the new token) and resumes there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use registry_core::api::{BlobPushed, RegistryApi, TransferConfig};
use registry_core::auth::Credentials;
use registry_core::transport::{ProxyConfig, RetryConfig, TransportConfig};
use registry_core::{ByteStream, Digest, Registry, Repository, Result};
use registry_tests::logs::Logs;
use registry_tests::token::REGISTRY_JWT_LEEWAY;
use registry_tests::{Access, AuthMode, DockerRegistry, TokenIssuer, TokenServer};

/// The chunk size (also the monolithic threshold, so the blob goes in chunks).
const CHUNK: u64 = 64 * 1024;
/// Six chunks and a bit.
const BLOB: usize = 6 * CHUNK as usize + 777;
/// The size of the pieces the source hands out.
const PIECE: usize = 16 * 1024;
/// The source pauses before the piece at this offset: in the middle of the second chunk.
const PAUSE_AT: u64 = CHUNK + CHUNK / 2;
/// The first byte of the chunk whose `PATCH` is refused: the one after the paused one.
const REFUSED_AT: u64 = 2 * CHUNK;
/// How long after issue the registry still accepts a JWT: `exp` plus its leeway, at most this (`exp` has whole
/// seconds, so the real window is 1 to 2 s).
const JWT_USABLE: Duration = Duration::from_secs(2);
/// The pause: longer than [`JWT_USABLE`], so the token expires while the source is paused.
const PAUSE: Duration = Duration::from_millis(3000);

const USER: &str = "pusher";
const PASSWORD: &str = "pusher-pw-5e1d";

const ASKED_STATUS: &str = "chunk upload failed; asking the registry how far it got";
const RESUMED: &str = "blob upload resumes";
const STARTED_OVER: &str = "blob upload starts over";

/// A token server whose JWTs the registry refuses [`JWT_USABLE`] after issue, while the token answer says 300 s.
fn short_jwt_tokens() -> TokenServer {
    let offset = JWT_USABLE.as_secs() as i64 - REGISTRY_JWT_LEEWAY.as_secs() as i64;
    TokenIssuer::new("expiry-registry", "expiry-issuer")
        .user(USER, PASSWORD, Access::All)
        .expires_in(Duration::from_secs(300))
        .jwt_exp_offset(offset)
        .start()
}

fn api(host: &str) -> RegistryApi {
    let mut config = TransportConfig::default();
    config.insecure = true;
    config.proxy = ProxyConfig::Disabled;
    config.credentials = Credentials::basic(USER, PASSWORD);
    config.retry =
        RetryConfig::default().initial_backoff(Duration::from_millis(10)).max_backoff(Duration::from_secs(1));
    let transfer = TransferConfig::default()
        .monolithic_threshold(CHUNK)
        .chunk_size(CHUNK)
        .recovery_backoff(Duration::from_millis(10));
    RegistryApi::new(Registry::parse(host).unwrap(), config).unwrap().with_transfer_config(transfer).unwrap()
}

fn repo(host: &str, path: &str) -> Repository {
    Repository::parse(&format!("{host}/{path}")).unwrap()
}

/// A pause the source takes once, before the piece at [`PAUSE_AT`], however often it is opened.
#[derive(Clone, Default)]
struct Pause(Arc<AtomicBool>);

impl Pause {
    fn taken(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `data` from `offset` on in pieces of [`PIECE`] bytes, pausing once (see [`Pause`]).
fn pausing_stream(data: &Bytes, offset: u64, pause: &Pause) -> ByteStream {
    let pause = pause.clone();
    let mut position = offset;
    Box::pin(registry_client::slices_from(data, offset, PIECE).then(move |piece| {
        let start = position;
        if let Ok(p) = &piece {
            position += p.len() as u64;
        }
        let wait = start >= PAUSE_AT && !pause.0.swap(true, Ordering::SeqCst);
        async move {
            if wait {
                tokio::time::sleep(PAUSE).await;
            }
            piece
        }
    }))
}

/// What both tests check after the upload: the chunk after the pause was refused with a 401, the upload resumed
/// at that chunk (never started over), a second token was fetched, and the blob reads back complete.
async fn check_resumed_after_401(
    api: &RegistryApi,
    repo: &Repository,
    tokens: &TokenServer,
    registry: &DockerRegistry,
    logs: &Logs,
    blob: &Bytes,
) {
    let text = logs.text();
    let asked = logs.lines_with(ASKED_STATUS);
    assert!(!asked.is_empty(), "a chunk should have been refused once the token expired: {text}");
    // The first refused chunk is the one after the pause, and it was refused for its token.
    assert!(asked[0].contains(&format!("offset={REFUSED_AT}")), "{}", asked[0]);
    assert!(asked[0].contains("HTTP 401"), "refused with a 401: {}", asked[0]);
    // The registry refused each of those PATCHes for its token (it logs `error authorizing context: invalid token`
    // with the request's method), not for anything about the upload.
    let registry_log = registry.logs();
    let refused_patches =
        registry_log.lines().filter(|l| l.contains("invalid token") && l.contains("http.request.method=PATCH")).count();
    assert_eq!(refused_patches, asked.len(), "PATCHes refused for an invalid token:\n{}", registry.log_tail(20));
    let resumed = logs.lines_with(RESUMED);
    assert_eq!(resumed.len(), asked.len(), "every refused chunk resumed: {text}");
    assert!(resumed[0].contains(&format!("offset={REFUSED_AT}")), "resumed where the registry was: {}", resumed[0]);
    assert!(logs.lines_with(STARTED_OVER).is_empty(), "resumed, never started over: {text}");

    // One token before the pause, a fresh one after the 401 (the transport refreshes on it, and the status GET
    // uses the new one).
    let issued = tokens.issuer().issued_tokens();
    assert!(issued.len() >= 2, "a second token was fetched after the 401: {} issued", issued.len());
    assert_ne!(issued[0], issued[1]);

    let digest = Digest::sha256(blob);
    let got = api.get_blob_bytes(repo, &digest, Some(BLOB as u64), 16 << 20).await.unwrap();
    assert_eq!(got.len(), BLOB);
    assert!(got == *blob, "the blob read back differs from the one uploaded");
}

#[tokio::test]
async fn one_time_stream_upload_resumes_after_its_token_expires_mid_upload() {
    let tokens = short_jwt_tokens();
    let registry = DockerRegistry::builder().auth(AuthMode::token(&tokens)).start();
    let api = api(&registry.host());
    let repo = repo(&registry.host(), "expiry/one-time");
    let blob = mocks::seeded_bytes(71, BLOB);
    let digest = Digest::sha256(&blob);
    let pause = Pause::default();
    let (logs, _guard) = Logs::capture();

    let start = Instant::now();
    // A one-time stream: the upload holds the unconfirmed chunk and sends it again after the 401.
    api.upload_blob(&repo, &digest, BLOB as u64, pausing_stream(&blob, 0, &pause)).await.unwrap();
    let took = start.elapsed();
    assert!(pause.taken());
    assert!(took >= PAUSE, "{took:?}");
    eprintln!("one-time stream: uploaded in {took:?}; {} tokens issued", tokens.issuer().issued_tokens().len());
    check_resumed_after_401(&api, &repo, &tokens, &registry, &logs, &blob).await;
}

#[tokio::test]
async fn reopenable_source_upload_resumes_after_its_token_expires_mid_upload() {
    let tokens = short_jwt_tokens();
    let registry = DockerRegistry::builder().auth(AuthMode::token(&tokens)).start();
    let api = api(&registry.host());
    let repo = repo(&registry.host(), "expiry/reopen");
    let blob = mocks::seeded_bytes(72, BLOB);
    let digest = Digest::sha256(&blob);
    let pause = Pause::default();
    let opened_at = Arc::new(Mutex::new(Vec::<u64>::new()));
    let (logs, _guard) = Logs::capture();

    let open = |offset: u64| {
        opened_at.lock().unwrap().push(offset);
        futures::future::ready(Result::Ok(pausing_stream(&blob, offset, &pause)))
    };
    let start = Instant::now();
    let pushed = api.upload_blob_from(&repo, &digest, BLOB as u64, open).await.unwrap();
    let took = start.elapsed();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert!(pause.taken());
    eprintln!("reopenable source: uploaded in {took:?}; {} tokens issued", tokens.issuer().issued_tokens().len());
    let opened = opened_at.lock().unwrap().clone();
    assert_eq!(opened.first(), Some(&0), "{opened:?}");
    assert_eq!(opened.iter().filter(|o| **o == 0).count(), 1, "opened from byte 0 only once: {opened:?}");
    assert_eq!(opened.get(1), Some(&REFUSED_AT), "read again from the registry's offset: {opened:?}");
    check_resumed_after_401(&api, &repo, &tokens, &registry, &logs, &blob).await;
}
