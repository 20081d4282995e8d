//! Finds the crate targets of a workspace: the members listed in the root `Cargo.toml` (a trailing `/*` expanded),
//! or, without a `[workspace]` list, every directory beside it with a `Cargo.toml`; per member its `src/lib.rs`,
//! `src/main.rs` and `src/bin/*.rs` (or `src/bin/*/main.rs`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One crate target to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateRoot {
    /// The package name, with ` (bin NAME)` for a binary beside a library or for a second binary.
    pub name: String,
    /// Its root file.
    pub root_file: PathBuf,
}

/// The nearest directory at or above `start` whose `Cargo.toml` has a `[workspace]` section.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| {
            fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
}

/// The crate targets of the workspace at `root`, members in the order listed, each member's library first.
/// Fails with the I/O error when the root `Cargo.toml` or a directory cannot be read.
pub fn crate_roots(root: &Path) -> io::Result<Vec<CrateRoot>> {
    let manifest = fs::read_to_string(root.join("Cargo.toml"))?;
    let mut members = Vec::new();
    for member in workspace_members(&manifest) {
        match member.strip_suffix("/*") {
            Some(dir) => {
                let mut found: Vec<PathBuf> = fs::read_dir(root.join(dir))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("Cargo.toml").is_file())
                    .collect();
                found.sort();
                members.extend(found);
            }
            None => members.push(root.join(member)),
        }
    }
    if members.is_empty() {
        let mut found: Vec<PathBuf> = fs::read_dir(root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        found.sort();
        members = found;
    }
    let mut roots = Vec::new();
    for dir in members {
        let name = fs::read_to_string(dir.join("Cargo.toml"))
            .ok()
            .and_then(|t| package_name(&t))
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        roots.extend(member_roots(&name, &dir.join("src"))?);
    }
    Ok(roots)
}

/// The targets of one member: `src/lib.rs`, `src/main.rs`, `src/bin/*`.
fn member_roots(name: &str, src: &Path) -> io::Result<Vec<CrateRoot>> {
    let mut roots = Vec::new();
    for file in ["lib.rs", "main.rs"] {
        if src.join(file).is_file() {
            let label = if file == "main.rs" && !roots.is_empty() { format!("{name} (bin)") } else { name.to_string() };
            roots.push(CrateRoot { name: label, root_file: src.join(file) });
        }
    }
    let bin = src.join("bin");
    if bin.is_dir() {
        let mut bins: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&bin)? {
            let path = entry?.path();
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if path.extension().is_some_and(|e| e == "rs") {
                bins.push((stem, path));
            } else if path.join("main.rs").is_file() {
                bins.push((stem, path.join("main.rs")));
            }
        }
        bins.sort();
        for (stem, file) in bins {
            roots.push(CrateRoot { name: format!("{name} (bin {stem})"), root_file: file });
        }
    }
    Ok(roots)
}

/// The strings of `members = [..]` in the `[workspace]` section of a `Cargo.toml`.
fn workspace_members(manifest: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut collecting = false;
    let mut list = String::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') && !collecting {
            in_workspace = line == "[workspace]";
            continue;
        }
        if in_workspace && !collecting {
            if let Some(rest) = line.strip_prefix("members") {
                if let Some(value) = rest.trim_start().strip_prefix('=') {
                    collecting = true;
                    list.push_str(value);
                }
            }
        } else if collecting {
            list.push_str(line);
        }
        if collecting && list.contains(']') {
            break;
        }
    }
    list.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

/// The `name` of the `[package]` section.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(rest) = line.strip_prefix("name") {
                let value = rest.trim_start().strip_prefix('=')?.trim();
                return Some(value.trim_matches('"').to_string());
            }
        }
    }
    None
}
