//! The reference forms `regcli cp` takes, turned into a [`Client`] and a reference in its scope:
//!
//! - `host/repo:tag`, `host/repo@sha256:<hex>` (`host/repo` alone: `latest` as a source, the source's tag as a
//!   destination): a registry, through `RemoteClient` with the docker / podman keychain (or the `--username` /
//!   `--password-stdin` credentials when given);
//! - `oci:DIR[:TAG]`: an OCI layout directory (`LayoutClient`, skopeo's `oci:` form), either side;
//! - `oci-archive:FILE[:TAG]`: an oci-archive (read as a client; written by `archives`);
//! - `docker-archive:FILE[:repo:tag]`: a `docker save` archive (read as a client; written by `archives`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use registry_client::core::Registry;
use registry_client::{
    is_digest_tag, Client, DockerArchive, LayoutClient, ListOptions, OciArchive, ProgressFn, Reference, RemoteClient,
    Repository, TransferOptions,
};

use crate::failure::Failure;
use crate::settings::Settings;

/// One side of a copy.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The client, scoped to the repository.
    pub(crate) client: Arc<dyn Client>,
    /// A tag or `@sha256:<hex>`; `None` for a destination given without one.
    pub(crate) reference: Option<String>,
}

/// The reference forms as the user may write them, parsed (no I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    Registry { repository: Repository, reference: Option<String> },
    Layout { dir: PathBuf, tag: Option<String> },
    OciArchive { file: PathBuf, tag: Option<String> },
    DockerArchive { file: PathBuf, name: Option<(String, String)> },
}

/// A usage error about the reference `text` (echoed cut to 200 characters, so the reason after it shows).
fn bad(text: &str, why: impl std::fmt::Display) -> Failure {
    let shown: String = if text.chars().count() > 200 {
        format!("{}...", text.chars().take(200).collect::<String>())
    } else {
        text.to_string()
    };
    Failure::usage(format!("reference {shown:?}: {why}"))
}

/// A well-formed reference whose path holds the wrong thing (missing, not a layout): exit 1, as a docker-archive
/// that does not exist is.
fn wrong(text: &str, why: impl std::fmt::Display) -> Failure {
    Failure::failed(format!("reference {text:?}: {why}"))
}

/// The OCI layout file every layout directory has (OCI image-layout spec).
const OCI_LAYOUT_FILE: &str = "oci-layout";

/// `dir` is an existing OCI layout to read: a directory with an `oci-layout` file. Errors (exit 1) say which of
/// the three it is not: it does not exist, it is not a directory, it has no `oci-layout` file. Nothing is created.
fn existing_layout(text: &str, dir: &Path) -> Result<(), Failure> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(wrong(text, format!("{shown} does not exist"))),
        Err(e) => Err(wrong(text, format!("{shown}: {e}"))),
        Ok(m) if !m.is_dir() => Err(wrong(text, format!("{shown} is not a directory (an OCI layout is one)"))),
        Ok(_) if !dir.join(OCI_LAYOUT_FILE).is_file() => {
            Err(wrong(text, format!("{shown} is not an OCI layout (it has no {OCI_LAYOUT_FILE} file)")))
        }
        Ok(_) => Ok(()),
    }
}

/// `repo:tag` split at the last `:` after the last `/` (`None` when there is no tag).
fn split_name(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once(':').filter(|(repo, tag)| !repo.is_empty() && !tag.contains('/'))
}

fn check_tag(text: &str, tag: &str) -> Result<String, Failure> {
    Reference::check_tag(tag).map_err(|e| bad(text, e))?;
    Ok(tag.to_string())
}

