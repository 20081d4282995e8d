//! What the benchmark binaries (`copy_bench`, `extract_bench`) share: running a command as a measured child
//! process (wall time, CPU time, peak RSS), medians, and finding skopeo, the peer they compare against.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// One measured run of a command.
#[derive(Debug, Clone)]
pub struct Measure {
    /// From spawn to exit.
    pub wall: Duration,
    /// User + system CPU time of the command (its own and its waited-for children's), seconds.
    pub cpu: f64,
    /// Peak resident set (`VmHWM`), KiB: the highest polled value, or the `VmHWM_KB <n>` line the command printed
    /// on stderr about itself, whichever is higher.
    pub rss_kb: u64,
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its stderr.
    pub stderr: String,
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Fields of `/proc/<pid>/stat` after the command name (which may hold spaces): index 0 is field 3 (`state`).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default()
}

/// This process's own peak resident set (`VmHWM` of `/proc/self/status`), KiB; 0 when it cannot be read. A
/// measured child prints it on stderr as `VmHWM_KB <n>` just before it exits, when the parent can no longer read it.
pub fn own_peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| status_kb(&s, "VmHWM:")).unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when it cannot be read): the unit of `/proc` CPU times.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Run `program args` under `sh`, which starts it in the background, prints its pid, waits for it, then prints its
/// own `/proc` stat (whose `cutime`/`cstime` are then the program's CPU times) and its exit status. Polls the
/// program's VmHWM every 2 ms. Proxy variables are removed: the benchmarks talk to loopback registries only.
/// `ticks` is [`clock_ticks`].
///
/// # Panics
/// When `sh` cannot be started or does not print what the script says (a benchmark, not library code).
#[allow(clippy::unwrap_used)]
pub async fn measure(program: &str, args: &[String], ticks: f64) -> Measure {
    let script = r#""$@" >/dev/null 2>"$ERRFILE" & pid=$!; echo "PID $pid"; wait $pid; s=$?; echo "STAT $(cat /proc/$$/stat)"; echo "EXIT $s""#;
    let err_file = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("bench")
        .arg(program)
        .args(args)
        .env("ERRFILE", err_file.path())
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).await.unwrap();
    let pid: u32 = first.trim().strip_prefix("PID ").unwrap().parse().unwrap();
    let status_path = format!("/proc/{pid}/status");
    let mut peak = 0u64;
    let mut rest = String::new();
    let mut read_rest = Box::pin(out.read_to_string(&mut rest));
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            // A zombie has no VmHWM line any more; keep the last value seen.
            peak = peak.max(status_kb(&s, "VmHWM:").unwrap_or(0));
        }
        tokio::select! {
            r = &mut read_rest => { r.unwrap(); break; }
            () = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    }
    child.wait().await.unwrap();
    let wall = start.elapsed();
    drop(read_rest);
    let stderr = std::fs::read_to_string(err_file.path()).unwrap_or_default();
    let f = stat_fields(rest.lines().find_map(|l| l.strip_prefix("STAT ")).unwrap());
    // cutime and cstime are fields 16 and 17 (1-based), i.e. 13 and 14 after the command name.
    let cpu = (f[13].parse::<u64>().unwrap() + f[14].parse::<u64>().unwrap()) as f64 / ticks;
    let ok = rest.lines().any(|l| l == "EXIT 0");
    let reported = stderr.lines().find_map(|l| l.strip_prefix("VmHWM_KB ")).and_then(|v| v.trim().parse().ok());
    Measure { wall, cpu, rss_kb: reported.unwrap_or(0).max(peak), ok, stderr }
}

/// The median of `v` (the mean of the middle two for an even count); NaN for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The first `skopeo` on `PATH`, if any (a benchmark without it measures only ours and says so).
pub fn skopeo_on_path() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("skopeo")).find(|p| p.is_file()).map(|p| p.display().to_string())
}

/// `skopeo --version` without its prefix (`1.9.3`), empty when it cannot be run.
pub fn skopeo_version(binary: &str) -> String {
    std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().trim_start_matches("skopeo version ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_proc_fields() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        assert_eq!(status_kb("Name:\tx\nVmHWM:\t  1234 kB\n", "VmHWM:"), Some(1234));
        assert_eq!(stat_fields("42 (a b) S 1 2")[0], "S");
    }
}
