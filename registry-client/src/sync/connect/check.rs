//! The spec's registry settings checked before any request: password files and variables, CA files; hosts no
//! entry uses are warned about (a likely typo).

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use registry_core::{Error, Result};

use crate::sync::endpoint::Endpoint;
use crate::sync::spec::{RegistrySettings, SyncSpec};

/// Check every `registries:` entry of `spec`: `password_file` readable and not empty (after trimming),
/// `password_env` set and not empty, `ca` readable and holding at least one PEM certificate. A host no entry uses
/// is logged as a warning (tracing `warn`), naming it.
///
/// Errors: `InvalidInput` naming the host and the key (`registries HOST: password_file cannot be read (not
/// found)`); never the password, nor the path of a password file (a user may have put the password itself there).
pub(crate) fn check_settings(spec: &SyncSpec) -> Result<()> {
    for (host, settings) in &spec.registries {
        check_host(host, settings)?;
    }
    let used: BTreeSet<String> = spec
        .entries
        .iter()
        .flat_map(|e| [registry_of(&e.source), registry_of(&e.target)])
        .flatten()
        .map(|h| canonical(&h))
        .collect();
    for host in spec.registries.keys() {
        if !used.contains(&canonical(host)) {
            tracing::warn!("registries {host}: no sync entry uses this host (a typo?)");
        }
    }
    Ok(())
}

/// One host's settings (see [`check_settings`]).
fn check_host(host: &str, s: &RegistrySettings) -> Result<()> {
    let bad = |what: String| Error::invalid_input(format!("registries {host}: {what}"));
    if let Some(file) = &s.password_file {
        let text = std::fs::read(file).map_err(|e| bad(format!("password_file cannot be read ({})", io_words(&e))))?;
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(bad("password_file is empty".to_string()));
        }
    }
    if let Some(var) = &s.password_env {
        match std::env::var(var) {
            Ok(v) if v.trim().is_empty() => return Err(bad(format!("password_env {var} is empty"))),
            Ok(_) => {}
            Err(std::env::VarError::NotPresent) => return Err(bad(format!("password_env {var} is not set"))),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(bad(format!("password_env {var} is not valid UTF-8")))
            }
        }
    }
    if let Some(ca) = &s.ca {
        check_ca(ca).map_err(|why| bad(format!("ca {}: {why}", ca.display())))?;
    }
    Ok(())
}

/// Why `ca` is not a readable PEM file with at least one certificate.
fn check_ca(ca: &Path) -> std::result::Result<(), String> {
    let pem = std::fs::read(ca).map_err(|e| format!("cannot be read ({})", io_words(&e)))?;
    let text = String::from_utf8_lossy(&pem);
    let has_cert = text
        .find("-----BEGIN CERTIFICATE-----")
        .is_some_and(|at| text.get(at..).is_some_and(|rest| rest.contains("-----END CERTIFICATE-----")));
    if has_cert {
        Ok(())
    } else {
        Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string())
    }
}

/// An io error in words a user reads: "not found", "permission denied", "is a directory".
pub(crate) fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "not found".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        io::ErrorKind::NotADirectory => "a parent is not a directory".to_string(),
        _ => match e.raw_os_error() {
            Some(_) => e.to_string(),
            None => e.kind().to_string(),
        },
    }
}

/// The registry host an endpoint names (`None` for a layout).
fn registry_of(e: &Endpoint) -> Option<String> {
    match e {
        Endpoint::Image { registry, .. }
        | Endpoint::Repository { registry, .. }
        | Endpoint::Prefix { registry, .. } => Some(registry.clone()),
        _ => None,
    }
}

/// Docker Hub's aliases as one name.
fn canonical(host: &str) -> String {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use registry_core::ErrorKind;

    use super::*;

    fn spec_with(host: &str, s: RegistrySettings) -> SyncSpec {
        let mut registries = BTreeMap::new();
        registries.insert(host.to_string(), s);
        SyncSpec { registries, entries: Vec::new() }
    }

    #[test]
    fn password_files_variables_and_cas_are_checked_naming_host_and_key_never_the_secret_or_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let secret_path = dir.path().join("hunter2-is-my-password");
        let s = RegistrySettings {
            username: Some("u".into()),
            password_file: Some(secret_path.clone()),
            ..RegistrySettings::default()
        };
        let e = check_settings(&spec_with("127.0.0.1:5103", s.clone())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().ends_with("registries 127.0.0.1:5103: password_file cannot be read (not found)"), "{e}");

        std::fs::write(&secret_path, " \n").unwrap();
        let e = check_settings(&spec_with("h", s.clone())).unwrap_err();
        assert!(e.to_string().ends_with("registries h: password_file is empty"), "{e}");
        std::fs::write(&secret_path, "s3cret\n").unwrap();
        check_settings(&spec_with("h", s)).unwrap();

        let s = RegistrySettings {
            password_env: Some("REGISTRY_CHECK_TEST_SURELY_UNSET".into()),
            ..RegistrySettings::default()
        };
        let e = check_settings(&spec_with("h", s)).unwrap_err();
        assert!(
            e.to_string().ends_with("registries h: password_env REGISTRY_CHECK_TEST_SURELY_UNSET is not set"),
            "{e}"
        );

        let s = RegistrySettings { ca: Some(dir.path().join("ca.pem")), ..RegistrySettings::default() };
        let e = check_settings(&spec_with("h", s.clone())).unwrap_err();
        assert!(e.to_string().contains("registries h: ca ") && e.to_string().ends_with("cannot be read (not found)"));
        std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
        let e = check_settings(&spec_with("h", s.clone())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        std::fs::write(dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .unwrap();
        check_settings(&spec_with("h", s)).unwrap();
    }
}
