#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::*;
use crate::image::platform::Platform;
use crate::sync::endpoint::Endpoint;

/// The error message of a spec that must not parse (and must be `InvalidInput`).
fn err(yaml: &str) -> String {
    match SyncSpec::parse(yaml) {
        Ok(spec) => panic!("parsed: {spec:?}"),
        Err(e) => {
            assert_eq!(e.kind(), registry_core::ErrorKind::InvalidInput, "{e}");
            e.message().to_string()
        }
    }
}

/// Assert the error starts with `line N:` and contains every one of `needles`.
fn assert_err(yaml: &str, line: usize, needles: &[&str]) {
    let message = err(yaml);
    assert!(message.starts_with(&format!("line {line}: ")), "want line {line}: {message}");
    for needle in needles {
        assert!(message.contains(needle), "want {needle:?} in: {message}");
    }
}

/// One entry with the given extra lines (indented 4), from line 2 on.
fn one_entry(extra: &str) -> String {
    format!("sync:\n  - source: a.io/org/app\n    target: b.io/mirror/app\n{extra}")
}

const EXAMPLE: &str = r#"registries:                        # optional, per host: insecure, ca, username + password_file/password_env, rate
  127.0.0.1:5001: { insecure: true }
defaults: { platforms: all, referrers: false }   # optional, for every entry
sync:
  - source: 127.0.0.1:5001/org/app               # a repository: every tag that passes the filters
    target: 127.0.0.1:5002/mirror/org/app
    tags: { allow: ["^v1\\."], deny: ["-rc"], semver: ">=1.2, <2", latest: 5 }
  - { source: 127.0.0.1:5001/base/os:12, target: "oci:/srv/airgap/base/os" }   # one image into a layout
  - { source: 127.0.0.1:5001/team/, target: 127.0.0.1:5002/mirror/team/ }        # a prefix, by the catalog
"#;

#[test]
fn the_example_spec_parses_into_every_field() {
    let spec = SyncSpec::parse(EXAMPLE).unwrap();
    assert_eq!(spec.registries.len(), 1);
    let settings = &spec.registries["127.0.0.1:5001"];
    assert_eq!(settings, &RegistrySettings { insecure: true, ..RegistrySettings::default() });

    assert_eq!(spec.entries.len(), 3);
    let [repo, image, prefix] = &spec.entries[..] else { unreachable!() };

    assert_eq!(repo.line, 5);
    assert_eq!(repo.source, Endpoint::Repository { registry: "127.0.0.1:5001".into(), repository: "org/app".into() });
    assert_eq!(
        repo.target,
        Endpoint::Repository { registry: "127.0.0.1:5002".into(), repository: "mirror/org/app".into() }
    );
    assert_eq!(repo.tags.allow(), vec!["^v1\\."]);
    assert_eq!(repo.tags.deny(), vec!["-rc"]);
    assert_eq!(repo.tags.semver().as_deref(), Some(">=1.2, <2"));
    assert_eq!(repo.tags.latest(), Some(5));
    assert!(repo.platforms.is_empty());
    assert!(!repo.referrers);
    assert!(repo.overwrite);

    assert_eq!(image.line, 8);
    assert_eq!(
        image.source,
        Endpoint::Image { registry: "127.0.0.1:5001".into(), repository: "base/os".into(), reference: "12".into() }
    );
    assert_eq!(image.target, Endpoint::Layout { dir: PathBuf::from("/srv/airgap/base/os"), tag: None });
    assert!(image.tags.is_empty());
    assert!(image.platforms.is_empty());
    assert!(!image.referrers);
    assert!(image.overwrite);

    assert_eq!(prefix.line, 9);
    assert_eq!(prefix.source, Endpoint::Prefix { registry: "127.0.0.1:5001".into(), prefix: "team".into() });
    assert_eq!(prefix.target, Endpoint::Prefix { registry: "127.0.0.1:5002".into(), prefix: "mirror/team".into() });
    assert!(prefix.tags.is_empty());
    assert!(!prefix.referrers);
    assert!(prefix.overwrite);
}

