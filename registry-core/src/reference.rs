//! Image references: `[registry/]path[:tag][@digest]`, validated on construction.
//!
//! The grammar is docker's (the `reference` package of the distribution project), with bracketed IPv6 registry
//! addresses as newer versions accept them:
//!
//! - the part before the first `/` is a registry domain when it contains `.` or `:`, is `localhost`, or contains an
//!   uppercase letter; otherwise the whole name is a path on Docker Hub, where a single-component path gets
//!   `library/` prepended (`alpine` is `docker.io/library/alpine`);
//! - `docker.io`, `index.docker.io` and `registry-1.docker.io` all name Docker Hub and are written `docker.io`;
//! - a domain is `component ('.' component)* [':' port]` or `'[' ipv6 ']' [':' port]`, a component being letters,
//!   digits and inner `-`, a port a number from 1 to 65535;
//! - a path is `component ('/' component)*`, a component being lowercase letters and digits separated by one `.`,
//!   one or two `_`, or any number of `-`;
//! - a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128 characters; it follows the last `:` after the last `/`;
//! - a digest follows `@` and must be a sha256 or sha512 digest (see [`Digest`]);
//! - the whole name (`registry/path`, as written after canonicalisation) is at most 255 characters.
//!
//! ```
//! use registry_core::{Reference, ReferenceError};
//!
//! let r: Reference = "alpine".parse().map_err(|e: ReferenceError| e.to_string())?;
//! assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
//! assert_eq!(r.repository().registry().api_host(), "registry-1.docker.io");
//! assert_eq!(r.identifier(), "latest");
//!
//! let r = Reference::parse("localhost:5000/team/app:v1").map_err(|e| e.to_string())?;
//! assert_eq!(r.repository().path(), "team/app");
//! assert!(r.repository().registry().is_loopback());
//! # Ok::<(), String>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// Docker Hub's canonical name.
const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API is served from.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Names that all mean Docker Hub (compared case-insensitively).
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
/// Prefix of single-component Docker Hub paths (the official images).
const OFFICIAL_PREFIX: &str = "library/";
/// The tag of a reference given without tag or digest.
const DEFAULT_TAG: &str = "latest";
/// Longest full name, `registry/path`.
const NAME_MAX_LEN: usize = 255;
/// Longest tag.
const TAG_MAX_LEN: usize = 128;
/// Longest input echoed in an error message.
const ECHO_MAX_LEN: usize = 300;

