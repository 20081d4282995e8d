//! Flattening without a server: hand-built layers in memory, the output read back with the `tar` crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use registry_core::manifest::{media_type as mt, Manifest};
use registry_core::{ByteStream, Digest, Error, ErrorKind, Result};
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::image::blocking::from_io;
use crate::image::builder::ImageBuilder;
use crate::image::compression::DecompressionLimits;
use crate::image::extract_options::ExtractOptions;
use crate::image::model::{BlobSource, Image, MemoryBlobs};

/// A flattened tree: path -> (kind: f d s h, content or link target).
type Tree = BTreeMap<String, (char, String)>;

/// One entry of a hand-built layer.
#[derive(Debug, Clone, Copy)]
pub(super) enum E<'a> {
    File(&'a str, &'a str),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Link(&'a str, &'a str),
}

pub(super) fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        match *e {
            E::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data.as_bytes()).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Sym(p, t) | E::Link(p, t) => {
                let sym = matches!(e, E::Sym(..));
                h.set_entry_type(if sym { tar::EntryType::Symlink } else { tar::EntryType::Link });
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub(super) fn image_of(layers: &[Vec<u8>]) -> Image {
    layers.iter().fold(ImageBuilder::new(), |b, l| b.layer(l.clone())).build().unwrap()
}

/// An image whose config lists `diff_ids` as given (right or wrong), layers stored with these media types.
fn image_with(layers: &[(Vec<u8>, &str)], diff_ids: &[String]) -> Image {
    let mut blobs = MemoryBlobs::new();
    let descs: Vec<_> = layers
        .iter()
        .map(|(data, m)| {
            let d = blobs.insert(Bytes::from(data.clone()));
            json!({"mediaType": m, "digest": d.to_string(), "size": data.len()})
        })
        .collect();
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": descs,
    });
    let manifest = Manifest::parse(serde_json::to_vec(&manifest).unwrap(), Some(mt::OCI_MANIFEST)).unwrap();
    Image::from_parts(manifest, config, Arc::new(blobs)).unwrap()
}

pub(super) async fn read_all(image: &Image, options: ExtractOptions) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image.extract_with(options).read_to_end(&mut out).await.map_err(|e| from_io(e, "reading the flattened tar"))?;
    Ok(out)
}

/// (kind, content or link target) of each entry of `tar`, in order.
fn entries(tar: &[u8]) -> Vec<(String, char, String)> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(tar);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let kind = match e.header().entry_type() {
            tar::EntryType::Regular => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 's',
            tar::EntryType::Link => 'h',
            t => panic!("unexpected type {t:?}"),
        };
        let mut body = String::new();
        e.read_to_string(&mut body).unwrap();
        if matches!(kind, 's' | 'h') {
            body = String::from_utf8(e.link_name_bytes().unwrap().into_owned()).unwrap();
        }
        out.push((path, kind, body));
    }
    out
}

/// The tree an extractor ends with: later entries replace earlier ones; a hard link must follow its target.
fn tree(tar: &[u8]) -> Tree {
    let mut map = BTreeMap::new();
    for (path, kind, body) in entries(tar) {
        if kind == 'h' {
            assert!(map.contains_key(&body), "hard link {path} comes before its target {body}");
        }
        map.insert(path, (kind, body));
    }
    map
}

