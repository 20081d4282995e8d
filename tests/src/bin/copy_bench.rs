//! Copy benchmark: `RemoteClient` (`get_image` + `push_image`) against `skopeo copy`, between two real
//! `docker-registry` instances on loopback.
//!
//! ```text
//! cargo run --release -p registry-tests --bin copy_bench [-- [--quick] [--runs N] [--jobs N] [--one-put] [--no-skopeo] [--peer-oci-client PATH]]
//! ```
//!
//! The source registry is seeded with one image per scenario (layers of deterministic, incompressible bytes,
//! generated as they are sent, never held in memory). Each copy, ours or skopeo's, goes into a fresh repository
//! of a fresh target registry (so nothing is already there, and skopeo's blob-info cache cannot turn an upload
//! into a cross-repository mount), and runs as a child process wrapped in `sh`:
//! - wall time: from spawning to the end of the child;
//! - CPU seconds: user + system time of the copying process alone (the `cutime`/`cstime` that `sh` collected
//!   from it, read from `/proc/<sh>/stat` after it exited), not the registries';
//! - peak RSS: `VmHWM` of the copying process, which our copy reads from `/proc/self/status` as it ends (exact)
//!   and the bench polls every 2 ms for skopeo (a lower bound).
//!
//! Each figure is the median over the runs (default 3), the tools taking turns to go first. `--one-put` adds a row
//! `ours-put`: our copy uploading every blob in one streamed PUT (no chunks), `--jobs N` sets our blob concurrency.
//! `--peer-oci-client PATH` adds a row `oci-client`: the program `PATH SRC DST` built from `bench-peers/oci-client-copy`
//! (rust `oci-client` 0.18, every blob at once, `pull_blob_stream` piped into a one-PUT `push_blob_stream`; a crate
//! outside the workspace, `cargo build --release --manifest-path bench-peers/oci-client-copy/Cargo.toml`), and a
//! verdict per scenario on our wall against it. The table shows each wall median with its spread (min-max).
//! `--closing-put` adds a row `ours-close`: our copy with `TransferConfig::close_with_last_chunk` (the last chunk of
//! a chunked upload in the closing PUT); `--chunk-size BYTES` a row `ours-chunk`: our copy with that
//! `TransferConfig::chunk_size` (a reopenable source's chunks). `--only 64,GiB` keeps the scenarios whose name contains one of the words.
//! The child mode, `copy_bench copy SRC DST [--jobs N] [--monolithic-up-to BYTES] [--chunk-size BYTES] [--close-with-last-chunk]`, is the copy itself; `copy_bench seed HOST [--quick]`
//! pushes the scenarios' images to `HOST/bench/s<i>:v1` (to profile a copy by hand).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use registry_client::core::api::TransferConfig;
use registry_client::{Client, Image, ImageOptions, RemoteClient, TransferOptions};
use registry_tests::bench::{clock_ticks, measure, median, own_peak_rss_kb, skopeo_on_path, skopeo_version, Measure};
use registry_tests::generated::GeneratedLayer;
use registry_tests::{AuthMode, DockerRegistry};

const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------------------------------------------------------
// scenarios and targets

#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    layers: usize,
    layer_size: u64,
    target: Target,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    /// ours wall <= skopeo's and ours CPU <= half of skopeo's
    WallAndHalfCpu,
    /// ours wall <= 0.8 x skopeo's
    Wall80,
    /// ours peak RSS <= 64 MiB
    Rss64,
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    let s = |name, layers, layer_size, target| Scenario { name, layers, layer_size, target };
    if quick {
        vec![
            s("4 x 4 MiB", 4, 4 * MIB, Target::WallAndHalfCpu),
            s("20 x 64 KiB", 20, MIB / 16, Target::Wall80),
            s("1 x 64 MiB", 1, 64 * MIB, Target::Rss64),
        ]
    } else {
        vec![
            s("4 x 64 MiB", 4, 64 * MIB, Target::WallAndHalfCpu),
            s("20 x 1 MiB", 20, MIB, Target::Wall80),
            s("1 x 1 GiB", 1, 1024 * MIB, Target::Rss64),
        ]
    }
}

/// An image of `layers` generated layers of `size` bytes each, unique to `seed` (layer seeds `seed * 1000 + i`).
fn generated_image(seed: u64, layers: usize, size: u64) -> Image {
    let layers: Vec<GeneratedLayer> = (0..layers).map(|i| GeneratedLayer::new(seed * 1000 + i as u64, size)).collect();
    registry_tests::generated::generated_image(&seed.to_string(), &layers)
}