/// Why a reference, repository or registry name was rejected.
///
/// Every variant but [`Empty`](ReferenceError::Empty) carries the whole input (`input`) and the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The input is empty.
    #[error("invalid reference: empty string")]
    Empty,

    /// The full name, `registry/path`, is longer than 255 characters.
    #[error("invalid reference {}: name is {length} characters long, the maximum is 255", quoted(.input))]
    NameTooLong {
        /// The rejected input.
        input: String,
        /// Length of the full name, `registry/path` (Docker Hub names counted with `docker.io/` and `library/`).
        length: usize,
    },

    /// The registry domain (host part) is malformed.
    #[error("invalid reference {}: invalid registry domain {}: {reason}", quoted(.input), quoted(.domain))]
    InvalidDomain {
        /// The rejected input.
        input: String,
        /// The registry part, as written (`host[:port]`).
        domain: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The registry port is not a number from 1 to 65535.
    #[error(
        "invalid reference {}: invalid registry port {}: must be a number from 1 to 65535",
        quoted(.input),
        quoted(.port)
    )]
    InvalidPort {
        /// The rejected input.
        input: String,
        /// The port, as written.
        port: String,
    },

    /// The repository path contains uppercase letters.
    #[error("invalid reference {}: repository path must be lowercase ({})", quoted(.input), quoted(.path))]
    Uppercase {
        /// The rejected input.
        input: String,
        /// The repository path, as written.
        path: String,
    },

    /// A component of the repository path is malformed: empty (`a//b`, `/a`, `a/`), has a character other than
    /// lowercase letters, digits and separators, starts or ends with a separator, or has an invalid separator.
    #[error("invalid reference {}: invalid repository path component {}: {reason}", quoted(.input), quoted(.component))]
    InvalidPathComponent {
        /// The rejected input.
        input: String,
        /// The offending component (empty for an empty component or a missing path).
        component: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The input is a 64-character hex string, which looks like an image ID rather than a repository name.
    #[error(
        "invalid reference {}: a 64-character hexadecimal string is an image ID, not a repository name",
        quoted(.input)
    )]
    AmbiguousIdentifier {
        /// The rejected input.
        input: String,
    },

    /// The tag has a character outside `[A-Za-z0-9_.-]`, starts with `.` or `-`, or is empty.
    #[error("invalid reference {}: invalid tag {}: {}", quoted(.input), quoted(.tag), tag_rule(.tag))]
    InvalidTag {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
    },

    /// The tag is longer than 128 characters.
    #[error("invalid reference {}: tag is {length} characters long, the maximum is 128", quoted(.input))]
    TagTooLong {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
        /// Its length.
        length: usize,
    },

    /// The digest is malformed.
    #[error("invalid reference {}: invalid digest {}: {reason}", quoted(.input), quoted(.digest))]
    InvalidDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The digest is well formed but of an algorithm other than sha256 and sha512.
    #[error(
        "invalid reference {}: digest algorithm {} is not supported (only sha256 and sha512)",
        quoted(.input),
        quoted(.algorithm)
    )]
    UnsupportedDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
        /// Its algorithm.
        algorithm: String,
    },

    /// A repository name was expected but the input has a tag.
    #[error("invalid reference {}: a repository name cannot have a tag ({})", quoted(.input), quoted(.tag))]
    UnexpectedTag {
        /// The rejected input.
        input: String,
        /// The tag, as written.
        tag: String,
    },

    /// A repository name was expected but the input has a digest.
    #[error("invalid reference {}: a repository name cannot have a digest ({})", quoted(.input), quoted(.digest))]
    UnexpectedDigest {
        /// The rejected input.
        input: String,
        /// The digest, as written.
        digest: String,
    },
}

impl ReferenceError {
    /// The rejected input (empty for [`Empty`](ReferenceError::Empty)).
    pub fn input(&self) -> &str {
        match self {
            ReferenceError::Empty => "",
            ReferenceError::NameTooLong { input, .. }
            | ReferenceError::InvalidDomain { input, .. }
            | ReferenceError::InvalidPort { input, .. }
            | ReferenceError::Uppercase { input, .. }
            | ReferenceError::InvalidPathComponent { input, .. }
            | ReferenceError::AmbiguousIdentifier { input }
            | ReferenceError::InvalidTag { input, .. }
            | ReferenceError::TagTooLong { input, .. }
            | ReferenceError::InvalidDigest { input, .. }
            | ReferenceError::UnsupportedDigest { input, .. }
            | ReferenceError::UnexpectedTag { input, .. }
            | ReferenceError::UnexpectedDigest { input, .. } => input,
        }
    }

    /// The [`ErrorKind`] this error converts to: `Unsupported` for an unsupported digest algorithm, else
    /// `InvalidInput`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReferenceError::UnsupportedDigest { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<ReferenceError> for Error {
    fn from(e: ReferenceError) -> Error {
        Error::new(e.kind(), e.to_string()).with_source(e)
    }
}

/// `s` quoted for an error message, cut if very long.
fn quoted(s: &str) -> String {
    format!("{:?}", crate::error::truncate(s, ECHO_MAX_LEN))
}

/// The tag rule, for [`ReferenceError::InvalidTag`].
fn tag_rule(tag: &str) -> &'static str {
    if tag.is_empty() {
        "a tag cannot be empty"
    } else {
        "a tag must start with a letter, digit or '_' and contain only letters, digits, '_', '.' and '-'"
    }
}

/// A registry host: `host[:port]` or `[ipv6][:port]`, with Docker Hub's aliases written `docker.io`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Registry {
    /// The canonical name.
    name: String,
}

