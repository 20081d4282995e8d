//! Temporary files that become the user's files: layout blobs and `index.json`, archives. They are renamed into
//! place, so they are created with the mode a new file normally gets (0644 less the umask, as skopeo and `cp`
//! leave them) rather than the 0600 of a private temporary file.

use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

/// A new temporary file in `dir` named `<prefix><random><suffix>`, created with mode 0644 less the process umask
/// (on Unix), to be written and then renamed into place (`NamedTempFile::persist`); removed when dropped before.
pub(crate) fn publishable_temp_file(dir: &Path, prefix: &str, suffix: &str) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn others_may_read_what_is_published() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = publishable_temp_file(dir.path(), ".t-", ".partial").unwrap();
        let path = dir.path().join("published");
        file.persist(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // 0644 less the umask: with the usual 022 (and 002) umasks that is 0644; never the private 0600.
        assert_eq!(mode, 0o644, "mode {mode:o}");
    }
}
