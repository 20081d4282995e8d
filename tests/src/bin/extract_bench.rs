//! Extract benchmark: our `get_image` + `Image::extract` against `skopeo copy docker://... dir:DIR` followed by
//! `tar -xf` of each layer in order, on a real `docker-registry` on loopback, same run.
//!
//! ```text
//! cargo run --release -p registry-tests --bin extract_bench [-- [--quick] [--runs N] [--layers N] [--layer-mib M]
//!                                                             [--ours tar|dir|null] [--no-skopeo] [--no-bomb]]
//! ```
//!
//! The image: `--layers` (8) gzip layers (level 6, as docker and go-containerregistry write them) of `--layer-mib`
//! (128) MiB of files each, 1 GiB in all, of generated text (words from a fixed vocabulary: compressible about 3
//! times, not trivially), written to temporary files as they are generated and pushed from there. `--quick`: 4
//! layers of 16 MiB.
//!
//! Ours runs as a child process (`extract_bench extract HOST/REPO:TAG MODE OUT`): `get_image`, then the flattened
//! filesystem written to OUT. `--ours dir` (the default): `extract_to` into a directory (what skopeo + tar does); `tar`: the
//! `extract()` stream into a tar file; `null`: the
//! stream read and dropped. Skopeo's side is two child processes, timed together: `skopeo copy` to `dir:`, then
//! `sh` running `tar -xf` on each layer file in manifest order into a fresh directory.
//!
//! Figures: wall time (spawn to exit); MiB/s of uncompressed output (the layers' tar bytes over the wall time);
//! CPU seconds (user + system of the child and what it waited for, from its `sh` parent's `cutime`/`cstime`);
//! peak RSS (`VmHWM`, which our child reads from `/proc/self/status` as it ends, exact; polled every 2 ms for
//! skopeo, a lower bound). Medians over `--runs` (default 1), the tools taking turns to go first.
//!
//! The bomb: one gzip layer holding a single file of 1 GiB of zeros (about 1 MiB compressed, generated as it is
//! compressed), extracted by our child in `null` mode, once with the default caps (the ratio cap ends it) and
//! once with the ratio cap off and a total cap of 768 MiB (the zeros stream through until then): each must end
//! in the decompression cap's error, with its peak RSS under 64 MiB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use registry_client::core::manifest::{media_type, Manifest};
use registry_client::core::{ByteStream, DigestHasher};
use registry_client::{
    async_trait, BlobSource, Client, DecompressionLimits, Digest, ExtractOptions, Image, ImageOptions, RemoteClient,
    Result,
};
use registry_tests::bench::{clock_ticks, measure, median, own_peak_rss_kb, skopeo_on_path, skopeo_version, Measure};
use registry_tests::{AuthMode, DockerRegistry};
use serde_json::json;
use tokio::io::AsyncReadExt;

const MIB: u64 = 1 << 20;
/// Each generated file's size.
const FILE_BYTES: usize = 4 << 20;

// ---------------------------------------------------------------------------------------------------------------
// generated layers, on disk

/// Text of words from a fixed vocabulary of 512 pseudo-words (xorshift64*): gzip takes it to about a third.
struct TextGen {
    state: u64,
    words: Vec<Vec<u8>>,
}

impl TextGen {
    fn new(seed: u64) -> TextGen {
        let mut g = TextGen { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, words: Vec::new() };
        let mut vocab = TextGen { state: 0x5EED, words: Vec::new() };
        for _ in 0..512 {
            let len = 2 + (vocab.next() % 9) as usize;
            g.words.push((0..len).map(|_| b'a' + (vocab.next() % 26) as u8).collect());
        }
        g
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        out.clear();
        while out.len() < n {
            let x = self.next();
            out.extend_from_slice(&self.words[(x & 511) as usize]);
            out.push(if (x >> 9).is_multiple_of(12) { b'\n' } else { b' ' });
        }
        out.truncate(n);
    }
}

/// Hashes and counts what passes through.
struct Tee<W> {
    inner: W,
    hasher: Option<DigestHasher>,
    count: u64,
}

