//! `index.json` of an OCI image layout (OCI image-layout spec): parsed strictly enough that nothing hostile gets
//! through (size capped, every entry's digest validated), loosely enough that another tool's fields survive a
//! rewrite (entries and top-level fields are kept as they were read), and written atomically (a temp file in the
//! layout directory, synced, renamed over `index.json`, the directory synced), so a crash leaves the old index or
//! the new one, never a torn one.

use std::io::{Read, Write};
use std::path::Path;

use registry_core::manifest::media_type;
use registry_core::{Digest, Error, Reference, Result};
use serde_json::{json, Map, Value};

use super::errors::{corrupt, io_at};
use crate::image::file_target::FileTarget;
use crate::image::ref_names::{familiar_name, repository_key, split_name, REF_NAME};
use crate::image::temp_files::publishable_temp_file;

/// The file name of the index.
pub(crate) const INDEX_FILE: &str = "index.json";
/// The file that marks a layout directory.
pub(crate) const OCI_LAYOUT_FILE: &str = "oci-layout";
/// The largest `index.json` read, in bytes (4 MiB, the cap of a manifest).
pub(crate) const MAX_INDEX_SIZE: u64 = 4 * 1024 * 1024;
/// Prefix of the temp files the index is written through (ignored by readers; a crash may leave one behind).
const TEMP_PREFIX: &str = ".index.json.tmp-";

/// One entry of `index.json`: a descriptor, kept as read, with the fields this crate needs validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    raw: Map<String, Value>,
    digest: Digest,
    media_type: String,
    size: u64,
}

impl Entry {
    /// A new entry for a manifest of `media_type`, `digest` and `size` bytes, tagged `tag` when given.
    pub(crate) fn new(media_type: &str, digest: &Digest, size: u64, tag: Option<&str>) -> Entry {
        let mut raw = Map::new();
        raw.insert("mediaType".into(), json!(media_type));
        raw.insert("digest".into(), json!(digest.as_str()));
        raw.insert("size".into(), json!(size));
        if let Some(t) = tag {
            raw.insert("annotations".into(), json!({ REF_NAME: t }));
        }
        Entry { raw, digest: digest.clone(), media_type: media_type.to_string(), size }
    }

    /// Entry `n` of `path` from its JSON, validated: an object with a `digest` [`Digest::parse`] accepts, a
    /// `mediaType` string and a `size`.
    fn parse(value: Value, n: usize, path: &Path) -> Result<Entry> {
        let Value::Object(raw) = value else { return Err(corrupt(path, format!("manifests[{n}] is not an object"))) };
        let field = |name: &str| raw.get(name).ok_or_else(|| corrupt(path, format!("manifests[{n}] has no {name}")));
        let digest = field("digest")?
            .as_str()
            .ok_or_else(|| corrupt(path, format!("manifests[{n}].digest is not a string")))
            .and_then(|d| Digest::parse(d).map_err(|e| corrupt(path, format!("manifests[{n}]: {}", e.message()))))?;
        let media_type = field("mediaType")?
            .as_str()
            .ok_or_else(|| corrupt(path, format!("manifests[{n}].mediaType is not a string")))?
            .to_string();
        let size =
            field("size")?.as_u64().ok_or_else(|| corrupt(path, format!("manifests[{n}].size is not a byte count")))?;
        Ok(Entry { raw, digest, media_type, size })
    }

    /// The manifest's digest.
    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The manifest's media type, as the entry says.
    pub(crate) fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The manifest's size in bytes, as the entry says.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The `org.opencontainers.image.ref.name` annotation, whatever it holds.
    pub(crate) fn ref_name(&self) -> Option<&str> {
        self.raw.get("annotations")?.get(REF_NAME)?.as_str()
    }

    /// The entry's tag: its ref name when that is a valid tag (a ref name such as `example.com/app:v1`, or one
    /// with `..` or `/`, is kept in the file but is no tag here).
    pub(crate) fn tag(&self) -> Option<&str> {
        self.ref_name().filter(|t| Reference::check_tag(t).is_ok())
    }

