//! The access a request needs, as token scopes.

use std::fmt;

/// The access a request needs, as token scopes: `repository:<name>:<actions>` or `registry:catalog:*`, one or
/// several (a cross-repository mount needs pull on the source and push on the target, in one token).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Scope(Vec<String>);

impl Scope {
    /// No access beyond the registry itself: the version check `GET /v2/` (a token for it carries no scope).
    pub(crate) fn registry() -> Scope {
        Scope(Vec::new())
    }

    /// Pull access to a repository.
    pub(crate) fn pull(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull")])
    }

    /// Pull and push access to a repository.
    pub(crate) fn push(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }

    /// Delete (and pull) access to a repository.
    pub(crate) fn delete(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:delete,pull")])
    }

    /// Pull access to `source` and push access to `target`: a cross-repository blob mount.
    pub(crate) fn mount(source: &str, target: &str) -> Scope {
        Scope::push(target).and(Scope::pull(source))
    }

    /// Access to the catalog.
    pub(crate) fn catalog() -> Scope {
        Scope(vec!["registry:catalog:*".to_string()])
    }

    /// This access and `other`'s, in one token.
    #[must_use]
    pub(crate) fn and(mut self, other: Scope) -> Scope {
        for s in other.0 {
            if !self.0.contains(&s) {
                self.0.push(s);
            }
        }
        self
    }

    /// The scope strings, as sent to the token service.
    pub(crate) fn scopes(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}
