//! Sync benchmark: `regcli sync --config spec.yaml` (ours, the release binary of `registry-cli`) against
//! `skopeo sync --src docker|yaml --dest docker`, between two real `docker-registry` instances on loopback.
//!
//! ```text
//! cargo build --release -p registry-cli && cargo run --release -p registry-tests --bin sync_bench [-- [--quick] [--runs N] [--regcli PATH] [--no-skopeo] [--only a|b]]
//! ```
//!
//! Scenarios (sizes of the full run; `--quick` makes them smaller and runs once):
//! - (a) `a/app`: 30 tags over 4 shared base layers of 4 MiB plus one unique 1 MiB layer each;
//! - (b) `b/r0` .. `b/r9`: 500 images (50 tags per repository), 10 layers each, 6 of them shared by all (256 KiB)
//!   and 4 unique (16 KiB): memory and request counts, and cross-repository mounts.
//!
//! Layers are deterministic incompressible bytes, generated as they are sent. Each tool syncs into a fresh target
//! registry (cold: nothing there), then again into the same one (warm: everything there); targets are
//! `TARGET/mirror/<last path element>:<tag>` for both (skopeo's layout without `--scoped`; ours by a repository
//! entry for (a) and a prefix entry, by the catalog, for (b)), and every target tag is checked against the source's
//! digest after every run. Each sync runs as a child process wrapped in `sh` (see `registry_tests::bench::measure`):
//! wall from spawn to exit, CPU = user + system of the syncing process, peak RSS = its `VmHWM` polled every 2 ms.
//! Requests are counted from the registries' access logs (one line per request), blob uploads per shared layer
//! from the target's log (a `PUT`, or a monolithic `POST`, carrying `digest=` and answered 201).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use registry_client::{Client, RemoteClient};
use registry_tests::bench::{clock_ticks, measure, median, skopeo_on_path, skopeo_version, Measure};
use registry_tests::generated::{generated_image, GeneratedLayer};
use registry_tests::DockerRegistry;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------------------------------------------------------
// scenarios

/// One scenario: repositories of tags over shared and unique layers.
#[derive(Debug)]
struct Scenario {
    key: &'static str,
    name: String,
    /// Source prefix (`a`, `b`): repositories are `<prefix>/<repo>`.
    prefix: &'static str,
    /// Repository names below the prefix, each with its tags.
    repos: Vec<(String, Vec<String>)>,
    shared: Vec<GeneratedLayer>,
    unique_layers: usize,
    unique_size: u64,
    /// Whether ours takes the whole prefix (by the catalog) instead of one entry per repository.
    by_prefix: bool,
}

impl Scenario {
    fn images(&self) -> usize {
        self.repos.iter().map(|(_, t)| t.len()).sum()
    }

    /// The layers of image number `n` (shared first, then its own).
    fn layers(&self, n: usize) -> Vec<GeneratedLayer> {
        let mut layers = self.shared.clone();
        for u in 0..self.unique_layers {
            let seed = (self.key.as_bytes()[0] as u64) << 40 | (n as u64) << 8 | u as u64;
            layers.push(GeneratedLayer::new(seed, self.unique_size));
        }
        layers
    }
}

fn scenario_a(quick: bool) -> Scenario {
    let (tags, base, unique) = if quick { (6, MIB, 256 * KIB) } else { (30, 4 * MIB, MIB) };
    Scenario {
        key: "a",
        name: format!("(a) {tags} tags, 4 x {} shared + 1 x {} each", size(base), size(unique)),
        prefix: "a",
        repos: vec![("app".to_string(), (0..tags).map(|i| format!("v1.{i}")).collect())],
        shared: (0..4).map(|i| GeneratedLayer::new(0xA000 + i, base)).collect(),
        unique_layers: 1,
        unique_size: unique,
        by_prefix: false,
    }
}

fn scenario_b(quick: bool) -> Scenario {
    let (repos, per_repo) = if quick { (4, 10) } else { (10, 50) };
    Scenario {
        key: "b",
        name: format!("(b) {} images x 10 layers (6 shared) in {repos} repos", repos * per_repo),
        prefix: "b",
        repos: (0..repos).map(|r| (format!("r{r}"), (0..per_repo).map(|i| format!("t{i}")).collect())).collect(),
        shared: (0..6).map(|i| GeneratedLayer::new(0xB000 + i, 256 * KIB)).collect(),
        unique_layers: 4,
        unique_size: 16 * KIB,
        by_prefix: true,
    }
}

