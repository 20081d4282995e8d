//! The hostile-archive corpus for safe unpacking (`registry_client::unpack_tar`, the writer behind
//! `Image::extract_to`). Every tar stream is built here byte by byte (ustar headers, PAX records, GNU long names),
//! so the odd ones are exactly what a hostile producer would send. Each test runs in a fresh temporary directory
//! holding the extraction directory `root/` and, beside it, `outside/` with a canary file: after every test the
//! whole temporary directory except `root/` must be exactly as before (same paths, kinds, contents, modes, times),
//! so nothing was created, changed or deleted outside. Refusals are `InvalidInput` errors whose message names the
//! entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use registry_client::{unpack_tar, DecompressionLimits, Error, ErrorKind, ExtractOptions, Result};

#[path = "extract_support/snapshot.rs"]
mod snapshot;
#[path = "extract_support/tar_bytes.rs"]
mod tar_bytes;

use snapshot::{snapshot, Node};
use tar_bytes::{Head, Tar, CHAR_DEVICE, DIRECTORY, FIFO, GNU_LONG_NAME, REGULAR, SYMLINK};

// ---------------------------------------------------------------------------------------------------------------
// The scene: a temporary directory with `root/` (extracted into) and `outside/` (canary), and its snapshot.

struct Scene {
    tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    canary: PathBuf,
    before: Option<BTreeMap<PathBuf, Node>>,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let canary = outside.join("canary");
        fs::write(&canary, b"canary").unwrap();
        fs::create_dir(outside.join("dir")).unwrap();
        Scene { tmp, root, outside, canary, before: None }
    }

    /// The snapshot of everything but `root/` is taken here: set up `root/` before calling.
    fn unpack_with(&mut self, tar: &[u8], options: &ExtractOptions) -> Result<()> {
        self.before = Some(snapshot(self.tmp.path(), &self.root));
        unpack_tar(tar, &self.root, options)
    }

    fn unpack(&mut self, tar: &[u8]) -> Result<()> {
        self.unpack_with(tar, &ExtractOptions::default())
    }

    /// Absolute path of `name` under the extraction directory.
    fn at(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn outside_str(&self) -> String {
        self.outside.to_str().unwrap().to_string()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let before = self.before.take().expect("the test unpacked nothing");
        let after = snapshot(self.tmp.path(), &self.root);
        assert_eq!(before, after, "something outside the extraction directory changed");
        assert_eq!(fs::read(&self.canary).unwrap(), b"canary");
    }
}

#[track_caller]
fn refused(result: Result<()>, kind: ErrorKind, names: &str) -> Error {
    let e = result.expect_err("the stream should have been refused");
    assert_eq!(e.kind(), kind, "{e}");
    assert!(e.to_string().contains(names), "the message should name {names}: {e}");
    e
}

fn file_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------------------------
// Names that leave the directory.

#[test]
fn dot_dot_escape_is_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().file(b"ok", b"fine").file(b"../escape", b"pwned").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"../escape\"");
    assert_eq!(file_bytes(&scene.at("ok")), b"fine", "entries before the bad one stay written");
}

#[test]
fn dot_dot_inside_a_path_is_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().dir(b"a").file(b"a/../../escape", b"pwned").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"a/../../escape\"");
    let tar = Tar::new().file(b"./b/../c", b"x").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"./b/../c\"");
    let tar = Tar::new().hard_link(b"x", b"a/../..").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"x\"");
}

#[test]
fn absolute_paths_land_inside() {
    let mut scene = Scene::new();
    let absolute = format!("{}/canary", scene.outside_str());
    let tar = Tar::new().file(absolute.as_bytes(), b"inside").file(b"/etc/passwd", b"root:x:0:0").finish();
    scene.unpack(&tar).unwrap();
    let landed = scene.root.join(absolute.trim_start_matches('/'));
    assert_eq!(file_bytes(&landed), b"inside");
    assert_eq!(file_bytes(&scene.at("etc/passwd")), b"root:x:0:0");
}

// ---------------------------------------------------------------------------------------------------------------
// Symlinks.