impl Registry {
    /// Parse a registry host, e.g. `localhost`, `localhost:5000`, `registry.example.com`, `127.0.0.1:5000`,
    /// `[::1]:5000`, `docker.io`.
    pub fn parse(s: &str) -> Result<Registry, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        parse_domain(s, s)
    }

    /// Docker Hub, `docker.io`.
    pub fn docker_hub() -> Registry {
        Registry { name: DOCKER_HUB.to_string() }
    }

    /// The canonical name: `docker.io` for Docker Hub (whichever alias was written), otherwise as written.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The `host[:port]` to connect to: `registry-1.docker.io` for Docker Hub, otherwise [`as_str`](Self::as_str).
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.name
        }
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.name == DOCKER_HUB
    }

    /// Whether the host is a loopback one: `localhost`, `127.0.0.0/8` or `[::1]` (also IPv4-mapped), with or
    /// without a port.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            return v4.is_loopback();
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            if let Ok(v6) = inner.parse::<Ipv6Addr>() {
                return v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
            }
        }
        false
    }

    /// The host without the port (an IPv6 address keeps its brackets).
    fn host(&self) -> &str {
        let name = self.name.as_str();
        if name.starts_with('[') {
            match name.find(']') {
                Some(end) => &name[..=end],
                None => name,
            }
        } else {
            name.split_once(':').map_or(name, |(host, _)| host)
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Registry {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Registry, ReferenceError> {
        Registry::parse(s)
    }
}

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
    /// [`join`](Self::join): references to it are rejected by [`Reference::with_tag`] and
    /// [`Reference::parse_relative`].
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
    fn require_path(&self, input: &str) -> Result<(), ReferenceError> {
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

/// `registry/path`, or just `registry` for an empty path.
fn full_name(registry: &Registry, path: &str) -> String {
    if path.is_empty() {
        registry.name.clone()
    } else {
        format!("{registry}/{path}")
    }
}

/// Split `name[:tag]`: the tag follows the last `:` that comes after the last `/`.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let slash = s.rfind('/');
    match s.rfind(':') {
        Some(colon) if slash.is_none_or(|slash| colon > slash) => (&s[..colon], Some(&s[colon + 1..])),
        _ => (s, None),
    }
}

/// Reject a bare 64-character hex string, which docker reads as an image ID.
fn reject_image_id(s: &str) -> Result<(), ReferenceError> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ReferenceError::AmbiguousIdentifier { input: s.to_string() });
    }
    Ok(())
}

/// Whether the part before the first `/` names a registry rather than the first path component.
fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// Parse `[domain/]path` (no tag or digest) into a repository; `input` is the whole input, for errors.
fn parse_name(input: &str, name: &str) -> Result<Repository, ReferenceError> {
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
    let length = registry.name.len() + 1 + path.len();
    if length > NAME_MAX_LEN {
        return Err(ReferenceError::NameTooLong { input: input.to_string(), length });
    }
    Ok(())
}

/// Parse a registry domain, `host[:port]` or `[ipv6][:port]`; `input` is the whole input, for errors.
fn parse_domain(input: &str, domain: &str) -> Result<Registry, ReferenceError> {
    let invalid =
        |reason: String| ReferenceError::InvalidDomain { input: input.to_string(), domain: domain.to_string(), reason };
    let port = if let Some(bracketed) = domain.strip_prefix('[') {
        let Some((address, rest)) = bracketed.split_once(']') else {
            return Err(invalid("an IPv6 address needs a closing ']'".to_string()));
        };
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(format!("{address:?} is not a valid IPv6 address")));
        }
        if rest.is_empty() {
            None
        } else if let Some(port) = rest.strip_prefix(':') {
            Some(port)
        } else {
            return Err(invalid(format!("unexpected {rest:?} after the IPv6 address")));
        }
    } else {
        if domain.matches(':').count() > 1 {
            return Err(invalid("an IPv6 address must be written in brackets, e.g. [::1]:5000".to_string()));
        }
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        validate_host(host).map_err(invalid)?;
        port
    };
    if let Some(port) = port {
        if !is_valid_port(port) {
            return Err(ReferenceError::InvalidPort { input: input.to_string(), port: port.to_string() });
        }
    }
    let name = if DOCKER_HUB_ALIASES.iter().any(|alias| domain.eq_ignore_ascii_case(alias)) {
        DOCKER_HUB.to_string()
    } else {
        domain.to_string()
    };
    Ok(Registry { name })
}

