//! Where a file the user names gets written, as `cat > PATH` or crane would: a symbolic link is followed and its
//! final target written (a temporary file beside the TARGET, renamed onto it, so the link stays a link); a FIFO
//! or a character device (`/dev/stdout`, `/dev/null`) is opened and written directly, streamed; a directory, a
//! socket or a block device is refused. The archive writers and `regcli export` decide with [`FileTarget::of`].

use std::io;
use std::path::{Path, PathBuf};

use registry_core::{Error, ErrorKind, Result};

/// The most symbolic links followed from one path (as Linux's `MAXSYMLINKS`): more is a loop.
const MAX_LINKS: usize = 40;

/// How a path the user named is to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTarget {
    /// A regular file, or nothing yet: write a temporary file in this path's directory and rename it onto this
    /// path, which is the final target of any symbolic links (never the link itself).
    Replace(PathBuf),
    /// A FIFO or a character device: open it for writing (no truncation, no temporary file, no rename) and
    /// stream into it. A failure part way leaves what was written in the stream.
    Stream(PathBuf),
}

impl FileTarget {
    /// Decide how to write `path` (nothing is created or opened): a missing path or a regular file is
    /// [`FileTarget::Replace`]d, symbolic links followed (relative ones from their own directory, a dangling one
    /// names the file to create); a FIFO or character device is [`FileTarget::Stream`]ed.
    ///
    /// Errors: `InvalidInput` naming `path` for a directory, a socket, a block device, or more than 40 links
    /// (a loop); `Io` when a link or the file's type cannot be read.
    pub fn of(path: &Path) -> Result<FileTarget> {
        // The kernel's view first: links under /proc (`/dev/stdout` -> `/proc/self/fd/1` -> `pipe:[N]`) name no
        // path a manual walk could follow, but open fine.
        if let Ok(meta) = std::fs::metadata(path) {
            let kind = meta.file_type();
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileTypeExt;
                if kind.is_fifo() || kind.is_char_device() {
                    return Ok(FileTarget::Stream(path.to_path_buf()));
                }
            }
            if !kind.is_file() {
                let what = if kind.is_dir() { "a directory" } else { "neither a file, a FIFO nor a character device" };
                let linked = if path.is_symlink() { " (through a symbolic link)" } else { "" };
                return Err(Error::invalid_input(format!(
                    "{}{linked} is {what}: name a file to write (e.g. app.tar)",
                    path.display()
                )));
            }
        }
        let mut current = path.to_path_buf();
        for _ in 0..=MAX_LINKS {
            if current.starts_with("/proc") {
                // `/dev/stdout` redirected to a file (`>> all.log`): replacing that file would drop what it held,
                // and the fd's own offset and append mode are not the path's to know.
                return Err(Error::invalid_input(format!(
                    "{} leads through {} to a regular file (a redirected stdout?): write to - for stdout, or name \
                     the file itself",
                    path.display(),
                    current.display()
                )));
            }
            let meta = match std::fs::symlink_metadata(&current) {
                Ok(meta) => meta,
                // A missing directory on the way is the writer's to report, where it checks the directory.
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    return Ok(FileTarget::Replace(current))
                }
                Err(e) => return Err(io_err(path, &current, "read the type of", e)),
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                let link = std::fs::read_link(&current).map_err(|e| io_err(path, &current, "read the link", e))?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
                continue;
            }
            if kind.is_file() {
                return Ok(FileTarget::Replace(current));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileTypeExt;
                if kind.is_fifo() || kind.is_char_device() {
                    return Ok(FileTarget::Stream(current));
                }
            }
            let what = if kind.is_dir() { "a directory" } else { "neither a file, a FIFO nor a character device" };
            let shown = if current == path { String::new() } else { format!(" (a link to {})", current.display()) };
            return Err(Error::invalid_input(format!(
                "{}{shown} is {what}: name a file to write (e.g. app.tar)",
                path.display()
            )));
        }
        Err(Error::invalid_input(format!("{}: more than {MAX_LINKS} symbolic links (a loop?)", path.display())))
    }

    /// The path to write: the final target of the links.
    pub fn path(&self) -> &Path {
        match self {
            FileTarget::Replace(p) | FileTarget::Stream(p) => p,
        }
    }
}

fn io_err(named: &Path, at: &Path, what: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{}: cannot {what} {}: {e}", named.display(), at.display())).with_source(e)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn a_link_through_proc_to_a_regular_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("all.log");
        std::fs::write(&log, b"kept").unwrap();
        let file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        // This process's own fd of the file, as /dev/stdout is when stdout is redirected to it.
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(&file);
        let via = dir.path().join("stdout");
        symlink(format!("/proc/self/fd/{fd}"), &via).unwrap();
        let e = FileTarget::of(&via).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("write to - for stdout"), "{e}");
        assert_eq!(std::fs::read(&log).unwrap(), b"kept");
    }

    #[test]
    fn links_are_followed_to_their_target_and_special_files_streamed_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let real = d.join("real.tar");
        std::fs::write(&real, b"x").unwrap();
        assert_eq!(FileTarget::of(&real).unwrap(), FileTarget::Replace(real.clone()));
        assert_eq!(FileTarget::of(&d.join("new.tar")).unwrap(), FileTarget::Replace(d.join("new.tar")));
        symlink("real.tar", d.join("link.tar")).unwrap();
        symlink(d.join("link.tar"), d.join("link2.tar")).unwrap();
        assert_eq!(FileTarget::of(&d.join("link2.tar")).unwrap(), FileTarget::Replace(d.join("real.tar")));
        symlink("later.tar", d.join("dangling.tar")).unwrap();
        assert_eq!(FileTarget::of(&d.join("dangling.tar")).unwrap(), FileTarget::Replace(d.join("later.tar")));
        assert_eq!(FileTarget::of(Path::new("/dev/null")).unwrap(), FileTarget::Stream("/dev/null".into()));
        let fifo = d.join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(FileTarget::of(&fifo).unwrap(), FileTarget::Stream(fifo.clone()));
        let e = FileTarget::of(d).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("is a directory"), "{e}");
        symlink(d, d.join("dirlink")).unwrap();
        let e = FileTarget::of(&d.join("dirlink")).unwrap_err();
        assert!(e.to_string().contains("through a symbolic link"), "{e}");
        let _socket = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
        assert_eq!(FileTarget::of(&d.join("sock")).unwrap_err().kind(), ErrorKind::InvalidInput);
        symlink("loop", d.join("loop")).unwrap();
        assert!(FileTarget::of(&d.join("loop")).unwrap_err().to_string().contains("symbolic links"));
        // A link the kernel resolves to a FIFO (as `/dev/stdout` to a pipe) is streamed through the link itself.
        symlink(&fifo, d.join("to-fifo")).unwrap();
        assert_eq!(FileTarget::of(&d.join("to-fifo")).unwrap(), FileTarget::Stream(d.join("to-fifo")));
    }
}
