//! What the read commands print (`ls`, `catalog`, `digest`, `manifest`, `config`, `inspect`, `referrers`, `tag`, `delete`): text and JSON shapes.

use std::collections::BTreeMap;

use registry_client::{Descriptor, Digest, Inspection, Layer};
use serde::Serialize;

/// Write `bytes` to stdout exactly as they are (a manifest, a config: no newline added; a closed stdout, as
/// `| head` leaves it, is no error of the run).
pub(crate) fn print_bytes(bytes: &[u8]) -> Result<(), crate::failure::Failure> {
    super::write_stdout(bytes)
}

/// `items`, one per line (nothing at all for none).
pub(crate) fn lines(items: &[String]) -> String {
    let mut text = String::new();
    for item in items {
        text.push_str(item);
        text.push('\n');
    }
    text
}

/// `1234 B`, `12.1 KiB`, `3.4 MiB`, `1.2 GiB`: a byte count for people.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `regcli ls --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct TagsJson<'a> {
    /// The repository, as given.
    pub(crate) repository: &'a str,
    /// Its tags, lexical order.
    pub(crate) tags: &'a [String],
}

/// `regcli catalog --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct RepositoriesJson<'a> {
    /// The registry (with its prefix), as given.
    pub(crate) registry: &'a str,
    /// Full repository names (prefix included), lexical order.
    pub(crate) repositories: &'a [String],
}

/// `regcli digest --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct DigestJson<'a> {
    /// The reference, as given.
    pub(crate) reference: &'a str,
    /// The platform asked for, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<String>,
    /// `sha256:<hex>`.
    pub(crate) digest: &'a Digest,
}

/// `regcli referrers --format json`: the subject's digest and each referrer as an OCI descriptor.
#[derive(Debug, Serialize)]
pub(crate) struct ReferrersJson<'a> {
    /// The reference, as given.
    pub(crate) reference: &'a str,
    /// The subject's digest (`sha256:<hex>`).
    pub(crate) subject: &'a Digest,
    /// The referrers, as the registry lists them (OCI descriptors: mediaType, digest, size, artifactType,
    /// annotations).
    pub(crate) referrers: &'a [Descriptor],
}

/// One referrer: `sha256:..  artifact/type  123 B  key=value, key=value`.
pub(crate) fn referrers_text(referrers: &[Descriptor]) -> String {
    let mut text = String::new();
    for d in referrers {
        let artifact_type = d.artifact_type().as_ref().map_or_else(|| d.media_type().to_string(), ToString::to_string);
        text.push_str(&format!("{}  {artifact_type}  {}", d.digest(), human(d.size())));
        let annotations: BTreeMap<_, _> = d.annotations().iter().flatten().collect();
        if !annotations.is_empty() {
            let shown: Vec<String> = annotations.iter().map(|(k, v)| format!("{k}={}", short(v, 60))).collect();
            text.push_str(&format!("  {}", shown.join(", ")));
        }
        text.push('\n');
    }
    text
}

/// `text` cut to `max` characters (with `...`), on one line.
fn short(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{cut}...")
}

/// `regcli tag --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct TaggedJson<'a> {
    /// The reference tagged, as given.
    pub(crate) reference: &'a str,
    /// The new tag.
    pub(crate) tag: &'a str,
    /// The digest both now name.
    pub(crate) digest: &'a Digest,
}

/// `regcli delete --format json`.
#[derive(Debug, Serialize)]
pub(crate) struct DeletedJson<'a> {
    /// The reference, as given.
    pub(crate) reference: &'a str,
    /// `tag` (the tag alone went) or `manifest` (the manifest and every tag on it went).
    pub(crate) deleted: &'a str,
    /// The manifest's digest (for a tag: the one it pointed to, which stays).
    pub(crate) digest: &'a Digest,
}

/// `regcli inspect` for people: the manifest, then an index's entries or an image's details.
pub(crate) fn inspect_text(seen: &Inspection) -> String {
    let mut text = String::new();
    let mut row = |key: &str, value: &str| text.push_str(&format!("{key:<13}{value}\n"));
    row("reference", &seen.reference);
    row("digest", seen.digest.as_str());
    row("media type", &seen.media_type);
    row("size", &format!("{} bytes", seen.size));
    if let Some(index) = &seen.index_digest {
        row("from index", index.as_str());
    }
    if let Some(artifact_type) = &seen.artifact_type {
        row("artifact", artifact_type);
    }
    for (key, value) in &seen.annotations {
        row("annotation", &format!("{key}={}", short(value, 200)));
    }
    if let Some(entries) = &seen.manifests {
        text.push_str(&format!("manifests    {}\n", entries.len()));
        for entry in entries {
            let platform = entry.platform.as_deref().or(entry.artifact_type.as_deref()).unwrap_or("(no platform)");
            text.push_str(&format!("  {platform:<20} {}  {} bytes\n", entry.digest, entry.size));
        }
    }
    if let Some(image) = &seen.image {
        let mut platform = format!("{}/{}", image.os, image.architecture);
        if let Some(variant) = &image.variant {
            platform.push_str(&format!("/{variant}"));
        }
        let mut row = |key: &str, value: &str| text.push_str(&format!("{key:<13}{value}\n"));
        row("platform", &platform);
        row("created", image.created.as_deref().unwrap_or("-"));
        row("config", &format!("{}  {} bytes", image.config_digest, image.config_size));
        for (key, value) in &image.labels {
            row("label", &format!("{key}={}", short(value, 200)));
        }
        for env in &image.env {
            row("env", &short(env, 200));
        }
        if !image.entrypoint.is_empty() {
            row("entrypoint", &json_words(&image.entrypoint));
        }
        if !image.cmd.is_empty() {
            row("cmd", &json_words(&image.cmd));
        }
        if let Some(user) = &image.user {
            row("user", user);
        }
        if let Some(dir) = &image.working_dir {
            row("workdir", dir);
        }
        layers_text(&mut text, &image.layers, image.layers_size);
    }
    if let Some(artifact) = &seen.artifact {
        text.push_str(&format!(
            "config       {}  {}  {} bytes\n",
            artifact.config_digest, artifact.config_media_type, artifact.config_size
        ));
        layers_text(&mut text, &artifact.layers, artifact.layers_size);
    }
    text
}

/// `layers N`, one line per layer (digest, media type, size), then the total.
fn layers_text(text: &mut String, layers: &[Layer], total: u64) {
    text.push_str(&format!("layers       {}\n", layers.len()));
    for layer in layers {
        text.push_str(&format!(
            "  {}  {}  {} bytes ({})\n",
            layer.digest,
            layer.media_type,
            layer.size,
            human(layer.size)
        ));
    }
    text.push_str(&format!("total        {total} bytes ({})\n", human(total)));
}

/// `["sh","-c","x"]`, as a Dockerfile writes an exec form.
fn json_words(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_else(|_| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1024), "1.0 KiB");
        assert_eq!(human(5 * 1024 * 1024 + 512 * 1024), "5.5 MiB");
        assert_eq!(human(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn long_values_are_cut_to_one_line() {
        assert_eq!(short("a\nb", 10), "a b");
        assert_eq!(short(&"x".repeat(70), 60), format!("{}...", "x".repeat(60)));
        assert_eq!(lines(&["a".into(), "b".into()]), "a\nb\n");
        assert_eq!(lines(&[]), "");
    }
}
