//! Edits of an image config (OCI image spec "config" object; docker's is the same shape): labels, environment,
//! entrypoint, command, user, working directory, exposed ports and platform, applied to the config's JSON so
//! fields this crate does not model are kept.

use std::collections::BTreeMap;

use registry_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::image::platform::Platform;

/// What to change in a config; `None`/empty leaves a field as the base has it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigEdits {
    pub(crate) labels: BTreeMap<String, String>,
    /// `(KEY, value)` in the order given; a key set twice keeps the last value.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) user: Option<String>,
    pub(crate) working_dir: Option<String>,
    /// As given (`8080`, `8080/tcp`, `53/udp`); checked and normalised by [`ConfigEdits::apply`].
    pub(crate) expose: Vec<String>,
    pub(crate) platform: Option<Platform>,
}

impl ConfigEdits {
    /// Whether anything is to change.
    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty()
            && self.env.is_empty()
            && self.entrypoint.is_none()
            && self.cmd.is_none()
            && self.user.is_none()
            && self.working_dir.is_none()
            && self.expose.is_empty()
            && self.platform.is_none()
    }

    /// What changes, for the history entry: e.g. `ENV PATH LABEL a.b USER`.
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (k, _) in &self.env {
            parts.push(format!("ENV {k}"));
        }
        for k in self.labels.keys() {
            parts.push(format!("LABEL {k}"));
        }
        if let Some(e) = &self.entrypoint {
            parts.push(format!("ENTRYPOINT {}", json!(e)));
        }
        if let Some(c) = &self.cmd {
            parts.push(format!("CMD {}", json!(c)));
        }
        if let Some(u) = &self.user {
            parts.push(format!("USER {u}"));
        }
        if let Some(w) = &self.working_dir {
            parts.push(format!("WORKDIR {w}"));
        }
        for p in &self.expose {
            parts.push(format!("EXPOSE {p}"));
        }
        if let Some(p) = &self.platform {
            parts.push(format!("PLATFORM {p}"));
        }
        parts.join(" ")
    }

    /// Check every value: `InvalidInput` naming it for an env key that is empty or holds `=`, a port that is not
    /// `1..=65535` with an optional `/tcp`, `/udp` or `/sctp`, an empty label key.
    pub(crate) fn check(&self) -> Result<()> {
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid_input(format!("invalid environment variable name {k:?}")));
            }
        }
        if self.labels.keys().any(|k| k.is_empty()) {
            return Err(Error::invalid_input("a label key is empty"));
        }
        for p in &self.expose {
            normalise_port(p)?;
        }
        Ok(())
    }

    /// Apply the edits to `config` (the whole config object). Setting an entrypoint without a command clears the
    /// command the base had, as a Dockerfile `ENTRYPOINT` does (the base's arguments rarely fit a new program).
    /// `Protocol` when the config is no JSON object.
    pub(crate) fn apply(&self, config: &mut Value) -> Result<()> {
        self.check()?;
        let root = config.as_object_mut().ok_or_else(|| Error::protocol("the image config is no JSON object"))?;
        if let Some(p) = &self.platform {
            root.insert("os".into(), json!(p.os()));
            root.insert("architecture".into(), json!(p.architecture()));
            match p.variant() {
                Some(v) => root.insert("variant".into(), json!(v)),
                None => root.remove("variant"),
            };
        }
        let inner = root.entry("config").or_insert_with(|| json!({}));
        if inner.is_null() {
            *inner = json!({});
        }
        let inner =
            inner.as_object_mut().ok_or_else(|| Error::protocol("the image config's \"config\" is no object"))?;
        if !self.labels.is_empty() {
            let labels = object_field(inner, "Labels")?;
            for (k, v) in &self.labels {
                labels.insert(k.clone(), json!(v));
            }
        }
        if !self.env.is_empty() {
            let mut env: Vec<String> = match inner.get("Env") {
                Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                _ => Vec::new(),
            };
            for (k, v) in &self.env {
                let line = format!("{k}={v}");
                let prefix = format!("{k}=");
                match env.iter_mut().find(|e| e.starts_with(&prefix) || *e == k) {
                    Some(existing) => *existing = line,
                    None => env.push(line),
                }
            }
            inner.insert("Env".into(), json!(env));
        }
        if let Some(e) = &self.entrypoint {
            inner.insert("Entrypoint".into(), json!(e));
            if self.cmd.is_none() {
                inner.remove("Cmd");
            }
        }
        if let Some(c) = &self.cmd {
            inner.insert("Cmd".into(), json!(c));
        }
        if let Some(u) = &self.user {
            inner.insert("User".into(), json!(u));
        }
        if let Some(w) = &self.working_dir {
            inner.insert("WorkingDir".into(), json!(w));
        }
        if !self.expose.is_empty() {
            let ports = object_field(inner, "ExposedPorts")?;
            for p in &self.expose {
                ports.insert(normalise_port(p)?, json!({}));
            }
        }
        Ok(())
    }
}

/// The object at `key` of `map`, created when absent or null.
fn object_field<'a>(map: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Map<String, Value>> {
    let v = map.entry(key).or_insert_with(|| json!({}));
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut().ok_or_else(|| Error::protocol(format!("the image config's {key} is no object")))
}

/// `8080` -> `8080/tcp`; `53/UDP` -> `53/udp`. `InvalidInput` naming the port otherwise.
fn normalise_port(p: &str) -> Result<String> {
    let bad = || Error::invalid_input(format!("invalid port {p:?}: expected PORT or PORT/tcp|udp|sctp, 1 to 65535"));
    let (port, proto) = match p.split_once('/') {
        Some((port, proto)) => (port, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    let n: u16 = port.parse().map_err(|_| bad())?;
    if n == 0 || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    Ok(format!("{n}/{proto}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_what_they_do_not_touch() {
        let mut config = json!({
            "architecture": "amd64", "os": "linux", "variant": "x",
            "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Labels": {"keep": "me"}, "StopSignal": "TERM"},
            "rootfs": {"type": "layers", "diff_ids": []}, "unknown": 1
        });
        let edits = ConfigEdits {
            env: vec![("A".into(), "2".into()), ("B".into(), "x=y".into())],
            labels: [("new".to_string(), "v".to_string())].into(),
            entrypoint: Some(vec!["/app".into()]),
            expose: vec!["8080".into(), "53/UDP".into()],
            platform: Some(Platform::new("linux", "arm64")),
            ..ConfigEdits::default()
        };
        edits.apply(&mut config).unwrap();
        let c = &config["config"];
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=x=y"]));
        assert_eq!(c["Labels"], json!({"keep": "me", "new": "v"}));
        assert_eq!(c["Entrypoint"], json!(["/app"]));
        assert!(c.get("Cmd").is_none(), "a new entrypoint drops the base's command");
        assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "53/udp": {}}));
        assert_eq!(c["StopSignal"], "TERM");
        assert_eq!((config["os"].as_str(), config["architecture"].as_str()), (Some("linux"), Some("arm64")));
        assert!(config.get("variant").is_none() && config["unknown"] == 1);
        for bad in ["0", "70000", "80/icmp", "x"] {
            let e = ConfigEdits { expose: vec![bad.into()], ..ConfigEdits::default() };
            assert!(e.check().unwrap_err().to_string().contains(bad), "{bad}");
        }
        let e = ConfigEdits { env: vec![("A=B".into(), "1".into())], ..ConfigEdits::default() };
        assert!(e.check().is_err());
    }
}
