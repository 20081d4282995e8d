//! Image names inside layouts and archives (`org.opencontainers.image.ref.name` of an OCI `index.json`,
//! `RepoTags` of a docker-archive): split into repository and tag, and repositories compared the way docker
//! compares them (docker's `reference` normalisation, as `registry_core`'s [`Repository`] parses it): `ubuntu`,
//! `library/ubuntu` and `docker.io/library/ubuntu` are one repository, `trial/app` and `docker.io/trial/app` another.
//! One rule for every reader of such names (`OciArchive`, `DockerArchive`, `LayoutClient`). A leaf: it imports no
//! other module of this crate.

use registry_core::Repository;

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
}