// ---------------------------------------------------------------------------------------------------------------
// the copy (child mode)

/// `copy SRC DST [--jobs N]`: SRC and DST are `host:port/repo:tag`.
fn child_copy(args: &[String]) {
    let (src, dst) = (&args[0], &args[1]);
    let mut options = TransferOptions::new();
    if let Some(i) = args.iter().position(|a| a == "--jobs") {
        options = options.max_concurrent_blobs(args[i + 1].parse().unwrap());
    }
    let mut blob = TransferConfig::default();
    if let Some(i) = args.iter().position(|a| a == "--monolithic-up-to") {
        blob = blob.monolithic_threshold(args[i + 1].parse().unwrap());
    }
    if let Some(i) = args.iter().position(|a| a == "--chunk-size") {
        blob = blob.chunk_size(args[i + 1].parse().unwrap()).held_chunk_size(TransferConfig::default().held_chunk_size);
    }
    if args.iter().any(|a| a == "--close-with-last-chunk") {
        blob = blob.close_with_last_chunk(true);
    }
    options = options.blob_config(blob);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (src_repo, src_tag) = src.rsplit_once(':').unwrap();
        let (dst_repo, dst_tag) = dst.rsplit_once(':').unwrap();
        let source = RemoteClient::builder(src_repo).insecure(true).no_proxy().build().unwrap();
        let target = RemoteClient::builder(dst_repo).insecure(true).no_proxy().transfer(options).build().unwrap();
        let image = source.get_image(src_tag, ImageOptions::default()).await.unwrap();
        target.push_image(dst_tag, &image).await.unwrap();
    });
    drop(runtime);
    // Exact peak RSS of this process, read as it ends (the parent cannot read it after the exit).
    eprintln!("VmHWM_KB {}", own_peak_rss_kb());
}

// ---------------------------------------------------------------------------------------------------------------
// measuring a child

#[derive(Debug, Clone, Copy)]
struct Summary {
    wall: f64,
    wall_min: f64,
    wall_max: f64,
    cpu: f64,
    rss_mib: f64,
}

fn summarise(runs: &[Measure]) -> Summary {
    Summary {
        wall: median(runs.iter().map(|m| m.wall.as_secs_f64()).collect()),
        wall_min: runs.iter().map(|m| m.wall.as_secs_f64()).fold(f64::INFINITY, f64::min),
        wall_max: runs.iter().map(|m| m.wall.as_secs_f64()).fold(f64::NEG_INFINITY, f64::max),
        cpu: median(runs.iter().map(|m| m.cpu).collect()),
        rss_mib: median(runs.iter().map(|m| m.rss_kb as f64 / 1024.0).collect()),
    }
}

/// Free space (bytes) of the filesystem holding `dir`, from `df -Pk`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().nth(1)?;
    line.split_whitespace().nth(3)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