/// `DIR[:TAG]`: the part after the last `:` is a tag when it is one (no `/`), else the whole is the path.
fn path_and_tag(text: &str, rest: &str) -> Result<(PathBuf, Option<String>), Failure> {
    if rest.is_empty() {
        return Err(bad(text, "no path"));
    }
    let last = rest.rsplit('/').next().unwrap_or(rest);
    if let Some((name, digest)) = last.split_once('@') {
        // `DIR@sha256:<hex>`: an image by digest (a layout or archive keeps untagged images by digest).
        let path = &rest[..rest.len().saturating_sub(last.len())];
        let digest = registry_client::Digest::parse(digest).map_err(|e| bad(text, format!("@{digest}: {e}")))?;
        if path.is_empty() && name.is_empty() {
            return Err(bad(text, "no path"));
        }
        return Ok((PathBuf::from(format!("{path}{name}")), Some(format!("@{digest}"))));
    }
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => {
            Ok((PathBuf::from(path), Some(check_tag(text, tag)?)))
        }
        _ => Ok((PathBuf::from(rest), None)),
    }
}

fn parse(text: &str) -> Result<Form, Failure> {
    if let Some(rest) = text.strip_prefix("oci:") {
        let (dir, tag) = path_and_tag(text, rest)?;
        return Ok(Form::Layout { dir, tag });
    }
    if let Some(rest) = text.strip_prefix("oci-archive:") {
        let (file, tag) = path_and_tag(text, rest)?;
        return Ok(Form::OciArchive { file, tag });
    }
    if let Some(rest) = text.strip_prefix("docker-archive:") {
        let (file, name) = match rest.split_once(':') {
            None => (rest, None),
            Some((file, name)) => {
                let (repo, tag) = name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).ok_or_else(|| {
                    bad(text, "the name after the archive's path must be repo:tag (docker-archive:FILE:repo:tag)")
                })?;
                (file, Some((repo.to_string(), check_tag(text, tag)?)))
            }
        };
        if file.is_empty() {
            return Err(bad(text, "no path"));
        }
        return Ok(Form::DockerArchive { file: PathBuf::from(file), name });
    }
    // A registry: the last path component says whether a tag or digest was given.
    let last = text.rsplit('/').next().unwrap_or(text);
    if text.contains('/') && (last.contains(':') || text.contains('@')) {
        let reference = Reference::parse(text).map_err(|e| bad(text, e))?;
        let id = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => format!("@{digest}"),
            (None, Some(tag)) => tag.to_string(),
            (None, None) => return Err(bad(text, "no tag or digest")),
        };
        return Ok(Form::Registry { repository: reference.repository().clone(), reference: Some(id) });
    }
    if !text.contains('/') {
        return Err(bad(
            text,
            "not a reference: use host/repo:tag, host/repo@sha256:.., oci:DIR[:TAG], oci-archive:FILE[:TAG] \
             or docker-archive:FILE[:repo:tag]",
        ));
    }
    let repository = Repository::parse(text).map_err(|e| bad(text, e))?;
    Ok(Form::Registry { repository, reference: None })
}

fn registry_client(
    repository: &Repository,
    settings: &Settings,
    progress: Option<ProgressFn>,
) -> Result<Arc<dyn Client>, Failure> {
    Ok(root_client(repository.registry().as_str(), settings, progress)?.with_segment(repository.path()))
}

/// A client of `host`'s root (no repository), with the global flags and credentials.
pub(crate) fn root_client(
    host: &str,
    settings: &Settings,
    progress: Option<ProgressFn>,
) -> Result<Arc<dyn Client>, Failure> {
    let mut transfer = TransferOptions::new();
    if let Some(progress) = progress {
        transfer = transfer.progress_fn(progress);
    }
    let builder = RemoteClient::builder(host)
        .insecure(settings.insecure)
        .tls_skip_verify(settings.tls_skip_verify)
        .transfer(transfer);
    let builder = match &settings.login {
        Some(login) => {
            login.claim(host)?;
            builder.basic_auth(login.username.clone(), login.password.clone())
        }
        None => builder.default_keychain(),
    };
    let client = builder.build().map_err(|e| Failure::usage(format!("registry {host}: {e}")))?;
    Ok(Arc::new(client))
}

async fn layout(dir: &PathBuf, progress: Option<ProgressFn>) -> Result<Arc<dyn Client>, Failure> {
    let mut transfer = TransferOptions::new();
    if let Some(progress) = progress {
        transfer = transfer.progress_fn(progress);
    }
    Ok(Arc::new(LayoutClient::open_with(dir, transfer).await?))
}

