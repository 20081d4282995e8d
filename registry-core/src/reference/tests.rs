//! Table-driven tests of the reference grammar.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

const SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HEX64: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn sha512() -> String {
    format!("sha512:{}", "ab".repeat(64))
}

fn variant(e: &ReferenceError) -> &'static str {
    match e {
        ReferenceError::Empty => "Empty",
        ReferenceError::NameTooLong { .. } => "NameTooLong",
        ReferenceError::InvalidDomain { .. } => "InvalidDomain",
        ReferenceError::InvalidPort { .. } => "InvalidPort",
        ReferenceError::Uppercase { .. } => "Uppercase",
        ReferenceError::InvalidPathComponent { .. } => "InvalidPathComponent",
        ReferenceError::AmbiguousIdentifier { .. } => "AmbiguousIdentifier",
        ReferenceError::InvalidTag { .. } => "InvalidTag",
        ReferenceError::TagTooLong { .. } => "TagTooLong",
        ReferenceError::InvalidDigest { .. } => "InvalidDigest",
        ReferenceError::UnsupportedDigest { .. } => "UnsupportedDigest",
        ReferenceError::UnexpectedTag { .. } => "UnexpectedTag",
        ReferenceError::UnexpectedDigest { .. } => "UnexpectedDigest",
    }
}

struct Valid {
    input: String,
    registry: &'static str,
    api_host: &'static str,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn ok(input: &str, registry: &'static str, api_host: &'static str, path: &str, tag: Option<&str>) -> Valid {
    Valid {
        input: input.to_string(),
        registry,
        api_host,
        path: path.to_string(),
        tag: tag.map(str::to_string),
        digest: None,
    }
}

fn hub(input: &str, path: &str, tag: Option<&str>) -> Valid {
    ok(input, "docker.io", "registry-1.docker.io", path, tag)
}

fn with_digest(mut v: Valid, digest: &str) -> Valid {
    v.digest = Some(digest.to_string());
    v
}

