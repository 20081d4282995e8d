//! Tar entry names as the flattener compares them: normalised (no `./`, no leading or trailing `/`, no `//`), and
//! classified as a whiteout (`.wh.<name>`), an opaque-directory marker (`.wh..wh..opq`) or an ordinary entry
//! (OCI image spec, "Representing Changes": whiteouts). Names are bytes: a layer may hold names that are no UTF-8.

/// The prefix of a whiteout file's base name.
const WHITEOUT: &[u8] = b".wh.";
/// The prefix of the names the whiteout scheme reserves for itself (AUFS metadata, the opaque marker).
const META: &[u8] = b".wh..wh.";
/// The base name that marks its directory opaque.
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Why a name cannot be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadPath {
    /// A `..` component: the entry would leave the image's root.
    DotDot,
}

/// `raw` normalised: `./` and `.` components, leading and trailing `/` and repeated `/` dropped. The root itself is
/// the empty name. Err for a name with a `..` component (refused, never resolved: a layer has no reason to hold
/// one, and resolving it lexically would let an entry land somewhere its writer did not say).
pub(crate) fn normalise(raw: &[u8]) -> Result<Vec<u8>, BadPath> {
    let mut out = Vec::with_capacity(raw.len());
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(BadPath::DotDot),
            p => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(p);
            }
        }
    }
    Ok(out)
}

/// What a normalised name is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// An ordinary entry.
    Plain,
    /// `dir/.wh.name`: hides `dir/name` and all below it in lower layers (the whited-out path).
    Whiteout(&'a [u8]),
    /// `dir/.wh..wh..opq`: hides everything below `dir` in lower layers (the directory, empty for the root).
    Opaque(&'a [u8]),
    /// Another reserved `.wh..wh.` name (AUFS metadata), or `.wh.` alone: never emitted, hides nothing.
    Reserved,
}

/// The parent (empty for a top-level name) and base name of a normalised name.
pub(crate) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Classify the normalised name `path`. A whiteout's target is `path` with `.wh.` taken out of its base name, so
/// it borrows `scratch` to build it.
pub(crate) fn classify<'a>(path: &'a [u8], scratch: &'a mut Vec<u8>) -> Kind<'a> {
    let (parent, base) = split(path);
    if base == OPAQUE {
        return Kind::Opaque(parent);
    }
    if base.starts_with(META) || base == WHITEOUT {
        return Kind::Reserved;
    }
    match base.strip_prefix(WHITEOUT) {
        Some(name) => {
            scratch.clear();
            scratch.extend_from_slice(parent);
            if !parent.is_empty() {
                scratch.push(b'/');
            }
            scratch.extend_from_slice(name);
            Kind::Whiteout(scratch)
        }
        None => Kind::Plain,
    }
}

/// The strict ancestors of a normalised name, nearest the root first: `a`, `a/b` for `a/b/c`. The root (empty) is
/// not among them.
pub(crate) fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter().enumerate().filter(|(_, b)| **b == b'/').map(move |(i, _)| &path[..i])
}

/// `bytes` for a message: lossy UTF-8, control characters escaped.
pub(crate) fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        let n = |s: &str| normalise(s.as_bytes()).map(|v| String::from_utf8(v).unwrap_or_default());
        assert_eq!(n("./usr/bin/"), Ok("usr/bin".into()));
        assert_eq!(n("/usr//lib/./x"), Ok("usr/lib/x".into()));
        assert_eq!(n("./"), Ok(String::new()));
        assert_eq!(n("."), Ok(String::new()));
        assert_eq!(n("a/../b"), Err(BadPath::DotDot));
        assert_eq!(n("../etc/passwd"), Err(BadPath::DotDot));
        assert_eq!(n("a/..b/c.."), Ok("a/..b/c..".into()), "only a whole `..` component is refused");
    }

    #[test]
    fn whiteouts_are_told_apart() {
        let mut s = Vec::new();
        assert_eq!(classify(b"etc/.wh.passwd", &mut s), Kind::Whiteout(b"etc/passwd"));
        let mut s = Vec::new();
        assert_eq!(classify(b".wh.etc", &mut s), Kind::Whiteout(b"etc"));
        let mut s = Vec::new();
        assert_eq!(classify(b"var/lib/.wh..wh..opq", &mut s), Kind::Opaque(b"var/lib"));
        let mut s = Vec::new();
        assert_eq!(classify(b".wh..wh..opq", &mut s), Kind::Opaque(b""));
        let mut s = Vec::new();
        assert_eq!(classify(b"x/.wh..wh.plnk", &mut s), Kind::Reserved);
        let mut s = Vec::new();
        assert_eq!(classify(b"x/.wh.", &mut s), Kind::Reserved);
        let mut s = Vec::new();
        assert_eq!(classify(b"x/a.wh.b", &mut s), Kind::Plain);
        let got: Vec<&[u8]> = ancestors(b"a/b/c").collect();
        assert_eq!(got, vec![&b"a"[..], &b"a/b"[..]]);
        assert_eq!(ancestors(b"top").count(), 0);
    }
}