/// The source side of `text`: the client and the tag or digest to read (`latest` for a registry repository
/// given alone; the archive's only image when an archive names none).
pub(crate) async fn source(text: &str, settings: &Settings) -> Result<Resolved, Failure> {
    match parse(text)? {
        Form::Registry { repository, reference } => Ok(Resolved {
            client: registry_client(&repository, settings, None)?,
            reference: Some(reference.unwrap_or_else(|| "latest".to_string())),
        }),
        Form::Layout { dir, tag } => {
            existing_layout(text, &dir)?;
            let opened = LayoutClient::open_with(&dir, TransferOptions::new()).await?;
            let reference = match tag {
                Some(tag) => tag,
                None => only_image(text, &opened).await?,
            };
            Ok(Resolved { client: Arc::new(opened), reference: Some(reference) })
        }
        Form::OciArchive { file, tag } => {
            let archive = OciArchive::open(&file).await?;
            let reference = match tag {
                Some(tag) => tag,
                None => only_tag(text, &archive).await?,
            };
            Ok(Resolved { client: Arc::new(archive), reference: Some(reference) })
        }
        Form::DockerArchive { file, name } => {
            let archive = DockerArchive::open(&file).await?;
            match name {
                Some((repo, tag)) => Ok(Resolved { client: archive.with_segment(&repo), reference: Some(tag) }),
                None => {
                    let [only] = archive.images() else {
                        return Err(bad(
                            text,
                            format!(
                                "the archive holds {} images: name one (docker-archive:FILE:repo:tag)",
                                archive.images().len()
                            ),
                        ));
                    };
                    // Its one name, so a copy takes its tag; by digest when it has none.
                    match only.repo_tags.as_slice() {
                        [] => {
                            let reference = format!("@{}", only.manifest_digest);
                            Ok(Resolved { client: Arc::new(archive), reference: Some(reference) })
                        }
                        [name] => {
                            let Some((repo, tag)) = split_name(name) else {
                                return Err(wrong(text, format!("its RepoTags entry {name:?} is not repo:tag")));
                            };
                            Ok(Resolved { client: archive.with_segment(repo), reference: Some(tag.to_string()) })
                        }
                        names => Err(bad(
                            text,
                            format!(
                                "its image has {} names ({}): name one (docker-archive:FILE:repo:tag)",
                                names.len(),
                                names.join(", ")
                            ),
                        )),
                    }
                }
            }
        }
    }
}

/// What `regcli ls` lists: the tags of one repository, or the `repo:tag` names of a docker-archive holding several
/// repositories.
#[derive(Debug)]
pub(crate) enum Listing {
    /// A client scoped to the repository whose tags are listed.
    Tags(Arc<dyn Client>),
    /// Every `repo:tag` name of the archive (its `RepoTags`, as written), unsorted.
    Names(Vec<String>),
}

/// The repository `text` names, for commands that list it (`regcli ls`): `host/repo` (a tag or digest given with
/// it is refused), `oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE` (its one repository's tags; with several
/// repositories, every `repo:tag` name). Errors: a malformed form, or a tag where none belongs (exit 2); a layout
/// directory or archive that does not exist or cannot be opened (exit 1).
pub(crate) async fn repository(text: &str, settings: &Settings) -> Result<Listing, Failure> {
    match parse(text)? {
        Form::Registry { repository, reference: None } => {
            Ok(Listing::Tags(registry_client(&repository, settings, None)?))
        }
        Form::Registry { reference: Some(_), .. } => {
            Err(bad(text, "name a repository (host/repo), without a tag or digest"))
        }
        Form::Layout { dir, tag: None } => {
            existing_layout(text, &dir)?;
            Ok(Listing::Tags(Arc::new(LayoutClient::open_with(&dir, TransferOptions::new()).await?)))
        }
        Form::OciArchive { file, tag: None } => Ok(Listing::Tags(Arc::new(OciArchive::open(&file).await?))),
        Form::DockerArchive { file, name: None } => {
            let archive = DockerArchive::open(&file).await?;
            let repositories = archive.list_repositories(ListOptions::default()).await?;
            if let [only] = repositories.as_slice() {
                return Ok(Listing::Tags(archive.with_segment(only)));
            }
            Ok(Listing::Names(archive.images().iter().flat_map(|i| i.repo_tags.iter().cloned()).collect()))
        }
        Form::Layout { .. } | Form::OciArchive { .. } | Form::DockerArchive { .. } => {
            Err(bad(text, "name the layout or archive alone, without a tag"))
        }
    }
}