#[test]
fn registry_settings_every_key() {
    let spec = SyncSpec::parse(
        "registries:\n  registry.example.com:\n    tls_skip_verify: true\n    ca: /etc/ca.pem\n    username: mirror\n    \
         password_file: /run/secrets/pw\n    rate: 2.5\n  index.docker.io:\n    username: bot\n    password_env: HUB_PW\n\
         sync:\n  - {source: registry.example.com/a, target: localhost:5000/a}\n",
    )
    .unwrap();
    assert_eq!(
        spec.registries["registry.example.com"],
        RegistrySettings {
            insecure: false,
            tls_skip_verify: true,
            ca: Some(PathBuf::from("/etc/ca.pem")),
            username: Some("mirror".into()),
            password_file: Some(PathBuf::from("/run/secrets/pw")),
            password_env: None,
            rate: Some(2.5),
        }
    );
    // Docker Hub's aliases are written docker.io.
    let hub = &spec.registries["docker.io"];
    assert_eq!((hub.username.as_deref(), hub.password_env.as_deref()), (Some("bot"), Some("HUB_PW")));
    assert_eq!(
        spec.entries[0].source,
        Endpoint::Repository { registry: "registry.example.com".into(), repository: "a".into() }
    );
}

#[test]
fn defaults_merge_key_by_key_and_tags_as_a_whole() {
    let spec = SyncSpec::parse(
        r#"defaults:
  tags: { allow: ["^v"], latest: 3 }
  platforms: [linux/amd64, linux/arm/v7]
  referrers: true
  overwrite: false
sync:
  - source: a.io/one
    target: b.io/one
  - source: a.io/two
    target: b.io/two
    tags: { deny: ["-rc$"] }
    overwrite: true
  - source: a.io/three
    target: b.io/three
    tags: {}
    platforms: all
    referrers: false
  - source: a.io/four:v1
    target: b.io/four
"#,
    )
    .unwrap();
    let [one, two, three, four] = &spec.entries[..] else { panic!("{:?}", spec.entries) };
    // Everything from the defaults.
    assert_eq!(one.tags.allow(), vec!["^v"]);
    assert_eq!(one.tags.latest(), Some(3));
    assert_eq!(one.platforms, vec![Platform::new("linux", "amd64"), Platform::new("linux", "arm").with_variant("v7")]);
    assert!(one.referrers);
    assert!(!one.overwrite);
    // Own tags replace the default's whole: no allow, no latest left.
    assert_eq!(two.tags.deny(), vec!["-rc$"]);
    assert!(two.tags.allow().is_empty());
    assert_eq!(two.tags.latest(), None);
    assert!(two.overwrite);
    assert!(two.referrers);
    assert_eq!(two.platforms.len(), 2);
    // `tags: {}` takes every tag; `platforms: all` is empty; `referrers: false` overrides.
    assert!(three.tags.is_empty());
    assert!(three.platforms.is_empty());
    assert!(!three.referrers);
    assert!(!three.overwrite);
    // A single image has no tag filter, whatever the defaults say.
    assert!(four.tags.is_empty());
    assert!(four.referrers);
    assert_eq!(four.line, 18);
}

#[test]
fn entry_lines_follow_the_dash_in_block_and_flow_forms() {
    let spec = SyncSpec::parse(
        "# a comment with - source: x\n\nsync:\n\n  - source: a.io/a\n    target: b.io/a\n  # - source: commented\n  \
         - {source: a.io/b, target: b.io/b}\n  -   source: a.io/c\n      target: b.io/c\n",
    )
    .unwrap();
    let lines: Vec<usize> = spec.entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![5, 8, 9]);
}

#[test]
fn unknown_keys_name_their_line_and_the_allowed_keys() {
    assert_err("sync: []\nsink: []\n", 2, &["`sink`", "registries", "defaults", "sync"]);
    assert_err(
        "defaults:\n  referers: true\nsync: []\n",
        2,
        &["`referers`", "tags", "platforms", "referrers", "overwrite"],
    );
    assert_err(&one_entry("    overwrites: false\n"), 4, &["`overwrites`", "source", "target", "tags"]);
    assert_err(
        &one_entry("    tags:\n      allow: [a]\n      den: [b]\n"),
        6,
        &["`den`", "allow", "deny", "semver", "latest"],
    );
    assert_err(
        "registries:\n  a.io:\n    insecure: true\n    user: x\nsync: []\n",
        4,
        &["`user`", "insecure, tls_skip_verify, ca, username, password_file, password_env, rate"],
    );
}

