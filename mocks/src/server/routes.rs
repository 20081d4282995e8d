//! Request paths to routes, their parts (repository name, reference, digest) to typed values, and query strings to
//! parameters.
//!
//! Repository names may contain slashes, so a path is read from the right: its last segment is the argument
//! (reference, digest, upload id) and the segment before it says what kind of resource it is; everything before
//! that is the name.

use registry_core::{Digest, Reference, Registry, Repository};
use serde_json::json;

use super::reply::ApiError;
use crate::store::Code;

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/token` (the bearer token endpoint)
    Token,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: String },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: String },
    /// `/v2/<name>/blobs/uploads/` (start an upload)
    StartUpload { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: String },
    /// Anything else.
    Unknown,
}

impl Route {
    /// Route `path` (without the query string).
    pub(crate) fn parse(path: &str) -> Route {
        match path {
            "/v2" | "/v2/" => return Route::Base,
            "/v2/_catalog" => return Route::Catalog,
            "/token" => return Route::Token,
            _ => {}
        }
        let Some(rest) = path.strip_prefix("/v2/") else { return Route::Unknown };
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Route::Tags { name: name.to_string() };
        }
        let Some((head, last)) = rest.rsplit_once('/') else { return Route::Unknown };
        let last = last.to_string();
        if let Some(name) = head.strip_suffix("/blobs/uploads") {
            return if last.is_empty() {
                Route::StartUpload { name: name.to_string() }
            } else {
                Route::Upload { name: name.to_string(), id: last }
            };
        }
        if last.is_empty() {
            return Route::Unknown;
        }
        if let Some(name) = head.strip_suffix("/manifests") {
            Route::Manifest { name: name.to_string(), reference: last }
        } else if let Some(name) = head.strip_suffix("/blobs") {
            Route::Blob { name: name.to_string(), digest: last }
        } else if let Some(name) = head.strip_suffix("/referrers") {
            Route::Referrers { name: name.to_string(), digest: last }
        } else {
            Route::Unknown
        }
    }

    /// The repository name, for routes inside a repository.
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::StartUpload { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::Base | Route::Catalog | Route::Token | Route::Unknown => None,
        }
    }
}

/// The repository `name` of the registry at `host`, checked against the repository path grammar; 400
/// `NAME_INVALID` when it breaks it.
pub(crate) fn parse_name(host: &str, name: &str) -> Result<Repository, ApiError> {
    let invalid = |why: String| {
        ApiError::bad_request(Code::NameInvalid, "invalid repository name").detail(json!({"name": name, "reason": why}))
    };
    if name.is_empty() {
        return Err(invalid("empty name".to_string()));
    }
    let registry = Registry::parse(host).map_err(|e| invalid(e.to_string()))?;
    Repository::new(registry, name).map_err(|e| invalid(e.to_string()))
}

/// A blob digest from a path; 400 `DIGEST_INVALID` when malformed.
pub(crate) fn parse_digest(digest: &str) -> Result<Digest, ApiError> {
    Digest::parse(digest).map_err(|e| {
        ApiError::bad_request(Code::DigestInvalid, "invalid digest")
            .detail(json!({"digest": digest, "reason": e.to_string()}))
    })
}

/// A manifest reference in `repository` from a path: a digest when it has a `:` (400 `DIGEST_INVALID` when
/// malformed), else a tag (400 `TAG_INVALID` when it breaks the tag grammar).
pub(crate) fn parse_reference(repository: &Repository, reference: &str) -> Result<Reference, ApiError> {
    if reference.contains(':') {
        let d = Digest::parse(reference).map_err(|e| {
            ApiError::bad_request(Code::DigestInvalid, "invalid digest")
                .detail(json!({"digest": reference, "reason": e.to_string()}))
        })?;
        return Ok(Reference::with_digest(repository.clone(), d));
    }
    let invalid = || ApiError::bad_request(Code::TagInvalid, "invalid tag").detail(json!({"tag": reference}));
    if !is_valid_tag(reference) {
        return Err(invalid());
    }
    Reference::with_tag(repository.clone(), reference).map_err(|_| invalid())
}

/// Whether `tag` follows the tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok && tag.len() <= 128 && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Percent-decoded query parameters, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parse a query string (without `?`).
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let pairs = query.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect());
        Query(pairs.unwrap_or_default())
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, unless it is empty.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

/// `value` percent-encoded for a query string.
pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn parses_paths_from_the_right() {
        assert_eq!(Route::parse("/v2/"), Route::Base);
        assert_eq!(Route::parse("/v2"), Route::Base);
        assert_eq!(Route::parse("/v2/_catalog"), Route::Catalog);
        assert_eq!(Route::parse("/token"), Route::Token);
        assert_eq!(Route::parse("/v2/a/b/c/manifests/v1"), Route::Manifest { name: s("a/b/c"), reference: s("v1") });
        assert_eq!(
            Route::parse("/v2/manifests/manifests/v1"),
            Route::Manifest { name: s("manifests"), reference: s("v1") }
        );
        assert_eq!(Route::parse("/v2/a/blobs/sha256:x"), Route::Blob { name: s("a"), digest: s("sha256:x") });
        assert_eq!(Route::parse("/v2/a/b/blobs/uploads/"), Route::StartUpload { name: s("a/b") });
        assert_eq!(Route::parse("/v2/a/blobs/uploads/123"), Route::Upload { name: s("a"), id: s("123") });
        assert_eq!(Route::parse("/v2/x/blobs/y/tags/list"), Route::Tags { name: s("x/blobs/y") });
        assert_eq!(Route::parse("/v2/a/referrers/sha256:x"), Route::Referrers { name: s("a"), digest: s("sha256:x") });
        assert_eq!(Route::parse("/v2/a/manifests/"), Route::Unknown);
        assert_eq!(Route::parse("/v2/a/other/v1"), Route::Unknown);
        assert_eq!(Route::parse("/v3/a/manifests/v1"), Route::Unknown);
        assert_eq!(Route::parse("/v2/a"), Route::Unknown);
    }

    #[test]
    fn validates_names_and_tags() {
        assert!(parse_name("127.0.0.1:5000", "a/b-c/d_e.f").is_ok());
        for bad in ["", "A", "a//b", "-a", "a/", "a b", "a%2Fb"] {
            let e = parse_name("127.0.0.1:5000", bad).err();
            assert_eq!(e.map(|e| e.code()), Some(Code::NameInvalid), "{bad:?}");
        }
        assert!(is_valid_tag("v1.0-rc_1") && is_valid_tag("_x") && is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag("") && !is_valid_tag(".x") && !is_valid_tag("a:b") && !is_valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn query_decodes_and_encodes() {
        let q = Query::parse(Some("last=a%2Ftwo&n=2&digest=sha256%3Aab&empty="));
        assert_eq!(q.get("last"), Some("a/two"));
        assert_eq!(q.get("digest"), Some("sha256:ab"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(q.non_empty("empty"), None);
        assert_eq!(q.get("missing"), None);
        assert_eq!(encode("a/two"), "a%2Ftwo");
    }
}