/// The registry `text` names as `HOST[/PREFIX]` (`regcli catalog`): the client of the registry's root, and the
/// repository prefix given (without its trailing `/`; empty for none). Errors: not a registry host (exit 2).
pub(crate) fn registry_root(text: &str, settings: &Settings) -> Result<(Arc<dyn Client>, String), Failure> {
    if ["oci:", "oci-archive:", "docker-archive:"].iter().any(|form| text.starts_with(form)) {
        return Err(bad(
            text,
            "catalog takes a registry host (HOST[:PORT][/PREFIX]); for a layout or archive use regcli ls oci:DIR",
        ));
    }
    if let Some((scheme, rest)) = text.split_once("://") {
        let plain = if scheme.eq_ignore_ascii_case("http") { " and add --insecure" } else { "" };
        return Err(bad(text, format!("write it without the URL scheme ({rest}){plain}")));
    }
    let (host, prefix) = match text.split_once('/') {
        Some((host, prefix)) => (host, prefix.trim_end_matches('/')),
        None => (text, ""),
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(bad(text, "not a registry host: use HOST[:PORT][/PREFIX]"));
    }
    if !prefix.is_empty() {
        Repository::parse(&format!("{host}/{prefix}")).map_err(|e| bad(text, e))?;
    }
    // The host as a host, even without a dot or port (`registry`): `Repository::parse` would take it as a path.
    let registry = Registry::parse(host).map_err(|e| bad(text, e))?;
    Ok((root_client(registry.as_str(), settings, None)?, prefix.to_string()))
}

/// The tags that may name "the one image": digest tags (the referrers tag schema's `sha256-<hex>`, cosign's
/// `.sig`, `.att`, `.sbom`) hold what refers to an image and are left out.
fn image_tags(tags: Vec<String>) -> Vec<String> {
    tags.into_iter().filter(|t| !is_digest_tag(t)).collect()
}

/// The tag of an archive that has exactly one (digest tags left out).
async fn only_tag(text: &str, client: &dyn Client) -> Result<String, Failure> {
    let tags = image_tags(client.list_tags(ListOptions::default()).await?);
    match tags.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(wrong(text, "it has no tagged image")),
        many => Err(bad(text, format!("it has {} tags ({}...): name one with :TAG", many.len(), many[0]))),
    }
}