#[test]
fn missing_or_empty_sync_and_endpoints() {
    assert_err("defaults: {referrers: true}\n", 1, &["no `sync:`"]);
    assert_err("defaults: {referrers: true}\nsync:\n", 2, &["`sync:` is empty"]);
    assert_err("defaults: {referrers: true}\nsync: []\n", 2, &["`sync:` is empty"]);
    assert_err("", 1, &["empty"]);
    assert_err("# only a comment\n", 1, &["no `sync:`"]);
    assert_err("sync:\n  - source: a.io/a\n    target: b.io/a\n  - target: b.io/b\n", 4, &["no `source`"]);
    assert_err("sync:\n  - source: a.io/a\n    target: b.io/a\n  - source: a.io/b\n", 4, &["no `target`"]);
}

#[test]
fn bad_filters_name_the_pattern_and_the_line() {
    assert_err(
        &one_entry("    tags:\n      allow:\n        - ok\n        - \"(unclosed\"\n"),
        7,
        &["(unclosed", "regex"],
    );
    assert_err(&one_entry("    tags: { deny: [\"a{2\"] }\n"), 4, &["a{2", "tags.deny"]);
    assert_err(&one_entry("    tags:\n      semver: \">=1.x.y.z\"\n"), 5, &[">=1.x.y.z", "semver"]);
    assert_err(&one_entry("    tags:\n      latest: 0\n"), 5, &["latest", "0"]);
    assert_err(&one_entry("    tags:\n      latest: -2\n"), 5, &["latest", "-2"]);
    assert_err("defaults:\n  tags: {allow: [\"[\"]}\nsync: []\n", 2, &["\"[\"", "regex"]);
}

#[test]
fn platforms_are_all_or_a_list_of_known_forms() {
    assert_err(&one_entry("    platforms: [linux/amd64, linux]\n"), 4, &["\"linux\"", "os/arch"]);
    assert_err(&one_entry("    platforms:\n      - linux/amd64\n      - linux/arm/v7/x\n"), 6, &["linux/arm/v7/x"]);
    assert_err(&one_entry("    platforms: linux/amd64\n"), 4, &["neither `all` nor a list"]);
    assert_err(&one_entry("    platforms: []\n"), 4, &["empty list"]);
    assert_err(&one_entry("    platforms: 3\n"), 4, &["`all` or a list"]);
}

#[test]
fn credentials_never_in_the_file() {
    assert_err(
        "registries:\n  a.io:\n    username: u\n    password: hunter2\nsync: []\n",
        4,
        &["a password never goes in the spec: use password_file or password_env"],
    );
    assert!(!err("registries:\n  a.io: {username: u, password: hunter2}\nsync: []\n").contains("hunter2"));
    assert_err("registries:\n  a.io:\n    username: u\nsync: []\n", 2, &["a.io", "password_file or password_env"]);
    assert_err(
        "registries:\n  a.io: {username: u, password_file: /f, password_env: E}\nsync: []\n",
        2,
        &["one of password_file or password_env, not both"],
    );
    assert_err("registries:\n  a.io: {password_env: E}\nsync: []\n", 2, &["need a username"]);
}

#[test]
fn rate_is_a_positive_finite_number() {
    for (rate, shown) in [("0", "0"), ("-1", "-1"), (".inf", "inf"), (".nan", "NaN")] {
        assert_err(&format!("registries:\n  a.io:\n    rate: {rate}\nsync: []\n"), 3, &["rate", shown]);
    }
    assert_err("registries:\n  a.io:\n    rate: fast\nsync: []\n", 3, &[]);
    let spec =
        SyncSpec::parse("registries:\n  a.io: {rate: 0.5}\nsync:\n  - {source: a.io/x, target: b.io/x}\n").unwrap();
    assert_eq!(spec.registries["a.io"].rate, Some(0.5));
}

#[test]
fn bad_registry_hosts_and_duplicates() {
    assert_err("registries:\n  \"a.io/org\": {}\nsync: []\n", 2, &["a.io/org"]);
    assert_err("registries:\n  a.io: {}\n  a.io: {insecure: true}\nsync: []\n", 3, &["a.io"]);
    assert_err("registries:\n  docker.io: {}\n  index.docker.io: {}\nsync: []\n", 3, &["docker.io", "twice"]);
}

