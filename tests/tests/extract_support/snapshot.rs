//! A snapshot of a directory tree for the extraction tests, to show that nothing outside the extraction directory
//! changed: every path with what it is (contents, mode, mtime, link target). Shared by `extract_hostile.rs` and
//! `extract_to.rs` (`#[path]`).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a path is, as compared before and after (no link counts or access times: unlinking a hard link to the
/// canary changes its link count, which is no change to the canary).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Node {
    File { bytes: Vec<u8>, mode: u32, mtime: i64 },
    Dir { mode: u32, mtime: i64 },
    Symlink { target: PathBuf },
    Other { mode: u32 },
}

/// Everything below `top` but `skip`, by path.
pub(crate) fn snapshot(top: &Path, skip: &Path) -> BTreeMap<PathBuf, Node> {
    let mut found = BTreeMap::new();
    let mut pending = vec![top.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if path == skip {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let node = if meta.file_type().is_symlink() {
                Node::Symlink { target: fs::read_link(&path).unwrap() }
            } else if meta.is_dir() {
                pending.push(path.clone());
                Node::Dir { mode: meta.mode(), mtime: meta.mtime() }
            } else if meta.is_file() {
                Node::File { bytes: fs::read(&path).unwrap(), mode: meta.mode(), mtime: meta.mtime() }
            } else {
                Node::Other { mode: meta.mode() }
            };
            found.insert(path, node);
        }
    }
    found
}