fn valid_rows() -> Vec<Valid> {
    let latest = Some("latest");
    vec![
        hub("alpine", "library/alpine", latest),
        hub("library/alpine", "library/alpine", latest),
        hub("docker.io/alpine", "library/alpine", latest),
        hub("docker.io/library/alpine", "library/alpine", latest),
        hub("index.docker.io/library/alpine:3", "library/alpine", Some("3")),
        hub("index.docker.io/alpine", "library/alpine", latest),
        hub("registry-1.docker.io/alpine:edge", "library/alpine", Some("edge")),
        hub("DOCKER.IO/alpine", "library/alpine", latest),
        hub("ubuntu:22.04", "library/ubuntu", Some("22.04")),
        hub("org/app", "org/app", latest),
        hub("docker.io/org/app:v1", "org/app", Some("v1")),
        hub("org/team/app:v1", "org/team/app", Some("v1")),
        hub("localhost", "library/localhost", latest),
        hub("docker.io", "library/docker.io", latest),
        hub("a__b", "library/a__b", latest),
        hub("a--b", "library/a--b", latest),
        hub("a---b/c", "a---b/c", latest),
        hub("a_b-c/e.f__g", "a_b-c/e.f__g", latest),
        hub("a.b_c-d", "library/a.b_c-d", latest),
        hub("0/1:2", "0/1", Some("2")),
        hub("app:_under", "library/app", Some("_under")),
        hub("app:V1.0-RC_1", "library/app", Some("V1.0-RC_1")),
        hub(&format!("app:{}", "t".repeat(128)), "library/app", Some(&"t".repeat(128))),
        hub(&"a".repeat(237), &format!("library/{}", "a".repeat(237)), latest),
        hub(&format!("{HEX64}:v1"), &format!("library/{HEX64}"), Some("v1")),
        with_digest(hub(&format!("name:tag@{SHA256}"), "library/name", Some("tag")), SHA256),
        with_digest(hub(&format!("name@{SHA256}"), "library/name", None), SHA256),
        ok("localhost/app", "localhost", "localhost", "app", latest),
        ok("localhost:5000/app", "localhost:5000", "localhost:5000", "app", latest),
        ok("localhost:5000/app:v1", "localhost:5000", "localhost:5000", "app", Some("v1")),
        ok("LOCALHOST/app", "LOCALHOST", "LOCALHOST", "app", latest),
        ok("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "127.0.0.1:5000", "a/b/c", latest),
        ok("127.0.0.1/x", "127.0.0.1", "127.0.0.1", "x", latest),
        ok("[::1]:5000/app:tag", "[::1]:5000", "[::1]:5000", "app", Some("tag")),
        ok("[::1]/x", "[::1]", "[::1]", "x", latest),
        with_digest(
            ok(&format!("[2001:db8::1]:443/ns/app@{SHA256}"), "[2001:db8::1]:443", "[2001:db8::1]:443", "ns/app", None),
            SHA256,
        ),
        ok("[::ffff:127.0.0.1]:5000/app", "[::ffff:127.0.0.1]:5000", "[::ffff:127.0.0.1]:5000", "app", latest),
        ok("Example.COM/app", "Example.COM", "Example.COM", "app", latest),
        ok("Foo/bar", "Foo", "Foo", "bar", latest),
        ok(
            "registry.example.com/team/app:1.0.0",
            "registry.example.com",
            "registry.example.com",
            "team/app",
            Some("1.0.0"),
        ),
        ok("example.com/alpine", "example.com", "example.com", "alpine", latest),
        ok("example.com:443/a", "example.com:443", "example.com:443", "a", latest),
        ok("my.registry:65535/app", "my.registry:65535", "my.registry:65535", "app", latest),
        ok("host:1/app", "host:1", "host:1", "app", latest),
        ok("xn--bcher-kva.example/app", "xn--bcher-kva.example", "xn--bcher-kva.example", "app", latest),
        ok("a-b.example-1.com/x", "a-b.example-1.com", "a-b.example-1.com", "x", latest),
        ok("sub.example.com/a/b/c/d/e:t", "sub.example.com", "sub.example.com", "a/b/c/d/e", Some("t")),
        ok(&format!("example.com/{}", "a".repeat(243)), "example.com", "example.com", &"a".repeat(243), latest),
        with_digest(
            ok(&format!("example.com/name@{}", sha512()), "example.com", "example.com", "name", None),
            &sha512(),
        ),
    ]
}

#[test]
fn parses_valid_references() {
    let rows = valid_rows();
    assert!(rows.len() >= 45);
    for row in rows {
        let r = Reference::parse(&row.input).unwrap_or_else(|e| panic!("{:?} rejected: {e}", row.input));
        let repo = r.repository();
        assert_eq!(repo.registry().as_str(), row.registry, "{:?}", row.input);
        assert_eq!(repo.registry().api_host(), row.api_host, "{:?}", row.input);
        assert_eq!(repo.path(), row.path, "{:?}", row.input);
        assert_eq!(r.tag(), row.tag.as_deref(), "{:?}", row.input);
        assert_eq!(r.digest().map(Digest::as_str), row.digest.as_deref(), "{:?}", row.input);
        assert_eq!(repo.registry().is_docker_hub(), row.registry == "docker.io", "{:?}", row.input);
        assert_eq!(repo.name(), format!("{}/{}", row.registry, row.path));

        let expected_id = row.digest.clone().or(row.tag.clone()).unwrap();
        assert_eq!(r.identifier(), expected_id, "{:?}", row.input);

        // Display round trip: the canonical form parses back to the same reference and is stable.
        let shown = r.to_string();
        let again: Reference = shown.parse().unwrap_or_else(|e| panic!("{shown:?} rejected: {e}"));
        assert_eq!(again, r, "{shown:?}");
        assert_eq!(again.to_string(), shown);
        let repo_again = Repository::parse(&repo.to_string()).unwrap();
        assert_eq!(&repo_again, repo);
        assert_eq!(Registry::parse(repo.registry().as_str()).unwrap(), *repo.registry());
    }
}

#[test]
fn display_forms() {
    let cases = [
        ("alpine", "docker.io/library/alpine:latest".to_string()),
        ("index.docker.io/library/alpine:3", "docker.io/library/alpine:3".to_string()),
        (&format!("example.com/app@{SHA256}"), format!("example.com/app@{SHA256}")),
        (&format!("example.com/app:v1@{SHA256}"), format!("example.com/app:v1@{SHA256}")),
        ("[::1]:5000/app:tag", "[::1]:5000/app:tag".to_string()),
    ];
    for (input, shown) in cases {
        assert_eq!(Reference::parse(input).unwrap().to_string(), shown);
    }
    let r = Reference::parse(&format!("name:tag@{SHA256}")).unwrap();
    assert_eq!(r.identifier(), SHA256);
    assert_eq!(r.tag(), Some("tag"));
}

#[test]
fn rejects_invalid_references() {
    let long_tag = format!("app:{}", "t".repeat(129));
    let upper = HEX64.to_uppercase();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "Empty"),
        ("example.com/App".into(), "Uppercase"),
        ("App".into(), "Uppercase"),
        ("org/App".into(), "Uppercase"),
        ("localhost:5000/a/B".into(), "Uppercase"),
        ("a//b".into(), "InvalidPathComponent"),
        ("a/".into(), "InvalidPathComponent"),
        ("/a".into(), "InvalidPathComponent"),
        ("a___b".into(), "InvalidPathComponent"),
        ("a-".into(), "InvalidPathComponent"),
        ("-a".into(), "InvalidPathComponent"),
        ("_a".into(), "InvalidPathComponent"),
        (".a".into(), "InvalidPathComponent"),
        ("a.".into(), "InvalidPathComponent"),
        ("a..b".into(), "InvalidPathComponent"),
        ("a._b".into(), "InvalidPathComponent"),
        ("a-_b".into(), "InvalidPathComponent"),
        ("a b".into(), "InvalidPathComponent"),
        ("a/b!c".into(), "InvalidPathComponent"),
        ("caf\u{e9}".into(), "InvalidPathComponent"),
        ("docker.io/".into(), "InvalidPathComponent"),
        ("localhost:5000/".into(), "InvalidPathComponent"),
        ("localhost:5000/a//b".into(), "InvalidPathComponent"),
        ("app:v1:v2".into(), "InvalidPathComponent"),
        ("[::1]:5000".into(), "InvalidPathComponent"),
        (format!("@{SHA256}"), "InvalidPathComponent"),
        (":tag".into(), "InvalidPathComponent"),
        (HEX64.into(), "AmbiguousIdentifier"),
        ("app:".into(), "InvalidTag"),
        ("app:.tag".into(), "InvalidTag"),
        ("app:-tag".into(), "InvalidTag"),
        ("app:ta g".into(), "InvalidTag"),
        ("app:t+g".into(), "InvalidTag"),
        (long_tag, "TagTooLong"),
        ("name@sha256:abc".into(), "InvalidDigest"),
        ("name@md5:abc".into(), "InvalidDigest"),
        ("name@".into(), "InvalidDigest"),
        ("name:tag@".into(), "InvalidDigest"),
        ("name@sha256".into(), "InvalidDigest"),
        (format!("name@sha256:{upper}"), "InvalidDigest"),
        (format!("name@{SHA256}@{SHA256}"), "InvalidDigest"),
        (format!("name@{SHA256}:tag"), "InvalidDigest"),
        (format!("name@blake3:{HEX64}"), "UnsupportedDigest"),
        (format!("name@sha384:{HEX64}{HEX64}"), "UnsupportedDigest"),
        ("a".repeat(238), "NameTooLong"),
        ("a".repeat(256), "NameTooLong"),
        (format!("example.com/{}", "a".repeat(244)), "NameTooLong"),
        (format!("example.com/{}/{}", "a".repeat(200), "b".repeat(100)), "NameTooLong"),
        ("localhost:abc/app".into(), "InvalidPort"),
        ("host:99999/app".into(), "InvalidPort"),
        ("host:65536/app".into(), "InvalidPort"),
        ("host:0/app".into(), "InvalidPort"),
        ("host:/app".into(), "InvalidPort"),
        ("host:-1/app".into(), "InvalidPort"),
        ("[::1]:x/app".into(), "InvalidPort"),
        ("[::1/app".into(), "InvalidDomain"),
        ("[::1]x/app".into(), "InvalidDomain"),
        ("[zz::1]/app".into(), "InvalidDomain"),
        ("[fe80::1%eth0]/app".into(), "InvalidDomain"),
        ("::1/app".into(), "InvalidDomain"),
        ("-example.com/app".into(), "InvalidDomain"),
        ("example-.com/app".into(), "InvalidDomain"),
        ("exa_mple.com/app".into(), "InvalidDomain"),
        ("example..com/app".into(), "InvalidDomain"),
        (".example.com/app".into(), "InvalidDomain"),
        ("example.com./app".into(), "InvalidDomain"),
        (":5000/app".into(), "InvalidDomain"),
        ("Foo_Bar/app".into(), "InvalidDomain"),
    ];
    for (input, expected) in &cases {
        match Reference::parse(input) {
            Ok(r) => panic!("{input:?} accepted as {r}"),
            Err(e) => {
                assert_eq!(variant(&e), *expected, "{input:?}: {e}");
                assert_eq!(e.input(), input.as_str());
                if !input.is_empty() && input.len() < 200 {
                    assert!(e.to_string().contains(&format!("{input:?}")), "{input:?}: {e}");
                }
            }
        }
    }
}