#[test]
fn malformed_endpoints_name_the_key_and_the_line() {
    assert_err("sync:\n  - source: alpine:3\n    target: b.io/alpine\n", 2, &["source", "alpine:3", "docker.io"]);
    assert_err("sync:\n  - source: library/alpine:3\n    target: b.io/alpine\n", 2, &["no registry host", "docker.io"]);
    assert_err("sync:\n  - source: a.io/Org/App\n    target: b.io/a\n", 2, &["source", "lowercase"]);
    assert_err("sync:\n  - source: a.io/a\n    target: b.io/a:-bad\n", 3, &["target", "-bad"]);
    assert_err("sync:\n  - source: a.io/a@sha256:abc\n    target: b.io/a\n", 2, &["source", "digest"]);
    assert_err("sync:\n  - {source: a.io/a, target: \"oci:\"}\n", 2, &["target", "directory"]);
}

#[test]
fn pairs_that_do_not_fit_are_refused_with_the_entry_line() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let other = format!("sha256:{}", "b".repeat(64));
    for (source, target, why) in [
        ("a.io/r", "b.io/r:v1", "into one image"),
        ("a.io/r", "oci:/d:v1", "into one image"),
        ("a.io/r", "b.io/org/", "into a prefix"),
        ("a.io/org/", "b.io/r", "a prefix"),
        ("a.io/org/", "b.io/r:v1", "a prefix"),
        ("a.io/org/", "oci:/d:v1", "a prefix"),
        ("a.io/r:v1", "b.io/org/", "one image into a prefix"),
        ("oci:/d", "b.io/r:v1", "into one image"),
        ("oci:/d", "oci:/e:v1", "into one image"),
        ("oci:/d:v1", "b.io/org/", "one image into a prefix"),
    ] {
        assert_err(
            &format!(
                "sync:\n  - {{source: a.io/ok, target: b.io/ok}}\n  - {{source: \"{source}\", target: \"{target}\"}}\n"
            ),
            3,
            &[why],
        );
    }
    assert_err(
        &format!("sync:\n  - source: a.io/r:v1\n    target: b.io/r@{digest}\n"),
        2,
        &["the target is a digest", "name the target by tag"],
    );
    assert_err(
        &format!("sync:\n  - source: a.io/r@{digest}\n    target: b.io/r@{other}\n"),
        2,
        &["differs from the source digest"],
    );
}

#[test]
fn pairs_that_fit() {
    let digest = format!("sha256:{}", "a".repeat(64));
    for (source, target) in [
        ("a.io/r:v1", "b.io/r:v2"),
        (&format!("a.io/r@{digest}") as &str, "b.io/r:v2"),
        (&format!("a.io/r@{digest}"), &format!("b.io/x@{digest}")),
        ("a.io/r:v1", "b.io/r"),
        ("a.io/r:v1", "oci:/d"),
        ("a.io/r:v1", "oci:/d:v9"),
        ("a.io/r", "b.io/r"),
        ("a.io/r", "oci:/d"),
        ("a.io/org/", "b.io/mirror/"),
        ("a.io/", "b.io/"),
        ("a.io/org/", "oci:/tree"),
        ("oci:/d", "b.io/r"),
        ("oci:/d", "b.io/org/"),
        ("oci:/d", "oci:/e"),
        ("oci:/d:v1", "b.io/r:v1"),
        ("oci:/d:v1", "b.io/r"),
        ("oci:/d:v1", "oci:/e"),
        ("oci:/d:v1", "oci:/e:v2"),
    ] {
        let yaml = format!("sync:\n  - {{source: \"{source}\", target: \"{target}\"}}\n");
        if let Err(e) = SyncSpec::parse(&yaml) {
            panic!("{source} -> {target}: {e}");
        }
    }
}

#[test]
fn tags_on_a_single_image_source_are_refused() {
    assert_err("sync:\n  - source: a.io/r:v1\n    target: b.io/r\n    tags: {latest: 1}\n", 4, &["one image"]);
    assert_err("sync:\n  - source: oci:/d:v1\n    target: b.io/r\n    tags:\n      allow: [x]\n", 5, &["one image"]);
}

