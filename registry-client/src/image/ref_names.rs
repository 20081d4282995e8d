//! Image names inside layouts and archives (`org.opencontainers.image.ref.name` of an OCI `index.json`,
//! `RepoTags` of a docker-archive): split into repository and tag, and repositories compared the way docker
//! compares them (docker's `reference` normalisation, as `registry_core`'s [`Repository`] parses it): `ubuntu`,
//! `library/ubuntu` and `docker.io/library/ubuntu` are one repository, `trial/app` and `docker.io/trial/app` another.
//! References given to a layout or archive client (`v1`, `@sha256:..`, `v1@sha256:..`) parsed. One rule for every
//! reader of such names (`OciArchive`, `DockerArchive`, `LayoutClient`). A leaf: it imports no other module of
//! this crate.

use registry_core::{Digest, Error, Reference, Repository, Result};

/// The annotation naming an `index.json` entry (OCI image spec, "Pre-Defined Annotation Keys"): a tag, or a
/// `repo:tag` name (skopeo's `oci:DIR:TAG`, ggcr, umoci).
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `name` (`repo:tag`, `host:port/org/app:tag`, or a bare `tag`) as (repository, tag); a bare tag has the
/// repository `""`. The tag is what follows the last `:` after the last `/`; it is not validated here.
pub(crate) fn split_name(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => ("", name),
    }
}

/// The key a repository name is compared by: docker's canonical form (`docker.io/library/ubuntu` for `ubuntu`,
/// `docker.io/trial/app` for `trial/app`, `index.docker.io/x/y` written `docker.io/x/y`, other hosts as given).
/// `""` stays `""`; a name docker's grammar refuses is kept as written (it then matches only itself).
pub(crate) fn repository_key(repository: &str) -> String {
    if repository.is_empty() {
        return String::new();
    }
    Repository::parse(repository).map(|r| r.name()).unwrap_or_else(|_| repository.to_string())
}

/// How docker shows a repository (its "familiar" name): Docker Hub's without `docker.io/`, and official images
/// without `library/` (`docker.io/library/ubuntu` is `ubuntu`, `docker.io/trial/app` is `trial/app`); others in
/// canonical form (`example.com/app`, `localhost:5000/org/app`). A name docker's grammar refuses is kept as written.
pub(crate) fn familiar_name(repository: &str) -> String {
    let Ok(parsed) = Repository::parse(repository) else { return repository.to_string() };
    if !parsed.registry().is_docker_hub() {
        return parsed.name();
    }
    let path = parsed.path();
    match path.strip_prefix("library/") {
        Some(official) if !official.contains('/') => official.to_string(),
        _ => path.to_string(),
    }
}

/// What a reference names: a tag, a digest, or both (`v1@sha256:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The tag, validated (docker tag grammar).
    pub(crate) tag: Option<String>,
    /// The digest, validated.
    pub(crate) digest: Option<Digest>,
}

/// Parse `reference` as a layout or archive client reads it: `v1`, `@sha256:...` or `v1@sha256:...` (resolved by
/// the digest). `InvalidInput` naming it when the tag or the digest
/// is malformed or it is empty.
pub(crate) fn parse_reference(reference: &str) -> Result<Parsed> {
    let (tag, digest) = match reference.split_once('@') {
        Some((tag, digest)) => (Some(tag).filter(|t| !t.is_empty()), Some(digest)),
        None => (Some(reference), None),
    };
    let tag = match tag {
        Some(t) => {
            Reference::check_tag(t).map_err(|e| {
                let hint = scope_hint(t).map(|h| format!(" ({h})")).unwrap_or_default();
                Error::invalid_input(format!("invalid reference {reference:?}: {e}{hint}"))
            })?;
            Some(t.to_string())
        }
        None => None,
    };
    let digest = digest
        .map(|d| Digest::parse(d).map_err(|e| Error::invalid_input(format!("invalid reference {reference:?}: {e}"))))
        .transpose()?;
    if tag.is_none() && digest.is_none() {
        return Err(Error::invalid_input("empty reference"));
    }
    Ok(Parsed { tag, digest })
}

