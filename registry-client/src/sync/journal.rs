//! The journal (`--journal FILE`): what a run has done and its open upload sessions, so a killed run resumes.
//!
//! An append-only file of JSON lines, the first a header (`{"journal":"regcli-sync","version":1}`), then records:
//! an image done (target reference, digest), a blob present in a repository of a host, an upload session opened or
//! moved on (repository, digest, location, bytes confirmed), an upload session over. Each record is written whole
//! and flushed; an image done is also synced to disk, so the file survives SIGKILL and a power cut loses at most the
//! records after the last image. A torn last line (the process was killed while writing it) is dropped on open.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use registry_core::api::UploadJournal;
use registry_core::{Digest, Error, Repository, Result};
use serde::{Deserialize, Serialize};
use url::Url;

/// The header's `journal` value: what tells a journal from any other file.
const MAGIC: &str = "regcli-sync";
/// The largest journal read back (64 MiB: a million records); a larger one is refused, naming it.
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase")]
enum Record {
    /// The image `target` was copied with `digest`.
    Image { target: String, digest: String },
    /// The blob `digest` is in `repository` (`host/path`) of `host`.
    Blob { host: String, repository: String, digest: String },
    /// An upload of `digest` into `repository` is open at `location` with `offset` bytes confirmed.
    Upload { repository: String, digest: String, location: String, offset: u64 },
    /// The upload of `digest` into `repository` is over.
    Forget { repository: String, digest: String },
}

/// The header line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    journal: String,
    version: u32,
}

/// What the journal says, read back on open and kept up to date.
#[derive(Debug, Default)]
struct State {
    /// Target reference -> digest copied.
    images: BTreeMap<String, String>,
    /// (host, digest) -> repository holding it.
    blobs: HashMap<(String, String), String>,
    /// (repository, digest) -> upload location.
    uploads: HashMap<(String, String), Url>,
}