    /// The same entry without its ref name (other annotations kept; an emptied `annotations` dropped).
    fn untagged(mut self) -> Entry {
        if let Some(Value::Object(a)) = self.raw.get_mut("annotations") {
            a.remove(REF_NAME);
            if a.is_empty() {
                self.raw.remove("annotations");
            }
        }
        self
    }
}

/// The content of `index.json`: its entries and the other top-level fields, as read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayoutIndex {
    top: Map<String, Value>,
    entries: Vec<Entry>,
}

impl Default for LayoutIndex {
    fn default() -> LayoutIndex {
        let mut top = Map::new();
        top.insert("schemaVersion".into(), json!(2));
        top.insert("mediaType".into(), json!(media_type::OCI_INDEX));
        LayoutIndex { top, entries: Vec::new() }
    }
}

impl LayoutIndex {
    /// Parse the bytes of `path`: a JSON object with `schemaVersion` 2 (when present) and a `manifests` array of
    /// valid entries. Anything else is `Protocol` naming the file and what is wrong.
    pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<LayoutIndex> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(path, format!("not JSON: {e}")))?;
        let Value::Object(mut top) = value else { return Err(corrupt(path, "not a JSON object")) };
        if let Some(v) = top.get("schemaVersion") {
            if v.as_u64() != Some(2) {
                return Err(corrupt(path, format!("schemaVersion is {v}, expected 2")));
            }
        }
        let manifests = match top.remove("manifests") {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(corrupt(path, "manifests is not an array")),
        };
        let entries =
            manifests.into_iter().enumerate().map(|(n, v)| Entry::parse(v, n, path)).collect::<Result<Vec<_>>>()?;
        Ok(LayoutIndex { top, entries })
    }

    /// The bytes to write: the top-level fields as read (`schemaVersion` 2 and the OCI index media type added
    /// when missing) and the entries.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut top = self.top.clone();
        top.entry("schemaVersion").or_insert(json!(2));
        top.entry("mediaType").or_insert(json!(media_type::OCI_INDEX));
        top.insert(
            "manifests".into(),
            Value::Array(self.entries.iter().map(|e| Value::Object(e.raw.clone())).collect()),
        );
        serde_json::to_vec(&Value::Object(top))
            .map_err(|e| Error::invalid_input(format!("cannot serialise index: {e}")))
    }

    /// Every entry, in file order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry tagged `tag`, if any (the last one, should a foreign tool have written the tag twice).
    pub(crate) fn find_tag(&self, tag: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.ref_name() == Some(tag))
    }

    /// The first entry for `digest`, if any.
    pub(crate) fn find_digest(&self, digest: &Digest) -> Option<&Entry> {
        self.entries.iter().find(|e| e.digest() == digest)
    }

    /// The valid tags, sorted, each once.
    pub(crate) fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.entries.iter().filter_map(Entry::tag).map(str::to_string).collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// The entries named `repo:tag` (skopeo's `oci:DIR:example.com/app:v1`) whose `repo` is `key` (a
    /// [`repository_key`]: names compare as docker normalises them), each tagged plain `tag` in the copy: the index
    /// as the child scope `repo` of the layout sees it. A view to read, never written back.
    pub(crate) fn named_view(&self, key: &str) -> LayoutIndex {
        let entries = self
            .entries
            .iter()
            .filter_map(|e| {
                let (repo, tag) = split_name(e.ref_name()?);
                let wanted = !repo.is_empty() && Reference::check_tag(tag).is_ok() && repository_key(repo) == key;
                wanted.then(|| {
                    let mut view = e.clone().untagged();
                    view.raw.entry("annotations").or_insert_with(|| json!({}));
                    if let Some(Value::Object(a)) = view.raw.get_mut("annotations") {
                        a.insert(REF_NAME.into(), json!(tag));
                    }
                    view
                })
            })
            .collect();
        LayoutIndex { top: self.top.clone(), entries }
    }

    /// The repositories of the entries named `repo:tag` with a valid tag, as docker shows them (`trial/app` for
    /// `docker.io/trial/app`), sorted, each once.
    pub(crate) fn named_repositories(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| {
                let (repo, tag) = split_name(e.ref_name()?);
                (!repo.is_empty() && Reference::check_tag(tag).is_ok()).then(|| familiar_name(repo))
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether the index has no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Point `tag` at `entry`'s manifest: every entry tagged `tag` is replaced by `entry` (tagged), appended at the
    /// end as skopeo does. An untagged entry of the same digest is dropped: the tagged one stands for it.
    pub(crate) fn set_tag(&mut self, tag: &str, entry: Entry) {
        let entry = entry.untagged();
        self.entries.retain(|e| e.ref_name() != Some(tag) && !(e.ref_name().is_none() && e.digest == entry.digest));
        let mut tagged = entry;
        let annotations = tagged.raw.entry("annotations").or_insert_with(|| json!({}));
        if let Value::Object(a) = annotations {
            a.insert(REF_NAME.into(), json!(tag));
        }
        self.entries.push(tagged);
    }

    /// Record `entry`'s manifest untagged, unless an entry (tagged or not) has its digest. Returns whether the
    /// index changed.
    pub(crate) fn add_untagged(&mut self, entry: Entry) -> bool {
        if self.find_digest(&entry.digest).is_some() {
            return false;
        }
        self.entries.push(entry.untagged());
        true
    }

    /// Remove `tag`. When no other entry has its manifest, the entry stays without its ref name, so the manifest
    /// stays in the layout (by digest) as it stays in a registry. `None` when there is no such tag; else the
    /// digest it pointed to.
    pub(crate) fn remove_tag(&mut self, tag: &str) -> Option<Digest> {
        let pos = self.entries.iter().position(|e| e.ref_name() == Some(tag))?;
        let entry = self.entries.remove(pos);
        self.entries.retain(|e| e.ref_name() != Some(tag));
        let digest = entry.digest.clone();
        if self.find_digest(&digest).is_none() {
            self.entries.insert(pos.min(self.entries.len()), entry.untagged());
        }
        Some(digest)
    }

    /// Remove the untagged entries (no ref name at all) of `digests`, the children of an index just recorded:
    /// they stay readable by digest from their blobs. Returns whether the index changed.
    pub(crate) fn remove_untagged(&mut self, digests: &[Digest]) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.ref_name().is_some() || !digests.contains(&e.digest));
        before != self.entries.len()
    }

    /// Remove every entry of `digest`; returns how many there were.
    pub(crate) fn remove_digest(&mut self, digest: &Digest) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| &e.digest != digest);
        before - self.entries.len()
    }
}

