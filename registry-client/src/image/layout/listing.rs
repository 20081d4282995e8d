//! Lists of a [`LayoutClient`]: the tags of a layout (from `index.json`), and the layouts below a scope (a walk of
//! the directory tree, bounded in depth and size, that never descends into a layout's `blobs/` nor follows a
//! symbolic link).

use std::collections::VecDeque;
use std::path::PathBuf;

use registry_core::{Digest, Error, Registry, Repository, Result};

use super::blobs::BLOBS_DIR;
use super::client::LayoutClient;
use super::errors::{io_at, name_unknown};
use super::index::{read_index, OCI_LAYOUT_FILE};
use super::store::blocking;
use crate::image::artifact::as_referrer;
use crate::options::ListOptions;

/// The deepest a layout is looked for below a scope, in directories.
const MAX_DEPTH: usize = 64;
/// The most directories one listing reads.
const MAX_DIRS: usize = 200_000;

impl LayoutClient {
    /// See [`Client::list_tags`](crate::Client::list_tags): the valid tags of `index.json`, windowed.
    /// `NotFound` (`NAME_UNKNOWN`) when there is no layout.
    pub(super) async fn tags(&self, opts: ListOptions) -> Result<Vec<String>> {
        let own = self.layout()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let (_, index) = self.read_view().await?;
        let index = index.ok_or_else(|| name_unknown(own.name()))?;
        Ok(opts.apply(index.tags()))
    }

    /// The digests of the untagged top-level manifests of this scope's layout that are no referrers (an entry of
    /// `index.json` with no ref name, whose manifest has no `subject`): images or indexes kept by digest, as a
    /// copy by digest stores them. In `index.json` order, each once; empty when there is no layout. Errors: those
    /// of reading `index.json` (`Protocol` naming it when it is not a valid index); a manifest that cannot be
    /// read is listed all the same (the copy then says what is wrong with it).
    pub async fn untagged_images(&self) -> Result<Vec<Digest>> {
        self.layout()?;
        let (layout, index) = self.read_view().await?;
        let Some(index) = index else { return Ok(Vec::new()) };
        let mut out: Vec<Digest> = Vec::new();
        for entry in index.entries().iter().filter(|e| e.ref_name().is_none()) {
            let tagged = index.entries().iter().any(|e| e.digest() == entry.digest() && e.ref_name().is_some());
            if tagged || out.contains(entry.digest()) {
                continue;
            }
            let read = layout.read_manifest(entry.digest(), Some(entry.media_type()), Some(entry.size())).await;
            if let Ok(m) = &read {
                if as_referrer(m).ok().flatten().is_some() {
                    continue;
                }
            }
            out.push(entry.digest().clone());
        }
        Ok(out)
    }

    /// See [`Client::list_repositories`](crate::Client::list_repositories): the directories below the scope that
    /// hold `oci-layout`, relative to it, and the repositories of names `repo:tag` in the `index.json` of the
    /// scope's layout and of those below it (`rel/repo`, as docker shows `repo`), sorted, windowed.
    pub(super) async fn layouts_below(&self, opts: ListOptions) -> Result<Vec<String>> {
        let dir = self.layout_dir()?;
        if opts.get_limit() == Some(0) {
            return Ok(Vec::new());
        }
        let registry = self.repository()?.registry().clone();
        let found = blocking(move || walk(dir, &registry)).await?;
        Ok(opts.apply(found))
    }
}

/// The paths, relative to `top`, of the directories below it holding `oci-layout`. Only directories whose
/// relative path is a valid repository path are visited (so no hidden or temp directory, nothing that could not be
/// named with `with_segment`). `Unsupported` past [`MAX_DIRS`] directories.
fn walk(top: PathBuf, registry: &Registry) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut queue: VecDeque<(PathBuf, String, usize)> = VecDeque::from([(top.clone(), String::new(), 0)]);
    let mut visited = 0usize;
    while let Some((dir, rel, depth)) = queue.pop_front() {
        visited += 1;
        if visited > MAX_DIRS {
            return Err(Error::unsupported(format!(
                "more than {MAX_DIRS} directories below {}: list a narrower scope",
                top.display()
            )));
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_at("list", &dir, e)),
        };
        let is_layout = dir.join(OCI_LAYOUT_FILE).is_file();
        if is_layout && !rel.is_empty() {
            found.push(rel.clone());
        }
        if is_layout {
            // Names `repo:tag` of its index.json; an unreadable index lists none (reading it says why).
            match read_index(&dir) {
                Ok(Some(index)) => found.extend(index.named_repositories().into_iter().map(|name| {
                    if rel.is_empty() {
                        name
                    } else {
                        format!("{rel}/{name}")
                    }
                })),
                Ok(None) => {}
                Err(e) => tracing::debug!(layout = %dir.display(), error = %e, "index.json not read for names"),
            }
        }
        if depth >= MAX_DEPTH {
            continue;
        }
        for entry in entries {
            let entry = entry.map_err(|e| io_at("list", &dir, e))?;
            let Ok(kind) = entry.file_type() else { continue };
            if !kind.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if is_layout && name == BLOBS_DIR {
                continue;
            }
            let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            if Repository::new(registry.clone(), &child).is_err() {
                continue;
            }
            queue.push_back((entry.path(), child, depth + 1));
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}
