//! Writing a config file the way docker does: the symlink followed to its target, the directory made (0700) when
//! missing, the new content in a temporary file of the same directory, synced, then renamed over the old one (so a
//! reader sees the old file or the new one, never half of either); a new file is 0600, an existing one keeps its
//! mode and (when the process may) its owner.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// How many symlinks are followed from the config file's path before giving up (Linux's own limit).
const MAX_SYMLINKS: usize = 40;
/// How many temporary file names are tried before giving up.
const TEMP_TRIES: u32 = 16;

/// Tells apart the temporary files of one process.
static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot {what} credentials file {}: {e}", path.display()))
}

/// The file `path` names once its symlinks are followed (a dangling one gives its target, which a write creates),
/// as docker saves through a symlinked `config.json` to its target. `Io` past [`MAX_SYMLINKS`] links.
pub(super) fn follow_symlinks(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| io_error(&current, "follow the link of", &e))?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!("credentials file {}: more than {MAX_SYMLINKS} symbolic links to follow", path.display()),
    ))
}

/// Replace `path` (a file, its symlinks already followed) with `bytes`, atomically; see the module docs. Errors:
/// `Io`, naming the file; the old file is then unchanged and no temporary file is left.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "config.json".into());
    create_dir(&dir).map_err(|e| io_error(path, "create the directory of", &e))?;
    let existing = std::fs::metadata(path).ok();
    let (temp_path, mut temp) =
        create_temp(&dir, &name).map_err(|e| io_error(path, "create a temporary file for", &e))?;
    let written = (|| {
        temp.write_all(bytes)?;
        if let Some(meta) = &existing {
            temp.set_permissions(meta.permissions())?;
            keep_owner(&temp, meta);
        }
        temp.sync_all()?;
        drop(temp);
        std::fs::rename(&temp_path, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp_path);
        return Err(io_error(path, "write", &e));
    }
    // The rename is durable once the directory is synced; a file system that cannot sync a directory still renamed.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Make `dir` and its missing parents, 0700 as docker makes `~/.docker`.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A new file `.<name>.tmp-<pid>-<n>` in `dir`, mode 0600, never an existing one.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..TEMP_TRIES {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

/// Give `file` the owner of the file it replaces, when the process may (root editing a user's file); docker does
/// the same and ignores a refusal, as this does.
fn keep_owner(file: &File, meta: &std::fs::Metadata) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    }
    #[cfg(not(unix))]
    {
        let _ = (file, meta);
    }
}