/// A `digest` argument: `sha256:...` or `@sha256:...`. Anything else, a tag included, is `InvalidInput`.
pub(crate) fn parse_digest_arg(digest: &str) -> Result<Digest> {
    Digest::parse(digest.strip_prefix('@').unwrap_or(digest))
        .map_err(|e| Error::invalid_input(format!("{digest:?} is not a digest (sha256:<hex>): {}", e.message())))
}

/// A hint for a reference `repo:tag` given where a tag is expected: `with_segment("repo")` then the tag. `None`
/// when `reference` is no such name.
pub(crate) fn scope_hint(reference: &str) -> Option<String> {
    let (repo, tag) = split_name(reference);
    (!repo.is_empty() && !tag.is_empty())
        .then(|| format!("a name repo:tag is read as with_segment({repo:?}) and then tag {tag:?}"))
}

/// `names` for an error message: sorted as given, at most 20, then how many more (`a, b and 3 more`), or `none`.
pub(crate) fn shown_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 20;
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        return "none".to_string();
    }
    let mut out = names.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(split_name("app:v1"), ("app", "v1"));
        assert_eq!(split_name("localhost:5000/org/app:v1"), ("localhost:5000/org/app", "v1"));
        assert_eq!(split_name("localhost:5000/org/app"), ("", "localhost:5000/org/app"));
        assert_eq!(split_name("v1"), ("", "v1"));
    }

    #[test]
    fn repositories_compare_as_docker_normalises_them() {
        for same in ["ubuntu", "library/ubuntu", "docker.io/library/ubuntu", "index.docker.io/library/ubuntu"] {
            assert_eq!(repository_key(same), "docker.io/library/ubuntu", "{same}");
            assert_eq!(familiar_name(same), "ubuntu", "{same}");
        }
        for same in ["trial/app", "docker.io/trial/app"] {
            assert_eq!(repository_key(same), "docker.io/trial/app", "{same}");
            assert_eq!(familiar_name(same), "trial/app", "{same}");
        }
        assert_eq!(repository_key("example.com/app"), "example.com/app");
        assert_eq!(familiar_name("localhost:5000/org/app"), "localhost:5000/org/app");
        assert_eq!(familiar_name("docker.io/library/a/b"), "library/a/b");
        assert_eq!(repository_key(""), "");
        assert_eq!(repository_key("Bad Name"), "Bad Name");
        assert_eq!(shown_list(Vec::<&str>::new()), "none");
        assert!(scope_hint("example.com/app:v1").unwrap().contains("with_segment(\"example.com/app\")"));
        assert_eq!(scope_hint("v1"), None);
        let many: Vec<String> = (0..25).map(|i| format!("r{i}")).collect();
        assert!(shown_list(many.iter().map(String::as_str)).ends_with("r19 and 5 more"));
    }

    #[test]
    fn references() {
        let d = Digest::sha256(b"m");
        assert_eq!(parse_reference("v1").unwrap(), Parsed { tag: Some("v1".into()), digest: None });
        assert_eq!(parse_reference(&format!("@{d}")).unwrap(), Parsed { tag: None, digest: Some(d.clone()) });
        assert_eq!(parse_reference(&format!("v1@{d}")).unwrap().digest, Some(d.clone()));
        for bad in ["", "@", "Not:Valid", "-x", "../x", "a/b", "@sha256:zz", "v1@"] {
            assert_eq!(parse_reference(bad).unwrap_err().kind(), registry_core::ErrorKind::InvalidInput, "{bad:?}");
        }
        let e = parse_reference("example.com/app:v1").unwrap_err();
        assert!(e.to_string().contains("with_segment(\"example.com/app\")"), "{e}");
        assert_eq!(parse_digest_arg(&format!("@{d}")).unwrap(), d);
        assert!(parse_digest_arg("v1").is_err());
    }
}
