//! Header names the distribution API uses, and reading them.

/// The digest of the content the registry served or stored.
pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// The `Content-Length` header's value. (For HEAD answers `reqwest::Response::content_length` reports the empty
/// body's length, not the header.)
pub(crate) fn header_length(resp: &reqwest::Response) -> Option<u64> {
    parse_length(resp.headers().get(reqwest::header::CONTENT_LENGTH)?.to_str().ok()?)
}

/// A `Content-Length` value: digits only (no sign), at most `u64::MAX`; anything else is no length.
pub(crate) fn parse_length(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths() {
        assert_eq!(parse_length(" 42 "), Some(42));
        assert_eq!(parse_length("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_length("18446744073709551616"), None, "past u64: no length, not a wrapped one");
        assert_eq!(parse_length("+5"), None);
        assert_eq!(parse_length("-5"), None);
        assert_eq!(parse_length(""), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_content_length_parses_without_panic(text in "\\PC*") {
            let _ = parse_length(&text);
        }

        #[test]
        fn content_length_round_trips(n in any::<u64>()) {
            prop_assert_eq!(parse_length(&n.to_string()), Some(n));
        }
    }
}
