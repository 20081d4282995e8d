//! Uploads against a registry whose confirmed offset does not advance: every chunk answered with success (202, or
//! 201 as ECR answers) but the same `Range`. The upload ends within a bounded number of `PATCH`es with a `Protocol`
//! error naming the stuck `Range`, instead of sending the chunk again forever. A 201 whose `Range` advances is
//! progress, not the end of the upload.

use super::*;

/// The bound on chunks answered without progress (`MAX_STALLED_CHUNKS` in registry-core's upload progress).
const STALLED: usize = 3;

#[tokio::test]
async fn push_image_of_a_34_mb_layer_against_a_range_stuck_at_0_0_ends_naming_it() {
    let server = RegistryServer::start().await.unwrap();
    let client = RemoteClient::builder(server.host()).insecure(true).build().unwrap().with_segment("stuck/app");
    let layer = data(34_000_000, 34);
    let image = registry_client::ImageBuilder::new().layer(layer).build().unwrap();
    server.faults().answer_patches(usize::MAX, 202, Some(0), "/blobs/uploads/");
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(60), client.push_image("v1", &image))
        .await
        .expect("push_image must end")
        .unwrap_err();
    assert_eq!(e.kind(), ClientErrorKind::Protocol, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("Range stayed at 0-0") && msg.contains("upload abandoned"), "{msg}");
    // The first answer confirms one byte (`0-0` after a chunk); then STALLED answers without progress.
    assert_eq!(server.faults().patches_answered(), 1 + STALLED, "PATCHes sent");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    let missing = client.check_image_exists("v1").await.unwrap_err();
    assert_eq!(missing.kind(), ClientErrorKind::NotFound, "{missing}");
}

#[tokio::test]
async fn a_range_that_stops_advancing_after_the_first_chunk_ends_the_upload() {
    // 202, and 201 as ECR answers a chunk: a success whose Range does not move is no progress either way.
    for status in [202, 201] {
        let server = RegistryServer::start().await.unwrap();
        let api = api(&server.host(), chunked());
        let repo = repo(&server.host(), "stuck/sized");
        let blob = data(BLOB, 5);
        let digest = Digest::sha256(&blob);
        let source = ReopenableSource::new(&blob);
        // The first chunk is taken; every later one is answered with the Range of the first.
        server.faults().answer_patches(1, status, None, "/blobs/uploads/");
        server.faults().answer_patches(usize::MAX, status, Some(CHUNK - 1), "/blobs/uploads/");
        let e = expect_err(api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await, "stuck upload");
        assert_eq!(e.kind(), ErrorKind::Protocol, "{status}: {e}");
        let stuck = format!("Range stayed at 0-{}", CHUNK - 1);
        assert!(e.to_string().contains(&stuck) && e.to_string().contains(digest.as_str()), "{status}: {e}");
        assert_eq!(server.faults().patches_answered(), 1 + STALLED, "{status}");
        assert!(api.blob_exists(&repo, &digest).await.unwrap().is_none(), "nothing committed");
    }
}

#[tokio::test]
async fn a_stream_upload_against_a_stuck_range_ends_naming_it() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "stuck/stream");
    let blob = data(BLOB, 6);
    server.faults().answer_patches(1, 202, None, "/blobs/uploads/");
    server.faults().answer_patches(usize::MAX, 202, Some(CHUNK - 1), "/blobs/uploads/");
    let e = expect_err(api.upload_blob_stream(&repo, stream_of(&blob)).await, "stuck stream upload");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains(&format!("Range stayed at 0-{}", CHUNK - 1)), "{e}");
    assert_eq!(server.faults().patches_answered(), 1 + STALLED);
}

#[tokio::test]
async fn an_ecr_style_201_to_each_chunk_is_progress_not_the_end() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "ecr/app");
    let blob = data(BLOB, 7);
    let digest = Digest::sha256(&blob);
    let source = ReopenableSource::new(&blob);
    server.faults().answer_patches(usize::MAX, 201, None, "/blobs/uploads/");
    let pushed = api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await.unwrap();
    assert_eq!(pushed, BlobPushed::Uploaded);
    assert_eq!(server.faults().patches_answered(), BLOB.div_ceil(CHUNK as usize), "one PATCH per chunk");
    assert_eq!(read_back(&api, &repo, &digest, BLOB).await, blob);

    let streamed = data(BLOB, 8);
    let (d, size) = api.upload_blob_stream(&repo, stream_of(&streamed)).await.unwrap();
    assert_eq!((d.clone(), size), (Digest::sha256(&streamed), BLOB as u64));
    assert_eq!(read_back(&api, &repo, &d, BLOB).await, streamed);
}

#[tokio::test]
async fn the_announced_chunk_min_length_is_recorded_in_the_profile() {
    let server = RegistryServer::start().await.unwrap();
    let api = api(&server.host(), chunked());
    let repo = repo(&server.host(), "min/app");
    assert_eq!(api.capabilities().snapshot().chunk_min_length, None);
    server.faults().chunk_min_length(Some(1000));
    api.start_upload(&repo).await.unwrap();
    assert_eq!(api.capabilities().snapshot().chunk_min_length, Some(1000));
}

#[tokio::test]
async fn a_401_to_every_chunk_ends_the_upload_after_its_recoveries() {
    let server = RegistryServer::start().await.unwrap();
    let retries = 3;
    let api = api(&server.host(), chunked().upload_retries(retries));
    let repo = repo(&server.host(), "storm/app");
    let blob = data(BLOB, 9);
    let digest = Digest::sha256(&blob);
    let source = ReopenableSource::new(&blob);
    server.faults().fail_next_method(usize::MAX, "PATCH", "/blobs/uploads/", 401, None);
    let before = server.request_count();
    let e = expect_err(api.upload_blob_from(&repo, &digest, BLOB as u64, source.opener()).await, "401 storm");
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains(&format!("giving up after {} attempts", retries + 1)), "{e}");
    // A session, one PATCH per attempt and a status GET between them, the cancel: nothing more.
    let sent = server.request_count() - before;
    assert!(sent <= 2 + 2 * (retries as usize + 1), "{sent} requests");
}