/// An open journal: the file (appended to) and what it says.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Check before planning that a journal can be kept at `path`: its directory exists (and is a directory), and
/// `path` itself is not a directory. Nothing is created. `InvalidInput` naming the path and what is wrong.
pub(crate) fn check_path(path: &Path) -> Result<()> {
    let bad = |why: &str| Error::invalid_input(format!("journal {}: {why}", path.display()));
    if path.is_dir() {
        return Err(bad("is a directory"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(bad(&format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(bad(&format!("the directory {} does not exist", dir.display())))
        }
        Err(e) => Err(bad(&format!("the directory {} cannot be read ({e})", dir.display()))),
    }
}

impl Journal {
    /// Open the journal at `path`, creating it when missing, and read what it says. `InvalidInput` naming the
    /// file (and the line) when it is not a journal; `Io` naming it when it cannot be read or written.
    pub(crate) fn open(path: &Path) -> Result<Journal> {
        let io = |what: &str, e: std::io::Error| {
            Error::new(registry_core::ErrorKind::Io, format!("journal {}: {what}: {e}", path.display()))
        };
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| io("open", e))?;
        let len = file.metadata().map_err(|e| io("stat", e))?.len();
        if len > MAX_JOURNAL_BYTES {
            return Err(Error::invalid_input(format!(
                "journal {}: {len} bytes, over the {MAX_JOURNAL_BYTES} byte limit: start a new journal",
                path.display()
            )));
        }
        let mut text = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(|e| io("read", e))?;
        Read::by_ref(&mut file).take(MAX_JOURNAL_BYTES).read_to_end(&mut text).map_err(|e| io("read", e))?;
        let header = serde_json::to_string(&Header { journal: MAGIC.to_string(), version: 1 })
            .map_err(|e| Error::invalid_input(format!("journal header: {e}")))?;
        // A torn last line (killed while writing it) is dropped, so the next record starts on a line of its own; but
        // only once the file is known to be a journal: somebody else's file is refused untouched.
        let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i.saturating_add(1));
        if whole == 0 && !text.is_empty() && !header.as_bytes().starts_with(&text) {
            return Err(Error::invalid_input(format!(
                "journal {}: not a sync journal (no journal header): left unchanged; name a new file",
                path.display()
            )));
        }
        let state = read(path, &text[..whole])?;
        if whole < text.len() {
            file.set_len(whole as u64).map_err(|e| io("truncate its torn last line", e))?;
            text.truncate(whole);
        }
        if text.is_empty() {
            writeln!(file, "{header}").map_err(|e| io("write", e))?;
            file.sync_all().map_err(|e| io("sync", e))?;
        }
        Ok(Journal { path: path.to_path_buf(), file: Mutex::new(file), state: Mutex::new(state) })
    }

    /// Append `record` (flushed: written to the file in one `write`), synced to disk when `sync`.
    fn append(&self, record: &Record, sync: bool) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(|e| Error::invalid_input(format!("journal record: {e}")))?;
        line.push(b'\n');
        let mut file = lock(&self.file);
        let io = |what: &str, e: std::io::Error| {
            Error::new(registry_core::ErrorKind::Io, format!("journal {}: {what}: {e}", self.path.display()))
        };
        let before = file.metadata().map_err(|e| io("stat", e))?.len();
        if let Err(e) = file.write_all(&line) {
            // A record half written (a full disk) would glue the next one to it: cut it off, so the journal stays
            // readable; if even that fails, the file is left as is and the error says so.
            return Err(match file.set_len(before) {
                Ok(()) => io("write", e),
                Err(cut) => io(&format!("write ({e}), then cutting the partial record off"), cut),
            });
        }
        if sync {
            file.sync_data().map_err(|e| io("sync", e))?;
        }
        Ok(())
    }

    /// The image `target` (`host/repo:tag`) was copied with `digest`.
    pub(crate) fn image_done(&self, target: &str, digest: &Digest) -> Result<()> {
        lock(&self.state).images.insert(target.to_string(), digest.to_string());
        self.append(&Record::Image { target: target.to_string(), digest: digest.to_string() }, true)
    }

    /// The digest an earlier run copied to `target`, if the journal says one did.
    #[cfg(test)]
    pub(crate) fn image(&self, target: &str) -> Option<String> {
        lock(&self.state).images.get(target).cloned()
    }

    /// The blob `digest` is in `repository` of `host`.
    pub(crate) fn blob_present(&self, host: &str, repository: &Repository, digest: &Digest) -> Result<()> {
        let key = (host.to_string(), digest.to_string());
        let repository = repository.to_string();
        {
            let mut state = lock(&self.state);
            if state.blobs.get(&key) == Some(&repository) {
                return Ok(());
            }
            state.blobs.insert(key, repository.clone());
        }
        let record = Record::Blob { host: host.to_string(), repository, digest: digest.to_string() };
        self.append(&record, false)
    }

    /// Every blob known present: (host, repository, digest). Records that no longer parse are left out.
    pub(crate) fn blobs(&self) -> Vec<(String, Repository, Digest)> {
        lock(&self.state)
            .blobs
            .iter()
            .filter_map(|((host, digest), repo)| {
                Some((host.clone(), Repository::parse(repo).ok()?, Digest::parse(digest).ok()?))
            })
            .collect()
    }
}

/// What the lines of `text` (whole lines: a torn end was dropped) say. `InvalidInput` naming the file and line when
/// the first line is not the header or a later one is not a record.
fn read(path: &Path, text: &[u8]) -> Result<State> {
    let mut state = State::default();
    let not_journal = |line: usize, why: String| {
        Error::invalid_input(format!("{}: line {line}: not a sync journal ({why})", path.display()))
    };
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let n = i.saturating_add(1);
        if line.is_empty() {
            continue;
        }
        if i == 0 {
            let header: Header = serde_json::from_slice(line).map_err(|e| not_journal(n, e.to_string()))?;
            if header.journal != MAGIC || header.version != 1 {
                return Err(not_journal(n, format!("header {} version {}", header.journal, header.version)));
            }
            continue;
        }
        match serde_json::from_slice::<Record>(line).map_err(|e| not_journal(n, e.to_string()))? {
            Record::Image { target, digest } => {
                state.images.insert(target, digest);
            }
            Record::Blob { host, repository, digest } => {
                state.blobs.insert((host, digest), repository);
            }
            Record::Upload { repository, digest, location, .. } => {
                if let Ok(url) = Url::parse(&location) {
                    state.uploads.insert((repository, digest), url);
                }
            }
            Record::Forget { repository, digest } => {
                state.uploads.remove(&(repository, digest));
            }
        }
    }
    if text.first().is_some_and(|b| *b != b'{') {
        return Err(not_journal(1, "it does not start with a JSON header".to_string()));
    }
    Ok(state)
}

