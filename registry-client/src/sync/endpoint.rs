//! Where images come from and go to: a spec's `source` / `target` strings ([`Endpoint`]), and one image's place
//! in a plan ([`ImageRef`]).

use std::fmt;
use std::path::PathBuf;

use registry_core::{Error, Reference, Registry, Repository, Result};
use serde::{Deserialize, Serialize};

/// One side of a sync entry, as written in the spec.
///
/// - `host/repo:tag` or `host/repo@sha256:<hex>`: one image;
/// - `host/repo`: a repository (every tag that passes the filters);
/// - `host/org/` (a trailing `/`): a prefix, every repository below it found through the catalog; `host/` is the
///   whole registry;
/// - `oci:DIR` or `oci:DIR:TAG`: an OCI layout tree ([`LayoutClient`](crate::LayoutClient)); without a tag it takes
///   the shape of the other side (a repository when that is an image or a repository, a tree of repositories when
///   that is a prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Endpoint {
    /// One image: `reference` is a tag (`"v1"`) or a digest (`"@sha256:<hex>"`).
    Image {
        /// `host[:port]`.
        registry: String,
        /// The repository path (`org/app`).
        repository: String,
        /// `"v1"` or `"@sha256:<hex>"`.
        reference: String,
    },
    /// Every tag of a repository.
    Repository {
        /// `host[:port]`.
        registry: String,
        /// The repository path (`org/app`).
        repository: String,
    },
    /// Every repository below `prefix` (`"team"`; `""` is the whole registry).
    Prefix {
        /// `host[:port]`.
        registry: String,
        /// The path below which repositories are taken, without a trailing `/`.
        prefix: String,
    },
    /// An OCI layout tree at `dir`, with a tag when `oci:DIR:TAG`.
    Layout {
        /// The layout tree's root directory.
        dir: PathBuf,
        /// The tag of `oci:DIR:TAG`.
        tag: Option<String>,
    },
}

impl Endpoint {
    /// Parse a spec's `source` or `target` string (forms above).
    ///
    /// The first path component must name the registry: it has a `.` or a `:` (`registry.example.com`,
    /// `127.0.0.1:5000`, `[::1]:5000`) or is `localhost`. A name without one (`alpine:3`) is refused: a sync job
    /// does not guess Docker Hub, write `docker.io/library/alpine:3`. Docker Hub's aliases are written `docker.io`
    /// and a single-component Docker Hub path gets `library/`, as docker does. Repository paths, tags (at most 128
    /// characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`) and digests (`sha256:` / `sha512:` with their
    /// hex) follow docker's reference grammar ([`registry_core::Reference`]); a path is lowercase.
    ///
    /// Errors: `InvalidInput` naming the string and what is wrong (no registry host, a bad host, port, path
    /// component, tag or digest, a tag and a digest together, an `oci:` form without a directory).
    pub fn parse(text: &str) -> Result<Endpoint> {
        let invalid = |reason: String| Error::invalid_input(format!("endpoint {text:?}: {reason}"));
        if text.is_empty() {
            return Err(invalid("empty".to_string()));
        }
        if let Some(rest) = text.strip_prefix(LAYOUT_SCHEME) {
            return parse_layout(rest).map_err(invalid);
        }
        if let Some(bad) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("contains {bad:?}")));
        }
        if text.contains("://") {
            // The reference grammar names the fix (no scheme; `insecure: true` for plain HTTP).
            let e = Registry::parse(text).err().map_or_else(|| "a URL scheme".to_string(), |e| e.to_string());
            return Err(invalid(e));
        }
        let Some((host, rest)) = text.split_once('/') else {
            return Err(invalid(format!(
                "names no repository: write HOST/REPO[:TAG] with the registry host first (a sync job does not \
                 guess Docker Hub: e.g. docker.io/library/{text}), or HOST/ for every repository of a registry"
            )));
        };
        if !is_host(host) {
            return Err(invalid(no_host(text)));
        }
        let registry = Registry::parse(host).map_err(|e| invalid(e.to_string()))?;
        if rest.is_empty() {
            return Ok(Endpoint::Prefix { registry: registry.as_str().to_string(), prefix: String::new() });
        }
        if let Some(prefix) = rest.strip_suffix('/') {
            if prefix.contains([':', '@']) {
                return Err(invalid("a prefix (ending in /) takes no tag or digest".to_string()));
            }
            let repository = Repository::new(registry, prefix).map_err(|e| invalid(e.to_string()))?;
            return Ok(Endpoint::Prefix {
                registry: repository.registry().as_str().to_string(),
                prefix: repository.path().to_string(),
            });
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (text, None),
        };
        let has_tag = name.rfind(':').is_some_and(|colon| name.rfind('/').is_some_and(|slash| colon > slash));
        if !has_tag && digest.is_none() {
            let repository = Repository::parse(text).map_err(|e| invalid(e.to_string()))?;
            return Ok(Endpoint::Repository {
                registry: repository.registry().as_str().to_string(),
                repository: repository.path().to_string(),
            });
        }
        if has_tag && digest.is_some() {
            return Err(invalid("give a tag or a digest, not both".to_string()));
        }
        let reference = Reference::parse(text).map_err(|e| invalid(e.to_string()))?;
        let identifier = match reference.digest() {
            Some(digest) => format!("@{digest}"),
            None => reference.identifier(),
        };
        Ok(Endpoint::Image {
            registry: reference.repository().registry().as_str().to_string(),
            repository: reference.repository().path().to_string(),
            reference: identifier,
        })
    }

    /// Whether this side names one image: [`Endpoint::Image`], or a layout with a tag (`oci:DIR:TAG`).
    pub fn is_single_image(&self) -> bool {
        matches!(self, Endpoint::Image { .. } | Endpoint::Layout { tag: Some(_), .. })
    }
}

