//! What a tar reader's complaint says, fit to show: the `tar` crate quotes the header bytes it could not read
//! ("numeric field did not have utf-8 text: <bytes> when getting cksum for <name>"), and in a file that is no tar
//! at all those bytes are whatever the file holds. A leaf.

/// The longest detail kept, in characters.
const MAX_DETAIL: usize = 120;

/// The reason of a tar reader's error `e`, without the bytes it quotes: the text before its first `:` (or before
/// " when getting", the crate's note of which field), cut to [`MAX_DETAIL`] characters, control characters as
/// `?`. E.g. "numeric field did not have utf-8 text", "archive header checksum mismatch". Never fails.
pub(crate) fn tar_detail(e: &std::io::Error) -> String {
    let text = e.to_string();
    let reason = text.split(':').next().unwrap_or(&text);
    let reason = reason.split(" when getting").next().unwrap_or(reason).trim();
    let mut shown: String = reason
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() || c == char::REPLACEMENT_CHARACTER { '?' } else { c })
        .collect();
    if reason.chars().count() > MAX_DETAIL {
        shown.push_str("...");
    }
    if shown.is_empty() {
        shown.push_str("unreadable tar header");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::tar_detail;

    #[test]
    fn the_quoted_bytes_are_left_out() {
        let e =
            std::io::Error::other("numeric field did not have utf-8 text: \u{fffd}\u{1b}[2Jk when getting cksum for x");
        assert_eq!(tar_detail(&e), "numeric field did not have utf-8 text");
        let e = std::io::Error::other("archive header checksum mismatch");
        assert_eq!(tar_detail(&e), "archive header checksum mismatch");
        let e = std::io::Error::other("unexpected EOF when getting size for y");
        assert_eq!(tar_detail(&e), "unexpected EOF");
    }

    #[test]
    fn a_real_non_tar_gives_a_short_reason() {
        let junk: Vec<u8> = (0..2048u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let mut archive = tar::Archive::new(&junk[..]);
        let e = archive.entries().and_then(|mut entries| entries.next().transpose()).err();
        if let Some(e) = e {
            let detail = tar_detail(&e);
            assert!(detail.len() <= 123 && !detail.contains('\u{fffd}'), "{detail}");
        }
    }
}
