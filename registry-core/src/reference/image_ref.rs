//! [`Reference`]: a repository with a tag, a digest, or both.

use std::fmt;
use std::str::FromStr;

use super::error::ReferenceError;
use super::grammar::{parse_digest, reject_image_id, split_tag, validate_tag};
use super::repository::{parse_name, Repository};
use crate::digest::Digest;

/// The tag of a reference given without tag or digest.
const DEFAULT_TAG: &str = "latest";

/// A reference to a manifest: a repository with a tag, a digest, or both.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reference {
    repository: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse `[registry/]path[:tag][@digest]`; without tag and digest the tag is `latest`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (s, None),
        };
        let (name, tag) = split_tag(rest);
        if tag.is_none() && digest.is_none() {
            reject_image_id(s)?;
        }
        let repository = parse_name(s, name)?;
        let tag = tag.map(|t| validate_tag(s, t)).transpose()?;
        let digest = digest.map(|d| parse_digest(s, d)).transpose()?;
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag,
        };
        Ok(Reference { repository, tag, digest })
    }

    /// Parse a tag and/or digest relative to `repository`: `v1`, `@sha256:...` or `v1@sha256:...`.
    ///
    /// A bare `sha256:...` is not a digest here: it is an invalid tag (tags cannot contain `:`).
    pub fn parse_relative(repository: &Repository, s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        repository.require_path(s)?;
        let (tag, digest) = match s.split_once('@') {
            Some((tag, digest)) => (tag, Some(digest)),
            None => (s, None),
        };
        let tag = if tag.is_empty() && digest.is_some() { None } else { Some(validate_tag(s, tag)?) };
        let digest = digest.map(|d| parse_digest(s, d)).transpose()?;
        Ok(Reference { repository: repository.clone(), tag, digest })
    }

    /// `repository:tag`, with `tag` validated.
    pub fn with_tag(repository: Repository, tag: &str) -> Result<Reference, ReferenceError> {
        let input = format!("{repository}:{tag}");
        repository.require_path(&input)?;
        let tag = validate_tag(&input, tag)?;
        Ok(Reference { repository, tag: Some(tag), digest: None })
    }

    /// `Ok` when `tag` is a tag in docker's grammar (`[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128 characters), else
    /// the [`ReferenceError`] naming it (`InvalidTag`, `TagTooLong`): for checking a tag before a repository is at
    /// hand, by the same rule as [`Reference::with_tag`].
    ///
    /// ```
    /// use registry_core::Reference;
    /// assert!(Reference::check_tag("v1.0-rc_1").is_ok());
    /// assert!(Reference::check_tag("-v1").is_err());
    /// assert!(Reference::check_tag(&"a".repeat(129)).is_err());
    /// ```
    pub fn check_tag(tag: &str) -> Result<(), ReferenceError> {
        validate_tag(tag, tag).map(|_| ())
    }

    /// `repository@digest`.
    pub fn with_digest(repository: Repository, digest: Digest) -> Reference {
        Reference { repository, tag: None, digest: Some(digest) }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The tag, if any (a reference parsed without tag nor digest has `latest`).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes in `/v2/<name>/manifests/<identifier>`: the digest when there is one (`name:tag@digest` resolves
    /// by digest), else the tag.
    pub fn identifier(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.as_str().to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}
