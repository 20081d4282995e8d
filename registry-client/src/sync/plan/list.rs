//! Listing one spec entry's source: the (source, target) image pairs it yields, before any digest is compared.

use std::path::Path;

use futures::stream::{self, StreamExt};
use registry_core::{Error, Result};

use crate::client::Client;
use crate::image::layout::client::LayoutClient;
use crate::options::ListOptions;
use crate::sync::connect::Connector;
use crate::sync::endpoint::{Endpoint, ImageRef, Location};
use crate::sync::spec::SyncEntry;

/// Repositories listed at once (their tags) within one prefix entry.
const LIST_CONCURRENCY: usize = 16;

/// One source image and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Candidate {
    pub(crate) source: ImageRef,
    pub(crate) target: ImageRef,
}

/// What listing an entry found.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    /// The images that passed the filters.
    pub(crate) images: Vec<Candidate>,
    /// Digest tags (`sha256-<hex>[.sig|.att|.sbom]`) set aside when the entry copies referrers: they travel with
    /// the image whose digest they name, whatever the filters say.
    pub(crate) digest_tags: Vec<Candidate>,
    /// What could not be listed, with the error.
    pub(crate) failed: Vec<(Candidate, String)>,
}

fn image(location: Location, reference: impl Into<String>) -> ImageRef {
    ImageRef { location, reference: reference.into() }
}

fn registry(host: &str, repository: &str) -> Location {
    Location::Registry { host: host.to_string(), repository: repository.to_string() }
}

fn layout(dir: &Path, repository: &str) -> Location {
    Location::Layout { dir: dir.to_path_buf(), repository: repository.to_string() }
}

