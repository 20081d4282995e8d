//! Small checks and names the provided methods of `Client` share (a leaf: it imports none of
//! its users).

use registry_core::{Error, Result};

/// The longest tag the reference grammar allows.
const TAG_MAX_LEN: usize = 128;

/// `Ok` when `tag` is a tag (`[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128 characters), else `InvalidInput` naming it:
/// checked before anything is pushed, so a malformed tag changes nothing.
pub(crate) fn check_tag(tag: &str) -> Result<()> {
    let first_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut bytes = tag.bytes();
    let valid = bytes.next().is_some_and(first_ok) && bytes.all(|b| first_ok(b) || b == b'.' || b == b'-');
    if !valid || tag.len() > TAG_MAX_LEN {
        return Err(Error::invalid_input(format!(
            "invalid tag {tag:?}: a tag is 1 to {TAG_MAX_LEN} letters, digits, '_', '.' and '-', not starting with \
             '.' or '-'"
        )));
    }
    Ok(())
}

/// `reference` of a client scoped to `registry` as one name for messages: `host/org/app:v1`, `host/org/app@sha256:..`.
pub(crate) fn scoped_name(registry: &str, reference: &str) -> String {
    if reference.starts_with('@') {
        format!("{registry}{reference}")
    } else {
        format!("{registry}:{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names() {
        for ok in ["v1", "latest", "_x", "1.0-rc.1", &"a".repeat(128)] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", "@sha256:00", "a/b", &"a".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(scoped_name("r.example.com/app", "v1"), "r.example.com/app:v1");
        assert_eq!(scoped_name("r.example.com/app", "@sha256:ab"), "r.example.com/app@sha256:ab");
    }
}