#[test]
fn yaml_syntax_and_type_errors_name_the_line() {
    assert_err("sync:\n  - source: a.io/a\n    target: [b.io/a\n", 3, &[]);
    assert_err("sync:\n  - source: a.io/a\n   target: b.io/a\n", 3, &[]);
    assert_err(&one_entry("    referrers: maybe\n"), 4, &["bool"]);
    assert_err(&one_entry("    overwrite: [1]\n"), 4, &[]);
    assert_err("sync:\n  - a.io/a\n", 2, &[]);
    assert_err("sync: {source: a.io/a}\n", 1, &[]);
}

#[test]
fn an_alias_bomb_is_refused_by_the_budget() {
    // Nine levels of ten aliases: 10^9 strings once expanded. It sits where any value is read (skipped) in full.
    let mut yaml = String::from(
        "registries:\n  a.io:\n    password:\n      - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..9 {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 10].join(", ");
        yaml.push_str(&format!("      - &a{level} [{list}]\n"));
    }
    yaml.push_str("sync: []\n");
    let started = std::time::Instant::now();
    let message = err(&yaml);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(message.contains("too complex"), "{message}");
}

#[test]
fn a_spec_over_4_mib_is_refused_before_parsing() {
    let yaml = format!("# {}\nsync: []\n", "x".repeat(4 * 1024 * 1024));
    let message = err(&yaml);
    assert!(message.contains("4 MiB"), "{}", &message[..message.len().min(200)]);
}

#[tokio::test]
async fn read_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.yaml");
    let missing = SyncSpec::read(&path).await.unwrap_err();
    assert_eq!(missing.kind(), registry_core::ErrorKind::InvalidInput);
    assert!(missing.message().contains("sync.yaml"), "{missing}");

    std::fs::write(&path, "sync:\n  - {source: a.io/a, target: b.io/a}\n  - {source: a.io/b}\n").unwrap();
    let bad = SyncSpec::read(&path).await.unwrap_err();
    assert!(bad.message().contains("sync.yaml: line 3: the entry has no `target`"), "{bad}");

    std::fs::write(&path, EXAMPLE).unwrap();
    assert_eq!(SyncSpec::read(&path).await.unwrap().entries.len(), 3);

    std::fs::write(&path, [b'#', b' ', 0xff, b'\n']).unwrap();
    let not_utf8 = SyncSpec::read(&path).await.unwrap_err();
    assert!(not_utf8.message().contains("UTF-8"), "{not_utf8}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_key_and_what_it_takes() {
    assert_err(&one_entry("    tags: { allow: \"^v2\" }\n"), 4, &["tags.allow must be a list", "allow: [\"^v2\"]"]);
    assert_err(&one_entry("    tags:\n      deny: -rc\n"), 5, &["tags.deny must be a list", "deny: [-rc]"]);
    assert_err("sync:\n  source: a.io/app\n  target: b.io/app\n", 2, &["sync must be a list of entries"]);
    assert_err(&one_entry("    tags: [\"^v2\"]\n"), 4, &["tags must be a map"]);
    assert_err(&one_entry("    referrers: sometimes\n"), 4, &["referrers must be true or false", "sometimes"]);
    assert_err(&one_entry("    tags: { latest: many }\n"), 4, &["tags.latest must be a whole number", "many"]);
    assert_err(
        "registries:\n  a.io: { insecure: maybe }\nsync:\n  - { source: a.io/x, target: b.io/x }\n",
        2,
        &["registries.a.io.insecure must be true or false"],
    );
    assert_err(
        "defaults: { overwrite: 3x }\nsync:\n  - { source: a.io/x, target: b.io/x }\n",
        1,
        &["defaults.overwrite"],
    );
    assert_err(
        "registries:\n  a.io: { rate: fast }\nsync:\n  - { source: a.io/x, target: b.io/x }\n",
        2,
        &["rate must be a number"],
    );
}

#[test]
fn an_empty_allow_list_is_refused() {
    assert_err(
        &one_entry("    tags: { allow: [] }\n"),
        4,
        &["empty allow list would take no tag", "leave `allow` out"],
    );
}