fn expect(items: &[(&str, char, &str)]) -> Tree {
    items.iter().map(|(p, k, b)| (p.to_string(), (*k, b.to_string()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whiteout_rules_table() {
    let deep = (0..40).map(|i| format!("d{i}")).collect::<Vec<_>>().join("/");
    let deep_file = format!("{deep}/leaf");
    let long_name = format!("long/{}", "n".repeat(150));
    let longer = format!("long/{}/{}", "m".repeat(120), "o".repeat(200));
    let long_target = format!("/{}", "t".repeat(260));
    let cases: Vec<(&str, Vec<Vec<u8>>, Tree)> = vec![
        (
            "whiteout",
            vec![
                layer(&[E::Dir("a"), E::File("a/x", "x"), E::File("a/y", "y"), E::File("b", "b")]),
                layer(&[E::File("a/.wh.x", ""), E::File(".wh.b", "")]),
            ],
            expect(&[("a", 'd', ""), ("a/y", 'f', "y")]),
        ),
        (
            "opaque dir hides lower layers only",
            vec![
                layer(&[
                    E::Dir("d"),
                    E::File("d/old", "o"),
                    E::Dir("d/sub"),
                    E::File("d/sub/f", "f"),
                    E::File("e", "e"),
                ]),
                layer(&[E::Dir("d"), E::File("d/new", "n"), E::File("d/.wh..wh..opq", "")]),
            ],
            expect(&[("d", 'd', ""), ("d/new", 'f', "n"), ("e", 'f', "e")]),
        ),
        (
            "file replaced",
            vec![layer(&[E::File("f", "one")]), layer(&[E::File("f", "two")])],
            expect(&[("f", 'f', "two")]),
        ),
        (
            "dir replaced by symlink",
            vec![layer(&[E::Dir("p"), E::File("p/q", "q")]), layer(&[E::Sym("p", "/tmp")])],
            expect(&[("p", 's', "/tmp")]),
        ),
        (
            "symlink replaced by dir",
            vec![layer(&[E::Sym("s", "x")]), layer(&[E::Dir("s"), E::File("s/in", "i")])],
            expect(&[("s", 'd', ""), ("s/in", 'f', "i")]),
        ),
        (
            "file replaced by dir, dir by file",
            vec![
                layer(&[E::File("a", "file"), E::Dir("b"), E::File("b/c", "c")]),
                layer(&[E::Dir("a"), E::File("b", "now")]),
            ],
            expect(&[("a", 'd', ""), ("b", 'f', "now")]),
        ),
        (
            "hard links: same layer, and to a lower layer",
            vec![
                layer(&[E::File("t", "T"), E::Dir("h"), E::File("h/orig", "data"), E::Link("h/link", "h/orig")]),
                layer(&[E::Link("l", "t")]),
            ],
            expect(&[
                ("t", 'f', "T"),
                ("h", 'd', ""),
                ("h/orig", 'f', "data"),
                ("h/link", 'h', "h/orig"),
                ("l", 'h', "t"),
            ]),
        ),
        (
            "hard links whose target a higher layer replaced keep the old content",
            vec![layer(&[E::File("r", "old"), E::Link("rl", "r"), E::Link("rl2", "r")]), layer(&[E::File("r", "new")])],
            expect(&[("r", 'f', "new"), ("rl", 'f', "old"), ("rl2", 'h', "rl")]),
        ),
        (
            "hard link to a whited-out target keeps its content",
            vec![layer(&[E::File("w", "w"), E::Link("wl", "w")]), layer(&[E::File(".wh.w", "")])],
            expect(&[("wl", 'f', "w")]),
        ),
        (
            "hard link to a lower layer's file that a higher layer replaced is left out",
            vec![layer(&[E::File("x", "1")]), layer(&[E::Link("xl", "x")]), layer(&[E::File("x", "3")])],
            expect(&[("x", 'f', "3")]),
        ),
        (
            "whited-out dir comes back empty",
            vec![
                layer(&[E::Dir("w"), E::File("w/a", "a")]),
                layer(&[E::File(".wh.w", "")]),
                layer(&[E::Dir("w"), E::File("w/b", "b")]),
            ],
            expect(&[("w", 'd', ""), ("w/b", 'f', "b")]),
        ),
        (
            "root opaque marker",
            vec![layer(&[E::File("gone", "g")]), layer(&[E::File(".wh..wh..opq", ""), E::File("kept", "k")])],
            expect(&[("kept", 'f', "k")]),
        ),
        (
            "deep paths and long names",
            vec![
                layer(&[E::File(&deep_file, "deep"), E::File(&long_name, "long"), E::File(&longer, "x")]),
                layer(&[E::Sym("ln", &long_target), E::File(&longer, "longer")]),
            ],
            {
                let mut m = expect(&[("ln", 's', &long_target)]);
                m.insert(deep_file.clone(), ('f', "deep".into()));
                m.insert(long_name.clone(), ('f', "long".into()));
                m.insert(longer.clone(), ('f', "longer".into()));
                m
            },
        ),
        (
            "names normalised; the root entry and AUFS metadata left out",
            vec![
                layer(&[E::Dir("./"), E::File("./n/./m", "1"), E::File("x/.wh..wh.plnk", "")]),
                layer(&[E::File("n//m", "2"), E::File("./n/.wh..wh.aufs", "")]),
            ],
            expect(&[("n/m", 'f', "2")]),
        ),
    ];
    for (name, layers, want) in cases {
        let image = image_of(&layers);
        let out = read_all(&image, ExtractOptions::default()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = tree(&out);
        assert_eq!(got, want, "case {name}");
        assert!(entries(&out).iter().all(|(p, _, _)| !p.contains(".wh.")), "{name}: no whiteout emitted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_layer_duplicates_are_both_kept_in_order() {
    let image = image_of(&[layer(&[E::File("dup", "first"), E::File("other", "o"), E::File("dup", "second")])]);
    let out = read_all(&image, ExtractOptions::default()).await.unwrap();
    let dups: Vec<String> = entries(&out).into_iter().filter(|e| e.0 == "dup").map(|e| e.2).collect();
    assert_eq!(dups, vec!["first", "second"], "the later one last, so it is the one extracted");
    assert_eq!(tree(&out)["dup"], ('f', "second".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_owners_times_and_xattrs_are_kept() {
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.xattr.security.capability", &b"\x01\x00\x00\x02"[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_234_567_890);
    h.set_username("alice").unwrap();
    h.set_size(3);
    b.append_data(&mut h, "bin/tool", &b"abc"[..]).unwrap();
    let image = image_of(&[b.into_inner().unwrap()]);
    let out = read_all(&image, ExtractOptions::default()).await.unwrap();
    let mut ar = tar::Archive::new(&out[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let h = e.header().clone();
    assert_eq!((h.mode().unwrap(), h.uid().unwrap(), h.gid().unwrap()), (0o4755, 1234, 5678));
    assert_eq!(h.mtime().unwrap(), 1_234_567_890);
    assert_eq!(h.username().unwrap(), Some("alice"));
    let xattr: Vec<(String, Vec<u8>)> = e
        .pax_extensions()
        .unwrap()
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (r.key().unwrap().to_string(), r.value_bytes().to_vec()))
        .collect();
    assert_eq!(xattr, vec![("SCHILY.xattr.security.capability".to_string(), b"\x01\x00\x00\x02".to_vec())]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_zstd_plain_and_sniffed_layers() {
    let l1 = layer(&[E::File("gz", "g")]);
    let l2 = layer(&[E::File("zst", "z")]);
    let l3 = layer(&[E::File("plain", "p")]);
    let l4 = layer(&[E::File("sniffed-gz", "s")]);
    let l5 = layer(&[E::File("sniffed-plain", "q")]);
    let zst = ruzstd::encoding::compress_to_vec(&l2[..], ruzstd::encoding::CompressionLevel::Fastest);
    let diff_ids: Vec<String> = [&l1, &l2, &l3, &l4, &l5].iter().map(|l| Digest::sha256(l).to_string()).collect();
    let image = image_with(
        &[
            (gzip(&l1), mt::OCI_LAYER_GZIP),
            (zst, mt::OCI_LAYER_ZSTD),
            (l3.clone(), mt::DOCKER_LAYER_TAR),
            (gzip(&l4), "application/octet-stream"),
            (l5.clone(), "application/octet-stream"),
        ],
        &diff_ids,
    );
    let out = read_all(&image, ExtractOptions::default()).await.unwrap();
    let want = expect(&[
        ("gz", 'f', "g"),
        ("zst", 'f', "z"),
        ("plain", 'f', "p"),
        ("sniffed-gz", 'f', "s"),
        ("sniffed-plain", 'f', "q"),
    ]);
    assert_eq!(tree(&out), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_diff_id_or_count_is_an_error() {
    let good = layer(&[E::File("a", "a")]);
    let other = layer(&[E::File("b", "b")]);
    let image = image_with(
        &[(gzip(&good), mt::OCI_LAYER_GZIP), (other.clone(), mt::OCI_LAYER_TAR)],
        &[Digest::sha256(&good).to_string(), Digest::sha256(b"not the layer").to_string()],
    );
    let e = read_all(&image, ExtractOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    let layer_digest = Digest::sha256(&other).to_string();
    assert!(e.to_string().contains(&layer_digest) && e.to_string().contains("diff_id"), "{e}");
    assert_eq!(e.to_string().matches("(2 of 2)").count(), 1, "the layer is named once: {e}");
    let out = read_all(&image, ExtractOptions::default().verify_diff_ids(false)).await.unwrap();
    assert_eq!(tree(&out).len(), 2, "without the check it flattens");

    let image = image_with(&[(good.clone(), mt::OCI_LAYER_TAR)], &[]);
    let e = read_all(&image, ExtractOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("1 layers") && e.to_string().contains("0 entries"), "{e}");
}

/// A tar with one header `name` (raw bytes), of type `kind`, whose size field says `size`, with `data` after it.
fn raw_entry(name: &[u8], kind: u8, size: u64, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while rest + len.to_string().len() != len {
        len = rest + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pax_size_overrides_the_header_size_consistently() {
    // PAX says 5 bytes; the header says 0 (first) and 1024 (second). POSIX, Python tarfile, Go and GNU tar take
    // the PAX size: the data is 5 bytes and the next header follows the first block.
    for header_size in [0u64, 1024] {
        let mut tar = Vec::new();
        let rec = pax_record("size", "5");
        tar.extend(raw_entry(b"././@PaxHeader", b'x', rec.len() as u64, &rec));
        tar.extend(raw_entry(b"desync", b'0', header_size, b"hello"));
        tar.extend(raw_entry(b"after", b'0', 3, b"abc"));
        tar.extend([0u8; 1024]);
        let image = image_of(&[tar]);
        let out = read_all(&image, ExtractOptions::default()).await.unwrap();
        assert_eq!(tree(&out), expect(&[("desync", 'f', "hello"), ("after", 'f', "abc")]), "header size {header_size}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_headers_are_refused() {
    let mut tar = raw_entry(b"ok", b'0', 1, b"1");
    tar.extend(raw_entry(b"a/../../etc/passwd", b'0', 1, b"x"));
    tar.extend([0u8; 1024]);
    let e = read_all(&image_of(&[tar]), ExtractOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("a/../../etc/passwd"), "{e}");

    let mut tar = raw_entry(b"target", b'0', 1, b"1");
    let mut link = tar::Header::new_ustar();
    link.as_old_mut().name[..4].copy_from_slice(b"link");
    link.as_old_mut().linkname[..12].copy_from_slice(b"../../escape");
    link.set_entry_type(tar::EntryType::Link);
    link.set_size(0);
    link.set_cksum();
    tar.extend(link.as_bytes());
    tar.extend([0u8; 1024]);
    let e = read_all(&image_of(&[tar]), ExtractOptions::default()).await.unwrap_err();
    assert!(e.to_string().contains("hard link link") && e.to_string().contains("../../escape"), "{e}");

    // A PAX header of 3 MiB: refused, not read into memory.
    let big = pax_record("comment", &"c".repeat(3 << 20));
    let mut tar = raw_entry(b"././@PaxHeader", b'x', big.len() as u64, &big);
    tar.extend(raw_entry(b"f", b'0', 0, b""));
    tar.extend([0u8; 1024]);
    let e = read_all(&image_of(&[tar]), ExtractOptions::default().verify_diff_ids(false)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("runs past"), "{e}");

    // Data that ends inside an entry: an error, not a short entry.
    let mut tar = raw_entry(b"short", b'0', 4096, b"only a little");
    tar.truncate(1024);
    let e = read_all(&image_of(&[tar]), ExtractOptions::default()).await.unwrap_err();
    assert!(e.to_string().contains("short"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_ends_in_the_ratio_error() {
    // 320 MiB of zeros in one file (past the 256 MiB the ratio cap allows any layer), gzip-compressed as it is
    // generated (never held whole).
    let size: u64 = 320 << 20;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let image = image_with(&[(bomb, mt::OCI_LAYER_GZIP)], &[Digest::sha256(b"unknown").to_string()]);
    let mut reader = image.extract();
    let n = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
    let e = from_io(n.unwrap_err(), "bomb");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("ratio cap"), "{e}");
    let limits = DecompressionLimits::new().max_ratio(0).max_bytes(64 << 20);
    let e = read_all(&image, ExtractOptions::default().limits(limits)).await.unwrap_err();
    assert!(e.to_string().contains("cap of 67108864 bytes"), "{e}");
}

/// A layer source that sends `good` bytes, then fails (or sends generated bytes forever, counting them).
#[derive(Debug)]
struct Scripted {
    good: Bytes,
    fail: bool,
    sent: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl BlobSource for Scripted {
    async fn open(&self, _: &Digest, _: u64) -> Result<ByteStream> {
        let first = futures::stream::iter(vec![Ok(self.good.clone())]);
        if self.fail {
            let err = Error::new(ErrorKind::Protocol, "connection reset by the scripted source").with_status(502);
            return Ok(Box::pin(futures::StreamExt::chain(first, futures::stream::iter(vec![Err(err)]))));
        }
        let sent = self.sent.clone();
        let more = futures::stream::repeat_with(move || {
            sent.fetch_add(64 << 10, Ordering::Relaxed);
            Ok(Bytes::from(vec![b'x'; 64 << 10]))
        });
        Ok(Box::pin(futures::StreamExt::chain(first, more)))
    }
}

fn scripted_image(fail: bool, sent: Arc<AtomicU64>) -> Image {
    let mut h = tar::Header::new_ustar();
    h.set_path("big").unwrap();
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.set_cksum();
    let mut good = layer(&[E::File("first", "1")]);
    good.truncate(good.len() - 1024); // no end-of-archive: the stream goes on
    good.extend_from_slice(h.as_bytes());
    let good = Bytes::from(good);
    let d = Digest::sha256(&good);
    let config =
        json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d.to_string()]}});
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": mt::OCI_LAYER_TAR, "digest": d.to_string(), "size": 1u64 << 41}],
    });
    let manifest = Manifest::parse(serde_json::to_vec(&manifest).unwrap(), Some(mt::OCI_MANIFEST)).unwrap();
    Image::from_parts(manifest, config, Arc::new(Scripted { good, fail, sent })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_error_ends_the_stream_with_that_error() {
    let image = scripted_image(true, Arc::default());
    let mut out = Vec::new();
    let e = image.extract().read_to_end(&mut out).await.unwrap_err();
    let e = from_io(e, "reading");
    assert_eq!((e.kind(), e.status()), (ErrorKind::Protocol, Some(502)), "{e}");
    assert!(e.to_string().contains("scripted source"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_reader_stops_the_producer() {
    let sent = Arc::new(AtomicU64::new(0));
    let image = scripted_image(false, sent.clone());
    let mut reader = image.extract();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < 4 << 20 {
        got += reader.read(&mut buf).await.unwrap();
    }
    drop(reader);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = sent.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = sent.load(Ordering::Relaxed);
    assert_eq!(a, b, "the producer still reads the layer after the reader was dropped");
    assert!(a < 64 << 20, "it read {a} bytes for 4 MiB read");
}

#[test]
fn reading_outside_a_runtime_is_an_error_not_a_panic() {
    let image = image_of(&[layer(&[E::File("a", "a")])]);
    let mut reader = image.extract();
    let mut out = Vec::new();
    let e = futures::executor::block_on(reader.read_to_end(&mut out)).unwrap_err();
    let e = from_io(e, "reading");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(e.message(), "an image's filesystem must be read inside a tokio runtime (none is running)");
}

#[tokio::test]
async fn works_on_a_current_thread_runtime() {
    let image = image_of(&[layer(&[E::File("a", "one")]), layer(&[E::File("b", "two")])]);
    let out = read_all(&image, ExtractOptions::default()).await.unwrap();
    assert_eq!(tree(&out), expect(&[("a", 'f', "one"), ("b", 'f', "two")]));
}

/// A layer source whose stream panics when read.
#[derive(Debug)]
struct Panics;

#[async_trait::async_trait]
impl BlobSource for Panics {
    async fn open(&self, _: &Digest, _: u64) -> Result<ByteStream> {
        Ok(Box::pin(futures::stream::poll_fn(|_| -> std::task::Poll<Option<Result<Bytes>>> {
            panic!("the scripted source panics")
        })))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_of_the_producer_is_an_error_not_an_end() {
    let good = image_of(&[layer(&[E::File("a", "a")])]);
    let image = Image::from_parts(good.raw_manifest().clone(), good.config_bytes().clone(), Arc::new(Panics)).unwrap();
    let e = read_all(&image, ExtractOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains("panicked"), "{e}");
}
