//! Writing a tar stream into a directory safely: the blocking half of `Image::extract_to`.
//!
//! The stream is the flattened filesystem (each path once; a directory's entry may come after its contents; hard
//! links last), but [`unpack`] holds to its rules for any tar stream:
//! - Names: one function, `confine::confine`, decides whether a member name stays inside the directory (leading
//!   `/` dropped, `..` refused, NUL and empty names refused, lengths capped); hard link targets go through it too.
//! - Walking: every parent is opened relative to the one before with `O_NOFOLLOW | O_DIRECTORY` (`tree`), so a
//!   symlink on the way is never followed; the entry is refused (`InvalidInput` naming it and the symlink).
//!   Missing parents are made (0755); a directory's own entry, when it comes, sets its mode and times at the end,
//!   deepest first, so a read-only directory never stops a later write into it.
//! - Writing: whatever is in an entry's place is unlinked, never opened (a symlink there is replaced, not written
//!   through; a directory only when empty); files are made with `O_CREAT | O_EXCL | O_NOFOLLOW`; hard links with
//!   `linkat` without `AT_SYMLINK_FOLLOW`, their target inside the directory and existing; symlinks are made as
//!   given (their target is never followed by us).
//! - Devices and FIFOs only with `ExtractOptions::devices`; ownership only with `preserve_ownership` when root;
//!   modes and times as in `meta`.
//!
//! Races closed: a symlink swapped into a parent or into an entry's place between our check and our write (every
//! step is relative to an open directory, with `O_NOFOLLOW`/`O_EXCL`). Not closed: a process moving a directory we
//! hold open to outside the extraction directory while we write into it, and the instant between `mknodat` and
//! setting a device node's mode (see `meta`); both need write access to the extraction directory while it is
//! being written, which the caller controls.

mod confine;
mod meta;
mod meter;
mod tree;
mod write;

use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use registry_core::{Error, Result};

use crate::image::blocking::from_io;
use crate::image::extract_options::ExtractOptions;
use crate::image::extract_summary::ExtractSummary;
use crate::image::unpack::confine::shown;
use crate::image::unpack::meta::Policy;
use crate::image::unpack::meter::{Gate, Metered};
use crate::image::unpack::tree::Tree;
use crate::image::unpack::write::Writer;

/// How many bytes may follow the end-of-archive blocks (blocking to a 10 KiB record, a producer's padding) before
/// the stream is refused; they are read (so a producer's error after its last entry is seen) but not kept.
const TRAILING_BYTES: u64 = 1 << 20;

/// Write a tar stream into a directory safely, as [`Image::extract_to`](crate::Image::extract_to) does with an
/// image's flattened filesystem: for a tar from elsewhere (`crane export`, a filtered
/// [`Image::extract`](crate::Image::extract) stream, a layer). Blocking (call it from a blocking thread, `spawn_blocking`, inside
/// async code); reads `tar` to its end.
///
/// `dir` is created if missing. Entries: regular files, directories, symlinks, hard links; device nodes and FIFOs
/// only with [`ExtractOptions::devices`] (skipped otherwise). Member names are read relative to `dir`: a leading `/`
/// is dropped (`/etc/passwd` is `dir/etc/passwd`, as docker and GNU tar read a layer); `..` components, NUL bytes,
/// empty names, names past 4,095 bytes (`PATH_MAX`) and components past 255 (`NAME_MAX`) are refused. Nothing is
/// written through a symlink: a symlink met as a parent refuses the entry; a symlink (or file) in an entry's place
/// is replaced, not written into; hard link targets must be inside `dir`, existing, not directories, reached
/// without a symlink. Symlink targets are stored as given (`a -> /etc` is fine; writing `a/passwd` after it is
/// refused). Modes: permission and sticky bits as given (no umask); set-uid/set-gid only with ownership.
/// Ownership only with [`ExtractOptions::preserve_ownership`] when running as root (effective uid 0). Modification
/// times kept (PAX `mtime` fractions too); directories' modes and times set at the end. The directory `dir` itself
/// keeps its own mode. Tar formats: ustar, GNU (long names, sparse files), PAX (a PAX `size` wins over the header's,
/// as GNU tar, Go and Python read it); at most 1 MiB of headers per entry; after the end-of-archive blocks `tar` is
/// read to its end (so an error its producer reports after the last entry is seen), at most 1 MiB.
///
/// Errors: `InvalidInput` naming the entry (its name, quoted) for every refusal above, a truncated entry, an
/// entry type no file system holds, a malformed header (nothing outside `dir` is created, changed or deleted;
/// entries before the bad one stay written); the stream's own [`Error`] with its kind when `tar` fails with an
/// `io::Error` carrying one (as `Image::extract`'s does: a `DigestMismatch` stays one), else `Io`; `Unsupported`
/// past [`DecompressionLimits::max_bytes`](crate::DecompressionLimits::max_bytes) bytes of file contents;
/// `InvalidInput` naming `dir` (or its parent) when it exists and is not a directory; `Io` when `dir` cannot be
/// written (naming the entry). After an error, directories keep the mode they were made with
/// (0755 less the umask), not the archive's.
pub fn unpack_tar(mut tar: impl Read, dir: impl AsRef<Path>, options: &ExtractOptions) -> Result<()> {
    unpack(&mut tar, dir.as_ref(), options).map(|_| ())
}