#[test]
fn write_through_a_symlink_to_the_parent_is_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().symlink(b"link", b"..").file(b"link/escape", b"pwned").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/escape\"");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(is_symlink(&scene.at("link")), "the symlink itself is kept");
}

#[test]
fn write_through_a_symlink_to_outside_is_refused() {
    let mut scene = Scene::new();
    let outside = scene.outside_str();
    let tar = Tar::new().symlink(b"link", outside.as_bytes()).file(b"link/canary", b"pwned").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/canary\"");
    // Deeper: a directory under the symlink, a new file there.
    let tar = Tar::new().dir(b"link/dir").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/dir\"");
    let tar = Tar::new().file(b"link/dir/new", b"pwned").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/dir/new\"");
    let tar = Tar::new().symlink(b"link/evil", b"/").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/evil\"");
}

#[test]
fn symlinks_may_point_anywhere_but_are_never_followed() {
    let mut scene = Scene::new();
    let tar = Tar::new().symlink(b"etc", b"/etc").symlink(b"up", b"../../..").symlink(b"dangling", b"nowhere").finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(fs::read_link(scene.at("etc")).unwrap(), Path::new("/etc"));
    assert_eq!(fs::read_link(scene.at("up")).unwrap(), Path::new("../../.."));
    assert_eq!(fs::read_link(scene.at("dangling")).unwrap(), Path::new("nowhere"));
}

#[test]
fn a_symlink_then_a_hard_link_through_it_is_refused() {
    let mut scene = Scene::new();
    let outside = scene.outside_str();
    // The link's target reached through the symlink.
    let tar = Tar::new().symlink(b"link", outside.as_bytes()).hard_link(b"stolen", b"link/canary").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"stolen\"");
    assert!(e.to_string().contains("link/canary"), "{e}");
    assert!(!scene.at("stolen").exists());
    // The link itself placed through the symlink.
    let tar = Tar::new().file(b"real", b"data").hard_link(b"link/planted", b"real").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"link/planted\"");
    assert!(!scene.outside.join("planted").exists());
}

#[test]
fn hard_links_to_paths_outside_are_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().hard_link(b"x", b"../outside/canary").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"x\"");
    let absolute = format!("{}/canary", scene.outside_str());
    let tar = Tar::new().hard_link(b"y", absolute.as_bytes()).finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"y\"");
    assert!(e.to_string().contains("does not exist"), "{e}");
    let tar = Tar::new().hard_link(b"z", b"").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"z\"");
    let tar = Tar::new().dir(b"d").hard_link(b"w", b"d").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"w\"");
    assert!(e.to_string().contains("directory"), "{e}");
    for name in ["x", "y", "z", "w"] {
        assert!(!scene.at(name).exists(), "{name}");
    }
}

#[test]
fn writing_to_a_hard_link_of_a_symlink_to_outside_leaves_the_canary() {
    let mut scene = Scene::new();
    let canary = scene.canary.to_str().unwrap().to_string();
    let tar = Tar::new()
        .symlink(b"sym", canary.as_bytes())
        .hard_link(b"hl", b"sym")
        .file(b"hl", b"pwned via the link")
        .file(b"sym", b"pwned via the symlink")
        .finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(file_bytes(&scene.at("hl")), b"pwned via the link");
    assert_eq!(file_bytes(&scene.at("sym")), b"pwned via the symlink");
    assert!(!is_symlink(&scene.at("hl")) && !is_symlink(&scene.at("sym")));
}

#[test]
fn a_hard_link_to_a_symlink_links_the_symlink_itself() {
    let mut scene = Scene::new();
    let canary = scene.canary.to_str().unwrap().to_string();
    let tar = Tar::new().symlink(b"sym", canary.as_bytes()).hard_link(b"hl", b"sym").finish();
    scene.unpack(&tar).unwrap();
    assert!(is_symlink(&scene.at("hl")), "hl is the symlink's inode, not the canary's");
    assert_ne!(fs::symlink_metadata(scene.at("hl")).unwrap().ino(), fs::metadata(&scene.canary).unwrap().ino());
}

