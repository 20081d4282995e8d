//! [`Repository`]: a registry and a path such as `library/alpine`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::error::ReferenceError;
use super::grammar::{looks_like_domain, reject_image_id, split_tag, validate_path};
use super::registry::{parse_domain, reject_scheme, Registry};

/// Prefix of single-component Docker Hub paths (the official images).
const OFFICIAL_PREFIX: &str = "library/";
/// Longest full name, `registry/path`.
const NAME_MAX_LEN: usize = 255;

/// A repository: a registry and a path such as `library/alpine`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Repository {
    registry: Registry,
    path: String,
}

impl Repository {
    /// Parse a repository name, `[registry/]path`: `alpine` is `docker.io/library/alpine`, `org/app` is
    /// `docker.io/org/app`. A tag or digest is rejected.
    pub fn parse(s: &str) -> Result<Repository, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if let Some((_, digest)) = s.split_once('@') {
            return Err(ReferenceError::UnexpectedDigest { input: s.to_string(), digest: digest.to_string() });
        }
        let (name, tag) = split_tag(s);
        if let Some(tag) = tag {
            return Err(ReferenceError::UnexpectedTag { input: s.to_string(), tag: tag.to_string() });
        }
        reject_image_id(s)?;
        parse_name(s, name)
    }

    /// A repository of `registry` at `path` (components joined by `/`), validated; no `library/` is added.
    ///
    /// An empty path is accepted and gives the registry's root, which is only meant as a base for
    /// [`join`](Self::join): references to it are rejected by `Reference::with_tag` and
    /// `Reference::parse_relative`.
    pub fn new(registry: Registry, path: &str) -> Result<Repository, ReferenceError> {
        let input = full_name(&registry, path);
        if !path.is_empty() {
            validate_path(&input, path)?;
        }
        check_name_length(&input, &registry, path)?;
        Ok(Repository { registry, path: path.to_string() })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The path, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository at `path/segment` (just `segment` when the path is empty); `segment` may contain `/`, and
    /// each of its components is validated.
    pub fn join(&self, segment: &str) -> Result<Repository, ReferenceError> {
        let path = if self.path.is_empty() { segment.to_string() } else { format!("{}/{segment}", self.path) };
        let input = full_name(&self.registry, &path);
        validate_path(&input, segment)?;
        check_name_length(&input, &self.registry, &path)?;
        Ok(Repository { registry: self.registry.clone(), path })
    }

    /// The full name, `registry/path`, e.g. `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        full_name(&self.registry, &self.path)
    }

    /// Reject the registry root (empty path) where a reference needs a real repository.
    pub(super) fn require_path(&self, input: &str) -> Result<(), ReferenceError> {
        if self.path.is_empty() {
            return Err(ReferenceError::InvalidPathComponent {
                input: input.to_string(),
                component: String::new(),
                reason: format!("the repository path is empty (registry {} only)", self.registry),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.registry)
        } else {
            write!(f, "{}/{}", self.registry, self.path)
        }
    }
}

impl FromStr for Repository {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Repository, ReferenceError> {
        Repository::parse(s)
    }
}

/// `registry/path`, or just `registry` for an empty path.
fn full_name(registry: &Registry, path: &str) -> String {
    if path.is_empty() {
        registry.as_str().to_string()
    } else {
        format!("{registry}/{path}")
    }
}

/// Parse `[domain/]path` (no tag or digest) into a repository; `input` is the whole input, for errors.
pub(super) fn parse_name(input: &str, name: &str) -> Result<Repository, ReferenceError> {
    reject_scheme(input)?;
    if name.is_empty() {
        return Err(ReferenceError::InvalidPathComponent {
            input: input.to_string(),
            component: String::new(),
            reason: "the repository name is missing".to_string(),
        });
    }
    let (registry, remainder) = match name.split_once('/') {
        Some((first, rest)) if looks_like_domain(first) => (parse_domain(input, first)?, rest),
        _ => (Registry::docker_hub(), name),
    };
    validate_path(input, remainder)?;
    let path = if registry.is_docker_hub() && !remainder.contains('/') {
        Cow::Owned(format!("{OFFICIAL_PREFIX}{remainder}"))
    } else {
        Cow::Borrowed(remainder)
    };
    check_name_length(input, &registry, &path)?;
    Ok(Repository { registry, path: path.into_owned() })
}

/// Reject a full name `registry/path` longer than [`NAME_MAX_LEN`].
fn check_name_length(input: &str, registry: &Registry, path: &str) -> Result<(), ReferenceError> {
    let length = registry.as_str().len() + 1 + path.len();
    if length > NAME_MAX_LEN {
        return Err(ReferenceError::NameTooLong { input: input.to_string(), length });
    }
    Ok(())
}
