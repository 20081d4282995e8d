//! The one decision of whether a tar member name stays inside the extraction directory. Every entry's own path
//! and every hard link's target goes through [`confine`]; nothing else in the unpacker turns a name into a path.
//!
//! The rule: a name is a `/`-separated list of components, read relative to the extraction directory. Leading
//! `/`s are dropped (layers are rooted at the image's `/`, so `/etc/passwd` is the member `etc/passwd`, as docker,
//! containerd and GNU tar read it); empty and `.` components are dropped; a `..` component anywhere is refused
//! (even `a/../b`, which would stay inside: no entry needs one, and refusing it leaves one rule to check); a NUL
//! byte, an empty name, a component longer than 255 bytes (`NAME_MAX`) and a name longer than 4,095 bytes
//! (`PATH_MAX` less the NUL) are refused. A name that is only `/`s and `.`s is the extraction directory itself.
//!
//! What the components may meet on disk (a symlink in the way) is decided while walking them, in `tree`.

/// The longest member name accepted, in bytes (Linux `PATH_MAX` less the terminating NUL). It bounds the depth of
/// any path too (at most 2,048 components), so a hostile name of 10,000 components is refused here.
pub(crate) const MAX_NAME: usize = 4095;

/// The longest component accepted, in bytes (Linux `NAME_MAX`).
pub(crate) const MAX_COMPONENT: usize = 255;

/// How many bytes of a name error messages show before cutting it short.
const SHOWN: usize = 160;

/// A member name that stays inside the extraction directory: its components joined by single `/`s, none empty,
/// `.`, `..`, or holding a NUL (one allocation, whatever the depth). No components: the extraction directory itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inside {
    joined: Vec<u8>,
    depth: usize,
}

impl Inside {
    /// The components, outermost first.
    #[cfg(test)]
    fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.joined.split(|b| *b == b'/').filter(|c| !c.is_empty())
    }

    /// The components joined by `/` (empty for the root): the path relative to the extraction directory.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.joined
    }

    /// How many components.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Whether this is the extraction directory itself.
    pub(crate) fn is_root(&self) -> bool {
        self.joined.is_empty()
    }

    /// The last component and the parent directory's path (components joined by `/`, empty for the root);
    /// `None` for the root.
    pub(crate) fn split_last(&self) -> Option<(&[u8], &[u8])> {
        if self.joined.is_empty() {
            return None;
        }
        Some(match self.joined.iter().rposition(|b| *b == b'/') {
            Some(slash) => (&self.joined[slash + 1..], &self.joined[..slash]),
            None => (&self.joined[..], &[][..]),
        })
    }
}

/// Why a name was refused (the caller adds which entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The name is empty.
    Empty,
    /// The name holds a NUL byte.
    Nul,
    /// A `..` component.
    DotDot,
    /// Longer than [`MAX_NAME`].
    TooLong,
    /// A component longer than [`MAX_COMPONENT`].
    ComponentTooLong,
}

impl Refusal {
    /// What is wrong, for an error message.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::Empty => "the name is empty",
            Refusal::Nul => "the name holds a NUL byte",
            Refusal::DotDot => "a `..` component would leave the extraction directory",
            Refusal::TooLong => "the name is longer than 4,095 bytes (PATH_MAX)",
            Refusal::ComponentTooLong => "a component is longer than 255 bytes (NAME_MAX)",
        }
    }
}

/// Decide whether the member name `raw` (bytes, as the tar stream gives it) stays inside the extraction directory
/// (see the module doc for the rule); `Ok` with its components when it does.
pub(crate) fn confine(raw: &[u8]) -> Result<Inside, Refusal> {
    if raw.is_empty() {
        return Err(Refusal::Empty);
    }
    if raw.contains(&0) {
        return Err(Refusal::Nul);
    }
    if raw.len() > MAX_NAME {
        return Err(Refusal::TooLong);
    }
    let mut joined = Vec::with_capacity(raw.len());
    let mut depth = 0;
    for component in raw.split(|b| *b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(Refusal::DotDot),
            c if c.len() > MAX_COMPONENT => return Err(Refusal::ComponentTooLong),
            c => {
                if depth > 0 {
                    joined.push(b'/');
                }
                joined.extend_from_slice(c);
                depth += 1;
            }
        }
    }
    Ok(Inside { joined, depth })
}