#[test]
fn a_directory_symlink_replaced_then_written() {
    let mut scene = Scene::new();
    let outside = scene.outside_str();
    let tar = Tar::new().symlink(b"d", outside.as_bytes()).dir(b"d").file(b"d/canary", b"inside now").finish();
    scene.unpack(&tar).unwrap();
    assert!(fs::symlink_metadata(scene.at("d")).unwrap().is_dir());
    assert_eq!(file_bytes(&scene.at("d/canary")), b"inside now");
}

#[test]
fn a_symlink_already_in_the_directory_is_replaced_not_written_through() {
    let mut scene = Scene::new();
    fs::create_dir(&scene.root).unwrap();
    std::os::unix::fs::symlink(&scene.canary, scene.at("f")).unwrap();
    std::os::unix::fs::symlink(&scene.outside, scene.at("d")).unwrap();
    let tar = Tar::new().file(b"f", b"replaced").finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(file_bytes(&scene.at("f")), b"replaced");
    assert!(!is_symlink(&scene.at("f")));
    let tar = Tar::new().file(b"d/canary", b"pwned").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"d/canary\"");
}

#[test]
fn a_hard_link_already_in_the_directory_is_replaced_not_written_into() {
    let mut scene = Scene::new();
    fs::create_dir(&scene.root).unwrap();
    fs::hard_link(&scene.canary, scene.at("hl")).unwrap();
    let tar = Tar::new().file(b"hl", b"pwned").finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(file_bytes(&scene.at("hl")), b"pwned");
    assert_ne!(fs::metadata(scene.at("hl")).unwrap().ino(), fs::metadata(&scene.canary).unwrap().ino());
}

#[test]
fn a_directory_in_the_way() {
    let mut scene = Scene::new();
    let tar = Tar::new().dir(b"empty").file(b"empty", b"a file now").finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(file_bytes(&scene.at("empty")), b"a file now");
    let tar = Tar::new().file(b"full/x", b"x").symlink(b"full", b"/etc").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"full\"");
    assert!(e.to_string().contains("not empty"), "{e}");
    assert_eq!(file_bytes(&scene.at("full/x")), b"x");
}

// ---------------------------------------------------------------------------------------------------------------
// Devices and FIFOs.

#[test]
fn devices_and_fifos_are_skipped_without_the_option() {
    let mut scene = Scene::new();
    let null = Head { device: (1, 3), mode: 0o666, ..Head::new(b"dev/null", CHAR_DEVICE) };
    let tar = Tar::new().entry(null, b"").entry(Head::new(b"fifo", FIFO), b"").file(b"after", b"x").finish();
    scene.unpack(&tar).unwrap();
    assert!(fs::symlink_metadata(scene.at("dev/null")).is_err());
    assert!(fs::symlink_metadata(scene.at("fifo")).is_err());
    assert_eq!(file_bytes(&scene.at("after")), b"x");
}

