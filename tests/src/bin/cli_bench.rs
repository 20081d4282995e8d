//! Everyday command benchmark: the `regcli` binary against `skopeo` doing the same thing, against one real
//! `docker-registry` on loopback.
//!
//! ```text
//! cargo build --release -p registry-cli
//! cargo run --release -p registry-tests --bin cli_bench [-- [--runs N] [--regcli PATH]]
//! ```
//!
//! The registry is seeded with `bench/app` (120 tags of one small image), `bench/multi:v1` (a three-platform
//! index) and `bench/big:v1` (4 layers of 16 MiB of deterministic incompressible bytes). Each operation runs as a
//! child process (see `registry_tests::bench::measure`: wall from spawn to exit, CPU of the command, peak RSS
//! polled every 2 ms), `regcli` and skopeo taking turns to go first; a copy goes into a fresh file or directory
//! each time. The table gives medians over `--runs` (default 5) and the ratio of the wall medians.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use registry_client::{index_of, Client, Image, ImageBuilder, Platform, RemoteClient};
use registry_tests::bench::{clock_ticks, measure, median, skopeo_on_path, skopeo_version, Measure};
use registry_tests::{AuthMode, DockerRegistry};

/// One operation: what regcli runs and what skopeo runs, given the registry host and a fresh output path.
struct Operation {
    name: &'static str,
    ours: fn(&str, &str) -> Vec<String>,
    theirs: fn(&str, &str) -> Vec<String>,
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn operations() -> Vec<Operation> {
    vec![
        Operation {
            name: "list 120 tags",
            ours: |h, _| strings(&["ls", &format!("{h}/bench/app"), "--insecure"]),
            theirs: |h, _| strings(&["list-tags", "--tls-verify=false", &format!("docker://{h}/bench/app")]),
        },
        Operation {
            name: "manifest (raw)",
            ours: |h, _| strings(&["manifest", &format!("{h}/bench/app:t000"), "--insecure"]),
            theirs: |h, _| {
                strings(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{h}/bench/app:t000")])
            },
        },
        Operation {
            name: "config (raw)",
            ours: |h, _| strings(&["config", &format!("{h}/bench/app:t000"), "--insecure"]),
            theirs: |h, _| {
                strings(&[
                    "inspect",
                    "--config",
                    "--raw",
                    "--tls-verify=false",
                    &format!("docker://{h}/bench/app:t000"),
                ])
            },
        },
        Operation {
            name: "inspect an index's image",
            ours: |h, _| {
                strings(&["inspect", &format!("{h}/bench/multi:v1"), "--platform", "linux/arm64", "--insecure"])
            },
            theirs: |h, _| {
                strings(&[
                    "inspect",
                    "--no-tags",
                    "--override-os",
                    "linux",
                    "--override-arch",
                    "arm64",
                    "--tls-verify=false",
                    &format!("docker://{h}/bench/multi:v1"),
                ])
            },
        },
        Operation {
            name: "pull 64 MiB to docker-archive",
            ours: |h, out| {
                strings(&[
                    "cp",
                    &format!("{h}/bench/big:v1"),
                    &format!("docker-archive:{out}:bench/big:v1"),
                    "--insecure",
                ])
            },
            theirs: |h, out| {
                strings(&[
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    &format!("docker://{h}/bench/big:v1"),
                    &format!("docker-archive:{out}:bench/big:v1"),
                ])
            },
        },
        Operation {
            name: "pull 64 MiB to oci layout",
            ours: |h, out| strings(&["cp", &format!("{h}/bench/big:v1"), &format!("oci:{out}:v1"), "--insecure"]),
            theirs: |h, out| {
                strings(&[
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    &format!("docker://{h}/bench/big:v1"),
                    &format!("oci:{out}:v1"),
                ])
            },
        },
    ]
}

/// A small image (one layer of `seed`'s bytes), of `platform`.
fn small(seed: u64, platform: Platform) -> Image {
    ImageBuilder::new().layer(mocks::seeded_bytes(seed, 4096).to_vec()).platform(platform).build().unwrap()
}

async fn seed(host: &str) {
    let root: std::sync::Arc<dyn Client> =
        std::sync::Arc::new(RemoteClient::builder(host).insecure(true).build().unwrap());
    let app = root.with_segment("bench/app");
    let image = small(1, Platform::new("linux", "amd64"));
    for i in 0..120 {
        app.push_image(&format!("t{i:03}"), &image).await.unwrap();
    }
    let images = vec![
        small(2, Platform::new("linux", "amd64")),
        small(3, Platform::new("linux", "arm64").with_variant("v8")),
        small(4, Platform::new("linux", "s390x")),
    ];
    let refs: Vec<&Image> = images.iter().collect();
    root.with_segment("bench/multi").push_index("v1", &index_of(&refs).unwrap(), &images).await.unwrap();
    let mut big = ImageBuilder::new().platform(Platform::new("linux", "amd64"));
    for seed in 10..14u64 {
        big = big.layer(mocks::seeded_bytes(seed, 16 << 20).to_vec());
    }
    root.with_segment("bench/big").push_image("v1", &big.build().unwrap()).await.unwrap();
}

fn row(name: &str, tool: &str, runs: &[Measure]) -> (f64, String) {
    let wall = median(runs.iter().map(|m| m.wall.as_secs_f64()).collect());
    let cpu = median(runs.iter().map(|m| m.cpu).collect());
    let rss = median(runs.iter().map(|m| m.rss_kb as f64 / 1024.0).collect());
    let failed = runs.iter().filter(|m| !m.ok).count();
    let note = if failed > 0 { format!("  ({failed} runs FAILED: {})", runs[0].stderr.trim()) } else { String::new() };
    (wall, format!("{name:<32} {tool:<8} {wall:>8.3} s {cpu:>8.3} s {rss:>8.1} MiB{note}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let runs: usize = value("--runs").map(|v| v.parse().expect("--runs N")).unwrap_or(5).max(1);
    let regcli = value("--regcli")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/regcli")));
    assert!(regcli.is_file(), "{} is missing: cargo build --release -p registry-cli", regcli.display());
    let regcli = regcli.display().to_string();
    let skopeo = skopeo_on_path().expect("skopeo is not on PATH: apt-get install skopeo");
    let registry = DockerRegistry::start(AuthMode::Anonymous);
    let host = registry.host();
    seed(&host).await;
    let ticks = clock_ticks();
    let scratch = tempfile::tempdir().unwrap();
    println!(
        "cli_bench: regcli ({regcli}) against skopeo {} on docker-registry at {host}; medians of {runs}",
        skopeo_version(&skopeo)
    );
    println!("{:<32} {:<8} {:>10} {:>10} {:>12}", "operation", "tool", "wall", "cpu", "peak RSS");
    let mut n = 0usize;
    for op in operations() {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..runs {
            for turn in 0..2 {
                n += 1;
                let out = scratch.path().join(format!("out-{n}")).display().to_string();
                if (run + turn) % 2 == 0 {
                    ours.push(measure(&regcli, &(op.ours)(&host, &out), ticks).await);
                } else {
                    theirs.push(measure(&skopeo, &(op.theirs)(&host, &out), ticks).await);
                }
                let _ = std::fs::remove_file(&out);
                let _ = std::fs::remove_dir_all(&out);
            }
        }
        let (our_wall, our_line) = row(op.name, "regcli", &ours);
        let (their_wall, their_line) = row("", "skopeo", &theirs);
        println!(
            "{our_line}\n{their_line}\n{:<32} ratio    {:>8.2}x (regcli wall / skopeo wall)",
            "",
            our_wall / their_wall
        );
    }
}