/// Check `component ('.' component)*`, a component being `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
fn validate_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".to_string());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err("empty domain component (leading, trailing or doubled '.')".to_string());
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!("invalid character {c:?} (allowed: letters, digits, '-' and '.')"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("domain component {label:?} must start and end with a letter or digit"));
        }
    }
    Ok(())
}

/// A port: 1 to 65535, digits only.
fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

/// Check a repository path, `component ('/' component)*`; `input` is the whole input, for errors.
fn validate_path(input: &str, path: &str) -> Result<(), ReferenceError> {
    let invalid = |component: &str, reason: String| ReferenceError::InvalidPathComponent {
        input: input.to_string(),
        component: component.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("", "the repository path is empty".to_string()));
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase { input: input.to_string(), path: path.to_string() });
    }
    for component in path.split('/') {
        if let Err(reason) = validate_component(component) {
            return Err(invalid(component, reason));
        }
    }
    Ok(())
}

/// Check `[a-z0-9]+ (separator [a-z0-9]+)*`, separator being `.`, `_`, `__` or `-`+.
fn validate_component(component: &str) -> Result<(), String> {
    let is_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if component.is_empty() {
        return Err("empty component (leading, trailing or doubled '/')".to_string());
    }
    if let Some(c) = component.chars().find(|c| !(is_alnum(*c) || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "invalid character {c:?} (allowed: lowercase letters, digits, and the separators '.', '_', '__', '-')"
        ));
    }
    if !component.starts_with(is_alnum) {
        return Err("must start with a lowercase letter or digit".to_string());
    }
    if !component.ends_with(is_alnum) {
        return Err("must end with a lowercase letter or digit".to_string());
    }
    for separator in component.split(is_alnum).filter(|s| !s.is_empty()) {
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return Err(format!(
                "invalid separator {separator:?} (allowed: one '.', one or two '_', or any number of '-')"
            ));
        }
    }
    Ok(())
}

/// Check a tag, `[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most [`TAG_MAX_LEN`] characters.
fn validate_tag(input: &str, tag: &str) -> Result<String, ReferenceError> {
    let first_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut bytes = tag.bytes();
    let valid = bytes.next().is_some_and(first_ok) && bytes.all(|b| first_ok(b) || b == b'.' || b == b'-');
    if !valid {
        return Err(ReferenceError::InvalidTag { input: input.to_string(), tag: tag.to_string() });
    }
    if tag.len() > TAG_MAX_LEN {
        return Err(ReferenceError::TagTooLong { input: input.to_string(), tag: tag.to_string(), length: tag.len() });
    }
    Ok(tag.to_string())
}

/// Parse the digest after `@`; `input` is the whole input, for errors.
fn parse_digest(input: &str, digest: &str) -> Result<Digest, ReferenceError> {
    let invalid =
        |reason: String| ReferenceError::InvalidDigest { input: input.to_string(), digest: digest.to_string(), reason };
    if digest.is_empty() {
        return Err(invalid("the digest is empty".to_string()));
    }
    match Digest::parse(digest) {
        Ok(d) => Ok(d),
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            // Docker's grammar wants at least 32 hex characters whatever the algorithm: anything shorter is
            // malformed rather than merely unsupported.
            let (algorithm, encoded) = digest.split_once(':').unwrap_or((digest, ""));
            if encoded.len() >= 32 && encoded.bytes().all(|b| b.is_ascii_hexdigit()) {
                Err(ReferenceError::UnsupportedDigest {
                    input: input.to_string(),
                    digest: digest.to_string(),
                    algorithm: algorithm.to_string(),
                })
            } else {
                Err(invalid(format!("the encoded part of a {algorithm:?} digest must be at least 32 hex characters")))
            }
        }
        Err(e) => {
            let prefix = format!("invalid digest {digest:?}: ");
            let message = e.message();
            Err(invalid(message.strip_prefix(&prefix).unwrap_or(message).to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
