//! Timestamps of a mutation: a `SystemTime` as whole Unix seconds (tar `mtime`) and as RFC 3339 in UTC (the
//! config's and history's `created`).

use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::{Error, Result};

/// Whole seconds since the Unix epoch; `InvalidInput` for a time before it (a tar header cannot hold one).
pub(crate) fn unix_seconds(t: SystemTime) -> Result<u64> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::invalid_input("a created time before 1970-01-01T00:00:00Z cannot be set"))
}

/// `secs` after the epoch as RFC 3339 UTC with whole seconds, e.g. `2024-02-29T13:05:09Z` (humantime's
/// formatter; times past year 9999 come out as `9999-12-31T23:59:59Z`, the largest it writes).
pub(crate) fn rfc3339(secs: u64) -> String {
    let max = 253_402_300_799; // 9999-12-31T23:59:59Z
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs.min(max))).to_string()
}

/// Parse an RFC 3339 time (`2024-02-29T13:05:09Z`, fractions and offsets allowed, as image configs' `created`
/// are written), for [`Mutation::created`](crate::Mutation::created). Errors: `InvalidInput` naming `text` when
/// it is no such time.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime> {
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| Error::invalid_input(format!("{text:?} is no RFC 3339 time (e.g. 2024-02-29T13:05:09Z): {e}")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_211_909), "2024-02-29T13:05:09Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z", "clamped, no overflow");
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1500)).ok(), Some(1));
        assert!(unix_seconds(UNIX_EPOCH - Duration::from_secs(1)).is_err());
        assert_eq!(parse_rfc3339("2024-02-29T13:05:09Z").ok(), Some(UNIX_EPOCH + Duration::from_secs(1_709_211_909)));
        assert_eq!(
            parse_rfc3339("2024-02-29T13:05:09.5Z").ok().map(|t| unix_seconds(t).ok()),
            Some(Some(1_709_211_909))
        );
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
