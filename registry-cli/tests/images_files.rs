//! How `regcli export`, `cp` to archives, `mutate` and `extract` treat the paths they write, run as the built
//! binary on OCI layouts (no registry needed): a symbolic link's target is written and the link kept, a FIFO or
//! device is streamed into, a directory or socket refused (exit 2); `-` is stdout for archives; a reader that
//! goes away ends an export quietly; the source archive is never overwritten; `mutate` needs a change, keeps the
//! source's `created` (the same change gives the same digest) and takes `-c` as an entrypoint argument; `extract`
//! leaves nothing at DIR when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod images_support;
mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use images_support::tar_bytes::Tar;
use images_support::{tree, two_layers};
use registry_client::{Client, DockerArchive, Image, ImageBuilder, ImageOptions, LayoutClient, OciArchive};
use serde_json::Value;
use support::{regcli, regcli_async, shown};

/// The `created` of the base image the tests mutate.
const BASE_CREATED: &str = "2023-11-14T22:13:20Z";

/// A layout at `dir/layout` holding the test image under `v1` (and a 1 MiB layer image under `big`); the layout
/// path and the image.
async fn layout(dir: &Path) -> (PathBuf, Image) {
    let path = dir.join("layout");
    let store = LayoutClient::open(&path).await.unwrap();
    let image =
        two_layers().iter().fold(ImageBuilder::new(), |b, l| b.layer(l.clone())).created(BASE_CREATED).build().unwrap();
    store.push_image("v1", &image).await.unwrap();
    let noise = mocks::seeded_bytes(7, 1 << 20).to_vec();
    let big = ImageBuilder::new().layer(Tar::new().file(b"noise", &noise).finish()).build().unwrap();
    store.push_image("big", &big).await.unwrap();
    (path, image)
}

