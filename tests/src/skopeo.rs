//! Running skopeo (containers/image's command line tool) in the interop tests. A missing skopeo is a panic saying
//! how to install it: these tests fail, never skip.

use std::path::PathBuf;

/// The message of the panic when skopeo is not installed.
pub const SKOPEO_MISSING: &str =
    "skopeo not found: install it with `apt-get update && apt-get install -y skopeo` (scripts/test.sh does this)";

/// The skopeo binary: the first `skopeo` on `PATH`, else `/usr/bin/skopeo`.
///
/// # Panics
/// With [`SKOPEO_MISSING`] when there is neither.
pub fn skopeo_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("skopeo")).find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            let fallback = PathBuf::from("/usr/bin/skopeo");
            fallback.is_file().then_some(fallback)
        })
        .unwrap_or_else(|| panic!("{SKOPEO_MISSING}"))
}

/// Run `skopeo --command-timeout 120s ARGS` (global flags such as `--insecure-policy` first in `args`, as skopeo
/// wants them), stdin closed, and return its stdout (bytes).
///
/// # Panics
/// When skopeo is missing or cannot be started, and when it fails: the command line, its exit status and stderr.
pub async fn skopeo(args: &[&str]) -> Vec<u8> {
    let binary = skopeo_binary();
    let mut full = vec!["--command-timeout", "120s"];
    full.extend_from_slice(args);
    let output = tokio::process::Command::new(&binary)
        .args(&full)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
    assert!(
        output.status.success(),
        "skopeo {} failed ({}):\nstdout: {}\nstderr: {}",
        full.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
