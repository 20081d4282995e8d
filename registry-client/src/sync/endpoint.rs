//! Where images come from and go to: a spec's `source` / `target` strings ([`Endpoint`]), and one image's place
//! in a plan ([`ImageRef`]).

use std::fmt;
use std::path::PathBuf;

use registry_core::{Error, Result};
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
    /// Parse a spec's `source` or `target` string (forms above). `InvalidInput` naming the string and what is wrong.
    pub fn parse(text: &str) -> Result<Endpoint> {
        Err(Error::unsupported(format!("endpoint {text}: not built yet")))
    }
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
