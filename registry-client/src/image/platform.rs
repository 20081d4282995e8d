//! Platforms (`os/architecture[/variant]`) and picking one from an index.

use std::fmt;

use oci_spec::image::{Descriptor, ImageIndex};
use registry_core::{Error, Result};

/// A platform such as `linux/arm64` or `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl Platform {
    /// A platform from an OS and an architecture, in Go's names (`linux`, `amd64`, `arm64`).
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Platform {
        Platform { os: os.into(), architecture: normalize_arch(&architecture.into()), variant: None }
    }

    /// With a CPU variant (`v7`, `v8`).
    #[must_use]
    pub fn with_variant(mut self, variant: impl Into<String>) -> Platform {
        let v = variant.into();
        self.variant = if v.is_empty() { None } else { Some(v) };
        self
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(*os, *arch)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform::new(*os, *arch).with_variant(*variant))
            }
            _ => Err(Error::invalid_input(format!("invalid platform {s:?}: expected os/arch[/variant]"))),
        }
    }

    /// The platform of the machine this runs on (never a silent `linux/amd64`).
    pub fn host() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            other => other,
        };
        Platform::new(os, arch)
    }

    /// The OS.
    pub fn os(&self) -> &str {
        &self.os
    }

    /// The architecture.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The variant, if any.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The platform of an index entry, if it has one.
    pub fn of_descriptor(d: &Descriptor) -> Option<Platform> {
        let p = d.platform().as_ref()?;
        let mut out = Platform::new(p.os().to_string(), p.architecture().to_string());
        if let Some(v) = p.variant() {
            out = out.with_variant(v.clone());
        }
        Some(out)
    }

    /// Whether an entry of platform `candidate` satisfies this request: same OS and architecture, and the same
    /// variant when this one names a variant (`arm64` without a variant counts as `v8`).
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(v) => {
                default_variant(&self.architecture, Some(v))
                    == default_variant(&candidate.architecture, candidate.variant())
            }
        }
    }

    /// The entry of `index` for this platform: the first that matches exactly (variant included), else the first
    /// that matches. No match is a `NotFound` error listing the platforms the index has.
    pub fn select<'a>(&self, index: &'a ImageIndex) -> Result<&'a Descriptor> {
        let entries: Vec<(&Descriptor, Platform)> =
            index.manifests().iter().filter_map(|d| Platform::of_descriptor(d).map(|p| (d, p))).collect();
        let exact = entries.iter().find(|(_, p)| {
            self.matches(p)
                && default_variant(&self.architecture, self.variant()) == default_variant(&p.architecture, p.variant())
        });
        if let Some((d, _)) = exact.or_else(|| entries.iter().find(|(_, p)| self.matches(p))) {
            return Ok(d);
        }
        let available: Vec<String> = entries.iter().map(|(_, p)| p.to_string()).collect();
        Err(Error::not_found(format!(
            "no image for platform {self} in the index; it has: {}",
            if available.is_empty() { "no platform entries".to_string() } else { available.join(", ") }
        )))
    }
}

fn normalize_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.to_string(),
    }
}

fn default_variant<'a>(arch: &str, variant: Option<&'a str>) -> Option<&'a str> {
    match (arch, variant) {
        ("arm64", None) => Some("v8"),
        (_, v) => v,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Platform> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_match() {
        let p = Platform::parse("linux/arm64/v8").map_err(|e| e.to_string());
        assert_eq!(p.as_ref().map(|p| p.to_string()), Ok("linux/arm64/v8".to_string()));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
        assert!(Platform::new("linux", "arm64").matches(&Platform::new("linux", "arm64").with_variant("v8")));
        assert!(Platform::new("linux", "arm64").with_variant("v8").matches(&Platform::new("linux", "arm64")));
        assert!(!Platform::new("linux", "arm")
            .with_variant("v7")
            .matches(&Platform::new("linux", "arm").with_variant("v6")));
        assert!(Platform::new("linux", "arm").matches(&Platform::new("linux", "arm").with_variant("v6")));
        assert!(!Platform::new("linux", "amd64").matches(&Platform::new("windows", "amd64")));
        assert_eq!(Platform::new("linux", "x86_64").architecture(), "amd64");
    }

    #[test]
    fn host_is_not_a_guess() {
        let h = Platform::host();
        assert!(!h.os().is_empty() && !h.architecture().is_empty());
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!(h.to_string(), "linux/amd64");
        #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
        assert_eq!(h.to_string(), "linux/arm64");
    }
}