/// [`unpack_tar`], returning what was written: entries by kind, bytes of file contents, device nodes and FIFOs
/// skipped ([`ExtractSummary`]). Same rules and errors as [`unpack_tar`].
pub fn unpack_tar_with_summary(
    mut tar: impl Read,
    dir: impl AsRef<Path>,
    options: &ExtractOptions,
) -> Result<ExtractSummary> {
    unpack(&mut tar, dir.as_ref(), options)
}

/// Write the tar stream `tar` into `dir` (created if missing), under the rules of this module ([`unpack_tar`]).
/// Blocking: run it on a blocking thread. Returns what was written, by kind. Errors: `InvalidInput` naming the
/// entry that would escape `dir` or is malformed (nothing outside `dir` is created, changed or deleted); the
/// stream's own error, kind kept (a `DigestMismatch` stays one); `Unsupported` past
/// `DecompressionLimits::max_bytes` of file contents; `Io` when `dir` cannot be written.
pub(crate) fn unpack(tar: &mut dyn Read, dir: &Path, options: &ExtractOptions) -> Result<ExtractSummary> {
    let tree = Tree::open(dir)?;
    let mut writer = Writer::new(tree, Policy::new(options), options.decompression_limits().total_bytes());
    let gate = Rc::new(Gate::default());
    let mut archive = tar::Archive::new(Metered::new(tar, gate.clone()));
    let mut last: Option<Vec<u8>> = None;
    let after = |last: &Option<Vec<u8>>| match last {
        Some(name) => format!("reading the tar stream after entry {}", shown(name)),
        None => "reading the tar stream".to_string(),
    };
    {
        let mut entries = archive.entries().map_err(|e| stream_error(e, &gate, "reading the tar stream"))?;
        loop {
            gate.headers();
            let next = entries.next();
            gate.data();
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|e| stream_error(e, &gate, &after(&last)))?;
            writer.entry(&mut entry)?;
            // What the entry's kind does not read (a directory or link with data): read past it here, uncapped
            // but streamed.
            std::io::copy(&mut entry, &mut std::io::sink())
                .map_err(|e| from_io(e, &format!("reading tar entry {}", shown(&entry.path_bytes()))))?;
            last = Some(entry.path_bytes().into_owned());
        }
    }
    drain_trailing(archive.into_inner().into_inner(), &after(&last))?;
    writer.finish()
}

/// The error for `e`, met by the tar reader while `context`: the stream's own (kind kept, see `from_io`) when the
/// reader inside failed, else a malformed stream (`InvalidInput`: a bad checksum, a truncated header, headers past
/// the cap).
fn stream_error(e: std::io::Error, gate: &Gate, context: &str) -> Error {
    if gate.reader_failed() {
        return from_io(e, context);
    }
    Error::invalid_input(format!("{context}: {e}")).with_source(e)
}

/// Read what follows the end-of-archive blocks to the end, at most [`TRAILING_BYTES`]. Errors: the stream's own;
/// `InvalidInput` past the cap.
fn drain_trailing(rest: &mut dyn Read, context: &str) -> Result<()> {
    let copied = std::io::copy(&mut rest.take(TRAILING_BYTES.saturating_add(1)), &mut std::io::sink())
        .map_err(|e| from_io(e, context))?;
    if copied > TRAILING_BYTES {
        return Err(Error::invalid_input(format!("{context}: more than 1 MiB follows the end-of-archive blocks")));
    }
    Ok(())
}
