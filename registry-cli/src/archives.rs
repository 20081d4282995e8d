//! `regcli cp` and `mutate` into archive files: an oci-archive (an image, or an index whole with its children,
//! digests unchanged) or a docker-archive (one image, as `docker load` takes it), through the library's streaming
//! writers. The file `-` is stdout (never a terminal); a symbolic link is followed, a FIFO or device streamed into
//! (the library's `FileTarget`); the source archive itself is never the destination.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use registry_client::{
    Client, Digest, DockerArchiveWriter, Error, FileTarget, Image, ImageOptions, OciArchiveWriter, Platform,
};

use crate::failure::Failure;

/// Whether an archive's file is `-`, stdout.
pub(crate) fn is_stdout(file: &Path) -> bool {
    file == Path::new("-")
}

/// Whether writing `file` writes stdout: `-`, or a path to the very file stdout is (`/dev/stdout`, the file
/// stdout was redirected to). Then nothing but the archive (or tar) may go to stdout.
pub(crate) fn goes_to_stdout(file: &Path) -> bool {
    if is_stdout(file) {
        return true;
    }
    let Ok(out) = std::io::stdout().as_fd().try_clone_to_owned().map(std::fs::File::from) else { return false };
    match (out.metadata(), std::fs::metadata(file)) {
        (Ok(out), Ok(named)) => (out.dev(), out.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

/// Stdout as a file to stream an archive into; exit 2 when it is a terminal.
fn stdout_file(kind: &str) -> Result<std::fs::File, Failure> {
    let out = std::io::stdout();
    if out.is_terminal() {
        return Err(Failure::usage(format!(
            "{kind}:- is stdout, a terminal: not writing an archive there; redirect it (> app.tar) or name a FILE"
        )));
    }
    let fd = out.as_fd().try_clone_to_owned().map_err(|e| Failure::failed(format!("cannot use stdout: {e}")))?;
    Ok(std::fs::File::from(fd))
}

/// The writer of the oci-archive `file` (`-`: stdout). Exit 2 for a path that cannot be an archive file.
pub(crate) async fn oci_writer(file: &Path) -> Result<OciArchiveWriter, Failure> {
    if is_stdout(file) {
        return Ok(OciArchiveWriter::to_stream(stdout_file("oci-archive")?, "-"));
    }
    OciArchiveWriter::create(file).await.map_err(Failure::from_input)
}

/// The writer of the docker-archive `file` (`-`: stdout). Exit 2 for a path that cannot be an archive file.
pub(crate) async fn docker_writer(file: &Path) -> Result<DockerArchiveWriter, Failure> {
    if is_stdout(file) {
        return Ok(DockerArchiveWriter::to_stream(stdout_file("docker-archive")?, "-"));
    }
    DockerArchiveWriter::create(file).await.map_err(Failure::from_input)
}

/// Whether `error` comes of a closed pipe (the reader of stdout went away: `| head`), which ends a run quietly.
pub(crate) fn is_broken_pipe(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Exit 2 when the archive `destination` would be written onto the archive the source `source_text`
/// (`oci-archive:FILE[:TAG]`, `docker-archive:FILE[:repo:tag]`) is read from: the same file (device and inode,
/// links followed). Writing it would replace the archive with only the new image.
pub(crate) fn refuse_same_file(source_text: &str, destination: &Path) -> Result<(), Failure> {
    if is_stdout(destination) {
        return Ok(());
    }
    let Some(rest) = source_text.strip_prefix("oci-archive:").or_else(|| source_text.strip_prefix("docker-archive:"))
    else {
        return Ok(());
    };
    let target = match FileTarget::of(destination) {
        Ok(FileTarget::Replace(path)) => path,
        _ => return Ok(()),
    };
    let Ok(dest) = std::fs::metadata(&target) else { return Ok(()) };
    // The source's FILE is `rest` or a part of it before a `:` (the tag after it).
    let candidates = std::iter::once(rest).chain(rest.match_indices(':').map(|(i, _)| &rest[..i]));
    for candidate in candidates.filter(|c| !c.is_empty()) {
        if let Ok(meta) = std::fs::metadata(candidate) {
            if meta.is_file() && (meta.dev(), meta.ino()) == (dest.dev(), dest.ino()) {
                return Err(Failure::usage(format!(
                    "{} is the source archive {candidate}: writing it would replace the archive with only the new \
                     image (the source and every other image in it lost); write another file",
                    destination.display()
                )));
            }
        }
    }
    Ok(())
}

/// What was written.
#[derive(Debug)]
pub(crate) struct Written {
    /// The digest of the manifest written under the tag (an index or an image).
    pub(crate) digest: Digest,
    /// The platform chosen from an index, when one was.
    pub(crate) platform: Option<String>,
    /// Blobs written (configs and layers, each image's counted).
    pub(crate) blobs: usize,
    /// Their bytes, by their descriptors' sizes.
    pub(crate) bytes: u64,
}

/// `Ok(false)` when `result` failed because the archive goes to stdout and its reader went away (`| head`):
/// the run ends quietly, as `cat` does. Another error is exit 1.
pub(crate) fn wrote(file: &Path, result: registry_client::Result<()>) -> Result<bool, Failure> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if is_broken_pipe(&e) && goes_to_stdout(file) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn add_up(images: &[Image]) -> (usize, u64) {
    images.iter().fold((0, 0u64), |(blobs, bytes), image| {
        let sizes = image.layers().iter().map(|l| l.size()).fold(image.config_descriptor().size(), u64::saturating_add);
        (blobs + 1 + image.layers().len(), bytes.saturating_add(sizes))
    })
}

/// The one image `platforms` (none or one) picks of `reference` (an index gives the host's platform without one).
async fn one_image(source: &dyn Client, reference: &str, platforms: &[Platform]) -> Result<Image, Failure> {
    let options =
        match platforms {
            [] => ImageOptions::default(),
            [one] => ImageOptions::default().platform(one.clone()),
            _ => return Err(Failure::usage(
                "several platforms go into an oci-archive whole (no --platform) or into oci:DIR; an archive takes one",
            )),
        };
    Ok(source.get_image(reference, options).await?)
}

/// Write `reference` of `source` to the oci-archive `file` under `tag`: an index whole when no platform is asked
/// for, else the one platform's image. `None` when stdout's reader went away.
pub(crate) async fn oci_archive(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    file: &Path,
    tag: &str,
) -> Result<Option<Written>, Failure> {
    let mut writer = oci_writer(file).await?;
    let top = source.get_manifest(reference).await?.into_manifest();
    let written = match (top.as_index(), platforms.is_empty()) {
        (Some(index), true) => {
            let mut children = Vec::with_capacity(index.manifests().len());
            for entry in index.manifests() {
                children.push(source.get_image(&format!("@{}", entry.digest()), ImageOptions::default()).await?);
            }
            if !wrote(file, writer.add_index(tag, &top, &children).await)? {
                return Ok(None);
            }
            let (blobs, bytes) = add_up(&children);
            Written { digest: top.digest().clone(), platform: None, blobs, bytes }
        }
        (index, _) => {
            let image = one_image(source, reference, platforms).await?;
            if !wrote(file, writer.add_image(tag, &image).await)? {
                return Ok(None);
            }
            let (blobs, bytes) = add_up(std::slice::from_ref(&image));
            let platform = index.map(|_| image.platform().to_string());
            Written { digest: image.digest().clone(), platform, blobs, bytes }
        }
    };
    if !wrote(file, writer.finish().await)? {
        return Ok(None);
    }
    Ok(Some(written))
}

/// Write one image of `reference` (the platform asked for, else the host's from an index) to the docker-archive
/// `file` named `name` (`repo:tag`). `None` when stdout's reader went away.
pub(crate) async fn docker_archive(
    source: &dyn Client,
    reference: &str,
    platforms: &[Platform],
    file: &Path,
    name: &str,
) -> Result<Option<Written>, Failure> {
    let image = one_image(source, reference, platforms).await?;
    let mut writer = docker_writer(file).await?;
    if !wrote(file, writer.add_image(&image, &[name]).await)? || !wrote(file, writer.finish().await)? {
        return Ok(None);
    }
    let (blobs, bytes) = add_up(std::slice::from_ref(&image));
    Ok(Some(Written { digest: image.digest().clone(), platform: Some(image.platform().to_string()), blobs, bytes }))
}