#[test]
fn devices_and_fifos_are_made_with_the_option() {
    let mut scene = Scene::new();
    let null = Head { device: (1, 3), mode: 0o666, ..Head::new(b"dev/null", CHAR_DEVICE) };
    let fifo = Head { mode: 0o640, ..Head::new(b"fifo", FIFO) };
    let tar = Tar::new().entry(fifo, b"").entry(null, b"").finish();
    let result = scene.unpack_with(&tar, &ExtractOptions::new().devices(true));
    let meta = fs::symlink_metadata(scene.at("fifo")).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.mode() & 0o7777, 0o640);
    match result {
        Ok(()) => {
            let meta = fs::symlink_metadata(scene.at("dev/null")).unwrap();
            assert!(meta.file_type().is_char_device());
            assert_eq!(meta.rdev(), 0x103);
        }
        // Without CAP_MKNOD (not root, or a container that drops it) a device node cannot be made.
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Io, "{e}");
            assert!(e.to_string().contains("\"dev/null\""), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed streams.

/// x{size=0} before a ustar header claiming 1,024 bytes that hold another header: the PAX size wins (GNU tar 1.34
/// and Python 3.11's tarfile, run on these same bytes while writing this test, both list `carrier` (0 bytes) and
/// `smuggled` (5 bytes)), so the result is the same in every reader: nothing is hidden from one and shown by another.
#[test]
fn pax_size_smaller_than_the_header_size_reads_as_other_readers_do() {
    let mut scene = Scene::new();
    let inner = Tar::new().file(b"smuggled", b"EVIL!").0;
    let carrier = Head { size: inner.len() as u64, ..Head::new(b"carrier", REGULAR) };
    let tar = Tar::new().pax(&[(b"size", b"0")]).raw(&carrier.bytes()).raw(&inner).finish();
    scene.unpack(&tar).unwrap();
    assert_eq!(file_bytes(&scene.at("carrier")), b"");
    assert_eq!(file_bytes(&scene.at("smuggled")), b"EVIL!");
    assert_eq!(fs::read_dir(&scene.root).unwrap().count(), 2);
}

/// x{size=2048}, a GNU long name, `file_a`, `file_b` (GHSA-3pv8-6f4r-ffg2): the PAX record belongs to the file
/// entry after the long name, so there is one entry, `longname.txt`, of 2,048 bytes (GNU tar and Python agree).
#[test]
fn pax_size_applies_to_the_file_entry_not_the_long_name() {
    let mut scene = Scene::new();
    let long = Head { size: 13, ..Head::new(b"././@LongLink", GNU_LONG_NAME) };
    let file_a = Head { size: 16, ..Head::new(b"file_a", REGULAR) };
    let file_b = Head { size: 16, ..Head::new(b"file_b", REGULAR) };
    let tar = Tar::new()
        .pax(&[(b"size", b"2048")])
        .raw(&long.bytes())
        .padded(b"longname.txt\0")
        .raw(&file_a.bytes())
        .padded(b"AAAA_file_a_body")
        .raw(&file_b.bytes())
        .padded(b"BBBB_file_b_body")
        .finish();
    scene.unpack(&tar).unwrap();
    let names: Vec<_> = fs::read_dir(&scene.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["longname.txt"]);
    assert_eq!(fs::metadata(scene.at("longname.txt")).unwrap().len(), 2048);
}

/// x{size=600} before a 5-byte entry: the entry takes 600 bytes, swallowing the next header; what follows is no
/// header, and the stream is refused there (GNU tar fails too), naming the last entry read.
#[test]
fn pax_size_larger_than_the_header_size_swallows_the_next_header() {
    let mut scene = Scene::new();
    let tar = Tar::new().pax(&[(b"size", b"600")]).file(b"big", b"hello").file(b"next", b"abc").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"big\"");
    assert_eq!(fs::metadata(scene.at("big")).unwrap().len(), 600);
    assert!(!scene.at("next").exists());
}

#[test]
fn names_with_a_nul_or_empty_are_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().pax(&[(b"path", b"a\0b")]).file(b"placeholder", b"x").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"a\\0b\"");
    let tar = Tar::new().file(b"", b"x").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"\"");
    assert!(e.to_string().contains("empty"), "{e}");
    let tar = Tar::new().symlink(b"s", b"").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"s\"");
    let tar = Tar::new().pax(&[(b"linkpath", b"/etc\0/x")]).symlink(b"t", b"x").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"t\"");
    assert!(!scene.at("a").exists() && !scene.at("placeholder").exists() && !scene.at("t").exists());
}

#[test]
fn a_file_named_as_the_directory_itself_is_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().dir(b"./").file(b"./", b"x").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"./\"");
}