impl<W: Write> Tee<W> {
    fn new(inner: W) -> Tee<W> {
        Tee { inner, hasher: Some(DigestHasher::new(registry_client::core::Algorithm::Sha256)), count: 0 }
    }

    fn finish(mut self) -> (W, Digest, u64) {
        (self.inner, self.hasher.take().unwrap().finish(), self.count)
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.as_mut().unwrap().update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A stored layer: the gzip file, its digest and size, the tar's digest (diff_id) and size.
#[derive(Debug, Clone)]
struct StoredLayer {
    path: PathBuf,
    digest: Digest,
    size: u64,
    diff_id: Digest,
    tar_bytes: u64,
}

/// Write a gzip layer into `path`: `files` files of `file_bytes` each from `fill`, gzip `level`.
fn write_layer(path: &Path, files: usize, level: u32, mut fill: impl FnMut(&mut Vec<u8>, usize)) -> StoredLayer {
    let out = Tee::new(BufWriter::with_capacity(1 << 20, File::create(path).unwrap()));
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
    let mut tar = tar::Builder::new(Tee::new(gz));
    let mut data = Vec::with_capacity(FILE_BYTES);
    let dir = path.file_stem().unwrap().to_string_lossy().to_string();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    tar.append_data(&mut h, &dir, io::empty()).unwrap();
    for i in 0..files {
        fill(&mut data, FILE_BYTES);
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        tar.append_data(&mut h, format!("{dir}/file{i:04}.txt"), &data[..]).unwrap();
    }
    let (gz, diff_id, tar_bytes) = tar.into_inner().unwrap().finish();
    let (mut out, digest, size) = gz.finish().unwrap().finish();
    out.flush().unwrap();
    StoredLayer { path: path.to_path_buf(), digest, size, diff_id, tar_bytes }
}

/// Layers stored in files.
#[derive(Debug)]
struct FileBlobs {
    files: HashMap<Digest, PathBuf>,
}

#[async_trait]
impl BlobSource for FileBlobs {
    async fn open(&self, digest: &Digest, _size: u64) -> Result<ByteStream> {
        let path = self.files.get(digest).cloned().unwrap();
        let file = tokio::fs::File::open(path).await.unwrap();
        Ok(Box::pin(futures::stream::unfold(file, |mut f| async move {
            let mut buf = vec![0u8; 1 << 20];
            let n = f.read(&mut buf).await.unwrap();
            (n > 0).then(|| {
                buf.truncate(n);
                (Ok(Bytes::from(buf)), f)
            })
        })))
    }
}

fn image_of(layers: &[StoredLayer]) -> Image {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>()},
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": media_type::OCI_LAYER_GZIP, "digest": l.digest.to_string(), "size": l.size})).collect::<Vec<_>>(),
    });
    let manifest = Manifest::parse(serde_json::to_vec(&manifest).unwrap(), Some(media_type::OCI_MANIFEST)).unwrap();
    let files = layers.iter().map(|l| (l.digest.clone(), l.path.clone())).collect();
    Image::from_parts(manifest, config, Arc::new(FileBlobs { files })).unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// our extraction (child mode)