impl fmt::Display for Endpoint {
    /// The spec's form: `host/repo:tag`, `host/repo@sha256:<hex>`, `host/repo`, `host/org/`, `oci:DIR[:TAG]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Image { registry, repository, reference } if reference.starts_with('@') => {
                write!(f, "{registry}/{repository}{reference}")
            }
            Endpoint::Image { registry, repository, reference } => write!(f, "{registry}/{repository}:{reference}"),
            Endpoint::Repository { registry, repository } => write!(f, "{registry}/{repository}"),
            Endpoint::Prefix { registry, prefix } if prefix.is_empty() => write!(f, "{registry}/"),
            Endpoint::Prefix { registry, prefix } => write!(f, "{registry}/{prefix}/"),
            Endpoint::Layout { dir, tag: None } => write!(f, "{LAYOUT_SCHEME}{}", dir.display()),
            Endpoint::Layout { dir, tag: Some(tag) } => write!(f, "{LAYOUT_SCHEME}{}:{tag}", dir.display()),
        }
    }
}

/// The scheme of an OCI layout endpoint.
const LAYOUT_SCHEME: &str = "oci:";

/// Whether the first path component names a registry host: it has a `.` or a `:`, or is `localhost`.
fn is_host(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

/// The message for a name whose first component is not a registry host.
fn no_host(text: &str) -> String {
    let hub = if text.contains('/') { format!("docker.io/{text}") } else { format!("docker.io/library/{text}") };
    format!(
        "names no registry host: a sync job does not guess Docker Hub, so name the registry first (e.g. {hub} or \
         registry.example.com/{text})"
    )
}

/// Parse what follows `oci:`: `DIR` or `DIR:TAG`, the tag following the last `:` after the last `/`.
fn parse_layout(rest: &str) -> std::result::Result<Endpoint, String> {
    let slash = rest.rfind('/');
    let (dir, tag) = match rest.rfind(':') {
        Some(colon) if slash.is_none_or(|slash| colon > slash) => (&rest[..colon], Some(&rest[colon + 1..])),
        _ => (rest, None),
    };
    if dir.is_empty() {
        return Err("no directory after oci: (write oci:DIR or oci:DIR:TAG)".to_string());
    }
    if dir.contains('\0') {
        return Err("the directory contains a NUL character".to_string());
    }
    if let Some(tag) = tag {
        if dir.ends_with("@sha256") || dir.ends_with("@sha512") {
            return Err("a layout endpoint takes a tag (oci:DIR:TAG), not a digest".to_string());
        }
        if tag.is_empty() {
            return Err("empty tag after the last ':' (write oci:DIR or oci:DIR:TAG)".to_string());
        }
        Reference::check_tag(tag).map_err(|e| e.to_string())?;
    }
    Ok(Endpoint::Layout { dir: PathBuf::from(dir), tag: tag.map(str::to_string) })
}

/// Where one image lives: a repository of a registry, or a repository of a layout tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// A repository of a registry.
    Registry {
        /// `host[:port]`.
        host: String,
        /// The repository path (`org/app`).
        repository: String,
    },
    /// A repository of an OCI layout tree: `repository` is the path below `dir` (`""`: the root layout itself).
    Layout {
        /// The layout tree's root directory.
        dir: PathBuf,
        /// The path below `dir` (`""`: `dir` itself is the layout).
        repository: String,
    },
}

/// One image of a plan: a [`Location`] and a tag or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImageRef {
    /// The repository.
    pub location: Location,
    /// A tag (`"v1"`) or a digest (`"@sha256:<hex>"`).
    pub reference: String,
}