#[test]
fn ten_thousand_components_are_an_error_not_a_stack_overflow() {
    let mut scene = Scene::new();
    let deep = "a/".repeat(10_000) + "f";
    let tar = Tar::new().file(deep.as_bytes(), b"deep").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"a/a/a/a/");
    assert!(e.to_string().contains("20001 bytes"), "{e}");
    assert!(e.to_string().len() < 600, "the message is cut short");
    // The same depth as a GNU long name; and a chain of directories given one by one, down to PATH_MAX.
    let long = Head { size: deep.len() as u64 + 1, ..Head::new(b"././@LongLink", GNU_LONG_NAME) };
    let tar = Tar::new().raw(&long.bytes()).padded(format!("{deep}\0").as_bytes()).file(b"short", b"x").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"a/a/a/a/");
    let mut chain = Tar::new();
    let mut path = String::new();
    for _ in 0..500 {
        path.push_str("directory/");
        chain = chain.dir(path.as_bytes());
    }
    let e = scene.unpack(&chain.finish()).expect_err("past PATH_MAX");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("4,095"), "{e}");
}

#[test]
fn a_truncated_stream_is_refused_naming_the_entry() {
    let mut scene = Scene::new();
    let mut tar = Tar::new().file(b"whole", b"x").file(b"cut", &[7u8; 2000]).0;
    tar.truncate(512 + 512 + 512 + 100);
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"cut\"");
    assert!(e.to_string().contains("100 of its 2000 bytes"), "{e}");
    let mut tar = Tar::new().file(b"whole", b"x").file(b"next", b"y").0;
    tar.truncate(1024 + 200);
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"whole\"");
}

#[test]
fn an_unknown_entry_type_is_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().entry(Head::new(b"label", b'V'), b"").finish();
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"label\"");
}

#[test]
fn headers_past_a_mebibyte_are_refused_before_memory_fills() {
    let mut scene = Scene::new();
    let name = vec![b'n'; 2 << 20];
    let long = Head { size: name.len() as u64, ..Head::new(b"././@LongLink", GNU_LONG_NAME) };
    let tar = Tar::new().file(b"first", b"x").raw(&long.bytes()).padded(&name).file(b"short", b"x").finish();
    let e = refused(scene.unpack(&tar), ErrorKind::InvalidInput, "\"first\"");
    assert!(e.to_string().contains("1 MiB"), "{e}");
}

#[test]
fn more_than_a_mebibyte_after_the_end_is_refused() {
    let mut scene = Scene::new();
    let mut tar = Tar::new().file(b"f", b"x").finish();
    tar.extend(std::iter::repeat_n(0u8, 10 * 1024));
    scene.unpack(&tar).unwrap();
    tar.extend(std::iter::repeat_n(1u8, 2 << 20));
    refused(scene.unpack(&tar), ErrorKind::InvalidInput, "follows the end-of-archive blocks");
}

#[test]
fn file_contents_past_the_byte_cap_are_refused() {
    let mut scene = Scene::new();
    let tar = Tar::new().file(b"small", &[1u8; 60]).file(b"big", &[2u8; 60]).finish();
    let options = ExtractOptions::new().limits(DecompressionLimits::new().max_bytes(100));
    refused(scene.unpack_with(&tar, &options), ErrorKind::Unsupported, "\"big\"");
}

/// A reader giving `data` then failing with our own error inside an `io::Error`, as `Image::extract`'s stream does.
struct FailsAfter {
    data: io::Cursor<Vec<u8>>,
    error: Option<Error>,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        match self.error.take() {
            Some(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            None => Ok(0),
        }
    }
}

