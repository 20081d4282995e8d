//! [`ExtractSummary`]: what an extraction into a directory wrote, counted by entry kind.

/// What [`Image::extract_to_with_summary`](crate::Image::extract_to_with_summary) (or
/// [`unpack_tar_with_summary`](crate::unpack_tar_with_summary)) wrote into the directory: entries counted by
/// kind as they were written (an entry given twice in the stream counts twice; the extraction directory's own
/// entry is not counted), the bytes of file contents written, and the device nodes and FIFOs skipped because
/// [`ExtractOptions::devices`](crate::ExtractOptions::devices) was off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractSummary {
    /// Regular files written.
    pub files: u64,
    /// Directories made or kept (each directory entry of the stream).
    pub directories: u64,
    /// Symbolic links made.
    pub symlinks: u64,
    /// Hard links made.
    pub hard_links: u64,
    /// Device nodes and FIFOs made (only with `ExtractOptions::devices`).
    pub nodes: u64,
    /// Device nodes and FIFOs skipped (`ExtractOptions::devices` off, the default).
    pub skipped: u64,
    /// Bytes of regular file contents written.
    pub bytes: u64,
}

impl ExtractSummary {
    /// Every entry written (files, directories, symlinks, hard links, nodes), skipped ones not counted.
    pub fn entries(&self) -> u64 {
        [self.files, self.directories, self.symlinks, self.hard_links, self.nodes]
            .into_iter()
            .fold(0, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_add_up_every_kind_written_but_not_the_skipped() {
        let s = ExtractSummary { files: 3, directories: 2, symlinks: 1, hard_links: 1, nodes: 1, skipped: 5, bytes: 9 };
        assert_eq!(s.entries(), 8);
        let huge = ExtractSummary { files: u64::MAX, directories: 1, ..ExtractSummary::default() };
        assert_eq!(huge.entries(), u64::MAX, "saturates");
    }
}
