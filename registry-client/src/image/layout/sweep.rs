//! Temp files an interrupted write left in a layout (a process killed while writing a blob leaves
//! `blobs/.tmp-XXXXXX`, possibly hundreds of MiB; a kill during an `index.json` or `oci-layout` write leaves
//! `.index.json.tmp-XXXXXX` / `.oci-layout.tmp-XXXXXX`): removed when a layout is first opened for writing by this
//! process, when nobody has written to them for [`STALE_AFTER`] (a write in progress keeps its file's mtime
//! fresh). Only names of exactly our temp pattern are touched (the prefix and the six random ASCII letters and
//! digits `tempfile` adds); anything else is left alone. The layout's own temp files (`index.json`'s and
//! `oci-layout`'s, written only under the layout's lock) go whatever their age once this process holds that lock.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use crate::image::blocking::run_blocking;

/// How long a temp file must have gone unwritten before it counts as left behind: 10 minutes.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(600);

/// The random part `tempfile` puts in a temp file's name: this many ASCII letters and digits.
const RANDOM_LEN: usize = 6;

/// The most directory entries one sweep of a directory reads (a bound on the loop, not a limit on blobs).
const MAX_ENTRIES: usize = 10_000_000;

/// The prefix of a blob's temp file, in the blobs directory.
pub(crate) const BLOB_TEMP_PREFIX: &str = ".tmp-";

/// The temp-file prefixes of a layout's own directory (the blobs' is `.tmp-`, in `blobs/`).
const TOP_PREFIXES: [&str; 2] = [".index.json.tmp-", ".oci-layout.tmp-"];

/// Whether `name` is `<prefix>` followed by exactly the random part of one of our temp files.
pub(crate) fn is_our_temp(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Remove, in `dir`, the regular files named `<one of prefixes><random>` whose mtime is older than `older_than`.
/// Returns how many went. Failures (a file gone meanwhile, no permission) are logged at debug and passed over.
/// Blocking.
pub(crate) fn remove_stale_temps(dir: &Path, prefixes: &[&str], older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let now = SystemTime::now();
    let mut removed = 0usize;
    for entry in entries.take(MAX_ENTRIES).flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !prefixes.iter().any(|p| is_our_temp(name, p)) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or(Duration::ZERO);
        if !meta.is_file() || age < older_than {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                removed = removed.saturating_add(1);
                tracing::info!(
                    path = %path.display(),
                    bytes = meta.len(),
                    unwritten_for_seconds = age.as_secs(),
                    "removed a temp file an interrupted write left behind"
                );
            }
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "temp file left behind not removed"),
        }
    }
    removed
}

/// The layout directories this process has swept.
fn swept() -> &'static Mutex<HashSet<PathBuf>> {
    static SWEPT: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    SWEPT.get_or_init(Mutex::default)
}

/// Sweep the layout at `dir` (its own directory and its blobs directory `blobs`) of stale temp files, the first
/// time this process writes to it; later calls return at once.
pub(crate) async fn sweep_once(dir: &Path, blobs: &Path) {
    if !swept().lock().unwrap_or_else(PoisonError::into_inner).insert(dir.to_path_buf()) {
        return;
    }
    let (dir, blobs) = (dir.to_path_buf(), blobs.to_path_buf());
    let _ = run_blocking("temp file sweep failed", move || {
        remove_stale_temps(&dir, &TOP_PREFIXES, STALE_AFTER);
        remove_stale_temps(&blobs, &[BLOB_TEMP_PREFIX], STALE_AFTER);
        Ok::<(), registry_core::Error>(())
    })
    .await;
}

/// The layout directories whose own temp files this process has removed under the layout's lock.
fn swept_locked() -> &'static Mutex<HashSet<PathBuf>> {
    static SWEPT: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    SWEPT.get_or_init(Mutex::default)
}

/// Remove every `.index.json.tmp-XXXXXX` and `.oci-layout.tmp-XXXXXX` in the layout directory `dir`, whatever
/// their age, the first time this process holds its write lock (the caller does): those files are only written
/// under that lock, so none of them is a write in progress. Returns how many went. Blocking.
pub(crate) fn sweep_own_temps_locked(dir: &Path) -> usize {
    if !swept_locked().lock().unwrap_or_else(PoisonError::into_inner).insert(dir.to_path_buf()) {
        return 0;
    }
    remove_stale_temps(dir, &TOP_PREFIXES, Duration::ZERO)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_our_names() {
        assert!(is_our_temp(".tmp-aZ09xy", ".tmp-"));
        for other in [".tmp-abc", ".tmp-abcdefg", ".tmp-abc-de", "tmp-abcdef", ".tmp-abcdé", "sha256"] {
            assert!(!is_our_temp(other, ".tmp-"), "{other}");
        }
    }
}