/// `extract HOST/REPO:TAG MODE OUT [--max-bytes N] [--max-ratio R]`: MODE `tar` (the stream into the file OUT), `dir` (`extract_to` OUT) or
/// `null` (read and dropped). Prints `BYTES n` (stream bytes, not for `dir`), then `VmHWM_KB n`; on an error,
/// `EXTRACT_ERROR kind: message` and exit code 3.
fn child_extract(args: &[String]) {
    let (src, mode, out) = (&args[0], args[1].as_str(), PathBuf::from(&args[2]));
    let value = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].parse::<u64>().unwrap());
    let mut limits = DecompressionLimits::new();
    if let Some(n) = value("--max-bytes") {
        limits = limits.max_bytes(n);
    }
    if let Some(r) = value("--max-ratio") {
        limits = limits.max_ratio(r);
    }
    let options = ExtractOptions::new().limits(limits);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let result = runtime.block_on(async {
        let (repo, tag) = src.rsplit_once(':').unwrap();
        let client = RemoteClient::builder(repo).insecure(true).no_proxy().build()?;
        let image = client.get_image(tag, ImageOptions::default()).await?;
        let to_error = |e: io::Error| registry_client::Error::new(registry_client::ErrorKind::Io, e.to_string());
        let carried = |e: io::Error| match e.into_inner().map(|i| i.downcast::<registry_client::Error>()) {
            Some(Ok(ours)) => *ours,
            Some(Err(other)) => to_error(io::Error::other(other)),
            None => to_error(io::Error::other("unknown")),
        };
        let bytes = match mode {
            "dir" => {
                image.extract_to_with(&out, options).await?;
                0
            }
            "tar" => {
                // Large reads and writes: tokio's file does each write on a blocking thread.
                let mut f = tokio::fs::File::create(&out).await.map_err(to_error)?;
                let mut stream = tokio::io::BufReader::with_capacity(1 << 20, image.extract_with(options));
                let n = tokio::io::copy_buf(&mut stream, &mut f).await.map_err(carried)?;
                tokio::io::AsyncWriteExt::flush(&mut f).await.map_err(to_error)?;
                n
            }
            _ => {
                let mut stream = tokio::io::BufReader::with_capacity(1 << 20, image.extract_with(options));
                tokio::io::copy_buf(&mut stream, &mut tokio::io::sink()).await.map_err(carried)?
            }
        };
        Ok::<u64, registry_client::Error>(bytes)
    });
    drop(runtime);
    let hwm = own_peak_rss_kb();
    match result {
        Ok(bytes) => {
            eprintln!("BYTES {bytes}");
            eprintln!("VmHWM_KB {hwm}");
        }
        Err(e) => {
            eprintln!("EXTRACT_ERROR {:?}: {e}", e.kind());
            eprintln!("VmHWM_KB {hwm}");
            std::process::exit(3);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// measuring a child

// ---------------------------------------------------------------------------------------------------------------
// main

#[derive(Debug)]
struct Settings {
    layers: usize,
    layer_mib: u64,
    runs: usize,
    ours: String,
    skopeo: Option<String>,
    bomb: bool,
    quick: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("extract") {
        child_extract(&args[1..]);
        return;
    }
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    if flag("--help") || flag("-h") {
        println!(
            "usage: extract_bench [--quick] [--runs N] [--layers N] [--layer-mib M] [--ours tar|dir|null] \
             [--no-skopeo] [--no-bomb]"
        );
        return;
    }
    let quick = flag("--quick");
    let skopeo = if flag("--no-skopeo") { None } else { skopeo_on_path() };
    if skopeo.is_none() && !flag("--no-skopeo") {
        eprintln!("skopeo not found: only our extraction is measured (apt-get install -y skopeo)");
    }
    let settings = Settings {
        layers: value("--layers").map_or(if quick { 4 } else { 8 }, |v| v.parse().unwrap()),
        layer_mib: value("--layer-mib").map_or(if quick { 16 } else { 128 }, |v| v.parse().unwrap()),
        runs: value("--runs").map_or(1, |v| v.parse::<usize>().unwrap().max(1)),
        ours: value("--ours").unwrap_or_else(|| "dir".to_string()),
        skopeo,
        bomb: !flag("--no-bomb"),
        quick,
    };
    assert!(matches!(settings.ours.as_str(), "tar" | "dir" | "null"), "--ours takes tar, dir or null");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench(settings));
}

async fn bench(s: Settings) {
    let me = std::env::current_exe().unwrap().display().to_string();
    let ticks = clock_ticks();
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let work = tempfile::tempdir().unwrap();
    let host = registry.host();
    let pusher = RemoteClient::builder(&host).insecure(true).no_proxy().build().unwrap();

    eprintln!("generating {} layers of {} MiB ...", s.layers, s.layer_mib);
    let files_per_layer = usize::try_from(s.layer_mib * MIB).unwrap() / FILE_BYTES;
    let mut layers = Vec::new();
    for i in 0..s.layers {
        let mut g = TextGen::new(i as u64 + 1);
        let path = work.path().join(format!("layer{i}.tar.gz"));
        layers.push(write_layer(&path, files_per_layer.max(1), 6, |buf, n| g.fill(buf, n)));
    }
    let tar_bytes: u64 = layers.iter().map(|l| l.tar_bytes).sum();
    let gz_bytes: u64 = layers.iter().map(|l| l.size).sum();
    pusher.with_segment("bench/extract").push_image("v1", &image_of(&layers)).await.unwrap();
    for l in &layers {
        std::fs::remove_file(&l.path).unwrap();
    }
    let src = format!("{host}/bench/extract:v1");
    println!(
        "extract_bench: {} layers, {:.0} MiB of tar ({:.0} MiB gzip, {:.1}x), {} run(s), ours = `{}` mode; {}",
        s.layers,
        tar_bytes as f64 / MIB as f64,
        gz_bytes as f64 / MIB as f64,
        tar_bytes as f64 / gz_bytes as f64,
        s.runs,
        s.ours,
        s.skopeo.as_deref().map_or("no skopeo".to_string(), |b| format!("skopeo {}", skopeo_version(b))),
    );

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 0..s.runs {
        for k in 0..2 {
            if (k + run) % 2 == 0 {
                let out = work.path().join(format!("ours-{run}"));
                let m =
                    measure(&me, &["extract".into(), src.clone(), s.ours.clone(), out.display().to_string()], ticks)
                        .await;
                assert!(m.ok, "our extraction failed:\n{}", m.stderr);
                if s.ours == "tar" {
                    let len = std::fs::metadata(&out).unwrap().len();
                    assert!(len > tar_bytes * 99 / 100, "our tar has {len} bytes for {tar_bytes} of layers");
                }
                remove(&out);
                eprintln!("  ours   run {run}: {}", line(&m, tar_bytes));
                ours.push(m);
            } else if let Some(binary) = &s.skopeo {
                let m = skopeo_and_tar(binary, &src, work.path(), run, ticks).await;
                eprintln!("  skopeo run {run}: {}", line(&m, tar_bytes));
                theirs.push(m);
            }
        }
    }
    let bombs = if s.bomb { bomb(&pusher, &me, &host, work.path(), ticks).await } else { Vec::new() };
    report(&s, tar_bytes, &ours, &theirs, &bombs);
}

fn line(m: &Measure, bytes: u64) -> String {
    format!(
        "wall {:.2} s, {:.0} MiB/s, cpu {:.2} s, rss {:.1} MiB",
        m.wall.as_secs_f64(),
        bytes as f64 / MIB as f64 / m.wall.as_secs_f64(),
        m.cpu,
        m.rss_kb as f64 / 1024.0
    )
}

fn remove(path: &Path) {
    if path.is_dir() {
        std::fs::remove_dir_all(path).unwrap();
    } else if path.exists() {
        std::fs::remove_file(path).unwrap();
    }
}

/// `skopeo copy docker://SRC dir:D`, then `tar -xf` of each layer in manifest order into a fresh directory.
async fn skopeo_and_tar(binary: &str, src: &str, work: &Path, run: usize, ticks: f64) -> Measure {
    let dir = work.join(format!("skopeo-dir-{run}"));
    let out = work.join(format!("skopeo-out-{run}"));
    std::fs::create_dir_all(&out).unwrap();
    let args: Vec<String> = ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("docker://{src}"), format!("dir:{}", dir.display())])
        .collect();
    let copy = measure(binary, &args, ticks).await;
    assert!(copy.ok, "skopeo copy failed:\n{}", copy.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap();
            dir.join(digest.split_once(':').unwrap().1).display().to_string()
        })
        .collect();
    let mut tar_args = vec![
        "-c".to_string(),
        r#"out="$1"; shift; for f in "$@"; do tar -xf "$f" -C "$out" || exit 1; done"#.to_string(),
        "sh".to_string(),
        out.display().to_string(),
    ];
    tar_args.extend(files);
    let untar = measure("sh", &tar_args, ticks).await;
    assert!(untar.ok, "tar -x failed:\n{}", untar.stderr);
    remove(&dir);
    remove(&out);
    Measure {
        wall: copy.wall + untar.wall,
        cpu: copy.cpu + untar.cpu,
        rss_kb: copy.rss_kb.max(untar.rss_kb),
        ok: true,
        stderr: String::new(),
    }
}

