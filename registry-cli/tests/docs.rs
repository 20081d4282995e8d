//! The README's and `docs/sync-job.yaml`'s specs and commands are what `regcli` accepts: the annotated spec and
//! the Job's embedded spec parse, the Job's arguments parse, and the README's first command is the demo.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use registry_client::sync::SyncSpec;
use support::{regcli, shown};

fn repo_file(path: &str) -> String {
    let full = concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_string() + "/" + path;
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The first ```yaml block after `heading` in the README.
fn readme_yaml_after(heading: &str) -> String {
    let readme = repo_file("README.md");
    let at = readme.find(heading).unwrap_or_else(|| panic!("no {heading:?} in the README"));
    let rest = &readme[at..];
    let start = rest.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    rest[start..start + end].to_string()
}

#[test]
fn the_readme_spec_parses() {
    let yaml = readme_yaml_after("### `regcli sync`");
    let spec = SyncSpec::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(spec.entries.len(), 5);
    assert_eq!(spec.registries.len(), 3);
}

#[test]
fn the_job_manifest_spec_and_arguments_parse() {
    let manifest = repo_file("docs/sync-job.yaml");
    // The ConfigMap's sync.yaml: the lines indented under `sync.yaml: |`.
    let after = manifest.split_once("sync.yaml: |\n").expect("the ConfigMap's spec").1;
    let yaml: String = after
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
        .collect();
    SyncSpec::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(manifest.contains("completionMode: Indexed") && manifest.contains("terminationGracePeriodSeconds"));

    // The container's arguments, with the shard index expanded: they parse (the spec file is missing here, so
    // the run stops there, with a spec error naming it, not a flag error).
    let args: Vec<String> = manifest
        .lines()
        .skip_while(|l| !l.contains("args:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| {
            let arg = l.trim_start().trim_start_matches("- ");
            arg.split("  #").next().unwrap().trim().replace("$(SHARD)", "3")
        })
        .collect();
    assert!(args.len() >= 5 && args[0] == "sync", "{args:?}");
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = regcli(&refs);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/etc/mirror/sync.yaml"), "{}", shown(&out));
}

#[test]
fn the_readme_first_command_is_the_demo() {
    let readme = repo_file("README.md");
    let two = readme.split_once("## Two commands").unwrap().1;
    let first = two.lines().find(|l| l.starts_with("cargo ")).unwrap();
    assert!(first.starts_with("cargo run -q -p registry-cli -- demo "), "{first}");
    assert!(repo_file("scripts/test.sh").contains("cargo run -q --locked -p registry-cli -- demo"));
}