// ---------------------------------------------------------------------------------------------------------------
// main

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("copy") {
        child_copy(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) == Some("seed") {
        let host = args.get(1).expect("seed HOST [--quick]").clone();
        let quick = args.iter().any(|a| a == "--quick");
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(seed(&host, &scenarios(quick)));
        return;
    }
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    if flag("--help") || flag("-h") {
        println!(
            "usage: copy_bench [--quick] [--runs N] [--jobs N] [--one-put] [--no-skopeo] [--peer-oci-client PATH] [--closing-put] [--chunk-size BYTES] [--only NAME,..]"
        );
        return;
    }
    let quick = flag("--quick");
    let runs: usize = value("--runs").map_or(3, |v| v.parse().unwrap());
    let jobs = value("--jobs");
    let skopeo = if flag("--no-skopeo") { None } else { skopeo_on_path() };
    if skopeo.is_none() && !flag("--no-skopeo") {
        eprintln!("skopeo not found: only our copy is measured (apt-get install -y skopeo)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let peer = value("--peer-oci-client");
    if let Some(p) = &peer {
        assert!(
            Path::new(p).is_file(),
            "--peer-oci-client {p}: no such file (cargo build --release --manifest-path bench-peers/oci-client-copy/Cargo.toml)"
        );
    }
    runtime.block_on(bench(
        quick,
        runs.max(1),
        jobs,
        flag("--one-put"),
        skopeo,
        peer,
        flag("--closing-put"),
        value("--only"),
        value("--chunk-size"),
    ));
}

#[allow(clippy::too_many_arguments)]
async fn bench(
    quick: bool,
    runs: usize,
    jobs: Option<String>,
    one_put: bool,
    skopeo: Option<String>,
    peer: Option<String>,
    closing_put: bool,
    only: Option<String>,
    chunk: Option<String>,
) {
    let me = std::env::current_exe().unwrap().display().to_string();
    let ticks = clock_ticks();
    let mut scenarios = scenarios(quick);
    if let Some(only) = &only {
        scenarios.retain(|s| only.split(',').any(|o| s.name.contains(o.trim())));
    }
    let source = DockerRegistry::start(AuthMode::Anonymous);
    let largest: u64 = scenarios.iter().map(|s| s.layers as u64 * s.layer_size).max().unwrap_or(0);
    let total: u64 = scenarios.iter().map(|s| s.layers as u64 * s.layer_size).sum();
    // The source holds every image; a target holds one copy (plus its upload in progress) at a time.
    let need = total + 2 * largest + 256 * MIB;
    if let Some(free) = free_bytes(source.dir()) {
        assert!(
            free > need,
            "{} has {} MiB free, the bench needs about {} MiB",
            source.dir().display(),
            free / MIB,
            need / MIB
        );
    }
    println!(
        "copy_bench: {} mode, {runs} run(s) per tool, median figures; {}; clock {ticks} Hz",
        if quick { "quick" } else { "full" },
        skopeo.as_deref().map_or("no skopeo".to_string(), |s| format!("skopeo {}", skopeo_version(s))),
    );
    eprintln!("seeding {} images at {} ...", scenarios.len(), source.host());
    seed(&source.host(), &scenarios).await;

    let mut tools = vec![Tool { name: "ours", kind: ToolKind::Ours(Vec::new()) }];
    if one_put {
        let extra = vec!["--monolithic-up-to".to_string(), u64::MAX.to_string()];
        tools.push(Tool { name: "ours-put", kind: ToolKind::Ours(extra) });
    }
    if let Some(bytes) = &chunk {
        let extra = vec!["--chunk-size".to_string(), bytes.clone()];
        tools.push(Tool { name: "ours-chunk", kind: ToolKind::Ours(extra) });
    }
    if closing_put {
        tools.push(Tool { name: "ours-close", kind: ToolKind::Ours(vec!["--close-with-last-chunk".to_string()]) });
    }
    if let Some(binary) = &skopeo {
        tools.push(Tool { name: "skopeo", kind: ToolKind::Skopeo(binary.clone()) });
    }
    if let Some(binary) = &peer {
        tools.push(Tool { name: "oci-client", kind: ToolKind::Peer(binary.clone()) });
    }
    let mut table: Vec<(Scenario, &str, Summary)> = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let src = format!("{}/bench/s{i}:v1", source.host());
        let mut results: Vec<Vec<Measure>> = vec![Vec::new(); tools.len()];
        for run in 0..runs {
            // Rotate which tool goes first.
            for k in 0..tools.len() {
                let t = (k + run) % tools.len();
                let tool = &tools[t];
                let target = DockerRegistry::start(AuthMode::Anonymous);
                let dst = format!("{}/copy/{}-s{i}-r{run}:v1", target.host(), tool.name);
                let m = match &tool.kind {
                    ToolKind::Ours(extra) => {
                        let mut a = vec!["copy".to_string(), src.clone(), dst.clone()];
                        if let Some(j) = &jobs {
                            a.extend(["--jobs".to_string(), j.clone()]);
                        }
                        a.extend(extra.iter().cloned());
                        measure(&me, &a, ticks).await
                    }
                    ToolKind::Peer(binary) => measure(binary, &[src.clone(), dst.clone()], ticks).await,
                    ToolKind::Skopeo(binary) => {
                        let a: Vec<String> = [
                            "--insecure-policy",
                            "copy",
                            "--quiet",
                            "--src-tls-verify=false",
                            "--dest-tls-verify=false",
                            "--preserve-digests",
                        ]
                        .iter()
                        .map(|s| s.to_string())
                        .chain([format!("docker://{src}"), format!("docker://{dst}")])
                        .collect();
                        measure(binary, &a, ticks).await
                    }
                };
                assert!(m.ok, "{} copying {src} to {dst} failed:\n{}", tool.name, m.stderr);
                verify_copy(&source, &target, i, &dst).await;
                eprintln!(
                    "  {:<12} {:<9} run {run}: wall {:.3} s, cpu {:.2} s, rss {:.1} MiB",
                    s.name,
                    tool.name,
                    m.wall.as_secs_f64(),
                    m.cpu,
                    m.rss_kb as f64 / 1024.0
                );
                results[t].push(m);
            }
        }
        for (tool, runs) in tools.iter().zip(&results) {
            table.push((*s, tool.name, summarise(runs)));
        }
    }
    print_table(&table, quick);
}

/// A copying program.
#[derive(Debug)]
struct Tool {
    name: &'static str,
    kind: ToolKind,
}

#[derive(Debug)]
enum ToolKind {
    /// This binary's `copy` mode, with extra arguments.
    Ours(Vec<String>),
    /// `skopeo copy`, at this path.
    Skopeo(String),
    /// A peer program `PATH SRC DST` (`bench-peers/oci-client-copy`), at this path.
    Peer(String),
}

/// Push the image of each scenario `i` to `host/bench/s<i>:v1`.
async fn seed(host: &str, scenarios: &[Scenario]) {
    let seeder = RemoteClient::builder(host).insecure(true).no_proxy().build().unwrap();
    for (i, s) in scenarios.iter().enumerate() {
        let image = generated_image(i as u64 + 1, s.layers, s.layer_size);
        seeder.with_segment("bench").with_segment(&format!("s{i}")).push_image("v1", &image).await.unwrap();
    }
}

/// The target has the same manifest as the source.
async fn verify_copy(source: &DockerRegistry, target: &DockerRegistry, i: usize, dst: &str) {
    let src = RemoteClient::builder(format!("{}/bench/s{i}", source.host())).insecure(true).no_proxy().build().unwrap();
    let (repo, tag) = dst.rsplit_once(':').unwrap();
    let dst_client = RemoteClient::builder(repo).insecure(true).no_proxy().build().unwrap();
    assert_eq!(target.host(), dst_client.get_registry().split('/').next().unwrap());
    let want = src.get_digest("v1").await.unwrap();
    let got = dst_client.get_digest(tag).await.unwrap();
    assert_eq!(got, want, "copy to {dst} has another manifest");
}

fn print_table(table: &[(Scenario, &str, Summary)], quick: bool) {
    println!();
    println!("| scenario     | tool       | wall (s) | wall min-max (s) | CPU (s) | peak RSS (MiB) |");
    println!("|--------------|------------|---------:|-----------------:|--------:|---------------:|");
    for (s, tool, m) in table {
        println!(
            "| {:<12} | {:<10} | {:>8.3} | {:>16} | {:>7.2} | {:>14.1} |",
            s.name,
            tool,
            m.wall,
            format!("{:.3}-{:.3}", m.wall_min, m.wall_max),
            m.cpu,
            m.rss_mib
        );
    }
    println!();
    let find = |name: &str, tool: &str| table.iter().find(|(s, t, _)| s.name == name && *t == tool).map(|r| r.2);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    for (s, _, _) in table.iter().filter(|(_, t, _)| *t == "ours") {
        let ours = find(s.name, "ours").unwrap();
        let theirs = find(s.name, "skopeo");
        match (s.target, theirs) {
            (Target::WallAndHalfCpu, Some(t)) => {
                println!(
                    "{} {}: wall {:.3} s <= skopeo {:.3} s",
                    verdict(ours.wall <= t.wall),
                    s.name,
                    ours.wall,
                    t.wall
                );
                println!(
                    "{} {}: CPU {:.2} s <= half of skopeo's {:.2} s ({:.2} s)",
                    verdict(ours.cpu <= t.cpu / 2.0),
                    s.name,
                    ours.cpu,
                    t.cpu,
                    t.cpu / 2.0
                );
            }
            (Target::Wall80, Some(t)) => println!(
                "{} {}: wall {:.3} s <= 0.8 x skopeo {:.3} s ({:.3} s)",
                verdict(ours.wall <= 0.8 * t.wall),
                s.name,
                ours.wall,
                t.wall,
                0.8 * t.wall
            ),
            (Target::Rss64, _) => {
                println!("{} {}: peak RSS {:.1} MiB <= 64 MiB", verdict(ours.rss_mib <= 64.0), s.name, ours.rss_mib)
            }
            (_, None) => println!("SKIP {}: no skopeo to compare with", s.name),
        }
        if let Some(p) = find(s.name, "oci-client") {
            println!(
                "{} {}: wall {:.3} s <= oci-client {:.3} s (ratio {:.2})",
                verdict(ours.wall <= p.wall),
                s.name,
                ours.wall,
                p.wall,
                ours.wall / p.wall
            );
        }
    }
    if quick {
        println!("(quick mode: smaller sizes than the issue's targets; the verdicts are indicative only)");
    }
}