/// Push the bomb (1 GiB of zeros in one file, gzip level 9) and extract it in `null` mode.
async fn bomb(pusher: &RemoteClient, me: &str, host: &str, work: &Path, ticks: f64) -> Vec<(String, Measure)> {
    eprintln!("generating the bomb (1 GiB of zeros, gzip -9) ...");
    let path = work.join("bomb.tar.gz");
    let layer = write_layer(&path, 256, 9, |buf, n| {
        buf.clear();
        buf.resize(n, 0);
    });
    eprintln!("  bomb layer: {} bytes of gzip for {} bytes of tar", layer.size, layer.tar_bytes);
    pusher.with_segment("bench/bomb").push_image("v1", &image_of(std::slice::from_ref(&layer))).await.unwrap();
    remove(&path);
    let mut out = Vec::new();
    // The default caps (the ratio cap ends it past 16 MiB), then the ratio cap off and a total cap of 768 MiB: the
    // zeros stream through, memory flat, until that cap.
    let runs: [(&str, &[&str]); 2] =
        [("default caps", &[]), ("ratio cap off, 768 MiB cap", &["--max-ratio", "0", "--max-bytes", "805306368"])];
    for (name, extra) in runs {
        let mut args = vec!["extract".to_string(), format!("{host}/bench/bomb:v1"), "null".into(), "-".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let m = measure(me, &args, ticks).await;
        let error = m.stderr.lines().find(|l| l.starts_with("EXTRACT_ERROR")).unwrap_or("no error");
        eprintln!("  bomb, {name}: {error}");
        out.push((name.to_string(), m));
    }
    out
}

fn report(s: &Settings, bytes: u64, ours: &[Measure], theirs: &[Measure], bombs: &[(String, Measure)]) {
    let summary = |runs: &[Measure]| {
        let wall = median(runs.iter().map(|m| m.wall.as_secs_f64()).collect());
        let cpu = median(runs.iter().map(|m| m.cpu).collect());
        let rss = median(runs.iter().map(|m| m.rss_kb as f64 / 1024.0).collect());
        (wall, cpu, rss)
    };
    println!();
    println!("| tool                     | wall (s) | MiB/s out | CPU (s) | peak RSS (MiB) |");
    println!("|--------------------------|---------:|----------:|--------:|---------------:|");
    let mib = bytes as f64 / MIB as f64;
    let ours_s = summary(ours);
    let name = format!("ours (extract, {})", s.ours);
    println!("| {name:<24} | {:>8.2} | {:>9.0} | {:>7.2} | {:>14.1} |", ours_s.0, mib / ours_s.0, ours_s.1, ours_s.2);
    let theirs_s = (!theirs.is_empty()).then(|| summary(theirs));
    if let Some(t) = theirs_s {
        println!(
            "| {:<24} | {:>8.2} | {:>9.0} | {:>7.2} | {:>14.1} |",
            "skopeo dir: + tar -x",
            t.0,
            mib / t.0,
            t.1,
            t.2
        );
    }
    println!();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    match theirs_s {
        Some(t) => println!(
            "{} faster than skopeo + tar: {:.2} s < {:.2} s ({:.2}x)",
            verdict(ours_s.0 < t.0),
            ours_s.0,
            t.0,
            t.0 / ours_s.0
        ),
        None => println!("SKIP faster than skopeo + tar: no skopeo"),
    }
    println!("{} peak RSS {:.1} MiB < 64 MiB", verdict(ours_s.2 < 64.0), ours_s.2);
    for (name, b) in bombs {
        let capped = !b.ok && b.stderr.contains("EXTRACT_ERROR") && b.stderr.contains("cap");
        println!(
            "{} bomb (1 GiB of zeros), {name}: ends in the decompression cap error ({:.2} s), peak RSS {:.1} MiB < 64 MiB",
            verdict(capped && b.rss_kb < 64 * 1024),
            b.wall.as_secs_f64(),
            b.rss_kb as f64 / 1024.0
        );
    }
    if s.ours != "dir" {
        println!("(ours wrote the flattened tar stream ({} mode), not a directory tree)", s.ours);
    }
    if s.quick {
        println!("(quick mode: smaller than the 1 GiB target; the verdicts are indicative only)");
    }
}
