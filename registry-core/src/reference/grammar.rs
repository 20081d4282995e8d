//! The docker reference grammar, piece by piece: where a name splits into domain, path, tag and digest, and which
//! hosts, ports, path components, tags and digests are valid. Errors name the whole input.

use super::error::ReferenceError;
use crate::digest::Digest;
use crate::error::ErrorKind;

/// Longest tag.
const TAG_MAX_LEN: usize = 128;

/// Split `name[:tag]`: the tag follows the last `:` that comes after the last `/`.
pub(super) fn split_tag(s: &str) -> (&str, Option<&str>) {
    let slash = s.rfind('/');
    match s.rfind(':') {
        Some(colon) if slash.is_none_or(|slash| colon > slash) => (&s[..colon], Some(&s[colon + 1..])),
        _ => (s, None),
    }
}

/// Reject a bare 64-character hex string, which docker reads as an image ID.
pub(super) fn reject_image_id(s: &str) -> Result<(), ReferenceError> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ReferenceError::AmbiguousIdentifier { input: s.to_string() });
    }
    Ok(())
}

/// Whether the part before the first `/` names a registry rather than the first path component.
pub(super) fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// Check `component ('.' component)*`, a component being `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
pub(super) fn validate_host(host: &str) -> Result<(), String> {
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
pub(super) fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

/// Check a repository path, `component ('/' component)*`; `input` is the whole input, for errors.
pub(super) fn validate_path(input: &str, path: &str) -> Result<(), ReferenceError> {
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
pub(super) fn validate_component(component: &str) -> Result<(), String> {
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
pub(super) fn validate_tag(input: &str, tag: &str) -> Result<String, ReferenceError> {
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
pub(super) fn parse_digest(input: &str, digest: &str) -> Result<Digest, ReferenceError> {
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