impl UploadJournal for Journal {
    fn record(&self, repository: &Repository, digest: &Digest, location: &Url, offset: u64) {
        let key = (repository.to_string(), digest.to_string());
        lock(&self.state).uploads.insert(key.clone(), location.clone());
        let record = Record::Upload { repository: key.0, digest: key.1, location: location.to_string(), offset };
        if let Err(e) = self.append(&record, false) {
            tracing::warn!("{e}");
        }
    }

    fn forget(&self, repository: &Repository, digest: &Digest) {
        let key = (repository.to_string(), digest.to_string());
        if lock(&self.state).uploads.remove(&key).is_none() {
            return;
        }
        if let Err(e) = self.append(&Record::Forget { repository: key.0, digest: key.1 }, false) {
            tracing::warn!("{e}");
        }
    }

    fn recorded(&self, repository: &Repository, digest: &Digest) -> Option<Url> {
        lock(&self.state).uploads.get(&(repository.to_string(), digest.to_string())).cloned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use registry_core::ErrorKind;

    use super::*;

    fn repo() -> Repository {
        Repository::parse("127.0.0.1:5000/org/app").unwrap()
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let d = Digest::sha256(b"x");
        let url = Url::parse("http://127.0.0.1:5000/v2/org/app/blobs/uploads/abc?_state=1").unwrap();
        {
            let j = Journal::open(&path).unwrap();
            j.image_done("127.0.0.1:5000/org/app:v1", &d).unwrap();
            j.blob_present("127.0.0.1:5000", &repo(), &d).unwrap();
            j.record(&repo(), &d, &url, 10);
        }
        // A record cut short by SIGKILL.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"record\":\"image\",\"tar").unwrap();
        drop(f);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.image("127.0.0.1:5000/org/app:v1"), Some(d.to_string()));
        assert_eq!(j.blobs(), vec![("127.0.0.1:5000".to_string(), repo(), d.clone())]);
        assert_eq!(j.recorded(&repo(), &d), Some(url));
        j.forget(&repo(), &d);
        j.image_done("127.0.0.1:5000/org/app:v2", &d).unwrap();
        let again = Journal::open(&path).unwrap();
        assert_eq!(again.recorded(&repo(), &d), None);
        assert_eq!(again.image("127.0.0.1:5000/org/app:v2"), Some(d.to_string()));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello\nworld\n").unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("notes.txt") && e.to_string().contains("line 1"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\nworld\n", "the file was changed");
    }

    #[test]
    fn a_foreign_file_without_a_final_newline_is_left_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        // docker's config.json ends without a newline; a one-line file has none at all.
        for (name, text) in [("config.json", "{\n  \"auths\": {}\n}"), ("one-line", "hi")] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let e = Journal::open(&path).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name} was changed");
        }
        // A header torn by SIGKILL as the journal was created is a journal: cut and written again.
        let path = dir.path().join("torn-header");
        std::fs::write(&path, "{\"journal\":").unwrap();
        let j = Journal::open(&path).unwrap();
        j.image_done("127.0.0.1:5000/org/app:v1", &Digest::sha256(b"x")).unwrap();
        drop(j);
        assert!(Journal::open(&path).is_ok(), "{:?}", std::fs::read_to_string(&path));
    }
}
