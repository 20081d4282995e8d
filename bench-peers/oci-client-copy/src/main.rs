//! `oci-client-copy SRC DST`: copy one image (a single manifest) from `SRC` to `DST`, both `host:port/repo:tag` on
//! plain HTTP, with rust `oci-client` 0.18 the way a user of that crate would stream it: the manifest pulled raw,
//! then every blob (config and layers) at once, `pull_blob_stream` piped into `push_blob_stream` (one streamed PUT
//! each, `use_monolithic_push`), then the manifest pushed as it was. A peer for `copy_bench --peer-oci-client`;
//! prints `VmHWM_KB <n>` (its own peak RSS, KiB) on stderr as it ends, as copy_bench's own child does.

use futures::TryStreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

const ACCEPTED: &[&str] =
    &["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"];

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        return Err("usage: oci-client-copy SRC DST (host:port/repo:tag each)".into());
    };
    let src: Reference = src.parse()?;
    let dst: Reference = dst.parse()?;
    let config = ClientConfig { protocol: ClientProtocol::Http, use_monolithic_push: true, ..Default::default() };
    let client = Client::new(config);
    let auth = RegistryAuth::Anonymous;
    client.store_auth_if_needed(dst.resolve_registry(), &auth).await;
    let (raw, _digest) = client.pull_manifest_raw(&src, &auth, ACCEPTED).await?;
    let manifest: OciImageManifest = serde_json::from_slice(&raw)?;
    let media_type = manifest.media_type.clone().unwrap_or_else(|| ACCEPTED[0].to_string());
    let blobs: Vec<OciDescriptor> = std::iter::once(manifest.config.clone()).chain(manifest.layers.clone()).collect();
    let copies = blobs.iter().map(|blob| {
        let (client, src, dst) = (&client, &src, &dst);
        async move {
            let pulled = client.pull_blob_stream(src, blob).await?;
            let stream = pulled.stream.map_err(OciDistributionError::IoError);
            client.push_blob_stream(dst, stream, &blob.digest, Some(blob.size as u64)).await
        }
    });
    futures::future::try_join_all(copies).await?;
    client.push_manifest_raw(&dst, raw, media_type.parse()?).await?;
    eprintln!("VmHWM_KB {}", peak_rss_kb());
    Ok(())
}

/// `VmHWM` of `/proc/self/status`, KiB (0 when unreadable).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