/// Read `dir/index.json`: `Ok(None)` when it does not exist; `Unsupported` when it is over [`MAX_INDEX_SIZE`]
/// bytes; `Protocol` when it is not a valid index; `Io` naming the file on a read failure. Blocking.
pub(crate) fn read_index(dir: &Path) -> Result<Option<LayoutIndex>> {
    let path = dir.join(INDEX_FILE);
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => return Err(corrupt(&path, "not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at("open", &path, e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_INDEX_SIZE + 1).read_to_end(&mut bytes).map_err(|e| io_at("read", &path, e))?;
    if bytes.len() as u64 > MAX_INDEX_SIZE {
        return Err(Error::unsupported(format!(
            "{} is over the {MAX_INDEX_SIZE} byte limit of an index",
            path.display()
        )));
    }
    LayoutIndex::parse(&bytes, &path).map(Some)
}

/// Write `bytes` to `dir/name` atomically: a temp file beside it (`.<name>.tmp-*`), synced, renamed over it, the
/// directory synced. A failure leaves the old file as it was (and at worst a temp file, which readers ignore).
/// A symbolic link there is followed (its target replaced, the link kept, as [`FileTarget::of`] says); anything
/// else but a regular file there (a FIFO, a device, a directory) is `InvalidInput`: a layout's files are files.
/// Blocking.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = match FileTarget::of(&dir.join(name))? {
        FileTarget::Replace(path) => path,
        FileTarget::Stream(path) => {
            return Err(Error::invalid_input(format!(
                "{} is no regular file: a layout's {name} must be one",
                path.display()
            )))
        }
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => dir,
    };
    let prefix = if name == INDEX_FILE { TEMP_PREFIX.to_string() } else { format!(".{name}.tmp-") };
    let mut temp = publishable_temp_file(dir, &prefix, "").map_err(|e| io_at("create a temp file in", dir, e))?;
    // A file being replaced keeps its mode (a user's 0640 index.json stays 0640).
    if let Ok(existing) = std::fs::metadata(&path) {
        temp.as_file().set_permissions(existing.permissions()).map_err(|e| io_at("set the mode of", temp.path(), e))?;
    }
    temp.write_all(bytes).map_err(|e| io_at("write", temp.path(), e))?;
    temp.as_file().sync_all().map_err(|e| io_at("sync", temp.path(), e))?;
    temp.persist(&path).map_err(|e| io_at("rename a temp file to", &path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Sync directory `dir` (so a rename in it survives a crash); best effort: not every platform can.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `index` to `dir/index.json` atomically (see [`write_atomically`]). Blocking.
pub(crate) fn write_index(dir: &Path, index: &LayoutIndex) -> Result<()> {
    write_atomically(dir, INDEX_FILE, &index.to_bytes()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use registry_core::ErrorKind;

    fn d(n: u8) -> Digest {
        Digest::sha256(&[n])
    }

    #[test]
    fn tags_replace_and_untag() {
        let mut idx = LayoutIndex::default();
        idx.set_tag("v1", Entry::new(media_type::OCI_MANIFEST, &d(1), 10, None));
        idx.set_tag("v2", Entry::new(media_type::OCI_MANIFEST, &d(1), 10, None));
        idx.set_tag("v1", Entry::new(media_type::OCI_MANIFEST, &d(2), 20, None));
        assert_eq!(idx.tags(), vec!["v1", "v2"]);
        assert_eq!(idx.find_tag("v1").unwrap().digest(), &d(2));
        assert!(!idx.add_untagged(Entry::new(media_type::OCI_MANIFEST, &d(2), 20, None)), "tagged already");
        assert!(idx.add_untagged(Entry::new(media_type::OCI_MANIFEST, &d(3), 30, Some("ignored"))));
        assert_eq!(idx.tags(), vec!["v1", "v2"]);
        // The last tag of d(2): the entry stays, untagged.
        assert_eq!(idx.remove_tag("v1"), Some(d(2)));
        assert_eq!(idx.find_digest(&d(2)).unwrap().ref_name(), None);
        assert_eq!(idx.remove_tag("v1"), None);
        // Tagging an untagged manifest replaces its untagged entry.
        idx.set_tag("again", Entry::new(media_type::OCI_MANIFEST, &d(2), 20, None));
        assert_eq!(idx.entries().iter().filter(|e| e.digest() == &d(2)).count(), 1);
        assert_eq!(idx.remove_digest(&d(1)), 1);
        assert_eq!(idx.tags(), vec!["again"]);
        let p = Path::new("index.json");
        assert_eq!(LayoutIndex::parse(&idx.to_bytes().unwrap(), p).unwrap(), idx, "round trip");
    }

    #[test]
    fn foreign_fields_survive_and_bad_names_are_no_tags() {
        let text = format!(
            r#"{{"schemaVersion":2,"annotations":{{"x":"y"}},"manifests":[
            {{"mediaType":"{m}","digest":"{a}","size":3,"platform":{{"os":"linux"}},
              "annotations":{{"{REF_NAME}":"../../etc"}}}},
            {{"mediaType":"{m}","digest":"{a}","size":3,"annotations":{{"{REF_NAME}":"example.com/app:v1"}}}},
            {{"mediaType":"{m}","digest":"{b}","size":4,"annotations":{{"{REF_NAME}":"ok"}}}}]}}"#,
            m = media_type::OCI_MANIFEST,
            a = d(1),
            b = d(2)
        );
        let idx = LayoutIndex::parse(text.as_bytes(), Path::new("x/index.json")).unwrap();
        assert_eq!(idx.tags(), vec!["ok"]);
        let out: Value = serde_json::from_slice(&idx.to_bytes().unwrap()).unwrap();
        assert_eq!(out["annotations"]["x"], "y");
        assert_eq!(out["manifests"][0]["platform"]["os"], "linux");
        assert_eq!(out["manifests"][0]["annotations"][REF_NAME], "../../etc");
    }

    #[test]
    fn named_entries_are_seen_by_their_repository() {
        let named = |n: u8, name: &str| Entry::new(media_type::OCI_MANIFEST, &d(n), u64::from(n), Some(name));
        let entries = vec![
            named(1, "example.com/app:v1"),
            named(2, "docker.io/trial/app:v2"),
            named(1, "plain"),
            named(1, "example.com/app:Bad Tag"),
        ];
        let idx = LayoutIndex { entries, ..LayoutIndex::default() };
        assert_eq!(idx.named_repositories(), vec!["example.com/app", "trial/app"]);
        let app = idx.named_view("example.com/app");
        assert_eq!(app.tags(), vec!["v1"]);
        assert_eq!(app.find_tag("v1").unwrap().digest(), &d(1));
        let trial = idx.named_view(&repository_key("trial/app"));
        assert_eq!(trial.tags(), vec!["v2"]);
        assert_eq!(trial.find_tag("v2").unwrap().digest(), &d(2));
        assert!(idx.named_view(&repository_key("other")).is_empty());
        assert_eq!(idx.tags(), vec!["plain"], "the layout's own tags are the plain ones");
    }

    #[test]
    fn hostile_indexes_are_clear_errors() {
        let p = Path::new("/some/layout/index.json");
        for (bad, says) in [
            (&b"not json"[..], "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"schemaVersion":1,"manifests":[]}"#, "schemaVersion"),
            (br#"{"manifests":{}}"#, "not an array"),
            (br#"{"manifests":[{"mediaType":"a/b","digest":"sha256:../../x","size":1}]}"#, "manifests[0]"),
            (br#"{"manifests":[{"mediaType":"a/b","digest":"md5:abc","size":1}]}"#, "manifests[0]"),
            (br#"{"manifests":[{"mediaType":"a/b","size":1}]}"#, "no digest"),
            (br#"{"manifests":[{"mediaType":"a/b","digest":"sha256:00","size":-1}]}"#, "manifests[0]"),
        ] {
            let e = LayoutIndex::parse(bad, p).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
            let shown = e.to_string();
            assert!(shown.contains("/some/layout/index.json") && shown.contains(says), "{shown}");
        }
    }

    #[test]
    fn reads_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_index(dir.path()).unwrap().is_none());
        let mut idx = LayoutIndex::default();
        idx.set_tag("v1", Entry::new(media_type::OCI_MANIFEST, &d(1), 10, None));
        // A temp file left by a crash is ignored.
        std::fs::write(dir.path().join(format!("{TEMP_PREFIX}crashed")), b"{\"torn").unwrap();
        write_index(dir.path(), &idx).unwrap();
        assert_eq!(read_index(dir.path()).unwrap().unwrap(), idx);
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(names.len(), 2, "only the crash's leftover and index.json: {names:?}");
        let big = vec![b' '; MAX_INDEX_SIZE as usize + 1];
        std::fs::write(dir.path().join(INDEX_FILE), big).unwrap();
        assert_eq!(read_index(dir.path()).unwrap_err().kind(), ErrorKind::Unsupported);
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_index_json_has_its_target_written_and_a_fifo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let real = elsewhere.path().join("real-index.json");
        std::fs::write(&real, b"{}").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join(INDEX_FILE)).unwrap();
        write_atomically(dir.path(), INDEX_FILE, b"{\"schemaVersion\":2}").unwrap();
        let link = std::fs::symlink_metadata(dir.path().join(INDEX_FILE)).unwrap();
        assert!(link.file_type().is_symlink(), "the link stays");
        assert_eq!(std::fs::read(&real).unwrap(), b"{\"schemaVersion\":2}");
        let fifo = dir.path().join("oci-layout");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = write_atomically(dir.path(), "oci-layout", b"{}").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
}