/// `raw` for an error message: quoted, non-UTF-8 bytes and control characters escaped, cut after 160 bytes with
/// the full length said.
pub(crate) fn shown(raw: &[u8]) -> String {
    let cut = raw.len() > SHOWN;
    let head = &raw[..raw.len().min(SHOWN)];
    let text: String = String::from_utf8_lossy(head).escape_debug().collect();
    if cut {
        format!("\"{text}...\" ({} bytes)", raw.len())
    } else {
        format!("\"{text}\"")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(raw: &[u8]) -> Result<Vec<String>, Refusal> {
        confine(raw).map(|inside| {
            let parts: Vec<String> = inside.components().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            assert_eq!(parts.len(), inside.depth());
            assert_eq!(parts.join("/").as_bytes(), String::from_utf8_lossy(inside.as_bytes()).as_bytes());
            parts
        })
    }

    #[test]
    fn the_path_decision_table() {
        let ok: &[(&[u8], &[&str])] = &[
            (b"a", &["a"]),
            (b"a/b/c", &["a", "b", "c"]),
            (b"./a/b", &["a", "b"]),
            (b"a/./b/", &["a", "b"]),
            (b"a//b", &["a", "b"]),
            (b"/etc/passwd", &["etc", "passwd"]),
            (b"///tmp/x", &["tmp", "x"]),
            (b".", &[]),
            (b"./", &[]),
            (b"/", &[]),
            (b"/././/", &[]),
            (b"...", &["..."]),
            (b"..a/b..", &["..a", "b.."]),
            (b".wh..wh..opq", &[".wh..wh..opq"]),
            (b"a\\..\\b", &["a\\..\\b"]),
            (b"caf\xc3\xa9/\xff", &["caf\u{e9}", "\u{fffd}"]),
        ];
        for (raw, want) in ok {
            assert_eq!(parts(raw), Ok(want.iter().map(|s| s.to_string()).collect()), "{}", shown(raw));
        }
        let refused: &[(&[u8], Refusal)] = &[
            (b"", Refusal::Empty),
            (b"..", Refusal::DotDot),
            (b"../escape", Refusal::DotDot),
            (b"a/../../escape", Refusal::DotDot),
            (b"a/../b", Refusal::DotDot),
            (b"a/..", Refusal::DotDot),
            (b"/../etc", Refusal::DotDot),
            (b"./../x", Refusal::DotDot),
            (b"a\0b", Refusal::Nul),
            (b"\0", Refusal::Nul),
        ];
        for (raw, want) in refused {
            assert_eq!(confine(raw), Err(*want), "{}", shown(raw));
        }
    }

    #[test]
    fn lengths_are_capped() {
        let longest = vec![b'a'; MAX_COMPONENT];
        assert_eq!(confine(&longest).unwrap().depth(), 1);
        assert_eq!(confine(&vec![b'a'; MAX_COMPONENT + 1]), Err(Refusal::ComponentTooLong));
        let deep = "a/".repeat(10_000);
        assert_eq!(confine(deep.as_bytes()), Err(Refusal::TooLong));
        let at_limit = "a/".repeat(MAX_NAME / 2) + "b";
        assert_eq!(at_limit.len(), MAX_NAME);
        assert_eq!(confine(at_limit.as_bytes()).unwrap().depth(), MAX_NAME / 2 + 1);
    }

    #[test]
    fn root_and_split() {
        assert!(confine(b"./").unwrap().is_root());
        assert!(confine(b"./").unwrap().split_last().is_none());
        let inside = confine(b"/a//b/./c/").unwrap();
        assert_eq!(inside.as_bytes(), b"a/b/c");
        let (last, parent) = inside.split_last().unwrap();
        assert_eq!((last, parent), (&b"c"[..], &b"a/b"[..]));
        let top = confine(b"./top").unwrap();
        let (last, parent) = top.split_last().unwrap();
        assert_eq!((last, parent), (&b"top"[..], &b""[..]));
    }

    #[test]
    fn names_are_shown_escaped_and_cut() {
        assert_eq!(shown(b"a/b"), "\"a/b\"");
        assert_eq!(shown(b"a\0b\n"), "\"a\\0b\\n\"");
        let long = shown("x/".repeat(10_000).as_bytes());
        assert!(long.ends_with("...\" (20000 bytes)"), "{long}");
        assert!(long.len() < 200);
    }
}