/// The image of a layout named without a tag: its one tag (digest tags left out), else its one untagged image
/// (`@sha256:…`, as a copy by digest stores it).
async fn only_image(text: &str, layout: &LayoutClient) -> Result<String, Failure> {
    let tags = match layout.list_tags(ListOptions::default()).await {
        Ok(tags) => image_tags(tags),
        Err(e) if e.kind() == registry_client::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    match tags.as_slice() {
        [only] => return Ok(only.clone()),
        [] => {}
        many => return Err(bad(text, format!("it has {} tags ({}...): name one with :TAG", many.len(), many[0]))),
    }
    let untagged = layout.untagged_images().await?;
    match untagged.as_slice() {
        [only] => Ok(format!("@{only}")),
        [] => Err(wrong(text, "it holds no image (no tag, no untagged image)")),
        many => {
            let listed: Vec<String> = many.iter().map(ToString::to_string).collect();
            Err(bad(
                text,
                format!("it holds {} untagged images: name one with @DIGEST ({})", many.len(), listed.join(", ")),
            ))
        }
    }
}

/// Where a copy goes: a client (registry or layout) or an archive file written by a streaming writer.
#[derive(Debug)]
pub(crate) enum Destination {
    /// A registry repository or a layout directory.
    Client(Resolved),
    /// `oci-archive:FILE[:TAG]`.
    OciArchive {
        /// The archive to write.
        file: PathBuf,
        /// Its tag (`None`: the source's).
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:repo:tag]`.
    DockerArchive {
        /// The archive to write.
        file: PathBuf,
        /// Its `repo:tag` name (`None`: the source's repository and tag, when it has them).
        name: Option<String>,
    },
}

/// The destination side of `text`, a client reporting to `progress`: a registry repository or a layout
/// directory; or an archive file to write.
pub(crate) async fn destination(
    text: &str,
    settings: &Settings,
    progress: Option<ProgressFn>,
) -> Result<Destination, Failure> {
    match parse(text)? {
        Form::Registry { repository, reference } => {
            Ok(Destination::Client(Resolved { client: registry_client(&repository, settings, progress)?, reference }))
        }
        Form::Layout { dir, tag } => {
            if dir.exists() && !dir.is_dir() {
                return Err(bad(
                    text,
                    format!("{} exists and is not a directory (an OCI layout is one)", dir.display()),
                ));
            }
            check_parent(text, &dir)?;
            Ok(Destination::Client(Resolved { client: layout(&dir, progress).await?, reference: tag }))
        }
        Form::OciArchive { file, tag } => {
            check_parent(text, &file)?;
            refuse_terminal(text, &file)?;
            Ok(Destination::OciArchive { file, tag })
        }
        Form::DockerArchive { file, name } => {
            check_parent(text, &file)?;
            refuse_terminal(text, &file)?;
            Ok(Destination::DockerArchive { file, name: name.map(|(repo, tag)| format!("{repo}:{tag}")) })
        }
    }
}

/// Exit 2 (naming `text`) when `path` is a terminal (`/dev/tty`, `/dev/stdout` on a terminal, `/dev/pts/N`):
/// an archive or a tar is never written there. Only a character device is opened to ask (opening a FIFO would
/// wait for its reader).
pub(crate) fn refuse_terminal(text: &str, path: &Path) -> Result<(), Failure> {
    use std::io::IsTerminal;
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    if !meta.file_type().is_char_device() {
        return Ok(());
    }
    let terminal = std::fs::OpenOptions::new().write(true).open(path).is_ok_and(|f| f.is_terminal());
    if terminal {
        return Err(Failure::usage(format!(
            "{text}: {} is a terminal: not writing binary data there; redirect stdout (-) or name a FILE",
            path.display()
        )));
    }
    Ok(())
}

/// Exit 2 (naming `text`) when the directory `path` is to be written in does not exist: a destination file or
/// directory is made, never its parents (`mkdir`, not `mkdir -p`), so a typo in a path creates nothing. `-`
/// (stdout) and a path whose parent is the current directory always pass.
pub(crate) fn check_parent(text: &str, path: &Path) -> Result<(), Failure> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    match missing_parent(path) {
        Some(why) => Err(Failure::usage(format!("{text}: {why}"))),
        None => Ok(()),
    }
}

/// Why `path` cannot be made: `directory P does not exist (create it first)` or `directory P is not a
/// directory`; `None` when its directory is there (or is the current one).
pub(crate) fn missing_parent(path: &Path) -> Option<String> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    if parent.is_dir() {
        return None;
    }
    let why = if parent.exists() { "is not a directory" } else { "does not exist (create it first)" };
    Some(format!("directory {} {why}", parent.display()))
}

/// The `repo:tag` name a source has: `host/repo:tag` gives the name as docker would show the image pulled from
/// there (`host/repo:tag`; Docker Hub's without `docker.io/` and `library/`, as `docker save` writes
/// `ubuntu:24.04`); `docker-archive:FILE:repo:tag` its name; `docker-archive:FILE` the one `RepoTags` name of its
/// one image (the archive is opened). `None` otherwise.
async fn source_name(text: &str) -> Option<String> {
    match parse(text).ok()? {
        Form::Registry { repository, reference: Some(tag) } if !tag.starts_with('@') => {
            let path = repository.path();
            Some(if *repository.registry() == registry_client::core::Registry::docker_hub() {
                format!("{}:{tag}", path.strip_prefix("library/").unwrap_or(path))
            } else {
                format!("{}/{path}:{tag}", repository.registry())
            })
        }
        Form::DockerArchive { name: Some((repo, tag)), .. } => Some(format!("{repo}:{tag}")),
        Form::DockerArchive { file, name: None } => {
            let archive = DockerArchive::open(&file).await.ok()?;
            match archive.images() {
                [only] => match only.repo_tags.as_slice() {
                    [name] => Some(name.clone()),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The `repo:tag` name a docker-archive destination `file` writes: `given` (from `docker-archive:FILE:repo:tag`),
/// else the source's own (see `source_name`: a registry tag, or a docker-archive's one name). Errors (exit 2):
/// neither has one; the message says the destination needs the name.
pub(crate) async fn docker_archive_name(given: Option<String>, source: &str, file: &Path) -> Result<String, Failure> {
    if let Some(name) = given {
        return Ok(name);
    }
    source_name(source).await.ok_or_else(|| {
        Failure::usage(format!(
            "the destination docker-archive:{} needs a name for the image: the source {source} has no repo:tag of \
             its own; write docker-archive:{}:repo:tag",
            file.display(),
            file.display()
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_registry_source_names_its_archive_image_as_docker_would() {
        assert_eq!(source_name("127.0.0.1:5000/org/app:v1").await.as_deref(), Some("127.0.0.1:5000/org/app:v1"));
        assert_eq!(source_name("docker.io/library/ubuntu:24.04").await.as_deref(), Some("ubuntu:24.04"));
        assert_eq!(source_name("docker.io/me/app:v2").await.as_deref(), Some("me/app:v2"));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(source_name(&format!("127.0.0.1:5000/org/app@{digest}")).await, None);
    }

    #[tokio::test]
    async fn a_layout_without_a_tag_gives_its_one_tag_else_its_one_untagged_image() {
        use registry_client::ImageBuilder;
        let dir = tempfile::tempdir().unwrap();
        let layout = LayoutClient::open(dir.path()).await.unwrap();
        let empty = only_image("oci:x", &layout).await.unwrap_err();
        assert!(format!("{empty:?}").contains("holds no image"), "{empty:?}");
        let first = ImageBuilder::new().layer(b"one".to_vec()).build().unwrap();
        layout.push_image(&format!("@{}", first.digest()), &first).await.unwrap();
        assert_eq!(only_image("oci:x", &layout).await.unwrap(), format!("@{}", first.digest()));
        let second = ImageBuilder::new().layer(b"two".to_vec()).build().unwrap();
        layout.push_image(&format!("@{}", second.digest()), &second).await.unwrap();
        let many = only_image("oci:x", &layout).await.unwrap_err();
        assert!(format!("{many:?}").contains("2 untagged images"), "{many:?}");
        layout.push_image("v1", &second).await.unwrap();
        assert_eq!(only_image("oci:x", &layout).await.unwrap(), "v1", "one tag wins over untagged images");
    }

    #[test]
    fn forms_parse() {
        assert_eq!(parse("oci:/tmp/x:v1").unwrap(), Form::Layout { dir: "/tmp/x".into(), tag: Some("v1".into()) });
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            parse(&format!("oci:/tmp/x@{d}")).unwrap(),
            Form::Layout { dir: "/tmp/x".into(), tag: Some(format!("@{d}")) }
        );
        assert!(parse("oci:/tmp/x@sha256:nothex").is_err());
        assert_eq!(parse("oci:/tmp/x").unwrap(), Form::Layout { dir: "/tmp/x".into(), tag: None });
        assert_eq!(parse("oci:rel/dir").unwrap(), Form::Layout { dir: "rel/dir".into(), tag: None });
        assert_eq!(
            parse("docker-archive:/a.tar:localhost:5000/org/app:v2").unwrap(),
            Form::DockerArchive { file: "/a.tar".into(), name: Some(("localhost:5000/org/app".into(), "v2".into())) }
        );
        assert_eq!(parse("oci-archive:/a.tar").unwrap(), Form::OciArchive { file: "/a.tar".into(), tag: None });
        match parse("127.0.0.1:5000/org/app:v1").unwrap() {
            Form::Registry { repository, reference } => {
                assert_eq!(repository.registry().as_str(), "127.0.0.1:5000");
                assert_eq!(repository.path(), "org/app");
                assert_eq!(reference.as_deref(), Some("v1"));
            }
            other => panic!("{other:?}"),
        }
        match parse("127.0.0.1:5000/org/app").unwrap() {
            Form::Registry { reference, .. } => assert_eq!(reference, None),
            other => panic!("{other:?}"),
        }
        let digest = format!("sha256:{}", "a".repeat(64));
        match parse(&format!("127.0.0.1:5000/org/app@{digest}")).unwrap() {
            Form::Registry { reference, .. } => assert_eq!(reference, Some(format!("@{digest}"))),
            other => panic!("{other:?}"),
        }
    }

    fn settings() -> Settings {
        Settings {
            insecure: true,
            tls_skip_verify: false,
            format: crate::settings::Format::Text,
            progress: crate::settings::ProgressMode::Never,
            login: None,
        }
    }

    #[test]
    fn a_catalog_host_is_a_host_even_without_a_dot() {
        let (root, prefix) = registry_root("registry", &settings()).unwrap();
        assert_eq!(root.get_registry(), "registry", "not Docker Hub");
        assert_eq!(prefix, "");
        let (root, prefix) = registry_root("registry:5000/team/", &settings()).unwrap();
        assert_eq!(root.get_registry(), "registry:5000");
        assert_eq!(prefix, "team");
        for text in ["oci:air", "oci-archive:a.tar", "docker-archive:a.tar"] {
            let e = registry_root(text, &settings()).unwrap_err();
            assert_eq!(e.code, crate::failure::EXIT_USAGE, "{text}");
            assert!(e.message.contains("regcli ls oci:DIR"), "{text}: {}", e.message);
        }
        let e = registry_root("http://127.0.0.1:5000/", &settings()).unwrap_err();
        assert_eq!(e.code, crate::failure::EXIT_USAGE);
        assert!(e.message.contains("without the URL scheme (127.0.0.1:5000/) and add --insecure"), "{}", e.message);
        let long = format!("h:1/{}", "b".repeat(5000));
        let e = bad(&long, "the reason");
        assert!(e.message.len() < 300 && e.message.ends_with(": the reason"), "{}", e.message);
    }

    #[tokio::test]
    async fn digest_tags_do_not_count_as_the_one_image() {
        use registry_client::ImageBuilder;
        let dir = tempfile::tempdir().unwrap();
        let layout = LayoutClient::open(dir.path()).await.unwrap();
        let image = ImageBuilder::new().layer(b"one".to_vec()).build().unwrap();
        layout.push_image("v1", &image).await.unwrap();
        let hex = image.digest().hex().to_string();
        for tag in [format!("sha256-{hex}"), format!("sha256-{hex}.sig")] {
            layout.push_image(&tag, &image).await.unwrap();
        }
        assert_eq!(only_image("oci:x", &layout).await.unwrap(), "v1");
        assert_eq!(only_tag("oci:x", &layout).await.unwrap(), "v1");
        layout.push_image("v2", &image).await.unwrap();
        let many = only_image("oci:x", &layout).await.unwrap_err();
        assert!(many.message.contains("2 tags"), "{}", many.message);
    }

    #[test]
    fn bad_forms_name_the_input() {
        for text in ["app", "oci:", "oci:/x:-bad", "docker-archive:/a.tar:notag", "h:1/Org/App:v1"] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, crate::failure::EXIT_USAGE, "{text}");
            assert!(e.message.contains(text), "{text}: {}", e.message);
        }
    }
}