impl fmt::Display for ImageRef {
    /// `host/repo:tag`, `host/repo@sha256:<hex>`, `oci:DIR/repo:tag` (`oci:DIR:tag` for the root layout).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::Registry { host, repository } => write!(f, "{host}/{repository}")?,
            Location::Layout { dir, repository } if repository.is_empty() => write!(f, "oci:{}", dir.display())?,
            Location::Layout { dir, repository } => write!(f, "oci:{}/{repository}", dir.display())?,
        }
        if self.reference.starts_with('@') {
            write!(f, "{}", self.reference)
        } else {
            write!(f, ":{}", self.reference)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ok(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refused(text: &str, needle: &str) {
        match Endpoint::parse(text) {
            Ok(e) => panic!("{text} parsed as {e:?}"),
            Err(e) => {
                assert_eq!(e.kind(), registry_core::ErrorKind::InvalidInput);
                assert!(e.message().contains(&format!("{text:?}")), "{e}");
                assert!(e.message().contains(needle), "want {needle:?}: {e}");
            }
        }
    }

    fn image(registry: &str, repository: &str, reference: &str) -> Endpoint {
        Endpoint::Image { registry: registry.into(), repository: repository.into(), reference: reference.into() }
    }

    #[test]
    fn every_form_parses_and_displays_back() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let cases = [
            ("127.0.0.1:5001/org/app:v1.2", image("127.0.0.1:5001", "org/app", "v1.2")),
            (
                &format!("registry.example.com/app@{digest}") as &str,
                image("registry.example.com", "app", &format!("@{digest}")),
            ),
            ("localhost/a/b/c", Endpoint::Repository { registry: "localhost".into(), repository: "a/b/c".into() }),
            ("[::1]:5000/app", Endpoint::Repository { registry: "[::1]:5000".into(), repository: "app".into() }),
            ("docker.io/library/alpine:3", image("docker.io", "library/alpine", "3")),
            ("a.io/team/", Endpoint::Prefix { registry: "a.io".into(), prefix: "team".into() }),
            ("a.io/team/sub/", Endpoint::Prefix { registry: "a.io".into(), prefix: "team/sub".into() }),
            ("a.io:443/", Endpoint::Prefix { registry: "a.io:443".into(), prefix: String::new() }),
            ("oci:/srv/airgap", Endpoint::Layout { dir: PathBuf::from("/srv/airgap"), tag: None }),
            ("oci:/srv/air:gap/base", Endpoint::Layout { dir: PathBuf::from("/srv/air:gap/base"), tag: None }),
            ("oci:/srv/airgap:v1", Endpoint::Layout { dir: PathBuf::from("/srv/airgap"), tag: Some("v1".into()) }),
            (
                "oci:relative/dir:latest",
                Endpoint::Layout { dir: PathBuf::from("relative/dir"), tag: Some("latest".into()) },
            ),
        ];
        for (text, want) in cases {
            let got = ok(text);
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), text, "display of {text}");
        }
    }

    #[test]
    fn docker_hub_is_written_canonically() {
        assert_eq!(ok("index.docker.io/alpine:3"), image("docker.io", "library/alpine", "3"));
        assert_eq!(
            ok("docker.io/alpine"),
            Endpoint::Repository { registry: "docker.io".into(), repository: "library/alpine".into() }
        );
        assert_eq!(
            ok("registry-1.docker.io/org/"),
            Endpoint::Prefix { registry: "docker.io".into(), prefix: "org".into() }
        );
    }

    #[test]
    fn single_image_sides() {
        assert!(ok("a.io/r:v1").is_single_image());
        assert!(ok("oci:/d:v1").is_single_image());
        assert!(!ok("oci:/d").is_single_image());
        assert!(!ok("a.io/r").is_single_image());
        assert!(!ok("a.io/r/").is_single_image());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let digest = format!("sha256:{}", "a".repeat(64));
        refused("", "empty");
        refused("alpine:3", "docker.io/library/alpine:3");
        refused("alpine", "names no repository");
        refused("library/alpine:3", "no registry host");
        refused("org/app/", "no registry host");
        refused("a.io", "names no repository");
        refused("http://a.io/app", "scheme");
        refused("a.io/Org/app", "lowercase");
        refused("a.io/org//app", "empty component");
        refused("a.io/app:", "tag");
        refused("a.io/app:-v1", "-v1");
        refused(&format!("a.io/app:{}", "t".repeat(129)), "128");
        refused("a.io/app@sha256:abc", "digest");
        refused(&format!("a.io/app:v1@{digest}"), "not both");
        refused("a.io/team:v1/", "no tag or digest");
        refused("a.io:99999/app", "port");
        refused("a.io/app v1", "' '");
        refused("oci:", "no directory");
        refused("oci::v1", "no directory");
        refused("oci:/d:", "empty tag");
        refused("oci:/d:bad tag", "bad tag");
        refused(&format!("oci:/d@{digest}"), "not a digest");
    }

    #[test]
    fn image_ref_display_forms() {
        let registry = Location::Registry { host: "127.0.0.1:5002".into(), repository: "mirror/org/app".into() };
        let layout = Location::Layout { dir: PathBuf::from("/srv/airgap"), repository: "base/os".into() };
        let root = Location::Layout { dir: PathBuf::from("/srv/airgap"), repository: String::new() };
        let digest = format!("@sha256:{}", "c".repeat(64));
        let cases = [
            (registry.clone(), "v1".to_string(), "127.0.0.1:5002/mirror/org/app:v1".to_string()),
            (registry, digest.clone(), format!("127.0.0.1:5002/mirror/org/app{digest}")),
            (layout.clone(), "12".to_string(), "oci:/srv/airgap/base/os:12".to_string()),
            (layout, digest.clone(), format!("oci:/srv/airgap/base/os{digest}")),
            (root, "12".to_string(), "oci:/srv/airgap:12".to_string()),
        ];
        for (location, reference, want) in cases {
            assert_eq!(ImageRef { location, reference }.to_string(), want);
        }
    }
}