#[test]
fn error_messages() {
    let msg = |s: &str| Reference::parse(s).unwrap_err().to_string();
    assert_eq!(
        msg("example.com/App"),
        r#"invalid reference "example.com/App": repository path must be lowercase ("App")"#
    );
    assert_eq!(msg(""), "invalid reference: empty string");
    assert_eq!(
        msg("a//b"),
        r#"invalid reference "a//b": invalid repository path component "": empty component (leading, trailing or doubled '/')"#
    );
    assert!(msg("a___b").contains(r#"invalid separator "___""#));
    assert!(msg("host:99999/app").contains(r#"invalid registry port "99999""#));
    assert!(msg("app:.tag").contains(r#"invalid tag ".tag""#));
    assert!(msg("app:").contains("a tag cannot be empty"));
    assert_eq!(
        msg("name@sha256:abc"),
        r#"invalid reference "name@sha256:abc": invalid digest "sha256:abc": sha256 needs 64 hex characters, got 3"#
    );
    assert!(msg(&format!("name@blake3:{HEX64}")).contains(r#"digest algorithm "blake3" is not supported"#));
    assert!(msg("::1/app").contains("brackets"));
    // A huge input is cut in the message.
    assert!(msg(&"a".repeat(10_000)).len() < 500);
}

#[test]
fn converts_into_crate_error() {
    let e: Error = Reference::parse("example.com/App").unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(e.message(), r#"invalid reference "example.com/App": repository path must be lowercase ("App")"#);
    let source = std::error::Error::source(&e).unwrap();
    assert!(source.downcast_ref::<ReferenceError>().is_some());

    let e: Error = Reference::parse(&format!("a@blake3:{HEX64}")).unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e: Error = Reference::parse("a@md5:abc").unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn parses_relative_references() {
    let repo = Repository::parse("example.com/app").unwrap();
    let sha = Some(SHA256);
    let valid: [(&str, Option<&str>, Option<&str>, &str); 5] = [
        ("v1", Some("v1"), None, "example.com/app:v1"),
        ("latest", Some("latest"), None, "example.com/app:latest"),
        (&format!("@{SHA256}"), None, sha, &format!("example.com/app@{SHA256}")),
        (&format!("v1@{SHA256}"), Some("v1"), sha, &format!("example.com/app:v1@{SHA256}")),
        ("_x.Y-z", Some("_x.Y-z"), None, "example.com/app:_x.Y-z"),
    ];
    for (input, tag, digest, shown) in valid {
        let r = Reference::parse_relative(&repo, input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.repository(), &repo);
        assert_eq!(r.tag(), tag, "{input:?}");
        assert_eq!(r.digest().map(Digest::as_str), digest, "{input:?}");
        assert_eq!(r.to_string(), shown);
        assert_eq!(Reference::parse(shown).unwrap(), r);
    }

    let invalid: Vec<(String, &str)> = vec![
        (String::new(), "Empty"),
        (SHA256.into(), "InvalidTag"),
        (":v1".into(), "InvalidTag"),
        ("v1/x".into(), "InvalidTag"),
        ("t".repeat(129), "TagTooLong"),
        ("@".into(), "InvalidDigest"),
        ("v1@".into(), "InvalidDigest"),
        ("v1@md5:abc".into(), "InvalidDigest"),
        (format!("@blake3:{HEX64}"), "UnsupportedDigest"),
    ];
    for (input, expected) in &invalid {
        match Reference::parse_relative(&repo, input) {
            Ok(r) => panic!("{input:?} accepted as {r}"),
            Err(e) => assert_eq!(variant(&e), *expected, "{input:?}: {e}"),
        }
    }

    let root = Repository::new(Registry::parse("localhost:5000").unwrap(), "").unwrap();
    assert_eq!(variant(&Reference::parse_relative(&root, "v1").unwrap_err()), "InvalidPathComponent");
}

#[test]
fn builds_references() {
    let repo = Repository::parse("localhost:5000/a/b").unwrap();
    let r = Reference::with_tag(repo.clone(), "v2").unwrap();
    assert_eq!(r.to_string(), "localhost:5000/a/b:v2");
    assert_eq!(r.identifier(), "v2");
    assert_eq!(r.digest(), None);

    let digest = Digest::parse(SHA256).unwrap();
    let r = Reference::with_digest(repo.clone(), digest.clone());
    assert_eq!(r.to_string(), format!("localhost:5000/a/b@{SHA256}"));
    assert_eq!(r.tag(), None);
    assert_eq!(r.digest(), Some(&digest));
    assert_eq!(r.identifier(), SHA256);

    assert_eq!(variant(&Reference::with_tag(repo.clone(), "").unwrap_err()), "InvalidTag");
    assert_eq!(variant(&Reference::with_tag(repo.clone(), "a:b").unwrap_err()), "InvalidTag");
    assert_eq!(variant(&Reference::with_tag(repo, &"x".repeat(129)).unwrap_err()), "TagTooLong");

    let root = Repository::new(Registry::docker_hub(), "").unwrap();
    assert_eq!(variant(&Reference::with_tag(root, "v1").unwrap_err()), "InvalidPathComponent");
}

#[test]
fn repositories() {
    let r = Repository::parse("alpine").unwrap();
    assert_eq!(r.name(), "docker.io/library/alpine");
    assert_eq!(r.to_string(), "docker.io/library/alpine");
    assert_eq!(r.path(), "library/alpine");
    let r: Repository = "localhost:5000/a/b".parse().unwrap();
    assert_eq!((r.registry().as_str(), r.path()), ("localhost:5000", "a/b"));

    let invalid: Vec<(String, &str)> = vec![
        (String::new(), "Empty"),
        ("alpine:3".into(), "UnexpectedTag"),
        ("localhost:5000".into(), "UnexpectedTag"),
        ("localhost:5000/app:v1".into(), "UnexpectedTag"),
        (format!("alpine@{SHA256}"), "UnexpectedDigest"),
        (format!("alpine:3@{SHA256}"), "UnexpectedDigest"),
        (HEX64.into(), "AmbiguousIdentifier"),
        ("a//b".into(), "InvalidPathComponent"),
        ("Example.com/A".into(), "Uppercase"),
        ("a".repeat(300), "NameTooLong"),
    ];
    for (input, expected) in &invalid {
        match Repository::parse(input) {
            Ok(r) => panic!("{input:?} accepted as {r}"),
            Err(e) => assert_eq!(variant(&e), *expected, "{input:?}: {e}"),
        }
    }
}

#[test]
fn new_and_join() {
    let hub = Registry::docker_hub();
    let r = Repository::new(hub.clone(), "alpine").unwrap();
    assert_eq!(r.name(), "docker.io/alpine");
    let local = Registry::parse("localhost:5000").unwrap();
    let r = Repository::new(local.clone(), "a/b").unwrap();
    assert_eq!(r.to_string(), "localhost:5000/a/b");
    assert_eq!(r.join("c").unwrap().path(), "a/b/c");
    assert_eq!(r.join("c/d").unwrap().to_string(), "localhost:5000/a/b/c/d");

    let root = Repository::new(hub.clone(), "").unwrap();
    assert_eq!(root.to_string(), "docker.io");
    assert_eq!(root.name(), "docker.io");
    let joined = root.join("library/alpine").unwrap();
    assert_eq!(joined, Repository::parse("alpine").unwrap());

    let bad_new: [(&str, &str); 4] = [
        ("A", "Uppercase"),
        ("a//b", "InvalidPathComponent"),
        ("/a", "InvalidPathComponent"),
        ("a:b", "InvalidPathComponent"),
    ];
    for (path, expected) in bad_new {
        assert_eq!(variant(&Repository::new(local.clone(), path).unwrap_err()), expected, "{path:?}");
    }
    let bad_join: [(&str, &str); 6] = [
        ("", "InvalidPathComponent"),
        ("c//d", "InvalidPathComponent"),
        ("/c", "InvalidPathComponent"),
        ("c/", "InvalidPathComponent"),
        ("C", "Uppercase"),
        ("c@d", "InvalidPathComponent"),
    ];
    for (segment, expected) in bad_join {
        assert_eq!(variant(&r.join(segment).unwrap_err()), expected, "{segment:?}");
    }
    let long = Repository::new(local.clone(), &"a".repeat(200)).unwrap();
    assert_eq!(variant(&long.join(&"b".repeat(60)).unwrap_err()), "NameTooLong");
    assert_eq!(variant(&Repository::new(local, &"a".repeat(250)).unwrap_err()), "NameTooLong");
}

#[test]
fn registries() {
    let valid = [
        ("localhost", "localhost", "localhost", true, false),
        ("localhost:5000", "localhost:5000", "localhost:5000", true, false),
        ("registry.example.com", "registry.example.com", "registry.example.com", false, false),
        ("127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000", true, false),
        ("127.1.2.3", "127.1.2.3", "127.1.2.3", true, false),
        ("[::1]:5000", "[::1]:5000", "[::1]:5000", true, false),
        ("[::1]", "[::1]", "[::1]", true, false),
        ("[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]", true, false),
        ("[::2]:5000", "[::2]:5000", "[::2]:5000", false, false),
        ("10.0.0.1:5000", "10.0.0.1:5000", "10.0.0.1:5000", false, false),
        ("128.0.0.1", "128.0.0.1", "128.0.0.1", false, false),
        ("localhost.example.com", "localhost.example.com", "localhost.example.com", false, false),
        ("LocalHost:80", "LocalHost:80", "LocalHost:80", true, false),
        ("docker.io", "docker.io", "registry-1.docker.io", false, true),
        ("index.docker.io", "docker.io", "registry-1.docker.io", false, true),
        ("registry-1.docker.io", "docker.io", "registry-1.docker.io", false, true),
        ("Docker.IO", "docker.io", "registry-1.docker.io", false, true),
        ("docker.io:443", "docker.io:443", "docker.io:443", false, false),
    ];
    for (input, name, api, loopback, hub) in valid {
        let r: Registry = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.as_str(), name, "{input:?}");
        assert_eq!(r.to_string(), name, "{input:?}");
        assert_eq!(r.api_host(), api, "{input:?}");
        assert_eq!(r.is_loopback(), loopback, "{input:?}");
        assert_eq!(r.is_docker_hub(), hub, "{input:?}");
    }
    assert_eq!(Registry::parse("index.docker.io").unwrap(), Registry::docker_hub());

    let invalid = [
        ("", "Empty"),
        ("example.com/x", "InvalidDomain"),
        ("exa mple.com", "InvalidDomain"),
        ("-a.com", "InvalidDomain"),
        ("::1", "InvalidDomain"),
        ("[::1", "InvalidDomain"),
        ("[nope]", "InvalidDomain"),
        ("localhost:", "InvalidPort"),
        ("localhost:99999", "InvalidPort"),
        ("localhost:123456", "InvalidPort"),
        ("localhost:+80", "InvalidPort"),
    ];
    for (input, expected) in invalid {
        assert_eq!(variant(&Registry::parse(input).unwrap_err()), expected, "{input:?}");
    }
}

#[test]
fn equality_and_hash_use_canonical_form() {
    use std::collections::HashSet;
    let a = Reference::parse("alpine").unwrap();
    let b = Reference::parse("index.docker.io/library/alpine:latest").unwrap();
    assert_eq!(a, b);
    let set: HashSet<Reference> = [a, b].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn a_url_scheme_names_the_fix() {
    let registry = ["http://localhost:5000", "https://registry.example.com", "HTTP://localhost:5000"];
    let references =
        ["http://localhost:5000/app:v1".to_string(), format!("https://registry.example.com/org/app@{SHA256}")];
    let errors = registry
        .iter()
        .map(|s| Registry::parse(s).err())
        .chain(references.iter().map(|s| Reference::parse(s).err()))
        .chain([Repository::parse("http://localhost:5000/org/app").err()]);
    for e in errors {
        let e = e.unwrap_or_else(|| panic!("a URL with a scheme was accepted"));
        assert_eq!(variant(&e), "InvalidDomain", "{e}");
        let shown = e.to_string();
        assert!(shown.contains("without the URL scheme") && shown.contains("insecure(true)"), "{shown}");
        assert!(!shown.contains("port"), "not a port-parse error: {shown}");
    }
    assert!(Reference::parse("localhost:5000/app:v1").is_ok());
}