fn size(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// Push every image of `s` to `host`.
async fn seed(host: &str, s: &Scenario) {
    let seeder = RemoteClient::builder(host).insecure(true).no_proxy().build().unwrap();
    let mut jobs = Vec::new();
    let mut n = 0;
    for (repo, tags) in &s.repos {
        for tag in tags {
            jobs.push((format!("{}/{repo}", s.prefix), tag.clone(), n));
            n += 1;
        }
    }
    // The first image alone (the shared layers go up once), then the others 8 at a time.
    let first = jobs.remove(0);
    let push = |(repo, tag, n): (String, String, usize)| {
        let client = seeder.with_segment(&repo);
        let image = generated_image(&format!("{}-{n}", s.key), &s.layers(n));
        async move { client.push_image(&tag, &image).await.unwrap() }
    };
    push(first).await;
    futures::stream::iter(jobs).map(push).buffer_unordered(8).collect::<Vec<_>>().await;
}

// ---------------------------------------------------------------------------------------------------------------
// the tools

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Ours,
    Skopeo,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Ours => "ours",
            Tool::Skopeo => "skopeo",
        }
    }
}

/// Write the files a sync of `s` from `source` to `target` needs into `dir`; the command line of `tool`.
fn command(tool: Tool, s: &Scenario, source: &str, target: &str, dir: &Path) -> Vec<String> {
    match tool {
        Tool::Ours => {
            let mut spec = format!(
                "registries:\n  \"{source}\": {{ insecure: true }}\n  \"{target}\": {{ insecure: true }}\nsync:\n"
            );
            if s.by_prefix {
                spec.push_str(&format!("  - {{ source: \"{source}/{}/\", target: \"{target}/mirror/\" }}\n", s.prefix));
            } else {
                for (repo, _) in &s.repos {
                    spec.push_str(&format!(
                        "  - {{ source: \"{source}/{}/{repo}\", target: \"{target}/mirror/{repo}\" }}\n",
                        s.prefix
                    ));
                }
            }
            let path = dir.join(format!("sync-{}.yaml", s.key));
            std::fs::write(&path, spec).unwrap();
            ["--progress", "never", "sync", "--config"]
                .iter()
                .map(|a| a.to_string())
                .chain([path.display().to_string()])
                .collect()
        }
        Tool::Skopeo => {
            let mut args: Vec<String> = [
                "--insecure-policy",
                "sync",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--dest",
                "docker",
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            if s.repos.len() == 1 {
                args.extend(["--src".into(), "docker".into(), format!("{source}/{}/{}", s.prefix, s.repos[0].0)]);
            } else {
                // One run over every repository: a YAML source (skopeo has no catalog listing).
                let mut yaml = format!("\"{source}\":\n  tls-verify: false\n  images-by-tag-regex:\n");
                for (repo, _) in &s.repos {
                    yaml.push_str(&format!("    {}/{repo}: \".*\"\n", s.prefix));
                }
                let path = dir.join(format!("skopeo-{}.yaml", s.key));
                std::fs::write(&path, yaml).unwrap();
                args.extend(["--src".into(), "yaml".into(), path.display().to_string()]);
            }
            args.push(format!("{target}/mirror"));
            args
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// access logs

/// One request of an access log line (`IP - - [time] "METHOD URI HTTP/1.1" STATUS SIZE ...`).
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    uri: String,
    status: u16,
}

fn parse_access_line(line: &str) -> Option<Request> {
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut parts = request.split(' ');
    let (method, uri, proto) = (parts.next()?, parts.next()?, parts.next()?);
    if !proto.starts_with("HTTP/") {
        return None;
    }
    let status = rest.split(' ').next()?.parse().ok()?;
    Some(Request { method: method.to_string(), uri: uri.to_string(), status })
}

/// The requests of a registry's access log from line `from` on, and the log's line count.
fn requests_since(registry: &DockerRegistry, from: usize) -> (Vec<Request>, usize) {
    let logs = registry.logs();
    let lines: Vec<&str> = logs.lines().collect();
    let requests = lines.iter().skip(from).filter_map(|l| parse_access_line(l)).collect();
    (requests, lines.len())
}

/// The `digest=` query value of an upload request's URI (`%3A` decoded), if any.
fn upload_digest(uri: &str) -> Option<String> {
    let (path, query) = uri.split_once('?')?;
    if !path.contains("/blobs/uploads/") {
        return None;
    }
    query.split('&').find_map(|kv| kv.strip_prefix("digest=")).map(|d| d.replace("%3A", ":").replace("%3a", ":"))
}

/// Blob uploads completed (201) per digest: `PUT .../blobs/uploads/<id>?digest=` or a monolithic `POST` with it.
fn uploads(requests: &[Request]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in requests.iter().filter(|r| r.status == 201 && (r.method == "PUT" || r.method == "POST")) {
        if let Some(d) = upload_digest(&r.uri) {
            *out.entry(d).or_insert(0) += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// one measured sync

/// A measured sync with what the registries saw.
#[derive(Debug)]
struct Run {
    m: Measure,
    target_requests: usize,
    source_requests: usize,
    /// Uploads of each shared layer (in the scenario's order).
    shared_uploads: Vec<usize>,
    /// Uploads of any blob.
    all_uploads: usize,
}

struct Setup<'a> {
    source: &'a DockerRegistry,
    ticks: f64,
    regcli: &'a str,
    skopeo: Option<&'a str>,
    dir: &'a Path,
}

async fn sync_once(setup: &Setup<'_>, tool: Tool, s: &Scenario, target: &DockerRegistry) -> Run {
    let args = command(tool, s, &setup.source.host(), &target.host(), setup.dir);
    let (_, source_from) = requests_since(setup.source, usize::MAX);
    let (_, target_from) = requests_since(target, usize::MAX);
    let program = match tool {
        Tool::Ours => setup.regcli,
        Tool::Skopeo => setup.skopeo.unwrap(),
    };
    let m = measure(program, &args, setup.ticks).await;
    assert!(m.ok, "{} sync of {} failed:\n{}", tool.name(), s.name, tail(&m.stderr, 40));
    let (source_requests, _) = requests_since(setup.source, source_from);
    let (target_requests, _) = requests_since(target, target_from);
    let up = uploads(&target_requests);
    let shared_uploads = s.shared.iter().map(|l| up.get(&l.digest.to_string()).copied().unwrap_or(0)).collect();
    verify(setup.source, target, s).await;
    Run {
        target_requests: target_requests.len(),
        source_requests: source_requests.len(),
        shared_uploads,
        all_uploads: up.values().sum(),
        m,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Every tag of `s` is at `target/mirror/<repo>:<tag>` with the source's digest.
async fn verify(source: &DockerRegistry, target: &DockerRegistry, s: &Scenario) {
    let src = RemoteClient::builder(source.host()).insecure(true).no_proxy().build().unwrap();
    let dst = RemoteClient::builder(target.host()).insecure(true).no_proxy().build().unwrap();
    let mut checks = Vec::new();
    for (repo, tags) in &s.repos {
        for tag in tags {
            checks.push((repo.clone(), tag.clone()));
        }
    }
    let src = &src;
    let dst = &dst;
    let mismatches: Vec<String> = futures::stream::iter(checks)
        .map(|(repo, tag)| async move {
            let want = src.with_segment(&format!("{}/{repo}", s.prefix)).get_digest(&tag).await.unwrap();
            let got = dst.with_segment(&format!("mirror/{repo}")).get_digest(&tag).await;
            match got {
                Ok(d) if d == want => None,
                Ok(d) => Some(format!("mirror/{repo}:{tag} is {d}, source {want}")),
                Err(e) => Some(format!("mirror/{repo}:{tag}: {e}")),
            }
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    assert!(
        mismatches.is_empty(),
        "{} target tags differ from the source, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(3)]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// main

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned());
    if flag("--help") || flag("-h") {
        println!("usage: sync_bench [--quick] [--runs N] [--regcli PATH] [--no-skopeo] [--only a|b]");
        return;
    }
    let quick = flag("--quick");
    let runs: usize = value("--runs").map_or(if quick { 1 } else { 3 }, |v| v.parse().expect("--runs N"));
    let regcli = value("--regcli").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().unwrap().parent().unwrap().join(format!("regcli{}", std::env::consts::EXE_SUFFIX))
    });
    assert!(
        regcli.is_file(),
        "{} not found: build it first (cargo build --release -p registry-cli) or name it with --regcli PATH",
        regcli.display()
    );
    if let Some(stale) = newer_source(&regcli) {
        eprintln!(
            "warning: {} is older than {}: cargo build --release -p registry-cli measures the current code",
            regcli.display(),
            stale.display()
        );
    }
    let skopeo = if flag("--no-skopeo") { None } else { skopeo_on_path() };
    assert!(
        skopeo.is_some() || flag("--no-skopeo"),
        "skopeo not found (apt-get install -y skopeo), or run with --no-skopeo"
    );
    let only = value("--only");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench(quick, runs.max(1), &regcli.display().to_string(), skopeo.as_deref(), only.as_deref()));
}

/// A source file of the crates `regcli` is built from that changed after `binary` was built, if any (the
/// workspace found from this crate's manifest directory at build time; nothing when it is not there).
fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let mut dirs: Vec<PathBuf> =
        ["registry-cli/src", "registry-client/src", "registry-core/src"].iter().map(|d| root.join(d)).collect();
    // Bounded: a source tree of a few hundred files.
    for _ in 0..10_000 {
        let dir = dirs.pop()?;
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > built) {
                return Some(path);
            }
        }
    }
    None
}

async fn bench(quick: bool, runs: usize, regcli: &str, skopeo: Option<&str>, only: Option<&str>) {
    let ticks = clock_ticks();
    let dir = tempfile::tempdir().unwrap();
    let mut scenarios = vec![scenario_a(quick), scenario_b(quick)];
    scenarios.retain(|s| only.is_none_or(|o| o == s.key));
    println!(
        "sync_bench: {} mode, {runs} run(s) per tool, median figures (min-max); {}; regcli {regcli}; clock {ticks} Hz",
        if quick { "quick" } else { "full" },
        skopeo.map_or("no skopeo".to_string(), |s| format!("skopeo {}", skopeo_version(s))),
    );
    let source = DockerRegistry::builder().access_log(true).start();
    for s in &scenarios {
        eprintln!("seeding {}: {} images at {} ...", s.name, s.images(), source.host());
        seed(&source.host(), s).await;
    }
    let setup = Setup { source: &source, ticks, regcli, skopeo, dir: dir.path() };
    let mut tools = vec![Tool::Ours];
    if skopeo.is_some() {
        tools.push(Tool::Skopeo);
    }
    let mut verdicts = Vec::new();
    for s in &scenarios {
        // results[tool][0 = cold, 1 = warm]
        let mut results: Vec<[Vec<Run>; 2]> = tools.iter().map(|_| [Vec::new(), Vec::new()]).collect();
        for run in 0..runs {
            for k in 0..tools.len() {
                let t = (k + run) % tools.len();
                let tool = tools[t];
                let target = DockerRegistry::builder().access_log(true).start();
                for (phase, label) in ["cold", "warm"].iter().enumerate() {
                    let r = sync_once(&setup, tool, s, &target).await;
                    eprintln!(
                        "  {} {:<6} {label} run {run}: wall {:.3} s, cpu {:.2} s, rss {:.1} MiB, requests target {} source {}, uploads {}",
                        s.key,
                        tool.name(),
                        r.m.wall.as_secs_f64(),
                        r.m.cpu,
                        r.m.rss_kb as f64 / 1024.0,
                        r.target_requests,
                        r.source_requests,
                        r.all_uploads
                    );
                    results[t][phase].push(r);
                }
            }
        }
        print_table(s, &tools, &results);
        verdicts.extend(goals(s, &tools, &results));
    }
    println!();
    for v in &verdicts {
        println!("{v}");
    }
    if quick {
        println!("(quick mode: smaller sizes than the issue's, one run; the verdicts are indicative only)");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// figures

fn stat(v: Vec<f64>) -> (f64, f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(v), min, max)
}

fn wall(runs: &[Run]) -> f64 {
    median(runs.iter().map(|r| r.m.wall.as_secs_f64()).collect())
}

fn rss_mib(runs: &[Run]) -> f64 {
    median(runs.iter().map(|r| r.m.rss_kb as f64 / 1024.0).collect())
}

/// `lo-hi` of the uploads of the shared layers over all runs (`1` when every shared layer went up once each time).
fn shared_range(runs: &[Run]) -> String {
    let all: Vec<usize> = runs.iter().flat_map(|r| r.shared_uploads.iter().copied()).collect();
    let (lo, hi) = (all.iter().min().copied().unwrap_or(0), all.iter().max().copied().unwrap_or(0));
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

fn print_table(s: &Scenario, tools: &[Tool], results: &[[Vec<Run>; 2]]) {
    println!();
    println!("{}", s.name);
    println!("| phase | tool   | wall (s), median (min-max) | CPU (s) | peak RSS (MiB) | requests target | requests source | uploads | uploads per shared layer |");
    println!("|-------|--------|---------------------------:|--------:|---------------:|----------------:|----------------:|--------:|-------------------------:|");
    for (phase, label) in ["cold", "warm"].iter().enumerate() {
        for (t, tool) in tools.iter().enumerate() {
            let runs = &results[t][phase];
            let (w, lo, hi) = stat(runs.iter().map(|r| r.m.wall.as_secs_f64()).collect());
            let cpu = median(runs.iter().map(|r| r.m.cpu).collect());
            let med = |f: fn(&Run) -> usize| median(runs.iter().map(|r| f(r) as f64).collect());
            println!(
                "| {label:<5} | {:<6} | {:>10.3} ({:.3}-{:.3}) | {:>7.2} | {:>14.1} | {:>15.0} | {:>15.0} | {:>7.0} | {:>24} |",
                tool.name(),
                w,
                lo,
                hi,
                cpu,
                rss_mib(runs),
                med(|r| r.target_requests),
                med(|r| r.source_requests),
                med(|r| r.all_uploads),
                shared_range(runs)
            );
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn goals(s: &Scenario, tools: &[Tool], results: &[[Vec<Run>; 2]]) -> Vec<String> {
    let ours = &results[0];
    let skopeo = tools.iter().position(|t| *t == Tool::Skopeo).map(|i| &results[i]);
    let mut out = Vec::new();
    let once = ours[0].iter().all(|r| r.shared_uploads.iter().all(|&n| n == 1));
    out.push(format!(
        "{} {}: each shared layer uploaded once by ours, cold (uploads per shared layer: {})",
        verdict(once),
        s.key,
        shared_range(&ours[0])
    ));
    let none = ours[1].iter().all(|r| r.all_uploads == 0);
    out.push(format!("{} {}: no blob uploaded by ours, warm", verdict(none), s.key));
    for (phase, label, factor) in [(0, "cold", 0.33), (1, "warm", 0.25)] {
        let Some(sk) = skopeo else {
            out.push(format!("SKIP {} {label}: no skopeo to compare with", s.key));
            continue;
        };
        let (o, k) = (wall(&ours[phase]), wall(&sk[phase]));
        // The wall goals are the issue's for (a); (b) is for memory and requests, its ratios are shown.
        let line = format!(
            "{} {label}: wall {o:.3} s <= {factor} x skopeo {k:.3} s ({:.3} s); ratio {:.2}",
            s.key,
            factor * k,
            o / k
        );
        if s.key == "a" {
            out.push(format!("{} {line}", verdict(o <= factor * k)));
        } else {
            out.push(format!("INFO {line}"));
        }
    }
    if s.key == "b" {
        let r = rss_mib(&ours[0]).max(rss_mib(&ours[1]));
        out.push(format!("{} b: peak RSS of ours {r:.1} MiB <= 64 MiB", verdict(r <= 64.0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_and_uploads() {
        let put = r#"127.0.0.1 - - [29/Nov/2026:17:00:00 +0000] "PUT /v2/mirror/app/blobs/uploads/0f3a?_state=x&digest=sha256%3Aabc HTTP/1.1" 201 0 "" "regcli""#;
        let head = r#"127.0.0.1 - - [29/Nov/2026:17:00:00 +0000] "HEAD /v2/mirror/app/blobs/sha256:abc HTTP/1.1" 200 0 "" "skopeo""#;
        let mount = r#"127.0.0.1 - - [29/Nov/2026:17:00:00 +0000] "POST /v2/mirror/r1/blobs/uploads/?mount=sha256%3Aabc&from=mirror%2Fr0 HTTP/1.1" 201 0 "" "x""#;
        let requests: Vec<Request> =
            [put, head, mount, "time=x level=warning msg=y"].iter().filter_map(|l| parse_access_line(l)).collect();
        assert_eq!(requests.len(), 3);
        assert_eq!(
            requests[1],
            Request { method: "HEAD".into(), uri: "/v2/mirror/app/blobs/sha256:abc".into(), status: 200 }
        );
        let up = uploads(&requests);
        assert_eq!(up.get("sha256:abc"), Some(&1));
        assert_eq!(up.len(), 1);
    }
}