fn oci(layout: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", layout.display())
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Read all of FIFO `path` on a thread (opening it waits for the writer).
fn read_fifo(path: &Path) -> std::thread::JoinHandle<Vec<u8>> {
    let path = path.to_path_buf();
    std::thread::spawn(move || fs::read(path).unwrap())
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_a_links_target_streams_into_a_fifo_and_refuses_a_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = layout(tmp.path()).await;
    let source = oci(&layout, "v1");
    let out = regcli_async(&["export", &source, "-"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let want = tree(&out.stdout);
    assert!(want.contains_key("etc/a"), "{:?}", want.keys());

    // A symbolic link: its target gets the tar, the link stays a link, nothing else is left in either place.
    let real = tmp.path().join("real.tar");
    fs::write(&real, b"old").unwrap();
    let link = tmp.path().join("link.tar");
    symlink("real.tar", &link).unwrap();
    let out = regcli_async(&["export", &source, s(&link)]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "link.tar is still a link");
    assert_eq!(tree(&fs::read(&real).unwrap()), want, "real.tar holds the export");
    let names: Vec<String> =
        fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "layout, link.tar, real.tar only: {names:?}");

    // A FIFO: written directly, the reader gets the whole tar, the FIFO stays a FIFO.
    let fifo = tmp.path().join("pipe");
    mkfifo(&fifo);
    let reader = read_fifo(&fifo);
    let out = regcli_async(&["export", &source, s(&fifo)]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(tree(&reader.join().unwrap()), want, "the FIFO's reader got the tar");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A character device is written directly too.
    let out = regcli_async(&["export", &source, "/dev/null"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(fs::symlink_metadata("/dev/null").unwrap().file_type().is_char_device());

    // A socket is refused before anything is read, exit 2, and stays a socket.
    let socket = tmp.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let out = regcli_async(&["export", &source, s(&socket)]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr(&out).contains("sock"), "{}", shown(&out));
    assert!(fs::symlink_metadata(&socket).unwrap().file_type().is_socket());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_pipe_closed_early_exits_0_without_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = layout(tmp.path()).await;
    let source = oci(&layout, "big");
    let status = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(support::regcli_path())
            .args(["export", &source, "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // As `| head -c 512`: read a little of the 1 MiB tar, then close the pipe.
        let mut first = [0u8; 512];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (child.wait().unwrap(), err)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0), "stderr: {}", status.1);
    assert_eq!(status.1, "", "nothing said");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_go_to_stdout_for_dash_follow_links_and_never_overwrite_their_source() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, image) = layout(tmp.path()).await;
    let source = oci(&layout, "v1");

    // `-`: the archive on stdout, nothing else there.
    let out = regcli_async(&["cp", &source, "oci-archive:-"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let file = tmp.path().join("from-stdout.tar");
    fs::write(&file, &out.stdout).unwrap();
    assert_eq!(&OciArchive::open(&file).await.unwrap().get_digest("v1").await.unwrap(), image.digest());
    let out = regcli_async(&["cp", &source, "docker-archive:-:org/app:v1"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let file = tmp.path().join("docker-from-stdout.tar");
    fs::write(&file, &out.stdout).unwrap();
    let docker = DockerArchive::open(&file).await.unwrap();
    let read = docker.with_segment("org/app").get_image("v1", ImageOptions::default()).await.unwrap();
    assert_eq!(read.config_descriptor().digest(), image.config_descriptor().digest());

    // `/dev/stdout` (a link the kernel resolves to the pipe): streamed, nothing else on stdout.
    let out = regcli_async(&["cp", &source, "docker-archive:/dev/stdout:org/app:v1"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(tree(&out.stdout).contains_key("manifest.json"), "{}", shown(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("copied "), "no report after the archive");
    let out = regcli_async(&["export", &source, "/dev/stdout"]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(tree(&out.stdout).contains_key("etc/a"), "{}", shown(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("exported "), "no report after the tar");
    assert!(fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink());

    // A link: its target is written, the link kept.
    let real = tmp.path().join("real.tar");
    fs::write(&real, b"old").unwrap();
    let link = tmp.path().join("link.tar");
    symlink(&real, &link).unwrap();
    let out = regcli_async(&["cp", &source, &format!("oci-archive:{}:v1", link.display())]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(&OciArchive::open(&real).await.unwrap().get_digest("v1").await.unwrap(), image.digest());

    // A FIFO gets the archive streamed.
    let fifo = tmp.path().join("pipe");
    mkfifo(&fifo);
    let reader = read_fifo(&fifo);
    let out = regcli_async(&["cp", &source, &format!("docker-archive:{}:org/app:v1", fifo.display())]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let streamed = tree(&reader.join().unwrap());
    assert!(streamed.contains_key("manifest.json"), "{:?}", streamed.keys());

    // A directory: exit 2.
    let out = regcli_async(&["cp", &source, &format!("oci-archive:{}", tmp.path().display())]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));

    // The source archive as the destination (by its name or through a link): refused, the archive unchanged.
    let before = fs::read(&real).unwrap();
    let alias = tmp.path().join("alias.tar");
    symlink("real.tar", &alias).unwrap();
    for dest in [&real, &alias] {
        let out = regcli_async(&[
            "cp",
            &format!("oci-archive:{}:v1", real.display()),
            &format!("oci-archive:{}:v2", dest.display()),
        ])
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        assert!(stderr(&out).contains("source archive"), "{}", shown(&out));
        let out = regcli_async(&[
            "mutate",
            &format!("oci-archive:{}:v1", real.display()),
            "-t",
            &format!("oci-archive:{}:v2", dest.display()),
            "--label",
            "a=b",
        ])
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        assert!(stderr(&out).contains("source archive"), "{}", shown(&out));
    }
    assert!(fs::read(&real).unwrap() == before, "the source archive is unchanged");
    let docker = tmp.path().join("d.tar");
    let out = regcli_async(&["cp", &source, &format!("docker-archive:{}:org/app:v1", docker.display())]).await;
    assert!(out.status.success(), "{}", shown(&out));
    let before = fs::read(&docker).unwrap();
    let out = regcli_async(&[
        "mutate",
        &format!("docker-archive:{}", docker.display()),
        "-t",
        &format!("docker-archive:{}:org/app:v2", docker.display()),
        "--env",
        "A=1",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(fs::read(&docker).unwrap() == before, "the docker-archive is unchanged");
}

async fn config_of(layout: &Path, tag: &str) -> Value {
    let store = LayoutClient::open(layout).await.unwrap();
    let image = store.get_image(tag, ImageOptions::default()).await.unwrap();
    serde_json::from_slice(image.config_bytes()).unwrap()
}

fn mutate_digest(args: &[&str]) -> String {
    let mut all = vec!["--format", "json", "mutate"];
    all.extend_from_slice(args);
    let out = regcli(&all);
    assert!(out.status.success(), "{}", shown(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", shown(&out)));
    json["digest"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_takes_dash_arguments_needs_a_change_and_gives_the_same_digest_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, image) = layout(tmp.path()).await;
    let source = oci(&layout, "v1");
    let source2 = source.clone();
    let (sh, twice, again, dated) = {
        let (l1, l2, l3, l4) =
            (oci(&layout, "sh"), oci(&layout, "twice"), oci(&layout, "again"), oci(&layout, "dated"));
        tokio::task::spawn_blocking(move || {
            let sh = mutate_digest(&[
                &source2,
                "-t",
                &l1,
                "--entrypoint",
                "/bin/sh",
                "--entrypoint",
                "-c",
                "--cmd",
                "echo hi",
                "--cmd",
                "-x",
            ]);
            let twice = mutate_digest(&[&source2, "-t", &l2, "--label", "k=v"]);
            let again = mutate_digest(&[&source2, "-t", &l3, "--label", "k=v"]);
            let dated = mutate_digest(&[&source2, "-t", &l4, "--label", "k=v", "--created", "2024-02-29T13:05:09Z"]);
            (sh, twice, again, dated)
        })
        .await
        .unwrap()
    };
    let config = config_of(&layout, "sh").await;
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]), "{config}");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["echo hi", "-x"]), "{config}");
    assert_ne!(sh, image.digest().to_string());

    // The same change of the same image: the same digest, the source's created kept.
    assert_eq!(twice, again, "the same mutate gives the same digest");
    assert_eq!(config_of(&layout, "twice").await["created"], BASE_CREATED);
    assert_eq!(config_of(&layout, "dated").await["created"], "2024-02-29T13:05:09Z");
    assert_ne!(dated, twice);

    // No change at all, or a bad --created: exit 2 before anything is written.
    for extra in [&[][..], &["--label", "k=v", "--created", "yesterday"][..]] {
        let mut args = vec!["mutate".to_string(), source.clone(), "-t".to_string(), oci(&layout, "none")];
        args.extend(extra.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = regcli_async(&refs).await;
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        let err = stderr(&out);
        assert!(err.contains(if extra.is_empty() { "nothing to change" } else { "yesterday" }), "{}", shown(&out));
    }
    let store = LayoutClient::open(&layout).await.unwrap();
    assert!(store.get_digest("none").await.is_err(), "nothing pushed");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_renames_a_finished_tree_into_place_and_leaves_nothing_when_it_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = layout(tmp.path()).await;
    let store = LayoutClient::open(&layout).await.unwrap();
    // A good first layer, then a hostile one: the extraction fails after writing the first.
    let good = Tar::new().file(b"first", b"written").finish();
    let bad = Tar::new().file(b"../outside/escaped", b"pwned").finish();
    store.push_image("bad", &ImageBuilder::new().layer(good).layer(bad).build().unwrap()).await.unwrap();
    let into = tmp.path().join("into");
    fs::create_dir(&into).unwrap();

    // Into a missing DIR: the tree, and no partial directory left beside it.
    let fresh = into.join("fresh");
    let out = regcli_async(&["extract", &oci(&layout, "v1"), s(&fresh)]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(fresh.join("etc/a").exists(), "{:?}", listing(&fresh));
    assert_eq!(listing(&into), ["fresh"]);

    // A failure into an existing empty DIR leaves it empty (no layer 1), and nothing beside it.
    let empty = into.join("empty");
    fs::create_dir(&empty).unwrap();
    let out = regcli_async(&["extract", &oci(&layout, "bad"), s(&empty)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(stderr(&out).contains("is empty again"), "{}", shown(&out));
    assert_eq!(listing(&empty), Vec::<String>::new(), "no layer left in DIR");
    assert_eq!(listing(&into), ["empty", "fresh"], "no partial directory left");

    // A failure into a missing DIR leaves no DIR.
    let missing = into.join("missing");
    let out = regcli_async(&["extract", &oci(&layout, "bad"), s(&missing)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(listing(&into), ["empty", "fresh"]);

    // Success into the empty DIR writes the tree in it (the directory itself kept: `.`, a mount point).
    let out = regcli_async(&["extract", &oci(&layout, "v1"), s(&empty)]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(empty.join("etc/a").exists());
    assert_eq!(listing(&into), ["empty", "fresh"]);

    // `.` (an empty working directory): written in place, the directory's own mode kept.
    let here = tmp.path().join("here");
    fs::create_dir(&here).unwrap();
    fs::set_permissions(&here, std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(support::regcli_path())
            .args(["extract", &oci(&layout, "v1"), "."])
            .current_dir(&here)
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{}", shown(&out));
    assert!(here.join("etc/a").exists(), "{:?}", listing(&here));
    let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&here).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o750, "the directory itself is kept");

    // --force into a non-empty DIR writes in place: what was there stays, the image's files are added.
    let out = regcli_async(&["extract", "--force", &oci(&layout, "big"), s(&fresh)]).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(fresh.join("noise").exists() && fresh.join("etc/a").exists(), "{:?}", listing(&fresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_stopped_by_sigterm_removes_its_partial_directory_only() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let store = LayoutClient::open(&layout).await.unwrap();
    // 32 MiB: long enough to be caught mid-way in a debug build.
    let noise = mocks::seeded_bytes(9, 32 << 20).to_vec();
    let big = ImageBuilder::new().layer(Tar::new().file(b"noise", &noise).finish()).build().unwrap();
    drop(noise);
    store.push_image("huge", &big).await.unwrap();
    drop(big);
    let into = tmp.path().join("into");
    fs::create_dir(&into).unwrap();
    fs::write(into.join("theirs"), b"keep").unwrap();
    let dir = into.join("rootfs");
    let source = oci(&layout, "huge");
    let (status, err, seen) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(support::regcli_path())
            .args(["extract", &source, s(&dir)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait (at most 60 s) for the partial directory, then SIGTERM.
        let mut seen = false;
        for _ in 0..12_000 {
            if listing(&into).iter().any(|n| n.starts_with(".rootfs.partial-")) {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if seen {
            let pid = child.id().to_string();
            assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        }
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (child.wait().unwrap(), err, seen)
    })
    .await
    .unwrap();
    assert!(seen, "the extraction ended before it could be interrupted: {status:?} {err}");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    let into = tmp.path().join("into");
    assert_eq!(listing(&into), ["theirs"], "no DIR, no partial directory, the neighbour kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_to_stdout_is_refused_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = layout(tmp.path()).await;
    let dests = [
        "oci-archive:-",
        "docker-archive:-:org/app:v1",
        "docker-archive:/dev/stdout:org/app:v1",
        "oci-archive:/dev/tty",
    ];
    let exports =
        [format!("export {} /dev/stdout", oci(&layout, "v1")), format!("export {} /dev/tty", oci(&layout, "v1"))];
    let commands = dests.iter().map(|dest| format!("cp {} {dest}", oci(&layout, "v1"))).chain(exports);
    for args in commands {
        let dest = &args;
        // script(1) gives the command a pty as stdout (and as its controlling terminal, /dev/tty).
        let command = format!("{} {args}", support::regcli_path());
        let out = tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .await
            .expect("script(1) from util-linux");
        assert_eq!(out.status.code(), Some(2), "{dest}: {}", shown(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("terminal") && text.contains("redirect"), "{dest}: {}", &text[..text.len().min(2000)]);
    }
}
