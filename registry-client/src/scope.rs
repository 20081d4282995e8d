//! [`ClientScope`]: what a [`Client`](crate::Client) is scoped to, a registry host plus path segments, validated as
//! they are added. Every implementation (remote, fake) scopes through it, so segments join and fail the same way.

use std::sync::Arc;

use registry_core::{Error, Reference, Registry, Repository, Result};

/// A registry host and the path segments under it. An invalid host or segment does not fail at once: the scope
/// remembers the first one and every later use reports it as `InvalidInput` naming it.
#[derive(Debug, Clone)]
pub struct ClientScope {
    /// The host as given when it is invalid, else its canonical name.
    host: String,
    registry: Option<Registry>,
    segments: Vec<String>,
    invalid: Option<Arc<Error>>,
}

impl ClientScope {
    /// The root of `registry`.
    pub fn new(registry: Registry) -> ClientScope {
        ClientScope {
            host: registry.as_str().to_string(),
            registry: Some(registry),
            segments: Vec::new(),
            invalid: None,
        }
    }

    /// `host[:port]`, optionally followed by a path (`host/org/app`). A URL scheme (`http://`, `https://`) is
    /// invalid: the scheme is chosen with `insecure(true)` (plain HTTP), HTTPS otherwise, and the error says so.
    pub fn parse(target: &str) -> ClientScope {
        if let Some(invalid) = with_scheme(target) {
            return invalid;
        }
        let (host, path) = target.split_once('/').unwrap_or((target, ""));
        let root = match Registry::parse(host) {
            Ok(r) => ClientScope::new(r),
            Err(e) => ClientScope::invalid_host(host, format!("invalid registry host {host:?}: {e}")),
        };
        if path.is_empty() {
            root
        } else {
            root.join(path)
        }
    }

    /// A scope whose host is invalid for the reason `why`.
    fn invalid_host(host: &str, why: String) -> ClientScope {
        ClientScope {
            host: host.to_string(),
            registry: None,
            segments: Vec::new(),
            invalid: Some(Arc::new(Error::invalid_input(why))),
        }
    }

    /// This scope one segment deeper (`segment` may contain `/`, each component validated).
    #[must_use]
    pub fn join(&self, segment: &str) -> ClientScope {
        let mut child = self.clone();
        // Kept as given even when invalid, so `name()` (`get_registry`) shows what the client was scoped to.
        child.segments.extend(segment.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        if child.invalid.is_some() {
            return child;
        }
        let joined = match self.root_repository() {
            Ok(root) => root.join(segment).map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.message().to_string()),
        };
        if let Err(why) = joined {
            child.invalid = Some(Arc::new(Error::invalid_input(format!("invalid segment {segment:?}: {why}"))));
        }
        child
    }

    /// `Err` with the first invalid host or segment given.
    pub fn check(&self) -> Result<()> {
        match &self.invalid {
            Some(e) => Err(Error::new(e.kind(), e.message())),
            None => Ok(()),
        }
    }

    /// The registry, unless the host was invalid.
    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref()
    }

    /// `host[:port]` plus the segments, e.g. `registry.example.com/org/app` (what `get_registry` returns), invalid
    /// ones included as given.
    pub fn name(&self) -> String {
        let mut s = self.host.clone();
        for seg in &self.segments {
            s.push('/');
            s.push_str(seg);
        }
        s
    }

    /// The segments joined by `/` (empty at the registry root).
    pub fn path(&self) -> String {
        self.segments.join("/")
    }

    /// The scope as a repository, which may be the registry root (empty path).
    fn root_repository(&self) -> Result<Repository> {
        self.check()?;
        let registry = self.registry.clone().ok_or_else(|| Error::invalid_input("invalid registry host"))?;
        Repository::new(registry, &self.path()).map_err(Error::from)
    }

    /// The scoped repository; an error when a host or segment was invalid or there is no segment.
    pub fn repository(&self) -> Result<Repository> {
        let repo = self.root_repository()?;
        if repo.path().is_empty() {
            return Err(Error::invalid_input(format!(
                "client of {} has no repository: add one with with_segment",
                self.host
            )));
        }
        Ok(repo)
    }

    /// `reference` (`v1`, `@sha256:...`, `v1@sha256:...`) in the scoped repository.
    pub fn reference(&self, reference: &str) -> Result<Reference> {
        Reference::parse_relative(&self.repository()?, reference).map_err(Error::from)
    }
}

/// An invalid scope naming the fix when `target` starts with a URL scheme (`http://host:5000/org`).
fn with_scheme(target: &str) -> Option<ClientScope> {
    let (scheme, rest) = target.split_once("://")?;
    let fix = match scheme.to_ascii_lowercase().as_str() {
        "http" => "for a registry that serves plain HTTP, also call insecure(true)",
        "https" => "HTTPS is the default",
        _ => "the client speaks HTTPS, or plain HTTP with insecure(true)",
    };
    Some(ClientScope::invalid_host(
        target,
        format!("invalid registry host {target:?}: give host[:port] without a scheme ({rest:?}); {fix}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_remembers_the_first_invalid_segment() {
        let root = ClientScope::parse("registry.example.com");
        assert_eq!(root.name(), "registry.example.com");
        assert!(root.repository().is_err(), "the root is no repository");
        let app = root.join("org").join("app/web");
        assert_eq!(app.name(), "registry.example.com/org/app/web");
        assert_eq!(app.repository().map(|r| r.path().to_string()).ok().as_deref(), Some("org/app/web"));
        let bad = app.join("Bad").join("ok");
        let e = bad.check().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("invalid segment \"Bad\""), "{e}");
        assert_eq!(e.matches("invalid input").count(), 1, "said once: {e}");
        assert_eq!(bad.name(), "registry.example.com/org/app/web/Bad/ok", "what it was scoped to, as given");
        assert!(ClientScope::parse("not a host!/x").check().is_err());
        assert_eq!(ClientScope::parse("localhost:5000/a/b").path(), "a/b");
    }

    #[test]
    fn a_scheme_in_the_host_names_the_fix() {
        for (target, fix) in [
            ("http://localhost:5000", "insecure(true)"),
            ("http://localhost:5000/org/app", "insecure(true)"),
            ("HTTP://localhost:5000", "insecure(true)"),
            ("https://registry.example.com", "HTTPS is the default"),
            ("https://registry.example.com:443/org", "HTTPS is the default"),
            ("ftp://registry.example.com", "insecure(true)"),
        ] {
            let e = ClientScope::parse(target).check().err().unwrap_or_else(|| panic!("{target} accepted"));
            assert_eq!(e.kind(), registry_core::ErrorKind::InvalidInput, "{target}: {e}");
            let shown = e.to_string();
            assert!(shown.contains("without a scheme") && shown.contains(fix), "{target}: {shown}");
            assert!(!shown.contains("registry port"), "not a port-parse error: {shown}");
        }
    }
}