fn join(prefix: &str, rel: &str) -> String {
    if rel.is_empty() {
        prefix.to_string()
    } else if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Maps a repository found below a tree's root (relative to it) to its source and target locations.
type TreeMap = Box<dyn Fn(&str) -> (Location, Location) + Send + Sync>;

/// What an entry names: one image, or repository pairs whose tags are listed, or a tree to list first.
enum Shape {
    One(Candidate),
    Repositories(Vec<(Location, Location)>),
    /// Repositories below the source root: `rel` -> (source(rel), target(rel)).
    Tree {
        source: Location,
        map: TreeMap,
    },
}

/// The shape of `entry` (the spec checked the pair fits: a pair that does not is `InvalidInput`).
fn shape(entry: &SyncEntry) -> Result<Shape> {
    use Endpoint as E;
    let one = |source: ImageRef, target: ImageRef| Ok(Shape::One(Candidate { source, target }));
    match (&entry.source, &entry.target) {
        (E::Image { registry: h, repository: r, reference }, target) => {
            let source = image(registry(h, r), reference.clone());
            match target {
                E::Image { registry: h2, repository: r2, reference: t } => {
                    one(source, image(registry(h2, r2), t.clone()))
                }
                E::Repository { registry: h2, repository: r2 } => {
                    one(source, image(registry(h2, r2), reference.clone()))
                }
                E::Layout { dir, tag } => {
                    one(source, image(layout(dir, ""), tag.clone().unwrap_or_else(|| reference.clone())))
                }
                _ => Err(unfit(entry)),
            }
        }
        (E::Layout { dir, tag: Some(tag) }, target) => {
            let source = image(layout(dir, ""), tag.clone());
            match target {
                E::Image { registry: h2, repository: r2, reference: t } => {
                    one(source, image(registry(h2, r2), t.clone()))
                }
                E::Repository { registry: h2, repository: r2 } => one(source, image(registry(h2, r2), tag.clone())),
                E::Layout { dir: d2, tag: t2 } => one(source, image(layout(d2, ""), t2.clone().unwrap_or(tag.clone()))),
                _ => Err(unfit(entry)),
            }
        }
        (E::Repository { registry: h, repository: r }, E::Repository { registry: h2, repository: r2 }) => {
            Ok(Shape::Repositories(vec![(registry(h, r), registry(h2, r2))]))
        }
        (E::Repository { registry: h, repository: r }, E::Layout { dir, tag: None }) => {
            Ok(Shape::Repositories(vec![(registry(h, r), layout(dir, ""))]))
        }
        (E::Layout { dir, tag: None }, E::Repository { registry: h2, repository: r2 }) => {
            Ok(Shape::Repositories(vec![(layout(dir, ""), registry(h2, r2))]))
        }
        (E::Prefix { registry: h, prefix }, E::Prefix { registry: h2, prefix: p2 }) => {
            let (h, p, h2, p2) = (h.clone(), prefix.clone(), h2.clone(), p2.clone());
            let source = registry(&h, &p);
            let map = move |rel: &str| (registry(&h, &join(&p, rel)), registry(&h2, &join(&p2, rel)));
            Ok(Shape::Tree { source, map: Box::new(map) })
        }
        (E::Prefix { registry: h, prefix }, E::Layout { dir, tag: None }) => {
            let (h, p, d) = (h.clone(), prefix.clone(), dir.clone());
            let source = registry(&h, &p);
            let map = move |rel: &str| (registry(&h, &join(&p, rel)), layout(&d, rel));
            Ok(Shape::Tree { source, map: Box::new(map) })
        }
        (E::Layout { dir, tag: None }, E::Prefix { registry: h2, prefix: p2 }) => {
            let (d, h2, p2) = (dir.clone(), h2.clone(), p2.clone());
            let map = move |rel: &str| (layout(&d, rel), registry(&h2, &join(&p2, rel)));
            Ok(Shape::Tree { source: layout(dir, ""), map: Box::new(map) })
        }
        (E::Layout { dir, tag: None }, E::Layout { dir: d2, tag: None }) => {
            let (d, d2) = (dir.clone(), d2.clone());
            let map = move |rel: &str| (layout(&d, rel), layout(&d2, rel));
            Ok(Shape::Tree { source: layout(dir, ""), map: Box::new(map) })
        }
        _ => Err(unfit(entry)),
    }
}

fn unfit(entry: &SyncEntry) -> Error {
    Error::invalid_input(format!(
        "entry at line {}: a source {:?} does not go into a target {:?}",
        entry.line, entry.source, entry.target
    ))
}

/// The location an entry's failure is reported at: its source as far as it names one.
fn entry_ref(endpoint: &Endpoint) -> ImageRef {
    match endpoint {
        Endpoint::Image { registry: h, repository: r, reference } => image(registry(h, r), reference.clone()),
        Endpoint::Repository { registry: h, repository: r } => image(registry(h, r), "*"),
        Endpoint::Prefix { registry: h, prefix } => image(registry(h, prefix), "*"),
        Endpoint::Layout { dir, tag } => image(layout(dir, ""), tag.clone().unwrap_or_else(|| "*".to_string())),
    }
}

/// List `entry`'s source: every image that passes its filters, paired with its target.
pub(crate) async fn list_entry(entry: &SyncEntry, connector: &Connector) -> Listed {
    let mut listed = Listed::default();
    let whole = Candidate { source: entry_ref(&entry.source), target: entry_ref(&entry.target) };
    let fail = |listed: &mut Listed, candidate: Candidate, e: &Error| {
        listed.failed.push((candidate, format!("entry at line {}: {e}", entry.line)));
    };
    let pairs = match shape(entry) {
        Err(e) => {
            fail(&mut listed, whole, &e);
            return listed;
        }
        Ok(Shape::One(candidate)) => {
            if entry.referrers {
                // Its digest tags: listed beside it, kept if they name its digest.
                match source_tags(connector, &candidate.source.location).await {
                    Ok(tags) => {
                        listed.digest_tags = digest_tags(&tags, &candidate.source.location, &candidate.target.location)
                    }
                    Err(e) => {
                        tracing::warn!("entry at line {}: its referrer tags could not be listed: {e}", entry.line)
                    }
                }
            }
            listed.images.push(candidate);
            return listed;
        }
        Ok(Shape::Repositories(pairs)) => pairs,
        Ok(Shape::Tree { source, map }) => match below(connector, &source).await {
            Ok(rels) => rels.iter().map(|rel| map(rel)).collect(),
            Err(e) => {
                fail(&mut listed, whole, &e);
                return listed;
            }
        },
    };
    let mut tags = stream::iter(pairs)
        .map(|(source, target)| async move {
            let tags = source_tags(connector, &source).await;
            let untagged = match &tags {
                Ok(_) => untagged_images(&source).await,
                Err(_) => Ok(Vec::new()),
            };
            (source, target, tags, untagged)
        })
        .buffered(LIST_CONCURRENCY);
    // Images the source holds, before any filter: none at all is a failure, not a silent success.
    let mut found = 0usize;
    while let Some((source, target, tags, untagged)) = tags.next().await {
        let (tags, untagged) = match (tags, untagged) {
            (Ok(tags), Ok(untagged)) => (tags, untagged),
            (Err(e), _) | (_, Err(e)) => {
                let candidate = Candidate { source: image(source, "*"), target: image(target, "*") };
                fail(&mut listed, candidate, &e);
                continue;
            }
        };
        found = found.saturating_add(tags.len()).saturating_add(untagged.len());
        // Untagged images of a layout (kept by digest, as a copy by digest stores them) travel by digest, untagged.
        for reference in untagged {
            let candidate =
                Candidate { source: image(source.clone(), &reference), target: image(target.clone(), &reference) };
            listed.images.push(candidate);
        }
        // A layout's digest tags are never images of their own (they are referrers regcli or cosign stored beside
        // their subject): they travel with a planned subject when the entry copies referrers, else stay behind. A
        // registry's are ordinary tags unless the entry copies referrers (as regsync does).
        let is_layout = matches!(source, Location::Layout { .. });
        let (special, ordinary): (Vec<String>, Vec<String>) =
            tags.into_iter().partition(|t| (entry.referrers || is_layout) && crate::digest_tag::is_digest_tag(t));
        if entry.referrers {
            listed.digest_tags.extend(digest_tags(&special, &source, &target));
        } else if !special.is_empty() {
            tracing::debug!(
                "{}: {} digest tags left behind (referrers are not copied; entry at line {})",
                image(source.clone(), "*"),
                special.len(),
                entry.line
            );
        }
        let kept = entry.tags.apply(ordinary.clone());
        if tracing::enabled!(tracing::Level::DEBUG) && kept.len() < ordinary.len() {
            let kept_set: std::collections::HashSet<&String> = kept.iter().collect();
            for tag in ordinary.iter().filter(|t| !kept_set.contains(t)) {
                tracing::debug!(
                    "{}: left out by the tag filter (entry at line {}): {}",
                    image(source.clone(), tag.clone()),
                    entry.line,
                    entry.tags.why_left_out(tag)
                );
            }
        }
        for tag in kept {
            listed
                .images
                .push(Candidate { source: image(source.clone(), tag.clone()), target: image(target.clone(), tag) });
        }
    }
    if found == 0 && listed.failed.is_empty() {
        let e = Error::not_found(format!("{}: the source holds no image (no tag, no untagged image)", whole.source));
        fail(&mut listed, whole, &e);
    }
    listed
}

/// The untagged top-level images of the layout at `location`, that are no referrers, as references `@<digest>`;
/// empty for a registry (whose untagged manifests cannot be listed) and a layout directory that does not exist.
async fn untagged_images(location: &Location) -> Result<Vec<String>> {
    let Location::Layout { dir, repository } = location else { return Ok(Vec::new()) };
    if !tokio::fs::try_exists(dir).await.unwrap_or(false) {
        return Ok(Vec::new());
    }
    let root = LayoutClient::open(dir).await?;
    let client = if repository.is_empty() { root } else { root.scoped(repository) };
    Ok(client.untagged_images().await?.into_iter().map(|d| format!("@{d}")).collect())
}

/// The digest tags of `tags`, as candidates from `source` to `target`.
fn digest_tags(tags: &[String], source: &Location, target: &Location) -> Vec<Candidate> {
    tags.iter()
        .filter(|t| crate::digest_tag::is_digest_tag(t))
        .map(|t| Candidate { source: image(source.clone(), t.clone()), target: image(target.clone(), t.clone()) })
        .collect()
}

/// The tags of the repository at `location`. A layout directory that does not exist is `NotFound` naming it.
async fn source_tags(connector: &Connector, location: &Location) -> Result<Vec<String>> {
    let client = source_client(connector, location).await?;
    client.list_tags(ListOptions::default()).await
}

/// The client of a source location (never creating a layout directory).
pub(crate) async fn source_client(connector: &Connector, location: &Location) -> Result<std::sync::Arc<dyn Client>> {
    match connector.existing(location).await? {
        Some(client) => Ok(client),
        None => Err(Error::not_found(format!("{}: no such layout directory", image(location.clone(), "*")))),
    }
}

/// The repositories below `root` (a prefix by the catalog; a layout tree's sub-layouts, the root itself first when
/// it is a layout), relative to it.
async fn below(connector: &Connector, root: &Location) -> Result<Vec<String>> {
    let client = source_client(connector, root).await?;
    let mut rels = client.list_repositories(ListOptions::default()).await?;
    if let Location::Layout { dir, .. } = root {
        rels.retain(|r| !r.is_empty());
        if tokio::fs::try_exists(dir.join("index.json")).await.unwrap_or(false) {
            rels.insert(0, String::new());
        }
    }
    Ok(rels)
}