#[test]
fn the_stream_error_keeps_its_kind() {
    let mut scene = Scene::new();
    scene.before = Some(snapshot(scene.tmp.path(), &scene.root));
    let lie = || Error::new(ErrorKind::DigestMismatch, "layer sha256:abc: diff_id does not match");
    // Between entries.
    let data = Tar::new().file(b"first", b"x").0;
    let reader = FailsAfter { data: io::Cursor::new(data), error: Some(lie()) };
    let e = unpack_tar(reader, &scene.root, &ExtractOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    assert!(e.to_string().contains("diff_id does not match"), "{e}");
    // Inside an entry's data.
    let mut data = Tar::new().file(b"second", &[3u8; 4000]).0;
    data.truncate(512 + 1000);
    let reader = FailsAfter { data: io::Cursor::new(data), error: Some(lie()) };
    let e = unpack_tar(reader, &scene.root, &ExtractOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    // After the end-of-archive blocks (a layer's digest is checked at its end).
    let data = Tar::new().file(b"third", b"x").finish();
    let reader = FailsAfter { data: io::Cursor::new(data), error: Some(lie()) };
    let e = unpack_tar(reader, &scene.root, &ExtractOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
}

// ---------------------------------------------------------------------------------------------------------------
// What a well-formed stream gives: order, modes, times, ownership.

#[test]
fn contents_before_their_directories_and_modes_at_the_end() {
    let mut scene = Scene::new();
    let ro = Head { mode: 0o555, mtime: 1_000_000_000, ..Head::new(b"a/ro", DIRECTORY) };
    let a = Head { mode: 0o700, mtime: 1_100_000_000, ..Head::new(b"a", DIRECTORY) };
    let tool = Head { mode: 0o4755, mtime: 1_200_000_000, ..Head::new(b"a/ro/tool", REGULAR) };
    let tar = Tar::new()
        .entry(tool, b"#!/bin/sh\n")
        .file(b"a/ro/later", b"written after the read-only directory's entry")
        .entry(ro.clone(), b"")
        .file(b"a/ro/last", b"and after")
        .entry(a, b"")
        .hard_link(b"a/ro/tool-link", b"a/ro/tool")
        .finish();
    scene.unpack(&tar).unwrap();
    let meta = |p: &str| fs::symlink_metadata(scene.at(p)).unwrap();
    assert_eq!(meta("a/ro").mode() & 0o7777, 0o555);
    assert_eq!(meta("a/ro").mtime(), 1_000_000_000);
    assert_eq!(meta("a").mode() & 0o7777, 0o700);
    assert_eq!(meta("a").mtime(), 1_100_000_000);
    let tool = meta("a/ro/tool");
    assert_eq!(tool.mtime(), 1_200_000_000);
    assert_eq!(tool.mode() & 0o7777, 0o755, "set-uid is dropped without ownership");
    assert_eq!(meta("a/ro/tool-link").ino(), tool.ino());
    assert_eq!(file_bytes(&scene.at("a/ro/last")), b"and after");
    fs::set_permissions(scene.at("a/ro"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn pax_times_and_long_names() {
    let mut scene = Scene::new();
    let long = format!("{}/file", "long-directory-name".repeat(8));
    let tar =
        Tar::new().pax(&[(b"mtime", b"1234567890.5")]).file(b"precise", b"x").file(long.as_bytes(), b"y").finish();
    scene.unpack(&tar).unwrap();
    let meta = fs::metadata(scene.at("precise")).unwrap();
    assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_234_567_890, 500_000_000));
    assert_eq!(file_bytes(&scene.at(&long)), b"y");
}

#[test]
fn ownership_only_when_asked_and_root() {
    let mut scene = Scene::new();
    let owned = Head { uid: 4321, mode: 0o4755, ..Head::new(b"owned", REGULAR) };
    let link = Head { uid: 4321, link: b"owned", ..Head::new(b"link", SYMLINK) };
    let tar = Tar::new().entry(owned, b"x").entry(link, b"").finish();
    scene.unpack_with(&tar, &ExtractOptions::new().preserve_ownership(true)).unwrap();
    let me = fs::metadata(scene.tmp.path()).unwrap().uid();
    let file = fs::metadata(scene.at("owned")).unwrap();
    let link = fs::symlink_metadata(scene.at("link")).unwrap();
    if me == 0 {
        assert_eq!((file.uid(), file.gid()), (4321, 4321));
        assert_eq!((link.uid(), link.gid()), (4321, 4321));
        assert_eq!(file.mode() & 0o7777, 0o4755, "set-uid is kept with its owner");
    } else {
        assert_eq!(file.uid(), me);
        assert_eq!(file.mode() & 0o7777, 0o755);
    }
    // Not asked: the extracting user's, whoever that is.
    let mut other = Scene::new();
    let owned = Head { uid: 4321, ..Head::new(b"owned", REGULAR) };
    other.unpack(&Tar::new().entry(owned, b"x").finish()).unwrap();
    assert_eq!(fs::metadata(other.at("owned")).unwrap().uid(), me);
}
