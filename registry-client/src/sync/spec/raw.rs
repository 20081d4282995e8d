//! The spec's YAML as written: serde structs that refuse unknown keys and keep the line of every value that a
//! later check may complain about. Nothing here is checked beyond YAML types; [`super::build`] does that.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file: `registries`, `defaults`, `sync`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    /// `host[:port]` -> settings, in the file's order.
    #[serde(default)]
    pub(super) registries: Option<RawRegistries>,
    /// Options every entry starts from.
    #[serde(default)]
    pub(super) defaults: Option<Spanned<RawOptions>>,
    /// The entries; `sync:` with no value is `None` with the line of the value; no `sync:` at all is `None` at
    /// line 0.
    #[serde(default = "no_sync")]
    pub(super) sync: Spanned<Option<Vec<Spanned<RawEntry>>>>,
}

/// The `sync` of a file without one: nothing, at line 0.
fn no_sync() -> Spanned<Option<Vec<Spanned<RawEntry>>>> {
    Spanned::new(None, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

/// `registries:`: each host (with its line) and its settings.
#[derive(Debug, Default)]
pub(super) struct RawRegistries(pub(super) Vec<(Spanned<String>, RawRegistry)>);

impl<'de> Deserialize<'de> for RawRegistries {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = RawRegistries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of registry hosts (`host[:port]`) to their settings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawRegistries, E> {
                Ok(RawRegistries::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRegistries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<Spanned<String>, Option<RawRegistry>>()? {
                    out.push((entry.0, entry.1.unwrap_or_default()));
                }
                Ok(RawRegistries(out))
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// The keys a registry's settings may have (a `password` key is refused on its own, with its reason).
pub(super) const REGISTRY_KEYS: &str = "insecure, tls_skip_verify, ca, username, password_file, password_env, rate";

/// One host's settings as written. Read by hand rather than derived so that a `password:` key is refused with its
/// reason (its value is skipped unread) and an unknown key lists only the keys a spec may use: both are recorded
/// with their line and refused by [`super::build`].
#[derive(Debug, Default)]
pub(super) struct RawRegistry {
    pub(super) insecure: Option<bool>,
    pub(super) tls_skip_verify: Option<bool>,
    pub(super) ca: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) rate: Option<Spanned<f64>>,
    /// The line of a `password:` key.
    pub(super) password_line: Option<usize>,
    /// The first key that is not a setting, and its line.
    pub(super) unknown: Option<(usize, String)>,
}

impl<'de> Deserialize<'de> for RawRegistry {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingsVisitor;
        impl<'de> Visitor<'de> for SettingsVisitor {
            type Value = RawRegistry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "registry settings (a map with keys {REGISTRY_KEYS})")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRegistry, A::Error> {
                let mut out = RawRegistry::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let line = key.referenced.line() as usize;
                    let key = key.value;
                    let duplicate = || de::Error::custom(format!("duplicate key `{key}` in registry settings"));
                    match key.as_str() {
                        "insecure" => set(&mut out.insecure, map.next_value()?).map_err(|()| duplicate())?,
                        "tls_skip_verify" => {
                            set(&mut out.tls_skip_verify, map.next_value()?).map_err(|()| duplicate())?
                        }
                        "ca" => set(&mut out.ca, map.next_value()?).map_err(|()| duplicate())?,
                        "username" => set(&mut out.username, map.next_value()?).map_err(|()| duplicate())?,
                        "password_file" => set(&mut out.password_file, map.next_value()?).map_err(|()| duplicate())?,
                        "password_env" => set(&mut out.password_env, map.next_value()?).map_err(|()| duplicate())?,
                        "rate" => set(&mut out.rate, map.next_value()?).map_err(|()| duplicate())?,
                        "password" => {
                            map.next_value::<IgnoredAny>()?;
                            out.password_line.get_or_insert(line);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            out.unknown.get_or_insert((line, key));
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(SettingsVisitor)
    }
}

/// Store `value` in an empty `slot`; `Err` when the key came twice.
fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), ()> {
    if slot.is_some() {
        return Err(());
    }
    *slot = Some(value);
    Ok(())
}

/// `defaults:`: the options an entry may override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOptions {
    pub(super) tags: Option<Spanned<RawTags>>,
    pub(super) platforms: Option<Spanned<RawPlatforms>>,
    pub(super) referrers: Option<bool>,
    pub(super) overwrite: Option<bool>,
}

/// One `- ` item of `sync:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) source: Option<Spanned<String>>,
    pub(super) target: Option<Spanned<String>>,
    pub(super) tags: Option<Spanned<RawTags>>,
    pub(super) platforms: Option<Spanned<RawPlatforms>>,
    pub(super) referrers: Option<bool>,
    pub(super) overwrite: Option<bool>,
}

/// `tags: { allow, deny, semver, latest }`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTags {
    /// `None` when not given; `allow: []` is kept, to be refused.
    #[serde(default)]
    pub(super) allow: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) deny: Vec<Spanned<String>>,
    pub(super) semver: Option<Spanned<String>>,
    pub(super) latest: Option<Spanned<i64>>,
}

/// `platforms:`: a word (`all`) or a list of `os/arch[/variant]`.
#[derive(Debug, Clone)]
pub(super) enum RawPlatforms {
    /// A single string: only `all` is valid, checked later with its line.
    Word(String),
    /// A list of platform strings.
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawPlatforms {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PlatformsVisitor;
        impl<'de> Visitor<'de> for PlatformsVisitor {
            type Value = RawPlatforms;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all` or a list of platforms (`os/arch[/variant]`)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPlatforms, E> {
                Ok(RawPlatforms::Word(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPlatforms, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    out.push(item);
                }
                Ok(RawPlatforms::List(out))
            }
        }
        deserializer.deserialize_any(PlatformsVisitor)
    }
}
